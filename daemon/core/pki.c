/*
 * pki: the X.509 side of identity as the daemon needs it. It owns the
 * certificate profile's checks (see pki.h and certs/README.md), the trust
 * store that verifies node chains against the root and the CRLs, CRL
 * freshness and revocation dates, and the binding of a record's region and
 * key to its certificate. Issuing (the CA that `hutong ca` runs and the
 * node's CSR) lives in ca.c, which the daemon does not link.
 *
 * Verification leans on OpenSSL's chain builder (signatures, validity at the
 * record's time, basicConstraints, keyUsage, name constraints, CRLs of every
 * CA on the chain, unknown critical extensions) and then applies hutong's own
 * rules on top: the node profile, at most one province CA, and the region's
 * first two digits equal to that CA's province. CRL freshness is judged
 * against the current clock, not the record's time: a CRL is what we know
 * about revocation now. A revocation counts from its revocation date: a
 * record created before it was made while the certificate was good, so
 * every node reaches the same verdict whatever order it learns things in.
 */
#include "pki_impl.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#define PKI_CRL_SKEW_MS (5 * 60 * 1000) /* CA clock ahead of ours */

struct pki_store {
	X509_STORE *x509;
	STACK_OF(X509) * cas;
	STACK_OF(X509_CRL) * crls;
	const ht_clock *clock;
};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

static int64_t wall_ms(const ht_clock *c)
{
	if (c == NULL)
		c = util_clock_system();
	return c->now_ms(c->ctx);
}

static int asn1_to_ms(const ASN1_TIME *t, int64_t *ms)
{
	struct tm tm;
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return HT_EINVAL;
	*ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

/* "2026-01-01T00:00:00.000Z" for messages; "?" if unreadable. */
static const char *asn1_str(const ASN1_TIME *t, char *buf, size_t len)
{
	int64_t ms;
	if (asn1_to_ms(t, &ms) != 0)
		return "?";
	return util_format_time(ms, buf, len);
}

static bool is_node_name(const char *s) { return util_is_node_name(s); }

/* ca.c checks CSR names by the same rule. */
bool pki_is_node_name(const char *s) { return is_node_name(s); }

bool pki_is_province(const char *s)
{
	return s != NULL && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' &&
	       s[1] <= '9' && s[2] == '\0' && !(s[0] == '0' && s[1] == '0');
}

/* The only CN of name, as UTF-8 text, into out. */
int pki_name_cn(const X509_NAME *name, char *out, size_t len, ht_err *err)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return ht_err_set(err, HT_EINVAL, "subject", "no commonName");
	if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return ht_err_set(err, HT_EINVAL, "subject",
				  "more than one commonName");
	ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, d);
	int rc = 0;
	if (n < 0 || (size_t)n >= len || !util_is_text((char *)u, (size_t)n))
		rc = ht_err_set(err, HT_EINVAL, "subject",
				"commonName is not text of at most %zu bytes",
				len - 1);
	else
		memcpy(out, u, (size_t)n + 1);
	OPENSSL_free(u);
	return rc;
}

/* CN for messages: never fails. */
const char *pki_cn_or(const X509_NAME *name, char *buf, size_t len)
{
	if (name == NULL || pki_name_cn(name, buf, len, NULL) != 0)
		snprintf(buf, len, "(no name)");
	return buf;
}

