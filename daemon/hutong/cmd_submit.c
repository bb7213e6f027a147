/*
 * cmd_submit: records from flags or from JSON.
 *
 * Flags are table-driven: each names the JSON path it fills in the proto3
 * JSON form of a Submission, so a record given as flags and one given as JSON
 * go through the same conversion (json_to_message) and the same checks
 * (record_check_submission) before the daemon signs them. Bulk JSON (one
 * object per line) is sent in batches; bad lines are reported with their
 * line number and reason and the others are stored.
 */
#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "pki.h"
#include "util.h"

#define SUBMIT_BATCH 500
#define SUBMIT_MAX_LINE (1024 * 1024)

typedef enum ftype {
	F_STR,	  /* string */
	F_STRS,	  /* repeated string */
	F_ENUM,	  /* enum: value -> PREFIX_VALUE */
	F_UINT,	  /* uint32 */
	F_TIME,	  /* RFC 3339 -> int64 ms (as a string) */
	F_BOOL,	  /* flag without argument -> true */
	F_PEOPLE, /* NAME[:ROLE[:ID_NUMBER[:PHONE[:DOC]]]] -> repeated Person */
	F_PLACES, /* REGION[:ADDRESS] -> repeated Place */
	F_IDS,	  /* hex ids -> repeated bytes */
	F_ID,	  /* hex id -> bytes */
	F_BODY,	  /* FILE with a Body in JSON -> message */
} ftype;

typedef struct flagdef {
	const char
	    *kind; /* intel, repatriation, org, correction, or NULL = all */
	const char *flag; /* without "--" */
	const char *key;  /* JSON key in the body content (or top level) */
	ftype type;
	const char *prefix; /* enum name prefix */
	const char *help;
} flagdef;

static const flagdef flags[] = {
    {NULL, "author", "author", F_STR, NULL, "officer id (required)"},
    {NULL, "scope", "scope", F_ENUM, "SCOPE_",
     "national|province|neighbours|local (default national)"},
    {NULL, "ref", "ref", F_STR, NULL,
     "client reference: stored once per author"},
    {"intel", "summary", "summary", F_STR, NULL, "what is known (required)"},
    {"intel", "org", "organization", F_STR, NULL, "organization name"},
    {"intel", "alias", "aliases", F_STRS, NULL, "other name (repeatable)"},
    {"intel", "person", "people", F_PEOPLE, NULL,
     "NAME[:ROLE[:ID_NUMBER[:PHONE[:DOC]]]], ROLE "
     "organizer|backbone|participant, "
     "DOC resident-id (default)|passport|hk-macao-permit|taiwan-permit|other"},
    {"intel", "place", "places", F_PLACES, NULL, "REGION[:ADDRESS]"},
    {"intel", "mode", "mode", F_ENUM, "MODE_", "gathering|online"},
    {"intel", "source", "source", F_STR, NULL, "where it came from"},
    {"intel", "reliability", "reliability", F_ENUM, "RELIABILITY_",
     "source reliability a|b|c|x"},
    {"intel", "accuracy", "accuracy", F_UINT, NULL, "information accuracy 1-4"},
    {"intel", "handling", "handling", F_ENUM, "HANDLING_", "h0|h1|h2|h3"},
    {"intel", "related", "related", F_IDS, NULL, "related record id"},
    {"repatriation", "case", "caseId", F_STR, NULL, "case id (required)"},
    {"repatriation", "step", "step", F_ENUM, "STEP_",
     "request|accept|reject|depart|hand-over|receive|cancel"},
    {"repatriation", "person", "people", F_PEOPLE, NULL,
     "NAME[:ROLE[:ID_NUMBER[:PHONE[:DOC]]]] (repeatable)"},
    {"repatriation", "from", "fromRegion", F_STR, NULL,
     "region code where the people were found"},
    {"repatriation", "to", "toRegion", F_STR, NULL, "home region code"},
    {"repatriation", "time", "timeMs", F_TIME, NULL, "when (RFC 3339)"},
    {"repatriation", "escort", "escort", F_STR, NULL, "escorting officers"},
    {"repatriation", "notes", "notes", F_STR, NULL, "free text"},
    {"org", "org-id", "orgId", F_STR, NULL, "organization id (required)"},
    {"org", "name", "name", F_STR, NULL, "organization name (required)"},
    {"org", "alias", "aliases", F_STRS, NULL, "other name (repeatable)"},
    {"org", "leader", "leaders", F_PEOPLE, NULL, "NAME[:ROLE[:ID[:PHONE]]]"},
    {"org", "members", "estimatedMembers", F_UINT, NULL, "estimated members"},
    {"org", "seen-region", "lastSeenRegion", F_STR, NULL,
     "region code last seen in"},
    {"org", "seen-time", "lastSeenMs", F_TIME, NULL, "when last seen"},
    {"org", "destination", "suspectedDestinations", F_STRS, NULL,
     "suspected destination region (repeatable)"},
    {"org", "level", "level", F_ENUM, "ALERT_LEVEL_",
     "low|medium|high|critical"},
    {"org", "sighting", "sighting", F_BOOL, NULL,
     "a sighting rather than an alert"},
    {"correction", "target", "target", F_ID, NULL,
     "id of the record corrected (required)"},
    {"correction", "reason", "reason", F_STR, NULL, "why (required)"},
    {"correction", "retract", "retract", F_BOOL, NULL, "withdraw the target"},
    {"correction", "replacement", "replacement", F_BODY, NULL,
     "FILE: the amended Body as JSON"},
};

