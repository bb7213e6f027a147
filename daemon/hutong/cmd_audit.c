/*
 * cmd_audit: `hutong audit record|origin|author|peers|forks`, the auditor's
 * questions (core/audit.h answers them): who originated a record and who
 * holds it, what a bureau shared, what an officer wrote, what each link
 * carried and refused, and the forks. The commands open the ledger
 * read-only, so they work whether or not hutongd runs; every one prints a
 * table (or text), --json, and where the answer is a table --format csv
 * (RFC 4180, header row, CRLF).
 *
 * Exit codes: 0 answered, 1 refused or failed (reason on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "util.h"

/* What a question is asked with: the parsed flags and, for record, the
 * id. */
typedef struct audit_ask {
	const cli_opts *o;
	uint8_t id[RECORD_ID_BYTES];
} audit_ask;

typedef struct audit_sub {
	const char *name;
	cli_read_fn fn;	   /* ctx: an audit_ask */
	int n_args;	   /* positional arguments required */
	bool id_arg;	   /* args[0] is a record id, checked before opening */
	const char *flags; /* which of s u o k are allowed */
	bool csv;	   /* --format csv supported */
	const char *usage;
	const char *help;
} audit_sub;

/* ---- output helpers ---- */

static const char *u64s(uint64_t v, char buf[24])
{
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	return buf;
}

/* ---- audit record ID ---- */

static json_t *record_audit_json(const audit_record_info *a)
{
	const Hutong__Header *h = record_header(a->r);
	char hex[CLI_HEX_ID];
	json_t *cover = json_array();
	for (size_t i = 0; i < a->n_cover; i++) {
		const audit_cover *v = &a->cover[i];
		json_array_append_new(
		    cover,
		    json_pack("{s:s, s:s, s:b, s:o}", "node", v->region, "name",
			      v->name, "held", v->covered, "receipt",
			      v->covered ? cli_time_json(v->receipt_ms)
					 : json_null()));
	}
	return json_pack(
	    "{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:b, s:b,"
	    " s:{s:o, s:s, s:I}, s:I, s:I, s:o}",
	    "id", cli_hex_id(a->r, hex), "origin", h->origin_region, "node",
	    h->origin_node, "seq", (json_int_t)h->seq, "author", h->author,
	    "kind", record_kind_name(h->kind), "created",
	    cli_time_json(h->created_ms), "fork_evidence", a->fork_evidence,
	    "origin_forked", a->origin_forked, "arrival", "stored",
	    cli_time_json(a->meta.stored_ms), "source", a->meta.source, "n",
	    (json_int_t)a->meta.n, "nodes", (json_int_t)a->n_cover, "held_by",
	    (json_int_t)a->n_covered, "receipts", cover);
}

static void record_audit_text(const audit_record_info *a)
{
	const Hutong__Header *h = record_header(a->r);
	char hex[CLI_HEX_ID], t[CLI_TIME_MAX];
	printf("id        %s%s\n", cli_hex_id(a->r, hex),
	       a->fork_evidence ? "  (fork evidence)" : "");
	printf("origin    %s (node %s) seq %llu%s\n", h->origin_region,
	       h->origin_node, (unsigned long long)h->seq,
	       a->origin_forked ? "  FORKED" : "");
	printf("author    %s\nkind      %s\ncreated   %s\n", h->author,
	       record_kind_name(h->kind), cli_time(h->created_ms, t));
	printf("arrival   %s from %s (local order %lld)\n",
	       cli_time(a->meta.stored_ms, t), a->meta.source,
	       (long long)a->meta.n);
	printf("held by   %zu of %zu nodes (earliest signed receipt of each)\n",
	       a->n_covered, a->n_cover);
	for (size_t i = 0; i < a->n_cover; i++) {
		const audit_cover *v = &a->cover[i];
		printf("  %s  %-20s %s\n", v->region, v->name,
		       v->covered ? cli_time(v->receipt_ms, t)
				  : "- (no receipt covers it yet)");
	}
}

