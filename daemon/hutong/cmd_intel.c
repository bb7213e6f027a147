/*
 * cmd_intel: `hutong intel list|show`, the leads (intelligence records)
 * each as its current version with its corrections (core view_lead_*), and
 * the search by organization, person, id number, phone or region. Reads the
 * ledger read-only.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli_view.h"
#include "util.h"

static json_t *lead_json(const view_lead *ld)
{
	json_t *j = json_object();
	cli_view_put_version(j, &ld->v);
	json_object_set_new(j, "lead", cli_view_msg(&ld->body->base));
	return j;
}

static int lead_row(void *ctx, const view_lead *ld)
{
	const cli_view_opts *o = ctx;
	char t[CLI_TIME_MAX], hex[CLI_HEX_ID];
	const Hutong__Header *h = record_header(ld->v.rec);
	if (o->json) {
		cli_put_json(lead_json(ld), false);
		return 0;
	}
	printf("%s  %s  %s  %-10s %-20s %.60s\n", cli_hex_id(ld->v.rec, hex),
	       cli_view_time(h->created_ms, t), h->origin_region,
	       ld->v.retracted	  ? "RETRACTED"
	       : ld->v.amended_by ? "amended"
				  : "current",
	       ld->body->organization, ld->body->summary);
	return 0;
}

static int intel_list_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_view_opts *o = ctx;
	view_query q = {o->org, o->person, o->idno, o->phone, o->region};
	(void)c;
	return view_lead_search(l, &q, lead_row, ctx, err);
}

static const cli_view_spec intel_list_spec = {
    "gpifr", 0, NULL,
    "usage: hutong -d NODEDIR "
    "intel list [--org NAME] [--person NAME] [--idno N]\n"
    "       [--phone P] [--region CODE] [--json]\n\nLeads, each as "
    "its current version (corrections applied), in creation\norder; "
    "retracted leads are listed and marked, never hidden. With "
    "terms, the\nleads that name all of them in some version; names "
    "match after\nnormalization (full-width forms, spaces, case, "
    "legal-form suffixes).\n",
    intel_list_run};

static int intel_list_cmd(cli *c, int argc, char **argv)
{
	cli_view_opts o = {0};
	int rc = cli_view_parse(c, argc, argv, &intel_list_spec, &o);
	if (rc == 0 && o.region)
		rc = cli_parse_region(c, "--region", o.region);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return cli_read(c, intel_list_run, &o);
}

static void lead_text(const view_lead *ld)
{
	char t[CLI_TIME_MAX], hex[CLI_HEX_ID];
	const Hutong__Header *h = record_header(ld->v.rec);
	const Hutong__Intelligence *in = ld->body;
	printf("lead      %s\nstatus    %s\norigin    %s %s\ncreated   %s\n"
	       "author    %s\n",
	       cli_hex_id(ld->v.rec, hex),
	       ld->v.retracted	  ? "RETRACTED"
	       : ld->v.amended_by ? "amended"
				  : "current",
	       h->origin_region, h->origin_node,
	       cli_view_time(h->created_ms, t), h->author);
	if (ld->v.amended_by)
		printf("version   %s\n", cli_hex_id(ld->v.amended_by, hex));
	printf("org       %s\nsummary   %s\n",
	       in->organization[0] ? in->organization : "-", in->summary);
	cli_view_print_people(
	    "people", (const Hutong__Person *const *)in->people, in->n_people);
	printf("places   ");
	char reg[CLI_REGION_MAX];
	for (size_t i = 0; i < in->n_places; i++)
		printf(" %s%s%s", cli_region(in->places[i]->region, reg),
		       in->places[i]->address[0] ? ":" : "",
		       in->places[i]->address);
	printf("%s\ncorrections\n", in->n_places ? "" : " -");
	cli_view_print_fixes(&ld->v, "  ");
}

typedef struct intel_show {
	cli_view_opts o;
	uint8_t id[RECORD_ID_BYTES];
} intel_show;

static int intel_show_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const intel_show *a = ctx;
	view_lead *ld = NULL;
	int rc = view_lead_load(l, a->id, &ld, err);
	(void)c;
	if (rc == 0 && a->o.json)
		cli_put_json(lead_json(ld), true);
	else if (rc == 0)
		lead_text(ld);
	view_lead_free(&ld);
	return rc;
}

static const cli_view_spec intel_show_spec = {
    "", 1, "one record ID",
    "usage: hutong -d NODEDIR intel "
    "show ID [--json]\n\nOne lead (ID, 64 hex digits or a unique prefix "
    "of 8 or more:\nthe lead's record, or a "
    "correction of it) as its current\nversion, with every "
    "correction: applied or not, and why.\n",
    intel_show_run};

static int intel_show_cmd(cli *c, int argc, char **argv)
{
	intel_show a = {0};
	int rc = cli_view_parse(c, argc, argv, &intel_show_spec, &a.o);
	if (rc == 0)
		rc = cli_resolve_id(c, NULL, "ID", a.o.args[0], a.id);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return cli_read(c, intel_show_run, &a);
}

static const cli_view_sub intel_cmds[] = {
    {"list", intel_list_cmd,
     "intel list [--org NAME] [--person NAME] "
     "[--idno N] [--phone P] [--region CODE] [--json]"},
    {"show", intel_show_cmd, "intel show ID [--json]"},
};

int cmd_intel(cli *c, int argc, char **argv)
{
	return cli_view_run(c, intel_cmds,
			    sizeof(intel_cmds) / sizeof(intel_cmds[0]), "intel",
			    argc, argv);
}
