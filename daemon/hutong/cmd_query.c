/*
 * cmd_query: the reading commands (list, show, status, verify, export) and
 * stop. They open the ledger read-only, so they work while the daemon runs
 * (SQLite WAL readers never block the writer) and while it is stopped.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "ctl.h"
#include "status.h"
#include "util.h"

static const char *scope_name(int scope)
{
	static const char *names[] = {"national", "national", "province",
				      "neighbours", "local"};
	return scope >= 0 && scope <= 4 ? names[scope] : "unknown";
}

json_t *cli_record_json(const record *r, const ledger_meta *meta)
{
	const Hutong__Header *h = record_header(r);
	char hex[2 * RECORD_ID_BYTES + 1], t[40];
	json_t *j = json_object();
	json_object_set_new(j, "id", json_string(util_hex(record_id(r),
							  RECORD_ID_BYTES, hex)));
	json_object_set_new(j, "origin", json_string(h->origin_region));
	json_object_set_new(j, "node", json_string(h->origin_node));
	json_object_set_new(j, "seq", json_integer((json_int_t)h->seq));
	json_object_set_new(j, "prev", h->prev_id.len
		? json_string(util_hex(h->prev_id.data, h->prev_id.len, hex))
		: json_null());
	json_object_set_new(j, "created", json_string(util_format_time(
		h->created_ms, t, sizeof(t))));
	json_object_set_new(j, "author", json_string(h->author));
	json_object_set_new(j, "kind", json_string(record_kind_name(h->kind)));
	json_object_set_new(j, "scope", json_string(scope_name(h->scope)));
	json_object_set_new(j, "body_hash", json_string(util_hex(
		h->body_hash.data, h->body_hash.len, hex)));
	if (meta != NULL) {
		json_object_set_new(j, "stored", json_string(util_format_time(
			meta->stored_ms, t, sizeof(t))));
		json_object_set_new(j, "source", json_string(meta->source));
	}
	const Hutong__Body *b = record_body(r);
	json_object_set_new(j, "body", b ? json_from_message(&b->base,
							     JSON_BYTES_HEX)
					 : json_null());
	return j;
}

/* ---- list and export share filters ---- */

typedef struct query {
	ledger_filter f;
	bool json;
	const char *format; /* export: jsonl or csv */
	long count;
} query;

static int parse_filter(cli *c, int opt, const char *arg, query *q)
{
	uint64_t v;
	switch (opt) {
	case 'k':
		if ((q->f.kind = record_kind_parse(arg)) < 0)
			return cli_usage(c, "--kind: unknown kind '%s' (intel, "
					 "repatriation, org, correction, genesis)",
					 arg);
		return 0;
	case 'o':
		if (!util_is_region_code(arg))
			return cli_usage(c, "--origin: must be six digits, got "
					 "'%.20s'", arg);
		q->f.origin = arg;
		return 0;
	case 'a': q->f.author = arg; return 0;
	case 's':
	case 'u': {
		int64_t *dst = opt == 's' ? &q->f.since_ms : &q->f.until_ms;
		if (util_parse_time(arg, dst) != 0)
			return cli_usage(c, "--%s: not an RFC 3339 time: '%.40s'",
					 opt == 's' ? "since" : "until", arg);
		return 0;
	}
	case 'n':
		if (util_parse_u64(arg, 1, INT64_MAX, &v) != 0)
			return cli_usage(c, "--limit: not a positive number: '%s'",
					 arg);
		q->f.limit = (int64_t)v;
		return 0;
	}
	return CLI_USAGE;
}

static const struct option filter_opts[] = {
	{"kind", required_argument, NULL, 'k'},
	{"origin", required_argument, NULL, 'o'},
	{"author", required_argument, NULL, 'a'},
	{"since", required_argument, NULL, 's'},
	{"until", required_argument, NULL, 'u'},
	{"limit", required_argument, NULL, 'n'},
	{"json", no_argument, NULL, 'j'},
	{"format", required_argument, NULL, 'F'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}};