static void record_audit_csv(const audit_record_info *a)
{
	char t[CLI_TIME_MAX];
	CLI_CSV("node", "name", "held", "receipt");
	for (size_t i = 0; i < a->n_cover; i++) {
		const audit_cover *v = &a->cover[i];
		CLI_CSV(v->region, v->name, v->covered ? "yes" : "no",
			v->covered ? cli_time(v->receipt_ms, t) : "");
	}
}

static int ask_record(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const audit_ask *q = ctx;
	audit_record_info a;
	int rc = audit_record(l, q->id, &a, err);
	(void)c;
	if (rc != 0)
		return rc;
	if (q->o->out == CLI_OUT_JSON)
		cli_put_json(record_audit_json(&a), true);
	else if (q->o->out == CLI_OUT_CSV)
		record_audit_csv(&a);
	else
		record_audit_text(&a);
	audit_record_clear(&a);
	return 0;
}

/* ---- audit origin CODE ---- */

typedef struct origin_out {
	const cli_opts *o;
	json_t *rows, *kinds;
	uint64_t total;
} origin_out;

static int origin_row(void *ctx, int kind, const char *author, uint64_t count,
		      int64_t first_ms, int64_t last_ms)
{
	origin_out *oo = ctx;
	const char *k = record_kind_name(kind);
	char t1[CLI_TIME_MAX], t2[CLI_TIME_MAX], n[24];
	oo->total += count;
	if (oo->o->out == CLI_OUT_JSON) {
		json_t *kc = json_object_get(oo->kinds, k);
		json_object_set_new(
		    oo->kinds, k,
		    json_integer((json_int_t)count +
				 (kc ? json_integer_value(kc) : 0)));
		json_array_append_new(
		    oo->rows,
		    json_pack("{s:s, s:s, s:I, s:o, s:o}", "kind", k, "author",
			      author, "count", (json_int_t)count, "first",
			      cli_time_json(first_ms), "last",
			      cli_time_json(last_ms)));
	} else if (oo->o->out == CLI_OUT_CSV) {
		CLI_CSV(k, author, u64s(count, n), cli_time(first_ms, t1),
			cli_time(last_ms, t2));
	} else {
		printf("%-12s %-24s %8llu  %s  %s\n", k, author,
		       (unsigned long long)count, cli_time(first_ms, t1),
		       cli_time(last_ms, t2));
	}
	return 0;
}

static json_t *bound_json(int64_t ms, int64_t open)
{
	return ms == open ? json_null() : cli_time_json(ms);
}

static void origin_head(cli_out out)
{
	if (out == CLI_OUT_CSV)
		CLI_CSV("kind", "author", "count", "first", "last");
	else if (out == CLI_OUT_TEXT)
		printf("%-12s %-24s %8s  %-24s  %s\n", "kind", "author",
		       "records", "first created", "last created");
}

static void origin_tail(const cli_opts *o, const ledger_origin *og,
			const origin_out *oo)
{
	if (o->out == CLI_OUT_JSON)
		cli_put_json(json_pack("{s:s, s:s, s:o, s:o, s:I, s:O, s:O}",
				       "origin", o->args[0], "node",
				       og ? og->node : "", "since",
				       bound_json(o->since, INT64_MIN), "until",
				       bound_json(o->until, INT64_MAX),
				       "records", (json_int_t)oo->total,
				       "kinds", oo->kinds, "rows", oo->rows),
			     true);
	else if (o->out == CLI_OUT_TEXT)
		printf("origin %s (node %s): %llu records\n", o->args[0],
		       og ? og->node : "?", (unsigned long long)oo->total);
}

static int ask_origin(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_opts *o = ((const audit_ask *)ctx)->o;
	origin_out oo = {.o = o, .rows = json_array(), .kinds = json_object()};
	(void)c;
	origin_head(o->out);
	int rc = audit_origin(l, o->args[0], o->since, o->until, origin_row,
			      &oo, err);
	if (rc == 0)
		origin_tail(o, ledger_origin_find(l, o->args[0]), &oo);
	json_decref(oo.rows);
	json_decref(oo.kinds);
	return rc;
}

