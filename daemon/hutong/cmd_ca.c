/*
 * cmd_ca: `hutong ca`, the certificate authority a bureau runs: create the
 * national root or a provincial CA, issue node certificates from CSRs, revoke
 * them, re-issue CRLs, and show or verify a node certificate the way hutongd
 * does. The work is in pki.c; this file only parses arguments (a table of
 * subcommands, getopt_long per subcommand) and prints results.
 *
 * Exit codes: 0 success, 1 refused or failed (the reason on stderr as
 * "hutong ca SUB: reason"), 2 usage error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "err.h"
#include "pki.h"
#include "util.h"

#define CA_MAX_CRLS 16
#define CA_EXIT_FAIL 1
#define CA_EXIT_USAGE 2

typedef struct ca_sub {
	const char *name;
	int (*fn)(const struct ca_sub *sub, int argc, char **argv);
	const char *usage;
	const char *help;
} ca_sub;

static int usage_error(const ca_sub *sub, const char *fmt, ...) HT_PRINTF(2, 3);

static int usage_error(const ca_sub *sub, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "hutong ca %s: ", sub->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: hutong ca %s\n", sub->usage);
	return CA_EXIT_USAGE;
}

static int fail(const ca_sub *sub, const ht_err *err)
{
	char buf[HT_ERR_FIELD_MAX + HT_ERR_MSG_MAX + 4];
	fprintf(stderr, "hutong ca %s: %s\n", sub->name,
		ht_err_str(err, buf, sizeof(buf)));
	return CA_EXIT_FAIL;
}

static void print_help(const ca_sub *sub)
{
	printf("usage: hutong ca %s\n\n%s\n", sub->usage, sub->help);
}

static int parse_days(const ca_sub *sub, const char *s, int *days)
{
	uint64_t v;
	if (util_parse_u64(s, 1, 36500, &v) != 0)
		return usage_error(sub, "--days: want 1 to 36500, got '%s'", s);
	*days = (int)v;
	return 0;
}

/* Options shared by the subcommands; each uses the ones it needs. */
typedef struct ca_opts {
	const char *dir, *name, *parent, *province, *out, *cert, *reason;
	const char *bundle, *at;
	const char *crls[CA_MAX_CRLS];
	size_t n_crls;
	int days;
	int help;
} ca_opts;

enum {
	OPT_DIR = 256,
	OPT_NAME,
	OPT_PARENT,
	OPT_PROVINCE,
	OPT_OUT,
	OPT_CERT,
	OPT_REASON,
	OPT_BUNDLE,
	OPT_CRL,
	OPT_AT,
	OPT_DAYS,
	OPT_HELP
};

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"name", required_argument, NULL, OPT_NAME},
    {"parent", required_argument, NULL, OPT_PARENT},
    {"province", required_argument, NULL, OPT_PROVINCE},
    {"out", required_argument, NULL, OPT_OUT},
    {"cert", required_argument, NULL, OPT_CERT},
    {"reason", required_argument, NULL, OPT_REASON},
    {"bundle", required_argument, NULL, OPT_BUNDLE},
    {"crl", required_argument, NULL, OPT_CRL},
    {"at", required_argument, NULL, OPT_AT},
    {"days", required_argument, NULL, OPT_DAYS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Store one option; `allowed` lists the OPT_* values this subcommand takes
 * (0-terminated). Returns 0 or an exit code. */
static int take_opt(const ca_sub *sub, int c, const int *allowed, ca_opts *o)
{
	bool ok = c == OPT_HELP;
	for (const int *a = allowed; *a != 0 && !ok; a++)
		ok = *a == c;
	if (!ok)
		return usage_error(sub, "%s", "unknown or misplaced option");
	switch (c) {
	case OPT_DIR:
		o->dir = optarg;
		break;
	case OPT_NAME:
		o->name = optarg;
		break;
	case OPT_PARENT:
		o->parent = optarg;
		break;
	case OPT_PROVINCE:
		o->province = optarg;
		break;
	case OPT_OUT:
		o->out = optarg;
		break;
	case OPT_CERT:
		o->cert = optarg;
		break;
	case OPT_REASON:
		o->reason = optarg;
		break;
	case OPT_BUNDLE:
		o->bundle = optarg;
		break;
	case OPT_AT:
		o->at = optarg;
		break;
	case OPT_HELP:
		o->help = 1;
		break;
	case OPT_DAYS:
		return parse_days(sub, optarg, &o->days);
	case OPT_CRL:
		if (o->n_crls == CA_MAX_CRLS)
			return usage_error(sub, "%s", "too many --crl files");
		o->crls[o->n_crls++] = optarg;
		break;
	}
	return 0;
}

/* Parse argv (argv[0] is the subcommand) into o; positional arguments are
 * left at argv[optind..argc). Returns 0, an exit code, or -1 for --help. */
static int parse_opts(const ca_sub *sub, int argc, char **argv,
		      const int *allowed, ca_opts *o)
{
	memset(o, 0, sizeof(*o));
	optind = 0; /* full reset of GNU getopt */
	opterr = 0;
	int c, rc;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (c == 'h')
			c = OPT_HELP;
		if (c == '?' || c == ':')
			return usage_error(sub, "bad option '%s'",
					   argv[optind - 1]);
		if ((rc = take_opt(sub, c, allowed, o)) != 0)
			return rc;
	}
	if (o->help) {
		print_help(sub);
		return -1;
	}
	return 0;
}