static int parse_query(cli *c, int argc, char **argv, query *q,
		       const char *help)
{
	int opt;
	while ((opt = getopt_long(argc, argv, "h", filter_opts, NULL)) != -1) {
		int rc = 0;
		if (opt == 'h') {
			printf("%s", help);
			return -1;
		} else if (opt == 'j') {
			q->json = true;
		} else if (opt == 'F') {
			q->format = optarg;
		} else if (opt == '?') {
			return cli_usage(c, "bad option");
		} else {
			rc = parse_filter(c, opt, optarg, q);
		}
		if (rc != 0)
			return rc;
	}
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* A one-line human summary of a body. */
static const char *body_summary(const record *r)
{
	const Hutong__Body *b = record_body(r);
	if (b == NULL)
		return "(body withheld)";
	switch (b->content_case) {
	case HUTONG__BODY__CONTENT_INTELLIGENCE:
		return b->intelligence->summary;
	case HUTONG__BODY__CONTENT_REPATRIATION:
		return b->repatriation->case_id;
	case HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION:
		return b->fleeing_organization->name;
	case HUTONG__BODY__CONTENT_CORRECTION:
		return b->correction->reason;
	default:
		return "";
	}
}

static int list_row(void *ctx, const record *r, const ledger_meta *m)
{
	query *q = ctx;
	q->count++;
	if (q->json) {
		json_t *j = cli_record_json(r, m);
		cli_print_json(j, false);
		json_decref(j);
		return 0;
	}
	const Hutong__Header *h = record_header(r);
	char hex[2 * RECORD_ID_BYTES + 1], t[40];
	printf("%s  %s  %s/%llu  %-12s  %-12s  %.60s\n",
	       util_hex(record_id(r), RECORD_ID_BYTES, hex),
	       util_format_time(h->created_ms, t, sizeof(t)), h->origin_region,
	       (unsigned long long)h->seq, record_kind_name(h->kind), h->author,
	       body_summary(r));
	return 0;
}

int cmd_list(cli *c, int argc, char **argv)
{
	query q = {0};
	int rc = parse_query(c, argc, argv, &q,
		"usage: hutong -d NODEDIR list [--kind K] [--origin CODE] "
		"[--author ID]\n       [--since TIME] [--until TIME] [--limit N]"
		" [--json]\n\nLists records in arrival order: id, created, "
		"origin/seq, kind, author, summary.\nWith --json, one JSON object"
		" per line (the keys of 'show --json').\nKinds: intel, "
		"repatriation, org, correction, genesis.\n");
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	ht_err err = {0};
	rc = ledger_each(l, &q.f, list_row, &q, &err);
	ledger_close(&l);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

/* ---- show ---- */

static int write_raw(cli *c, const record *r)
{
	size_t len;
	const uint8_t *b = record_bytes(r, &len);
	if (isatty(STDOUT_FILENO))
		return cli_fail(c, "--raw writes binary; redirect stdout to a file");
	return fwrite(b, 1, len, stdout) == len ? CLI_OK
						: cli_fail(c, "write failed");
}

static void show_text(const record *r, const ledger_meta *m)
{
	json_t *j = cli_record_json(r, m);
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v) {
		if (json_is_string(v))
			printf("%-10s %s\n", k, json_string_value(v));
		else if (json_is_integer(v))
			printf("%-10s %lld\n", k, (long long)json_integer_value(v));
		else if (json_is_null(v))
			printf("%-10s -\n", k);
	}
	json_t *body = json_object_get(j, "body");
	if (json_is_object(body)) {
		char *s = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("body\n%s\n", s ? s : "");
		free(s);
	}
	json_decref(j);
}

int cmd_show(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"raw", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	bool json = false, raw = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'j') json = true;
		else if (opt == 'r') raw = true;
		else if (opt == 'h') {
			printf("usage: hutong -d NODEDIR show ID [--json | --raw]\n\n"
			       "Shows one record (chain or fork evidence) by its "
			       "id (64 hex digits).\n--raw writes the exact "
			       "envelope bytes to stdout.\n");
			return CLI_OK;
		} else return cli_usage(c, "bad option");
	}
	if (optind + 1 != argc)
		return cli_usage(c, "expected one record ID");
	if (json && raw)
		return cli_usage(c, "--json and --raw exclude each other");
	uint8_t id[RECORD_ID_BYTES];
	if (cli_parse_id(c, argv[optind], id) != 0)
		return CLI_USAGE;
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	record *r = NULL;
	ledger_meta m;
	ht_err err = {0};
	int rc = ledger_get(l, id, &r, &m, &err);
	ledger_close(&l);
	if (rc != 0)
		return cli_fail_err(c, &err);
	if (raw) {
		rc = write_raw(c, r);
	} else if (json) {
		json_t *j = cli_record_json(r, &m);
		cli_print_json(j, true);
		json_decref(j);
	} else {
		show_text(r, &m);
	}
	record_free(&r);
	return rc;
}

/* ---- status ---- */

static json_t *status_from_daemon(cli *c)
{
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__StatusRequest sr = HUTONG__STATUS_REQUEST__INIT;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_STATUS;
	req.status = &sr;
	Hutong__ControlReply *rep = NULL;
	json_t *j = NULL;
	if (ctl_call(c->cf->control, &req, 5000, &rep, NULL) == 0 &&
	    rep->code == 0 && rep->json != NULL)
		j = json_loads(rep->json, 0, NULL);
	if (rep)
		hutong__control_reply__free_unpacked(rep, NULL);
	return j;
}

