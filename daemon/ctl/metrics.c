/*
 * metrics: the exposition text from plain values (metrics.h). Families
 * are written in docs/metrics.md's order; per-peer families come from one
 * table so each is named, typed and explained once.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

#define LABEL_MAX 256

char *metrics_escape(const char *v, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = v; *p && o + 3 < len; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			out[o++] = '\\';
			out[o++] = *p == '\n' ? 'n' : *p;
		} else
			out[o++] = *p;
	}
	while (o > 0 && (out[o - 1] & 0xC0) == 0x80 && v[o] != '\0' &&
	       o + 3 >= len)
		o--; /* do not end inside a multi-byte character */
	out[o] = '\0';
	return out;
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void scalar(FILE *f, const char *name, const char *type,
		   const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

typedef uint64_t (*peer_value_fn)(const status_peer *p);

static uint64_t p_connected(const status_peer *p) { return p->connected; }
static uint64_t p_inbound(const status_peer *p) { return p->rx.connected; }
static uint64_t p_trusted(const status_peer *p) { return p->trusted; }
static uint64_t p_behind(const status_peer *p) { return p->tx.peer_behind; }
static uint64_t p_bytes_out(const status_peer *p)
{
	return p->tx.bytes_sent + p->rx.bytes_sent;
}
static uint64_t p_bytes_in(const status_peer *p)
{
	return p->tx.bytes_received + p->rx.bytes_received;
}
static uint64_t p_sent(const status_peer *p) { return p->tx.sent; }
static uint64_t p_received(const status_peer *p) { return p->rx.received; }
static uint64_t p_stored(const status_peer *p) { return p->rx.stored; }
static uint64_t p_refused(const status_peer *p) { return p->rx.refused; }
static uint64_t p_by_peer(const status_peer *p)
{
	return p->tx.refused_by_peer;
}
static uint64_t p_forks(const status_peer *p) { return p->rx.forks; }
static uint64_t p_bad(const status_peer *p)
{
	return p->tx.bad_frames + p->rx.bad_frames;
}

static const struct peer_family {
	const char *name, *type, *help;
	peer_value_fn fn;
} peer_families[] = {
    {"hutong_peer_connected", "gauge",
     "1 when our outbound link and sender session to the peer are up",
     p_connected},
    {"hutong_peer_inbound_connected", "gauge",
     "1 when the peer's session into our receiver is up", p_inbound},
    {"hutong_peer_certificate_ok", "gauge",
     "1 when the peer's certificate verifies (it is linked)", p_trusted},
    {"hutong_peer_behind_records", "gauge",
     "records we hold that the peer lacks, as of its last frontier", p_behind},
    {"hutong_peer_sent_bytes_total", "counter",
     "bytes of sync frames sent to the peer (both sessions)", p_bytes_out},
    {"hutong_peer_received_bytes_total", "counter",
     "bytes of sync frames received from the peer (both sessions)", p_bytes_in},
    {"hutong_peer_records_sent_total", "counter", "records sent to the peer",
     p_sent},
    {"hutong_peer_records_received_total", "counter",
     "records received from the peer", p_received},
    {"hutong_records_stored_total", "counter",
     "records from the peer newly stored, by source peer", p_stored},
    {"hutong_records_refused_total", "counter",
     "records from the peer refused as invalid, by source peer", p_refused},
    {"hutong_records_refused_by_peer_total", "counter",
     "our records the peer keeps refusing (sent 3 times, never taken)",
     p_by_peer},
    {"hutong_peer_forks_total", "counter",
     "conflicting records from the peer kept as fork evidence", p_forks},
    {"hutong_peer_bad_frames_total", "counter",
     "undecodable or out-of-place sync frames from the peer", p_bad},
};

static void peers_text(FILE *f, const metrics_input *in)
{
	char lab[LABEL_MAX];
	for (size_t k = 0; k < sizeof(peer_families) / sizeof(peer_families[0]);
	     k++) {
		const struct peer_family *pf = &peer_families[k];
		family(f, pf->name, pf->type, pf->help);
		for (size_t i = 0; i < in->n_peers; i++)
			fprintf(
			    f, "%s{peer=\"%s\"} %llu\n", pf->name,
			    metrics_escape(in->peers[i].name, lab, sizeof(lab)),
			    (unsigned long long)pf->fn(&in->peers[i]));
	}
}

static void last_seen_text(FILE *f, const metrics_input *in)
{
	char lab[LABEL_MAX];
	family(f, "hutong_peer_last_seen_age_seconds", "gauge",
	       "seconds since the last message from the peer (absent: never)");
	for (size_t i = 0; i < in->n_peers; i++) {
		const sync_stats *tx = &in->peers[i].tx, *rx = &in->peers[i].rx;
		int64_t seen = tx->last_seen_ms > rx->last_seen_ms
				   ? tx->last_seen_ms
				   : rx->last_seen_ms;
		if (seen <= 0)
			continue;
		int64_t age = in->now_ms > seen ? in->now_ms - seen : 0;
		fprintf(f,
			"hutong_peer_last_seen_age_seconds{peer=\"%s\"} %.3f\n",
			metrics_escape(in->peers[i].name, lab, sizeof(lab)),
			(double)age / 1000.0);
	}
}

typedef struct held_ctx {
	FILE *f;
	uint64_t revocations;
} held_ctx;

static int held_one(void *ctx, const char *origin, int kind, uint64_t count)
{
	held_ctx *h = ctx;
	char lab[LABEL_MAX];
	const char *kn = record_kind_name(kind);
	fprintf(h->f, "hutong_records_held{origin=\"%s\",kind=\"%s\"} %llu\n",
		metrics_escape(origin, lab, sizeof(lab)), kn ? kn : "unknown",
		(unsigned long long)count);
	if (kind == HUTONG__KIND__KIND_REVOCATION)
		h->revocations += count;
	return 0;
}

static int ledger_text(FILE *f, const metrics_input *in, ht_err *err)
{
	held_ctx h = {f, 0};
	size_t forked = 0;
	family(f, "hutong_records_held", "gauge",
	       "records in the ledger, by origin region and kind");
	int rc = ledger_kind_counts(in->ledger, held_one, &h, err);
	if (rc != 0)
		return rc;
	family(f, "hutong_origin_seq", "gauge",
	       "the highest seq held of each origin's chain");
	for (size_t i = 0; i < ledger_origin_count(in->ledger); i++) {
		const ledger_origin *o = ledger_origin_at(in->ledger, i);
		fprintf(f, "hutong_origin_seq{origin=\"%s\"} %llu\n", o->region,
			(unsigned long long)o->seq);
		forked += o->forked;
	}
	scalar(f, "hutong_forked_origins", "gauge",
	       "origins whose chain is forked (evidence held)", forked);
	scalar(f, "hutong_revocation_records", "gauge",
	       "revocation records held (all origins)", h.revocations);
	return 0;
}

static const struct reason {
	const char *name;
	size_t off;
} reasons[] = {
    {"decode", offsetof(node_counters, decode)},
    {"signature", offsetof(node_counters, signature)},
    {"trust", offsetof(node_counters, trust)},
    {"chain", offsetof(node_counters, chain)},
    {"held_back", offsetof(node_counters, held_back)},
    {"no_body", offsetof(node_counters, no_body)},
    {"clock_skew", offsetof(node_counters, clock_skew)},
    {"backdated", offsetof(node_counters, backdated)},
};

static void counters_text(FILE *f, const node_counters *c)
{
	family(f, "hutong_refusals_total", "counter",
	       "received records refused since start, by reason");
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		fprintf(
		    f, "hutong_refusals_total{reason=\"%s\"} %llu\n",
		    reasons[i].name,
		    (unsigned long long)*(const uint64_t *)((const char *)c +
							    reasons[i].off));
	scalar(f, "hutong_forks_detected_total", "counter",
	       "conflicting records met since start (kept as evidence)",
	       c->forks);
	scalar(f, "hutong_receipt_disputes_total", "counter",
	       "receipt entries contradicting the chains held, since start",
	       c->disputes);
}

static void hist_text(FILE *f, const char *name, const char *help,
		      const node_hist *h)
{
	uint64_t cum = 0;
	family(f, name, "histogram", help);
	for (size_t i = 0; i < NODE_HIST_BUCKETS; i++) {
		cum += h->counts[i];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name,
			(double)node_hist_bound_us(i) / 1e6,
			(unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name,
		(unsigned long long)h->count);
	fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name,
		(double)h->sum_us / 1e6, name, (unsigned long long)h->count);
}

static void links_text(FILE *f, const status_links *s)
{
	scalar(f, "hutong_zap_admitted_total", "counter",
	       "inbound link handshakes ZAP admitted", s->zap_admitted);
	scalar(f, "hutong_zap_refused_total", "counter",
	       "inbound link handshakes ZAP refused", s->zap_refused);
	scalar(f, "hutong_link_connections", "gauge",
	       "inbound link connections open now", s->connections);
}

static void pki_text(FILE *f, const metrics_input *in)
{
	char lab[LABEL_MAX];
	family(f, "hutong_certificate_expiry_timestamp_seconds", "gauge",
	       "notAfter of the node's certificate, Unix seconds");
	if (in->cert_not_after_ms > 0)
		fprintf(f, "hutong_certificate_expiry_timestamp_seconds %lld\n",
			(long long)(in->cert_not_after_ms / 1000));
	family(f, "hutong_crl_next_update_timestamp_seconds", "gauge",
	       "nextUpdate of each CRL held, by issuer, Unix seconds");
	for (size_t i = 0; i < in->n_crls; i++)
		fprintf(
		    f,
		    "hutong_crl_next_update_timestamp_seconds{issuer=\"%s\"}"
		    " %lld\n",
		    metrics_escape(in->crls[i].issuer, lab, sizeof(lab)),
		    (long long)(in->crls[i].next_update_ms / 1000));
}

static void info_text(FILE *f, const metrics_input *in)
{
	char n[LABEL_MAX];
	family(f, "hutong_info", "gauge", "this node: name, region, version");
	fprintf(f, "hutong_info{node=\"%s\",region=\"%s\",version=\"%s\"} 1\n",
		metrics_escape(in->name, n, sizeof(n)), in->region,
		HUTONG_VERSION);
}

char *metrics_render(const metrics_input *in, ht_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		return NULL;
	}
	info_text(f, in);
	int rc = ledger_text(f, in, err);
	peers_text(f, in);
	last_seen_text(f, in);
	counters_text(f, in->counters);
	hist_text(f, "hutong_commit_duration_seconds",
		  "ledger transactions that stored a batch, begin to commit",
		  &in->counters->commit);
	hist_text(f, "hutong_verify_batch_duration_seconds",
		  "parse and signature check of each received batch",
		  &in->counters->verify);
	links_text(f, in->links);
	pki_text(f, in);
	if (fclose(f) != 0 && rc == 0)
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