#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

static const struct {
	const char *kind;
	const char *content; /* the Body oneof member, JSON name */
} kinds[] = {
    {"intel", "intelligence"},
    {"repatriation", "repatriation"},
    {"org", "fleeingOrganization"},
    {"correction", "correction"},
};

static const char *content_key(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return kinds[i].content;
	return NULL;
}

static void submit_help(void)
{
	printf("usage: hutong -d NODEDIR submit KIND --author ID [flags]\n"
	       "       hutong -d NODEDIR submit --json FILE|- [--lines]\n"
	       "       hutong -d NODEDIR submit revocation [--author ID] "
	       "CRLFILE\n\n"
	       "Signs and stores records through hutongd; prints each new "
	       "record id.\nKIND is intel, repatriation, org or correction.\n\n"
	       "--json reads the proto3 JSON form of hutong.Submission (see "
	       "proto/hutong.proto):\none object, or one object per line for a "
	       "bulk import. Bad lines are reported\n(line number and reason) "
	       "and the others stored; the exit status is 1 if any\nline was "
	       "refused. --lines prints 'N ID' (N the input line) for each "
	       "stored\nline instead of the bare id.\n\n"
	       "A submission's ref (--ref R, or \"ref\" in JSON) is stored "
	       "once per author: a\nrepeat prints the stored record's id and "
	       "'already stored as ID (ref R)', exit 0.\nIds (--target, "
	       "--related) may be unique prefixes of 8+ hex digits.\n\n"
	       "Flags:\n");
	for (size_t i = 0; i < N_FLAGS; i++)
		printf("  %-13s --%-12s %s\n",
		       flags[i].kind ? flags[i].kind : "(all)", flags[i].flag,
		       flags[i].help);
}

/* "hand-over" with prefix STEP_ -> "STEP_HAND_OVER". */
static void enum_name(const char *prefix, const char *v, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "%s", prefix);
	for (; *v && n + 1 < len; v++)
		out[n++] = *v == '-' ? '_' : (char)toupper((unsigned char)*v);
	out[n] = '\0';
}

/* Split "a:b:c" into at most max parts (the last keeps further ':'). */
static size_t split(char *s, char **parts, size_t max)
{
	size_t n = 0;
	parts[n++] = s;
	for (char *p = s; *p && n < max; p++)
		if (*p == ':') {
			*p = '\0';
			parts[n++] = p + 1;
		}
	return n;
}

/* NAME[:ROLE[:ID_NUMBER[:PHONE[:DOCUMENT]]]]; DOCUMENT is resident-id
 * (the default), passport, hk-macao-permit, taiwan-permit or other. */
