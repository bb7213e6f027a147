/*
 * cmd_peer: `hutong peer add|remove|list`, the operator's side of the
 * "[peer NAME]" sections in NODEDIR/hutongd.conf. `add` checks the
 * neighbour's certificate with this node's CA bundle and CRL before it
 * writes anything, copies it to NODEDIR/peers/NAME.crt and appends the
 * section; `remove` deletes the section. Neither talks to a running daemon:
 * hutongd applies the change on SIGHUP without dropping its other links.
 *
 * Exit codes: 0 done, 1 refused or failed (reason on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "pki.h"
#include "util.h"

typedef struct peer_opts {
	const char *cert, *endpoint, *name;
	bool json;
} peer_opts;

typedef struct peer_sub {
	const char *name;
	int (*fn)(cli *c, const peer_opts *o, int argc, char **argv);
	const char *usage;
	const char *help;
} peer_sub;

static const peer_sub *find_sub(const char *name);

/* ---- shared ---- */

static int sub_help(const char *name)
{
	const peer_sub *s = find_sub(name);
	printf("usage: hutong peer %s\n\n%s\n", s->usage, s->help);
	return CLI_OK;
}

/* Tell the operator how the change reaches a running daemon. */
static void daemon_hint(cli *c)
{
	char pid[PATH_MAX];
	util_path_join(c->cf->dir, "hutongd.pid", pid, sizeof(pid));
	if (ctl_is_running(c->cf->control))
		printf("hutongd is running: send it SIGHUP to apply the change "
		       "(kill -HUP $(cat %s));\nits other links stay up.\n",
		       pid);
	else
		printf("hutongd is not running; the change applies when it "
		       "starts.\n");
}

/* This node's trust store (CA bundle + CRL), or NULL with err set. */
static pki_store *node_store(const conf *cf, ht_err *err)
{
	const char *crls[1] = {cf->crl};
	return pki_store_load(cf->ca_bundle, crls, 1, err);
}

/* Read the chain in path and verify it now against this node's CA bundle
 * and CRL. 0 with *chain (caller clears) and *id, or CLI_FAIL (printed). */
static int check_cert(cli *c, const char *path, pki_chain *chain,
		      pki_identity *id)
{
	ht_err err = {0};
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	pki_store *s = node_store(c->cf, &err);
	if (s == NULL)
		return cli_fail(c,
				"cannot check certificates: %s (this node's "
				"CA bundle %s and CRL %s must be in place)",
				ht_err_str(&err, msg, sizeof(msg)),
				c->cf->ca_bundle, c->cf->crl);
	int rc = pki_chain_read_pem(path, chain, &err);
	if (rc == 0)
		rc = pki_verify_chain(
		    s, (const uint8_t *const *)chain->der, chain->len, chain->n,
		    util_clock_system()->now_ms(NULL), id, &err);
	pki_store_free(&s);
	if (rc == 0)
		return 0;
	pki_chain_clear(chain);
	return cli_fail(c, "%s: certificate refused: %s", path,
			ht_err_str(&err, msg, sizeof(msg)));
}

/* No configured peer may already be that node, and it is not us. */
static int check_new_node(cli *c, const char *name, const pki_identity *id)
{
	if (strcmp(id->name, c->cf->name) == 0)
		return cli_fail(c,
				"that is this node's own certificate "
				"(node '%s')",
				id->name);
	if (conf_peer_find(c->cf, name) != NULL)
		return cli_fail(c,
				"peer '%s' is already configured (hutong "
				"peer remove %s first)",
				name, name);
	for (size_t i = 0; i < c->cf->n_peers; i++) {
		pki_identity other;
		if (pki_identity_from_pem_file(c->cf->peers[i].cert, &other,
					       NULL) == 0 &&
		    strcmp(other.name, id->name) == 0)
			return cli_fail(c, "node '%s' is already peer '%s'",
					id->name, c->cf->peers[i].name);
	}
	return 0;
}

/* ---- add ---- */

/* Write the chain to NODEDIR/peers/NAME.crt; *fresh says whether the file
 * is new (so a failed add can take it back). */
