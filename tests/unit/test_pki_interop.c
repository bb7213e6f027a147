/*
 * test_pki_interop: hutong's PKI against the plain `openssl` command line,
 * both ways, with the commands and certs/openssl.cnf that certs/README.md
 * documents:
 *   - a root, a provincial CA and nodes made with `openssl` are accepted by
 *     pki_verify_chain, and an `openssl ca -revoke` is honoured;
 *   - what `openssl` can make but hutong must refuse: a provincial CA
 *     certifying outside its province (openssl verify refuses it too), an
 *     intermediate with no province constraint, an unknown critical
 *     extension;
 *   - certificates and CRLs made by hutong pass `openssl verify -crl_check`
 *     and `-crl_check_all`, and fail it once revoked;
 *   - CSRs and CA directories cross over: openssl CSRs signed by hutong,
 *     hutong CSRs signed by `openssl ca`, `openssl ca -revoke` on a hutong
 *     CA directory followed by `hutong ca crl`.
 * Needs the `openssl` binary; without it the test passes with a note.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ca.h"
#include "check.h"
#include "ident.h"
#include "pki.h"
#include "util.h"

static char tmp[] = "/tmp/test_pki_interop.XXXXXX";
static char path_buf[64][4096];
static int path_next;

static const char *P(const char *name)
{
	char *b = path_buf[path_next++ % 64];
	snprintf(b, 4096, "%s/%s", tmp, name);
	return b;
}

/* Run a shell command in tmp with the README's environment; output goes to
 * tmp/log. Returns the exit status. */
static int sh(const char *fmt, ...) HT_PRINTF(1, 2);

static int sh(const char *fmt, ...)
{
	char cmd[8192], body[6144];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && export CNF='" SOURCE_DIR "/certs/openssl.cnf' "
		 "HUTONG_CA_DIR=. HUTONG_PROVINCE=00 HUTONG_REGION=000000 "
		 "HUTONG_LINK_PK=00 && (%s) >>log 2>&1",
		 tmp, body);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The README's "CA directory" and "root" steps. */
static int ossl_root(const char *d, const char *name)
{
	return sh("mkdir -p %s/issued && touch %s/index.txt && "
		  "echo 01 > %s/serial && echo 01 > %s/crlnumber && "
		  "openssl genpkey -algorithm ed25519 -out %s/ca.key && "
		  "chmod 600 %s/ca.key && "
		  "openssl req -x509 -new -key %s/ca.key -subj '/CN=%s' "
		  "-config $CNF -extensions root_ca -days 7300 -out %s/ca.crt "
		  "&& HUTONG_CA_DIR=%s openssl ca -batch -config $CNF -gencrl "
		  "-out %s/crl.pem",
		  d, d, d, d, d, d, d, name, d, d, d);
}

/* The README's provincial CA step; ext is province_ca normally. */
static int ossl_province(const char *d, const char *parent, const char *pp,
			 const char *name, const char *ext)
{
	return sh("mkdir -p %s/issued && touch %s/index.txt && "
		  "echo 01 > %s/serial && echo 01 > %s/crlnumber && "
		  "openssl genpkey -algorithm ed25519 -out %s/ca.key && "
		  "chmod 600 %s/ca.key && "
		  "openssl req -new -key %s/ca.key -subj '/CN=%s' -config $CNF "
		  "-out %s/ca.csr && HUTONG_CA_DIR=%s HUTONG_PROVINCE=%s "
		  "openssl ca -batch -notext -config $CNF -extensions %s "
		  "-days 3650 -in %s/ca.csr -out %s/ca.crt && "
		  "HUTONG_CA_DIR=%s openssl ca -batch -config $CNF -gencrl "
		  "-out %s/crl.pem",
		  d, d, d, d, d, d, d, name, d, parent, pp, ext, d, d, d, d);
}

/* The README's node steps: keys, link key hex, CSR. */
static int ossl_node_csr(const char *d, const char *name, const char *region)
{
	return sh("mkdir -p %s && "
		  "openssl genpkey -algorithm ed25519 -out %s/node.key && "
		  "openssl genpkey -algorithm x25519 -out %s/link.key && "
		  "chmod 600 %s/node.key %s/link.key && "
		  "LINK=$(openssl pkey -in %s/link.key -pubout -outform DER | "
		  "tail -c 32 | od -An -v -tx1 | tr -d ' \\n') && "
		  "echo $LINK > %s/link.hex && "
		  "HUTONG_REGION=%s HUTONG_PROVINCE=%.2s HUTONG_LINK_PK=$LINK "
		  "openssl req -new -key %s/node.key -subj '/CN=%s' "
		  "-config $CNF -reqexts node_req -out %s/node.csr",
		  d, d, d, d, d, d, d, region, region, d, name, d);
}