int pki_serial_hex(const ASN1_INTEGER *ai, char *out, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int rc = HT_EINVAL;
	if (hex != NULL && strlen(hex) < len) {
		snprintf(out, len, "%s", hex);
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int pki_write_mem(const char *path, BIO *mem, int mode, bool excl, ht_err *err)
{
	char *data = NULL;
	long len = BIO_get_mem_data(mem, &data);
	if (len < 0)
		return ht_err_set(err, HT_EIO, "", "%s: encoding failed", path);
	return util_write_file(path, data, (size_t)len, mode, excl, err);
}

BIO *pki_read_mem(const char *path, size_t max, ht_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (util_read_file(path, max, &buf, &len, err) != 0)
		return NULL;
	BIO *mem = BIO_new(BIO_s_mem());
	if (mem == NULL || BIO_write(mem, buf, (int)len) != (int)len) {
		BIO_free(mem);
		mem = NULL;
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
	}
	free(buf);
	return mem;
}

/* True if the last PEM read stopped at the end of input, not at junk. */
static bool pem_clean_end(void)
{
	unsigned long e = ERR_peek_last_error();
	bool ok = e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			     ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
	ERR_clear_error();
	return ok;
}

static STACK_OF(X509) * read_certs(const char *path, ht_err *err)
{
	BIO *mem = pki_read_mem(path, PKI_MAX_FILE, err);
	if (mem == NULL)
		return NULL;
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;
	while (sk != NULL && (x = PEM_read_bio_X509(mem, NULL, NULL, NULL)))
		if (!sk_X509_push(sk, x))
			X509_free(x);
	BIO_free(mem);
	if (sk == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
	} else if (!pem_clean_end()) {
		ht_err_set(err, HT_EINVAL, "certificate",
			   "%s: unparseable certificate", path);
	} else if (sk_X509_num(sk) == 0) {
		ht_err_set(err, HT_EINVAL, "certificate",
			   "%s: no PEM certificate", path);
	} else {
		return sk;
	}
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

X509 *pki_read_cert(const char *path, ht_err *err)
{
	STACK_OF(X509) *sk = read_certs(path, err);
	if (sk == NULL)
		return NULL;
	X509 *x = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	return x;
}

/* Append the CRLs of path to sk. */
static int read_crls(const char *path, STACK_OF(X509_CRL) * sk, ht_err *err)
{
	BIO *mem = pki_read_mem(path, PKI_MAX_FILE, err);
	if (mem == NULL)
		return HT_EIO;
	int before = sk_X509_CRL_num(sk);
	X509_CRL *c;
	while ((c = PEM_read_bio_X509_CRL(mem, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_CRL_push(sk, c))
			X509_CRL_free(c);
	BIO_free(mem);
	if (!pem_clean_end())
		return ht_err_set(err, HT_EINVAL, "crl", "%s: unparseable CRL",
				  path);
	if (sk_X509_CRL_num(sk) == before)
		return ht_err_set(err, HT_EINVAL, "crl", "%s: no PEM CRL",
				  path);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the profile: region SAN, link-key extension, province constraint     */
/* ------------------------------------------------------------------ */

int pki_region_dns(const char *region, char *out, size_t len)
{
	int n = snprintf(out, len, "%s.p%.2s.%s", region, region,
			 PKI_REGION_DOMAIN);
	return n < 0 || (size_t)n >= len ? HT_ELIMIT : 0;
}

/* Parse "<region>.p<PP>.hutong.region" with PP the region's first two
 * digits; region gets the six digits. */
static bool parse_region_dns(const char *s, size_t n,
			     char region[HT_REGION_LEN + 1])
{
	char want[PKI_SAN_MAX], r[HT_REGION_LEN + 1];
	if (n <= HT_REGION_LEN || n >= sizeof(want) || memchr(s, 0, n))
		return false;
	memcpy(r, s, HT_REGION_LEN);
	r[HT_REGION_LEN] = '\0';
	if (!util_is_region_code(r) ||
	    pki_region_dns(r, want, sizeof(want)) != 0)
		return false;
	if (strlen(want) != n || memcmp(want, s, n) != 0)
		return false;
	memcpy(region, r, sizeof(r));
	return true;
}

/* The region from the one DNS name of the subjectAltName in exts. */
int pki_exts_region(const STACK_OF(X509_EXTENSION) * exts,
		    char region[HT_REGION_LEN + 1], ht_err *err)
{
	int crit = -1;
	GENERAL_NAMES *gens =
	    X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL)
		return ht_err_set(
		    err, HT_EINVAL, "subjectAltName",
		    crit == -1
			? "missing (want DNS:<region>.p<PP>." PKI_REGION_DOMAIN
			  ")"
			: "malformed or repeated");
	int rc = 0, dns = 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens) && rc == 0; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		const char *s =
		    (const char *)ASN1_STRING_get0_data(g->d.dNSName);
		size_t n = (size_t)ASN1_STRING_length(g->d.dNSName);
		if (++dns > 1)
			rc = ht_err_set(err, HT_EINVAL, "subjectAltName",
					"more than one DNS name; want exactly "
					"one region name");
		else if (!parse_region_dns(s, n, region))
			rc = ht_err_set(err, HT_EINVAL, "subjectAltName",
					"DNS name '%.*s' is not "
					"<region>.p<PP>." PKI_REGION_DOMAIN
					" with PP the "
					"region's first two digits",
					(int)(n > 80 ? 80 : n), s);
	}
	if (rc == 0 && dns == 0)
		rc = ht_err_set(err, HT_EINVAL, "subjectAltName",
				"no DNS region name");
	GENERAL_NAMES_free(gens);
	return rc;
}

/* The 32-byte X25519 key from the link extension in exts. */
int pki_exts_link(const STACK_OF(X509_EXTENSION) * exts,
		  uint8_t link[PKI_LINK_BYTES], ht_err *err)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(PKI_LINK_OID, 1);
	if (obj == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	int i = X509v3_get_ext_by_OBJ(exts, obj, -1);
	int again = i < 0 ? -1 : X509v3_get_ext_by_OBJ(exts, obj, i);
	ASN1_OBJECT_free(obj);
	if (i < 0)
		return ht_err_set(err, HT_EINVAL, "link key",
				  "missing extension " PKI_LINK_OID);
	if (again >= 0)
		return ht_err_set(err, HT_EINVAL, "link key",
				  "extension " PKI_LINK_OID " repeated");
	X509_EXTENSION *ext = X509v3_get_ext(exts, i);
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
	const unsigned char *p = ASN1_STRING_get0_data(v);
	long n = ASN1_STRING_length(v);
	ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &p, n);
	int rc = 0;
	if (inner == NULL || p != ASN1_STRING_get0_data(v) + n ||
	    ASN1_STRING_length(inner) != PKI_LINK_BYTES)
		rc = ht_err_set(err, HT_EINVAL, "link key",
				"extension " PKI_LINK_OID " is not an OCTET "
				"STRING of %d bytes",
				PKI_LINK_BYTES);
	else
		memcpy(link, ASN1_STRING_get0_data(inner), PKI_LINK_BYTES);
	ASN1_OCTET_STRING_free(inner);
	ERR_clear_error();
	return rc;
}

/* The province a CA may certify, from its critical nameConstraints with
 * exactly one permitted subtree DNS:p<PP>.hutong.region. HT_ENOTFOUND when
 * the CA has no nameConstraints at all; HT_EINVAL when they are not in this
 * form. */
int pki_province_of(const X509 *ca, char pp[3], ht_err *err)
{
	int crit = -1;
	NAME_CONSTRAINTS *nc =
	    X509_get_ext_d2i(ca, NID_name_constraints, &crit, NULL);
	if (nc == NULL)
		return crit == -1
			   ? HT_ENOTFOUND
			   : ht_err_set(err, HT_EINVAL, "nameConstraints",
					"malformed or repeated");
	int rc = HT_EINVAL;
	GENERAL_SUBTREE *t =
	    sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) == 1
		? sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0)
		: NULL;
	if (crit == 1 && t != NULL && t->base->type == GEN_DNS &&
	    t->minimum == NULL && t->maximum == NULL) {
		const char *s =
		    (const char *)ASN1_STRING_get0_data(t->base->d.dNSName);
		int n = ASN1_STRING_length(t->base->d.dNSName);
		char want[PKI_SAN_MAX];
		if (n == 3 + (int)strlen(PKI_REGION_DOMAIN) + 1 &&
		    s[0] == 'p') {
			snprintf(pp, 3, "%.2s", s + 1);
			snprintf(want, sizeof(want), "p%s.%s", pp,
				 PKI_REGION_DOMAIN);
			if (pki_is_province(pp) &&
			    memcmp(want, s, (size_t)n) == 0)
				rc = 0;
		}
	}
	NAME_CONSTRAINTS_free(nc);
	if (rc != 0)
		ht_err_set(err, rc, "nameConstraints",
			   "want critical, exactly "
			   "permitted;DNS:p<PP>." PKI_REGION_DOMAIN);
	return rc;
}

