/*
 * ca: issuing, the half of the PKI that only `hutong ca` and node set-up
 * need: the node's CSR, creating a root or province CA, signing node CSRs,
 * revoking and writing CRLs. The daemon verifies (pki.c) and never links
 * this file.
 *
 * The CA keeps its state in the files `openssl ca` uses (index.txt, serial,
 * crlnumber, issued/), so a bureau may switch between the two tools.
 * Secrets: private keys are read into OpenSSL EVP_PKEYs only for signing, the
 * PEM text is cleansed after parsing, and key files must be mode 0600.
 */
#include "ca.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ident.h"
#include "pki_impl.h"

#define PKI_KEY_FILE_MAX 16384
#define PKI_CSR_MAX (64 * 1024)
#define PKI_ROOT_SERIAL_BYTES 16
#define PKI_INDEX_LINE_MAX 2048
#define PKI_INDEX_FIELDS 6
#define PKI_MAX_DAYS 36500

/* ------------------------------------------------------------------ */
/* small helpers: names, keys, the profile's extensions                 */
/* ------------------------------------------------------------------ */

/* A CA's name (its CN): text without tabs or line breaks. */
static bool is_ca_name(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= PKI_NAME_MAX && util_is_text(s, n) &&
	       strpbrk(s, "\t\r\n") == NULL;
}

/* Load a private key of the given type; the file must be mode 0600. */
static EVP_PKEY *load_key(const char *path, ht_err *err)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		ht_err_set(err, HT_ENOTFOUND, "key", "%s: %s", path,
			   strerror(errno));
		return NULL;
	}
	if ((st.st_mode & 077) != 0) {
		ht_err_set(err, HT_EINVAL, "key",
			   "%s: permissions %03o are too open; run chmod 600 "
			   "%s",
			   path, (unsigned)(st.st_mode & 0777), path);
		return NULL;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (util_read_file(path, PKI_KEY_FILE_MAX, &buf, &len, err) != 0)
		return NULL;
	BIO *mem = BIO_new_mem_buf(buf, (int)len);
	EVP_PKEY *pk =
	    mem ? PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL) : NULL;
	BIO_free(mem);
	OPENSSL_cleanse(buf, len);
	free(buf);
	ERR_clear_error();
	if (pk == NULL || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		ht_err_set(err, HT_ECRYPTO, "key",
			   "%s: not a PEM Ed25519 private key", path);
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

static X509_EXTENSION *link_ext(const uint8_t link[PKI_LINK_BYTES])
{
	ASN1_OBJECT *obj = OBJ_txt2obj(PKI_LINK_OID, 1);
	ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING *outer = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	X509_EXTENSION *ext = NULL;
	int n = -1;
	if (obj && inner && outer &&
	    ASN1_OCTET_STRING_set(inner, link, PKI_LINK_BYTES))
		n = i2d_ASN1_OCTET_STRING(inner, &der);
	if (n > 0 && ASN1_OCTET_STRING_set(outer, der, n))
		ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, outer);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(outer);
	ASN1_OCTET_STRING_free(inner);
	ASN1_OBJECT_free(obj);
	return ext;
}

static X509_EXTENSION *region_ext(const char *region)
{
	char dns[PKI_SAN_MAX], value[PKI_SAN_MAX + 8];
	if (pki_region_dns(region, dns, sizeof(dns)) != 0)
		return NULL;
	snprintf(value, sizeof(value), "DNS:%s", dns);
	return X509V3_EXT_nconf_nid(NULL, NULL, NID_subject_alt_name, value);
}

/* ------------------------------------------------------------------ */
/* the node's CSR                                                       */
/* ------------------------------------------------------------------ */

static int set_cn(X509_NAME *name, const char *cn)
{
	return X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
					  (const unsigned char *)cn, -1, -1, 0)
		   ? 0
		   : HT_ENOMEM;
}

static int csr_build(X509_REQ *req, EVP_PKEY *key,
		     const uint8_t link_pk[PKI_LINK_BYTES], const char *name,
		     const char *region)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = region_ext(region), *lk = link_ext(link_pk);
	int rc = HT_ECRYPTO;
	if (exts && san && lk && sk_X509_EXTENSION_push(exts, san)) {
		san = NULL;
		if (sk_X509_EXTENSION_push(exts, lk)) {
			lk = NULL;
			if (X509_REQ_set_version(req, X509_REQ_VERSION_1) &&
			    set_cn(X509_REQ_get_subject_name(req), name) == 0 &&
			    X509_REQ_set_pubkey(req, key) &&
			    X509_REQ_add_extensions(req, exts) &&
			    X509_REQ_sign(req, key, NULL) > 0)
				rc = 0;
		}
	}
	X509_EXTENSION_free(san);
	X509_EXTENSION_free(lk);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

