/*
 * ledger: the node's store of records, one SQLite file in WAL mode; its
 * files (ledger.c, ledger_query.c, ledger_event.c, ledger_verify.c and the
 * private ledger_impl.h) are the only ones that include sqlite3.h. It owns
 * the chain rules (append only onto the origin's head; the same record again
 * is a no-op; a different record at a held seq is a fork, kept as evidence;
 * a record ahead of a gap is refused), the frontier (per origin: highest seq
 * and head id), the digest over the frontier, and the arrival log (when, from
 * where).
 *
 * Signatures are checked by the caller before append (record_verify with the
 * key from ledger_key_at or the genesis itself); ledger_verify re-checks
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
	LEDGER_FORK = 2, /* conflicts with a held record: kept as evidence */
} ledger_outcome;

/* One origin's place in the frontier. */
typedef struct ledger_origin {
	char region[HT_REGION_LEN + 1];
	char node[RECORD_MAX_NAME + 1];
	uint64_t seq;		       /* highest contiguous seq held */
	uint8_t head[RECORD_ID_BYTES]; /* id of that record */
	uint8_t
	    key[RECORD_PK_BYTES]; /* current key: genesis or last rotation */
	uint8_t key_id[RECORD_ID_BYTES]; /* the record that installed it */
	bool forked;			 /* fork evidence exists */
} ledger_origin;

/* Arrival facts kept beside every record. */
typedef struct ledger_meta {
	int64_t stored_ms;		  /* when this node stored it */
	char source[RECORD_MAX_NAME + 1]; /* "local" or the peer's name */
	int64_t n;			  /* local arrival order, 1, 2, 3 ... */
	bool fork; /* fork evidence (n counts those apart) */
} ledger_meta;

/* Filter for queries; zero fields mean "any". */
typedef struct ledger_filter {
	int kind;	    /* Hutong__Kind, 0 = any */
	const char *origin; /* region code */
	const char *author;
	int64_t since_ms; /* created_ms >= since (0 = any) */
	int64_t until_ms; /* created_ms < until (0 = any) */
	int64_t limit;	  /* 0 = no limit */
} ledger_filter;

/* Open (creating when RDWR) the ledger at path: a new file is created 0600
 * whatever the umask; a missing directory or a file this user cannot read
 * (and, RDWR, write) is refused naming the path and the reason, and a file
 * SQLite finds damaged while opening is HT_ECORRUPT with what to do. clock may
 * be NULL. */
ledger *ledger_open(const char *path, int mode, const ht_clock *clock,
		    ht_err *err);
/* SQLite's PRAGMA quick_check over the whole file (b-tree structure,
 * page and cell bounds, NOT NULL; not the indexes' contents: ledger_verify
 * checks the records). Returns 0, or HT_ECORRUPT with err saying
 * "PATH is damaged (quick_check: ...); restore it from a backup or move it
 * aside ...". Reads every page once: 3.2 s for 1M records (961 MB) in
 * the page cache, 6 times a plain read of the file (bench_quickcheck;
 * hutongd(8)). */
int ledger_check(ledger *l, ht_err *err);

/* Roll back an open transaction, close the file and free *l; *l becomes
 * NULL. Accepts NULL and *l == NULL. */
void ledger_close(ledger **l);

/* Group appends into one transaction (one fsync). Appends outside an open
 * transaction commit one by one. commit returns HT_EFULL/HT_EIO on failure,
 * after which nothing of the batch is stored and the frontier is as before. */
int ledger_begin(ledger *l, ht_err *err);
int ledger_commit(ledger *l, ht_err *err);
void ledger_rollback(ledger *l);

/* A read snapshot: every query until ledger_read_end sees the ledger as it
 * was at the first read, whatever another process commits meanwhile (a
 * deferred transaction; views hash a consistent state). HT_ESTATE inside a
 * write transaction. */
int ledger_read_begin(ledger *l, ht_err *err);
void ledger_read_end(ledger *l);

/* Apply the chain rules to a parsed record whose signature the caller has
 * checked. source: "local" or a peer name. HT_EGAP when ahead of the head,
 * HT_EINVAL when prev does not match the head (err says which). */
int ledger_append(ledger *l, const record *r, const char *source,
		  ledger_outcome *out, ht_err *err);

