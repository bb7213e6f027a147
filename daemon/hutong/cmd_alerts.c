/*
 * cmd_alerts: `hutong alerts`, the alerts and sightings of fleeing
 * organizations that concern this node's region (core view_alerts), newest
 * first, each as its current version. Reads the ledger read-only.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli_view.h"

static json_t *alert_json(const view_alert *a)
{
	json_t *j = json_object();
	json_object_set_new(j, "org", json_string(a->body->org_id));
	json_object_set_new(j, "name", json_string(a->body->name));
	json_object_set_new(
	    j, "kind", json_string(a->body->sighting ? "sighting" : "alert"));
	json_object_set_new(j, "level",
			    json_string(cli_view_level(a->body->level)));
	json_object_set_new(j, "relation",
			    json_string(view_relation_name(a->rel)));
	json_object_set_new(j, "destination", json_string(a->dest));
	cli_view_put_version(j, &a->v);
	json_object_set_new(j, "body", cli_view_msg(&a->body->base));
	return j;
}

static int alert_one(void *ctx, const view_alert *a)
{
	const cli_view_opts *o = ctx;
	const Hutong__Header *h = record_header(a->v.rec);
	char t[CLI_TIME_MAX], hex[CLI_HEX_ID];
	if (o->json) {
		cli_put_json(alert_json(a), false);
		return 0;
	}
	printf("%s  %-8s %-16s %-24s %-8s dest %s (%s)  from %s%s\n    %s\n",
	       cli_view_time(h->created_ms, t),
	       a->body->sighting ? "sighting" : "alert", a->body->org_id,
	       a->body->name, cli_view_level(a->body->level), a->dest,
	       view_relation_name(a->rel), h->origin_region,
	       a->v.retracted ? "  RETRACTED" : "", cli_hex_id(a->v.rec, hex));
	return 0;
}

static int alerts_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	return view_alerts(l, c->cf->region, alert_one, ctx, err);
}

static const cli_view_spec alerts_spec = {
    "", 0, NULL,
    "usage: hutong -d NODEDIR alerts "
    "[--json]\n\nAlerts and sightings of fleeing organizations that "
    "concern this node's\nregion, newest first: a suspected "
    "destination names this region (or contains\nit), lies in the "
    "same province, or in a province that borders it. Each is\n"
    "shown as its current version (corrections applied; retracted "
    "ones marked).\n",
    alerts_run};

int cmd_alerts(cli *c, int argc, char **argv)
{
	return cli_view_main(c, argc, argv, &alerts_spec);
}