static json_t *person_json(const char *arg)
{
	char *buf = strdup(arg), *p[5], name[64];
	if (buf == NULL)
		return NULL;
	size_t n = split(buf, p, 5);
	json_t *j = json_pack("{s:s}", "name", p[0]);
	static const struct {
		const char *key, *prefix;
	} at[5] = {{NULL, NULL},
		   {"role", "ROLE_"},
		   {"idNumber", NULL},
		   {"phone", NULL},
		   {"documentType", "DOCUMENT_TYPE_"}};
	for (size_t i = 1; j != NULL && i < n; i++) {
		if (p[i][0] == '\0')
			continue;
		if (at[i].prefix != NULL)
			enum_name(at[i].prefix, p[i], name, sizeof(name));
		json_object_set_new(j, at[i].key,
				    json_string(at[i].prefix ? name : p[i]));
	}
	free(buf);
	return j;
}

static json_t *place_json(const char *arg)
{
	char buf[1024], *p[2];
	snprintf(buf, sizeof(buf), "%s", arg);
	size_t n = split(buf, p, 2);
	json_t *j = json_pack("{s:s}", "region", p[0]);
	if (n > 1)
		json_object_set_new(j, "address", json_string(p[1]));
	return j;
}

/* Append v to the array at obj[key], creating it. */
static void push(json_t *obj, const char *key, json_t *v)
{
	json_t *a = json_object_get(obj, key);
	if (a == NULL) {
		a = json_array();
		json_object_set_new(obj, key, a);
	}
	json_array_append_new(a, v);
}

static int check_enum(cli *c, const flagdef *f, const char *name)
{
	static const ProtobufCEnumDescriptor *descs[] = {
	    &hutong__scope__descriptor,	      &hutong__mode__descriptor,
	    &hutong__reliability__descriptor, &hutong__handling__descriptor,
	    &hutong__step__descriptor,	      &hutong__alert_level__descriptor};
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		const ProtobufCEnumDescriptor *d = descs[i];
		if (strncmp(d->values[1 < d->n_values ? 1 : 0].name, f->prefix,
			    strlen(f->prefix)) != 0)
			continue;
		if (protobuf_c_enum_descriptor_get_value_by_name(d, name) &&
		    !strstr(name, "UNSPECIFIED"))
			return 0;
		char list[256] = "";
		for (unsigned k = 0; k < d->n_values; k++) {
			const char *v = d->values[k].name + strlen(f->prefix);
			if (strcmp(v, "UNSPECIFIED") == 0)
				continue;
			size_t at = strlen(list);
			for (; *v && at + 3 < sizeof(list); v++)
				list[at++] =
				    *v == '_' ? '-' : (char)tolower(*v);
			list[at++] = ' ';
			list[at] = '\0';
		}
		return cli_usage(c, "--%s: unknown value; one of: %s", f->flag,
				 list);
	}
	return 0;
}

static int put_enum(cli *c, const flagdef *f, const char *arg, json_t *dst)
{
	char name[128];
	enum_name(f->prefix, arg, name, sizeof(name));
	if (check_enum(c, f, name) != 0)
		return CLI_USAGE;
	json_object_set_new(dst, f->key, json_string(name));
	return 0;
}

static int put_uint(cli *c, const flagdef *f, const char *arg, json_t *dst)
{
	uint64_t u;
	if (util_parse_u64(arg, 0, UINT32_MAX, &u) != 0)
		return cli_usage(c, "--%s: not a number: '%s'", f->flag, arg);
	json_object_set_new(dst, f->key, json_integer((json_int_t)u));
	return 0;
}

/* A time goes into the JSON as its ms count in a string (int64). */
static int put_time(cli *c, const flagdef *f, const char *arg, json_t *dst)
{
	char text[32];
	int64_t ms;
	if (util_parse_time(arg, &ms) != 0)
		return cli_usage(c, "--%s: not an RFC 3339 time: '%s'", f->flag,
				 arg);
	snprintf(text, sizeof(text), "%lld", (long long)ms);
	json_object_set_new(dst, f->key, json_string(text));
	return 0;
}

static int put_id(cli *c, const flagdef *f, const char *arg, json_t *dst)
{
	uint8_t id[RECORD_ID_BYTES];
	char what[40], hex[CLI_HEX_ID];
	snprintf(what, sizeof(what), "--%s", f->flag);
	int rc = cli_resolve_id(c, NULL, what, arg, id);
	if (rc != 0)
		return rc;
	util_hex(id, RECORD_ID_BYTES, hex);
	if (f->type == F_IDS)
		push(dst, f->key, json_string(hex));
	else
		json_object_set_new(dst, f->key, json_string(hex));
	return 0;
}