/* Origins in the frontier, sorted by region code. */
size_t ledger_origin_count(const ledger *l);
const ledger_origin *ledger_origin_at(const ledger *l, size_t i);
const ledger_origin *ledger_origin_find(const ledger *l, const char *region);
/* The position of region in the sorted frontier (the i of
 * ledger_origin_at), or -1 when the ledger holds no such origin. Valid until
 * the next append or rollback. */
long ledger_origin_index(const ledger *l, const char *region);

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

/* Shortest and longest id prefix ledger_find_prefix takes, in hex. */
#define LEDGER_PREFIX_MIN 8
#define LEDGER_PREFIX_MAX (2 * RECORD_ID_BYTES)

/* The ids of records (chain records and fork evidence) whose hex id begins
 * with hex (LEDGER_PREFIX_MIN to LEDGER_PREFIX_MAX hex digits, either
 * case), sorted, at most max of them into ids (the caller's); *n is how
 * many were written. Pass max 2 or more to tell a unique prefix from an
 * ambiguous one. HT_EINVAL (err names "id") for a prefix that is too
 * short, too long or not hex. Uses the index on the ids' first 8 bytes. */
int ledger_find_prefix(ledger *l, const char *hex,
		       uint8_t (*ids)[RECORD_ID_BYTES], size_t max, size_t *n,
		       ht_err *err);

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
int ledger_each(ledger *l, const ledger_filter *f, ledger_each_fn fn, void *ctx,
		ht_err *err);

/* Bodies (ledger_body.c). A chain record may be held without its body
 * (a relay forwarded only the header; kinds that record_needs_body are
 * refused so). ledger_fill_body takes a parsed copy of such a record with
 * its body, inside the caller's write transaction: when the chain holds
 * the same record (same id, same signature bytes) without a body, the
 * stored envelope becomes r's, its terms are indexed and it leaves the
 * bodiless list; *filled says whether that happened. Nothing else
 * changes (not the frontier, the arrival chain or the digest). Returns 0
 * (filled or not), or a storage error for the caller to roll back.
 * Records of kinds that record_needs_body are never filled in: they are
 * never stored without their body, and verify reports one that is. */
int ledger_fill_body(ledger *l, const record *r, bool *filled, ht_err *err);

/* Chain records held without their body now. */
uint64_t ledger_bodiless_count(const ledger *l);

/* Call fn for each chain record held without its body whose arrival
 * number is above after_n, in arrival order, at most max of them (meta as
 * for ledger_each). fn returns 0 to go on, non-zero to stop (returned). */
int ledger_each_bodiless(ledger *l, int64_t after_n, size_t max,
			 ledger_each_fn fn, void *ctx, ht_err *err);

/* The key (and the id of the genesis or rotation record that installed it)
 * that signs origin's records at seq: the latest installed below seq.
 * HT_ENOTFOUND for seq 1 (a genesis names its own key). */
int ledger_key_at(ledger *l, const char *region, uint64_t seq,
		  uint8_t key[RECORD_PK_BYTES], uint8_t key_id[RECORD_ID_BYTES],
		  ht_err *err);

/* Records indexed under term (see record_terms), in arrival order. */
int ledger_each_term(ledger *l, const char *term, ledger_each_fn fn, void *ctx,
		     ht_err *err);

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

/* Clear origin's fork flag: an operator chose to continue with this
 * node's chain. keep must be the id of origin's chain record at a seq where
 * fork evidence is held (the chain is never rewritten; evidence is kept).
 * The decision is logged in the event table (peer "operator", kind
 * resolve). HT_ENOTFOUND (unknown origin or id), HT_ESTATE (not forked),
 * HT_EINVAL (keep is evidence or has no fork at its seq), err says which. */
int ledger_fork_resolve(ledger *l, const char *origin,
			const uint8_t keep[RECORD_ID_BYTES], ht_err *err);

/* ---- audit: receipts policy, summaries, the event log ---- */

/* The newest chain record of origin with this kind (e.g. the node's last
 * receipt). HT_ENOTFOUND if none; *out is the caller's. */
int ledger_last_of_kind(ledger *l, const char *origin, int kind, record **out,
			ht_err *err);

/* Does origin's chain hold a record after seq whose kind is not `kind`?
 * (Did anything other than receipts arrive since a receipt's entry?) */
int ledger_other_kind_after(ledger *l, const char *origin, uint64_t seq,
			    int kind, bool *yes, ht_err *err);

