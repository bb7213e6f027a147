/*
 * cmd_case: `hutong case list|show`, the repatriation cases folded from
 * the ledger (core view_case_*): state, from and to, the people, the
 * timeline of steps with whether each applied and why not, and the time in
 * each state. Reads the ledger read-only; --json gives one object per line
 * for the list.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli_view.h"
#include "util.h"

static json_t *step_json(const view_step *s)
{
	json_t *j = json_object();
	const Hutong__Repatriation *b = s->body;
	json_object_set_new(j, "step", json_string(view_step_name(b->step)));
	cli_view_put_version(j, &s->v);
	json_object_set_new(j, "time", cli_view_jtime(b->time_ms));
	json_object_set_new(j, "from", json_string(b->from_region));
	json_object_set_new(j, "to", json_string(b->to_region));
	json_object_set_new(
	    j, "people",
	    cli_view_people((const Hutong__Person *const *)b->people,
			    b->n_people));
	json_object_set_new(j, "escort", json_string(b->escort));
	json_object_set_new(j, "notes", json_string(b->notes));
	json_object_set_new(j, "applied", json_boolean(s->applied));
	json_object_set_new(j, "not_applied",
			    s->applied ? json_null() : json_string(s->reason));
	json_object_set_new(j, "state", json_string(view_state_name(s->state)));
	return j;
}

static json_t *stays_json(const view_case *k, int64_t now)
{
	json_t *stays = json_array();
	for (size_t i = 0; i < k->n_stays; i++) {
		const view_stay *s = &k->stays[i];
		int64_t until = s->until_ms ? s->until_ms : now;
		json_array_append_new(
		    stays, json_pack("{s:s,s:o,s:o,s:I,s:b}", "state",
				     view_state_name(s->state), "since",
				     cli_view_jtime(s->since_ms), "until",
				     cli_view_jtime(s->until_ms), "ms",
				     (json_int_t)(until - s->since_ms),
				     "current", s->until_ms == 0));
	}
	return stays;
}

/* Add what `case show` adds to the list's keys (people become a list). */
static void case_full(json_t *j, const view_case *k, int64_t now)
{
	json_object_set_new(j, "people",
			    cli_view_people(k->people, k->n_people));
	json_t *steps = json_array();
	for (size_t i = 0; i < k->n_steps; i++)
		json_array_append_new(steps, step_json(&k->steps[i]));
	json_object_set_new(j, "steps", steps);
	json_object_set_new(j, "states", stays_json(k, now));
}

static json_t *case_json(const view_case *k, bool full, int64_t now)
{
	char allowed[VIEW_REASON_MAX];
	json_t *j = json_object();
	json_object_set_new(j, "case", json_string(k->id));
	json_object_set_new(j, "state", json_string(view_state_name(k->state)));
	json_object_set_new(j, "from", json_string(k->from));
	json_object_set_new(j, "to", json_string(k->to));
	json_object_set_new(j, "opened", cli_view_jtime(k->opened_ms));
	json_object_set_new(j, "since", cli_view_jtime(k->since_ms));
	json_object_set_new(j, "in_state_ms",
			    k->since_ms ? json_integer(now - k->since_ms)
					: json_null());
	json_object_set_new(
	    j, "allowed",
	    json_string(view_case_allowed(k, allowed, sizeof(allowed))));
	json_object_set_new(j, "people", json_integer((json_int_t)k->n_people));
	json_object_set_new(j, "steps", json_integer((json_int_t)k->n_steps));
	if (full)
		case_full(j, k, now);
	return j;
}

static void case_row(const view_case *k, int64_t now)
{
	char t[CLI_TIME_MAX], d[32];
	printf("%-20s %-12s %s -> %s  since %s (%s)  steps %zu  people %zu\n",
	       k->id, view_state_name(k->state), k->from[0] ? k->from : "-",
	       k->to[0] ? k->to : "-", cli_view_time(k->since_ms, t),
	       k->since_ms ? cli_view_dur(now - k->since_ms, d, sizeof(d))
			   : "-",
	       k->n_steps, k->n_people);
}

typedef struct case_list {
	cli_view_opts o;
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
		cli_put_json(case_json(k, false, cl->now), false);
	} else {
		case_row(k, cl->now);
	}
	return 0;
}

static int case_list_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	(void)c;
	return view_case_each(l, case_list_one, ctx, err);
}

static const cli_view_spec case_list_spec = {
    "sro", 0, NULL,
    "usage: hutong -d NODEDIR "
    "case list [--state S] [--region CODE] [--overdue DURATION] "
    "[--json]\n\nRepatriation cases, by case id: state, from -> to, "
    "since when and how long in\nthe state, steps and people.\n"
    "  --state S       none, requested, accepted, rejected, departed,\n"
    "                  handed-over, received or cancelled\n"
    "  --region CODE   cases from or to CODE (a province or city code "
    "covers\n                  its cities and districts)\n"
    "  --overdue D     cases in a non-final state for longer than D "
    "(90m, 36h, 7d)\n  --json          one JSON object per line\n",
    case_list_run};