static int install_cert(cli *c, const char *name, const pki_chain *chain,
			char *dest, size_t len, bool *fresh)
{
	char dir[PATH_MAX], file[PATH_MAX];
	ht_err err = {0};
	util_path_join(c->cf->dir, "peers", dir, sizeof(dir));
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return cli_fail(c, "%s: %s", dir, strerror(errno));
	snprintf(file, sizeof(file), "peers/%s.crt", name);
	if (util_path_join(c->cf->dir, file, dest, len) != 0)
		return cli_fail(c, "%s: path too long", c->cf->dir);
	*fresh = access(dest, F_OK) != 0;
	if (pki_chain_write_pem(dest, (const uint8_t *const *)chain->der,
				chain->len, chain->n, &err) != 0)
		return cli_fail_err(c, &err);
	return 0;
}

static int add_section(cli *c, const peer_opts *o, const char *name,
		       const pki_chain *chain)
{
	char dest[PATH_MAX], rel[PATH_MAX];
	bool fresh = false;
	ht_err err = {0};
	int rc = install_cert(c, name, chain, dest, sizeof(dest), &fresh);
	if (rc != 0)
		return rc;
	snprintf(rel, sizeof(rel), "peers/%s.crt", name);
	if (conf_file_add_peer(c->cf->path, name, o->endpoint, rel, &err) !=
	    0) {
		if (fresh)
			unlink(dest);
		return cli_fail_err(c, &err);
	}
	return 0;
}

static int peer_add(cli *c, const peer_opts *o, int argc, char **argv)
{
	pki_chain chain = {0};
	pki_identity id;
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if (o->cert == NULL || o->endpoint == NULL)
		return cli_usage(c, "--cert and --endpoint are required");
	if (o->name != NULL && !conf_is_node_name(o->name))
		return cli_usage(c,
				 "--name: 1-64 of a-z 0-9 . _ - starting with "
				 "a letter or digit, got '%.70s'",
				 o->name);
	if (cli_conf(c) != 0 || check_cert(c, o->cert, &chain, &id) != 0)
		return CLI_FAIL;
	const char *name = o->name ? o->name : id.name;
	int rc = check_new_node(c, name, &id);
	if (rc == 0)
		rc = add_section(c, o, name, &chain);
	pki_chain_clear(&chain);
	if (rc != 0)
		return rc;
	printf("added peer %s (node %s, region %s) at %s\n", name, id.name,
	       id.region, o->endpoint);
	daemon_hint(c);
	return CLI_OK;
}

/* ---- remove ---- */

static int peer_remove(cli *c, const peer_opts *o, int argc, char **argv)
{
	ht_err err = {0};
	(void)o;
	if (argc - optind != 1)
		return cli_usage(c, "want the peer's NAME");
	const char *name = argv[optind];
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	const conf_peer *p = conf_peer_find(c->cf, name);
	if (p == NULL)
		return cli_fail(c, "no peer '%s' in %s", name, c->cf->path);
	char cert[PATH_MAX];
	snprintf(cert, sizeof(cert), "%s", p->cert);
	if (conf_file_remove_peer(c->cf->path, name, &err) != 0)
		return cli_fail_err(c, &err);
	printf("removed peer %s (its certificate stays at %s)\n", name, cert);
	daemon_hint(c);
	return CLI_OK;
}

/* ---- list ---- */

static json_t *peer_json(const conf_peer *p, const pki_store *s)
{
	pki_identity id, checked;
	pki_chain chain = {0};
	ht_err err = {0};
	char hex[2 * PKI_LINK_BYTES + 1];
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	bool parsed = pki_identity_from_pem_file(p->cert, &id, &err) == 0;
	int rc = parsed ? pki_chain_read_pem(p->cert, &chain, &err) : HT_EINVAL;
	if (rc == 0 && s != NULL)
		rc = pki_verify_chain(
		    s, (const uint8_t *const *)chain.der, chain.len, chain.n,
		    util_clock_system()->now_ms(NULL), &checked, &err);
	pki_chain_clear(&chain);
	const char *status = rc == 0 && s != NULL ? "ok"
			     : rc == 0		  ? "not checked"
				       : ht_err_str(&err, msg, sizeof(msg));
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", p->name, "endpoint",
	    p->endpoint, "cert", p->cert, "node", parsed ? id.name : "",
	    "region", parsed ? id.region : "", "link_key",
	    parsed ? util_hex(id.link_pk, PKI_LINK_BYTES, hex) : "",
	    "certificate", status);
}

