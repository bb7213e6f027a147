/*
 * record: the signed unit. Builds and signs envelopes for the origin, and
 * takes envelopes from untrusted bytes through limits, decoding, the
 * canonical-encoding check and schema validation, in that order. Signature
 * checking is separate (record_verify) because the key comes from the ledger
 * (the origin's genesis) or the PKI, not from the record itself.
 *
 * A parsed record owns its envelope bytes and the decoded header (and body,
 * when present). The record id is SHA-256 of the exact header bytes.
 */
#ifndef HT_RECORD_H
#define HT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hutong.pb-c.h"

#define RECORD_ID_BYTES 32
#define RECORD_HASH_BYTES 32
#define RECORD_PK_BYTES 32
#define RECORD_SIG_BYTES 64

/* Limits, checked before anything is decoded. */
#define RECORD_MAX_HEADER 1024         /* encoded Header */
#define RECORD_MAX_BODY (64 * 1024)    /* encoded Body */
#define RECORD_MAX_ENVELOPE (RECORD_MAX_HEADER + RECORD_MAX_BODY + 128)
#define RECORD_MAX_NAME 128            /* node names, author ids, case/org ids */
#define RECORD_MAX_TEXT 8192           /* summary, notes, free text */
#define RECORD_MAX_SHORT 256           /* names, phones, addresses, reasons */
#define RECORD_MAX_REPEATED 256        /* entries in any repeated field */
#define RECORD_MAX_CERTS 4             /* certificates in a genesis */
#define RECORD_MAX_CERT (8 * 1024)     /* one DER certificate */
#define RECORD_MAX_CRL (60 * 1024)     /* one DER CRL in a revocation */
#define RECORD_MAX_RECEIPT 1400        /* entries in a receipt (fits the body) */
#define RECORD_MAX_FORK_ENVELOPE (RECORD_MAX_HEADER + 128) /* bodiless, in a fork report */
#define RECORD_MAX_TERMS 64            /* index terms of one record */
#define RECORD_MAX_TERM 160            /* bytes of one term */

typedef struct record record;

/* What the origin puts in the header besides the submission's own fields. */
typedef struct record_origin {
	const char *region;  /* six digits */
	const char *node;    /* node name */
	uint64_t seq;        /* >= 1 */
	const uint8_t *prev; /* RECORD_ID_BYTES, NULL for seq 1 */
	int64_t created_ms;
} record_origin;

/* Signs with a 64-byte libsodium secret key (seed||pk). */
typedef int (*record_signer)(void *ctx, const uint8_t *msg, size_t len,
			     uint8_t sig[RECORD_SIG_BYTES]);

/* Check a submission (author, scope, body) as an officer gave it: required
 * fields, lengths, UTF-8, region codes, enum ranges. Fills err naming the
 * field ("body.intelligence.summary: required"). */
int record_check_submission(const Hutong__Submission *sub, ht_err *err) HT_WUR;

/* Build, sign and parse a record for `sub` at `o`. On success *out is a
 * parsed record (caller frees). Validates the submission first. */
int record_build(const Hutong__Submission *sub, const record_origin *o,
		 record_signer sign, void *sign_ctx, record **out, ht_err *err);

/* Parse untrusted envelope bytes: size limits, decode, canonical check of
 * envelope, header and body, then schema validation, and the body hash.
 * No signature check. NULL on failure with err naming the cause. */
record *record_parse(const uint8_t *buf, size_t len, ht_err *err);

/* The envelope with its body removed (withheld or erased): header and
 * signature still verify. Returns a new record or NULL. */
record *record_without_body(const record *r);

void record_free(record **r);

/* Ed25519 check of the signature over the header bytes with pk. */
bool record_verify(const record *r, const uint8_t pk[RECORD_PK_BYTES]) HT_WUR;

const uint8_t *record_id(const record *r);          /* RECORD_ID_BYTES */
const Hutong__Header *record_header(const record *r);
const Hutong__Body *record_body(const record *r);   /* NULL when withheld */
const uint8_t *record_bytes(const record *r, size_t *len); /* the envelope */
const uint8_t *record_header_bytes(const record *r, size_t *len);
const uint8_t *record_signature(const record *r);   /* RECORD_SIG_BYTES */
bool record_is_genesis(const record *r);

/* The key and certificates a genesis or rotation record installs for its
 * origin; false for other kinds or a withheld body. */
bool record_key_change(const record *r, const uint8_t **pk,
		       const ProtobufCBinaryData **certs, size_t *n_certs);

/* Kind <-> short names used on the command line ("intel", "repatriation",
 * "org", "correction", "genesis", "rotation", "revocation", "receipt",
 * "fork"). */
const char *record_kind_name(int kind);
int record_kind_parse(const char *name); /* -1 if unknown */

/* The index terms of a record, for the ledger's term index: lookups by case,
 * organization, person, document number, phone, region and corrected
 * record. Each term is "prefix:value":
 *   case:ID            repatriation case id
 *   org:ID             fleeing organization id
 *   orgname:KEY        organization name or alias, util_name_key-normalized
 *   person:KEY         person name (normalized); idno:NUMBER; phone:DIGITS
 *   region:CODE        a place, last-seen region or destination named
 *   dest:CODE          a suspected destination of a fleeing organization
 *   target:HEX         the record a correction amends or retracts
 *   ref:AUTHOR:REF     the header's client ref (cut at RECORD_MAX_TERM:
 *                      compare the header's author and ref on lookup)
 * fn is called once per distinct term (at most RECORD_MAX_TERMS); a record
 * without a body has only its ref term. */
typedef void (*record_term_fn)(void *ctx, const char *term);
void record_terms(const record *r, record_term_fn fn, void *ctx);

/* The kind a body's content implies (KIND_UNSPECIFIED if none set). */
int record_body_kind(const Hutong__Body *b);

#endif
