/*
 * pki_impl: what pki.c (trust and verification) shares with ca.c (issuing)
 * and nobody else sees: the certificate profile's parsers and builders'
 * common parts, file helpers over OpenSSL memory BIOs, and the CRL reason
 * table. Only pki.c and ca.c include it, and with it OpenSSL. Everything
 * here lives in pki.c, so the daemon, which never issues, does not link
 * ca.o.
 */
#ifndef HT_PKI_IMPL_H
#define HT_PKI_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"

#define PKI_TIME_STR 32 /* "2026-01-01T00:00:00.000Z" and ASN.1 times */
#define PKI_SAN_MAX 64	/* a region DNS name or a province constraint */

/* The node-name rule of the certificate profile (subject CN). */
bool pki_is_node_name(const char *s);

/* Two digits, not "00": a province code (the region codes' prefix). */
bool pki_is_province(const char *s);

/* The only commonName of name, as UTF-8 text of fewer than len bytes, into
 * out. HT_EINVAL (err says why) when absent, repeated or not text. */
int pki_name_cn(const X509_NAME *name, char *out, size_t len, ht_err *err);

/* The commonName of name for messages, "(no name)" when it has none;
 * never fails. Returns buf. */
const char *pki_cn_or(const X509_NAME *name, char *buf, size_t len);

/* The serial number as upper-case hex into out; HT_EINVAL if it does not
 * fit. */
int pki_serial_hex(const ASN1_INTEGER *ai, char *out, size_t len);

/* Write the contents of memory BIO mem to path (util_write_file: mode,
 * excl refuses an existing file). */
int pki_write_mem(const char *path, BIO *mem, int mode, bool excl, ht_err *err);

/* A new memory BIO holding the file at path (at most max bytes); NULL with
 * err set. The caller frees it. */
BIO *pki_read_mem(const char *path, size_t max, ht_err *err);

/* The first certificate of the PEM file at path; NULL with err set. The
 * caller frees it. */
X509 *pki_read_cert(const char *path, ht_err *err);

/* "<region>.p<PP>.hutong.region" into out; HT_ELIMIT if it does not fit. */
int pki_region_dns(const char *region, char *out, size_t len);

/* The region from the one DNS name of the subjectAltName in exts, which
 * must be pki_region_dns's form. HT_EINVAL (err says why) otherwise. */
int pki_exts_region(const STACK_OF(X509_EXTENSION) * exts,
		    char region[HT_REGION_LEN + 1], ht_err *err);

/* The 32-byte X25519 key from the one link-key extension in exts. */
int pki_exts_link(const STACK_OF(X509_EXTENSION) * exts,
		  uint8_t link[PKI_LINK_BYTES], ht_err *err);

/* The province a CA may certify, from its critical nameConstraints with
 * exactly one permitted subtree DNS:p<PP>.hutong.region. HT_ENOTFOUND when
 * the CA has no nameConstraints at all; HT_EINVAL when they are not in this
 * form. */
int pki_province_of(const X509 *ca, char pp[3], ht_err *err);

/* The CRL reason code of an RFC 5280 reason name, -1 if unknown. */
int pki_reason_code(const char *name);

#endif
