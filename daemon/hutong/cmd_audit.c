/*
 * cmd_audit: `hutong audit record|origin|author|peers|forks`, the auditor's
 * questions (core/audit.h answers them), and `hutong fork resolve`, the
 * operator's decision after a fork. Audit commands open the ledger
 * read-only, so they work whether or not hutongd runs; every one prints a
 * table (or text), --json, and where the answer is a table --format csv
 * (RFC 4180, header row, CRLF).
 *
 * Exit codes: 0 answered, 1 refused or failed (reason on stderr), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "ctl.h"
#include "util.h"

typedef enum { OUT_TEXT, OUT_JSON, OUT_CSV } out_mode;

typedef struct audit_opts {
	out_mode out;
	int64_t since, until; /* INT64_MIN / INT64_MAX when not given */
	const char *origin;   /* --origin (author) */
	const char *keep;     /* --keep (fork resolve) */
	char **args;          /* positional arguments */
	int n_args;
} audit_opts;

typedef struct audit_sub {
	const char *name;
	int (*fn)(cli *c, const audit_opts *o);
	int n_args;          /* positional arguments required */
	const char *flags;   /* which of s u o k are allowed */
	bool csv;            /* --format csv supported */
	const char *usage;
	const char *help;
} audit_sub;

/* ---- output helpers ---- */

static char *fmt_time(int64_t ms, char buf[40])
{
	return util_format_time(ms, buf, 40);
}

static json_t *time_json(int64_t ms)
{
	char t[40];
	return json_string(fmt_time(ms, t));
}

static void csv_field(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* One CSV row of n fields. */
static void csv_row(const char *const *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		csv_field(f[i] ? f[i] : "");
	}
	printf("\r\n");
}

#define CSV(...)                                                         \
	do {                                                             \
		const char *row_[] = {__VA_ARGS__};                      \
		csv_row(row_, sizeof(row_) / sizeof(row_[0]));           \
	} while (0)

static const char *u64s(uint64_t v, char buf[24])
{
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	return buf;
}

static int finish(cli *c, int rc, const ht_err *err)
{
	if (rc != 0)
		return cli_fail_err(c, err);
	if (fflush(stdout) != 0)
		return cli_fail(c, "write failed: %s", strerror(errno));
	return CLI_OK;
}

/* ---- audit record ID ---- */

static json_t *record_audit_json(const audit_record_info *a)
{
	const Hutong__Header *h = record_header(a->r);
	char hex[2 * RECORD_ID_BYTES + 1];
	json_t *cover = json_array();
	for (size_t i = 0; i < a->n_cover; i++) {
		const audit_cover *v = &a->cover[i];
		json_array_append_new(cover, json_pack(
			"{s:s, s:s, s:b, s:o}", "node", v->region, "name",
			v->name, "held", v->covered, "receipt",
			v->covered ? time_json(v->receipt_ms) : json_null()));
	}
	return json_pack(
		"{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:b, s:b,"
		" s:{s:o, s:s, s:I}, s:I, s:I, s:o}",
		"id", util_hex(record_id(a->r), RECORD_ID_BYTES, hex), "origin",
		h->origin_region, "node", h->origin_node, "seq",
		(json_int_t)h->seq, "author", h->author, "kind",
		record_kind_name(h->kind), "created", time_json(h->created_ms),
		"fork_evidence", a->fork_evidence, "origin_forked",
		a->origin_forked, "arrival", "stored",
		time_json(a->meta.stored_ms), "source", a->meta.source, "n",
		(json_int_t)a->meta.n, "nodes", (json_int_t)a->n_cover,
		"held_by", (json_int_t)a->n_covered, "receipts", cover);
}

