/*
 * ident: the node's keys. The Ed25519 identity key signs records and is kept
 * as a PKCS#8 PEM file (mode 0600) that OpenSSL reads; in memory the secret
 * lives in sodium_malloc'd, locked memory and is wiped on free. The X25519
 * link key is what CurveZMQ uses; it never signs anything, and the signing key
 * is never used for links.
 */
#ifndef HT_IDENT_H
#define HT_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define IDENT_PK_BYTES 32
#define IDENT_SK_BYTES 64 /* libsodium form: seed || pk */
#define IDENT_SIG_BYTES 64
#define IDENT_LINK_BYTES 32

typedef struct ident ident;

/* Create a new Ed25519 key at path (PEM, 0600). HT_EEXIST if path exists. */
int ident_generate(const char *path, ht_err *err);

/* Load the Ed25519 key at path. Refuses a key file readable by group or
 * others. NULL on failure with err set. */
ident *ident_load(const char *path, ht_err *err);

void ident_free(ident **id);

/* The public key. */
const uint8_t *ident_public(const ident *id);

/* Sign msg into sig. Usable as a record_signer with ctx = ident. */
int ident_sign(void *id, const uint8_t *msg, size_t len,
	       uint8_t sig[IDENT_SIG_BYTES]);

/* Create the X25519 link key at path (PEM, 0600); HT_EEXIST if present. */
int ident_link_generate(const char *path, ht_err *err);

/* Load the link key: public and secret halves (secret written into the
 * caller's buffer, which should be sodium_malloc'd). */
int ident_link_load(const char *path, uint8_t pk[IDENT_LINK_BYTES],
		    uint8_t sk[IDENT_LINK_BYTES], ht_err *err);

#endif