/* The filters' values: 0 or a usage error (printed). */
static int case_list_check(cli *c, case_list *cl)
{
	const cli_view_opts *o = &cl->o;
	if (o->state && (cl->state = view_state_parse(o->state)) < 0)
		return cli_usage(c, "--state: unknown state '%s'", o->state);
	if (o->region && cli_parse_region(c, "--region", o->region) != 0)
		return CLI_USAGE;
	if (o->overdue && util_parse_duration(o->overdue, &cl->overdue_ms))
		return cli_usage(c,
				 "--overdue: not a duration (90s, 15m, 36h, "
				 "7d): '%.20s'",
				 o->overdue);
	return 0;
}

static int case_list_cmd(cli *c, int argc, char **argv)
{
	case_list cl = {.state = -1, .now = cli_view_now()};
	int rc = cli_view_parse(c, argc, argv, &case_list_spec, &cl.o);
	if (rc == 0)
		rc = case_list_check(c, &cl);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return cli_read(c, case_list_run, &cl);
}

static void step_text(const view_step *s)
{
	char t[CLI_TIME_MAX], hex[CLI_HEX_ID];
	const Hutong__Header *h = record_header(s->v.rec);
	printf("  %s  %-9s by %s %-12s %-12s %s %.16s\n",
	       cli_view_time(h->created_ms, t), view_step_name(s->body->step),
	       h->origin_region, h->origin_node, h->author,
	       s->applied ? "applied ->" : "NOT APPLIED",
	       s->applied ? view_state_name(s->state) : "");
	if (!s->applied)
		printf("      reason: %s\n", s->reason);
	if (s->body->time_ms)
		printf("      at %s", cli_view_time(s->body->time_ms, t));
	if (s->body->escort[0])
		printf("      escort %s", s->body->escort);
	if (s->body->time_ms || s->body->escort[0])
		printf("\n");
	printf("      id %s\n", cli_hex_id(s->v.rec, hex));
	cli_view_print_fixes(&s->v, "      ");
}

static void stays_text(const view_case *k, int64_t now)
{
	char d[32];
	printf("time in states\n");
	for (size_t i = 0; i < k->n_stays; i++) {
		const view_stay *s = &k->stays[i];
		int64_t until = s->until_ms ? s->until_ms : now;
		printf("  %-12s %s%s\n", view_state_name(s->state),
		       cli_view_dur(until - s->since_ms, d, sizeof(d)),
		       s->until_ms ? "" : " (current)");
	}
}

static void case_text(const view_case *k, int64_t now)
{
	char t[CLI_TIME_MAX], d[32], allowed[VIEW_REASON_MAX];
	printf("case      %s\nstate     %s", k->id, view_state_name(k->state));
	if (k->since_ms)
		printf(" since %s (%s)", cli_view_time(k->since_ms, t),
		       cli_view_dur(now - k->since_ms, d, sizeof(d)));
	printf("\nfrom      %s (where the people were found)\nto        %s "
	       "(home region)\n",
	       k->from[0] ? k->from : "-", k->to[0] ? k->to : "-");
	cli_view_print_people("people", k->people, k->n_people);
	printf("next      %s\nsteps\n",
	       view_case_allowed(k, allowed, sizeof(allowed)));
	for (size_t i = 0; i < k->n_steps; i++)
		step_text(&k->steps[i]);
	stays_text(k, now);
}

static int case_show_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_view_opts *o = ctx;
	view_case *k = NULL;
	int rc = view_case_load(l, o->args[0], &k, err);
	(void)c;
	if (rc == 0 && o->json)
		cli_put_json(case_json(k, true, cli_view_now()), true);
	else if (rc == 0)
		case_text(k, cli_view_now());
	view_case_free(&k);
	return rc;
}

static const cli_view_spec case_show_spec = {
    "", 1, "one CASE id",
    "usage: hutong -d NODEDIR case "
    "show CASE [--json]\n\nOne repatriation case: current state "
    "and the steps allowed next, the people,\nthe timeline of steps "
    "(who, when, applied or not and why), corrections,\nand the "
    "time spent in each state.\n",
    case_show_run};

static int case_show_cmd(cli *c, int argc, char **argv)
{
	return cli_view_main(c, argc, argv, &case_show_spec);
}

static const cli_view_sub case_cmds[] = {
    {"list", case_list_cmd,
     "case list [--state S] [--region CODE] "
     "[--overdue DURATION] [--json]"},
    {"show", case_show_cmd, "case show CASE [--json]"},
};

int cmd_case(cli *c, int argc, char **argv)
{
	return cli_view_run(c, case_cmds,
			    sizeof(case_cmds) / sizeof(case_cmds[0]), "case",
			    argc, argv);
}