static int put_body(cli *c, const flagdef *f, const char *arg, json_t *dst)
{
	json_error_t je;
	json_t *b = json_load_file(arg, JSON_REJECT_DUPLICATES, &je);
	if (b == NULL)
		return cli_fail(c, "--%s: %s: line %d: %s", f->flag, arg,
				je.line, je.text);
	json_object_set_new(dst, f->key, b);
	return 0;
}

/* Put one flag's value into the submission JSON. */
static int apply_flag(cli *c, const flagdef *f, const char *arg, json_t *top,
		      json_t *content)
{
	json_t *dst = f->kind ? content : top;
	if (arg != NULL && !util_is_text(arg, strlen(arg)))
		return cli_usage(c, "--%s: not valid UTF-8 text", f->flag);
	switch (f->type) {
	case F_STR:
		json_object_set_new(dst, f->key, json_string(arg));
		break;
	case F_STRS:
		push(dst, f->key, json_string(arg));
		break;
	case F_BOOL:
		json_object_set_new(dst, f->key, json_true());
		break;
	case F_ENUM:
		return put_enum(c, f, arg, dst);
	case F_UINT:
		return put_uint(c, f, arg, dst);
	case F_TIME:
		return put_time(c, f, arg, dst);
	case F_PEOPLE:
		push(dst, f->key, person_json(arg));
		break;
	case F_PLACES:
		push(dst, f->key, place_json(arg));
		break;
	case F_IDS:
	case F_ID:
		return put_id(c, f, arg, dst);
	case F_BODY:
		return put_body(c, f, arg, dst);
	}
	return 0;
}

/* ---- sending to the daemon ---- */

typedef struct batch {
	Hutong__Submission *items[SUBMIT_BATCH];
	long lines[SUBMIT_BATCH];
	size_t n;
	long stored, refused, existing;
	bool put_lines; /* --lines: "N ID" on stdout */
} batch;

static void batch_clear(batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		protobuf_c_message_free_unpacked(&b->items[i]->base, NULL);
	b->n = 0;
}

/* A stored (or already stored) record: its id, after its line number
 * with --lines; a repeated ref says which record it already is. */
/* Stored, with what deserves a word: region codes that the GB/T 2260 table
 * does not know (it changes over time, so they are not refused). */
static void put_warnings(const batch *b, size_t i, bool bulk)
{
	record_warnings w;
	char at[32] = "";
	if (record_warnings_of(b->items[i]->body, &w) == 0)
		return;
	if (bulk)
		snprintf(at, sizeof(at), "line %ld: ", b->lines[i]);
	for (size_t k = 0; k < w.n; k++)
		fprintf(stderr, "hutong submit: %swarning: %s\n", at, w.msg[k]);
	if (w.total > w.n)
		fprintf(stderr, "hutong submit: %swarning: %zu more\n", at,
			w.total - w.n);
}

static void put_stored(batch *b, size_t i, const Hutong__SubmitResult *r,
		       bool bulk)
{
	char hex[CLI_HEX_ID], at[32] = "";
	util_hex(r->id.data, RECORD_ID_BYTES, hex);
	if (b->put_lines)
		printf("%ld %s\n", b->lines[i], hex);
	else
		printf("%s\n", hex);
	if (!r->existing) {
		b->stored++;
		put_warnings(b, i, bulk);
		return;
	}
	b->existing++;
	if (bulk)
		snprintf(at, sizeof(at), "line %ld: ", b->lines[i]);
	fprintf(stderr, "hutong submit: %salready stored as %s (ref %s)\n", at,
		hex, b->items[i]->ref);
}

static void report_result(batch *b, size_t i, const Hutong__SubmitResult *r,
			  bool bulk)
{
	if (r->id.len == RECORD_ID_BYTES) {
		put_stored(b, i, r, bulk);
		return;
	}
	b->refused++;
	if (bulk)
		fprintf(stderr, "hutong submit: line %ld: %s\n", b->lines[i],
			r->error);
	else
		fprintf(stderr, "hutong submit: %s\n", r->error);
}

