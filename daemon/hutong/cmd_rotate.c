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

static const char rotate_help[] =
    "usage: hutong -d NODEDIR rotate --cert NEW.crt "
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
    "--key new.key --cert new.crt.\n";

/* 0, -1 after printing help, or a CLI_* code (printed). */
static int parse_rotate(cli *c, int argc, char **argv, const char **cert,
			const char **key)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"cert", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s", rotate_help);
			return -1;
		}
		if (opt != 'k' && opt != 'c')
			return cli_usage(c, "bad option");
		*(opt == 'k' ? key : cert) = optarg;
	}
	if (*cert == NULL || optind != argc)
		return cli_usage(c, "--cert is required");
	return 0;
}

/* Ask hutongd to rotate to the files at these absolute paths. */
static int rotate_via_daemon(cli *c, char *cert, char *key)
{
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__RotateRequest rr = HUTONG__ROTATE_REQUEST__INIT;
	Hutong__ControlReply *rep = NULL;
	ht_err err = {0};
	rr.cert_path = cert;
	rr.key_path = key;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_ROTATE;
	req.rotate = &rr;
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

int cmd_rotate(cli *c, int argc, char **argv)
{
	const char *key = NULL, *cert = NULL;
	int rc = parse_rotate(c, argc, argv, &cert, &key);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	char certabs[PATH_MAX], keyabs[PATH_MAX];
	if (realpath(cert, certabs) == NULL ||
	    (key != NULL && realpath(key, keyabs) == NULL))
		return cli_fail(c, "%s: no such file",
				key && realpath(cert, certabs) ? key : cert);
	return rotate_via_daemon(c, certabs, key ? keyabs : "");
}
