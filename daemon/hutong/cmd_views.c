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

static void views_put(const view_digests *d, bool json)
{
	char h[3][2 * VIEW_DIGEST_BYTES + 1];
	util_hex(d->cases, VIEW_DIGEST_BYTES, h[0]);
	util_hex(d->orgs, VIEW_DIGEST_BYTES, h[1]);
	util_hex(d->leads, VIEW_DIGEST_BYTES, h[2]);
	if (json)
		cli_put_json(json_pack("{s:{s:I,s:s},s:{s:I,s:s},s:{s:I,s:s}}",
				       "cases", "count", (json_int_t)d->n_cases,
				       "digest", h[0], "orgs", "count",
				       (json_int_t)d->n_orgs, "digest", h[1],
				       "leads", "count", (json_int_t)d->n_leads,
				       "digest", h[2]),
			     false);
	else
		printf("cases  %-8llu %s\norgs   %-8llu %s\nleads  %-8llu %s\n",
		       (unsigned long long)d->n_cases, h[0],
		       (unsigned long long)d->n_orgs, h[1],
		       (unsigned long long)d->n_leads, h[2]);
}

static int views_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_view_opts *o = ctx;
	view_digests d;
	int rc = view_digest(l, &d, err);
	(void)c;
	if (rc == 0)
		views_put(&d, o->json);
	return rc;
}

static const cli_view_spec views_spec = {
    "", 0, NULL,
    "usage: hutong -d NODEDIR views "
    "[--json]\n\nThe digest of each view (cases, organizations, "
    "leads) with its count.\nNodes holding the same records print "
    "the same digests, whatever order the\nrecords arrived in "
    "(README: Views).\n",
    views_run};

int cmd_views(cli *c, int argc, char **argv)
{
	return cli_view_main(c, argc, argv, &views_spec);
}