static void record_audit_text(const audit_record_info *a)
{
	const Hutong__Header *h = record_header(a->r);
	char hex[2 * RECORD_ID_BYTES + 1], t[40];
	printf("id        %s%s\n", util_hex(record_id(a->r), RECORD_ID_BYTES,
					     hex),
	       a->fork_evidence ? "  (fork evidence)" : "");
	printf("origin    %s (node %s) seq %llu%s\n", h->origin_region,
	       h->origin_node, (unsigned long long)h->seq,
	       a->origin_forked ? "  FORKED" : "");
	printf("author    %s\nkind      %s\ncreated   %s\n", h->author,
	       record_kind_name(h->kind), fmt_time(h->created_ms, t));
	printf("arrival   %s from %s (local order %lld)\n",
	       fmt_time(a->meta.stored_ms, t), a->meta.source,
	       (long long)a->meta.n);
	printf("held by   %zu of %zu nodes (earliest signed receipt of each)\n",
	       a->n_covered, a->n_cover);
	for (size_t i = 0; i < a->n_cover; i++) {
		const audit_cover *v = &a->cover[i];
		printf("  %s  %-20s %s\n", v->region, v->name,
		       v->covered ? fmt_time(v->receipt_ms, t)
				  : "- (no receipt covers it yet)");
	}
}

static int sub_record(cli *c, const audit_opts *o)
{
	uint8_t id[RECORD_ID_BYTES];
	if (cli_parse_id(c, o->args[0], id) != 0)
		return CLI_USAGE;
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	audit_record_info a;
	ht_err err = {0};
	int rc = audit_record(l, id, &a, &err);
	ledger_close(&l);
	if (rc != 0)
		return cli_fail_err(c, &err);
	if (o->out == OUT_JSON) {
		json_t *j = record_audit_json(&a);
		cli_print_json(j, true);
		json_decref(j);
	} else if (o->out == OUT_CSV) {
		char t[40];
		CSV("node", "name", "held", "receipt");
		for (size_t i = 0; i < a.n_cover; i++)
			CSV(a.cover[i].region, a.cover[i].name,
			    a.cover[i].covered ? "yes" : "no",
			    a.cover[i].covered ? fmt_time(a.cover[i].receipt_ms, t)
					       : "");
	} else {
		record_audit_text(&a);
	}
	audit_record_clear(&a);
	return finish(c, 0, &err);
}

/* ---- audit origin CODE ---- */

typedef struct origin_out {
	const audit_opts *o;
	json_t *rows, *kinds;
	uint64_t total;
} origin_out;

static int origin_row(void *ctx, int kind, const char *author,
		      uint64_t count, int64_t first_ms, int64_t last_ms)
{
	origin_out *oo = ctx;
	const char *k = record_kind_name(kind);
	char t1[40], t2[40], n[24];
	oo->total += count;
	if (oo->o->out == OUT_JSON) {
		json_t *kc = json_object_get(oo->kinds, k);
		json_object_set_new(oo->kinds, k, json_integer(
			(json_int_t)count + (kc ? json_integer_value(kc) : 0)));
		json_array_append_new(oo->rows, json_pack(
			"{s:s, s:s, s:I, s:o, s:o}", "kind", k, "author", author,
			"count", (json_int_t)count, "first", time_json(first_ms),
			"last", time_json(last_ms)));
	} else if (oo->o->out == OUT_CSV) {
		CSV(k, author, u64s(count, n), fmt_time(first_ms, t1),
		    fmt_time(last_ms, t2));
	} else {
		printf("%-12s %-24s %8llu  %s  %s\n", k, author,
		       (unsigned long long)count, fmt_time(first_ms, t1),
		       fmt_time(last_ms, t2));
	}
	return 0;
}

static json_t *bound_json(int64_t ms, int64_t open)
{
	return ms == open ? json_null() : time_json(ms);
}

