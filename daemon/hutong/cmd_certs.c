/*
 * cmd_certs: the trust commands of a node: `certs` lists every known origin
 * with its certificate as this node judges it now (read-only: ledger plus
 * the configured CA bundle, CRLs and the revocation records held),
 * `csr` writes a certificate request for a (new) key, and `rotate` asks the
 * daemon to record a renewed certificate or a new key.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "cli.h"
#include "ident.h"
#include "node.h"
#include "pki.h"
#include "ctl.h"
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
	json_object_set_new(j, "not_before", json_string(util_format_time(
		st.id.not_before_ms, t1, sizeof(t1))));
	json_object_set_new(j, "not_after", json_string(util_format_time(
		st.id.not_after_ms, t2, sizeof(t2))));
	json_object_set_new(j, "revoked", st.revoked_ms == INT64_MAX
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
	json_array_foreach(arr, i, o) {
		const char *rev = json_string_value(json_object_get(o, "revoked"));
		const char *why = json_string_value(json_object_get(o, "reason"));
		printf("%-7s %-16s %-10s %-20s %-24s %s%s\n",
		       json_string_value(json_object_get(o, "region")),
		       json_string_value(json_object_get(o, "node")),
		       json_string_value(json_object_get(o, "state")),
		       json_string_value(json_object_get(o, "issuer")) ?: "-",
		       json_string_value(json_object_get(o, "not_after")) ?: "-",
		       rev ? "revoked since " : "", rev ? rev : why ? why : "");
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
		printf("usage: hutong -d NODEDIR certs [--json]\n\nEvery origin "
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
		json_array_append_new(arr, origin_json(l, pki,
						       ledger_origin_at(l, i), now));
	if (json)
		cli_print_json(arr, true);
	else
		certs_text(arr);
	json_decref(arr);
	pki_store_free(&pki);
	ledger_close(&l);
	return CLI_OK;
}

int cmd_csr(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *key = NULL, *out = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'k') key = optarg;
		else if (opt == 'o') out = optarg;
		else if (opt == 'h') {
			printf("usage: hutong -d NODEDIR csr --key KEY --out "
			       "FILE\n\nWrites a certificate request for KEY "
			       "(an Ed25519 PEM key, e.g. a new one\nmade with "
			       "'openssl genpkey -algorithm ed25519 -out new.key'"
			       ") with this node's\nname, region and link key, for"
			       " a key rotation (see 'hutong rotate --help').\n");
			return CLI_OK;
		} else return cli_usage(c, "bad option");
	}
	if (key == NULL || out == NULL || optind != argc)
		return cli_usage(c, "--key and --out are required");
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	uint8_t lpk[IDENT_LINK_BYTES], lsk[IDENT_LINK_BYTES];
	ht_err err = {0};
	int rc = ident_link_load(c->cf->link_key, lpk, lsk, &err);
	memset(lsk, 0, sizeof(lsk));
	if (rc == 0)
		rc = pki_write_csr(key, lpk, c->cf->name, c->cf->region, out, &err);
	if (rc != 0)
		return cli_fail_err(c, &err);
	printf("wrote %s\n", out);
	return CLI_OK;
}

int cmd_rotate(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"cert", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *key = NULL, *cert = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'k') key = optarg;
		else if (opt == 'c') cert = optarg;
		else if (opt == 'h') {
			printf("usage: hutong -d NODEDIR rotate --cert NEW.crt "
			       "[--key NEW.key]\n\nRecords a renewed certificate"
			       " (same key) or a new key in this node's chain:\n"
			       "a rotation record signed by the current key and "
			       "carrying the new chain;\nrecords after it are "
			       "signed with the new key. hutongd must be running;"
			       "\nit installs the new files at the configured "
			       "key and cert paths.\nKey rotation: openssl genpkey"
			       " -algorithm ed25519 -out new.key; chmod 600\n"
			       "new.key; hutong -d NODEDIR csr --key new.key --out"
			       " new.csr; have the CA\nsign new.csr; then rotate "
			       "--key new.key --cert new.crt.\n");
			return CLI_OK;
		} else return cli_usage(c, "bad option");
	}
	if (cert == NULL || optind != argc)
		return cli_usage(c, "--cert is required");
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	char certabs[PATH_MAX], keyabs[PATH_MAX];
	if (realpath(cert, certabs) == NULL ||
	    (key != NULL && realpath(key, keyabs) == NULL))
		return cli_fail(c, "%s: no such file", key && realpath(cert, certabs)
						     ? key : cert);
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__RotateRequest rr = HUTONG__ROTATE_REQUEST__INIT;
	rr.cert_path = certabs;
	rr.key_path = key ? keyabs : "";
	req.op_case = HUTONG__CONTROL_REQUEST__OP_ROTATE;
	req.rotate = &rr;
	Hutong__ControlReply *rep = NULL;
	ht_err err = {0};
	char hex[2 * RECORD_ID_BYTES + 1];
	int rc = ctl_call(c->cf->control, &req, CTL_TIMEOUT_MS, &rep, &err);
	if (rc != 0)
		rc = cli_fail_err(c, &err);
	else if (rep->code != 0)
		rc = cli_fail(c, "%s", rep->error);
	else if (rep->n_results == 1 && rep->results[0]->id.len == RECORD_ID_BYTES)
		printf("%s\n", util_hex(rep->results[0]->id.data, RECORD_ID_BYTES,
					hex));
	if (rep)
		hutong__control_reply__free_unpacked(rep, NULL);
	return rc;
}
