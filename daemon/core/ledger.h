/*
 * ledger: the node's store of records, one SQLite file in WAL mode, and the
 * only module that includes sqlite3.h. It owns the chain rules (append only
 * onto the origin's head; the same record again is a no-op; a different record
 * at a held seq is a fork, kept as evidence; a record ahead of a gap is
 * refused), the frontier (per origin: highest seq and head id), the digest
 * over the frontier, and the arrival log (when, from where).
 *
 * Signatures are checked by the caller before append (record_verify with the
 * key from ledger_origin_key or the genesis itself); ledger_verify re-checks
 * everything offline. A record counts as stored only once its transaction
 * has committed (synchronous=FULL).
 */
#ifndef HT_LEDGER_H
#define HT_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "record.h"
#include "util.h"

typedef struct ledger ledger;

enum { LEDGER_RDWR = 0, LEDGER_RDONLY = 1 };

/* What append did with a record. */
typedef enum ledger_outcome {
	LEDGER_APPENDED = 0,  /* extended its origin's chain */
	LEDGER_DUPLICATE = 1, /* already held: nothing changed */
	LEDGER_FORK = 2,      /* conflicts with a held record: kept as evidence */
} ledger_outcome;

/* One origin's place in the frontier. */
typedef struct ledger_origin {
	char region[HT_REGION_LEN + 1];
	char node[RECORD_MAX_NAME + 1];
	uint64_t seq;                       /* highest contiguous seq held */
	uint8_t head[RECORD_ID_BYTES];      /* id of that record */
	uint8_t key[RECORD_PK_BYTES];       /* current key: genesis or last rotation */
	uint8_t key_id[RECORD_ID_BYTES];    /* the record that installed it */
	bool forked;                        /* fork evidence exists */
} ledger_origin;

/* Arrival facts kept beside every record. */
typedef struct ledger_meta {
	int64_t stored_ms;     /* when this node stored it */
	char source[RECORD_MAX_NAME + 1]; /* "local" or the peer's name */
	int64_t n;             /* local arrival order, 1, 2, 3 ... */
} ledger_meta;

/* Filter for queries; zero fields mean "any". */
typedef struct ledger_filter {
	int kind;             /* Hutong__Kind, 0 = any */
	const char *origin;   /* region code */
	const char *author;
	int64_t since_ms;     /* created_ms >= since (0 = any) */
	int64_t until_ms;     /* created_ms < until (0 = any) */
	int64_t limit;        /* 0 = no limit */
} ledger_filter;

/* Open (creating when RDWR) the ledger at path. clock may be NULL. */
ledger *ledger_open(const char *path, int mode, const ht_clock *clock,
		    ht_err *err);
void ledger_close(ledger **l);

/* Group appends into one transaction (one fsync). Appends outside an open
 * transaction commit one by one. commit returns HT_EFULL/HT_EIO on failure,
 * after which nothing of the batch is stored and the frontier is as before. */
int ledger_begin(ledger *l, ht_err *err);
int ledger_commit(ledger *l, ht_err *err);
void ledger_rollback(ledger *l);

/* Apply the chain rules to a parsed record whose signature the caller has
 * checked. source: "local" or a peer name. HT_EGAP when ahead of the head,
 * HT_EINVAL when prev does not match the head (err says which). */
int ledger_append(ledger *l, const record *r, const char *source,
		  ledger_outcome *out, ht_err *err);

/* Origins in the frontier, sorted by region code. */
size_t ledger_origin_count(const ledger *l);
const ledger_origin *ledger_origin_at(const ledger *l, size_t i);
const ledger_origin *ledger_origin_find(const ledger *l, const char *region);

/* Total records held (chain records, not fork evidence). */
uint64_t ledger_record_count(const ledger *l);

/* SHA-256 over the frontier sorted by region: for each origin, the region
 * code (6 bytes), seq (8 bytes big-endian) and head id (32 bytes). An empty
 * ledger hashes the empty string. */
void ledger_digest(const ledger *l, uint8_t out[RECORD_ID_BYTES]);

/* Fetch a record by id (chain or fork evidence). HT_ENOTFOUND if absent.
 * *out is the caller's; meta may be NULL. */
int ledger_get(ledger *l, const uint8_t id[RECORD_ID_BYTES], record **out,
	       ledger_meta *meta, ht_err *err);

/* Fetch the record at origin/seq of the chain. */
int ledger_get_seq(ledger *l, const char *region, uint64_t seq, record **out,
		   ledger_meta *meta, ht_err *err);

/* Raw envelopes of origin's chain from seq `from` upward, at most max_n
 * records and (after the first) max_bytes, in seq order, for sending to a
 * peer without decoding. fn gets the bytes (borrowed) and seq; returns 0 to
 * go on. Returns the number of records passed to fn, or a negative error. */
typedef int (*ledger_raw_fn)(void *ctx, const uint8_t *env, size_t len,
			     uint64_t seq);
int ledger_range(ledger *l, const char *origin, uint64_t from, size_t max_n,
		 size_t max_bytes, ledger_raw_fn fn, void *ctx, ht_err *err);

/* Call fn for each chain record matching f, in arrival order. fn returns 0
 * to go on, non-zero to stop (returned). The record is borrowed. */
typedef int (*ledger_each_fn)(void *ctx, const record *r,
			      const ledger_meta *meta);
int ledger_each(ledger *l, const ledger_filter *f, ledger_each_fn fn,
		void *ctx, ht_err *err);

/* Records indexed under term (see record_terms), in arrival order. */
int ledger_each_term(ledger *l, const char *term, ledger_each_fn fn,
		     void *ctx, ht_err *err);

/* Each distinct term beginning with prefix (e.g. "case:"), sorted. fn
 * returns 0 to go on. */
typedef int (*ledger_term_fn)(void *ctx, const char *term);
int ledger_each_term_name(ledger *l, const char *prefix, ledger_term_fn fn,
			  void *ctx, ht_err *err);

/* For the record at origin/seq: each node (region code) that signed a
 * receipt covering it, with the creation time of its earliest such
 * receipt, sorted by node. */
typedef int (*ledger_receipt_fn)(void *ctx, const char *node,
				 int64_t created_ms);
int ledger_receipts(ledger *l, const char *origin, uint64_t seq,
		    ledger_receipt_fn fn, void *ctx, ht_err *err);

/* Call fn for each piece of fork evidence (the second, conflicting record;
 * the first is the chain record at the same origin and seq). */
int ledger_each_fork(ledger *l, ledger_each_fn fn, void *ctx, ht_err *err);

/* Re-check everything stored: envelope parse, id, columns against header,
 * chain links, sequence without gaps, signatures with each origin's genesis
 * key, frontier table. fn is called once per problem with the record id (or
 * NULL) and a reason. Returns the number of problems (>= 0) or an error. */
typedef void (*ledger_problem_fn)(void *ctx, const uint8_t *id,
				  const char *region, uint64_t seq,
				  const char *reason);
int ledger_verify(ledger *l, ledger_problem_fn fn, void *ctx, ht_err *err);

#endif