static int sub_origin(cli *c, const audit_opts *o)
{
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	origin_out oo = {.o = o, .rows = json_array(), .kinds = json_object()};
	ht_err err = {0};
	if (o->out == OUT_CSV)
		CSV("kind", "author", "count", "first", "last");
	else if (o->out == OUT_TEXT)
		printf("%-12s %-24s %8s  %-24s  %s\n", "kind", "author",
		       "records", "first created", "last created");
	int rc = audit_origin(l, o->args[0], o->since, o->until, origin_row,
			      &oo, &err);
	const ledger_origin *og = rc == 0 ? ledger_origin_find(l, o->args[0])
					  : NULL;
	if (rc == 0 && o->out == OUT_JSON) {
		json_t *j = json_pack(
			"{s:s, s:s, s:o, s:o, s:I, s:O, s:O}", "origin",
			o->args[0], "node", og ? og->node : "", "since",
			bound_json(o->since, INT64_MIN), "until",
			bound_json(o->until, INT64_MAX), "records",
			(json_int_t)oo.total, "kinds", oo.kinds, "rows", oo.rows);
		cli_print_json(j, true);
		json_decref(j);
	} else if (rc == 0 && o->out == OUT_TEXT) {
		printf("origin %s (node %s): %llu records\n", o->args[0],
		       og ? og->node : "?", (unsigned long long)oo.total);
	}
	json_decref(oo.rows);
	json_decref(oo.kinds);
	ledger_close(&l);
	return finish(c, rc, &err);
}

/* ---- audit author ID ---- */

typedef struct author_out {
	const audit_opts *o;
	json_t *rows;
	size_t count;
} author_out;

static int author_row(void *ctx, const record *r, const ledger_meta *m)
{
	author_out *ao = ctx;
	const Hutong__Header *h = record_header(r);
	char hex[2 * RECORD_ID_BYTES + 1], t1[40], t2[40], seq[24];
	util_hex(record_id(r), RECORD_ID_BYTES, hex);
	ao->count++;
	if (ao->o->out == OUT_JSON)
		json_array_append_new(ao->rows, json_pack(
			"{s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:s}", "id", hex,
			"origin", h->origin_region, "node", h->origin_node,
			"seq", (json_int_t)h->seq, "kind",
			record_kind_name(h->kind), "created",
			time_json(h->created_ms), "stored",
			time_json(m->stored_ms), "source", m->source));
	else if (ao->o->out == OUT_CSV)
		CSV(hex, h->origin_region, h->origin_node, u64s(h->seq, seq),
		    record_kind_name(h->kind), fmt_time(h->created_ms, t1),
		    fmt_time(m->stored_ms, t2), m->source);
	else
		printf("%s  %s  %s/%-6llu %-12s stored %s from %s\n", hex,
		       fmt_time(h->created_ms, t1), h->origin_region,
		       (unsigned long long)h->seq, record_kind_name(h->kind),
		       fmt_time(m->stored_ms, t2), m->source);
	return 0;
}

static int sub_author(cli *c, const audit_opts *o)
{
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	author_out ao = {.o = o, .rows = json_array()};
	ht_err err = {0};
	if (o->out == OUT_CSV)
		CSV("id", "origin", "node", "seq", "kind", "created", "stored",
		    "source");
	int rc = audit_author(l, o->args[0], o->origin, author_row, &ao, &err);
	ledger_close(&l);
	if (rc == 0 && o->out == OUT_JSON) {
		json_t *j = json_pack("{s:s, s:o, s:I, s:O}", "author",
				      o->args[0], "origin",
				      o->origin ? json_string(o->origin)
						: json_null(),
				      "count", (json_int_t)json_array_size(ao.rows),
				      "records", ao.rows);
		cli_print_json(j, true);
		json_decref(j);
	} else if (rc == 0 && o->out == OUT_TEXT) {
		printf("%zu record%s by author '%s'\n", ao.count,
		       ao.count == 1 ? "" : "s", o->args[0]);
	}
	json_decref(ao.rows);
	return finish(c, rc, &err);
}

/* ---- audit peers ---- */

static json_t *detail_json(const audit_detail *d)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o}", "event",
			 ledger_event_name(d->kind), "origin", d->origin,
			 "reason", d->reason, "records", (json_int_t)d->records,
			 "events", (json_int_t)d->events, "first",
			 time_json(d->first_ms), "last", time_json(d->last_ms));
}