/* Check x against the node profile and fill id (all but issuer/province). */
static int node_profile(X509 *x, pki_identity *id, ht_err *err)
{
	uint32_t flags = X509_get_extension_flags(x);
	char cn[PKI_NAME_MAX + 1];
	if (X509_get_version(x) != X509_VERSION_3 || (flags & EXFLAG_INVALID))
		return ht_err_set(
		    err, HT_EINVAL, "certificate",
		    "malformed: not a valid X.509 v3 certificate");
	pki_cn_or(X509_get_subject_name(x), cn, sizeof(cn));
	if (X509_check_ca(x) != 0)
		return ht_err_set(err, HT_EINVAL, "basicConstraints",
				  "'%s' is a CA certificate, not a node's", cn);
	int rc = pki_name_cn(X509_get_subject_name(x), cn, sizeof(cn), err);
	if (rc != 0)
		return rc;
	if (!is_node_name(cn))
		return ht_err_set(err, HT_EINVAL, "subject",
				  "commonName '%s' is not a node name", cn);
	if (!(flags & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
		return ht_err_set(err, HT_EINVAL, "keyUsage",
				  "'%s' lacks keyUsage digitalSignature", cn);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	size_t pklen = PKI_PK_BYTES;
	if (pk == NULL || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
	    !EVP_PKEY_get_raw_public_key(pk, id->pk, &pklen) ||
	    pklen != PKI_PK_BYTES)
		return ht_err_set(err, HT_EINVAL, "key",
				  "'%s' does not certify an Ed25519 key", cn);
	const STACK_OF(X509_EXTENSION) *exts = X509_get0_extensions(x);
	if ((rc = pki_exts_region(exts, id->region, err)) != 0 ||
	    (rc = pki_exts_link(exts, id->link_pk, err)) != 0)
		return rc;
	memcpy(id->name, cn, sizeof(cn));
	if (pki_serial_hex(X509_get0_serialNumber(x), id->serial,
			   sizeof(id->serial)) != 0 ||
	    asn1_to_ms(X509_get0_notBefore(x), &id->not_before_ms) != 0 ||
	    asn1_to_ms(X509_get0_notAfter(x), &id->not_after_ms) != 0)
		return ht_err_set(err, HT_EINVAL, "certificate",
				  "malformed serial or validity");
	pki_cn_or(X509_get_issuer_name(x), id->issuer, sizeof(id->issuer));
	return 0;
}

/* ------------------------------------------------------------------ */
/* trust store                                                          */
/* ------------------------------------------------------------------ */

/* A CRL from a CA of the bundle must carry that CA's signature. A CRL from
 * a CA outside the bundle (a province CA that reaches us only inside a
 * chain) is kept; OpenSSL checks it against that CA when it is used. */
static int crl_check_issuer(const pki_store *s, X509_CRL *crl, ht_err *err)
{
	char who[PKI_NAME_MAX + 1];
	bool named = false;
	for (int i = 0; i < sk_X509_num(s->cas); i++) {
		X509 *ca = sk_X509_value(s->cas, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
				  X509_get_subject_name(ca)) != 0)
			continue;
		if (X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
			return 0;
		named = true;
	}
	ERR_clear_error();
	if (named)
		return ht_err_set(
		    err, HT_ETRUST, "crl", "CRL of '%s' has a bad signature",
		    pki_cn_or(X509_CRL_get_issuer(crl), who, sizeof(who)));
	return 0;
}

/* 0 if crl is current at now_ms; else HT_ETRUST naming its CA. */
static int crl_current(X509_CRL *crl, int64_t now_ms, ht_err *err)
{
	char who[PKI_NAME_MAX + 1], t[PKI_TIME_STR];
	int64_t last, next;
	pki_cn_or(X509_CRL_get_issuer(crl), who, sizeof(who));
	if (asn1_to_ms(X509_CRL_get0_lastUpdate(crl), &last) != 0 ||
	    asn1_to_ms(X509_CRL_get0_nextUpdate(crl), &next) != 0)
		return ht_err_set(err, HT_ETRUST, "crl",
				  "CRL of '%s' has no readable thisUpdate/"
				  "nextUpdate",
				  who);
	if (last > now_ms + PKI_CRL_SKEW_MS)
		return ht_err_set(err, HT_ETRUST, "crl",
				  "CRL of '%s' is not yet valid (issued %s)",
				  who, util_format_time(last, t, sizeof(t)));
	if (next < now_ms)
		return ht_err_set(err, HT_ETRUST, "crl",
				  "CRL of '%s' expired at %s; the CA must "
				  "re-issue it (hutong ca crl)",
				  who, util_format_time(next, t, sizeof(t)));
	return 0;
}

/* 0 if CA ca has a current CRL in the store. */
static int ca_has_current_crl(const pki_store *s, X509 *ca, int64_t now_ms,
			      ht_err *err)
{
	char who[PKI_NAME_MAX + 1];
	int rc = HT_ENOTFOUND;
	for (int i = 0; i < sk_X509_CRL_num(s->crls) && rc != 0; i++) {
		X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
				  X509_get_subject_name(ca)) == 0)
			rc = crl_current(crl, now_ms, err);
	}
	if (rc == HT_ENOTFOUND)
		rc = ht_err_set(
		    err, HT_ETRUST, "crl",
		    "no CRL from CA '%s': refusing to verify "
		    "without one",
		    pki_cn_or(X509_get_subject_name(ca), who, sizeof(who)));
	return rc;
}

