/*
 * cmd_rotate: `hutong rotate --cert NEW.crt [--key NEW.key]`, asks hutongd
 * to record a renewed certificate or a new key in this node's chain (a
 * rotation record signed by the current key) and to install the new files.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "ctl.h"

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
	int rc = ctl_call(c->cf->control, &req, CTL_TIMEOUT_MS, &rep, &err);
	if (rc != 0)
		rc = cli_fail_err(c, &err);
	else if (rep->code != 0)
		rc = cli_fail(c, "%s", rep->error);
	else if (rep->n_results == 1)
		cli_put_result(rep->results[0]);
	cli_reply_free(&rep);
	return rc;
}