static int peer_json(void *ctx, const audit_peer *p)
{
	json_t *details = json_array();
	for (size_t i = 0; i < p->n_details; i++)
		json_array_append_new(details, detail_json(&p->details[i]));
	json_array_append_new(ctx, json_pack(
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
		time_json(p->first_ms), "last", time_json(p->last_ms),
		"details", details));
	return 0;
}

static int peer_text(void *ctx, const audit_peer *p)
{
	char t[40];
	printf("%-20s %9llu %9llu %9llu %8llu %6llu %6llu %5llu/%-5llu %s\n",
	       p->peer, (unsigned long long)p->records[LEDGER_EV_RECEIVED],
	       (unsigned long long)p->records[LEDGER_EV_STORED],
	       (unsigned long long)p->records[LEDGER_EV_SENT],
	       (unsigned long long)p->records[LEDGER_EV_REFUSED],
	       (unsigned long long)p->records[LEDGER_EV_GAP],
	       (unsigned long long)p->records[LEDGER_EV_FORK],
	       (unsigned long long)p->events[LEDGER_EV_CONNECT],
	       (unsigned long long)p->events[LEDGER_EV_DISCONNECT],
	       fmt_time(p->last_ms, t));
	for (size_t i = 0; i < p->n_details; i++) {
		const audit_detail *d = &p->details[i];
		printf("    %-8s %6llu record%s%s%s, last %s%s%s\n",
		       ledger_event_name(d->kind),
		       (unsigned long long)d->records,
		       d->records == 1 ? "" : "s", d->origin[0] ? " of " : "",
		       d->origin, fmt_time(d->last_ms, t),
		       d->reason[0] ? ": " : "", d->reason);
	}
	(void)ctx;
	return 0;
}

static int event_csv(void *ctx, const ledger_event_group *g)
{
	char a[24], b[24], t1[40], t2[40];
	CSV(g->peer, ledger_event_name(g->kind), g->origin, g->reason,
	    u64s(g->records, a), u64s(g->events, b), fmt_time(g->first_ms, t1),
	    fmt_time(g->last_ms, t2));
	(void)ctx;
	return 0;
}

static int sub_peers(cli *c, const audit_opts *o)
{
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	ht_err err = {0};
	json_t *peers = json_array();
	int rc;
	if (o->out == OUT_CSV) {
		CSV("peer", "event", "origin", "reason", "records", "events",
		    "first", "last");
		rc = audit_check_range(o->since, INT64_MAX, &err);
		if (rc == 0)
			rc = ledger_event_groups(l, o->since, INT64_MAX,
						 event_csv, NULL, &err);
	} else if (o->out == OUT_JSON) {
		rc = audit_peers(l, o->since, peer_json, peers, &err);
		if (rc == 0) {
			json_t *j = json_pack("{s:o, s:O}", "since",
					      bound_json(o->since, INT64_MIN),
					      "peers", peers);
			cli_print_json(j, true);
			json_decref(j);
		}
	} else {
		printf("%-20s %9s %9s %9s %8s %6s %6s %11s %s\n", "peer",
		       "received", "stored", "sent", "refused", "gaps", "forks",
		       "conn/disc", "last event");
		rc = audit_peers(l, o->since, peer_text, NULL, &err);
	}
	json_decref(peers);
	ledger_close(&l);
	return finish(c, rc, &err);
}

/* ---- audit forks ---- */