static int store_check_bundle(const pki_store *s, ht_err *err)
{
	char who[PKI_NAME_MAX + 1];
	int roots = 0;
	for (int i = 0; i < sk_X509_num(s->cas); i++) {
		X509 *ca = sk_X509_value(s->cas, i);
		pki_cn_or(X509_get_subject_name(ca), who, sizeof(who));
		if (X509_check_ca(ca) < 1)
			return ht_err_set(err, HT_EINVAL, "bundle",
					  "'%s' is not a CA certificate", who);
		if (X509_self_signed(ca, 1) == 1)
			roots++;
	}
	ERR_clear_error();
	if (roots == 0)
		return ht_err_set(err, HT_EINVAL, "bundle",
				  "no self-signed root CA in the bundle");
	return 0;
}

static int store_add_crls(pki_store *s, const char *const *paths, size_t n,
			  ht_err *err)
{
	int64_t now = wall_ms(s->clock);
	int rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = read_crls(paths[i], s->crls, err)) != 0)
			return rc;
	for (int i = 0; i < sk_X509_CRL_num(s->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
		if ((rc = crl_check_issuer(s, crl, err)) != 0 ||
		    (rc = crl_current(crl, now, err)) != 0)
			return rc;
		if (!X509_STORE_add_crl(s->x509, crl))
			return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	}
	for (int i = 0; i < sk_X509_num(s->cas); i++)
		if ((rc = ca_has_current_crl(s, sk_X509_value(s->cas, i), now,
					     err)) != 0)
			return rc;
	return 0;
}

/* A store over (up-referenced) cas with the CRLs in paths. */
static pki_store *store_build(STACK_OF(X509) * cas, const ht_clock *clock,
			      const char *const *paths, size_t n, ht_err *err)
{
	pki_store *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->x509 = X509_STORE_new()) == NULL ||
	    (s->crls = sk_X509_CRL_new_null()) == NULL ||
	    (s->cas = X509_chain_up_ref(cas)) == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		goto fail;
	}
	s->clock = clock;
	if (store_check_bundle(s, err) != 0)
		goto fail;
	for (int i = 0; i < sk_X509_num(s->cas); i++)
		if (!X509_STORE_add_cert(s->x509, sk_X509_value(s->cas, i))) {
			ht_err_set(err, HT_ENOMEM, "", "out of memory");
			goto fail;
		}
	if (store_add_crls(s, paths, n, err) != 0)
		goto fail;
	return s;
fail:
	ERR_clear_error();
	pki_store_free(&s);
	return NULL;
}

pki_store *pki_store_load(const char *bundle_pem, const char *const *crl_paths,
			  size_t n_crl, ht_err *err)
{
	STACK_OF(X509) *cas = read_certs(bundle_pem, err);
	if (cas == NULL)
		return NULL;
	pki_store *s = store_build(cas, NULL, crl_paths, n_crl, err);
	sk_X509_pop_free(cas, X509_free);
	return s;
}

pki_store *pki_store_reload_crls(const pki_store *old,
				 const char *const *crl_paths, size_t n_crl,
				 ht_err *err)
{
	return store_build(old->cas, old->clock, crl_paths, n_crl, err);
}

void pki_store_free(pki_store **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	X509_STORE_free((*sp)->x509);
	sk_X509_pop_free((*sp)->cas, X509_free);
	sk_X509_CRL_pop_free((*sp)->crls, X509_CRL_free);
	free(*sp);
	*sp = NULL;
}

void pki_store_set_clock(pki_store *s, const ht_clock *clock)
{
	s->clock = clock;
}

/* ------------------------------------------------------------------ */
/* chain verification                                                   */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	int code;
} reasons[] = {
    {"unspecified", CRL_REASON_UNSPECIFIED},
    {"keyCompromise", CRL_REASON_KEY_COMPROMISE},
    {"CACompromise", CRL_REASON_CA_COMPROMISE},
    {"affiliationChanged", CRL_REASON_AFFILIATION_CHANGED},
    {"superseded", CRL_REASON_SUPERSEDED},
    {"cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION},
    {"privilegeWithdrawn", CRL_REASON_PRIVILEGE_WITHDRAWN},
    {"AACompromise", CRL_REASON_AA_COMPROMISE},
};
#define N_REASONS (sizeof(reasons) / sizeof(reasons[0]))

static const char *const reason_list[N_REASONS + 1] = {
    "unspecified",	  "keyCompromise", "CACompromise",
    "affiliationChanged", "superseded",	   "cessationOfOperation",
    "privilegeWithdrawn", "AACompromise",  NULL,
};

const char *const *pki_reason_names(void) { return reason_list; }

int pki_reason_code(const char *name)
{
	for (size_t i = 0; i < N_REASONS; i++)
		if (strcmp(reasons[i].name, name) == 0)
			return reasons[i].code;
	return -1;
}

static const char *reason_name(int code)
{
	for (size_t i = 0; i < N_REASONS; i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return "unknown";
}

/* The CRL entry revoking x, if any CRL of the store lists it. */
static X509_REVOKED *find_revoked(const pki_store *s, X509 *x)
{
	X509_REVOKED *rev = NULL;
	for (int i = 0; i < sk_X509_CRL_num(s->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
				  X509_get_issuer_name(x)) == 0 &&
		    X509_CRL_get0_by_cert(crl, &rev, x) == 1)
			return rev;
	}
	return NULL;
}

static int refuse_revoked(const pki_store *s, X509 *x, const char *who,
			  ht_err *err)
{
	char issuer[PKI_NAME_MAX + 1], serial[PKI_SERIAL_HEX_MAX] = "?";
	char when[PKI_TIME_STR] = "?";
	const char *why = "unspecified";
	X509_REVOKED *rev = find_revoked(s, x);
	pki_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial));
	if (rev != NULL) {
		ASN1_ENUMERATED *r =
		    X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
		if (r != NULL)
			why = reason_name((int)ASN1_ENUMERATED_get(r));
		ASN1_ENUMERATED_free(r);
		asn1_str(X509_REVOKED_get0_revocationDate(rev), when,
			 sizeof(when));
	}
	return ht_err_set(
	    err, HT_ETRUST, "certificate",
	    "revoked: '%s' (serial %s) was revoked by '%s' on "
	    "%s, reason %s",
	    who, serial,
	    pki_cn_or(X509_get_issuer_name(x), issuer, sizeof(issuer)), when,
	    why);
}