int pki_write_csr(const char *key_pem_path,
		  const uint8_t link_pk[PKI_LINK_BYTES], const char *name,
		  const char *region, const char *out_path, ht_err *err)
{
	if (!pki_is_node_name(name))
		return ht_err_set(err, HT_EINVAL, "name",
				  "must be 1-64 of [a-z0-9._-] starting with a "
				  "letter or digit, got '%s'",
				  name);
	int rc = util_check_region(region, "region", err);
	if (rc != 0)
		return rc;
	EVP_PKEY *key = load_key(key_pem_path, err);
	if (key == NULL)
		return HT_ECRYPTO;
	X509_REQ *req = X509_REQ_new();
	BIO *mem = BIO_new(BIO_s_mem());
	if (req == NULL || mem == NULL ||
	    csr_build(req, key, link_pk, name, region) != 0 ||
	    !PEM_write_bio_X509_REQ(mem, req))
		rc = ht_err_set(err, HT_ECRYPTO, "csr", "cannot build the CSR");
	else
		rc = pki_write_mem(out_path, mem, 0644, false, err);
	BIO_free(mem);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

/* ------------------------------------------------------------------ */
/* the CA directory                                                     */
/* ------------------------------------------------------------------ */

typedef struct ca_paths {
	char key[PATH_MAX], crt[PATH_MAX], serial[PATH_MAX];
	char crlnumber[PATH_MAX], index[PATH_MAX], attr[PATH_MAX];
	char crl[PATH_MAX], issued[PATH_MAX];
} ca_paths;

typedef struct ca {
	ca_paths p;
	X509 *crt;
	EVP_PKEY *key;
	char name[PKI_NAME_MAX + 1];
	char province[3]; /* "" for the root */
} ca;

static int ca_paths_init(const char *dir, ca_paths *p, ht_err *err)
{
	if (util_path_join(dir, "ca.key", p->key, PATH_MAX) ||
	    util_path_join(dir, "ca.crt", p->crt, PATH_MAX) ||
	    util_path_join(dir, "serial", p->serial, PATH_MAX) ||
	    util_path_join(dir, "crlnumber", p->crlnumber, PATH_MAX) ||
	    util_path_join(dir, "index.txt", p->index, PATH_MAX) ||
	    util_path_join(dir, "index.txt.attr", p->attr, PATH_MAX) ||
	    util_path_join(dir, "crl.pem", p->crl, PATH_MAX) ||
	    util_path_join(dir, "issued", p->issued, PATH_MAX))
		return ht_err_set(err, HT_ELIMIT, "dir", "%s: path too long",
				  dir);
	return 0;
}

static void ca_close(ca *c)
{
	X509_free(c->crt);
	EVP_PKEY_free(c->key);
	c->crt = NULL;
	c->key = NULL;
}

/* Open the CA in dir: its certificate, key (0600) and province. */
static int ca_open(const char *dir, ca *c, ht_err *err)
{
	memset(c, 0, sizeof(*c));
	int rc = ca_paths_init(dir, &c->p, err);
	if (rc != 0)
		return rc;
	if ((c->crt = pki_read_cert(c->p.crt, err)) == NULL)
		return HT_ENOTFOUND;
	if ((c->key = load_key(c->p.key, err)) == NULL)
		goto fail;
	if (X509_check_private_key(c->crt, c->key) != 1) {
		ht_err_set(err, HT_ECRYPTO, "key", "%s does not match %s",
			   c->p.key, c->p.crt);
		goto fail;
	}
	pki_cn_or(X509_get_subject_name(c->crt), c->name, sizeof(c->name));
	rc = pki_province_of(c->crt, c->province, err);
	if (rc != 0 && rc != HT_ENOTFOUND)
		goto fail;
	if (rc == HT_ENOTFOUND)
		c->province[0] = '\0';
	return 0;
fail:
	ERR_clear_error();
	ca_close(c);
	return HT_EINVAL;
}

/* Read the hex counter at path, store counter+1, and return the old value
 * as an ASN1_INTEGER (the `openssl ca` serial/crlnumber convention). */
static ASN1_INTEGER *counter_take(const char *path, ht_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (util_read_file(path, 256, &buf, &len, err) != 0)
		return NULL;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	char *next = NULL;
	if (len == 0 || BN_hex2bn(&bn, (char *)buf) != (int)len) {
		ht_err_set(err, HT_ECORRUPT, "", "%s: not a hex number", path);
		goto out;
	}
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	if (ai == NULL || !BN_add_word(bn, 1) || (next = BN_bn2hex(bn)) == NULL)
		goto fail;
	char line[128];
	int n = snprintf(line, sizeof(line), "%s%s\n",
			 strlen(next) % 2 ? "0" : "", next);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    util_write_file(path, line, (size_t)n, 0644, false, err) == 0)
		goto out;
fail:
	ASN1_INTEGER_free(ai);
	ai = NULL;
	if (err && err->msg[0] == '\0')
		ht_err_set(err, HT_EIO, "", "%s: cannot update", path);
out:
	OPENSSL_free(next);
	BN_free(bn);
	free(buf);
	return ai;
}

