/*
 * cmd_view: the reconciled views on the command line: repatriation cases
 * (case list|show), fleeing organizations (org list|show|link), the alerts
 * concerning this node's region (alerts), leads with their corrections
 * (intel list|show) and the view digests (views). Every command but
 * `org link` reads the ledger read-only, so it works with or without the
 * daemon; each has --json (one object per line for lists). The folds are
 * the view module's; this file only parses flags and prints.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "ctl.h"
#include "util.h"
#include "view.h"

#define HEX_ID (2 * RECORD_ID_BYTES + 1)

/* ---- shared helpers ---- */

typedef struct sub_cmd {
	const char *name;
	int (*fn)(cli *c, int argc, char **argv);
	const char *usage;
} sub_cmd;

/* Flags common to the view commands: --json and --help. */
typedef struct vopts {
	bool json;
	const char *state, *region, *overdue;          /* case list */
	const char *org, *person, *idno, *phone;       /* intel list */
	const char *author, *reason;                   /* org link */
} vopts;

static const struct option view_opts[] = {
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{"state", required_argument, NULL, 's'},
	{"region", required_argument, NULL, 'r'},
	{"overdue", required_argument, NULL, 'o'},
	{"org", required_argument, NULL, 'g'},
	{"person", required_argument, NULL, 'p'},
	{"idno", required_argument, NULL, 'i'},
	{"phone", required_argument, NULL, 'f'},
	{"author", required_argument, NULL, 'a'},
	{"reason", required_argument, NULL, 'R'},
	{NULL, 0, NULL, 0}};

/* Parse flags; `allowed` lists the short codes this command takes. Returns
 * 0, -1 after printing help, or a CLI_* code. */
static int parse_opts(cli *c, int argc, char **argv, const char *allowed,
		      const char *help, vopts *o)
{
	int opt;
	const char **dst[128] = {0};
	dst['s'] = &o->state;
	dst['r'] = &o->region;
	dst['o'] = &o->overdue;
	dst['g'] = &o->org;
	dst['p'] = &o->person;
	dst['i'] = &o->idno;
	dst['f'] = &o->phone;
	dst['a'] = &o->author;
	dst['R'] = &o->reason;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", view_opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s", help);
			return -1;
		}
		if (opt == '?' || (opt != 'j' && !strchr(allowed, opt)))
			return cli_usage(c, "bad option for '%s'", argv[0]);
		if (opt == 'j')
			o->json = true;
		else
			*dst[opt] = optarg;
	}
	return 0;
}

static char *hex_id(const record *r, char out[HEX_ID])
{
	return util_hex(record_id(r), RECORD_ID_BYTES, out);
}

static const char *fmt_time(int64_t ms, char *buf, size_t len)
{
	return ms ? util_format_time(ms, buf, len) : "-";
}

/* "3d 4h", "2h 5m", "45s". */
static const char *fmt_dur(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%lldm %llds", (long long)(s / 60),
			 (long long)(s % 60));
	else
		snprintf(buf, len, "%llds", (long long)s);
	return buf;
}

static int64_t now_ms(void)
{
	const ht_clock *ck = util_clock_system();
	return ck->now_ms(ck->ctx);
}

static json_t *jtime(int64_t ms)
{
	char t[40];
	return ms ? json_string(util_format_time(ms, t, sizeof(t))) : json_null();
}

static json_t *jid(const record *r)
{
	char hex[HEX_ID];
	return r ? json_string(hex_id(r, hex)) : json_null();
}

/* Who signed a record, when: the keys every view object shares. */
static void put_origin(json_t *j, const record *r)
{
	const Hutong__Header *h = record_header(r);
	json_object_set_new(j, "id", jid(r));
	json_object_set_new(j, "origin", json_string(h->origin_region));
	json_object_set_new(j, "node", json_string(h->origin_node));
	json_object_set_new(j, "seq", json_integer((json_int_t)h->seq));
	json_object_set_new(j, "created", jtime(h->created_ms));
	json_object_set_new(j, "author", json_string(h->author));
}

static json_t *fixes_json(const view_version *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->n_fixes; i++) {
		const view_fix *f = &v->fixes[i];
		json_t *j = json_object();
		put_origin(j, f->rec);
		json_object_set_new(j, "retract", json_boolean(f->retract));
		json_object_set_new(j, "reason", json_string(
			record_body(f->rec)->correction->reason));
		json_object_set_new(j, "applied", json_boolean(f->applied));
		if (!f->applied)
			json_object_set_new(j, "not_applied", json_string(f->reason));
		json_array_append_new(a, j);
	}
	return a;
}

