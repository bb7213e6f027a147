/*
 * cmd_init: make a node directory: the Ed25519 identity key, the X25519 link
 * key, a commented hutongd.conf, and node.csr for the CA. Everything is
 * checked before anything is written (name, region, listen, the directory:
 * not one another user controls, none of these files in it yet), so a
 * refused init leaves nothing behind and can simply be run again.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca.h"
#include "cli.h"
#include "ident.h"
#include "perm.h"
#include "pki.h"
#include "region.h"
#include "util.h"

typedef struct init_args {
	const char *name, *region, *listen;
} init_args;

static void init_help(void)
{
	printf(
	    "usage: hutong init --dir NODEDIR --name NAME --region CODE "
	    "[--listen ENDPOINT]\n\n"
	    "Creates NODEDIR (mode 0700) with:\n"
	    "  node.key      Ed25519 identity key, PEM, 0600 (signs records)\n"
	    "  link.key      X25519 link key, PEM, 0600 (CurveZMQ links)\n"
	    "  hutongd.conf  commented configuration\n"
	    "  node.csr      certificate request for your CA: name, region "
	    "and link key\n"
	    "NAME: 1-64 of a-z 0-9 . _ - ; CODE: the bureau's six-digit GB/T "
	    "2260 code;\nENDPOINT: tcp://HOST:PORT where hutongd listens "
	    "for peers.\nChecks everything before it writes anything; "
	    "refuses to overwrite a node's\nfiles, and a directory (or one "
	    "above it) that another user owns or that\ngroup or others "
	    "can write (see hutongd(8), FILES AND PERMISSIONS).\n");
}

static void report_problem(void *ctx, const char *line)
{
	cli *c = ctx;
	cli_fail(c, "%s", line);
}

/* The directory as it is now: one another user controls is refused
 * (perm.h), and so is one that already holds any file init writes. */
static int check_existing(cli *c, const char *dir)
{
	static const char *const files[] = {"node.key", "link.key",
					    "hutongd.conf", "node.csr"};
	char path[PATH_MAX];
	if (perm_check(dir, PERM_DIR, report_problem, c) != 0)
		return cli_fail(c,
				"%s: refusing a directory another user "
				"could change",
				dir);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		util_path_join(dir, files[i], path, sizeof(path));
		if (access(path, F_OK) == 0)
			return cli_fail(c,
					"%s already exists; refusing to "
					"overwrite a node's files",
					path);
	}
	return 0;
}

/* Everything that can be checked before a file is written. */
static int check_all(cli *c, const char *dir, const init_args *a)
{
	ht_err err = {0};
	if (util_check_region(a->region, "--region", &err) != 0)
		return cli_fail_err(c, &err) + 1;
	if (!region_known(a->region)) /* the table changes: warn, not refuse */
		fprintf(stderr,
			"hutong init: warning: --region %s is not in the "
			"GB/T 2260 table; check the code\n",
			a->region);
	if (a->listen != NULL && a->listen[0] != '\0' &&
	    conf_check_listen(a->listen, &err) != 0) {
		snprintf(err.field, sizeof(err.field), "--listen");
		return cli_fail_err(c, &err) + 1;
	}
	struct stat st;
	if (stat(dir, &st) == 0)
		return check_existing(c, dir);
	if (errno != ENOENT)
		return cli_fail(c, "%s: %s", dir, strerror(errno));
	if (perm_check_parents(dir, report_problem, c) != 0)
		return cli_fail(c, "%s: refusing to create it there", dir);
	return 0;
}

static int make_dir(cli *c, const char *dir)
{
	if (mkdir(dir, 0700) != 0) {
		if (errno != EEXIST)
			return cli_fail(c, "%s: %s", dir, strerror(errno));
		int rc = check_existing(c, dir); /* made meanwhile */
		if (rc != 0)
			return rc;
	}
	if (chmod(dir, 0700) != 0)
		return cli_fail(c, "%s: %s", dir, strerror(errno));
	return 0;
}

static int create_files(cli *c, const char *dir, const init_args *a)
{
	char key[PATH_MAX], link[PATH_MAX], cfg[PATH_MAX], csr[PATH_MAX];
	uint8_t lpk[IDENT_LINK_BYTES], lsk[IDENT_LINK_BYTES];
	ht_err err = {0};
	util_path_join(dir, "node.key", key, sizeof(key));
	util_path_join(dir, "link.key", link, sizeof(link));
	util_path_join(dir, "hutongd.conf", cfg, sizeof(cfg));
	util_path_join(dir, "node.csr", csr, sizeof(csr));
	int rc = ident_generate(key, &err);
	if (rc == 0)
		rc = ident_link_generate(link, &err);
	if (rc == 0)
		rc = ident_link_load(link, lpk, lsk, &err);
	memset(lsk, 0, sizeof(lsk));
	if (rc == 0)
		rc = conf_write_default(cfg, a->name, a->region,
					a->listen ? a->listen : "", &err);
	if (rc == 0)
		rc = pki_write_csr(key, lpk, a->name, a->region, csr, &err);
	if (rc != 0)
		return cli_fail_err(c, &err);
	printf(
	    "created %s\n  %s\n  %s\n  %s\n  %s\n"
	    "next: have your CA sign it (hutong ca sign --dir CADIR %s --out "
	    "%s/node.crt),\n      copy the CA bundle to %s/ca.crt and its "
	    "CRL to %s/ca.crl,\n      then run: hutongd -c %s\n",
	    dir, key, link, cfg, csr, csr, dir, dir, dir, cfg);
	return CLI_OK;
}

int cmd_init(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"name", required_argument, NULL, 'n'},
	    {"region", required_argument, NULL, 'r'},
	    {"listen", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	init_args a = {0};
	const char *dir = c->dir;
	int opt;
	while ((opt = getopt_long(argc, argv, "hd:", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			a.name = optarg;
			break;
		case 'r':
			a.region = optarg;
			break;
		case 'l':
			a.listen = optarg;
			break;
		case 'h':
			init_help();
			return CLI_OK;
		default:
			return cli_usage(c, "bad option");
		}
	}
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if (dir == NULL || a.name == NULL || a.region == NULL)
		return cli_usage(c, "--dir, --name and --region are required");
	if (!conf_is_node_name(a.name))
		return cli_usage(
		    c,
		    "--name: 1-64 of a-z 0-9 . _ - starting with a "
		    "letter or digit, got '%.70s'",
		    a.name);
	int rc = check_all(c, dir, &a);
	if (rc == 0)
		rc = make_dir(c, dir);
	return rc != 0 ? rc : create_files(c, dir, &a);
}
