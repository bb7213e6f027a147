/*
 * cmd_csr: `hutong csr --key KEY --out FILE`, a certificate request for a
 * (new) identity key with this node's name, region and link key: the first
 * step of a key rotation (see cmd_rotate.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ca.h"
#include "cli.h"
#include "ident.h"
#include "pki.h"

static const char csr_help[] =
    "usage: hutong -d NODEDIR csr --key KEY --out "
    "FILE\n\nWrites a certificate request for KEY "
    "(an Ed25519 PEM key, e.g. a new one\nmade with "
    "'openssl genpkey -algorithm ed25519 -out new.key'"
    ") with this node's\nname, region and link key, for"
    " a key rotation (see 'hutong rotate --help').\n";

/* 0, -1 after printing help, or a CLI_* code (printed). */
static int parse_csr(cli *c, int argc, char **argv, const char **key,
		     const char **out)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s", csr_help);
			return -1;
		}
		if (opt != 'k' && opt != 'o')
			return cli_usage(c, "bad option");
		*(opt == 'k' ? key : out) = optarg;
	}
	if (*key == NULL || *out == NULL || optind != argc)
		return cli_usage(c, "--key and --out are required");
	return 0;
}

int cmd_csr(cli *c, int argc, char **argv)
{
	const char *key = NULL, *out = NULL;
	int rc = parse_csr(c, argc, argv, &key, &out);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	uint8_t lpk[IDENT_LINK_BYTES], lsk[IDENT_LINK_BYTES];
	ht_err err = {0};
	rc = ident_link_load(c->cf->link_key, lpk, lsk, &err);
	memset(lsk, 0, sizeof(lsk));
	if (rc == 0)
		rc = pki_write_csr(key, lpk, c->cf->name, c->cf->region, out,
				   &err);
	if (rc != 0)
		return cli_fail_err(c, &err);
	printf("wrote %s\n", out);
	return CLI_OK;
}