static int want_args(const ca_sub *sub, int argc, int want)
{
	if (argc - optind != want)
		return usage_error(sub, "%s",
				   want ? "want one file argument"
					: "no extra arguments");
	return 0;
}

static int need(const ca_sub *sub, const char *v, const char *flag)
{
	return v ? 0 : usage_error(sub, "%s is required", flag);
}

static int done(int rc) { return rc < 0 ? 0 : rc; }

static int sub_init(const ca_sub *sub, int argc, char **argv)
{
	static const int allowed[] = {OPT_DIR,	    OPT_NAME, OPT_PARENT,
				      OPT_PROVINCE, OPT_DAYS, 0};
	ca_opts o;
	ht_err err;
	int rc = parse_opts(sub, argc, argv, allowed, &o);
	if (rc != 0 || (rc = want_args(sub, argc, 0)) ||
	    (rc = need(sub, o.dir, "--dir")) ||
	    (rc = need(sub, o.name, "--name")))
		return done(rc);
	if ((o.parent == NULL) != (o.province == NULL))
		return usage_error(sub, "%s",
				   "--parent and --province go "
				   "together");
	if (pki_ca_init(o.dir, o.name, o.parent, o.province, o.days, &err))
		return fail(sub, &err);
	printf("created %s CA '%s' in %s\n", o.province ? "provincial" : "root",
	       o.name, o.dir);
	return 0;
}

static int sub_sign(const ca_sub *sub, int argc, char **argv)
{
	static const int allowed[] = {OPT_DIR, OPT_OUT, OPT_DAYS, 0};
	ca_opts o;
	ht_err err;
	int rc = parse_opts(sub, argc, argv, allowed, &o);
	if (rc != 0 || (rc = want_args(sub, argc, 1)) ||
	    (rc = need(sub, o.dir, "--dir")) ||
	    (rc = need(sub, o.out, "--out")))
		return done(rc);
	if (pki_ca_sign_csr(o.dir, argv[optind], o.out, o.days, &err) != 0)
		return fail(sub, &err);
	printf("wrote %s\n", o.out);
	return 0;
}

static int sub_revoke(const ca_sub *sub, int argc, char **argv)
{
	static const int allowed[] = {OPT_DIR, OPT_CERT, OPT_REASON, 0};
	ca_opts o;
	ht_err err;
	int rc = parse_opts(sub, argc, argv, allowed, &o);
	if (rc != 0 || (rc = want_args(sub, argc, 0)) ||
	    (rc = need(sub, o.dir, "--dir")) ||
	    (rc = need(sub, o.cert, "--cert")))
		return done(rc);
	if (pki_ca_revoke(o.dir, o.cert, o.reason, &err) != 0)
		return fail(sub, &err);
	printf("revoked %s; CRL re-issued in %s/crl.pem\n", o.cert, o.dir);
	return 0;
}

static int sub_crl(const ca_sub *sub, int argc, char **argv)
{
	static const int allowed[] = {OPT_DIR, OPT_DAYS, 0};
	ca_opts o;
	ht_err err;
	int rc = parse_opts(sub, argc, argv, allowed, &o);
	if (rc != 0 || (rc = want_args(sub, argc, 0)) ||
	    (rc = need(sub, o.dir, "--dir")))
		return done(rc);
	if (pki_ca_crl(o.dir, o.days, &err) != 0)
		return fail(sub, &err);
	printf("wrote %s/crl.pem\n", o.dir);
	return 0;
}

static void print_identity(const pki_identity *id)
{
	char hex[2 * PKI_PK_BYTES + 1], t1[32], t2[32];
	printf("name      %s\n", id->name);
	printf("region    %s\n", id->region);
	if (id->issuer[0] != '\0')
		printf("issuer    %s\n", id->issuer);
	if (id->province[0] != '\0')
		printf("province  %s\n", id->province);
	printf("serial    %s\n", id->serial);
	printf("valid     %s .. %s\n",
	       util_format_time(id->not_before_ms, t1, sizeof(t1)),
	       util_format_time(id->not_after_ms, t2, sizeof(t2)));
	printf("key       %s\n", util_hex(id->pk, PKI_PK_BYTES, hex));
	printf("link key  %s\n", util_hex(id->link_pk, PKI_LINK_BYTES, hex));
}