static int refuse_time(X509 *x, const char *who, bool expired, int64_t at_ms,
		       ht_err *err)
{
	char t[PKI_TIME_STR], at[PKI_TIME_STR];
	util_format_time(at_ms, at, sizeof(at));
	if (expired)
		return ht_err_set(
		    err, HT_ETRUST, "certificate",
		    "expired: '%s' was valid until %s, before "
		    "the time checked %s",
		    who, asn1_str(X509_get0_notAfter(x), t, sizeof(t)), at);
	return ht_err_set(err, HT_ETRUST, "certificate",
			  "not yet valid: '%s' is valid from %s, after the "
			  "time checked %s",
			  who, asn1_str(X509_get0_notBefore(x), t, sizeof(t)),
			  at);
}

/* Turn OpenSSL's verdict into one clear refusal. */
static int refuse(const pki_store *s, X509_STORE_CTX *ctx, int64_t at_ms,
		  ht_err *err)
{
	int e = X509_STORE_CTX_get_error(ctx);
	X509 *x = X509_STORE_CTX_get_current_cert(ctx);
	char who[PKI_NAME_MAX + 1], iss[PKI_NAME_MAX + 1];
	pki_cn_or(x ? X509_get_subject_name(x) : NULL, who, sizeof(who));
	pki_cn_or(x ? X509_get_issuer_name(x) : NULL, iss, sizeof(iss));
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "unknown CA: '%s' was issued by '%s', which "
				  "does not chain to the trusted root",
				  who, iss);
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return refuse_time(x, who, e == X509_V_ERR_CERT_HAS_EXPIRED,
				   at_ms, err);
	case X509_V_ERR_CERT_REVOKED:
		return refuse_revoked(s, x, who, err);
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return ht_err_set(err, HT_ETRUST, "crl",
				  "no CRL from CA '%s' (issuer of '%s'): "
				  "refusing without one",
				  iss, who);
	case X509_V_ERR_PERMITTED_VIOLATION:
	case X509_V_ERR_EXCLUDED_VIOLATION:
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "out of province: '%s' names a region its "
				  "CA's nameConstraints do not permit",
				  who);
	case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "unknown critical extension in '%s'", who);
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
		return ht_err_set(err, HT_ETRUST, "crl",
				  "unknown critical extension in the CRL of "
				  "'%s'",
				  iss);
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "bad signature: '%s' is not signed by '%s'",
				  who, iss);
	default:
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "'%s' refused: %s", who,
				  X509_verify_cert_error_string(e));
	}
}

/* What verify_cb needs beyond OpenSSL's context. */
typedef struct verify_info {
	const pki_store *s;
	int64_t at_ms;
} verify_info;

/* When x was revoked (Unix ms), or INT64_MAX if no CRL lists it. */
static int64_t revoked_since(const pki_store *s, X509 *x)
{
	X509_REVOKED *rev = find_revoked(s, x);
	int64_t ms;
	if (rev == NULL)
		return INT64_MAX;
	if (asn1_to_ms(X509_REVOKED_get0_revocationDate(rev), &ms) != 0)
		return INT64_MIN; /* unreadable date: revoked for all time */
	return ms;
}

/* CRL validity is judged against the current clock afterwards, not against
 * the record's time that OpenSSL checks. A revocation counts from its
 * revocation date: a record created before it was made by a certificate
 * that was good then, so every node reaches the same verdict whatever order
 * it learns the CRL and the record in. Everything else stays fatal. */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	int e = X509_STORE_CTX_get_error(ctx);
	if (!ok && (e == X509_V_ERR_CRL_HAS_EXPIRED ||
		    e == X509_V_ERR_CRL_NOT_YET_VALID))
		return 1;
	const verify_info *vi = X509_STORE_CTX_get_app_data(ctx);
	if (!ok && e == X509_V_ERR_CERT_REVOKED && vi != NULL &&
	    revoked_since(vi->s, X509_STORE_CTX_get_current_cert(ctx)) >
		vi->at_ms)
		return 1;
	return ok;
}

/* Every CA on the built chain has a current CRL, and no certificate below
 * the root was revoked by at_ms in any CRL held. */