static void status_text(const json_t *j)
{
	printf("node      %s\nregion    %s\nrunning   %s\nrecords   %lld\n"
	       "digest    %s\norigins\n",
	       json_string_value(json_object_get(j, "node")),
	       json_string_value(json_object_get(j, "region")),
	       json_is_true(json_object_get(j, "running")) ? "yes" : "no",
	       (long long)json_integer_value(json_object_get(j, "records")),
	       json_string_value(json_object_get(j, "digest")));
	const char *k;
	json_t *o;
	json_object_foreach(json_object_get(j, "origins"), k, o) {
		printf("  %s  %-16s seq %-8lld head %.16s%s\n", k,
		       json_string_value(json_object_get(o, "node")),
		       (long long)json_integer_value(json_object_get(o, "seq")),
		       json_string_value(json_object_get(o, "head")),
		       json_is_true(json_object_get(o, "forked")) ? "  FORKED"
								  : "");
	}
	size_t i;
	json_t *p;
	printf("peers\n");
	json_array_foreach(json_object_get(j, "peers"), i, p) {
		const char *seen = json_string_value(json_object_get(p, "last_seen"));
		const char *cert = json_string_value(json_object_get(p, "certificate"));
		printf("  %-14s %-6s %-12s last seen %-24s sent %-6lld received "
		       "%-6lld behind %lld%s%s\n",
		       json_string_value(json_object_get(p, "name")),
		       json_string_value(json_object_get(p, "region")) ?: "",
		       json_is_true(json_object_get(p, "connected"))
			       ? "connected" : "disconnected",
		       seen ? seen : "never",
		       (long long)json_integer_value(json_object_get(p, "sent")),
		       (long long)json_integer_value(json_object_get(p, "received")),
		       (long long)json_integer_value(json_object_get(p, "behind")),
		       cert && strcmp(cert, "ok") != 0 ? "  certificate: " : "",
		       cert && strcmp(cert, "ok") != 0 ? cert : "");
	}
}

int cmd_status(cli *c, int argc, char **argv)
{
	query q = {0};
	int rc = parse_query(c, argc, argv, &q,
		"usage: hutong -d NODEDIR status [--json]\n\nThe node's name, "
		"region, whether hutongd runs, record count, ledger digest,\n"
		"origins (per region code: seq and head id) and peers. JSON keys:"
		" node, region,\nrunning, records, digest, origins, peers, and "
		"from a running daemon links\nand refusals.\n");
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	json_t *j = status_from_daemon(c);
	if (j == NULL) { /* daemon down: read the ledger */
		ledger *l = cli_ledger(c);
		if (l == NULL)
			return CLI_FAIL;
		j = status_json(c->cf->name, c->cf->region, l, false);
		ledger_close(&l);
	}
	if (q.json)
		cli_print_json(j, true);
	else
		status_text(j);
	json_decref(j);
	return CLI_OK;
}

/* ---- verify ---- */

static void verify_problem(void *ctx, const uint8_t *id, const char *region,
			   uint64_t seq, const char *reason)
{
	json_t *list = ctx;
	char hex[2 * RECORD_ID_BYTES + 1];
	const char *ids = id ? util_hex(id, RECORD_ID_BYTES, hex) : "-";
	json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:s}", "id", ids,
					      "origin", region, "seq",
					      (json_int_t)seq, "problem", reason));
	fprintf(stderr, "BAD %s origin=%s seq=%llu: %s\n", ids, region,
		(unsigned long long)seq, reason);
}

/* A receipt that contradicts the chains: evidence against its signer,
 * shown, not a problem of this node. */
static void verify_dispute(void *ctx, const ledger_dispute *d)
{
	json_t *list = json_object_get(ctx, "disputes");
	char hex[2 * RECORD_ID_BYTES + 1];
	util_hex(d->id, RECORD_ID_BYTES, hex);
	json_array_append_new(
	    list, json_pack("{s:s, s:s, s:I, s:s, s:I, s:s}", "signer",
			    d->signer, "receipt", hex, "receipt_seq",
			    (json_int_t)d->signer_seq, "origin", d->origin,
			    "seq", (json_int_t)d->seq, "reason", d->reason));
	fprintf(stderr, "DISPUTE against %s: receipt %s origin=%s seq=%llu: %s\n",
		d->signer, hex, d->origin, (unsigned long long)d->seq,
		d->reason);
}

static void verify_problem_of(void *ctx, const uint8_t *id, const char *region,
			      uint64_t seq, const char *reason)
{
	verify_problem(json_object_get(ctx, "problems"), id, region, seq,
		       reason);
}

