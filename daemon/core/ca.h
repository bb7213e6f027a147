/*
 * ca: issuing certificates of the profile that pki.h describes: the node's
 * certificate request, and the CA operations `hutong ca` runs. Only the
 * command line uses it; the daemon verifies with pki.h alone. The functions
 * keep the pki_ prefix they had when they lived in pki.c (pki_ca_*,
 * pki_write_csr).
 *
 * A CA directory holds ca.key (0600), ca.crt, serial, crlnumber, index.txt
 * and issued/ in the layout `openssl ca` uses, and crl.pem.
 */
#ifndef HT_CA_H
#define HT_CA_H

#include <stdint.h>

#include "err.h"
#include "pki.h"

#define PKI_DEFAULT_CERT_DAYS 365
#define PKI_DEFAULT_ROOT_DAYS 7300
#define PKI_DEFAULT_PROV_DAYS 3650
#define PKI_DEFAULT_CRL_DAYS 30

/* ---- the node's request ---- */

/* Write a CSR (PEM) for the node: subject CN = name, requested extensions
 * subjectAltName DNS:<region>.p<PP>.hutong.region and the link key, signed
 * with the Ed25519 key in key_pem_path. Replaces out_path. */
int pki_write_csr(const char *key_pem_path,
		  const uint8_t link_pk[PKI_LINK_BYTES], const char *name,
		  const char *region, const char *out_path, ht_err *err);

/* ---- CA operations (directories in `openssl ca` layout) ---- */

/* Create a CA in dir (created 0700 if missing; refuses if ca.key exists).
 * With parent_dir == NULL a self-signed root; otherwise a province CA for
 * the two-digit province, certified by the CA in parent_dir (which must be a
 * root). days <= 0 selects the default. Writes an empty CRL. */
int pki_ca_init(const char *dir, const char *name, const char *parent_dir,
		const char *province, int days, ht_err *err);

/* Issue a node certificate for the CSR: checks the CSR's own signature, its
 * CN, region and link key, and the CA's province; copies no other extension.
 * Writes out_crt_path (the node certificate, followed by the CA certificate
 * when the CA is a province CA). days <= 0 selects the default. */
int pki_ca_sign_csr(const char *ca_dir, const char *csr_path,
		    const char *out_crt_path, int days, ht_err *err);

/* Revoke the (first) certificate in cert_path, which this CA must have
 * issued, with an RFC 5280 reason name (NULL = "unspecified"), and re-issue
 * the CRL. HT_EEXIST if already revoked. */
int pki_ca_revoke(const char *ca_dir, const char *cert_path, const char *reason,
		  ht_err *err);

/* Re-issue the CA's CRL valid for days (<= 0: default) from its index. */
int pki_ca_crl(const char *ca_dir, int days, ht_err *err);

#endif