static json_t *version_json(const record *r, const ledger_meta *m)
{
	const Hutong__Header *h = record_header(r);
	size_t hlen, elen;
	const uint8_t *hb = record_header_bytes(r, &hlen);
	const uint8_t *eb = record_bytes(r, &elen);
	char id[2 * RECORD_ID_BYTES + 1], sig[2 * RECORD_SIG_BYTES + 1];
	char prev[2 * RECORD_ID_BYTES + 1] = "";
	char *hhex = malloc(2 * hlen + 1);
	size_t b64len = sodium_base64_ENCODED_LEN(elen,
						  sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64len);
	json_t *j = NULL;
	if (hhex && b64) {
		util_hex(hb, hlen, hhex);
		sodium_bin2base64(b64, b64len, eb, elen,
				  sodium_base64_VARIANT_ORIGINAL);
		j = json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:s, s:s, s:s,"
			      " s:s}",
			      "id", util_hex(record_id(r), RECORD_ID_BYTES, id),
			      "kind", record_kind_name(h->kind), "created",
			      time_json(h->created_ms), "author", h->author,
			      "prev", h->prev_id.len == RECORD_ID_BYTES
				? util_hex(h->prev_id.data, RECORD_ID_BYTES, prev)
				: "",
			      "stored", time_json(m->stored_ms), "source",
			      m->source, "header", hhex, "signature",
			      util_hex(record_signature(r), RECORD_SIG_BYTES,
				       sig),
			      "envelope", b64);
	}
	free(hhex);
	free(b64);
	return j;
}

