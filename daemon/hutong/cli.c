/*
 * cli: the helpers every hutong command uses, so that each rule is written
 * once: the "hutong CMD: reason" messages and exit codes, loading the
 * node's config, running a read command with its ledger open read-only
 * (cli_read), the flags the read commands share (record filters for
 * list/status/verify/export; output mode and time range for audit and
 * fork), the JSON form of a stored record, time text, CSV quoting, and
 * sending records to hutongd (cli_submit). Nothing here exits or keeps
 * state beyond the cli context.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "ctl.h"
#include "json.h"
#include "region.h"
#include "util.h"

/* ---- messages ---- */

int cli_fail(cli *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "hutong %s: ", c->cmd ? c->cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int cli_usage(cli *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "hutong %s: ", c->cmd ? c->cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry 'hutong %s --help'\n", c->cmd ? c->cmd : "");
	return CLI_USAGE;
}

int cli_fail_err(cli *c, const ht_err *e)
{
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	return cli_fail(c, "%s", ht_err_str(e, msg, sizeof(msg)));
}

/* ---- the node ---- */

static void report_conf(void *ctx, const char *line)
{
	fprintf(stderr, "%s\n", line);
	(void)ctx;
}

int cli_conf(cli *c)
{
	if (c->cf != NULL)
		return 0;
	if (c->dir == NULL && (c->no_dir = true))
		return cli_usage(c,
				 "-d NODEDIR is required (or set HUTONG_DIR)");
	char path[PATH_MAX];
	if (util_path_join(c->dir, "hutongd.conf", path, sizeof(path)) != 0)
		return cli_fail(c, "%s: path too long", c->dir);
	c->cf = conf_load(path, report_conf, NULL);
	if (c->cf == NULL)
		return cli_fail(c,
				"cannot use %s (is %s a node directory made by"
				" 'hutong init'?)",
				path, c->dir);
	return 0;
}

ledger *cli_ledger(cli *c)
{
	if (cli_conf(c) != 0)
		return NULL;
	ht_err err = {0};
	ledger *l = ledger_open(c->cf->ledger, LEDGER_RDONLY, NULL, &err);
	if (l == NULL)
		cli_fail_err(c, &err);
	return l;
}

int cli_read(cli *c, cli_read_fn fn, void *ctx)
{
	ht_err err = {0};
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	int rc = fn(c, l, ctx, &err);
	ledger_close(&l);
	if (rc < 0)
		return cli_fail_err(c, &err);
	return rc;
}

/* ---- arguments ---- */

int cli_want_args(cli *c, int argc, char **argv, int n, const char *what)
{
	if (argc - optind == n)
		return 0;
	if (n == 0)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	return cli_usage(c, "expected %s", what);
}

/* Most candidates an ambiguous prefix lists. */
#define CLI_PREFIX_SHOWN 8

/* "id prefix 'P' is ambiguous: ID, ID, ..." with the first candidates. */
static int ambiguous(cli *c, const char *arg,
		     const uint8_t (*ids)[RECORD_ID_BYTES], size_t n)
{
	char list[CLI_PREFIX_SHOWN * (CLI_HEX_ID + 2) + 8] = "";
	char hex[CLI_HEX_ID];
	size_t shown = n < CLI_PREFIX_SHOWN ? n : CLI_PREFIX_SHOWN;
	for (size_t i = 0; i < shown; i++) {
		if (i > 0)
			strcat(list, ", ");
		strcat(list, util_hex(ids[i], RECORD_ID_BYTES, hex));
	}
	if (n > shown)
		strcat(list, ", ...");
	return cli_fail(c, "id prefix '%s' is ambiguous: %s", arg, list);
}

/* Look the prefix up in l: the one id, or CLI_FAIL (printed). */
static int find_prefix(cli *c, ledger *l, const char *arg,
		       uint8_t id[RECORD_ID_BYTES])
{
	uint8_t ids[CLI_PREFIX_SHOWN + 1][RECORD_ID_BYTES];
	size_t n = 0;
	ht_err err = {0};
	if (ledger_find_prefix(l, arg, ids, CLI_PREFIX_SHOWN + 1, &n, &err) !=
	    0)
		return cli_fail_err(c, &err);
	if (n == 0)
		return cli_fail(c, "id prefix '%s' matches no record", arg);
	if (n > 1)
		return ambiguous(c, arg, (const uint8_t(*)[RECORD_ID_BYTES])ids,
				 n);
	memcpy(id, ids[0], RECORD_ID_BYTES);
	return 0;
}

int cli_resolve_id(cli *c, ledger *l, const char *what, const char *arg,
		   uint8_t id[RECORD_ID_BYTES])
{
	size_t len = strlen(arg);
	if (len < LEDGER_PREFIX_MIN || len > LEDGER_PREFIX_MAX ||
	    strspn(arg, "0123456789abcdefABCDEF") != len)
		return cli_usage(c,
				 "%s: must be a record id or a unique prefix "
				 "of it, 8 to 64 hex digits, got '%.80s'",
				 what, arg);
	if (len == LEDGER_PREFIX_MAX)
		return util_unhex(arg, id, RECORD_ID_BYTES) == 0 ? 0
								 : CLI_USAGE;
	if (l != NULL)
		return find_prefix(c, l, arg, id);
	int rc = cli_conf(c);
	if (rc != 0)
		return rc;
	if ((l = cli_ledger(c)) == NULL)
		return CLI_FAIL;
	rc = find_prefix(c, l, arg, id);
	ledger_close(&l);
	return rc;
}

int cli_parse_region(cli *c, const char *what, const char *arg)
{
	if (!util_is_region_code(arg))
		return cli_usage(c, "%s: must be six digits, got '%.20s'", what,
				 arg);
	return 0;
}

/* --since after --until: refused while parsing, before any output (a
 * table header) is written. Open ends never conflict. */
static int check_range(cli *c, int64_t since, int64_t until, bool given)
{
	ht_err err = {0};
	char msg[HT_ERR_MSG_MAX];
	if (!given || audit_check_range(since, until, &err) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s", err.msg);
	return cli_usage(c, "%s", msg);
}

static int parse_time(cli *c, const char *flag, const char *arg, int64_t *ms)
{
	if (util_parse_time(arg, ms) != 0)
		return cli_usage(c, "--%s: not an RFC 3339 time: '%.40s'", flag,
				 arg);
	return 0;
}

static int parse_filter(cli *c, int opt, const char *arg, cli_query *q)
{
	uint64_t v;
	switch (opt) {
	case 'k':
		if ((q->f.kind = record_kind_parse(arg)) < 0)
			return cli_usage(
			    c,
			    "--kind: unknown kind '%s' (intel, "
			    "repatriation, org, correction, genesis)",
			    arg);
		return 0;
	case 'o':
		if (cli_parse_region(c, "--origin", arg) != 0)
			return CLI_USAGE;
		q->f.origin = arg;
		return 0;
	case 'a':
		q->f.author = arg;
		return 0;
	case 's':
	case 'u':
		return parse_time(c, opt == 's' ? "since" : "until", arg,
				  opt == 's' ? &q->f.since_ms : &q->f.until_ms);
	case 'n':
		if (util_parse_u64(arg, 1, INT64_MAX, &v) != 0)
			return cli_usage(
			    c, "--limit: not a positive number: '%s'", arg);
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

int cli_parse_query(cli *c, int argc, char **argv, cli_query *q,
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
	if (check_range(c, q->f.since_ms, q->f.until_ms,
			q->f.since_ms != 0 && q->f.until_ms != 0) != 0)
		return CLI_USAGE;
	return cli_want_args(c, argc, argv, 0, NULL);
}

static int parse_format(cli *c, const char *arg, cli_opts *o)
{
	if (strcmp(arg, "csv") == 0)
		o->out = CLI_OUT_CSV;
	else if (strcmp(arg, "json") == 0)
		o->out = CLI_OUT_JSON;
	else if (strcmp(arg, "text") == 0)
		o->out = CLI_OUT_TEXT;
	else
		return cli_usage(c,
				 "--format: must be text, json or csv, got "
				 "'%.40s'",
				 arg);
	return 0;
}

static const struct option opts_long[] = {
    {"json", no_argument, NULL, 'j'},
    {"format", required_argument, NULL, 'F'},
    {"since", required_argument, NULL, 's'},
    {"until", required_argument, NULL, 'u'},
    {"origin", required_argument, NULL, 'o'},
    {"keep", required_argument, NULL, 'k'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Flags seen so far that are settled only at the end. */
typedef struct opts_seen {
	bool json;
	const char *format;
} opts_seen;

/* One flag of cli_parse_opts: 0 or a usage error (printed). */
static int take_opt(cli *c, int opt, const char *allowed, cli_opts *o,
		    opts_seen *seen)
{
	if (opt == '?')
		return cli_usage(c, "bad option");
	if (strchr("suok", opt) && !strchr(allowed, opt))
		return cli_usage(
		    c, "--%s does not apply here",
		    opts_long[strchr("jFsuokh", opt) - "jFsuokh"].name);
	switch (opt) {
	case 'j':
		seen->json = true;
		break;
	case 'F':
		seen->format = optarg;
		break;
	case 's':
		return parse_time(c, "since", optarg, &o->since);
	case 'u':
		return parse_time(c, "until", optarg, &o->until);
	case 'o':
		o->origin = optarg;
		break;
	case 'k':
		o->keep = optarg;
		break;
	}
	return 0;
}

int cli_parse_opts(cli *c, int argc, char **argv, const char *allowed,
		   const char *help, cli_opts *o)
{
	opts_seen seen = {0};
	int opt;
	*o = (cli_opts){.since = INT64_MIN, .until = INT64_MAX};
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts_long, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s", help);
			return -1;
		}
		int rc = take_opt(c, opt, allowed, o, &seen);
		if (rc != 0)
			return rc;
	}
	if (seen.json && seen.format != NULL &&
	    strcmp(seen.format, "json") != 0)
		return cli_usage(c,
				 "--json and --format %.20s exclude each other",
				 seen.format);
	if (check_range(c, o->since, o->until,
			o->since != INT64_MIN && o->until != INT64_MAX) != 0)
		return CLI_USAGE;
	o->out = seen.json ? CLI_OUT_JSON : CLI_OUT_TEXT;
	if (seen.format != NULL && parse_format(c, seen.format, o) != 0)
		return CLI_USAGE;
	o->args = argv + optind;
	o->n_args = argc - optind;
	return 0;
}

/* ---- hutongd ---- */

int cli_submit(cli *c, Hutong__Submission **items, size_t n,
	       Hutong__ControlReply **reply)
{
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__SubmitRequest sr = HUTONG__SUBMIT_REQUEST__INIT;
	ht_err err = {0};
	int rc = cli_conf(c);
	if (rc != 0)
		return rc;
	sr.items = items;
	sr.n_items = n;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_SUBMIT;
	req.submit = &sr;
	*reply = NULL;
	if (ctl_call(c->cf->control, &req, CTL_TIMEOUT_MS, reply, &err) != 0)
		return cli_fail_err(c, &err);
	return 0;
}

bool cli_put_result(const Hutong__SubmitResult *r)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	if (r->id.len != RECORD_ID_BYTES)
		return false;
	printf("%s\n", util_hex(r->id.data, RECORD_ID_BYTES, hex));
	return true;
}

void cli_reply_free(Hutong__ControlReply **reply)
{
	if (*reply != NULL)
		hutong__control_reply__free_unpacked(*reply, NULL);
	*reply = NULL;
}

/* ---- output ---- */

static const char *scope_name(int scope)
{
	static const char *names[] = {"national", "national", "province",
				      "neighbours", "local"};
	return scope >= 0 && scope <= 4 ? names[scope] : "unknown";
}

json_t *cli_record_json(const record *r, const ledger_meta *meta)
{
	const Hutong__Header *h = record_header(r);
	char hex[2 * RECORD_ID_BYTES + 1];
	json_t *j = json_object();
	json_object_set_new(j, "id", json_string(cli_hex_id(r, hex)));
	json_object_set_new(j, "origin", json_string(h->origin_region));
	json_object_set_new(j, "node", json_string(h->origin_node));
	json_object_set_new(j, "seq", json_integer((json_int_t)h->seq));
	json_object_set_new(
	    j, "prev",
	    h->prev_id.len
		? json_string(util_hex(h->prev_id.data, h->prev_id.len, hex))
		: json_null());
	json_object_set_new(j, "created", cli_time_json(h->created_ms));
	json_object_set_new(j, "author", json_string(h->author));
	if (h->ref != NULL && h->ref[0] != '\0')
		json_object_set_new(j, "ref", json_string(h->ref));
	json_object_set_new(j, "kind", json_string(record_kind_name(h->kind)));
	json_object_set_new(j, "scope", json_string(scope_name(h->scope)));
	json_object_set_new(
	    j, "body_hash",
	    json_string(util_hex(h->body_hash.data, h->body_hash.len, hex)));
	if (meta != NULL) {
		json_object_set_new(j, "stored",
				    cli_time_json(meta->stored_ms));
		json_object_set_new(j, "source", json_string(meta->source));
	}
	const Hutong__Body *b = record_body(r);
	json_object_set_new(j, "body",
			    b ? json_from_message(&b->base, JSON_BYTES_HEX)
			      : json_null());
	return j;
}

const char *cli_hex_id(const record *r, char buf[CLI_HEX_ID])
{
	return util_hex(record_id(r), RECORD_ID_BYTES, buf);
}

void cli_print_json(const json_t *j, bool pretty)
{
	char *s = json_dumps(j, pretty ? JSON_INDENT(2) | JSON_PRESERVE_ORDER
				       : JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

void cli_put_json(json_t *j, bool pretty)
{
	if (j != NULL)
		cli_print_json(j, pretty);
	json_decref(j);
}

const char *cli_time(int64_t ms, char buf[CLI_TIME_MAX])
{
	return util_format_time(ms, buf, CLI_TIME_MAX);
}

const char *cli_region(const char *code, char buf[CLI_REGION_MAX])
{
	if (code != NULL && util_is_region_code(code) && !region_known(code))
		snprintf(buf, CLI_REGION_MAX, "%s (unknown region)", code);
	else
		snprintf(buf, CLI_REGION_MAX, "%s", code ? code : "");
	return buf;
}

static bool names_region(const char *key)
{
	return key != NULL &&
	       (strstr(key, "region") != NULL || strcmp(key, "origin") == 0 ||
		strcmp(key, "suspected_destinations") == 0);
}

/* Walk j; key is the object key j (or the array holding j) sits under. */
static void note_walk(const json_t *j, const char *key, json_t *seen)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v) note_walk(v, k, seen);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) note_walk(v, key, seen);
	} else if (json_is_string(j) && names_region(key)) {
		const char *code = json_string_value(j);
		if (!util_is_region_code(code) || region_known(code) ||
		    json_object_get(seen, code) != NULL)
			return;
		json_object_set_new(seen, code, json_true());
		printf("%-10s region %s is not in the GB/T 2260 table "
		       "(unknown region)\n",
		       "note", code);
	}
}

void cli_note_unknown_regions(const json_t *j)
{
	json_t *seen = json_object();
	if (seen != NULL)
		note_walk(j, NULL, seen);
	json_decref(seen);
}

json_t *cli_time_json(int64_t ms)
{
	char t[CLI_TIME_MAX];
	return json_string(cli_time(ms, t));
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

void cli_csv_row(const char *const *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		csv_field(fields[i] ? fields[i] : "");
	}
	printf("\r\n");
}