/* Records of origin created in [since_ms, until_ms), grouped by kind and
 * author (sorted), with their count and first/last creation time. Pass
 * INT64_MIN/INT64_MAX for an open range. fn returns 0 to go on. */
typedef int (*ledger_summary_fn)(void *ctx, int kind, const char *author,
				 uint64_t count, int64_t first_ms,
				 int64_t last_ms);
int ledger_origin_summary(ledger *l, const char *origin, int64_t since_ms,
			  int64_t until_ms, ledger_summary_fn fn, void *ctx,
			  ht_err *err);

/* Records held, by origin and kind (sorted so), one call of fn per pair
 * with its count; fn returns 0 to go on. One scan of the record table
 * (metrics: a million records take a fraction of a second). */
typedef int (*ledger_kind_count_fn)(void *ctx, const char *origin, int kind,
				    uint64_t count);
int ledger_kind_counts(ledger *l, ledger_kind_count_fn fn, void *ctx,
		       ht_err *err);

/* The event log: what happened on each link, one row per batch for
 * counts (received, stored, sent, gap), one row per refusal group and
 * fork, and connection and operator events. Local facts, hash-chained
 * and committed by the node's receipts once sealed (ledger_history.c). */
typedef enum ledger_event_kind {
	LEDGER_EV_RECEIVED = 0, /* records that came from peer (count) */
	LEDGER_EV_STORED,	/* of those, newly stored */
	LEDGER_EV_SENT,		/* records sent to peer */
	LEDGER_EV_REFUSED,	/* refused, with the reason */
	LEDGER_EV_FORK,		/* fork evidence stored */
	LEDGER_EV_GAP,		/* records ahead of a gap */
	LEDGER_EV_CONNECT,
	LEDGER_EV_DISCONNECT,
	LEDGER_EV_RESOLVE, /* an operator resolved a fork */
	LEDGER_EV_FILLED,  /* bodies filled in: held without, now whole */
	LEDGER_EV_COUNT
} ledger_event_kind;

/* "received", "stored", ...; "?" when out of range. */
const char *ledger_event_name(int kind);
/* -1 if unknown. */
int ledger_event_parse(const char *name);

typedef struct ledger_event {
	int64_t time_ms;    /* 0: the ledger's clock now */
	const char *peer;   /* peer name, or "operator" */
	int kind;	    /* LEDGER_EV_* */
	const char *origin; /* NULL or "" when none */
	uint64_t seq;	    /* 0 when none */
	uint64_t count;	    /* records the event covers */
	const char *reason; /* NULL or "" when none */
} ledger_event;

/* Append an event (inside the open transaction if there is one, so it
 * commits or rolls back with the batch it describes). *row (may be NULL)
 * gets its row number for ledger_event_bump. */
int ledger_log_event(ledger *l, const ledger_event *ev, int64_t *row,
		     ht_err *err);

/* Add count to event row's count and set its last time to at_ms (the same
 * refusal repeated). HT_ENOTFOUND if the row does not exist or is sealed
 * (a receipt committed it: log the repeat as a new event then). */
int ledger_event_bump(ledger *l, int64_t row, uint64_t count, int64_t at_ms,
		      ht_err *err);

/* Events whose last time is in [since_ms, until_ms), grouped by peer,
 * kind, origin and reason (sorted so): records is the sum of counts,
 * events the number of rows. */
typedef struct ledger_event_group {
	const char *peer;
	int kind;
	const char *origin;
	const char *reason;
	uint64_t records, events;
	int64_t first_ms, last_ms;
} ledger_event_group;
typedef int (*ledger_event_fn)(void *ctx, const ledger_event_group *g);
int ledger_event_groups(ledger *l, int64_t since_ms, int64_t until_ms,
			ledger_event_fn fn, void *ctx, ht_err *err);

/* Re-check everything stored: envelope parse, id, columns against header,
 * chain links, sequence without gaps, signatures with each origin's genesis
 * key, frontier table, and receipts: the receipt index must be exactly
 * the rows the receipt records imply. A receipt entry that contradicts the
 * chains held is a dispute against its signer (see ledger_verify_ex), not a
 * problem: ledger_verify does not count or report it. One read snapshot. fn is
 * called once per problem with the record id (or NULL) and a reason. Returns
 * the number of problems (>= 0) or an error. */
typedef void (*ledger_problem_fn)(void *ctx, const uint8_t *id,
				  const char *region, uint64_t seq,
				  const char *reason);
int ledger_verify(ledger *l, ledger_problem_fn fn, void *ctx, ht_err *err);

