/*
 * cmd_org: `hutong org list|show|link`, the fleeing organizations folded
 * from the ledger (core view_org_*): trail of alerts and sightings, who
 * received them, leaders, destinations, links and likely duplicates. list
 * and show read the ledger read-only; link records, through hutongd, that
 * two org ids are one organization.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli_view.h"
#include "util.h"

static json_t *receipts_json(const view_receipt *r, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:o}", "node",
						   r[i].node, "since",
						   cli_view_jtime(r[i].ms)));
	return a;
}

static json_t *trail_json(const view_trail *t)
{
	json_t *j = json_object();
	json_object_set_new(
	    j, "kind", json_string(t->body->sighting ? "sighting" : "alert"));
	cli_view_put_version(j, &t->v);
	json_object_set_new(j, "region", json_string(t->region));
	json_object_set_new(j, "seen", cli_view_jtime(t->seen_ms));
	json_object_set_new(j, "body", cli_view_msg(&t->body->base));
	if (!t->body->sighting)
		json_object_set_new(j, "received_by",
				    receipts_json(t->receipts, t->n_receipts));
	return j;
}

/* Add what `org show` adds to the list's keys (trail becomes a list). */
static void org_full(json_t *j, const view_org *o)
{
	json_t *t = json_array(), *k = json_array(), *u = json_array();
	for (size_t i = 0; i < o->n_trail; i++)
		json_array_append_new(t, trail_json(&o->trail[i]));
	for (size_t i = 0; i < o->n_links; i++)
		json_array_append_new(
		    k, json_pack("{s:s,s:o}", "org", o->links[i].org, "by",
				 cli_view_jid(o->links[i].by)));
	for (size_t i = 0; i < o->n_dups; i++)
		json_array_append_new(
		    u, json_pack("{s:s,s:s,s:s}", "org", o->dups[i].org, "name",
				 o->dups[i].name, "key", o->dups[i].key));
	json_object_set_new(j, "trail", t);
	json_object_set_new(j, "leaders",
			    cli_view_people(o->leaders, o->n_leaders));
	json_object_set_new(j, "received_by",
			    receipts_json(o->received, o->n_received));
	json_object_set_new(j, "linked", k);
	json_object_set_new(j, "likely_duplicates", u);
}

static json_t *org_json(const view_org *o, bool full)
{
	json_t *j = json_object(), *a = json_array(), *d = json_array();
	json_object_set_new(j, "org", json_string(o->id));
	json_object_set_new(j, "name", json_string(o->name));
	json_object_set_new(j, "level", json_string(cli_view_level(o->level)));
	json_object_set_new(j, "members", json_integer(o->members));
	json_object_set_new(j, "last_region", json_string(o->last_region));
	json_object_set_new(j, "last_seen", cli_view_jtime(o->last_seen_ms));
	for (size_t i = 0; i < o->n_aliases; i++)
		json_array_append_new(a, json_string(o->aliases[i]));
	for (size_t i = 0; i < o->n_dests; i++)
		json_array_append_new(d, json_string(o->dests[i]));
	json_object_set_new(j, "aliases", a);
	json_object_set_new(j, "destinations", d);
	json_object_set_new(j, "trail", json_integer((json_int_t)o->n_trail));
	if (full)
		org_full(j, o);
	return j;
}

static int org_list_one(void *ctx, const view_org *o)
{
	const cli_view_opts *vo = ctx;
	char t[CLI_TIME_MAX];
	if (vo->json) {
		cli_put_json(org_json(o, false), false);
		return 0;
	}
	printf("%-16s %-24s %-8s last %s %s  trail %zu  dest", o->id, o->name,
	       cli_view_level(o->level), o->last_region,
	       cli_view_time(o->last_seen_ms, t), o->n_trail);
	for (size_t i = 0; i < o->n_dests; i++)
		printf(" %s", o->dests[i]);
	printf("%s\n", o->n_dests ? "" : " -");
	return 0;
}

