/*
 * seal: bodies encrypted once and readable only by the nodes entitled to
 * them. A body that is not national is encrypted with XChaCha20-Poly1305-
 * IETF under a fresh 32-byte key; the associated data binds the ciphertext
 * to its record's place in the origin's chain (seal_ad). The key is wrapped
 * (crypto_box_seal) for the X25519 encryption key of each entitled node.
 * The result is an encoded SealedBody (proto/hutong.proto), which relays
 * carry and store without reading it. A grant wraps the same key for new
 * readers (seal_wrap_more) without sending the body again.
 *
 * Pure functions over bytes: no I/O, no globals. Body keys live in
 * sodium_malloc'd memory and are wiped on every path; outputs are written
 * only on success (STYLE.md 5).
 */
#ifndef HT_SEAL_H
#define HT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SEAL_PK_BYTES 32     /* X25519 encryption public key */
#define SEAL_SK_BYTES 32     /* X25519 encryption secret key */
#define SEAL_KEY_ID_BYTES 16 /* BLAKE2b-128 of a public key */
#define SEAL_NONCE_BYTES 24
#define SEAL_TAG_BYTES 16
#define SEAL_WRAPPED_BYTES 80 /* crypto_box_seal of a 32-byte key */
#define SEAL_MAX_KEYS 256     /* wrapped keys in one sealed body or grant */
#define SEAL_MAX_PLAIN (64 * 1024) /* RECORD_MAX_BODY */
#define SEAL_MAX_AD 128

/* One node a key is wrapped for: its region code and encryption key. */
typedef struct seal_recipient {
	const char *region;
	const uint8_t *pk; /* SEAL_PK_BYTES */
} seal_recipient;

/* The associated data of a record's sealed body: a version tag, the origin
 * region, the seq (big-endian) and the previous record id (prev_len 0 or
 * 32). Writes at most SEAL_MAX_AD bytes to out; returns the length, or 0
 * when the origin is too long. */
size_t seal_ad(const char *origin, uint64_t seq, const uint8_t *prev_id,
	       size_t prev_len, uint8_t out[SEAL_MAX_AD]);

/* The key id of an encryption public key (BLAKE2b-128). */
void seal_key_id(const uint8_t pk[SEAL_PK_BYTES],
		 uint8_t id[SEAL_KEY_ID_BYTES]);

/* Make an X25519 encryption key pair. 0 or HT_ECRYPTO. */
int seal_keypair(uint8_t pk[SEAL_PK_BYTES], uint8_t sk[SEAL_SK_BYTES]);

/* Encrypt `plain` under a fresh key and wrap it for each of the n
 * recipients (1..SEAL_MAX_KEYS, no key twice). On success *out is a
 * malloc'd encoded SealedBody the caller frees. HT_EINVAL (no recipient, a
 * repeated key), HT_ELIMIT (too many recipients, plaintext too long),
 * HT_ENOMEM or HT_ECRYPTO, with the reason in err. */
int seal_body(const uint8_t *plain, size_t len, const uint8_t *ad, size_t adlen,
	      const seal_recipient *r, size_t n, uint8_t **out, size_t *outlen,
	      ht_err *err) HT_WUR;

/* Open a sealed body with this node's key pair: find the key wrapped for
 * pk, unwrap it and decrypt. On success *plain is malloc'd (caller frees).
 * HT_ENOTFOUND when no key is wrapped for pk (the node is not entitled);
 * HT_EINVAL when the bytes are not a well-formed SealedBody; HT_ECRYPTO
 * when the wrapped key or the ciphertext does not open (tampered, or
 * another record's associated data). `extra` may hold further wrapped keys
 * (from grants, encoded WrappedKey messages) tried when the body holds none
 * for pk; n_extra may be 0. */
int seal_open(const uint8_t *sealed, size_t len, const uint8_t *ad,
	      size_t adlen, const uint8_t pk[SEAL_PK_BYTES],
	      const uint8_t sk[SEAL_SK_BYTES], const uint8_t *const *extra,
	      const size_t *extra_len, size_t n_extra, uint8_t **plain,
	      size_t *plen, ht_err *err) HT_WUR;

/* For a grant: unwrap the body key with this node's key pair (it must hold
 * a wrapped key in `sealed`) and wrap it for the n new recipients. On
 * success out[i] is a malloc'd encoded WrappedKey for r[i] (caller frees
 * each and the array *out). Errors as for seal_open and seal_body. */
int seal_wrap_more(const uint8_t *sealed, size_t len,
		   const uint8_t pk[SEAL_PK_BYTES],
		   const uint8_t sk[SEAL_SK_BYTES], const seal_recipient *r,
		   size_t n, uint8_t ***out, size_t **out_len,
		   ht_err *err) HT_WUR;

/* The regions the body is wrapped for, as in the SealedBody (duplicates
 * removed, in key order), joined with ", " into buf; for a node that may
 * not read it ("body sealed for 450600, 430000"). 0, or HT_EINVAL when the
 * bytes are not a SealedBody. */
int seal_regions(const uint8_t *sealed, size_t len, char *buf, size_t buflen);

#endif