static int batch_send(cli *c, batch *b, bool bulk)
{
	if (b->n == 0)
		return 0;
	Hutong__ControlReply *rep = NULL;
	int rc = cli_submit(c, b->items, b->n, &rep);
	if (rc == 0 && rep->code != 0)
		rc = cli_fail(c, "nothing of this batch was stored: %s",
			      rep->error ? rep->error : "error");
	for (size_t i = 0; rc == 0 && i < rep->n_results && i < b->n; i++)
		report_result(b, i, rep->results[i], bulk);
	if (rc != 0)
		b->refused += (long)b->n;
	cli_reply_free(&rep);
	batch_clear(b);
	fflush(stdout);
	return rc == 0 ? 0 : CLI_FAIL;
}

/* Does the proto field name (case_id, summary; "[i]" ignored) name the
 * JSON key (caseId, summary)? */
static bool same_name(const char *field, const char *key)
{
	for (;; field++, key++) {
		if (*field == '_')
			field++;
		if (*field == '[' || *field == '\0')
			return *key == '\0';
		if (tolower((unsigned char)*field) !=
		    tolower((unsigned char)*key))
			return false;
	}
}

/* A submission made from flags: name the flag in err ("--author"), not
 * the field ("author"), when one flag of kind sets the field. */
static void name_flag(const char *kind, ht_err *err)
{
	const char *last = strrchr(err->field, '.');
	size_t dots = 0;
	for (const char *p = err->field; *p; p++)
		dots += *p == '.';
	for (size_t i = 0; i < N_FLAGS; i++) {
		const flagdef *f = &flags[i];
		bool top = f->kind == NULL;
		if (!top && strcmp(f->kind, kind) != 0)
			continue;
		if (dots != (top ? 0u : 2u) ||
		    !same_name(top ? err->field : last + 1, f->key))
			continue;
		snprintf(err->field, sizeof(err->field), "--%s", f->flag);
		return;
	}
}

/* JSON object -> checked Submission added to the batch. kind: the KIND
 * whose flags made o (errors then name the flag), NULL for JSON input. */
static int add_json(cli *c, batch *b, const json_t *o, long line, bool bulk,
		    const char *kind)
{
	ht_err err = {0};
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	Hutong__Submission *s = (Hutong__Submission *)json_to_message(
	    o, &hutong__submission__descriptor, &err);
	if (s != NULL && record_check_submission(s, &err) != 0) {
		protobuf_c_message_free_unpacked(&s->base, NULL);
		s = NULL;
	}
	if (s == NULL && kind != NULL)
		name_flag(kind, &err);
	if (s == NULL) {
		b->refused++;
		if (bulk)
			fprintf(stderr, "hutong submit: line %ld: %s\n", line,
				ht_err_str(&err, msg, sizeof(msg)));
		else
			cli_fail_err(c, &err);
		return 0;
	}
	b->items[b->n] = s;
	b->lines[b->n++] = line;
	return b->n == SUBMIT_BATCH ? batch_send(c, b, bulk) : 0;
}

/* ---- submit KIND --flags ---- */

/* The getopt table of KIND's flags and --help: defs[i] is option
 * 1000 + i. */
static void kind_opts(const char *kind, struct option *opts,
		      const flagdef **defs)
{
	size_t n = 0;
	for (size_t i = 0; i < N_FLAGS; i++) {
		if (flags[i].kind && strcmp(flags[i].kind, kind) != 0)
			continue;
		defs[n] = &flags[i];
		opts[n] = (struct option){
		    flags[i].flag,
		    flags[i].type == F_BOOL ? no_argument : required_argument,
		    NULL, 1000 + (int)n};
		n++;
	}
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[n] = (struct option){NULL, 0, NULL, 0};
}

/* KIND's flags into the submission JSON (content is inside top). 0, -1
 * after printing help, or a CLI_* code (printed). */
static int parse_kind(cli *c, const char *kind, int argc, char **argv,
		      json_t *top, json_t *content)
{
	struct option opts[N_FLAGS + 2];
	const flagdef *defs[N_FLAGS];
	int opt, rc = 0;
	kind_opts(kind, opts, defs);
	while (rc == 0 &&
	       (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			submit_help();
			return -1;
		}
		rc = opt >= 1000
			 ? apply_flag(c, defs[opt - 1000], optarg, top, content)
			 : cli_usage(c, "bad option for '%s'", kind);
	}
	return rc != 0 ? rc : cli_want_args(c, argc, argv, 0, NULL);
}