/* The README's signing step with `openssl ca`; extra adds options. */
static int ossl_sign(const char *ca, const char *d, const char *region,
		     const char *ext, const char *extra)
{
	return sh("HUTONG_CA_DIR=%s HUTONG_REGION=%s HUTONG_PROVINCE=%.2s "
		  "HUTONG_LINK_PK=$(cat %s/link.hex) openssl ca -batch -notext "
		  "-config $CNF -extensions %s %s -in %s/node.csr "
		  "-out %s/node.crt",
		  ca, region, region, d, ext, extra, d, d);
}

static pki_store *store(const char *bundle, const char *crls)
{
	ht_err err;
	const char *paths[] = {crls};
	pki_store *s = pki_store_load(bundle, paths, 1, &err);
	if (s == NULL)
		fprintf(stderr, "store %s: %s\n", bundle, err.msg);
	CHECK(s != NULL);
	return s;
}

static int verify(const pki_store *s, const char *file, ht_err *err,
		  pki_identity *id)
{
	pki_chain c;
	int rc = pki_chain_read_pem(file, &c, err);
	if (rc != 0)
		return rc;
	rc = pki_verify_chain(s, (const uint8_t *const *)c.der, c.len, c.n,
			      util_clock_system()->now_ms(NULL), id, err);
	pki_chain_clear(&c);
	return rc;
}

/* Link key of d/link.key equals the certificate's. */
static bool link_matches(const char *d, const pki_identity *id)
{
	char path[4200];
	uint8_t pk[32], sk[32];
	ht_err err;
	snprintf(path, sizeof(path), "%s/link.key", d);
	if (ident_link_load(path, pk, sk, &err) != 0)
		return false;
	return memcmp(pk, id->link_pk, 32) == 0;
}

static void test_openssl_made(void)
{
	ht_err err;
	pki_identity id;
	CHECK_EQ_INT(ossl_root("o/root", "Openssl Root"), 0);
	CHECK_EQ_INT(ossl_province("o/p11", "o/root", "11", "Openssl Beijing",
				   "province_ca"),
		     0);
	CHECK_EQ_INT(ossl_node_csr("o/n1", "node-o1", "110105"), 0);
	CHECK_EQ_INT(ossl_sign("o/p11", "o/n1", "110105", "node_cert", ""), 0);
	CHECK_EQ_INT(ossl_node_csr("o/n2", "node-o2", "320102"), 0);
	CHECK_EQ_INT(ossl_sign("o/root", "o/n2", "320102", "node_cert", ""), 0);
	CHECK_EQ_INT(sh("cat o/root/ca.crt o/p11/ca.crt > o/bundle.pem && "
			"cat o/root/crl.pem o/p11/crl.pem > o/crls.pem"),
		     0);
	pki_store *s = store(P("o/bundle.pem"), P("o/crls.pem"));
	if (s == NULL)
		return;
	CHECK_EQ_INT(verify(s, P("o/n1/node.crt"), &err, &id), 0);
	CHECK_STR(id.name, "node-o1");
	CHECK_STR(id.region, "110105");
	CHECK_STR(id.province, "11");
	CHECK(link_matches(P("o/n1"), &id));
	CHECK_EQ_INT(verify(s, P("o/n2/node.crt"), &err, &id), 0);
	CHECK_STR(id.region, "320102");
	CHECK(link_matches(P("o/n2"), &id));
	pki_store_free(&s);

	/* openssl ca -revoke, -gencrl: hutong honours it */
	CHECK_EQ_INT(sh("HUTONG_CA_DIR=o/p11 openssl ca -config $CNF -revoke "
			"o/n1/node.crt -crl_reason keyCompromise && "
			"HUTONG_CA_DIR=o/p11 openssl ca -config $CNF -gencrl "
			"-out o/p11/crl.pem && "
			"cat o/root/crl.pem o/p11/crl.pem > o/crls.pem"),
		     0);
	s = store(P("o/bundle.pem"), P("o/crls.pem"));
	CHECK_EQ_INT(verify(s, P("o/n1/node.crt"), &err, &id), HT_ETRUST);
	CHECK_HAS(err.msg, "revoked: 'node-o1'");
	CHECK_HAS(err.msg, "reason keyCompromise");
	pki_store_free(&s);
}