static int sub_show(const ca_sub *sub, int argc, char **argv)
{
	static const int allowed[] = {0};
	ca_opts o;
	ht_err err;
	pki_identity id;
	int rc = parse_opts(sub, argc, argv, allowed, &o);
	if (rc != 0 || (rc = want_args(sub, argc, 1)))
		return done(rc);
	if (pki_identity_from_pem_file(argv[optind], &id, &err) != 0)
		return fail(sub, &err);
	print_identity(&id);
	return 0;
}

static int verify_chain_file(const ca_sub *sub, const ca_opts *o,
			     const char *file, int64_t at)
{
	ht_err err;
	pki_identity id;
	pki_chain c;
	pki_store *s = pki_store_load(o->bundle, o->crls, o->n_crls, &err);
	int rc = s ? pki_chain_read_pem(file, &c, &err) : HT_ETRUST;
	if (rc == 0) {
		rc = pki_verify_chain(s, (const uint8_t *const *)c.der, c.len,
				      c.n, at, &id, &err);
		pki_chain_clear(&c);
	}
	pki_store_free(&s);
	if (rc != 0)
		return fail(sub, &err);
	print_identity(&id);
	return 0;
}

static int sub_verify(const ca_sub *sub, int argc, char **argv)
{
	static const int allowed[] = {OPT_BUNDLE, OPT_CRL, OPT_AT, 0};
	ca_opts o;
	int rc = parse_opts(sub, argc, argv, allowed, &o);
	if (rc != 0 || (rc = want_args(sub, argc, 1)) ||
	    (rc = need(sub, o.bundle, "--bundle")))
		return done(rc);
	if (o.n_crls == 0)
		return usage_error(sub, "%s", "at least one --crl is required");
	int64_t at = util_clock_system()->now_ms(NULL);
	if (o.at != NULL && util_parse_time(o.at, &at) != 0)
		return usage_error(sub, "--at: want an RFC 3339 time, got '%s'",
				   o.at);
	return verify_chain_file(sub, &o, argv[optind], at);
}

static const ca_sub subs[] = {
    {"init", sub_init,
     "init --dir DIR --name NAME [--parent CADIR --province PP] [--days N]",
     "Create a CA in DIR: the national root (self-signed, default 7300\n"
     "days), or with --parent and --province a provincial CA certified by\n"
     "the root in CADIR that may only certify regions PP????.\n"
     "Writes ca.key (0600), ca.crt, serial, crlnumber, index.txt, issued/\n"
     "and an empty CRL crl.pem (30 days)."},
    {"sign", sub_sign, "sign --dir CADIR CSR --out CRT [--days N]",
     "Issue a node certificate (default 365 days) for the node's CSR\n"
     "(NODEDIR/node.csr from hutong init). A provincial CA refuses a\n"
     "region outside its province. CRT holds the node certificate,\n"
     "followed by the provincial CA's certificate when there is one."},
    {"revoke", sub_revoke, "revoke --dir CADIR --cert FILE [--reason R]",
     "Revoke a certificate this CA issued and re-issue crl.pem. R is one\n"
     "of unspecified (default), keyCompromise, CACompromise,\n"
     "affiliationChanged, superseded, cessationOfOperation,\n"
     "privilegeWithdrawn, AACompromise."},
    {"crl", sub_crl, "crl --dir CADIR [--days N]",
     "Re-issue the CA's CRL, valid for N days (default 30). hutongd\n"
     "refuses every chain through a CA whose CRL has expired."},
    {"show", sub_show, "show CERT",
     "Print the identity in a node certificate (no chain check)."},
    {"verify", sub_verify,
     "verify --bundle FILE --crl FILE [--crl FILE]... [--at TIME] CERT",
     "Verify a node certificate chain as hutongd does: chain to the root\n"
     "in the bundle, valid at TIME (default now), not revoked, province\n"
     "and profile checks. Prints the identity."},
};
#define N_SUBS (sizeof(subs) / sizeof(subs[0]))

static void ca_usage(FILE *f)
{
	fprintf(f, "usage: hutong ca COMMAND [OPTIONS]\n\n");
	for (size_t i = 0; i < N_SUBS; i++)
		fprintf(f, "  hutong ca %s\n", subs[i].usage);
	fprintf(f, "\n'hutong ca COMMAND --help' explains each command.\n");
}

int cmd_ca(int argc, char **argv)
{
	if (argc < 2) {
		ca_usage(stderr);
		return CA_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		ca_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < N_SUBS; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(&subs[i], argc - 1, argv + 1);
	fprintf(stderr, "hutong ca: unknown command '%s'\n", argv[1]);
	ca_usage(stderr);
	return CA_EXIT_USAGE;
}