typedef struct forks_out {
	out_mode out;
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

static void fork_csv(const audit_fork *f, const char *label,
		     const record *r, const ledger_meta *m)
{
	const Hutong__Header *h = record_header(r);
	char seq[24];
	json_t *j = version_json(r, m);
	if (j == NULL)
		return;
#define S(k) json_string_value(json_object_get(j, k))
	CSV(h->origin_region, h->origin_node, u64s(h->seq, seq),
	    f->flagged ? "yes" : "no", label, S("id"), S("created"),
	    S("author"), S("kind"), S("stored"), S("source"), S("signature"),
	    S("header"), S("envelope"));
#undef S
	json_decref(j);
}

static int fork_row(void *ctx, const audit_fork *f)
{
	forks_out *fo = ctx;
	const Hutong__Header *h = record_header(f->evidence);
	char hex[2 * RECORD_ID_BYTES + 1];
	fo->n++;
	if (fo->out == OUT_JSON) {
		json_array_append_new(fo->list, json_pack(
			"{s:s, s:s, s:I, s:b, s:o, s:o}", "origin",
			h->origin_region, "node", h->origin_node, "seq",
			(json_int_t)h->seq, "flagged", f->flagged, "chain",
			version_json(f->chain, &f->chain_meta), "evidence",
			version_json(f->evidence, &f->evidence_meta)));
	} else if (fo->out == OUT_CSV) {
		fork_csv(f, "chain", f->chain, &f->chain_meta);
		fork_csv(f, "evidence", f->evidence, &f->evidence_meta);
	} else {
		printf("fork: origin %s (node %s) seq %llu: two records signed "
		       "with the origin's key\n", h->origin_region,
		       h->origin_node, (unsigned long long)h->seq);
		fork_version_text("chain", f->chain, &f->chain_meta);
		fork_version_text("evidence", f->evidence, &f->evidence_meta);
		if (f->flagged)
			printf("  FLAGGED: its later records are refused until "
			       "an operator runs\n  hutong fork resolve %s "
			       "--keep %s\n", h->origin_region,
			       util_hex(record_id(f->chain), RECORD_ID_BYTES,
					hex));
		else
			printf("  resolved by an operator (see 'hutong audit "
			       "peers')\n");
	}
	return 0;
}

static int sub_forks(cli *c, const audit_opts *o)
{
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	forks_out fo = {.out = o->out, .list = json_array()};
	ht_err err = {0};
	if (o->out == OUT_CSV)
		CSV("origin", "node", "seq", "flagged", "version", "id",
		    "created", "author", "kind", "stored", "source", "signature",
		    "header", "envelope");
	int rc = audit_forks(l, fork_row, &fo, &err);
	ledger_close(&l);
	if (rc == 0 && o->out == OUT_JSON) {
		json_t *j = json_pack("{s:I, s:O}", "count", (json_int_t)fo.n,
				      "forks", fo.list);
		cli_print_json(j, true);
		json_decref(j);
	} else if (rc == 0 && o->out == OUT_TEXT && fo.n == 0) {
		printf("no forks\n");
	}
	json_decref(fo.list);
	return finish(c, rc, &err);
}

/* ---- disputes ---- */

typedef struct disputes_out {
	out_mode out;
	json_t *list;
	size_t n;
} disputes_out;

static void dispute_row(void *ctx, const ledger_dispute *d)
{
	disputes_out *o = ctx;
	char hex[2 * RECORD_ID_BYTES + 1], t[40];
	util_hex(d->id, RECORD_ID_BYTES, hex);
	o->n++;
	if (o->out == OUT_JSON) {
		json_array_append_new(
		    o->list,
		    json_pack("{s:s, s:s, s:I, s:o, s:s, s:I, s:s}", "signer",
			      d->signer, "receipt", hex, "receipt_seq",
			      (json_int_t)d->signer_seq, "created",
			      time_json(d->created_ms), "origin", d->origin,
			      "seq", (json_int_t)d->seq, "reason", d->reason));
		return;
	}
	printf("dispute against %s: receipt %s (seq %llu, created %s) on "
	       "origin %s seq %llu: %s\n",
	       d->signer, hex, (unsigned long long)d->signer_seq,
	       fmt_time(d->created_ms, t), d->origin,
	       (unsigned long long)d->seq, d->reason);
}

static int sub_disputes(cli *c, const audit_opts *o)
{
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	disputes_out d = {.out = o->out, .list = json_array()};
	ht_err err = {0};
	int rc = ledger_verify_ex(l, c->cf->max_clock_skew.ms, true, NULL,
				  dispute_row, &d, &err);
	ledger_close(&l);
	rc = rc < 0 ? rc : 0;
	if (rc == 0 && o->out == OUT_JSON) {
		json_t *j = json_pack("{s:I, s:O}", "count", (json_int_t)d.n,
				      "disputes", d.list);
		cli_print_json(j, true);
		json_decref(j);
	} else if (rc == 0 && d.n == 0) {
		printf("no disputes\n");
	}
	json_decref(d.list);
	return finish(c, rc, &err);
}

/* ---- the table and the flags ---- */

static const audit_sub subs[] = {
	{"record", sub_record, 1, "", true, "audit record ID [--json | --format csv]",
	 "Who originated record ID (origin, node, author, created), when and\n"
	 "from which peer this node stored it, and for every node of the\n"
	 "federation the earliest of its signed receipts that covers the record\n"
	 "(or that none does yet). csv: one row per node."},
	{"origin", sub_origin, 1, "su", true,
	 "audit origin CODE [--since T] [--until T] [--json | --format csv]",
	 "What bureau CODE shared (records it originated, created in the range):\n"
	 "per kind and author, the count and the first and last creation time."},
	{"author", sub_author, 1, "o", true,
	 "audit author ID [--origin CODE] [--json | --format csv]",
	 "Every record officer ID originated, in arrival order (author ids are\n"
	 "a bureau's own: --origin narrows to one bureau)."},
	{"peers", sub_peers, 0, "s", true,
	 "audit peers [--since T] [--json | --format csv]",
	 "Per link, from this node's event log: records received, stored and\n"
	 "sent, connects and disconnects, and the refusals with their reasons\n"
	 "(also gaps, forks and operator decisions). csv: one row per peer,\n"
	 "event, origin and reason."},
	{"forks", sub_forks, 0, "", true, "audit forks [--json | --format csv]",
	 "Each fork: the chain record and the conflicting record at the same\n"
	 "origin and seq, both signed by the origin (ids, headers and\n"
	 "signatures in hex; --json and csv add each raw envelope in base64)."},
	{"disputes", sub_disputes, 0, "", false, "audit disputes [--json]",
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

static int parse_time(cli *c, const char *flag, const char *arg, int64_t *ms)
{
	if (strlen(arg) > 64 || util_parse_time(arg, ms) != 0)
		return cli_usage(c, "--%s: not an RFC 3339 time: '%.40s'", flag,
				 arg);
	return 0;
}

static int parse_format(cli *c, const char *arg, audit_opts *o)
{
	if (strcmp(arg, "csv") == 0)
		o->out = OUT_CSV;
	else if (strcmp(arg, "json") == 0)
		o->out = OUT_JSON;
	else if (strcmp(arg, "text") == 0)
		o->out = OUT_TEXT;
	else
		return cli_usage(c, "--format: must be text, json or csv, got "
				 "'%.40s'", arg);
	return 0;
}

static const struct option audit_long[] = {
	{"json", no_argument, NULL, 'j'},
	{"format", required_argument, NULL, 'F'},
	{"since", required_argument, NULL, 's'},
	{"until", required_argument, NULL, 'u'},
	{"origin", required_argument, NULL, 'o'},
	{"keep", required_argument, NULL, 'k'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}};

/* Flags and positional arguments of a subcommand (argv[0] is its name).
 * allowed: which of s u o k it takes. -1 after printing help. */
static int parse_opts(cli *c, int argc, char **argv, const char *allowed,
		      const char *help, audit_opts *o)
{
	const char *format = NULL;
	bool json = false;
	int opt;
	*o = (audit_opts){.since = INT64_MIN, .until = INT64_MAX};
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", audit_long, NULL)) != -1) {
		int rc = 0;
		if (opt == 'h') {
			printf("%s", help);
			return -1;
		}
		if (opt == '?')
			return cli_usage(c, "bad option");
		if (strchr("suok", opt) && !strchr(allowed, opt))
			return cli_usage(c, "--%s does not apply here",
					 audit_long[strchr("jFsuokh", opt) -
						    "jFsuokh"].name);
		switch (opt) {
		case 'j': json = true; break;
		case 'F': format = optarg; break;
		case 's': rc = parse_time(c, "since", optarg, &o->since); break;
		case 'u': rc = parse_time(c, "until", optarg, &o->until); break;
		case 'o': o->origin = optarg; break;
		case 'k': o->keep = optarg; break;
		}
		if (rc != 0)
			return rc;
	}
	if (json && format != NULL && strcmp(format, "json") != 0)
		return cli_usage(c, "--json and --format %.20s exclude each other",
				 format);
	o->out = json ? OUT_JSON : OUT_TEXT;
	if (format != NULL && parse_format(c, format, o) != 0)
		return CLI_USAGE;
	o->args = argv + optind;
	o->n_args = argc - optind;
	return 0;
}

int cmd_audit(cli *c, int argc, char **argv)
{
	char help[1024];
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		audit_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const audit_sub *s = NULL;
	for (size_t i = 0; i < N_SUBS; i++)
		if (strcmp(subs[i].name, argv[1]) == 0)
			s = &subs[i];
	if (s == NULL)
		return cli_usage(c, "unknown subcommand '%.40s' (record, origin, "
				 "author, peers, forks, disputes)", argv[1]);
	snprintf(help, sizeof(help), "usage: hutong -d NODEDIR %s\n\n%s\n",
		 s->usage, s->help);
	audit_opts o;
	int rc = parse_opts(c, argc - 1, argv + 1, s->flags, help, &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (o.n_args != s->n_args)
		return cli_usage(c, "%s: expected %d argument%s, got %d "
				 "(usage: hutong %s)", s->name, s->n_args,
				 s->n_args == 1 ? "" : "s", o.n_args, s->usage);
	if (o.out == OUT_CSV && !s->csv)
		return cli_usage(c, "--format csv does not apply to audit %s",
				 s->name);
	return s->fn(c, &o);
}

/* ---- fork resolve ---- */

/* The daemon holds the ledger's frontier in memory: ask it. */
static int resolve_via_daemon(cli *c, const char *origin,
			      const uint8_t keep[RECORD_ID_BYTES], ht_err *err)
{
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__ForkResolveRequest fr = HUTONG__FORK_RESOLVE_REQUEST__INIT;
	fr.origin = (char *)origin;
	fr.keep = (ProtobufCBinaryData){RECORD_ID_BYTES, (uint8_t *)keep};
	req.op_case = HUTONG__CONTROL_REQUEST__OP_FORK_RESOLVE;
	req.fork_resolve = &fr;
	Hutong__ControlReply *rep = NULL;
	int rc = ctl_call(c->cf->control, &req, CTL_TIMEOUT_MS, &rep, err);
	if (rc == 0 && rep->code != 0)
		rc = ht_err_set(err, rep->code, "", "%s", rep->error);
	if (rep)
		hutong__control_reply__free_unpacked(rep, NULL);
	return rc;
}

/* No daemon: take its lock so none starts meanwhile, and write the
 * ledger directly. */
static int resolve_offline(cli *c, const char *origin,
			   const uint8_t keep[RECORD_ID_BYTES], ht_err *err)
{
	char path[PATH_MAX];
	if (util_path_join(c->cf->dir, "hutongd.pid", path, sizeof(path)) != 0)
		return ht_err_set(err, HT_ELIMIT, "", "path too long");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return ht_err_set(err, HT_EIO, "", "%s: %s", path,
				  strerror(errno));
	int rc = 0;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = ht_err_set(err, HT_EUNAVAIL, "", "hutongd holds %s but does"
				" not answer on %s; try again", c->cf->dir,
				c->cf->control);
	} else {
		ledger *l = ledger_open(c->cf->ledger, LEDGER_RDWR, NULL, err);
		rc = l ? ledger_fork_resolve(l, origin, keep, err) : HT_EIO;
		ledger_close(&l);
	}
	close(fd);
	return rc;
}

int cmd_fork(cli *c, int argc, char **argv)
{
	static const char help[] =
		"usage: hutong -d NODEDIR fork resolve CODE --keep ID [--json]\n"
		"\nAfter a fork of origin CODE (two records it signed with one "
		"seq; see\n'hutong audit forks') this node refuses CODE's later "
		"records. An operator\nwho has settled which branch is genuine "
		"resolves it: ID must be this\nnode's chain record at the forked "
		"seq (the chain is never rewritten; a\nnode that holds the other "
		"branch cannot keep this one). The evidence\nstays, the decision "
		"is logged (audit peers), and CODE's later records are\ntaken "
		"again. Goes through hutongd when it runs.\n";
	if (argc < 2 || strcmp(argv[1], "resolve") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
				  strcmp(argv[1], "-h") == 0)) {
			printf("%s", help);
			return CLI_OK;
		}
		return cli_usage(c, "expected 'fork resolve CODE --keep ID'");
	}
	audit_opts o;
	uint8_t keep[RECORD_ID_BYTES];
	int rc = parse_opts(c, argc - 1, argv + 1, "k", help, &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (o.n_args != 1 || o.keep == NULL)
		return cli_usage(c, "expected 'fork resolve CODE --keep ID'");
	if (!util_is_region_code(o.args[0]))
		return cli_usage(c, "CODE: must be six digits, got '%.20s'",
				 o.args[0]);
	if (cli_parse_id(c, o.keep, keep) != 0)
		return CLI_USAGE;
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	ht_err err = {0};
	const char *via = "hutongd";
	rc = resolve_via_daemon(c, o.args[0], keep, &err);
	if (rc == HT_EUNAVAIL) {
		via = "ledger";
		rc = resolve_offline(c, o.args[0], keep, &err);
	}
	if (rc != 0)
		return cli_fail_err(c, &err);
	if (o.out == OUT_JSON) {
		json_t *j = json_pack("{s:s, s:s, s:b, s:s}", "origin",
				      o.args[0], "kept", o.keep, "resolved", 1,
				      "via", via);
		cli_print_json(j, true);
		json_decref(j);
	} else {
		printf("origin %s: fork resolved, keeping %s; its later records "
		       "are taken again\n(the evidence stays: hutong audit "
		       "forks)\n", o.args[0], o.keep);
	}
	return CLI_OK;
}