/* Add extension nid = value (openssl.cnf syntax) to x issued by issuer. */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	int ok = ext != NULL && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : HT_ECRYPTO;
}

/* Validity now .. now+days, but never past the issuer's own notAfter. */
static int set_validity(X509 *x, const X509 *issuer, int days)
{
	if (!X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
		return HT_ECRYPTO;
	if (issuer != NULL &&
	    ASN1_TIME_compare(X509_get0_notAfter(x),
			      X509_get0_notAfter(issuer)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(issuer)))
		return HT_ECRYPTO;
	return 0;
}

static ASN1_INTEGER *random_serial(void)
{
	unsigned char b[PKI_ROOT_SERIAL_BYTES];
	if (RAND_bytes(b, sizeof(b)) != 1)
		return NULL;
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x40); /* positive, full size */
	BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
	ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	return ai;
}

/* Append a "V" line for x to the CA's index and a copy to issued/. */
static int ca_record_issued(const ca *c, X509 *x, ht_err *err)
{
	char serial[PKI_SERIAL_HEX_MAX], path[PATH_MAX];
	char *dn = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	const ASN1_TIME *na = X509_get0_notAfter(x);
	BIO *mem = pki_read_mem(c->p.index, PKI_MAX_FILE, err);
	int rc = HT_EIO;
	if (dn == NULL || mem == NULL ||
	    pki_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial)) ||
	    BIO_printf(mem, "V\t%.*s\t\t%s\tunknown\t%s\n",
		       ASN1_STRING_length(na), ASN1_STRING_get0_data(na),
		       serial, dn) <= 0) {
		if (err && err->msg[0] == '\0')
			ht_err_set(err, rc, "", "%s: cannot update",
				   c->p.index);
		goto out;
	}
	if ((rc = pki_write_mem(c->p.index, mem, 0644, false, err)) != 0)
		goto out;
	BIO_reset(mem);
	rc = HT_EIO;
	if (snprintf(path, sizeof(path), "%s/%s.pem", c->p.issued, serial) <
		(int)sizeof(path) &&
	    PEM_write_bio_X509(mem, x))
		rc = pki_write_mem(path, mem, 0644, false, err);
out:
	BIO_free(mem);
	OPENSSL_free(dn);
	return rc;
}

/* Sign x with the CA and write it (plus the CA cert for a province CA). */
static int ca_issue(const ca *c, X509 *x, const char *out, bool chain,
		    ht_err *err)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int rc = HT_ECRYPTO;
	if (mem == NULL || X509_sign(x, c->key, NULL) <= 0 ||
	    !PEM_write_bio_X509(mem, x) ||
	    (chain && !PEM_write_bio_X509(mem, c->crt))) {
		ht_err_set(err, rc, "", "cannot sign the certificate");
		goto out;
	}
	if ((rc = pki_write_mem(out, mem, 0644, false, err)) != 0)
		goto out;
	rc = ca_record_issued(c, x, err);
out:
	BIO_free(mem);
	ERR_clear_error();
	return rc;
}

