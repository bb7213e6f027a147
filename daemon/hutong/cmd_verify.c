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
	char hex[2 * RECORD_ID_BYTES + 1];
	const char *ids = id ? util_hex(id, RECORD_ID_BYTES, hex) : "-";
	json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:s}", "id", ids,
					      "origin", region, "seq",
					      (json_int_t)seq, "problem", reason));
	fprintf(stderr, "BAD %s origin=%s seq=%llu: %s\n", ids, region,
		(unsigned long long)seq, reason);
}

int cmd_verify(cli *c, int argc, char **argv)
{
	cli_query q = {0};
	int rc = cli_parse_query(c, argc, argv, &q,
		"usage: hutong -d NODEDIR verify [--json]\n\nRe-checks every "
		"stored record offline: envelope encoding, id, signature with\n"
		"its origin's genesis key, chain links and sequence, the arrival"
		" log, the\nfrontier, and receipts (each entry against the chain "
		"it names, each node's\nreceipts never going back, the receipt "
		"index against the receipt records).\nExit 0 when clean; otherwise"
		" names each problem and exits 1.\n");
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	json_t *problems = json_array();
	ht_err err = {0};
	int n = ledger_verify(l, verify_problem, problems, &err);
	uint64_t count = ledger_record_count(l);
	ledger_close(&l);
	if (n < 0) {
		json_decref(problems);
		return cli_fail_err(c, &err);
	}
	if (q.json) {
		json_t *j = json_pack("{s:b, s:I, s:o}", "ok", n == 0, "records",
				      (json_int_t)count, "problems", problems);
		cli_print_json(j, true);
		json_decref(j);
	} else {
		json_decref(problems);
		printf("%s: %llu records, %d problem%s\n", n ? "FAILED" : "OK",
		       (unsigned long long)count, n, n == 1 ? "" : "s");
	}
	return n == 0 ? CLI_OK : CLI_FAIL;
}

