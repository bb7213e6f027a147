/*
 * test_pki: the PKI module's self-test. Builds a root CA, a province CA and
 * node certificates in a temporary directory through the pki API, then checks
 * both happy paths (root -> node, root -> province -> node) and each refusal
 * by its message: unknown CA, expired, not yet valid, revoked, missing and
 * expired CRL, out of province (at signing), region mismatch, wrong key,
 * malformed input. Interop with the openssl command line is in
 * test_pki_interop.c.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca.h"
#include "check.h"
#include "ident.h"
#include "pki.h"
#include "util.h"

#define DAY_MS (86400LL * 1000)

static char tmp[] = "/tmp/test_pki.XXXXXX";
static char path_buf[64][4096];
static int path_next;

/* tmp/name, from a ring of buffers (each test uses fewer than 64). */
static const char *P(const char *name)
{
	char *b = path_buf[path_next++ % 64];
	snprintf(b, 4096, "%s/%s", tmp, name);
	return b;
}

static int64_t now_ms(void) { return util_clock_system()->now_ms(NULL); }

/* A node: keys, CSR; returns the link public key. */
static void make_node(const char *dir, const char *name, const char *region,
		      uint8_t link[IDENT_LINK_BYTES])
{
	char key[4096], lk[4096], csr[4096];
	uint8_t sk[IDENT_LINK_BYTES];
	ht_err err;
	mkdir(P(dir), 0700);
	snprintf(key, sizeof(key), "%s/node.key", P(dir));
	snprintf(lk, sizeof(lk), "%s/link.key", P(dir));
	snprintf(csr, sizeof(csr), "%s/node.csr", P(dir));
	CHECK_EQ_INT(ident_generate(key, &err), 0);
	CHECK_EQ_INT(ident_link_generate(lk, &err), 0);
	CHECK_EQ_INT(ident_link_load(lk, link, sk, &err), 0);
	sodium_memzero(sk, sizeof(sk));
	CHECK_EQ_INT(pki_write_csr(key, link, name, region, csr, &err), 0);
}

static pki_store *load_store(const char *bundle, const char *const *crls,
			     size_t n)
{
	ht_err err;
	pki_store *s = pki_store_load(bundle, crls, n, &err);
	if (s == NULL)
		fprintf(stderr, "store: %s\n", err.msg);
	CHECK(s != NULL);
	return s;
}

/* Verify the PEM chain in file at at_ms; returns rc, message in err. */
static int verify_file(const pki_store *s, const char *file, int64_t at_ms,
		       pki_identity *id, ht_err *err)
{
	pki_chain c;
	int rc = pki_chain_read_pem(file, &c, err);
	if (rc != 0)
		return rc;
	rc = pki_verify_chain(s, (const uint8_t *const *)c.der, c.len, c.n,
			      at_ms, id, err);
	pki_chain_clear(&c);
	return rc;
}

static void cat(const char *out, const char *a, const char *b)
{
	char cmd[3 * 4096 + 32];
	snprintf(cmd, sizeof(cmd), "cat '%s' '%s' > '%s'", a, b, out);
	CHECK_EQ_INT(system(cmd), 0);
}