static int ca_check_current(const ca *c, ht_err *err)
{
	if (X509_cmp_current_time(X509_get0_notAfter(c->crt)) <= 0)
		return ht_err_set(err, HT_ESTATE, "ca",
				  "the certificate of CA '%s' has expired",
				  c->name);
	return 0;
}

/* Fill the parts every certificate we issue shares. */
static int cert_base(X509 *x, X509 *issuer, const char *cn, EVP_PKEY *pub,
		     ASN1_INTEGER *serial, int days)
{
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_serialNumber(x, serial) ||
	    set_cn(X509_get_subject_name(x), cn) != 0 ||
	    !X509_set_issuer_name(x,
				  X509_get_subject_name(issuer ? issuer : x)) ||
	    !X509_set_pubkey(x, pub) || set_validity(x, issuer, days) != 0)
		return HT_ECRYPTO;
	return 0;
}

static int ca_cert_exts(X509 *x, X509 *issuer, const char *province)
{
	char nc[PKI_SAN_MAX];
	snprintf(nc, sizeof(nc), "critical,permitted;DNS:p%s.%s",
		 province ? province : "", PKI_REGION_DOMAIN);
	X509 *iss = issuer ? issuer : x;
	if (add_ext(x, iss, NID_basic_constraints,
		    province ? "critical,CA:TRUE,pathlen:0"
			     : "critical,CA:TRUE,pathlen:1") ||
	    add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    add_ext(x, iss, NID_subject_key_identifier, "hash") ||
	    add_ext(x, iss, NID_authority_key_identifier, "keyid:always") ||
	    (province && add_ext(x, iss, NID_name_constraints, nc)))
		return HT_ECRYPTO;
	return 0;
}

static int ca_dirs(const char *dir, const ca_paths *p, ht_err *err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return ht_err_set(err, HT_EIO, "dir", "%s: %s", dir,
				  strerror(errno));
	if (access(p->key, F_OK) == 0)
		return ht_err_set(err, HT_EEXIST, "dir",
				  "%s already holds a CA (%s exists)", dir,
				  p->key);
	if (mkdir(p->issued, 0700) != 0 && errno != EEXIST)
		return ht_err_set(err, HT_EIO, "dir", "%s: %s", p->issued,
				  strerror(errno));
	return 0;
}

static int ca_state_files(const ca_paths *p, ht_err *err)
{
	static const char attr[] = "unique_subject = no\n";
	int rc;
	if ((rc = util_write_file(p->serial, "01\n", 3, 0644, true, err)) ||
	    (rc = util_write_file(p->crlnumber, "01\n", 3, 0644, true, err)) ||
	    (rc = util_write_file(p->index, "", 0, 0644, true, err)) ||
	    (rc = util_write_file(p->attr, attr, sizeof(attr) - 1, 0644, true,
				  err)))
		return rc;
	return 0;
}

static void ca_unlink_all(const ca_paths *p)
{
	const char *files[] = {p->key,	 p->crt,  p->serial, p->crlnumber,
			       p->index, p->attr, p->crl};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(p->issued);
}

static int ca_init_args(const char *name, const char *parent_dir,
			const char *province, ht_err *err)
{
	if (name == NULL || !is_ca_name(name))
		return ht_err_set(err, HT_EINVAL, "name",
				  "must be 1-%d bytes of text", PKI_NAME_MAX);
	if ((parent_dir == NULL) != (province == NULL))
		return ht_err_set(err, HT_EINVAL, "province",
				  "a province CA needs both a parent and a "
				  "province");
	if (province != NULL && !pki_is_province(province))
		return ht_err_set(err, HT_EINVAL, "province",
				  "must be two digits (the region codes' "
				  "prefix), got '%s'",
				  province);
	return 0;
}

/* Build, sign and write the new CA's certificate; for a province CA the
 * parent records it. */
