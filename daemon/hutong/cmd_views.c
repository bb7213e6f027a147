/*
 * cmd_views: `hutong views`, the digest and count of each view (cases,
 * organizations, leads): nodes holding the same records print the same
 * digests whatever order the records arrived in. Reads the ledger
 * read-only.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli_view.h"
#include "util.h"

int cmd_views(cli *c, int argc, char **argv)
{
	cli_view_opts o = {0};
	int rc = cli_view_parse(c, argc, argv, "", "usage: hutong -d NODEDIR views "
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