/* ---- audit author ID ---- */

typedef struct author_out {
	const cli_opts *o;
	json_t *rows;
	size_t count;
} author_out;

static int author_row(void *ctx, const record *r, const ledger_meta *m)
{
	author_out *ao = ctx;
	const Hutong__Header *h = record_header(r);
	char hex[CLI_HEX_ID], t1[CLI_TIME_MAX], t2[CLI_TIME_MAX], seq[24];
	cli_hex_id(r, hex);
	ao->count++;
	if (ao->o->out == CLI_OUT_JSON)
		json_array_append_new(
		    ao->rows,
		    json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:s}", "id",
			      hex, "origin", h->origin_region, "node",
			      h->origin_node, "seq", (json_int_t)h->seq, "kind",
			      record_kind_name(h->kind), "created",
			      cli_time_json(h->created_ms), "stored",
			      cli_time_json(m->stored_ms), "source",
			      m->source));
	else if (ao->o->out == CLI_OUT_CSV)
		CLI_CSV(hex, h->origin_region, h->origin_node,
			u64s(h->seq, seq), record_kind_name(h->kind),
			cli_time(h->created_ms, t1), cli_time(m->stored_ms, t2),
			m->source);
	else
		printf("%s  %s  %s/%-6llu %-12s stored %s from %s\n", hex,
		       cli_time(h->created_ms, t1), h->origin_region,
		       (unsigned long long)h->seq, record_kind_name(h->kind),
		       cli_time(m->stored_ms, t2), m->source);
	return 0;
}

static void author_tail(const cli_opts *o, const author_out *ao)
{
	if (o->out == CLI_OUT_JSON)
		cli_put_json(
		    json_pack("{s:s, s:o, s:I, s:O}", "author", o->args[0],
			      "origin",
			      o->origin ? json_string(o->origin) : json_null(),
			      "count", (json_int_t)json_array_size(ao->rows),
			      "records", ao->rows),
		    true);
	else if (o->out == CLI_OUT_TEXT)
		printf("%zu record%s by author '%s'\n", ao->count,
		       ao->count == 1 ? "" : "s", o->args[0]);
}

static int ask_author(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_opts *o = ((const audit_ask *)ctx)->o;
	author_out ao = {.o = o, .rows = json_array()};
	(void)c;
	if (o->out == CLI_OUT_CSV)
		CLI_CSV("id", "origin", "node", "seq", "kind", "created",
			"stored", "source");
	int rc = audit_author(l, o->args[0], o->origin, author_row, &ao, err);
	if (rc == 0)
		author_tail(o, &ao);
	json_decref(ao.rows);
	return rc;
}

/* ---- audit peers ---- */

static json_t *detail_json(const audit_detail *d)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o}", "event",
			 ledger_event_name(d->kind), "origin", d->origin,
			 "reason", d->reason, "records", (json_int_t)d->records,
			 "events", (json_int_t)d->events, "first",
			 cli_time_json(d->first_ms), "last",
			 cli_time_json(d->last_ms));
}

static int peer_json(void *ctx, const audit_peer *p)
{
	json_t *details = json_array();
	for (size_t i = 0; i < p->n_details; i++)
		json_array_append_new(details, detail_json(&p->details[i]));
	json_array_append_new(
	    ctx,
	    json_pack(
		"{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o,"
		" s:o}",
		"peer", p->peer, "received",
		(json_int_t)p->records[LEDGER_EV_RECEIVED], "stored",
		(json_int_t)p->records[LEDGER_EV_STORED], "sent",
		(json_int_t)p->records[LEDGER_EV_SENT], "refused",
		(json_int_t)p->records[LEDGER_EV_REFUSED], "gaps",
		(json_int_t)p->records[LEDGER_EV_GAP], "forks",
		(json_int_t)p->records[LEDGER_EV_FORK], "connects",
		(json_int_t)p->events[LEDGER_EV_CONNECT], "disconnects",
		(json_int_t)p->events[LEDGER_EV_DISCONNECT], "resolved",
		(json_int_t)p->events[LEDGER_EV_RESOLVE], "first",
		cli_time_json(p->first_ms), "last", cli_time_json(p->last_ms),
		"details", details));
	return 0;
}