static int ca_make_cert(ca *c, ca *parent, const char *province, int days,
			ht_err *err)
{
	X509 *x = X509_new();
	ASN1_INTEGER *serial = NULL;
	int rc = HT_ECRYPTO;
	if (parent != NULL)
		serial = counter_take(parent->p.serial, err);
	else
		serial = random_serial();
	if (x == NULL || serial == NULL)
		goto out;
	X509 *iss = parent ? parent->crt : NULL;
	if (cert_base(x, iss, c->name, c->key, serial, days) != 0 ||
	    ca_cert_exts(x, iss, province) != 0)
		goto out;
	if (parent != NULL) {
		rc = ca_issue(parent, x, c->p.crt, false, err);
	} else {
		BIO *mem = BIO_new(BIO_s_mem());
		rc = HT_ECRYPTO;
		if (mem && X509_sign(x, c->key, NULL) > 0 &&
		    PEM_write_bio_X509(mem, x))
			rc = pki_write_mem(c->p.crt, mem, 0644, true, err);
		BIO_free(mem);
	}
out:
	if (rc == HT_ECRYPTO && err && err->msg[0] == '\0')
		ht_err_set(err, rc, "", "cannot build the CA certificate");
	ASN1_INTEGER_free(serial);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/* days, or dflt when days <= 0; HT_EINVAL past PKI_MAX_DAYS. */
static int ca_days(int *days, int dflt, ht_err *err)
{
	if (*days <= 0)
		*days = dflt;
	if (*days > PKI_MAX_DAYS)
		return ht_err_set(err, HT_EINVAL, "days", "at most %d",
				  PKI_MAX_DAYS);
	return 0;
}

/* Only a root with a current certificate certifies province CAs. */
static int ca_parent_ok(const ca *parent, ht_err *err)
{
	if (parent->province[0] != '\0')
		return ht_err_set(err, HT_EINVAL, "parent",
				  "'%s' is a province CA; only the root "
				  "certifies province CAs",
				  parent->name);
	return ca_check_current(parent, err);
}

/* With c's key generated: its certificate, state files and first CRL in
 * dir. On failure every file of the CA is removed again. */
static int ca_create(ca *c, const char *dir, ca *parent, const char *province,
		     int days, ht_err *err)
{
	int rc = HT_ECRYPTO;
	if ((c->key = load_key(c->p.key, err)) == NULL ||
	    (rc = ca_make_cert(c, parent, province, days, err)) != 0 ||
	    (rc = ca_state_files(&c->p, err)) != 0 ||
	    (rc = pki_ca_crl(dir, PKI_DEFAULT_CRL_DAYS, err)) != 0) {
		ca_unlink_all(&c->p);
		return rc;
	}
	return 0;
}

int pki_ca_init(const char *dir, const char *name, const char *parent_dir,
		const char *province, int days, ht_err *err)
{
	ca c, parent;
	memset(&c, 0, sizeof(c));
	memset(&parent, 0, sizeof(parent));
	ht_err_clear(err);
	int rc = ca_init_args(name, parent_dir, province, err);
	if (rc != 0 || (rc = ca_paths_init(dir, &c.p, err)) != 0 ||
	    (rc = ca_days(&days,
			  parent_dir ? PKI_DEFAULT_PROV_DAYS
				     : PKI_DEFAULT_ROOT_DAYS,
			  err)) != 0)
		return rc;
	if (parent_dir != NULL && (rc = ca_open(parent_dir, &parent, err)) != 0)
		return rc;
	if ((parent_dir != NULL && (rc = ca_parent_ok(&parent, err)) != 0) ||
	    (rc = ca_dirs(dir, &c.p, err)) != 0)
		goto out;
	snprintf(c.name, sizeof(c.name), "%s", name);
	if ((rc = ident_generate(c.p.key, err)) != 0)
		goto out;
	rc = ca_create(&c, dir, parent_dir ? &parent : NULL, province, days,
		       err);
out:
	ca_close(&c);
	ca_close(&parent);
	return rc;
}

/* ---- signing a node CSR ---- */

typedef struct csr_info {
	char name[PKI_NAME_MAX + 1];
	char region[HT_REGION_LEN + 1];
	uint8_t link[PKI_LINK_BYTES];
} csr_info;

static int csr_read(const char *path, X509_REQ **out, ht_err *err)
{
	BIO *mem = pki_read_mem(path, PKI_CSR_MAX, err);
	if (mem == NULL)
		return HT_ENOTFOUND;
	X509_REQ *req = PEM_read_bio_X509_REQ(mem, NULL, NULL, NULL);
	BIO_free(mem);
	ERR_clear_error();
	if (req == NULL)
		return ht_err_set(err, HT_EINVAL, "csr",
				  "%s: not a PEM certificate request", path);
	EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
	if (pk == NULL || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		X509_REQ_free(req);
		return ht_err_set(err, HT_EINVAL, "csr",
				  "%s: the key is not Ed25519", path);
	}
	if (X509_REQ_verify(req, pk) != 1) {
		X509_REQ_free(req);
		ERR_clear_error();
		return ht_err_set(err, HT_ECRYPTO, "csr",
				  "%s: the request's signature does not verify",
				  path);
	}
	*out = req;
	return 0;
}

/* Name, region and link key from a verified CSR; nothing else is used. */
static int csr_parse(X509_REQ *req, const ca *c, csr_info *ci, ht_err *err)
{
	int rc = pki_name_cn(X509_REQ_get_subject_name(req), ci->name,
			     sizeof(ci->name), err);
	if (rc != 0)
		return rc;
	if (!pki_is_node_name(ci->name))
		return ht_err_set(err, HT_EINVAL, "subject",
				  "commonName '%s' is not a node name",
				  ci->name);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	if (exts == NULL)
		return ht_err_set(err, HT_EINVAL, "csr",
				  "no requested extensions (region and link "
				  "key)");
	if ((rc = pki_exts_region(exts, ci->region, err)) == 0)
		rc = pki_exts_link(exts, ci->link, err);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (rc == 0 && c->province[0] != '\0' &&
	    strncmp(ci->region, c->province, 2) != 0)
		rc = ht_err_set(err, HT_ETRUST, "region",
				"region %s is outside province %s of CA '%s'",
				ci->region, c->province, c->name);
	return rc;
}

static int node_cert_exts(X509 *x, X509 *issuer, const csr_info *ci)
{
	X509_EXTENSION *san = region_ext(ci->region), *lk = link_ext(ci->link);
	int ok =
	    san && lk && X509_add_ext(x, san, -1) && X509_add_ext(x, lk, -1);
	X509_EXTENSION_free(san);
	X509_EXTENSION_free(lk);
	if (!ok || add_ext(x, issuer, NID_basic_constraints, "CA:FALSE") ||
	    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(x, issuer, NID_subject_key_identifier, "hash") ||
	    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always"))
		return HT_ECRYPTO;
	return 0;
}

/* Build the node certificate for the parsed CSR req, sign and write it. */
static int ca_issue_node(const ca *c, X509_REQ *req, const csr_info *ci,
			 const char *out_crt_path, int days, ht_err *err)
{
	X509 *x = NULL;
	ASN1_INTEGER *serial = NULL;
	int rc = HT_ECRYPTO;
	if ((x = X509_new()) == NULL ||
	    (serial = counter_take(c->p.serial, err)) == NULL ||
	    cert_base(x, c->crt, ci->name, X509_REQ_get0_pubkey(req), serial,
		      days) != 0 ||
	    node_cert_exts(x, c->crt, ci) != 0) {
		if (err && err->msg[0] == '\0')
			ht_err_set(err, rc, "", "cannot build the certificate");
	} else {
		rc = ca_issue(c, x, out_crt_path, c->province[0] != '\0', err);
	}
	ASN1_INTEGER_free(serial);
	X509_free(x);
	return rc;
}

int pki_ca_sign_csr(const char *ca_dir, const char *csr_path,
		    const char *out_crt_path, int days, ht_err *err)
{
	ca c;
	csr_info ci;
	X509_REQ *req = NULL;
	ht_err_clear(err);
	int rc = ca_open(ca_dir, &c, err);
	if (rc != 0)
		return rc;
	if ((rc = ca_check_current(&c, err)) != 0 ||
	    (rc = csr_read(csr_path, &req, err)) != 0 ||
	    (rc = csr_parse(req, &c, &ci, err)) != 0 ||
	    (rc = ca_days(&days, PKI_DEFAULT_CERT_DAYS, err)) != 0)
		goto out;
	rc = ca_issue_node(&c, req, &ci, out_crt_path, days, err);
out:
	X509_REQ_free(req);
	ca_close(&c);
	ERR_clear_error();
	return rc;
}

/* ---- the index, revocation and the CRL ---- */

/* Calls fn for each index.txt line split into its six tab fields. */
typedef int (*index_fn)(void *ctx, char **f, ht_err *err);

static int index_each(const char *path, const char *text, index_fn fn,
		      void *ctx, ht_err *err)
{
	int lineno = 0, rc = 0;
	while (*text != '\0' && rc == 0) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		char line[PKI_INDEX_LINE_MAX], *f[PKI_INDEX_FIELDS];
		lineno++;
		if (n >= sizeof(line))
			return ht_err_set(err, HT_ECORRUPT, "index",
					  "%s:%d: line too long", path, lineno);
		memcpy(line, text, n);
		line[n] = '\0';
		text += n + (nl != NULL);
		char *p = line;
		int k = 0;
		for (; k < PKI_INDEX_FIELDS && p != NULL; k++) {
			f[k] = p;
			p = strchr(p, '\t');
			if (p != NULL)
				*p++ = '\0';
		}
		if (k != PKI_INDEX_FIELDS || p != NULL)
			return ht_err_set(err, HT_ECORRUPT, "index",
					  "%s:%d: want %d tab-separated fields",
					  path, lineno, PKI_INDEX_FIELDS);
		rc = fn(ctx, f, err);
	}
	return rc;
}

typedef struct revoke_ctx {
	const char *serial;  /* upper-case hex */
	const char *revoked; /* "time,reason" */
	BIO *out;	     /* the new index */
	bool found;
} revoke_ctx;

static int revoke_line(void *vctx, char **f, ht_err *err)
{
	revoke_ctx *r = vctx;
	if (strcasecmp(f[3], r->serial) == 0) {
		if (f[0][0] == 'R')
			return ht_err_set(err, HT_EEXIST, "cert",
					  "serial %s is already revoked (%s)",
					  r->serial, f[2]);
		f[0] = "R";
		f[2] = (char *)r->revoked;
		r->found = true;
	}
	return BIO_printf(r->out, "%s\t%s\t%s\t%s\t%s\t%s\n", f[0], f[1], f[2],
			  f[3], f[4], f[5]) > 0
		   ? 0
		   : HT_ENOMEM;
}

/* Rewrite the index with x marked revoked now for reason. */
static int index_revoke(const ca *c, X509 *x, const char *reason, ht_err *err)
{
	char serial[PKI_SERIAL_HEX_MAX], when[PKI_TIME_STR], rev[64];
	uint8_t *text = NULL;
	size_t len = 0;
	ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
	char *dn = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	revoke_ctx r = {serial, rev, BIO_new(BIO_s_mem()), false};
	int rc = HT_ENOMEM;
	if (now == NULL || dn == NULL || r.out == NULL ||
	    pki_serial_hex(X509_get0_serialNumber(x), serial, sizeof(serial)))
		goto out;
	snprintf(when, sizeof(when), "%.*s", ASN1_STRING_length(now),
		 ASN1_STRING_get0_data(now));
	snprintf(rev, sizeof(rev), "%s,%s", when, reason);
	if ((rc = util_read_file(c->p.index, PKI_MAX_FILE, &text, &len, err)) ||
	    (rc = index_each(c->p.index, (char *)text, revoke_line, &r, err)))
		goto out;
	const ASN1_TIME *na = X509_get0_notAfter(x);
	if (!r.found)
		BIO_printf(r.out, "R\t%.*s\t%s\t%s\tunknown\t%s\n",
			   ASN1_STRING_length(na), ASN1_STRING_get0_data(na),
			   rev, serial, dn);
	rc = pki_write_mem(c->p.index, r.out, 0644, false, err);
out:
	if (rc == HT_ENOMEM && err && err->msg[0] == '\0')
		ht_err_set(err, rc, "", "out of memory");
	free(text);
	BIO_free(r.out);
	OPENSSL_free(dn);
	ASN1_TIME_free(now);
	return rc;
}

int pki_ca_revoke(const char *ca_dir, const char *cert_path, const char *reason,
		  ht_err *err)
{
	ca c;
	ht_err_clear(err);
	if (reason == NULL)
		reason = "unspecified";
	if (pki_reason_code(reason) < 0)
		return ht_err_set(err, HT_EINVAL, "reason",
				  "unknown reason '%s' (want unspecified, "
				  "keyCompromise, CACompromise, "
				  "affiliationChanged, superseded, "
				  "cessationOfOperation, privilegeWithdrawn or "
				  "AACompromise)",
				  reason);
	int rc = ca_open(ca_dir, &c, err);
	if (rc != 0)
		return rc;
	X509 *x = pki_read_cert(cert_path, err);
	if (x == NULL) {
		rc = HT_EINVAL;
	} else if (X509_check_issued(c.crt, x) != X509_V_OK ||
		   X509_verify(x, X509_get0_pubkey(c.crt)) != 1) {
		rc = ht_err_set(err, HT_EINVAL, "cert",
				"%s was not issued by CA '%s'", cert_path,
				c.name);
	} else if ((rc = index_revoke(&c, x, reason, err)) == 0) {
		rc = pki_ca_crl(ca_dir, PKI_DEFAULT_CRL_DAYS, err);
	}
	X509_free(x);
	ca_close(&c);
	ERR_clear_error();
	return rc;
}

static int crl_line(void *vctx, char **f, ht_err *err)
{
	X509_CRL *crl = vctx;
	if (f[0][0] != 'R')
		return 0;
	char *comma = strchr(f[2], ',');
	const char *why = comma ? comma + 1 : "unspecified";
	if (comma != NULL)
		*comma = '\0';
	int code = pki_reason_code(why);
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
	int rc = HT_ECORRUPT;
	if (rev && t && e && code >= 0 && ASN1_TIME_set_string(t, f[2]) &&
	    BN_hex2bn(&bn, f[3]) == (int)strlen(f[3]) &&
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_REVOKED_set_serialNumber(rev, serial) &&
	    X509_REVOKED_set_revocationDate(rev, t) &&
	    (code == CRL_REASON_UNSPECIFIED ||
	     (ASN1_ENUMERATED_set(e, code) &&
	      X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, 0, 0))) &&
	    X509_CRL_add0_revoked(crl, rev)) {
		rev = NULL;
		rc = 0;
	} else {
		ht_err_set(err, rc, "index", "bad revoked entry for serial %s",
			   f[3]);
	}
	X509_REVOKED_free(rev);
	ASN1_ENUMERATED_free(e);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	ASN1_TIME_free(t);
	return rc;
}

