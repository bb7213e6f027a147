/*
 * pki: X.509 certificates, chains and CRLs that bind a node's Ed25519 key to
 * its name, its region code and its X25519 link key.
 *
 * The profile (documented in certs/README.md, configured in certs/openssl.cnf):
 *   node cert   subject CN = node name; subjectAltName exactly one DNS name
 *               "<region>.p<PP>.hutong.region" (PP = first two digits of the
 *               six-digit region); the link key in the non-critical extension
 *               PKI_LINK_OID, an OCTET STRING of 32 bytes; basicConstraints
 *               CA:FALSE; keyUsage critical digitalSignature; Ed25519 key.
 *   root CA     self-signed; basicConstraints critical CA:TRUE, pathlen:1;
 *               keyUsage critical keyCertSign, cRLSign.
 *   province CA basicConstraints critical CA:TRUE, pathlen:0; keyUsage as root;
 *               nameConstraints critical permitted;DNS:p<PP>.hutong.region.
 * Every CA publishes a CRL; verification refuses a chain when any CA on it has
 * no CRL or an expired one (fail closed).
 *
 * Issuing (the node's CSR, the CA and its CRLs) is in ca.h.
 */
#ifndef HT_PKI_H
#define HT_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

#define PKI_PK_BYTES 32		   /* Ed25519 public key */
#define PKI_LINK_BYTES 32	   /* X25519 link public key */
#define PKI_SIG_BYTES 64	   /* Ed25519 signature */
#define PKI_NAME_MAX 64		   /* node names and CA names */
#define PKI_SERIAL_HEX_MAX 41	   /* up to 20 bytes in hex, NUL */
#define PKI_MAX_CHAIN 4		   /* certificates passed to pki_verify_chain */
#define PKI_MAX_CERT (8 * 1024)	   /* one DER certificate */
#define PKI_MAX_FILE (1024 * 1024) /* a PEM bundle or CRL file */

/* The link-key extension: 2.25.<UUID 7e4476d2-dfa9-4b7b-9894-da4331ba4f36>.1 */
#define PKI_LINK_OID "2.25.167838213686746949268345895283859279670.1"
/* Region SANs and province constraints live under this DNS suffix. */
#define PKI_REGION_DOMAIN "hutong.region"

/* What a verified node certificate says. */
typedef struct pki_identity {
	char name[PKI_NAME_MAX + 1];	 /* subject CN */
	char region[HT_REGION_LEN + 1];	 /* six digits, from the SAN */
	uint8_t pk[PKI_PK_BYTES];	 /* Ed25519 subject key */
	uint8_t link_pk[PKI_LINK_BYTES]; /* X25519 link key */
	char issuer[PKI_NAME_MAX + 1];	 /* issuing CA's CN */
	char province[3];		 /* "PP" when issued by a province CA */
	char serial[PKI_SERIAL_HEX_MAX]; /* upper-case hex */
	int64_t not_before_ms;
	int64_t not_after_ms;
} pki_identity;

/* A certificate chain as DER buffers: node certificate first, then
 * intermediates. A plain value; pki_chain_clear frees the buffers. */
typedef struct pki_chain {
	size_t n;
	uint8_t *der[PKI_MAX_CHAIN];
	size_t len[PKI_MAX_CHAIN];
} pki_chain;

typedef struct pki_store pki_store;

/* ---- trust store and verification ---- */

/* Load the trust store: bundle_pem holds the root (self-signed) and any
 * intermediates; crl_paths name PEM files with one or more CRLs. Every CA in
 * the bundle must have a CRL that it signed and that is current now; every
 * CRL must be current. A CRL from a CA outside the bundle is kept for chains
 * that carry that CA. NULL on failure with err set. */
pki_store *pki_store_load(const char *bundle_pem, const char *const *crl_paths,
			  size_t n_crl, ht_err *err);

/* A new store with the same CAs and freshly read CRLs, checked as in
 * pki_store_load. The caller swaps it in and frees the old one; on failure
 * (NULL) the old store stays valid. */
pki_store *pki_store_reload_crls(const pki_store *old,
				 const char *const *crl_paths, size_t n_crl,
				 ht_err *err);

/* Free *s and set it to NULL; accepts NULL and *s == NULL. */
void pki_store_free(pki_store **s);

/* Use `clock` (not owned; must outlive the store) instead of the system
 * clock to judge CRL freshness. For tests and the simulator. */
void pki_store_set_clock(pki_store *s, const ht_clock *clock);