/* ---- history: the heads of the node's own logs, committed in receipts ---- */

/* Where the arrival log and the event log end: the last row's number
 * (0: empty) and its chain hash (zero when empty). */
typedef struct ledger_heads {
	int64_t arrival_n;
	uint8_t arrival[RECORD_ID_BYTES];
	int64_t event_n;
	uint8_t event[RECORD_ID_BYTES];
} ledger_heads;

/* Read the current heads into *h (inside the open transaction if any). */
int ledger_heads_get(ledger *l, ledger_heads *h, ht_err *err);

/* Fill the head fields of the receipt being built from the current heads:
 * keep holds the bytes rc then points to (it must outlive rc's use). */
int ledger_receipt_heads(ledger *l, ledger_heads *keep, Hutong__Receipt *rc,
			 ht_err *err);

/* Name the node this ledger belongs to (its region code): verify checks
 * the heads and coverage of that origin's receipts. Unset, verify takes
 * the origin of the receipts stored with source "local". */
void ledger_set_self(ledger *l, const char *region);

/* What verify adds for history (called by ledger_verify inside its
 * snapshot): the event chain, and for each of the node's own receipts that
 * its arrival and event logs still hold the rows and heads it committed and
 * that every record its entries cover is still held. Problems go to fn;
 * returns their number (>= 0) or an error. */
int ledger_history_verify(ledger *l, ledger_problem_fn fn, void *ctx,
			  ht_err *err);

/* Compare this node's receipts as peer (another node's ledger, opened
 * read-only; peer_name names it in messages) holds them with l: the same
 * receipt at each seq, and heads that agree with l's arrival and event
 * logs. One problem per disagreement; returns their number or an error. */
int ledger_history_against(ledger *l, ledger *peer, const char *peer_name,
			   ledger_problem_fn fn, void *ctx, ht_err *err);
/* ---- disputes (ledger_dispute.c) ---- */

/* The clock tolerance disputes are judged with when the caller has no
 * configured one (max_clock_skew's default). */
#define LEDGER_DEFAULT_SKEW_MS (5 * 60 * 1000)

/* A receipt entry that the chains held here contradict: evidence against
 * the receipt's signer, not a problem of this ledger. Borrowed fields. */
typedef struct ledger_dispute {
	const uint8_t *id;   /* the receipt's id */
	const char *signer;  /* the receipt's origin */
	uint64_t signer_seq; /* the receipt's seq */
	int64_t created_ms;  /* the receipt's creation time */
	const char *origin;  /* the entry's origin and seq */
	uint64_t seq;
	const char *reason;
} ledger_dispute;
typedef void (*ledger_dispute_fn)(void *ctx, const ledger_dispute *d);

/* The creation time of origin's chain record at seq. HT_ENOTFOUND when not
 * held. */
int ledger_created_at(ledger *l, const char *origin, uint64_t seq,
		      int64_t *created_ms, ht_err *err);

/* Does entry e of receipt r contradict what this ledger holds? It does when
 * the record held at e's origin and seq is not e's head (nor fork evidence
 * there), or was created more than skew_ms after r (so r claims a record
 * its signer could not have held, or is dated before what it covers). An
 * entry whose record is not held is not judged. Returns 1 with reason
 * written (len bytes), 0 when it does not, or a negative error. */
int ledger_entry_dispute(ledger *l, const record *r,
			 const Hutong__ReceiptEntry *e, int64_t skew_ms,
			 char *reason, size_t len, ht_err *err);

/* Every entry of receipt r (any other record: none) that contradicts this
 * ledger, to fn (may be NULL). Returns how many, or a negative error. */
int ledger_receipt_disputes(ledger *l, const record *r, int64_t skew_ms,
			    ledger_dispute_fn fn, void *ctx, ht_err *err);

/* ledger_verify that also judges receipts as disputes: a receipt entry
 * that contradicts the chains, or goes below an earlier receipt of the
 * same signer, goes to dfn (may be NULL) and is not counted as a problem.
 * With fn NULL and only_disputes, signatures and the other checks are
 * skipped: every dispute held (audit disputes). Returns the number of
 * problems (>= 0) or an error. */
int ledger_verify_ex(ledger *l, int64_t skew_ms, bool only_disputes,
		     ledger_problem_fn fn, ledger_dispute_fn dfn, void *ctx,
		     ht_err *err);

#endif
