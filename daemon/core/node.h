/*
 * node: one bureau's node as a value: its identity key, its ledger, its clock
 * and its logger. It originates records (submit: seq, prev, time, signature,
 * one transaction per batch) and writes its origin's genesis record on first
 * start. No sockets and no globals: the daemon, the tests and the simulator
 * each hold as many nodes as they like.
 */
#ifndef HT_NODE_H
#define HT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ident.h"
#include "ledger.h"
#include "log.h"
#include "pki.h"
#include "record.h"
#include "sync.h"
#include "util.h"

#define NODE_MAX_BATCH 1000 /* submissions in one request/transaction */

typedef struct node node;

typedef struct node_config {
	const char *name;	 /* node name */
	const char *region;	 /* six digits */
	const char *key_path;	 /* Ed25519 PEM */
	const char *ledger_path; /* SQLite file */
	const ht_clock *clock;	 /* NULL: system clock */
	/* Refuse a peer's record created more than this ahead of clock, and
	 * judge receipts' times with it (max_clock_skew); 0: 5 minutes. */
	int64_t max_clock_skew_ms;
	ht_log *log; /* NULL: silent */
	/* DER certificate chain for the genesis record (node cert first). */
	const uint8_t *const *certs;
	const size_t *cert_lens;
	size_t n_certs;
	/* The trust store (not owned; may be swapped with node_set_pki).
	 * NULL: no PKI (unit tests of the foundation): any genesis key is
	 * taken as the origin's. With a store, node_open refuses a
	 * certificate that is not valid for this node's key, name and region,
	 * and every record from a peer must have a certificate that chains to
	 * the root, was valid at its creation and not revoked then. */
	pki_store *pki;
	/* A node with neighbours that finds no chain of its own in the ledger
	 * does not sign a genesis at open: it waits for node_catchup_begin
	 * and its neighbours' frontiers (they may hold its chain). false:
	 * write the genesis at once (no neighbours, or --new-origin). */
	bool defer_genesis;
} node_config;

/* Outcome of one submission. */
typedef struct node_result {
	int code;		     /* 0 stored, else HT_E* */
	uint8_t id[RECORD_ID_BYTES]; /* when stored */
	ht_err err;		     /* when refused */
	bool existing;		     /* code 0: id is the record already
				      * stored for this author and ref */
} node_result;

/* Load the key, open the ledger and, on first start, write the origin's
 * genesis. Refuses a key that differs from the one the genesis names. */
node *node_open(const node_config *cfg, ht_err *err);
void node_free(node **n);

ledger *node_ledger(node *n);
const char *node_name(const node *n);
const char *node_region(const node *n);
const uint8_t *node_public_key(const node *n);

/* Sign and store subs[0..count) in one transaction. A submission with a
 * ref that this origin already stored for the same author (earlier in the
 * batch too) is not stored again: its result is code 0, existing, and the
 * stored record's id. Each submission that
 * fails validation gets its own result and is skipped; the others are
 * stored. If storage fails (disk full, I/O), nothing of the batch is stored,
 * every result says so and the return is that error. Returns 0 otherwise. */
int node_submit(node *n, Hutong__Submission *const *subs, size_t count,
		node_result *results, ht_err *err);

/* Take records from a peer: for each envelope, limits and decoding
 * (record_parse), the origin's key (its genesis, checked by the trust
 * hook), the signature, then the chain rules, all in one transaction.
 * results[i] says what happened to each, with the origin and seq it
 * parsed (none for an envelope that did not parse); every refusal is
 * logged with peer=, origin=, seq= and the reason. A forked origin's records
 * beyond its head are refused ("origin O is forked; an operator must resolve
 * it") until node_fork_resolve. The batch is written to the ledger's event log
 * in the same transaction: one "received" and one "stored" row, one row
 * per distinct (kind, origin, reason) of its refusals, gaps and forks (the
 * same refusal again within a minute adds to the earlier row's count).
 * Returns 0, or a storage error after which nothing of the batch is
 * stored. Fits sync_node_ops.store (ctx: the node). A batch of 16 or more
 * is parsed and its signatures checked first on this thread and the
 * node's pool (one worker thread, started on first need), before the
 * transaction; the outcome is that of one thread. */
int node_receive(void *node, const char *peer, const uint8_t *const *env,
		 const size_t *len, size_t n, sync_verdict *results);

/* Swap in a new trust store (after a CRL reload); not owned. Records
 * already stored are kept; later ones are judged by the new store. */
void node_set_pki(node *n, pki_store *pki);

/* The certificate state of an origin as this node judges it now. */
typedef struct node_cert_state {
	bool trusted;	      /* chain verified at the installing record */
	pki_identity id;      /* when trusted */
	int64_t revoked_ms;   /* earliest revocation on the chain, or
				 INT64_MAX */
	int64_t crl_until_ms; /* judged again (fail closed) from then on */
	char reason[HT_ERR_MSG_MAX]; /* why not trusted */
} node_cert_state;
int node_origin_cert(node *n, const char *region, node_cert_state *out);