static int peer_text(void *ctx, const audit_peer *p)
{
	char t[CLI_TIME_MAX];
	printf("%-20s %9llu %9llu %9llu %8llu %6llu %6llu %5llu/%-5llu %s\n",
	       p->peer, (unsigned long long)p->records[LEDGER_EV_RECEIVED],
	       (unsigned long long)p->records[LEDGER_EV_STORED],
	       (unsigned long long)p->records[LEDGER_EV_SENT],
	       (unsigned long long)p->records[LEDGER_EV_REFUSED],
	       (unsigned long long)p->records[LEDGER_EV_GAP],
	       (unsigned long long)p->records[LEDGER_EV_FORK],
	       (unsigned long long)p->events[LEDGER_EV_CONNECT],
	       (unsigned long long)p->events[LEDGER_EV_DISCONNECT],
	       cli_time(p->last_ms, t));
	for (size_t i = 0; i < p->n_details; i++) {
		const audit_detail *d = &p->details[i];
		printf("    %-8s %6llu record%s%s%s, last %s%s%s\n",
		       ledger_event_name(d->kind),
		       (unsigned long long)d->records,
		       d->records == 1 ? "" : "s", d->origin[0] ? " of " : "",
		       d->origin, cli_time(d->last_ms, t),
		       d->reason[0] ? ": " : "", d->reason);
	}
	(void)ctx;
	return 0;
}

static int event_csv(void *ctx, const ledger_event_group *g)
{
	char a[24], b[24], t1[CLI_TIME_MAX], t2[CLI_TIME_MAX];
	CLI_CSV(g->peer, ledger_event_name(g->kind), g->origin, g->reason,
		u64s(g->records, a), u64s(g->events, b),
		cli_time(g->first_ms, t1), cli_time(g->last_ms, t2));
	(void)ctx;
	return 0;
}

static int peers_csv(ledger *l, int64_t since, ht_err *err)
{
	CLI_CSV("peer", "event", "origin", "reason", "records", "events",
		"first", "last");
	int rc = audit_check_range(since, INT64_MAX, err);
	if (rc != 0)
		return rc;
	return ledger_event_groups(l, since, INT64_MAX, event_csv, NULL, err);
}

static int peers_doc(ledger *l, int64_t since, ht_err *err)
{
	json_t *peers = json_array();
	int rc = audit_peers(l, since, peer_json, peers, err);
	if (rc == 0)
		cli_put_json(json_pack("{s:o, s:O}", "since",
				       bound_json(since, INT64_MIN), "peers",
				       peers),
			     true);
	json_decref(peers);
	return rc;
}

static int ask_peers(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_opts *o = ((const audit_ask *)ctx)->o;
	(void)c;
	if (o->out == CLI_OUT_CSV)
		return peers_csv(l, o->since, err);
	if (o->out == CLI_OUT_JSON)
		return peers_doc(l, o->since, err);
	printf("%-20s %9s %9s %9s %8s %6s %6s %11s %s\n", "peer", "received",
	       "stored", "sent", "refused", "gaps", "forks", "conn/disc",
	       "last event");
	return audit_peers(l, o->since, peer_text, NULL, err);
}

/* ---- audit forks ---- */