static int crl_build(const ca *c, X509_CRL *crl, int days, ht_err *err)
{
	uint8_t *text = NULL;
	size_t len = 0;
	ASN1_TIME *last = ASN1_TIME_set(NULL, time(NULL));
	ASN1_TIME *next = X509_time_adj_ex(NULL, days, 0, NULL);
	ASN1_INTEGER *num = NULL;
	X509V3_CTX ctx;
	int rc = util_read_file(c->p.index, PKI_MAX_FILE, &text, &len, err);
	if (rc != 0 || (rc = index_each(c->p.index, (char *)text, crl_line, crl,
					err)) != 0)
		goto out;
	rc = HT_ECRYPTO;
	if ((num = counter_take(c->p.crlnumber, err)) == NULL)
		goto out;
	X509V3_set_ctx(&ctx, c->crt, NULL, NULL, crl, 0);
	X509_EXTENSION *akid = X509V3_EXT_nconf_nid(
	    NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (last && next && akid &&
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(c->crt)) &&
	    X509_CRL_set1_lastUpdate(crl, last) &&
	    X509_CRL_set1_nextUpdate(crl, next) && X509_CRL_sort(crl) &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) &&
	    X509_CRL_add_ext(crl, akid, -1) &&
	    X509_CRL_sign(crl, c->key, NULL) > 0)
		rc = 0;
	X509_EXTENSION_free(akid);
out:
	if (rc == HT_ECRYPTO && err && err->msg[0] == '\0')
		ht_err_set(err, rc, "crl", "cannot build the CRL");
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(next);
	ASN1_TIME_free(last);
	free(text);
	return rc;
}

int pki_ca_crl(const char *ca_dir, int days, ht_err *err)
{
	ca c;
	ht_err_clear(err);
	int rc = ca_days(&days, PKI_DEFAULT_CRL_DAYS, err);
	if (rc != 0 || (rc = ca_open(ca_dir, &c, err)) != 0)
		return rc;
	X509_CRL *crl = X509_CRL_new();
	BIO *mem = BIO_new(BIO_s_mem());
	if (crl == NULL || mem == NULL)
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	else if ((rc = crl_build(&c, crl, days, err)) == 0) {
		if (PEM_write_bio_X509_CRL(mem, crl))
			rc = pki_write_mem(c.p.crl, mem, 0644, false, err);
		else
			rc = ht_err_set(err, HT_ECRYPTO, "crl",
					"cannot encode the CRL");
	}
	BIO_free(mem);
	X509_CRL_free(crl);
	ca_close(&c);
	ERR_clear_error();
	return rc;
}
