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

/* Limits, checked before anything is decoded (and, by record_build, before
 * anything is signed). */
#define RECORD_MAX_HEADER 1024	    /* encoded Header */
#define RECORD_MAX_BODY (64 * 1024) /* encoded Body */
#define RECORD_MAX_ENVELOPE (RECORD_MAX_HEADER + RECORD_MAX_BODY + 128)

/* Text fields. Every string in a header, body or submission is valid UTF-8
 * without C0 or C1 control characters, DEL, bidirectional marks, overrides
 * or isolates, or Unicode line separators (util_check_text). The
 * RECORD_MAX_TEXT fields (summary, notes, source, reason) are multi-line
 * free text and may hold LF; every other field is one line. Whoever prints
 * a multi-line field still escapes or indents its line breaks. */
/* author, case_id, org_id (node names: 64, UTIL_NODE_NAME_MAX) */
#define RECORD_MAX_NAME 128
#define RECORD_MAX_TEXT 8192 /* summary, notes, source, reason: may hold LF */
#define RECORD_MAX_SHORT 256 /* names, aliases, addresses, escort, ... */

/* Repeated fields. The counts keep the largest valid body of every kind
 * inside RECORD_MAX_BODY: an intelligence lead with every text at its limit,
 * 64 people (256-byte names, 32-character document numbers, 20-character
 * phones), 16 aliases, 32 places and 64 related ids is about 52 KB, and a
 * correction that replaces it about 61 KB (test_record checks this). */
#define RECORD_MAX_PEOPLE 64	   /* people, leaders */
#define RECORD_MAX_ALIASES 16	   /* aliases */
#define RECORD_MAX_PLACES 32	   /* places */
#define RECORD_MAX_DESTINATIONS 32 /* suspected_destinations */
#define RECORD_MAX_RELATED 64	   /* related */
#define RECORD_MAX_REPEATED 16	   /* any other repeated field */
#define RECORD_MAX_CERTS 4	   /* certificates in a genesis */
#define RECORD_MAX_CERT (8 * 1024) /* one DER certificate */
#define RECORD_MAX_CRL (60 * 1024) /* one DER CRL in a revocation */
/* entries in a receipt (node-built; record_build checks its size) */
#define RECORD_MAX_RECEIPT 1400
/* a bodiless envelope in a fork report */
#define RECORD_MAX_FORK_ENVELOPE (RECORD_MAX_HEADER + 128)
#define RECORD_MAX_TERMS 64 /* index terms of one record */
#define RECORD_MAX_TERM 160 /* bytes of one term */

/* Other field rules: header.created_ms, and every other time (the int64
 * fields named *_ms, when given), from 2000-01-01T00:00:00Z to before
 * 2100-01-01T00:00:00Z (util_check_time). A Person's id_number meets
 * person_check_id_number for its document_type and phone meets
 * person_check_phone. Region codes are six digits; one that is not in the
 * GB/T 2260 table is a warning (record_warnings_of), not a refusal. */

typedef struct record record;

/* What the origin puts in the header besides the submission's own fields. */
typedef struct record_origin {
	const char *region;  /* six digits */
	const char *node;    /* node name */
	uint64_t seq;	     /* >= 1 */
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
 * parsed record (caller frees). Before signing, checks the sizes record_parse
 * will check (HT_ELIMIT: "envelope of 88123 bytes exceeds the limit of
 * 66688", field empty; or body or header over its limit), then validates
 * the submission, so an origin never chains a record its peers refuse. */
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

const uint8_t *record_id(const record *r); /* RECORD_ID_BYTES */
const Hutong__Header *record_header(const record *r);
const Hutong__Body *record_body(const record *r); /* NULL when withheld */
const uint8_t *record_bytes(const record *r, size_t *len); /* the envelope */
const uint8_t *record_header_bytes(const record *r, size_t *len);
const uint8_t *record_signature(const record *r); /* RECORD_SIG_BYTES */
bool record_is_genesis(const record *r);

/* Does a record of this kind carry trust or protocol state in its body
 * (genesis, rotation, revocation, receipt, fork; the policy, grant and
 * erasure kinds to come join it)? Such a record is never taken or stored
 * without its body: its header alone would change nothing it should. */
bool record_needs_body(int kind);

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

/* What in a valid body deserves a warning but not a refusal. */
#define RECORD_MAX_WARNINGS 8
typedef struct record_warnings {
	size_t n;     /* messages kept in msg */
	size_t total; /* warnings found, kept or not */
	char msg[RECORD_MAX_WARNINGS][128];
} record_warnings;

/* The warnings of body b (NULL: none): each six-digit region code in it
 * (places, from_region, to_region, last_seen_region, suspected_destinations,
 * also inside a correction's replacement, and the region prefix of a
 * resident identity number) that is not in the GB/T 2260 table, as
 * "unknown region 999999 at body.intelligence.places[0].region". Clears and
 * fills *w, keeping the first RECORD_MAX_WARNINGS; returns w->total. Call
 * it on a submission's body at submit, to warn the officer. */
size_t record_warnings_of(const Hutong__Body *b, record_warnings *w);

/* The kind a body's content implies (KIND_UNSPECIFIED if none set). */
int record_body_kind(const Hutong__Body *b);

#endif
