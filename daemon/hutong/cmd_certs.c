/*
 * cmd_certs: `hutong certs` lists every known origin with its certificate
 * as this node judges it now (read-only: ledger plus the configured CA
 * bundle, CRLs and the revocation records held). Requests and rotations of
 * the node's own certificate are cmd_csr.c and cmd_rotate.c.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "cli.h"
#include "ctl.h"
#include "ident.h"
#include "node.h"
#include "pki.h"
#include "util.h"

static const char *cert_state(const node_cert_state *st, int64_t now)
{
	if (!st->trusted)
		return "untrusted";
	if (st->revoked_ms != INT64_MAX)
		return "revoked";
	if (now > st->id.not_after_ms)
		return "expired";
	if (now < st->id.not_before_ms)
		return "not yet valid";
	return "valid";
}

static json_t *origin_json(ledger *l, pki_store *pki, const ledger_origin *o,
			   int64_t now)
{
	node_cert_state st;
	char t1[40], t2[40], t3[40];
	node_judge_origin(l, pki, o, &st, NULL);
	json_t *j = json_pack("{s:s, s:s, s:s}", "region", o->region, "node",
			      o->node, "state", cert_state(&st, now));
	if (!st.trusted) {
		json_object_set_new(j, "reason", json_string(st.reason));
		return j;
	}
	json_object_set_new(j, "issuer", json_string(st.id.issuer));
	json_object_set_new(j, "serial", json_string(st.id.serial));
	json_object_set_new(
	    j, "not_before",
	    json_string(util_format_time(st.id.not_before_ms, t1, sizeof(t1))));
	json_object_set_new(
	    j, "not_after",
	    json_string(util_format_time(st.id.not_after_ms, t2, sizeof(t2))));
	json_object_set_new(
	    j, "revoked",
	    st.revoked_ms == INT64_MAX
		? json_null()
		: json_string(util_format_time(st.revoked_ms, t3, sizeof(t3))));
	return j;
}

static void certs_text(const json_t *arr)
{
	size_t i;
	json_t *o;
	printf("%-7s %-16s %-10s %-20s %-24s %s\n", "REGION", "NODE", "STATE",
	       "ISSUER", "VALID UNTIL", "DETAIL");
	json_array_foreach(arr, i, o)
	{
		const char *rev =
		    json_string_value(json_object_get(o, "revoked"));
		const char *why =
		    json_string_value(json_object_get(o, "reason"));
		printf("%-7s %-16s %-10s %-20s %-24s %s%s\n",
		       json_string_value(json_object_get(o, "region")),
		       json_string_value(json_object_get(o, "node")),
		       json_string_value(json_object_get(o, "state")),
		       json_string_value(json_object_get(o, "issuer")) ?: "-",
		       json_string_value(json_object_get(o, "not_after"))
			   ?: "-",
		       rev ? "revoked since " : "",
		       rev   ? rev
		       : why ? why
			     : "");
	}
}

/* The trust store of the node's config plus the ledger's revocations. */
static pki_store *cli_pki(cli *c, ledger *l)
{
	ht_err err = {0};
	const char *crls[] = {c->cf->crl};
	pki_store *pki = pki_store_load(c->cf->ca_bundle, crls, 1, &err);
	if (pki == NULL) {
		cli_fail_err(c, &err);
		return NULL;
	}
	node_load_revocations(l, pki, NULL);
	return pki;
}

int cmd_certs(cli *c, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf(
		    "usage: hutong -d NODEDIR certs [--json]\n\nEvery origin "
		    "this node knows, with its certificate as judged now\n"
		    "against the configured CA bundle and CRLs and the "
		    "revocation records held:\nregion, node, state (valid, "
		    "expired, revoked, untrusted), issuer, serial,\nvalidity "
		    "and the revocation date or the reason it is not "
		    "trusted.\n");
		return CLI_OK;
	}
	if (argc > 1 && !json)
		return cli_usage(c, "unexpected argument '%s'", argv[1]);
	ledger *l = cli_ledger(c);
	pki_store *pki = l ? cli_pki(c, l) : NULL;
	if (pki == NULL) {
		ledger_close(&l);
		return CLI_FAIL;
	}
	int64_t now = util_clock_system()->now_ms(NULL);
	json_t *arr = json_array();
	for (size_t i = 0; i < ledger_origin_count(l); i++)
		json_array_append_new(
		    arr, origin_json(l, pki, ledger_origin_at(l, i), now));
	if (json)
		cli_print_json(arr, true);
	else
		certs_text(arr);
	json_decref(arr);
	pki_store_free(&pki);
	ledger_close(&l);
	return CLI_OK;
}