/* Judge the certificate installed by o->key_id (its genesis or a rotation)
 * against pki without a node, e.g. from a read-only ledger. With chain !=
 * NULL, *chain gets a copy of the certificates (pki_chain_clear it).
 * Returns 0 when trusted, HT_ETRUST otherwise (out->reason says why). */
int node_judge_origin(ledger *l, const pki_store *pki, const ledger_origin *o,
		      node_cert_state *out, pki_chain *chain);

/* Add the CRLs of the revocation records held in l to pki. */
int node_load_revocations(ledger *l, pki_store *pki, ht_err *err);

/* Rotate to a new key and/or certificate: a rotation record signed by the
 * current key, carrying the new chain (which must verify for the new key,
 * this node's name and region); afterwards the node signs with new_key_path.
 * On success *id is the rotation record's id. */
int node_rotate(node *n, const char *new_key_path, const uint8_t *const *certs,
		const size_t *cert_lens, size_t n_certs,
		uint8_t id[RECORD_ID_BYTES], ht_err *err);

/* Bodies. A record of a kind that record_needs_body is refused without
 * its body ("rotation record without its body", counted in no_body). Any
 * other record may arrive without its body (a relay stripped it, or it
 * was withheld); when a copy with the body comes later (same header and
 * signature, its hash the header's body_hash), node_receive fills it in
 * (ledger_fill_body): the verdict is SYNC_STORED, the stored hook runs
 * for it (its content is new here), it is logged ("body filled peer=
 * origin= seq= id=") and counted (filled), and the batch's event log gets
 * a "filled" row. */

/* Is r's body due to this node, so that a missing one should be fetched
 * again? Every body is, for now; scope withholding and erasure will make
 * this say no for bodies this node is not entitled to or that are gone. */
bool node_body_due(const node *n, const record *r);

/* A body this node lacks and is due, to ask neighbours for. */
typedef struct node_missing {
	uint8_t id[RECORD_ID_BYTES];
	char origin[HT_REGION_LEN + 1];
	uint64_t seq;
	char source[RECORD_MAX_NAME + 1]; /* the peer it came from */
	int64_t stored_ms;
} node_missing;

/* Up to max bodies this node lacks and is due, oldest arrival first (from
 * the ledger, so a restart keeps asking). Returns how many were written
 * to out, or a negative error. */
int node_missing_bodies(node *n, node_missing *out, size_t max, ht_err *err);

/* Counters of what node_receive refused, by reason. */
/* A latency histogram (Prometheus buckets, not cumulative here): counts[i]
 * holds observations of at most node_hist_bound_us(i) and above bound
 * i-1; counts[NODE_HIST_BUCKETS] those above the last bound. */
#define NODE_HIST_BUCKETS 16
typedef struct node_hist {
	uint64_t counts[NODE_HIST_BUCKETS + 1];
	uint64_t count;
	uint64_t sum_us;
} node_hist;
/* Bucket i's upper bound in microseconds (100us .. 10s), 0 <= i <
 * NODE_HIST_BUCKETS. */
int64_t node_hist_bound_us(size_t i);
/* Count one observation of us microseconds (negative counts as 0). */
void node_hist_add(node_hist *h, int64_t us);

typedef struct node_counters {
	uint64_t decode;    /* limits, decoding, canonical form, schema */
	uint64_t signature; /* bad signature or unknown key */
	uint64_t trust;	    /* certificate refused */
	uint64_t chain;	    /* prev mismatch, wrong node name */
	uint64_t forks;
	uint64_t gaps;
	uint64_t held_back;  /* a forked origin's records beyond its head,
			      * refused until an operator resolves the fork */
	uint64_t no_body;    /* a genesis, rotation, revocation, receipt or
			      * fork record without its body */
	uint64_t filled;     /* bodies filled in (not a refusal) */
	uint64_t clock_skew; /* created beyond max_clock_skew ahead of our
			      * clock: refused until no longer ahead */
	uint64_t backdated;  /* created before its predecessor in its chain */
	uint64_t disputes;   /* receipt entries contradicting the chains held
			      * (stored: evidence against the signer) */
	/* Wall time of each ledger transaction that stored a batch (begin to
	 * commit, received or submitted), and of the parse and signature
	 * pre-pass over each received batch (the worker pool's part). */
	node_hist commit;
	node_hist verify;
} node_counters;
const node_counters *node_get_counters(const node *n);

/* ---- catching up the own chain (node_catchup.c) ----
 *
 * A node never signs a new genesis for a region its neighbours already
 * know. Opened with defer_genesis and no chain of its own (a new node, or
 * a lost ledger), it signs nothing until node_catchup_tick decides: every
 * configured neighbour has answered with its frontier, or timeout_ms
 * passed with at least one answer. If one holds this origin, the node
 * waits until the sync sessions have brought its chain back up to the
 * highest seq any neighbour named, checks that the chain's key is its own,
 * and continues from there; if none does, it signs the genesis. A node
 * that holds its chain at start (a restart, or a restore from an old
 * backup) waits the same way, so that it never signs a seq a neighbour
 * already holds; if no neighbour answers within timeout_ms it signs from
 * the chain it holds, logged at warn. A node that holds its chain and
 * later learns that a neighbour holds more of it stops signing until it
 * has caught up the same way. */