static void put_version(json_t *j, const view_version *v)
{
	put_origin(j, v->rec);
	json_object_set_new(j, "retracted", json_boolean(v->retracted));
	json_object_set_new(j, "amended_by", jid(v->amended_by));
	json_object_set_new(j, "corrections", fixes_json(v));
}

static json_t *msg_json(const void *m)
{
	return m ? json_from_message(m, JSON_BYTES_HEX) : json_null();
}

static json_t *people_json(const Hutong__Person *const *p, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, msg_json(&p[i]->base));
	return a;
}

static void print_people(const char *label, const Hutong__Person *const *p,
			 size_t n)
{
	printf("%-10s", label);
	if (n == 0)
		printf(" -");
	for (size_t i = 0; i < n; i++)
		printf("%s %s%s%s%s%s", i ? "," : "", p[i]->name,
		       p[i]->id_number[0] ? " " : "", p[i]->id_number,
		       p[i]->phone[0] ? " " : "", p[i]->phone);
	printf("\n");
}

static void print_fixes(const view_version *v, const char *indent)
{
	char hex[HEX_ID], t[40];
	for (size_t i = 0; i < v->n_fixes; i++) {
		const view_fix *f = &v->fixes[i];
		printf("%s%s %.16s %s %s: %s%s%s\n", indent,
		       f->retract ? "retraction" : "amendment",
		       hex_id(f->rec, hex),
		       fmt_time(record_header(f->rec)->created_ms, t, sizeof(t)),
		       record_header(f->rec)->origin_region,
		       record_body(f->rec)->correction->reason,
		       f->applied ? "" : "  NOT APPLIED: ",
		       f->applied ? "" : f->reason);
	}
}

static int run_sub(cli *c, const sub_cmd *subs, size_t n, const char *group,
		   int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage:\n");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "  hutong -d NODEDIR %s\n", subs[i].usage);
		fprintf(f, "\n'hutong %s SUBCOMMAND --help' says more.\n", group);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(subs[i].name, argv[1]) == 0)
			return subs[i].fn(c, argc - 1, argv + 1);
	return cli_usage(c, "unknown subcommand '%s'", argv[1]);
}

/* ---- case ---- */

static json_t *step_json(const view_step *s)
{
	json_t *j = json_object();
	const Hutong__Repatriation *b = s->body;
	json_object_set_new(j, "step", json_string(view_step_name(b->step)));
	put_version(j, &s->v);
	json_object_set_new(j, "time", jtime(b->time_ms));
	json_object_set_new(j, "from", json_string(b->from_region));
	json_object_set_new(j, "to", json_string(b->to_region));
	json_object_set_new(j, "people", people_json(
		(const Hutong__Person *const *)b->people, b->n_people));
	json_object_set_new(j, "escort", json_string(b->escort));
	json_object_set_new(j, "notes", json_string(b->notes));
	json_object_set_new(j, "applied", json_boolean(s->applied));
	json_object_set_new(j, "not_applied", s->applied ? json_null()
							 : json_string(s->reason));
	json_object_set_new(j, "state", json_string(view_state_name(s->state)));
	return j;
}

static json_t *case_json(const view_case *k, bool full, int64_t now)
{
	char allowed[VIEW_REASON_MAX];
	json_t *j = json_object();
	json_object_set_new(j, "case", json_string(k->id));
	json_object_set_new(j, "state", json_string(view_state_name(k->state)));
	json_object_set_new(j, "from", json_string(k->from));
	json_object_set_new(j, "to", json_string(k->to));
	json_object_set_new(j, "opened", jtime(k->opened_ms));
	json_object_set_new(j, "since", jtime(k->since_ms));
	json_object_set_new(j, "in_state_ms", k->since_ms
		? json_integer(now - k->since_ms) : json_null());
	json_object_set_new(j, "allowed", json_string(
		view_case_allowed(k, allowed, sizeof(allowed))));
	json_object_set_new(j, "people", json_integer((json_int_t)k->n_people));
	json_object_set_new(j, "steps", json_integer((json_int_t)k->n_steps));
	if (!full)
		return j;
	json_object_set_new(j, "people", people_json(k->people, k->n_people));
	json_t *steps = json_array(), *stays = json_array();
	for (size_t i = 0; i < k->n_steps; i++)
		json_array_append_new(steps, step_json(&k->steps[i]));
	for (size_t i = 0; i < k->n_stays; i++) {
		const view_stay *s = &k->stays[i];
		int64_t until = s->until_ms ? s->until_ms : now;
		json_array_append_new(stays, json_pack("{s:s,s:o,s:o,s:I,s:b}",
			"state", view_state_name(s->state), "since",
			jtime(s->since_ms), "until", jtime(s->until_ms),
			"ms", (json_int_t)(until - s->since_ms),
			"current", s->until_ms == 0));
	}
	json_object_set_new(j, "steps", steps);
	json_object_set_new(j, "states", stays);
	return j;
}