static void test_ca_setup(void)
{
	ht_err err;
	CHECK_EQ_INT(
	    pki_ca_init(P("root"), "National Root CA", NULL, NULL, 0, &err), 0);
	CHECK_EQ_INT(
	    pki_ca_init(P("p11"), "Beijing CA", P("root"), "11", 0, &err), 0);
	CHECK_EQ_INT(pki_ca_init(P("rogue"), "Rogue Root", NULL, NULL, 0, &err),
		     0);
	struct stat st;
	CHECK(stat(P("root/ca.key"), &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(access(P("root/crl.pem"), F_OK) == 0);
	CHECK(access(P("root/serial"), F_OK) == 0);

	/* refusals at CA creation */
	CHECK_EQ_INT(pki_ca_init(P("root"), "Again", NULL, NULL, 0, &err),
		     HT_EEXIST);
	CHECK(pki_ca_init(P("p11b"), "Sub", P("p11"), "11", 0, &err) != 0);
	CHECK_HAS(err.msg, "only the root certifies province CAs");
	CHECK(pki_ca_init(P("p1x"), "Bad", P("root"), "1x", 0, &err) != 0);
	CHECK_HAS(err.msg, "must be two digits");
	CHECK(pki_ca_init(P("p00"), "Bad", P("root"), NULL, 0, &err) != 0);

	cat(P("bundle.pem"), P("root/ca.crt"), P("p11/ca.crt"));
	cat(P("crls.pem"), P("root/crl.pem"), P("p11/crl.pem"));
}

static void test_sign(uint8_t link_a[32], uint8_t link_b[32])
{
	ht_err err;
	uint8_t link_c[32], link_x[32];
	make_node("a", "node-a", "130102", link_a);
	make_node("b", "node-b", "110105", link_b);
	make_node("c", "node-c", "130104", link_c);
	make_node("x", "node-x", "110101", link_x);
	CHECK_EQ_INT(pki_ca_sign_csr(P("root"), P("a/node.csr"),
				     P("a/node.crt"), 0, &err),
		     0);
	CHECK_EQ_INT(pki_ca_sign_csr(P("p11"), P("b/node.csr"), P("b/node.crt"),
				     0, &err),
		     0);
	CHECK_EQ_INT(pki_ca_sign_csr(P("rogue"), P("x/node.csr"),
				     P("x/node.crt"), 0, &err),
		     0);
	/* a province CA never certifies outside its province */
	CHECK_EQ_INT(pki_ca_sign_csr(P("p11"), P("c/node.csr"), P("c/node.crt"),
				     0, &err),
		     HT_ETRUST);
	CHECK_HAS(err.msg, "region 130104 is outside province 11 of CA "
			   "'Beijing CA'");
	CHECK(access(P("c/node.crt"), F_OK) != 0);
	/* bad CSR input */
	CHECK(pki_write_csr(P("a/node.key"), link_a, "Node A", "130102",
			    P("bad.csr"), &err) != 0);
	CHECK_HAS(err.msg, "[a-z0-9._-]");
	CHECK(pki_write_csr(P("a/node.key"), link_a, "node-a", "13010",
			    P("bad.csr"), &err) != 0);
	CHECK_HAS(err.msg, "six digits");
	CHECK(pki_ca_sign_csr(P("root"), P("a/node.key"), P("bad.crt"), 0,
			      &err) != 0);
	CHECK_HAS(err.msg, "not a PEM certificate request");
}

static void test_happy(const pki_store *s, const uint8_t link_a[32],
		       const uint8_t link_b[32])
{
	ht_err err;
	pki_identity id;
	ident *key = ident_load(P("a/node.key"), &err);
	CHECK(key != NULL);
	CHECK_EQ_INT(verify_file(s, P("a/node.crt"), now_ms(), &id, &err), 0);
	CHECK_STR(id.name, "node-a");
	CHECK_STR(id.region, "130102");
	CHECK_STR(id.issuer, "National Root CA");
	CHECK_STR(id.province, "");
	CHECK(memcmp(id.link_pk, link_a, 32) == 0);
	CHECK(key && memcmp(id.pk, ident_public(key), 32) == 0);
	CHECK(id.not_after_ms - id.not_before_ms == 365 * DAY_MS);
	CHECK(strlen(id.serial) > 0);
	CHECK_EQ_INT(pki_check_region(&id, "130102", &err), 0);
	if (key != NULL)
		CHECK_EQ_INT(pki_check_key(&id, ident_public(key), &err), 0);
	ident_free(&key);

	/* root -> province -> node, the intermediate carried in node.crt */
	CHECK_EQ_INT(verify_file(s, P("b/node.crt"), now_ms(), &id, &err), 0);
	CHECK_STR(id.name, "node-b");
	CHECK_STR(id.region, "110105");
	CHECK_STR(id.issuer, "Beijing CA");
	CHECK_STR(id.province, "11");
	CHECK(memcmp(id.link_pk, link_b, 32) == 0);

	/* the node certificate alone: the intermediate comes from the bundle */
	pki_chain c;
	CHECK_EQ_INT(pki_chain_read_pem(P("b/node.crt"), &c, &err), 0);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_INT(pki_verify_chain(s, (const uint8_t *const *)c.der, c.len,
				      1, now_ms(), &id, &err),
		     0);
	CHECK_EQ_INT(pki_chain_write_pem(P("b/copy.pem"),
					 (const uint8_t *const *)c.der, c.len,
					 c.n, &err),
		     0);
	CHECK(!pki_is_revoked(s, c.der[0], c.len[0]));
	pki_chain_clear(&c);
	CHECK_EQ_INT(verify_file(s, P("b/copy.pem"), now_ms(), &id, &err), 0);

	CHECK_EQ_INT(pki_identity_from_pem_file(P("b/node.crt"), &id, &err), 0);
	CHECK_STR(id.name, "node-b");
}

static void test_refusals(const pki_store *s)
{
	ht_err err;
	pki_identity id;
	int64_t now = now_ms();

	CHECK_EQ_INT(verify_file(s, P("x/node.crt"), now, &id, &err),
		     HT_ETRUST);
	CHECK_HAS(err.msg, "unknown CA: 'node-x' was issued by 'Rogue Root'");
	CHECK_STR(id.name, ""); /* wiped on failure */

	CHECK_EQ_INT(
	    verify_file(s, P("a/node.crt"), now + 400 * DAY_MS, &id, &err),
	    HT_ETRUST);
	CHECK_HAS(err.msg, "expired: 'node-a' was valid until");

	CHECK_EQ_INT(verify_file(s, P("a/node.crt"), now - DAY_MS, &id, &err),
		     HT_ETRUST);
	CHECK_HAS(err.msg, "not yet valid:");

	CHECK_EQ_INT(verify_file(s, P("a/node.crt"), now, &id, &err), 0);
	CHECK_EQ_INT(pki_check_region(&id, "110101", &err), HT_ETRUST);
	CHECK_HAS(err.msg, "region mismatch: the record says 110101, the "
			   "certificate of 'node-a' says 130102");

	/* wrong key: a signature by another key, or another public key */
	ident *other = ident_load(P("b/node.key"), &err);
	ident *mine = ident_load(P("a/node.key"), &err);
	uint8_t sig[PKI_SIG_BYTES], msg[] = "header bytes";
	CHECK(other != NULL && mine != NULL);
	if (other != NULL && mine != NULL) {
		CHECK_EQ_INT(ident_sign(other, msg, sizeof(msg), sig), 0);
		CHECK_EQ_INT(
		    pki_verify_signature(&id, msg, sizeof(msg), sig, &err),
		    HT_ETRUST);
		CHECK_HAS(err.msg, "wrong key: the signature does not verify "
				   "with the key certified for 'node-a'");
		CHECK_EQ_INT(pki_check_key(&id, ident_public(other), &err),
			     HT_ETRUST);
		CHECK_HAS(err.msg, "wrong key");
		CHECK_EQ_INT(ident_sign(mine, msg, sizeof(msg), sig), 0);
		CHECK_EQ_INT(
		    pki_verify_signature(&id, msg, sizeof(msg), sig, &err), 0);
	}
	ident_free(&other);
	ident_free(&mine);

	/* malformed DER */
	uint8_t junk[64];
	memset(junk, 0x30, sizeof(junk));
	const uint8_t *der[1] = {junk};
	size_t len[1] = {sizeof(junk)};
	CHECK_EQ_INT(pki_verify_chain(s, der, len, 1, now, &id, &err),
		     HT_EINVAL);
	CHECK_HAS(err.msg, "malformed: certificate 0 is not parseable DER");
	CHECK_EQ_INT(pki_verify_chain(s, der, len, 0, now, &id, &err),
		     HT_EINVAL);
	CHECK(pki_is_revoked(s, junk, sizeof(junk)));
	/* a CA certificate is not a node certificate */
	CHECK_EQ_INT(verify_file(s, P("p11/ca.crt"), now, &id, &err),
		     HT_EINVAL);
	CHECK_HAS(err.msg, "CA certificate");
}

static void test_crl_fail_closed(void)
{
	ht_err err;
	pki_identity id;
	const char *root_only[] = {P("root/crl.pem")};
	pki_store *s = pki_store_load(P("bundle.pem"), NULL, 0, &err);
	CHECK(s == NULL);
	CHECK_HAS(err.msg, "no CRL from CA 'National Root CA'");
	s = pki_store_load(P("bundle.pem"), root_only, 1, &err);
	CHECK(s == NULL);
	CHECK_HAS(err.msg, "no CRL from CA 'Beijing CA'");

	/* bundle = root only: the province CA comes with the chain, and so
	 * must its CRL */
	s = load_store(P("root/ca.crt"), root_only, 1);
	CHECK_EQ_INT(verify_file(s, P("b/node.crt"), now_ms(), &id, &err),
		     HT_ETRUST);
	CHECK_HAS(err.msg, "no CRL from CA 'Beijing CA'");
	pki_store_free(&s);

	const char *crls[] = {P("crls.pem")};
	s = load_store(P("bundle.pem"), crls, 1);
	CHECK_EQ_INT(verify_file(s, P("b/node.crt"), now_ms(), &id, &err), 0);
	pki_store_free(&s);
}

static int64_t fake_now(void *ctx) { return *(const int64_t *)ctx; }

static void test_crl_expiry(void)
{
	ht_err err;
	pki_identity id;
	const char *crls[] = {P("crls.pem")};
	/* a CRL that expires while the store is loaded: clock 31 days on */
	int64_t later = now_ms() + 31 * DAY_MS;
	ht_clock clk = {fake_now, fake_now, &later};
	pki_store *s = load_store(P("bundle.pem"), crls, 1);
	pki_store_set_clock(s, &clk);
	CHECK_EQ_INT(verify_file(s, P("b/node.crt"), now_ms(), &id, &err),
		     HT_ETRUST);
	CHECK_HAS(err.msg, "CRL of 'Beijing CA' expired at");
	/* a reload judged by the same clock refuses and keeps nothing */
	pki_store *s2 = pki_store_reload_crls(s, crls, 1, &err);
	CHECK(s2 == NULL);
	CHECK_HAS(err.msg, "expired at");
	pki_store_free(&s);
	/* re-issued CRL: fine again */
	CHECK_EQ_INT(pki_ca_crl(P("p11"), 60, &err), 0);
	CHECK_EQ_INT(pki_ca_crl(P("root"), 60, &err), 0);
	cat(P("crls.pem"), P("root/crl.pem"), P("p11/crl.pem"));
	s = load_store(P("bundle.pem"), crls, 1);
	pki_store_set_clock(s, &clk);
	CHECK_EQ_INT(verify_file(s, P("b/node.crt"), now_ms(), &id, &err), 0);
	pki_store_free(&s);
}

static void test_revoke(void)
{
	ht_err err;
	pki_identity id;
	const char *crls[] = {P("crls.pem")};
	pki_store *s = load_store(P("bundle.pem"), crls, 1);

	CHECK_EQ_INT(
	    pki_ca_revoke(P("p11"), P("b/node.crt"), "keyCompromise", &err), 0);
	CHECK_EQ_INT(pki_ca_revoke(P("p11"), P("b/node.crt"), NULL, &err),
		     HT_EEXIST);
	CHECK_HAS(err.msg, "already revoked");
	CHECK(pki_ca_revoke(P("p11"), P("a/node.crt"), NULL, &err) != 0);
	CHECK_HAS(err.msg, "was not issued by CA 'Beijing CA'");
	CHECK(pki_ca_revoke(P("p11"), P("b/node.crt"), "tired", &err) != 0);
	CHECK_HAS(err.msg, "unknown reason 'tired'");

	/* the old store still has the old CRL; a reload picks the new one */
	CHECK_EQ_INT(verify_file(s, P("b/node.crt"), now_ms(), &id, &err), 0);
	cat(P("crls.pem"), P("root/crl.pem"), P("p11/crl.pem"));
	pki_store *s2 = pki_store_reload_crls(s, crls, 1, &err);
	CHECK(s2 != NULL);
	pki_store_free(&s);
	if (s2 == NULL)
		return;
	CHECK_EQ_INT(verify_file(s2, P("b/node.crt"), now_ms(), &id, &err),
		     HT_ETRUST);
	CHECK_HAS(err.msg, "revoked: 'node-b' (serial ");
	CHECK_HAS(err.msg, "was revoked by 'Beijing CA' on ");
	CHECK_HAS(err.msg, "reason keyCompromise");
	/* a revocation counts from its date: just before it (and after the
	 * certificate's notBefore) the certificate was good */
	pki_chain rc;
	CHECK_EQ_INT(pki_chain_read_pem(P("b/node.crt"), &rc, &err), 0);
	int64_t rev = pki_revocation_ms(s2, rc.der[0], rc.len[0]);
	pki_identity bid;
	CHECK_EQ_INT(pki_identity_from_pem_file(P("b/node.crt"), &bid, &err),
		     0);
	CHECK(rev != INT64_MAX && rev != INT64_MIN);
	if (rev - 1 >= bid.not_before_ms)
		CHECK_EQ_INT(
		    verify_file(s2, P("b/node.crt"), rev - 1, &id, &err), 0);
	CHECK_EQ_INT(verify_file(s2, P("b/node.crt"), rev, &id, &err),
		     HT_ETRUST);
	CHECK_HAS(err.msg, "revoked:");
	pki_chain_clear(&rc);
	pki_chain c;
	CHECK_EQ_INT(pki_chain_read_pem(P("b/node.crt"), &c, &err), 0);
	CHECK(pki_is_revoked(s2, c.der[0], c.len[0]));
	pki_chain_clear(&c);
	/* the root -> node chain is unaffected */
	CHECK_EQ_INT(verify_file(s2, P("a/node.crt"), now_ms(), &id, &err), 0);
	pki_store_free(&s2);
}

int main(void)
{
	if (sodium_init() < 0 || mkdtemp(tmp) == NULL)
		return 1;
	uint8_t link_a[32], link_b[32];
	test_ca_setup();
	test_sign(link_a, link_b);
	const char *crls[] = {P("crls.pem")};
	pki_store *s = load_store(P("bundle.pem"), crls, 1);
	if (s != NULL) {
		test_happy(s, link_a, link_b);
		test_refusals(s);
	}
	pki_store_free(&s);
	test_crl_fail_closed();
	test_crl_expiry();
	test_revoke();
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	return check_done("test_pki");
}