static void test_openssl_refused(void)
{
	ht_err err;
	pki_identity id;
	/* a provincial CA certifying outside its province */
	CHECK_EQ_INT(ossl_node_csr("o/n3", "node-o3", "130102"), 0);
	CHECK_EQ_INT(ossl_sign("o/p11", "o/n3", "130102", "node_cert", ""), 0);
	CHECK(sh("openssl verify -CAfile o/root/ca.crt -untrusted o/p11/ca.crt "
		 "o/n3/node.crt") != 0);
	CHECK_EQ_INT(sh("grep -q 'permitted subtree violation' log"), 0);
	pki_store *s = store(P("o/bundle.pem"), P("o/crls.pem"));
	CHECK_EQ_INT(verify(s, P("o/n3/node.crt"), &err, &id), HT_ETRUST);
	CHECK_HAS(err.msg, "out of province: 'node-o3'");

	/* an unknown critical extension */
	CHECK_EQ_INT(ossl_node_csr("o/n4", "node-o4", "110106"), 0);
	CHECK_EQ_INT(sh("printf '[crit]\\nbasicConstraints = CA:FALSE\\n"
			"keyUsage = critical,digitalSignature\\n"
			"subjectAltName = DNS:110106.p11.hutong.region\\n"
			"%s = ASN1:FORMAT:HEX,OCTETSTRING:%%s\\n"
			"1.3.6.1.4.1.99999.1 = critical,ASN1:NULL\\n' "
			"$(cat o/n4/link.hex) > o/crit.cnf",
			PKI_LINK_OID),
		     0);
	CHECK_EQ_INT(ossl_sign("o/p11", "o/n4", "110106", "node_cert",
			       "-extfile o/crit.cnf -extensions crit"),
		     0);
	CHECK_EQ_INT(verify(s, P("o/n4/node.crt"), &err, &id), HT_ETRUST);
	CHECK_HAS(err.msg, "unknown critical extension in 'node-o4'");
	CHECK(sh("openssl verify -CAfile o/root/ca.crt -untrusted o/p11/ca.crt "
		 "o/n4/node.crt") != 0);
	pki_store_free(&s);

	/* an intermediate without a province constraint */
	CHECK_EQ_INT(
	    ossl_province("o/px", "o/root", "00", "Openssl Loose", "root_ca"),
	    0);
	CHECK_EQ_INT(ossl_node_csr("o/n5", "node-o5", "110107"), 0);
	CHECK_EQ_INT(ossl_sign("o/px", "o/n5", "110107", "node_cert", ""), 0);
	CHECK_EQ_INT(sh("cat o/root/ca.crt o/px/ca.crt > o/bundle2.pem && "
			"cat o/root/crl.pem o/px/crl.pem > o/crls2.pem"),
		     0);
	s = store(P("o/bundle2.pem"), P("o/crls2.pem"));
	CHECK_EQ_INT(verify(s, P("o/n5/node.crt"), &err, &id), HT_ETRUST);
	CHECK_HAS(err.msg, "intermediate CA 'Openssl Loose' has no province "
			   "constraint");
	pki_store_free(&s);
}