static int chain_not_revoked(const pki_store *s, STACK_OF(X509) * chain,
			     int64_t at_ms, ht_err *err)
{
	int n = sk_X509_num(chain), rc;
	char who[PKI_NAME_MAX + 1];
	int64_t now = wall_ms(s->clock);
	for (int i = 1; i < n; i++)
		if ((rc = ca_has_current_crl(s, sk_X509_value(chain, i), now,
					     err)) != 0)
			return rc;
	/* OpenSSL consults one CRL per issuer; revocations that arrived in
	 * revocation records may sit in another, so ask every CRL held. */
	for (int i = 0; i < n - 1; i++) {
		X509 *x = sk_X509_value(chain, i);
		if (revoked_since(s, x) <= at_ms) {
			pki_cn_or(X509_get_subject_name(x), who, sizeof(who));
			return refuse_revoked(s, x, who, err);
		}
	}
	return 0;
}

/* The province CA between root and node (chain[1]) must carry a province
 * constraint, and the node's region must lie in that province. */
static int chain_province(STACK_OF(X509) * chain, pki_identity *id, ht_err *err)
{
	char who[PKI_NAME_MAX + 1];
	X509 *prov = sk_X509_value(chain, 1);
	pki_cn_or(X509_get_subject_name(prov), who, sizeof(who));
	int rc = pki_province_of(prov, id->province, err);
	if (rc == HT_ENOTFOUND)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "intermediate CA '%s' has no province "
				  "constraint",
				  who);
	if (rc != 0)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "intermediate CA '%s': bad province "
				  "constraint (want critical nameConstraints "
				  "permitted;DNS:p<PP>." PKI_REGION_DOMAIN ")",
				  who);
	if (strncmp(id->region, id->province, 2) != 0)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "out of province: region %s of '%s' is "
				  "outside province %s of CA '%s'",
				  id->region, id->name, id->province, who);
	return 0;
}

/* hutong's rules on a chain OpenSSL accepted: shape, CRL freshness now,
 * node profile, province. */
static int check_built_chain(const pki_store *s, STACK_OF(X509) * chain,
			     int64_t at_ms, pki_identity *id, ht_err *err)
{
	int n = sk_X509_num(chain), rc;
	if (n < 2)
		return ht_err_set(err, HT_EINVAL, "certificate",
				  "a CA certificate, not a node's");
	if (n > 3)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "chain too long: at most one province CA "
				  "between root and node");
	if ((rc = chain_not_revoked(s, chain, at_ms, err)) != 0 ||
	    (rc = node_profile(sk_X509_value(chain, 0), id, err)) != 0)
		return rc;
	return n == 2 ? 0 : chain_province(chain, id, err);
}

static int parse_ders(const uint8_t *const *der, const size_t *der_len,
		      size_t n, STACK_OF(X509) * *out, ht_err *err)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	if (sk == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = der[i];
		X509 *x = der_len[i] > 0 && der_len[i] <= PKI_MAX_CERT
			      ? d2i_X509(NULL, &p, (long)der_len[i])
			      : NULL;
		if (x == NULL || p != der[i] + der_len[i] ||
		    !sk_X509_push(sk, x)) {
			X509_free(x);
			sk_X509_pop_free(sk, X509_free);
			ERR_clear_error();
			return ht_err_set(err, HT_EINVAL, "certificate",
					  "malformed: certificate %zu is not "
					  "parseable DER of at most %d bytes",
					  i, PKI_MAX_CERT);
		}
	}
	*out = sk;
	return 0;
}

static int run_verify(const pki_store *s, STACK_OF(X509) * certs, int64_t at_ms,
		      pki_identity *id, ht_err *err)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = sk_X509_value(certs, 0);
	int rc = HT_ENOMEM;
	if (ctx == NULL || !X509_STORE_CTX_init(ctx, s->x509, leaf, certs)) {
		ht_err_set(err, rc, "", "out of memory");
		goto out;
	}
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)(at_ms / 1000));
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK |
					       X509_V_FLAG_CRL_CHECK_ALL);
	X509_VERIFY_PARAM_set_depth(param, 1);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	verify_info vi = {s, at_ms};
	X509_STORE_CTX_set_app_data(ctx, &vi);
	if (X509_verify_cert(ctx) != 1)
		rc = refuse(s, ctx, at_ms, err);
	else
		rc = check_built_chain(s, X509_STORE_CTX_get0_chain(ctx), at_ms,
				       id, err);
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int pki_verify_chain(const pki_store *s, const uint8_t *const *der,
		     const size_t *der_len, size_t n, int64_t at_ms,
		     pki_identity *out, ht_err *err)
{
	pki_identity id;
	memset(&id, 0, sizeof(id));
	memset(out, 0, sizeof(*out));
	if (n < 1 || n > PKI_MAX_CHAIN)
		return ht_err_set(err, HT_EINVAL, "certificate",
				  "want 1 to %d certificates, got %zu",
				  PKI_MAX_CHAIN, n);
	STACK_OF(X509) *certs = NULL;
	int rc = parse_ders(der, der_len, n, &certs, err);
	if (rc != 0)
		return rc;
	rc = run_verify(s, certs, at_ms, &id, err);
	sk_X509_pop_free(certs, X509_free);
	if (rc == 0)
		*out = id;
	return rc;
}

bool pki_is_revoked(const pki_store *s, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = len <= PKI_MAX_CERT ? d2i_X509(NULL, &p, (long)len) : NULL;
	bool revoked = true;
	if (x != NULL && p == der + len) {
		bool have_crl = false;
		for (int i = 0; i < sk_X509_CRL_num(s->crls); i++)
			if (X509_NAME_cmp(X509_CRL_get_issuer(
					      sk_X509_CRL_value(s->crls, i)),
					  X509_get_issuer_name(x)) == 0)
				have_crl = true;
		revoked = !have_crl || find_revoked(s, x) != NULL;
	}
	X509_free(x);
	ERR_clear_error();
	return revoked;
}