static int org_list_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	(void)c;
	return view_org_each(l, VIEW_ORG_BRIEF, org_list_one, ctx, err);
}

static const cli_view_spec org_list_spec = {
    "", 0, NULL,
    "usage: hutong -d NODEDIR org "
    "list [--json]\n\nFleeing organizations, by org id: name, alert "
    "level, where and when last\nseen, length of the trail, "
    "suspected destinations.\n",
    org_list_run};

static int org_list_cmd(cli *c, int argc, char **argv)
{
	return cli_view_main(c, argc, argv, &org_list_spec);
}

static void trail_text(const view_org *o)
{
	char t[CLI_TIME_MAX], hex[CLI_HEX_ID];
	printf("trail\n");
	for (size_t i = 0; i < o->n_trail; i++) {
		const view_trail *r = &o->trail[i];
		const Hutong__Header *h = record_header(r->v.rec);
		printf("  %s  %-8s in %s  reported by %s %-12s %s%s\n",
		       cli_view_time(r->seen_ms, t),
		       r->body->sighting ? "sighting" : "alert", r->region,
		       h->origin_region, h->origin_node,
		       cli_hex_id(r->v.rec, hex),
		       r->v.retracted ? "  RETRACTED" : "");
		cli_view_print_fixes(&r->v, "      ");
	}
}

/* Who received its alerts, what is linked to it, what looks like it. */
static void relations_text(const view_org *o)
{
	char t[CLI_TIME_MAX], hex[CLI_HEX_ID];
	printf("received by (the alerts, from receipts)\n");
	for (size_t i = 0; i < o->n_received; i++)
		printf("  %s  since %s\n", o->received[i].node,
		       cli_view_time(o->received[i].ms, t));
	printf("linked\n");
	for (size_t i = 0; i < o->n_links; i++)
		printf("  %s  by %s\n", o->links[i].org,
		       cli_hex_id(o->links[i].by, hex));
	printf("likely duplicates\n");
	for (size_t i = 0; i < o->n_dups; i++)
		printf("  %s  \"%s\" (name key %s)\n", o->dups[i].org,
		       o->dups[i].name, o->dups[i].key);
}

static void org_text(const view_org *o)
{
	char t[CLI_TIME_MAX];
	printf("org       %s\nname      %s\nlevel     %s\nmembers   %u\n"
	       "last seen %s %s\naliases  ",
	       o->id, o->name, cli_view_level(o->level), o->members,
	       o->last_region, cli_view_time(o->last_seen_ms, t));
	for (size_t i = 0; i < o->n_aliases; i++)
		printf(" %s", o->aliases[i]);
	printf("%s\ndest     ", o->n_aliases ? "" : " -");
	for (size_t i = 0; i < o->n_dests; i++)
		printf(" %s", o->dests[i]);
	printf("%s\n", o->n_dests ? "" : " -");
	cli_view_print_people("leaders", o->leaders, o->n_leaders);
	trail_text(o);
	relations_text(o);
}

static int org_show_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_view_opts *o = ctx;
	view_org *v = NULL;
	int rc = view_org_load(l, o->args[0], VIEW_ORG_FULL, &v, err);
	(void)c;
	if (rc == 0 && o->json)
		cli_put_json(org_json(v, true), true);
	else if (rc == 0)
		org_text(v);
	view_org_free(&v);
	return rc;
}

static const cli_view_spec org_show_spec = {
    "", 1, "one ORG id",
    "usage: hutong -d NODEDIR org "
    "show ORG [--json]\n\nOne fleeing organization: its trail of "
    "alerts and sightings (region, time,\nreporting bureau), "
    "leaders, suspected destinations, which bureaus have\nreceived "
    "its alerts (from receipts), organizations linked to it, and "
    "likely\nduplicates (same normalized name or alias under "
    "another org id).\n",
    org_show_run};

static int org_show_cmd(cli *c, int argc, char **argv)
{
	return cli_view_main(c, argc, argv, &org_show_spec);
}

/* ---- org link ---- */