static void test_hutong_made(void)
{
	ht_err err;
	pki_identity id;
	uint8_t link[32];
	CHECK_EQ_INT(
	    pki_ca_init(P("h/root"), "Hutong Root", NULL, NULL, 0, &err), 0);
	CHECK_EQ_INT(
	    pki_ca_init(P("h/p44"), "Guangdong CA", P("h/root"), "44", 0, &err),
	    0);
	/* a hutong CSR, signed by hutong and by `openssl ca` */
	CHECK_EQ_INT(sh("mkdir -p h/n1 h/n2"), 0);
	CHECK_EQ_INT(ident_generate(P("h/n1/node.key"), &err), 0);
	CHECK_EQ_INT(ident_link_generate(P("h/n1/link.key"), &err), 0);
	uint8_t sk[32];
	CHECK_EQ_INT(ident_link_load(P("h/n1/link.key"), link, sk, &err), 0);
	CHECK_EQ_INT(pki_write_csr(P("h/n1/node.key"), link, "node-h1",
				   "440103", P("h/n1/node.csr"), &err),
		     0);
	CHECK_EQ_INT(pki_ca_sign_csr(P("h/p44"), P("h/n1/node.csr"),
				     P("h/n1/node.crt"), 0, &err),
		     0);
	char hex[65];
	CHECK_EQ_INT(sh("cp h/n1/node.csr h/n2/ && echo %s > h/n2/link.hex",
			util_hex(link, 32, hex)),
		     0);
	CHECK_EQ_INT(ossl_sign(P("h/p44"), "h/n2", "440103", "node_cert", ""),
		     0);
	/* an openssl CSR signed by hutong */
	CHECK_EQ_INT(ossl_node_csr("h/n3", "node-h3", "440104"), 0);
	CHECK_EQ_INT(pki_ca_sign_csr(P("h/root"), P("h/n3/node.csr"),
				     P("h/n3/node.crt"), 0, &err),
		     0);
	CHECK_EQ_INT(pki_ca_crl(P("h/p44"), 0, &err), 0);
	CHECK_EQ_INT(sh("cat h/root/crl.pem h/p44/crl.pem > h/crls.pem && "
			"cat h/root/ca.crt h/p44/ca.crt > h/bundle.pem"),
		     0);

	/* openssl verify accepts hutong's certificates and CRLs */
	const char *v = "openssl verify -CAfile h/root/ca.crt -untrusted "
			"h/p44/ca.crt -CRLfile h/crls.pem";
	CHECK_EQ_INT(sh("%s -crl_check_all h/n1/node.crt", v), 0);
	CHECK_EQ_INT(sh("%s -crl_check h/n1/node.crt", v), 0);
	CHECK_EQ_INT(sh("%s -crl_check_all h/n2/node.crt", v), 0);
	CHECK_EQ_INT(sh("openssl verify -CAfile h/root/ca.crt -CRLfile "
			"h/root/crl.pem -crl_check h/n3/node.crt"),
		     0);

	pki_store *s = store(P("h/bundle.pem"), P("h/crls.pem"));
	CHECK_EQ_INT(verify(s, P("h/n2/node.crt"), &err, &id), 0);
	CHECK_STR(id.name, "node-h1");
	CHECK(memcmp(id.link_pk, link, 32) == 0);
	CHECK_EQ_INT(verify(s, P("h/n3/node.crt"), &err, &id), 0);
	CHECK(link_matches(P("h/n3"), &id));
	pki_store_free(&s);

	/* revoked by hutong: openssl verify refuses */
	CHECK_EQ_INT(pki_ca_revoke(P("h/p44"), P("h/n1/node.crt"),
				   "cessationOfOperation", &err),
		     0);
	CHECK_EQ_INT(sh("cat h/root/crl.pem h/p44/crl.pem > h/crls.pem"), 0);
	CHECK(sh("%s -crl_check_all h/n1/node.crt", v) != 0);
	CHECK_EQ_INT(sh("grep -q 'certificate revoked' log"), 0);

	/* openssl ca -revoke on a hutong CA directory, then hutong ca crl */
	CHECK_EQ_INT(sh("HUTONG_CA_DIR=h/p44 openssl ca -config $CNF -revoke "
			"h/n2/node.crt -crl_reason superseded"),
		     0);
	CHECK_EQ_INT(pki_ca_crl(P("h/p44"), 0, &err), 0);
	CHECK_EQ_INT(sh("cat h/root/crl.pem h/p44/crl.pem > h/crls.pem"), 0);
	s = store(P("h/bundle.pem"), P("h/crls.pem"));
	CHECK_EQ_INT(verify(s, P("h/n2/node.crt"), &err, &id), HT_ETRUST);
	CHECK_HAS(err.msg, "reason superseded");
	pki_store_free(&s);
}

int main(void)
{
	if (system("openssl version >/dev/null 2>&1") != 0) {
		printf("test_pki_interop: openssl not found, skipped\n");
		return 0;
	}
	if (mkdtemp(tmp) == NULL)
		return 1;
	CHECK_EQ_INT(sh("mkdir -p o h"), 0);
	test_openssl_made();
	test_openssl_refused();
	test_hutong_made();
	char cmd[4200];
	if (check_failures != 0) {
		snprintf(cmd, sizeof(cmd), "tail -n 40 '%s/log' >&2", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "no log\n");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	return check_done("test_pki_interop");
}