static void case_row(const view_case *k, int64_t now)
{
	char t[40], d[32];
	printf("%-20s %-12s %s -> %s  since %s (%s)  steps %zu  people %zu\n",
	       k->id, view_state_name(k->state), k->from[0] ? k->from : "-",
	       k->to[0] ? k->to : "-", fmt_time(k->since_ms, t, sizeof(t)),
	       k->since_ms ? fmt_dur(now - k->since_ms, d, sizeof(d)) : "-",
	       k->n_steps, k->n_people);
}

typedef struct case_list {
	vopts o;
	int state;
	int64_t overdue_ms, now;
	long shown;
} case_list;

/* Is r within code (equal, or code is its province xx0000 or city
 * xxxx00)? */
static bool within(const char *code, const char *r)
{
	size_t k = strcmp(code + 2, "0000") == 0 ? 2
		   : strcmp(code + 4, "00") == 0 ? 4
						 : 6;
	return r[0] != '\0' && strncmp(code, r, k) == 0;
}

static int case_list_one(void *ctx, const view_case *k)
{
	case_list *cl = ctx;
	if ((cl->state >= 0 && (int)k->state != cl->state) ||
	    (cl->o.region && !within(cl->o.region, k->from) &&
	     !within(cl->o.region, k->to)) ||
	    (cl->o.overdue && !view_case_overdue(k, cl->now, cl->overdue_ms)))
		return 0;
	cl->shown++;
	if (cl->o.json) {
		json_t *j = case_json(k, false, cl->now);
		cli_print_json(j, false);
		json_decref(j);
	} else {
		case_row(k, cl->now);
	}
	return 0;
}

