/*
 * cmd_list: `hutong list`, the records in arrival order, one line each (id,
 * created, origin/seq, kind, author, a summary of the body) or one JSON
 * object per line. It reads the ledger read-only, so it works whether or
 * not hutongd runs; the filters are the ones export takes (cli_query).
 */
#include <jansson.h>
#include <stdio.h>

#include "cli.h"
#include "util.h"

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
	const cli_query *q = ctx;
	if (q->json) {
		cli_put_json(cli_record_json(r, m), false);
		return 0;
	}
	const Hutong__Header *h = record_header(r);
	char hex[CLI_HEX_ID], t[CLI_TIME_MAX], reg[CLI_REGION_MAX];
	printf("%s  %s  %s/%llu  %-12s  %-12s  %.60s\n", cli_hex_id(r, hex),
	       cli_time(h->created_ms, t), cli_region(h->origin_region, reg),
	       (unsigned long long)h->seq, record_kind_name(h->kind), h->author,
	       body_summary(r));
	return 0;
}

static int list_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	cli_query *q = ctx;
	(void)c;
	return ledger_each(l, &q->f, list_row, q, err);
}

static const char list_help[] =
    "usage: hutong -d NODEDIR list [--kind K] [--origin CODE] "
    "[--author ID]\n       [--since TIME] [--until TIME] [--limit N]"
    " [--json]\n\nLists records in arrival order: id, created, "
    "origin/seq, kind, author, summary.\nWith --json, one JSON object"
    " per line (the keys of 'show --json').\nKinds: intel, "
    "repatriation, org, correction, genesis.\n";

int cmd_list(cli *c, int argc, char **argv)
{
	cli_query q = {0};
	int rc = cli_parse_query(c, argc, argv, &q, list_help);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return cli_read(c, list_run, &q);
}