int pki_store_add_crl_der(pki_store *s, const uint8_t *der, size_t len,
			  ht_err *err)
{
	const unsigned char *p = der;
	X509_CRL *crl =
	    len <= PKI_MAX_FILE ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
	char who[PKI_NAME_MAX + 1];
	int rc = HT_EINVAL;
	if (crl == NULL || p != der + len) {
		ht_err_set(err, rc, "crl", "malformed: not a DER X.509 CRL");
		goto out;
	}
	rc = HT_ETRUST;
	bool signed_by_ca = false;
	for (int i = 0; i < sk_X509_num(s->cas) && !signed_by_ca; i++) {
		X509 *ca = sk_X509_value(s->cas, i);
		signed_by_ca = X509_NAME_cmp(X509_CRL_get_issuer(crl),
					     X509_get_subject_name(ca)) == 0 &&
			       X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;
	}
	if (!signed_by_ca) {
		ht_err_set(
		    err, rc, "crl",
		    "not signed by a CA of the trust "
		    "bundle (issuer '%s')",
		    pki_cn_or(X509_CRL_get_issuer(crl), who, sizeof(who)));
		goto out;
	}
	rc = HT_ENOMEM;
	if (!sk_X509_CRL_push(s->crls, crl)) {
		ht_err_set(err, rc, "", "out of memory");
		goto out;
	}
	X509_STORE_add_crl(s->x509, crl);
	crl = NULL; /* owned by the stack now */
	rc = 0;
out:
	X509_CRL_free(crl);
	ERR_clear_error();
	return rc;
}

int pki_crl_read_der(const char *path, uint8_t **der, size_t *len, ht_err *err)
{
	BIO *mem = pki_read_mem(path, PKI_MAX_FILE, err);
	if (mem == NULL)
		return HT_EIO;
	X509_CRL *crl = PEM_read_bio_X509_CRL(mem, NULL, NULL, NULL);
	if (crl == NULL) {
		ERR_clear_error();
		(void)BIO_reset(mem);
		crl = d2i_X509_CRL_bio(mem, NULL);
	}
	BIO_free(mem);
	unsigned char *out = NULL;
	int n = crl ? i2d_X509_CRL(crl, &out) : -1;
	X509_CRL_free(crl);
	ERR_clear_error();
	if (n <= 0)
		return ht_err_set(err, HT_EINVAL, "crl",
				  "%s: not a CRL (PEM or "
				  "DER)",
				  path);
	*der = malloc((size_t)n);
	if (*der != NULL)
		memcpy(*der, out, (size_t)n);
	OPENSSL_free(out);
	if (*der == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	*len = (size_t)n;
	return 0;
}

/* Until when the freshest CRL issued by `issuer` is current (its
 * nextUpdate), or INT64_MIN when the store has none from it. */
static int64_t crl_until(const pki_store *s, const X509_NAME *issuer)
{
	int64_t best = INT64_MIN, t;
	for (int i = 0; i < sk_X509_CRL_num(s->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), issuer) == 0 &&
		    next != NULL && asn1_to_ms(next, &t) == 0 && t > best)
			best = t;
	}
	return best;
}

/* Fold certificate x into the chain status: its revocation and its
 * issuer's CRL freshness. */
static void status_add(const pki_store *s, X509 *x, int64_t *rev,
		       int64_t *until)
{
	int64_t r = revoked_since(s, x),
		u = crl_until(s, X509_get_issuer_name(x));
	*rev = r < *rev ? r : *rev;
	*until = u < *until ? u : *until;
}

/* The bundle CA that issued x, unless it is a self-signed root. */
static X509 *bundle_intermediate(const pki_store *s, X509 *x)
{
	for (int i = 0; i < sk_X509_num(s->cas); i++) {
		X509 *ca = sk_X509_value(s->cas, i);
		if (X509_NAME_cmp(X509_get_subject_name(ca),
				  X509_get_issuer_name(x)) == 0 &&
		    X509_NAME_cmp(X509_get_subject_name(ca),
				  X509_get_issuer_name(ca)) != 0)
			return ca;
	}
	return NULL;
}

int pki_chain_status(const pki_store *s, const uint8_t *const *der,
		     const size_t *der_len, size_t n, int64_t *revoked_ms,
		     int64_t *crl_until_ms)
{
	STACK_OF(X509) *certs = NULL;
	*revoked_ms = INT64_MAX;
	*crl_until_ms = INT64_MAX;
	if (n < 1 || n > PKI_MAX_CHAIN ||
	    parse_ders(der, der_len, n, &certs, NULL) != 0) {
		*revoked_ms = *crl_until_ms = INT64_MIN;
		return HT_EINVAL;
	}
	X509 *last = NULL;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		if (X509_NAME_cmp(X509_get_subject_name(x),
				  X509_get_issuer_name(x)) == 0)
			break; /* a root carried along: the bundle decides */
		status_add(s, x, revoked_ms, crl_until_ms);
		last = x;
	}
	X509 *mid = last ? bundle_intermediate(s, last) : NULL;
	if (mid != NULL)
		status_add(s, mid, revoked_ms, crl_until_ms);
	sk_X509_pop_free(certs, X509_free);
	return 0;
}

int64_t pki_now_ms(const pki_store *s) { return wall_ms(s->clock); }

int64_t pki_revocation_ms(const pki_store *s, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = len <= PKI_MAX_CERT ? d2i_X509(NULL, &p, (long)len) : NULL;
	int64_t ms = INT64_MIN;
	if (x != NULL && p == der + len)
		ms = revoked_since(s, x);
	X509_free(x);
	ERR_clear_error();
	return ms;
}

