/*
 * status: the status document from plain values (status.h). The key
 * order is the order of the document people read and scripts parse; keep
 * it when adding keys.
 */
#include "status.h"

#include <string.h>

#include "util.h"

static json_t *origins_json(ledger *l)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	json_t *origins = json_object();
	for (size_t i = 0; origins != NULL && i < ledger_origin_count(l); i++) {
		const ledger_origin *o = ledger_origin_at(l, i);
		json_t *e = json_pack("{s:s, s:I, s:s, s:b}", "node", o->node,
				      "seq", (json_int_t)o->seq, "head",
				      util_hex(o->head, RECORD_ID_BYTES, hex),
				      "forked", o->forked);
		json_object_set_new(origins, o->region, e);
	}
	return origins;
}

json_t *status_json(const char *name, const char *region, ledger *l,
		    bool running)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	uint8_t digest[RECORD_ID_BYTES];
	ledger_digest(l, digest);
	return json_pack("{s:s, s:s, s:b, s:I, s:s, s:o, s:[]}", "node", name,
			 "region", region, "running", running, "records",
			 (json_int_t)ledger_record_count(l), "digest",
			 util_hex(digest, RECORD_ID_BYTES, hex), "origins",
			 origins_json(l), "peers");
}

static json_t *time_or_null(int64_t ms)
{
	char ts[40];
	return ms > 0 ? json_string(util_format_time(ms, ts, sizeof(ts)))
		      : json_null();
}

/* The last record the peer refuses (sender side), or null. */
static json_t *last_refused_json(const sync_stats *tx)
{
	static const uint8_t zero[RECORD_ID_BYTES];
	char hex[2 * RECORD_ID_BYTES + 1];
	if (tx->refused_by_peer == 0)
		return json_null();
	bool has_id = memcmp(tx->last_refused_id, zero, sizeof(zero)) != 0;
	return json_pack("{s:s, s:I, s:o}", "origin", tx->last_refused_origin,
			 "seq", (json_int_t)tx->last_refused_seq, "id",
			 has_id ? json_string(util_hex(tx->last_refused_id,
						       RECORD_ID_BYTES, hex))
				: json_null());
}

json_t *status_peer_json(const status_peer *p)
{
	const sync_stats *tx = &p->tx, *rx = &p->rx;
	int64_t seen = tx->last_seen_ms > rx->last_seen_ms ? tx->last_seen_ms
							   : rx->last_seen_ms;
	json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:I, s:I, s:s}",
	    "name", p->name, "node", p->node, "region", p->region, "endpoint",
	    p->endpoint, "connected", p->connected, "inbound", rx->connected,
	    "last_seen", time_or_null(seen), "sent", (json_int_t)tx->sent,
	    "received", (json_int_t)rx->received, "stored",
	    (json_int_t)rx->stored, "behind", (json_int_t)tx->peer_behind,
	    "refused", (json_int_t)rx->refused, "duplicates",
	    (json_int_t)rx->duplicates, "gaps",
	    (json_int_t)(rx->gaps + tx->gaps), "dropped",
	    (json_int_t)rx->dropped, "bad_frames",
	    (json_int_t)(rx->bad_frames + tx->bad_frames), "forks",
	    (json_int_t)rx->forks, "buffered", (json_int_t)rx->buffered,
	    "inbound_lost", (json_int_t)p->inbound_lost, "bytes_sent",
	    (json_int_t)(tx->bytes_sent + rx->bytes_sent), "bytes_received",
	    (json_int_t)(tx->bytes_received + rx->bytes_received),
	    "frames_sent", (json_int_t)(tx->frames_sent + rx->frames_sent),
	    "frames_received",
	    (json_int_t)(tx->frames_received + rx->frames_received),
	    "wants_limited", (json_int_t)tx->wants_limited, "pings_limited",
	    (json_int_t)rx->pings_limited, "throttled",
	    (json_int_t)(tx->throttled + rx->throttled), "frontier_forks",
	    (json_int_t)(tx->frontier_forks + rx->frontier_forks), "mismatches",
	    (json_int_t)rx->mismatches, "certificate",
	    p->trusted ? "ok" : p->refusal);
	if (j != NULL) {
		json_object_set_new(
		    j, "refused_by_peer",
		    json_integer((json_int_t)tx->refused_by_peer));
		json_object_set_new(j, "last_refused", last_refused_json(tx));
	}
	return j;
}

json_t *status_links_json(const status_links *s)
{
	json_t *j =
	    json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", "listen",
		      s->listen[0] ? json_string(s->listen) : json_null(),
		      "zap_admitted", (json_int_t)s->zap_admitted,
		      "zap_refused", (json_int_t)s->zap_refused,
		      "unknown_frames", (json_int_t)s->unknown_frames,
		      "handshake_failed", (json_int_t)s->handshake_failed,
		      "closed_unlinked", (json_int_t)s->closed_unlinked);
	json_t *c = json_pack(
	    "{s:I, s:I, s:I, s:I}", "connections", (json_int_t)s->connections,
	    "connections_refused", (json_int_t)s->connections_refused,
	    "max_connections", (json_int_t)s->max_connections,
	    "max_connections_per_peer", (json_int_t)s->max_per_peer);
	if (j != NULL && c != NULL)
		json_object_update(j, c);
	json_decref(c);
	return j;
}

json_t *status_own_chain_json(const node_catchup_info *c)
{
	const char *state = c->ready	     ? "ok"
			    : c->unconfirmed ? "unconfirmed"
			    : c->active	     ? "catching_up"
					     : "refused";
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:o}", "state", state,
			 "confirmed", c->confirmed, "seq", (json_int_t)c->seq,
			 "target", (json_int_t)c->target, "answered",
			 (json_int_t)c->answered, "peers", (json_int_t)c->peers,
			 "error",
			 c->error[0] ? json_string(c->error) : json_null());
}

json_t *status_refusals_json(const node_counters *c)
{
	return json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "decode", (json_int_t)c->decode, "signature",
	    (json_int_t)c->signature, "trust", (json_int_t)c->trust, "chain",
	    (json_int_t)c->chain, "forks", (json_int_t)c->forks, "gaps",
	    (json_int_t)c->gaps, "held_back", (json_int_t)c->held_back,
	    "no_body", (json_int_t)c->no_body, "filled", (json_int_t)c->filled,
	    "clock_skew", (json_int_t)c->clock_skew, "backdated",
	    (json_int_t)c->backdated, "disputes", (json_int_t)c->disputes);
}

json_t *status_daemon_json(const char *name, const char *region, ledger *l,
			   const status_peer *peers, size_t n,
			   const status_links *links, const node_counters *c)
{
	json_t *j = status_json(name, region, l, true);
	json_t *a = json_object_get(j, "peers");
	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, status_peer_json(&peers[i]));
	if (j != NULL) {
		json_object_set_new(j, "links", status_links_json(links));
		json_object_set_new(j, "refusals", status_refusals_json(c));
	}
	return j;
}
