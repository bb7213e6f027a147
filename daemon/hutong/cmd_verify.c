/*
 * cmd_verify: `hutong verify`, every stored record re-checked offline
 * (core ledger_verify: encoding, id, signature, chain links, arrival log,
 * frontier, receipts). Names each problem on stderr; exit 1 if any.
 */
#include <jansson.h>
#include <stdio.h>

#include "cli.h"
#include "util.h"

static void verify_problem(void *ctx, const uint8_t *id, const char *region,
			   uint64_t seq, const char *reason)
{
	json_t *list = ctx;
	char hex[CLI_HEX_ID];
	const char *ids = id ? util_hex(id, RECORD_ID_BYTES, hex) : "-";
	json_array_append_new(
	    list, json_pack("{s:s, s:s, s:I, s:s}", "id", ids, "origin", region,
			    "seq", (json_int_t)seq, "problem", reason));
	fprintf(stderr, "BAD %s origin=%s seq=%llu: %s\n", ids, region,
		(unsigned long long)seq, reason);
}

static void verify_put(int n, uint64_t count, json_t *problems, bool json)
{
	if (json) {
		cli_put_json(json_pack("{s:b, s:I, s:o}", "ok", n == 0,
				       "records", (json_int_t)count, "problems",
				       problems),
			     true);
		return;
	}
	json_decref(problems);
	printf("%s: %llu records, %d problem%s\n", n ? "FAILED" : "OK",
	       (unsigned long long)count, n, n == 1 ? "" : "s");
}

/* 0 when clean, CLI_FAIL when problems were found (each printed). */
static int verify_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_query *q = ctx;
	json_t *problems = json_array();
	int n = ledger_verify(l, verify_problem, problems, err);
	(void)c;
	if (n < 0) {
		json_decref(problems);
		return n;
	}
	verify_put(n, ledger_record_count(l), problems, q->json);
	return n == 0 ? 0 : CLI_FAIL;
}

static const char verify_help[] =
    "usage: hutong -d NODEDIR verify [--json]\n\nRe-checks every "
    "stored record offline: envelope encoding, id, signature with\n"
    "its origin's genesis key, chain links and sequence, the arrival"
    " log, the\nfrontier, and receipts (each entry against the chain "
    "it names, each node's\nreceipts never going back, the receipt "
    "index against the receipt records).\nExit 0 when clean; otherwise"
    " names each problem and exits 1.\n";

int cmd_verify(cli *c, int argc, char **argv)
{
	cli_query q = {0};
	int rc = cli_parse_query(c, argc, argv, &q, verify_help);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return cli_read(c, verify_run, &q);
}