typedef struct org_link {
	const cli_view_opts *o;
	uint8_t ids[2][RECORD_ID_BYTES]; /* what the link names */
} org_link;

/* The latest record of org id: what a link names. */
static int org_anchor(ledger *l, const char *id, uint8_t out[RECORD_ID_BYTES],
		      ht_err *err)
{
	view_org *v = NULL;
	int rc = view_org_load(l, id, VIEW_ORG_BRIEF, &v, err);
	if (rc != 0)
		return rc;
	memcpy(out, record_id(v->trail[v->n_trail - 1].v.rec), RECORD_ID_BYTES);
	view_org_free(&v);
	return 0;
}

static int link_anchors(cli *c, ledger *l, void *ctx, ht_err *err)
{
	org_link *k = ctx;
	int rc = org_anchor(l, k->o->args[0], k->ids[0], err);
	(void)c;
	return rc != 0 ? rc : org_anchor(l, k->o->args[1], k->ids[1], err);
}

static int send_submission(cli *c, Hutong__Submission *sub)
{
	Hutong__ControlReply *rep = NULL;
	int rc = cli_submit(c, &sub, 1, &rep);
	if (rc != 0)
		return rc;
	if (rep->code != 0 || rep->n_results != 1)
		rc = cli_fail(c, "%s", rep->error ? rep->error : "refused");
	else if (!cli_put_result(rep->results[0]))
		rc = cli_fail(c, "%s", rep->results[0]->error);
	cli_reply_free(&rep);
	return rc;
}

/* The intelligence record whose `related` names both anchors. */
static int link_submit(cli *c, org_link *k)
{
	const cli_view_opts *o = k->o;
	char summary[2 * RECORD_MAX_NAME + 64 + RECORD_MAX_TEXT];
	snprintf(summary, sizeof(summary),
		 "org link: %s and %s are the same organization%s%s",
		 o->args[0], o->args[1], o->reason ? ": " : "",
		 o->reason ? o->reason : "");
	ProtobufCBinaryData rel[2] = {{RECORD_ID_BYTES, k->ids[0]},
				      {RECORD_ID_BYTES, k->ids[1]}};
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	in.summary = summary;
	in.related = rel;
	in.n_related = 2;
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	sub.author = (char *)o->author;
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	ht_err err = {0};
	if (record_check_submission(&sub, &err) != 0)
		return cli_fail_err(c, &err);
	return send_submission(c, &sub);
}

static const cli_view_spec org_link_spec = {
    "aR", 2, "two ORG ids",
    "usage: hutong -d NODEDIR org "
    "link ORG OTHER --author ID [--reason TEXT]\n\nRecords that ORG "
    "and OTHER are the same organization: an intelligence\nrecord "
    "(through hutongd) whose `related` names the latest record of "
    "each.\n'org show' then lists each as linked to the other "
    "(and no longer as a\nlikely duplicate). Prints the new "
    "record's id.\n",
    NULL};

static int org_link_cmd(cli *c, int argc, char **argv)
{
	cli_view_opts o = {0};
	org_link k = {.o = &o};
	int rc = cli_view_parse(c, argc, argv, &org_link_spec, &o);
	if (rc == 0 && o.author == NULL)
		rc = cli_usage(c, "--author is required");
	else if (rc == 0 && strcmp(o.args[0], o.args[1]) == 0)
		rc = cli_usage(c, "an organization is already itself");
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	rc = cli_read(c, link_anchors, &k);
	return rc != 0 ? rc : link_submit(c, &k);
}

static const cli_view_sub org_cmds[] = {
    {"list", org_list_cmd, "org list [--json]"},
    {"show", org_show_cmd, "org show ORG [--json]"},
    {"link", org_link_cmd, "org link ORG OTHER --author ID [--reason TEXT]"},
};

int cmd_org(cli *c, int argc, char **argv)
{
	return cli_view_run(c, org_cmds, sizeof(org_cmds) / sizeof(org_cmds[0]),
			    "org", argc, argv);
}