/* Start catching up with `peers` configured neighbours (0: sign the
 * genesis now if there is none). now_ms and timeout_ms on the monotonic
 * clock. 0, or a storage error from writing the genesis. */
int node_catchup_begin(node *n, size_t peers, int64_t now_ms,
		       int64_t timeout_ms, ht_err *err);
/* A new catchup_timeout (SIGHUP), counted from node_catchup_begin's
 * now_ms: it takes effect at the next node_catchup_tick. */
void node_catchup_set_timeout(node *n, int64_t timeout_ms);
/* A new max_clock_skew (SIGHUP; 0: 5 minutes) for the records and
 * receipts judged from now on (node_claims.c). */
void node_set_clock_skew(node *n, int64_t max_clock_skew_ms);
/* Neighbour `peer` answered: its frontier holds this node's origin up to
 * own_seq (0: it does not know it). Repeats are fine. */
void node_catchup_answer(node *n, const char *peer, uint64_t own_seq);
/* Decide when the answers allow: 1 when the node became ready to sign
 * (logged), 0 while nothing changed, or an error from writing a genesis.
 * Logs at warn every minute while no neighbour answered past the
 * timeout. Call it from the daemon's loop (or the simulator's). */
int node_catchup_tick(node *n, int64_t now_ms, ht_err *err);

typedef struct node_catchup_info {
	bool ready;	  /* signs submits */
	bool active;	  /* waiting for neighbours or own records */
	bool unconfirmed; /* active, past the timeout, no answer yet */
	bool confirmed;	  /* a neighbour answered, or there are none */
	size_t answered;  /* neighbours that answered */
	size_t peers;	  /* configured */
	uint64_t seq;	  /* own chain's seq in our ledger (0: none) */
	uint64_t target;  /* highest own seq a neighbour named */
	char error[HT_ERR_MSG_MAX]; /* why it cannot finish, or "" */
} node_catchup_info;
void node_catchup_get(const node *n, node_catchup_info *out);

/* Receipts (the audit trail of who held what, and since when): write a
 * receipt record, Body.receipt with this node's whole frontier (per origin
 * its seq and head, sorted by origin), signed like any record, when the
 * policy allows: at most one per interval_ms, counted on the node clock's
 * monotonic time (so a wall clock that jumps does not stall it). On the
 * first call the interval counts from the last receipt's creation time
 * when that is not in the future (so a restart does not reset it), is due
 * at once when it is (a clock that was ahead), and a node that has none
 * yet counts from that first call. Only when
 * some origin gained a record other than a receipt since the last receipt
 * (so receipts from other nodes never cause one: receipts do not breed
 * receipts). now_ms is the wall clock; it becomes the receipt's creation
 * time. Returns 1 when a receipt was written (*id set), 0 when the policy
 * said not now, or a negative error (then no new attempt before another
 * interval has passed). The receipt is created at now_ms, or at our
 * previous record's time if that is later. Call it from the daemon's
 * timer. */
int node_maybe_receipt(node *n, int64_t now_ms, int64_t interval_ms,
		       uint8_t id[RECORD_ID_BYTES], ht_err *err);

/* An operator resolved origin's fork (see ledger_fork_resolve): its
 * records beyond the head are taken again. Logged. */
int node_fork_resolve(node *n, const char *origin,
		      const uint8_t keep[RECORD_ID_BYTES], ht_err *err);

/* The trust hook: decides whether a genesis (seq 1) record's key may speak
 * for its origin (the PKI checks its certificate chain). NULL accepts the
 * key the genesis names (tests and the single-node foundation). */
typedef int (*node_trust_fn)(void *ctx, const record *genesis, ht_err *err);
void node_set_trust(node *n, node_trust_fn fn, void *ctx);

/* A policy check on each record this node is about to sign and store
 * (node_submit): called after the record is built, before it is appended,
 * inside the batch's transaction (records earlier in the batch are visible
 * in l). Non-zero refuses that submission with err. The daemon sets the
 * view's repatriation check (view_check_record). NULL: none. */
typedef int (*node_check_fn)(void *ctx, ledger *l, const record *r,
			     ht_err *err);
void node_set_check(node *n, node_check_fn fn, void *ctx);

/* Called for each record newly appended to the chain, by node_submit or
 * node_receive, once its transaction has committed, in storage order; r is
 * borrowed. Not called for duplicates, forks or anything rolled back. The
 * daemon's alert runner listens here. NULL: none. */
typedef void (*node_stored_fn)(void *ctx, const record *r);
void node_set_stored_hook(node *n, node_stored_fn fn, void *ctx);

#endif