static void list_text(const json_t *a)
{
	size_t i;
	json_t *p;
	if (json_array_size(a) == 0)
		printf("no peers\n");
	json_array_foreach(a, i, p)
	{
		printf(
		    "%s\n  endpoint     %s\n  cert         %s\n  node         "
		    "%s (region %s)\n  link key     %.16s\n  certificate  "
		    "%s\n",
		    json_string_value(json_object_get(p, "name")),
		    json_string_value(json_object_get(p, "endpoint")),
		    json_string_value(json_object_get(p, "cert")),
		    json_string_value(json_object_get(p, "node")),
		    json_string_value(json_object_get(p, "region")),
		    json_string_value(json_object_get(p, "link_key")),
		    json_string_value(json_object_get(p, "certificate")));
	}
}

static int peer_list(cli *c, const peer_opts *o, int argc, char **argv)
{
	ht_err err = {0};
	if (optind != argc)
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	pki_store *s = node_store(c->cf, &err); /* NULL: "not checked" */
	json_t *a = json_array();
	for (size_t i = 0; i < c->cf->n_peers; i++)
		json_array_append_new(a, peer_json(&c->cf->peers[i], s));
	pki_store_free(&s);
	if (o->json)
		cli_print_json(a, true);
	else
		list_text(a);
	json_decref(a);
	return CLI_OK;
}

/* ---- the table ---- */

static const peer_sub subs[] = {
    {"add", peer_add,
     "add --dir NODEDIR --cert PEER.crt --endpoint tcp://HOST:PORT "
     "[--name NAME]",
     "Add a neighbour. Its node certificate (with its provincial CA's\n"
     "certificate after it, if any) must verify with this node's CA\n"
     "bundle and CRL now, or nothing is written. It is copied to\n"
     "NODEDIR/peers/NAME.crt and a [peer NAME] section with the endpoint\n"
     "(the neighbour's `listen`) is appended to hutongd.conf.\n"
     "NAME defaults to the node name in the certificate; it is only a\n"
     "label here: links are authenticated by the certificate's link key\n"
     "and attributed to the certificate's node name. Both neighbours\n"
     "must add each other. A running hutongd applies it on SIGHUP."},
    {"remove", peer_remove, "remove --dir NODEDIR NAME",
     "Remove the [peer NAME] section from hutongd.conf (its certificate\n"
     "file stays). On SIGHUP a running hutongd closes both links to that\n"
     "peer and refuses its reconnections; its other links stay up."},
    {"list", peer_list, "list [--dir NODEDIR] [--json]",
     "Show the configured peers: endpoint, certificate file, the node\n"
     "and region it certifies, its link key, and whether it verifies now\n"
     "with this node's CA bundle and CRL. Live link state is in\n"
     "'hutong status'."},
};
#define N_SUBS (sizeof(subs) / sizeof(subs[0]))

static const peer_sub *find_sub(const char *name)
{
	for (size_t i = 0; i < N_SUBS; i++)
		if (strcmp(subs[i].name, name) == 0)
			return &subs[i];
	return NULL;
}

static void peer_usage(FILE *f)
{
	fprintf(f, "usage: hutong [-d NODEDIR] peer COMMAND [OPTIONS]\n\n");
	for (size_t i = 0; i < N_SUBS; i++)
		fprintf(f, "  hutong peer %s\n", subs[i].usage);
	fprintf(f, "\n'hutong peer COMMAND --help' explains each command.\n");
}

/* Parse the options every subcommand shares; 0, -1 after --help, or a
 * CLI_* code. */
static int parse_opts(cli *c, const char *sub, int argc, char **argv,
		      peer_opts *o)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"cert", required_argument, NULL, 'c'},
	    {"endpoint", required_argument, NULL, 'e'},
	    {"name", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	int ch;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "hd:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			c->dir = optarg;
			break;
		case 'c':
			o->cert = optarg;
			break;
		case 'e':
			o->endpoint = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			sub_help(sub);
			return -1;
		default:
			return cli_usage(c, "bad option");
		}
	}
	return 0;
}

int cmd_peer(cli *c, int argc, char **argv)
{
	peer_opts o = {0};
	if (argc < 2) {
		peer_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		peer_usage(stdout);
		return CLI_OK;
	}
	const peer_sub *s = find_sub(argv[1]);
	if (s == NULL) {
		fprintf(stderr, "hutong peer: unknown command '%s'\n", argv[1]);
		peer_usage(stderr);
		return CLI_USAGE;
	}
	int rc = parse_opts(c, s->name, argc - 1, argv + 1, &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return s->fn(c, &o, argc - 1, argv + 1);
}