static int case_list_cmd(cli *c, int argc, char **argv)
{
	case_list cl = {.state = -1, .now = now_ms()};
	int rc = parse_opts(c, argc, argv, "sro", "usage: hutong -d NODEDIR "
		"case list [--state S] [--region CODE] [--overdue DURATION] "
		"[--json]\n\nRepatriation cases, by case id: state, from -> to, "
		"since when and how long in\nthe state, steps and people.\n"
		"  --state S       none, requested, accepted, rejected, departed,\n"
		"                  handed-over, received or cancelled\n"
		"  --region CODE   cases from or to CODE (a province or city code "
		"covers\n                  its cities and districts)\n"
		"  --overdue D     cases in a non-final state for longer than D "
		"(90m, 36h, 7d)\n  --json          one JSON object per line\n",
		&cl.o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if (cl.o.state && (cl.state = view_state_parse(cl.o.state)) < 0)
		return cli_usage(c, "--state: unknown state '%s'", cl.o.state);
	if (cl.o.region && !util_is_region_code(cl.o.region))
		return cli_usage(c, "--region: must be six digits, got '%.20s'",
				 cl.o.region);
	if (cl.o.overdue && util_parse_duration(cl.o.overdue, &cl.overdue_ms))
		return cli_usage(c, "--overdue: not a duration (90s, 15m, 36h, "
				 "7d): '%.20s'", cl.o.overdue);
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	ht_err err = {0};
	rc = view_case_each(l, case_list_one, &cl, &err);
	ledger_close(&l);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

static void case_text(const view_case *k, int64_t now)
{
	char t[40], d[32], allowed[VIEW_REASON_MAX], hex[HEX_ID];
	printf("case      %s\nstate     %s", k->id, view_state_name(k->state));
	if (k->since_ms)
		printf(" since %s (%s)", fmt_time(k->since_ms, t, sizeof(t)),
		       fmt_dur(now - k->since_ms, d, sizeof(d)));
	printf("\nfrom      %s (where the people were found)\nto        %s "
	       "(home region)\n", k->from[0] ? k->from : "-",
	       k->to[0] ? k->to : "-");
	print_people("people", k->people, k->n_people);
	printf("next      %s\nsteps\n", view_case_allowed(k, allowed,
							sizeof(allowed)));
	for (size_t i = 0; i < k->n_steps; i++) {
		const view_step *s = &k->steps[i];
		const Hutong__Header *h = record_header(s->v.rec);
		printf("  %s  %-9s by %s %-12s %-12s %s %.16s\n",
		       fmt_time(h->created_ms, t, sizeof(t)),
		       view_step_name(s->body->step), h->origin_region,
		       h->origin_node, h->author,
		       s->applied ? "applied ->" : "NOT APPLIED",
		       s->applied ? view_state_name(s->state) : "");
		if (!s->applied)
			printf("      reason: %s\n", s->reason);
		if (s->body->time_ms)
			printf("      at %s", fmt_time(s->body->time_ms, t, sizeof(t)));
		if (s->body->escort[0])
			printf("      escort %s", s->body->escort);
		if (s->body->time_ms || s->body->escort[0])
			printf("\n");
		printf("      id %s\n", hex_id(s->v.rec, hex));
		print_fixes(&s->v, "      ");
	}
	printf("time in states\n");
	for (size_t i = 0; i < k->n_stays; i++) {
		const view_stay *s = &k->stays[i];
		int64_t until = s->until_ms ? s->until_ms : now;
		printf("  %-12s %s%s\n", view_state_name(s->state),
		       fmt_dur(until - s->since_ms, d, sizeof(d)),
		       s->until_ms ? "" : " (current)");
	}
}

static int case_show_cmd(cli *c, int argc, char **argv)
{
	vopts o = {0};
	int rc = parse_opts(c, argc, argv, "", "usage: hutong -d NODEDIR case "
		"show CASE [--json]\n\nOne repatriation case: current state "
		"and the steps allowed next, the people,\nthe timeline of steps "
		"(who, when, applied or not and why), corrections,\nand the "
		"time spent in each state.\n", &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind + 1 != argc)
		return cli_usage(c, "expected one CASE id");
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	view_case *k = NULL;
	ht_err err = {0};
	rc = view_case_load(l, argv[optind], &k, &err);
	if (rc == 0 && o.json) {
		json_t *j = case_json(k, true, now_ms());
		cli_print_json(j, true);
		json_decref(j);
	} else if (rc == 0) {
		case_text(k, now_ms());
	}
	view_case_free(&k);
	ledger_close(&l);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

static const sub_cmd case_cmds[] = {
	{"list", case_list_cmd, "case list [--state S] [--region CODE] "
	 "[--overdue DURATION] [--json]"},
	{"show", case_show_cmd, "case show CASE [--json]"},
};

int cmd_case(cli *c, int argc, char **argv)
{
	return run_sub(c, case_cmds, sizeof(case_cmds) / sizeof(case_cmds[0]),
		       "case", argc, argv);
}

/* ---- org ---- */

static json_t *receipts_json(const view_receipt *r, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:o}", "node",
			r[i].node, "since", jtime(r[i].ms)));
	return a;
}

static json_t *trail_json(const view_trail *t)
{
	json_t *j = json_object();
	json_object_set_new(j, "kind", json_string(t->body->sighting ? "sighting"
								     : "alert"));
	put_version(j, &t->v);
	json_object_set_new(j, "region", json_string(t->region));
	json_object_set_new(j, "seen", jtime(t->seen_ms));
	json_object_set_new(j, "body", msg_json(&t->body->base));
	if (!t->body->sighting)
		json_object_set_new(j, "received_by",
				    receipts_json(t->receipts, t->n_receipts));
	return j;
}

static const char *level_name(int level)
{
	static const char *names[] = {"-", "low", "medium", "high", "critical"};
	return level >= 0 && level <= 4 ? names[level] : "?";
}