/* Verify a node certificate chain (der[0] the node certificate, then
 * intermediates not in the bundle) at time at_ms (a record's creation time):
 * it must chain to the root, every certificate must be valid at at_ms, none
 * revoked by a current CRL, no unknown critical extension, a province CA may
 * only certify regions of its province, and the node certificate must follow
 * the profile. On success fills *out; on failure wipes it and err says why.
 * Returns 0 or HT_ETRUST (refused) / HT_EINVAL (malformed) / HT_ENOMEM. */
int pki_verify_chain(const pki_store *s, const uint8_t *const *der,
		     const size_t *der_len, size_t n, int64_t at_ms,
		     pki_identity *out, ht_err *err) HT_WUR;

/* True if the certificate's issuer lists it in its CRL, or if that cannot be
 * decided (unparseable certificate, no CRL for the issuer): fail closed. */
bool pki_is_revoked(const pki_store *s, const uint8_t *der, size_t len);

/* When the certificate was revoked according to the loaded CRLs (Unix ms),
 * INT64_MAX if it is not revoked, INT64_MIN if it cannot be parsed. A
 * revocation counts from this date: pki_verify_chain accepts a certificate
 * at a time before it (records made while it was good stay good). */
int64_t pki_revocation_ms(const pki_store *s, const uint8_t *der, size_t len);

/* The status of a chain (node certificate first) that verified earlier:
 * *revoked_ms = the earliest revocation date of any certificate on it
 * below the root, including a province CA taken from the bundle
 * (INT64_MAX: none revoked); *crl_until_ms = when the first of the CRLs
 * that judge those certificates stops being current (INT64_MIN: a CRL is
 * missing). Past that time the chain must be verified again (and then
 * fails closed). */
int pki_chain_status(const pki_store *s, const uint8_t *const *der,
		     const size_t *der_len, size_t n, int64_t *revoked_ms,
		     int64_t *crl_until_ms);

/* The store's idea of now (its clock; see pki_store_set_clock). */
int64_t pki_now_ms(const pki_store *s);

/* Add the CRL (DER) to the store if a CA of the store signed it and it is
 * newer than the one held for that CA. 0, or HT_ETRUST/HT_EINVAL. */
int pki_store_add_crl_der(pki_store *s, const uint8_t *der, size_t len,
			  ht_err *err);

/* Read a CRL file (PEM or DER) as DER; *der is malloc'd. Checks only that
 * it parses; who signed it is judged where it is used. */
int pki_crl_read_der(const char *path, uint8_t **der, size_t *len, ht_err *err);

/* The notAfter of the DER certificate (Unix ms) into *ms: 0, or
 * HT_EINVAL when it does not parse (then *ms is untouched). */
int pki_cert_not_after(const uint8_t *der, size_t len, int64_t *ms);

/* The CRLs the store holds (for metrics): how many, and CRL i's issuer
 * common name and nextUpdate (Unix ms). 0, HT_ENOTFOUND past the end, or
 * HT_EINVAL for a CRL without a nextUpdate (then nothing is written). */
size_t pki_store_crl_count(const pki_store *s);
int pki_store_crl_at(const pki_store *s, size_t i,
		     char issuer[PKI_NAME_MAX + 1], int64_t *next_ms);

/* ---- node identity and record checks ---- */

/* Read the first certificate of a PEM file and check it against the node
 * profile (no chain or CRL check). */
int pki_identity_from_pem_file(const char *path, pki_identity *out,
			       ht_err *err);

/* 0 if the record's origin region equals the certificate's region, else
 * HT_ETRUST "region mismatch". */
int pki_check_region(const pki_identity *id, const char *origin_region,
		     ht_err *err) HT_WUR;

/* 0 if pk is the certificate's key, else HT_ETRUST. */
int pki_check_key(const pki_identity *id, const uint8_t pk[PKI_PK_BYTES],
		  ht_err *err) HT_WUR;

/* Ed25519 check of sig over msg with the certificate's key; HT_ETRUST
 * "wrong key" when it does not verify. */
int pki_verify_signature(const pki_identity *id, const uint8_t *msg, size_t len,
			 const uint8_t sig[PKI_SIG_BYTES], ht_err *err) HT_WUR;

/* ---- PEM <-> DER chains ---- */

/* Read every certificate in a PEM file (at most PKI_MAX_CHAIN) as DER. */
int pki_chain_read_pem(const char *path, pki_chain *out, ht_err *err);

/* Write DER certificates as one PEM file (mode 0644, replacing). */
int pki_chain_write_pem(const char *path, const uint8_t *const *der,
			const size_t *der_len, size_t n, ht_err *err);

/* Free the buffers and zero the chain. Accepts NULL. */
void pki_chain_clear(pki_chain *c);

/* ---- CRL reasons ---- */

/* The RFC 5280 reason names of CRL entries (those pki_ca_revoke accepts),
 * NULL-terminated. */
const char *const *pki_reason_names(void);

#endif