static int submit_flags(cli *c, const char *kind, int argc, char **argv)
{
	json_t *top = json_object(), *content = json_object();
	json_object_set_new(top, "body",
			    json_pack("{s:o}", content_key(kind), content));
	int rc = parse_kind(c, kind, argc, argv, top, content);
	batch b = {0};
	if (rc == 0 && cli_conf(c) == 0 &&
	    add_json(c, &b, top, 0, false, kind) == 0)
		rc = batch_send(c, &b, false);
	else if (rc == 0)
		rc = CLI_FAIL;
	json_decref(top);
	if (rc < 0)
		return CLI_OK;
	return rc != 0 ? rc : b.refused ? CLI_FAIL : CLI_OK;
}

/* ---- submit --json FILE ---- */

#define SUBMIT_MAX_INPUT ((size_t)1 << 30)

/* Read all of f (at most SUBMIT_MAX_INPUT) into a NUL-terminated buffer. */
static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	size_t got;
	while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap && cap < SUBMIT_MAX_INPUT) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL)
				free(buf);
			buf = nb;
			cap *= 2;
		} else if (n == cap) {
			free(buf);
			return NULL;
		}
	}
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static void progress(const batch *b, bool tty)
{
	if (tty)
		fprintf(stderr, "\rstored %ld, refused %ld", b->stored,
			b->refused);
}

/* One non-blank line of a bulk import: a bad one is reported and
 * counted, a good one joins the batch. */
static int submit_line(cli *c, batch *b, const char *line, size_t len, long no)
{
	json_error_t je;
	json_t *o = len > SUBMIT_MAX_LINE
			? NULL
			: json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	int rc = 0;
	if (o == NULL || !json_is_object(o)) {
		fprintf(stderr, "hutong submit: line %ld: %s\n", no,
			len > SUBMIT_MAX_LINE ? "line too long"
			: o		      ? "not a JSON object"
					      : je.text);
		b->refused++;
	} else {
		rc = add_json(c, b, o, no, true, NULL);
	}
	json_decref(o);
	return rc;
}

/* One JSON object per line; blank lines skipped. */
static int submit_lines(cli *c, char *text, bool tty, bool put_lines)
{
	batch b = {.put_lines = put_lines};
	long no = 0;
	int rc = 0;
	for (char *line = text, *next; rc == 0 && line != NULL; line = next) {
		next = strchr(line, '\n');
		size_t len = next ? (size_t)(next - line) : strlen(line);
		if (next)
			next++;
		no++;
		if (strspn(line, " \t\r") >= len)
			continue;
		rc = submit_line(c, &b, line, len, no);
		if (no % 1000 == 0)
			progress(&b, tty);
	}
	if (rc == 0)
		rc = batch_send(c, &b, true);
	progress(&b, tty);
	if (tty)
		fputc('\n', stderr);
	if (b.existing > 0)
		fprintf(stderr,
			"hutong submit: stored %ld, refused %ld, already "
			"stored %ld\n",
			b.stored, b.refused, b.existing);
	else
		fprintf(stderr, "hutong submit: stored %ld, refused %ld\n",
			b.stored, b.refused);
	batch_clear(&b);
	return rc != 0 ? rc : b.refused ? CLI_FAIL : CLI_OK;
}

/* A document holding one (possibly multi-line) object, else JSON lines. */
static int submit_json(cli *c, const char *path, bool put_lines)
{
	int rc = cli_conf(c);
	if (rc != 0)
		return rc;
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL)
		return cli_fail(c, "--json: cannot open %s", path);
	size_t len = 0;
	char *text = read_all(f, &len);
	if (f != stdin)
		fclose(f);
	if (text == NULL)
		return cli_fail(
		    c, "--json: %s: cannot read (larger than 1 GiB?)", path);
	json_t *whole = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (strspn(text, " \t\r\n") == len) {
		rc = cli_fail(c, "--json: %s holds no JSON", path);
	} else if (whole != NULL && json_is_object(whole)) {
		batch b = {.put_lines = put_lines};
		rc = add_json(c, &b, whole, 1, false, NULL);
		if (rc == 0)
			rc = batch_send(c, &b, false);
		rc = rc ? rc : b.refused ? CLI_FAIL : CLI_OK;
	} else {
		rc = submit_lines(c, text, isatty(STDERR_FILENO), put_lines);
	}
	json_decref(whole);
	free(text);
	return rc;
}