static json_t *org_json(const view_org *o, bool full)
{
	json_t *j = json_object(), *a = json_array(), *d = json_array();
	json_object_set_new(j, "org", json_string(o->id));
	json_object_set_new(j, "name", json_string(o->name));
	json_object_set_new(j, "level", json_string(level_name(o->level)));
	json_object_set_new(j, "members", json_integer(o->members));
	json_object_set_new(j, "last_region", json_string(o->last_region));
	json_object_set_new(j, "last_seen", jtime(o->last_seen_ms));
	for (size_t i = 0; i < o->n_aliases; i++)
		json_array_append_new(a, json_string(o->aliases[i]));
	for (size_t i = 0; i < o->n_dests; i++)
		json_array_append_new(d, json_string(o->dests[i]));
	json_object_set_new(j, "aliases", a);
	json_object_set_new(j, "destinations", d);
	json_object_set_new(j, "trail", json_integer((json_int_t)o->n_trail));
	if (!full)
		return j;
	json_t *t = json_array(), *k = json_array(), *u = json_array();
	for (size_t i = 0; i < o->n_trail; i++)
		json_array_append_new(t, trail_json(&o->trail[i]));
	for (size_t i = 0; i < o->n_links; i++)
		json_array_append_new(k, json_pack("{s:s,s:o}", "org",
			o->links[i].org, "by", jid(o->links[i].by)));
	for (size_t i = 0; i < o->n_dups; i++)
		json_array_append_new(u, json_pack("{s:s,s:s,s:s}", "org",
			o->dups[i].org, "name", o->dups[i].name, "key",
			o->dups[i].key));
	json_object_set_new(j, "trail", t);
	json_object_set_new(j, "leaders", people_json(o->leaders, o->n_leaders));
	json_object_set_new(j, "received_by",
			    receipts_json(o->received, o->n_received));
	json_object_set_new(j, "linked", k);
	json_object_set_new(j, "likely_duplicates", u);
	return j;
}

static int org_list_one(void *ctx, const view_org *o)
{
	const vopts *vo = ctx;
	char t[40];
	if (vo->json) {
		json_t *j = org_json(o, false);
		cli_print_json(j, false);
		json_decref(j);
		return 0;
	}
	printf("%-16s %-24s %-8s last %s %s  trail %zu  dest", o->id, o->name,
	       level_name(o->level), o->last_region,
	       fmt_time(o->last_seen_ms, t, sizeof(t)), o->n_trail);
	for (size_t i = 0; i < o->n_dests; i++)
		printf(" %s", o->dests[i]);
	printf("%s\n", o->n_dests ? "" : " -");
	return 0;
}