/* ------------------------------------------------------------------ */
/* node identity and record checks                                      */
/* ------------------------------------------------------------------ */

int pki_identity_from_pem_file(const char *path, pki_identity *out, ht_err *err)
{
	pki_identity id;
	memset(&id, 0, sizeof(id));
	memset(out, 0, sizeof(*out));
	X509 *x = pki_read_cert(path, err);
	if (x == NULL)
		return HT_EINVAL;
	int rc = node_profile(x, &id, err);
	X509_free(x);
	ERR_clear_error();
	if (rc == 0)
		*out = id;
	return rc;
}

int pki_check_region(const pki_identity *id, const char *origin_region,
		     ht_err *err)
{
	if (origin_region == NULL || strcmp(id->region, origin_region) != 0)
		return ht_err_set(err, HT_ETRUST, "origin_region",
				  "region mismatch: the record says %s, the "
				  "certificate of '%s' says %s",
				  origin_region ? origin_region : "(none)",
				  id->name, id->region);
	return 0;
}

int pki_check_key(const pki_identity *id, const uint8_t pk[PKI_PK_BYTES],
		  ht_err *err)
{
	if (sodium_memcmp(id->pk, pk, PKI_PK_BYTES) != 0)
		return ht_err_set(
		    err, HT_ETRUST, "key",
		    "wrong key: the certificate of '%s' certifies "
		    "a different key",
		    id->name);
	return 0;
}

int pki_verify_signature(const pki_identity *id, const uint8_t *msg, size_t len,
			 const uint8_t sig[PKI_SIG_BYTES], ht_err *err)
{
	if (sodium_init() < 0)
		return ht_err_set(err, HT_ECRYPTO, "", "libsodium init failed");
	if (crypto_sign_verify_detached(sig, msg, len, id->pk) != 0)
		return ht_err_set(err, HT_ETRUST, "signature",
				  "wrong key: the signature does not verify "
				  "with the key certified for '%s'",
				  id->name);
	return 0;
}

/* ------------------------------------------------------------------ */
/* PEM <-> DER chains                                                   */
/* ------------------------------------------------------------------ */

int pki_chain_read_pem(const char *path, pki_chain *out, ht_err *err)
{
	memset(out, 0, sizeof(*out));
	STACK_OF(X509) *sk = read_certs(path, err);
	if (sk == NULL)
		return HT_EINVAL;
	int rc = 0, n = sk_X509_num(sk);
	if (n > PKI_MAX_CHAIN)
		rc = ht_err_set(err, HT_ELIMIT, "certificate",
				"%s: %d certificates, at most %d", path, n,
				PKI_MAX_CHAIN);
	for (int i = 0; rc == 0 && i < n; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(sk, i), &der);
		if (len <= 0 || len > PKI_MAX_CERT) {
			OPENSSL_free(der);
			rc =
			    ht_err_set(err, HT_ELIMIT, "certificate",
				       "%s: certificate %d too large", path, i);
			break;
		}
		out->der[i] = malloc((size_t)len);
		if (out->der[i] != NULL)
			memcpy(out->der[i], der, (size_t)len);
		OPENSSL_free(der);
		if (out->der[i] == NULL)
			rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
		out->len[i] = (size_t)len;
		out->n = (size_t)i + 1;
	}
	sk_X509_pop_free(sk, X509_free);
	if (rc != 0)
		pki_chain_clear(out);
	return rc;
}

int pki_chain_write_pem(const char *path, const uint8_t *const *der,
			const size_t *der_len, size_t n, ht_err *err)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int rc = mem ? 0 : ht_err_set(err, HT_ENOMEM, "", "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const unsigned char *p = der[i];
		X509 *x = d2i_X509(NULL, &p, (long)der_len[i]);
		if (x == NULL || p != der[i] + der_len[i] ||
		    !PEM_write_bio_X509(mem, x))
			rc = ht_err_set(err, HT_EINVAL, "certificate",
					"certificate %zu is not DER X.509", i);
		X509_free(x);
	}
	if (rc == 0)
		rc = pki_write_mem(path, mem, 0644, false, err);
	BIO_free(mem);
	ERR_clear_error();
	return rc;
}

void pki_chain_clear(pki_chain *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n && i < PKI_MAX_CHAIN; i++)
		free(c->der[i]);
	memset(c, 0, sizeof(*c));
}

int pki_cert_not_after(const uint8_t *der, size_t len, int64_t *ms)
{
	const unsigned char *p = der;
	X509 *x = len <= PKI_MAX_CERT ? d2i_X509(NULL, &p, (long)len) : NULL;
	int64_t t = 0;
	int rc = HT_EINVAL;
	if (x != NULL && p == der + len &&
	    asn1_to_ms(X509_get0_notAfter(x), &t) == 0) {
		*ms = t;
		rc = 0;
	}
	X509_free(x);
	return rc;
}

size_t pki_store_crl_count(const pki_store *s)
{
	return s == NULL ? 0 : (size_t)sk_X509_CRL_num(s->crls);
}

int pki_store_crl_at(const pki_store *s, size_t i,
		     char issuer[PKI_NAME_MAX + 1], int64_t *next_ms)
{
	char buf[PKI_NAME_MAX + 1];
	int64_t t = 0;
	if (i >= pki_store_crl_count(s))
		return HT_ENOTFOUND;
	X509_CRL *crl = sk_X509_CRL_value(s->crls, (int)i);
	if (asn1_to_ms(X509_CRL_get0_nextUpdate(crl), &t) != 0)
		return HT_EINVAL;
	snprintf(issuer, PKI_NAME_MAX + 1, "%s",
		 pki_cn_or(X509_CRL_get_issuer(crl), buf, sizeof(buf)));
	*next_ms = t;
	return 0;
}