/* The raw envelope in base64 (malloc'd), or NULL. */
static char *envelope_b64(const record *r)
{
	size_t elen;
	const uint8_t *eb = record_bytes(r, &elen);
	size_t len =
	    sodium_base64_ENCODED_LEN(elen, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(len);
	if (b64 != NULL)
		sodium_bin2base64(b64, len, eb, elen,
				  sodium_base64_VARIANT_ORIGINAL);
	return b64;
}

/* The signed header bytes in hex (malloc'd), or NULL. */
static char *header_hex(const record *r)
{
	size_t hlen;
	const uint8_t *hb = record_header_bytes(r, &hlen);
	char *hex = malloc(2 * hlen + 1);
	if (hex != NULL)
		util_hex(hb, hlen, hex);
	return hex;
}

static json_t *version_json(const record *r, const ledger_meta *m)
{
	const Hutong__Header *h = record_header(r);
	char id[2 * RECORD_ID_BYTES + 1], sig[2 * RECORD_SIG_BYTES + 1];
	char prev[2 * RECORD_ID_BYTES + 1] = "";
	char *hhex = header_hex(r), *b64 = envelope_b64(r);
	json_t *j = NULL;
	if (h->prev_id.len == RECORD_ID_BYTES)
		util_hex(h->prev_id.data, RECORD_ID_BYTES, prev);
	if (hhex && b64)
		j = json_pack(
		    "{s:s, s:s, s:o, s:s, s:s, s:o, s:s, s:s, s:s,"
		    " s:s}",
		    "id", cli_hex_id(r, id), "kind", record_kind_name(h->kind),
		    "created", cli_time_json(h->created_ms), "author",
		    h->author, "prev", prev, "stored",
		    cli_time_json(m->stored_ms), "source", m->source, "header",
		    hhex, "signature",
		    util_hex(record_signature(r), RECORD_SIG_BYTES, sig),
		    "envelope", b64);
	free(hhex);
	free(b64);
	return j;
}

typedef struct forks_out {
	cli_out out;
	json_t *list;
	size_t n;
} forks_out;

static void fork_version_text(const char *label, const record *r,
			      const ledger_meta *m)
{
	json_t *j = version_json(r, m);
	if (j == NULL)
		return;
	printf("  %-9s id %s\n", label,
	       json_string_value(json_object_get(j, "id")));
	printf("            created %s  author %s  kind %s\n",
	       json_string_value(json_object_get(j, "created")),
	       json_string_value(json_object_get(j, "author")),
	       json_string_value(json_object_get(j, "kind")));
	printf("            stored %s from %s\n",
	       json_string_value(json_object_get(j, "stored")),
	       json_string_value(json_object_get(j, "source")));
	printf("            signature %s\n            header %s\n",
	       json_string_value(json_object_get(j, "signature")),
	       json_string_value(json_object_get(j, "header")));
	json_decref(j);
}

static void fork_csv(const audit_fork *f, const char *label, const record *r,
		     const ledger_meta *m)
{
	const Hutong__Header *h = record_header(r);
	char seq[24];
	json_t *j = version_json(r, m);
	if (j == NULL)
		return;
#define S(k) json_string_value(json_object_get(j, k))
	CLI_CSV(h->origin_region, h->origin_node, u64s(h->seq, seq),
		f->flagged ? "yes" : "no", label, S("id"), S("created"),
		S("author"), S("kind"), S("stored"), S("source"),
		S("signature"), S("header"), S("envelope"));
#undef S
	json_decref(j);
}

static void fork_text(const audit_fork *f)
{
	const Hutong__Header *h = record_header(f->evidence);
	char hex[CLI_HEX_ID];
	printf("fork: origin %s (node %s) seq %llu: two records signed "
	       "with the origin's key\n",
	       h->origin_region, h->origin_node, (unsigned long long)h->seq);
	fork_version_text("chain", f->chain, &f->chain_meta);
	fork_version_text("evidence", f->evidence, &f->evidence_meta);
	if (f->flagged)
		printf("  FLAGGED: its later records are refused until "
		       "an operator runs\n  hutong fork resolve %s "
		       "--keep %s\n",
		       h->origin_region, cli_hex_id(f->chain, hex));
	else
		printf("  resolved by an operator (see 'hutong audit "
		       "peers')\n");
}

static int fork_row(void *ctx, const audit_fork *f)
{
	forks_out *fo = ctx;
	const Hutong__Header *h = record_header(f->evidence);
	fo->n++;
	if (fo->out == CLI_OUT_JSON) {
		json_array_append_new(
		    fo->list,
		    json_pack("{s:s, s:s, s:I, s:b, s:o, s:o}", "origin",
			      h->origin_region, "node", h->origin_node, "seq",
			      (json_int_t)h->seq, "flagged", f->flagged,
			      "chain", version_json(f->chain, &f->chain_meta),
			      "evidence",
			      version_json(f->evidence, &f->evidence_meta)));
	} else if (fo->out == CLI_OUT_CSV) {
		fork_csv(f, "chain", f->chain, &f->chain_meta);
		fork_csv(f, "evidence", f->evidence, &f->evidence_meta);
	} else {
		fork_text(f);
	}
	return 0;
}

static int ask_forks(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_opts *o = ((const audit_ask *)ctx)->o;
	forks_out fo = {.out = o->out, .list = json_array()};
	(void)c;
	if (o->out == CLI_OUT_CSV)
		CLI_CSV("origin", "node", "seq", "flagged", "version", "id",
			"created", "author", "kind", "stored", "source",
			"signature", "header", "envelope");
	int rc = audit_forks(l, fork_row, &fo, err);
	if (rc == 0 && o->out == CLI_OUT_JSON)
		cli_put_json(json_pack("{s:I, s:O}", "count", (json_int_t)fo.n,
				       "forks", fo.list),
			     true);
	else if (rc == 0 && o->out == CLI_OUT_TEXT && fo.n == 0)
		printf("no forks\n");
	json_decref(fo.list);
	return rc;
}

/* ---- disputes ---- */

typedef struct disputes_out {
	int out;
	json_t *list;
	size_t n;
} disputes_out;

static void dispute_row(void *ctx, const ledger_dispute *d)
{
	disputes_out *o = ctx;
	char hex[CLI_HEX_ID], t[CLI_TIME_MAX];
	util_hex(d->id, RECORD_ID_BYTES, hex);
	o->n++;
	if (o->out == CLI_OUT_JSON) {
		json_array_append_new(
		    o->list,
		    json_pack("{s:s, s:s, s:I, s:o, s:s, s:I, s:s}", "signer",
			      d->signer, "receipt", hex, "receipt_seq",
			      (json_int_t)d->signer_seq, "created",
			      cli_time_json(d->created_ms), "origin", d->origin,
			      "seq", (json_int_t)d->seq, "reason", d->reason));
		return;
	}
	printf("dispute against %s: receipt %s (seq %llu, created %s) on "
	       "origin %s seq %llu: %s\n",
	       d->signer, hex, (unsigned long long)d->signer_seq,
	       cli_time(d->created_ms, t), d->origin,
	       (unsigned long long)d->seq, d->reason);
}

static int ask_disputes(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_opts *o = ((const audit_ask *)ctx)->o;
	disputes_out d = {.out = o->out, .list = json_array()};
	int rc = ledger_verify_ex(l, c->cf->max_clock_skew.ms, true, NULL,
				  dispute_row, &d, err);
	rc = rc < 0 ? rc : 0;
	if (rc == 0 && o->out == CLI_OUT_JSON)
		cli_put_json(json_pack("{s:I, s:O}", "count", (json_int_t)d.n,
				       "disputes", d.list),
			     true);
	else if (rc == 0 && d.n == 0)
		printf("no disputes\n");
	json_decref(d.list);
	return rc;
}

/* ---- the table and the flags ---- */

static const audit_sub subs[] = {
    {"record", ask_record, 1, true, "", true,
     "audit record ID [--json | --format csv]",
     "Who originated record ID (origin, node, author, created), when and\n"
     "from which peer this node stored it, and for every node of the\n"
     "federation the earliest of its signed receipts that covers the record\n"
     "(or that none does yet). csv: one row per node. ID: 64 hex digits\n"
     "or a unique prefix of at least 8."},
    {"origin", ask_origin, 1, false, "su", true,
     "audit origin CODE [--since T] [--until T] [--json | --format csv]",
     "What bureau CODE shared (records it originated, created in the range):\n"
     "per kind and author, the count and the first and last creation time."},
    {"author", ask_author, 1, false, "o", true,
     "audit author ID [--origin CODE] [--json | --format csv]",
     "Every record officer ID originated, in arrival order (author ids are\n"
     "a bureau's own: --origin narrows to one bureau)."},
    {"peers", ask_peers, 0, false, "s", true,
     "audit peers [--since T] [--json | --format csv]",
     "Per link, from this node's event log: records received, stored and\n"
     "sent, connects and disconnects, and the refusals with their reasons\n"
     "(also gaps, forks and operator decisions). csv: one row per peer,\n"
     "event, origin and reason."},
    {"forks", ask_forks, 0, false, "", true,
     "audit forks [--json | --format csv]",
     "Each fork: the chain record and the conflicting record at the same\n"
     "origin and seq, both signed by the origin (ids, headers and\n"
     "signatures in hex; --json and csv add each raw envelope in base64)."},
    {"disputes", ask_disputes, 0, false, "", false, "audit disputes [--json]",
     "Each receipt entry that contradicts the chains this node holds: a\n"
     "head other than the record held at that seq, a record created after\n"
     "the receipt (beyond max_clock_skew), or a seq below the signer's\n"
     "earlier receipt. Evidence against the receipt's signer, not a fault\n"
     "of this node. JSON keys: count, disputes (signer, receipt,\n"
     "receipt_seq, created, origin, seq, reason)."},
};

#define N_SUBS (sizeof(subs) / sizeof(subs[0]))

static void audit_usage(FILE *f)
{
	fprintf(f, "usage: hutong -d NODEDIR audit SUBCOMMAND [ARGS]\n\n");
	for (size_t i = 0; i < N_SUBS; i++)
		fprintf(f, "  hutong audit %s\n", subs[i].usage + 6);
	fprintf(f, "\nTIME is RFC 3339 (2026-11-29T08:00:00+08:00 or "
		   "2026-11-29). 'hutong audit SUB --help'\nexplains each. "
		   "The ledger is opened read-only.\n");
}

static const audit_sub *find_sub(const char *name)
{
	for (size_t i = 0; i < N_SUBS; i++)
		if (strcmp(subs[i].name, name) == 0)
			return &subs[i];
	return NULL;
}

/* The arguments fit the subcommand: 0 or a usage error (printed). */
static int check_args(cli *c, const audit_sub *s, const cli_opts *o)
{
	if (o->n_args != s->n_args)
		return cli_usage(c,
				 "%s: expected %d argument%s, got %d "
				 "(usage: hutong %s)",
				 s->name, s->n_args, s->n_args == 1 ? "" : "s",
				 o->n_args, s->usage);
	if (o->out == CLI_OUT_CSV && !s->csv)
		return cli_usage(c, "--format csv does not apply to audit %s",
				 s->name);
	return 0;
}

/* Ask s's question with the ledger open; the answer must reach stdout. */
static int ask(cli *c, const audit_sub *s, const cli_opts *o)
{
	audit_ask q = {.o = o};
	int rc =
	    s->id_arg ? cli_resolve_id(c, NULL, "ID", o->args[0], q.id) : 0;
	if (rc != 0)
		return rc;
	rc = cli_read(c, s->fn, &q);
	if (rc == CLI_OK && fflush(stdout) != 0)
		return cli_fail(c, "write failed: %s", strerror(errno));
	return rc;
}

int cmd_audit(cli *c, int argc, char **argv)
{
	char help[1024];
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		audit_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const audit_sub *s = find_sub(argv[1]);
	if (s == NULL)
		return cli_usage(c,
				 "unknown subcommand '%.40s' (record, origin, "
				 "author, peers, forks, disputes)",
				 argv[1]);
	snprintf(help, sizeof(help), "usage: hutong -d NODEDIR %s\n\n%s\n",
		 s->usage, s->help);
	cli_opts o;
	int rc = cli_parse_opts(c, argc - 1, argv + 1, s->flags, help, &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	rc = check_args(c, s, &o);
	return rc != 0 ? rc : ask(c, s, &o);
}