static int org_list_cmd(cli *c, int argc, char **argv)
{
	vopts o = {0};
	int rc = parse_opts(c, argc, argv, "", "usage: hutong -d NODEDIR org "
		"list [--json]\n\nFleeing organizations, by org id: name, alert "
		"level, where and when last\nseen, length of the trail, "
		"suspected destinations.\n", &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	ht_err err = {0};
	rc = view_org_each(l, VIEW_ORG_BRIEF, org_list_one, &o, &err);
	ledger_close(&l);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

static void org_text(const view_org *o)
{
	char t[40], hex[HEX_ID];
	printf("org       %s\nname      %s\nlevel     %s\nmembers   %u\n"
	       "last seen %s %s\naliases  ", o->id, o->name,
	       level_name(o->level), o->members, o->last_region,
	       fmt_time(o->last_seen_ms, t, sizeof(t)));
	for (size_t i = 0; i < o->n_aliases; i++)
		printf(" %s", o->aliases[i]);
	printf("%s\ndest     ", o->n_aliases ? "" : " -");
	for (size_t i = 0; i < o->n_dests; i++)
		printf(" %s", o->dests[i]);
	printf("%s\n", o->n_dests ? "" : " -");
	print_people("leaders", o->leaders, o->n_leaders);
	printf("trail\n");
	for (size_t i = 0; i < o->n_trail; i++) {
		const view_trail *r = &o->trail[i];
		const Hutong__Header *h = record_header(r->v.rec);
		printf("  %s  %-8s in %s  reported by %s %-12s %s%s\n",
		       fmt_time(r->seen_ms, t, sizeof(t)),
		       r->body->sighting ? "sighting" : "alert", r->region,
		       h->origin_region, h->origin_node, hex_id(r->v.rec, hex),
		       r->v.retracted ? "  RETRACTED" : "");
		print_fixes(&r->v, "      ");
	}
	printf("received by (the alerts, from receipts)\n");
	for (size_t i = 0; i < o->n_received; i++)
		printf("  %s  since %s\n", o->received[i].node,
		       fmt_time(o->received[i].ms, t, sizeof(t)));
	printf("linked\n");
	for (size_t i = 0; i < o->n_links; i++)
		printf("  %s  by %s\n", o->links[i].org, hex_id(o->links[i].by, hex));
	printf("likely duplicates\n");
	for (size_t i = 0; i < o->n_dups; i++)
		printf("  %s  \"%s\" (name key %s)\n", o->dups[i].org,
		       o->dups[i].name, o->dups[i].key);
}

static int org_show_cmd(cli *c, int argc, char **argv)
{
	vopts o = {0};
	int rc = parse_opts(c, argc, argv, "", "usage: hutong -d NODEDIR org "
		"show ORG [--json]\n\nOne fleeing organization: its trail of "
		"alerts and sightings (region, time,\nreporting bureau), "
		"leaders, suspected destinations, which bureaus have\nreceived "
		"its alerts (from receipts), organizations linked to it, and "
		"likely\nduplicates (same normalized name or alias under "
		"another org id).\n", &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind + 1 != argc)
		return cli_usage(c, "expected one ORG id");
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	view_org *v = NULL;
	ht_err err = {0};
	rc = view_org_load(l, argv[optind], VIEW_ORG_FULL, &v, &err);
	if (rc == 0 && o.json) {
		json_t *j = org_json(v, true);
		cli_print_json(j, true);
		json_decref(j);
	} else if (rc == 0) {
		org_text(v);
	}
	view_org_free(&v);
	ledger_close(&l);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

/* The latest record of org id: what a link names. */
static int org_anchor(cli *c, ledger *l, const char *id, uint8_t out[32])
{
	view_org *v = NULL;
	ht_err err = {0};
	if (view_org_load(l, id, VIEW_ORG_BRIEF, &v, &err) != 0)
		return cli_fail_err(c, &err);
	memcpy(out, record_id(v->trail[v->n_trail - 1].v.rec), RECORD_ID_BYTES);
	view_org_free(&v);
	return 0;
}

static int send_submission(cli *c, Hutong__Submission *sub)
{
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__SubmitRequest sr = HUTONG__SUBMIT_REQUEST__INIT;
	Hutong__ControlReply *rep = NULL;
	ht_err err = {0};
	char hex[HEX_ID];
	sr.items = &sub;
	sr.n_items = 1;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_SUBMIT;
	req.submit = &sr;
	int rc = ctl_call(c->cf->control, &req, CTL_TIMEOUT_MS, &rep, &err);
	if (rc != 0)
		rc = cli_fail_err(c, &err);
	else if (rep->code != 0 || rep->n_results != 1)
		rc = cli_fail(c, "%s", rep->error ? rep->error : "refused");
	else if (rep->results[0]->id.len != RECORD_ID_BYTES)
		rc = cli_fail(c, "%s", rep->results[0]->error);
	else
		printf("%s\n", util_hex(rep->results[0]->id.data,
					RECORD_ID_BYTES, hex));
	if (rep)
		hutong__control_reply__free_unpacked(rep, NULL);
	return rc;
}

static int org_link_cmd(cli *c, int argc, char **argv)
{
	vopts o = {0};
	int rc = parse_opts(c, argc, argv, "aR", "usage: hutong -d NODEDIR org "
		"link ORG OTHER --author ID [--reason TEXT]\n\nRecords that ORG "
		"and OTHER are the same organization: an intelligence\nrecord "
		"(through hutongd) whose `related` names the latest record of "
		"each.\n'org show' then lists each as linked to the other "
		"(and no longer as a\nlikely duplicate). Prints the new "
		"record's id.\n", &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind + 2 != argc)
		return cli_usage(c, "expected two ORG ids");
	if (o.author == NULL)
		return cli_usage(c, "--author is required");
	if (strcmp(argv[optind], argv[optind + 1]) == 0)
		return cli_usage(c, "an organization is already itself");
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	uint8_t ids[2][RECORD_ID_BYTES];
	rc = org_anchor(c, l, argv[optind], ids[0]);
	if (rc == 0)
		rc = org_anchor(c, l, argv[optind + 1], ids[1]);
	ledger_close(&l);
	if (rc != 0)
		return rc;
	char summary[2 * RECORD_MAX_NAME + 64 + RECORD_MAX_TEXT];
	snprintf(summary, sizeof(summary), "org link: %s and %s are the same "
		 "organization%s%s", argv[optind], argv[optind + 1],
		 o.reason ? ": " : "", o.reason ? o.reason : "");
	ProtobufCBinaryData rel[2] = {{RECORD_ID_BYTES, ids[0]},
				      {RECORD_ID_BYTES, ids[1]}};
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	in.summary = summary;
	in.related = rel;
	in.n_related = 2;
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	sub.author = (char *)o.author;
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	ht_err err = {0};
	if (record_check_submission(&sub, &err) != 0)
		return cli_fail_err(c, &err);
	return send_submission(c, &sub);
}

static const sub_cmd org_cmds[] = {
	{"list", org_list_cmd, "org list [--json]"},
	{"show", org_show_cmd, "org show ORG [--json]"},
	{"link", org_link_cmd, "org link ORG OTHER --author ID [--reason TEXT]"},
};

int cmd_org(cli *c, int argc, char **argv)
{
	return run_sub(c, org_cmds, sizeof(org_cmds) / sizeof(org_cmds[0]),
		       "org", argc, argv);
}

/* ---- alerts ---- */

static int alert_one(void *ctx, const view_alert *a)
{
	const vopts *o = ctx;
	const Hutong__Header *h = record_header(a->v.rec);
	char t[40], hex[HEX_ID];
	if (o->json) {
		json_t *j = json_object();
		json_object_set_new(j, "org", json_string(a->body->org_id));
		json_object_set_new(j, "name", json_string(a->body->name));
		json_object_set_new(j, "kind", json_string(a->body->sighting
							   ? "sighting" : "alert"));
		json_object_set_new(j, "level", json_string(level_name(a->body->level)));
		json_object_set_new(j, "relation", json_string(view_relation_name(a->rel)));
		json_object_set_new(j, "destination", json_string(a->dest));
		put_version(j, &a->v);
		json_object_set_new(j, "body", msg_json(&a->body->base));
		cli_print_json(j, false);
		json_decref(j);
		return 0;
	}
	printf("%s  %-8s %-16s %-24s %-8s dest %s (%s)  from %s%s\n    %s\n",
	       fmt_time(h->created_ms, t, sizeof(t)),
	       a->body->sighting ? "sighting" : "alert", a->body->org_id,
	       a->body->name, level_name(a->body->level), a->dest,
	       view_relation_name(a->rel), h->origin_region,
	       a->v.retracted ? "  RETRACTED" : "", hex_id(a->v.rec, hex));
	return 0;
}

int cmd_alerts(cli *c, int argc, char **argv)
{
	vopts o = {0};
	int rc = parse_opts(c, argc, argv, "", "usage: hutong -d NODEDIR alerts "
		"[--json]\n\nAlerts and sightings of fleeing organizations that "
		"concern this node's\nregion, newest first: a suspected "
		"destination names this region (or contains\nit), lies in the "
		"same province, or in a province that borders it. Each is\n"
		"shown as its current version (corrections applied; retracted "
		"ones marked).\n", &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	ht_err err = {0};
	rc = view_alerts(l, c->cf->region, alert_one, &o, &err);
	ledger_close(&l);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

/* ---- intel ---- */

static json_t *lead_json(const view_lead *ld)
{
	json_t *j = json_object();
	put_version(j, &ld->v);
	json_object_set_new(j, "lead", msg_json(&ld->body->base));
	return j;
}

static int lead_row(void *ctx, const view_lead *ld)
{
	const vopts *o = ctx;
	char t[40], hex[HEX_ID];
	const Hutong__Header *h = record_header(ld->v.rec);
	if (o->json) {
		json_t *j = lead_json(ld);
		cli_print_json(j, false);
		json_decref(j);
		return 0;
	}
	printf("%s  %s  %s  %-10s %-20s %.60s\n", hex_id(ld->v.rec, hex),
	       fmt_time(h->created_ms, t, sizeof(t)), h->origin_region,
	       ld->v.retracted ? "RETRACTED" : ld->v.amended_by ? "amended"
								: "current",
	       ld->body->organization, ld->body->summary);
	return 0;
}

static int intel_list_cmd(cli *c, int argc, char **argv)
{
	vopts o = {0};
	int rc = parse_opts(c, argc, argv, "gpifr", "usage: hutong -d NODEDIR "
		"intel list [--org NAME] [--person NAME] [--idno N]\n"
		"       [--phone P] [--region CODE] [--json]\n\nLeads, each as "
		"its current version (corrections applied), in creation\norder; "
		"retracted leads are listed and marked, never hidden. With "
		"terms, the\nleads that name all of them in some version; names "
		"match after\nnormalization (full-width forms, spaces, case, "
		"legal-form suffixes).\n", &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if (o.region && !util_is_region_code(o.region))
		return cli_usage(c, "--region: must be six digits, got '%.20s'",
				 o.region);
	view_query q = {o.org, o.person, o.idno, o.phone, o.region};
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	ht_err err = {0};
	rc = view_lead_search(l, &q, lead_row, &o, &err);
	ledger_close(&l);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

static void lead_text(const view_lead *ld)
{
	char t[40], hex[HEX_ID];
	const Hutong__Header *h = record_header(ld->v.rec);
	const Hutong__Intelligence *in = ld->body;
	printf("lead      %s\nstatus    %s\norigin    %s %s\ncreated   %s\n"
	       "author    %s\n", hex_id(ld->v.rec, hex),
	       ld->v.retracted ? "RETRACTED" : ld->v.amended_by ? "amended"
								: "current",
	       h->origin_region, h->origin_node,
	       fmt_time(h->created_ms, t, sizeof(t)), h->author);
	if (ld->v.amended_by)
		printf("version   %s\n", hex_id(ld->v.amended_by, hex));
	printf("org       %s\nsummary   %s\n", in->organization[0]
	       ? in->organization : "-", in->summary);
	print_people("people", (const Hutong__Person *const *)in->people,
		     in->n_people);
	printf("places   ");
	for (size_t i = 0; i < in->n_places; i++)
		printf(" %s%s%s", in->places[i]->region,
		       in->places[i]->address[0] ? ":" : "",
		       in->places[i]->address);
	printf("%s\ncorrections\n", in->n_places ? "" : " -");
	print_fixes(&ld->v, "  ");
}

static int intel_show_cmd(cli *c, int argc, char **argv)
{
	vopts o = {0};
	uint8_t id[RECORD_ID_BYTES];
	int rc = parse_opts(c, argc, argv, "", "usage: hutong -d NODEDIR intel "
		"show ID [--json]\n\nOne lead (ID: the lead's record, or a "
		"correction of it) as its current\nversion, with every "
		"correction: applied or not, and why.\n", &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind + 1 != argc)
		return cli_usage(c, "expected one record ID");
	if (cli_parse_id(c, argv[optind], id) != 0)
		return CLI_USAGE;
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	view_lead *ld = NULL;
	ht_err err = {0};
	rc = view_lead_load(l, id, &ld, &err);
	if (rc == 0 && o.json) {
		json_t *j = lead_json(ld);
		cli_print_json(j, true);
		json_decref(j);
	} else if (rc == 0) {
		lead_text(ld);
	}
	view_lead_free(&ld);
	ledger_close(&l);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

static const sub_cmd intel_cmds[] = {
	{"list", intel_list_cmd, "intel list [--org NAME] [--person NAME] "
	 "[--idno N] [--phone P] [--region CODE] [--json]"},
	{"show", intel_show_cmd, "intel show ID [--json]"},
};

int cmd_intel(cli *c, int argc, char **argv)
{
	return run_sub(c, intel_cmds, sizeof(intel_cmds) / sizeof(intel_cmds[0]),
		       "intel", argc, argv);
}

/* ---- views ---- */

int cmd_views(cli *c, int argc, char **argv)
{
	vopts o = {0};
	int rc = parse_opts(c, argc, argv, "", "usage: hutong -d NODEDIR views "
		"[--json]\n\nThe digest of each view (cases, organizations, "
		"leads) with its count.\nNodes holding the same records print "
		"the same digests, whatever order the\nrecords arrived in "
		"(README: Views).\n", &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	view_digests d;
	ht_err err = {0};
	rc = view_digest(l, &d, &err);
	ledger_close(&l);
	if (rc != 0)
		return cli_fail_err(c, &err);
	char h[3][2 * VIEW_DIGEST_BYTES + 1];
	util_hex(d.cases, VIEW_DIGEST_BYTES, h[0]);
	util_hex(d.orgs, VIEW_DIGEST_BYTES, h[1]);
	util_hex(d.leads, VIEW_DIGEST_BYTES, h[2]);
	if (o.json) {
		json_t *j = json_pack("{s:{s:I,s:s},s:{s:I,s:s},s:{s:I,s:s}}",
			"cases", "count", (json_int_t)d.n_cases, "digest", h[0],
			"orgs", "count", (json_int_t)d.n_orgs, "digest", h[1],
			"leads", "count", (json_int_t)d.n_leads, "digest", h[2]);
		cli_print_json(j, false);
		json_decref(j);
	} else {
		printf("cases  %-8llu %s\norgs   %-8llu %s\nleads  %-8llu %s\n",
		       (unsigned long long)d.n_cases, h[0],
		       (unsigned long long)d.n_orgs, h[1],
		       (unsigned long long)d.n_leads, h[2]);
	}
	return CLI_OK;
}