int cmd_verify(cli *c, int argc, char **argv)
{
	query q = {0};
	int rc = parse_query(c, argc, argv, &q,
		"usage: hutong -d NODEDIR verify [--json]\n\nRe-checks every "
		"stored record offline: envelope encoding, id, signature with\n"
		"its origin's genesis key, chain links and sequence, the arrival"
		" log, the\nfrontier, and receipts (each entry against the chain "
		"it names, each node's\nreceipts never going back, the receipt "
		"index against the receipt records).\nExit 0 when clean; otherwise"
		" names each problem and exits 1. A receipt entry that\n"
		"contradicts the chains held is a dispute against its signer "
		"(see 'hutong audit\ndisputes'): shown, and not a problem of this "
		"node. JSON keys: ok, records,\nproblems, disputes.\n");
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	json_t *found = json_pack("{s:[], s:[]}", "problems", "disputes");
	ht_err err = {0};
	int n = ledger_verify_ex(l, c->cf->max_clock_skew.ms, false,
				 verify_problem_of, verify_dispute, found, &err);
	uint64_t count = ledger_record_count(l);
	size_t nd = json_array_size(json_object_get(found, "disputes"));
	ledger_close(&l);
	if (n < 0) {
		json_decref(found);
		return cli_fail_err(c, &err);
	}
	if (q.json) {
		json_t *j = json_pack("{s:b, s:I, s:O, s:O}", "ok", n == 0,
				      "records", (json_int_t)count, "problems",
				      json_object_get(found, "problems"),
				      "disputes",
				      json_object_get(found, "disputes"));
		cli_print_json(j, true);
		json_decref(j);
	} else {
		printf("%s: %llu records, %d problem%s, %zu dispute%s\n",
		       n ? "FAILED" : "OK", (unsigned long long)count, n,
		       n == 1 ? "" : "s", nd, nd == 1 ? "" : "s");
	}
	json_decref(found);
	return n == 0 ? CLI_OK : CLI_FAIL;
}

/* ---- export ---- */

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

static int export_row(void *ctx, const record *r, const ledger_meta *m)
{
	query *q = ctx;
	json_t *j = cli_record_json(r, m);
	if (strcmp(q->format, "jsonl") == 0) {
		cli_print_json(j, false);
		json_decref(j);
		return 0;
	}
	static const char *cols[] = {"id", "origin", "node", "seq", "prev",
				     "created", "author", "kind", "scope",
				     "body_hash", "stored", "source", "body"};
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		json_t *v = json_object_get(j, cols[i]);
		char *s = json_is_string(v) ? strdup(json_string_value(v))
			  : json_is_null(v) ? strdup("")
			  : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
						  JSON_PRESERVE_ORDER);
		if (i > 0)
			putchar(',');
		csv_field(s ? s : "");
		free(s);
	}
	printf("\r\n");
	json_decref(j);
	return 0;
}

int cmd_export(cli *c, int argc, char **argv)
{
	query q = {0};
	int rc = parse_query(c, argc, argv, &q,
		"usage: hutong -d NODEDIR export --format jsonl|csv [--kind K] "
		"[--origin CODE]\n       [--author ID] [--since T] [--until T]\n\n"
		"Writes every matching record to stdout: jsonl, one object per "
		"line (keys as\n'show --json'), or csv (RFC 4180, header row; the"
		" body column holds the\nbody's JSON).\n");
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (q.format == NULL)
		return cli_usage(c, "--format jsonl|csv is required");
	if (strcmp(q.format, "jsonl") != 0 && strcmp(q.format, "csv") != 0)
		return cli_usage(c, "--format: must be jsonl or csv, got '%s'",
				 q.format);
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	if (strcmp(q.format, "csv") == 0)
		printf("id,origin,node,seq,prev,created,author,kind,scope,"
		       "body_hash,stored,source,body\r\n");
	ht_err err = {0};
	rc = ledger_each(l, &q.f, export_row, &q, &err);
	ledger_close(&l);
	if (fflush(stdout) != 0)
		return cli_fail(c, "write failed");
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

/* ---- stop ---- */

int cmd_stop(cli *c, int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: hutong -d NODEDIR stop\n\nAsks hutongd to stop "
		       "(as SIGTERM does).\n");
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage(c, "unexpected argument '%s'", argv[1]);
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__StopRequest sr = HUTONG__STOP_REQUEST__INIT;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_STOP;
	req.stop = &sr;
	Hutong__ControlReply *rep = NULL;
	ht_err err = {0};
	int rc = ctl_call(c->cf->control, &req, 5000, &rep, &err);
	if (rep)
		hutong__control_reply__free_unpacked(rep, NULL);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}