/* ---- submit revocation FILE ---- */

static const char revocation_help[] =
    "usage: hutong -d NODEDIR submit revocation "
    "[--author ID] CRLFILE\n\nRelays a CA's CRL (PEM "
    "or DER, e.g. CADIR/crl.pem after 'hutong ca\n"
    "revoke') through the ledger: every node that "
    "stores it refuses records of\nthe revoked "
    "certificates created at or after their "
    "revocation dates.\nOnly a CRL signed by a CA of "
    "the trust bundle is accepted.\n";

/* 0 with argv[optind] the CRL file, -1 after printing help, or a CLI_*
 * code (printed). */
static int parse_revocation(cli *c, int argc, char **argv, const char **author)
{
	static const struct option opts[] = {
	    {"author", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s", revocation_help);
			return -1;
		}
		if (opt != 'a')
			return cli_usage(c, "bad option");
		*author = optarg;
	}
	if (cli_want_args(c, argc, argv, 1, "one CRL FILE") != 0)
		return CLI_USAGE;
	return cli_conf(c) != 0 ? CLI_FAIL : 0;
}

/* Send sub as a batch of one: a copy (packed and unpacked again) that the
 * batch owns and frees. */
static int send_copy(cli *c, const Hutong__Submission *sub)
{
	size_t len = hutong__submission__get_packed_size(sub);
	uint8_t *buf = malloc(len);
	batch b = {0};
	if (buf != NULL) {
		hutong__submission__pack(sub, buf);
		b.items[0] = hutong__submission__unpack(NULL, len, buf);
		b.n = b.items[0] ? 1 : 0;
	}
	free(buf);
	int rc = b.n ? batch_send(c, &b, false) : cli_fail(c, "out of memory");
	return rc == 0 && b.refused ? CLI_FAIL : rc;
}

static int submit_revocation(cli *c, int argc, char **argv)
{
	const char *author = "ca";
	int rc = parse_revocation(c, argc, argv, &author);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	ht_err err = {0};
	Hutong__Revocation rev = HUTONG__REVOCATION__INIT;
	if (pki_crl_read_der(argv[optind], &rev.crl.data, &rev.crl.len, &err))
		return cli_fail_err(c, &err);
	Hutong__Body body = HUTONG__BODY__INIT;
	body.content_case = HUTONG__BODY__CONTENT_REVOCATION;
	body.revocation = &rev;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	sub.author = (char *)author;
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	rc = record_check_submission(&sub, &err) ? cli_fail_err(c, &err)
						 : send_copy(c, &sub);
	free(rev.crl.data);
	return rc;
}

/* submit --json FILE [--lines] (either order, or --json=FILE). */
static int json_args(cli *c, int argc, char **argv)
{
	const char *path = NULL;
	bool put_lines = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--lines") == 0 && !put_lines)
			put_lines = true;
		else if (strcmp(argv[i], "--json") == 0 && !path &&
			 i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--json=", 7) == 0 && !path)
			path = argv[i] + 7;
		else
			return cli_usage(c,
					 "expected --json FILE (or - for "
					 "standard input) [--lines], got "
					 "'%.40s'",
					 argv[i]);
	}
	if (path == NULL)
		return cli_usage(c, "--lines goes with --json FILE");
	return submit_json(c, path, put_lines);
}

int cmd_submit(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(c, "expected a KIND or --json FILE");
	const char *a = argv[1];
	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
		submit_help();
		return CLI_OK;
	}
	if (strncmp(a, "--json", 6) == 0 || strcmp(a, "--lines") == 0)
		return json_args(c, argc, argv);
	if (strcmp(a, "revocation") == 0)
		return submit_revocation(c, argc - 1, argv + 1);
	if (content_key(a) == NULL)
		return cli_usage(c,
				 "unknown kind '%s' (intel, repatriation, org, "
				 "correction, revocation)",
				 a);
	return submit_flags(c, a, argc - 1, argv + 1);
}
