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
#include "record.h"
#include "sync.h"
#include "util.h"

#define NODE_MAX_BATCH 1000 /* submissions in one request/transaction */

typedef struct node node;

typedef struct node_config {
	const char *name;        /* node name */
	const char *region;      /* six digits */
	const char *key_path;    /* Ed25519 PEM */
	const char *ledger_path; /* SQLite file */
	const ht_clock *clock;   /* NULL: system clock */
	ht_log *log;             /* NULL: silent */
	/* DER certificate chain for the genesis record (node cert first). */
	const uint8_t *const *certs;
	const size_t *cert_lens;
	size_t n_certs;
} node_config;

/* Outcome of one submission. */
typedef struct node_result {
	int code;                     /* 0 stored, else HT_E* */
	uint8_t id[RECORD_ID_BYTES];  /* when stored */
	ht_err err;                   /* when refused */
} node_result;

/* Load the key, open the ledger and, on first start, write the origin's
 * genesis. Refuses a key that differs from the one the genesis names. */
node *node_open(const node_config *cfg, ht_err *err);
void node_free(node **n);

ledger *node_ledger(node *n);
const char *node_name(const node *n);
const char *node_region(const node *n);
const uint8_t *node_public_key(const node *n);

/* Sign and store subs[0..count) in one transaction. Each submission that
 * fails validation gets its own result and is skipped; the others are
 * stored. If storage fails (disk full, I/O), nothing of the batch is stored,
 * every result says so and the return is that error. Returns 0 otherwise. */
int node_submit(node *n, Hutong__Submission *const *subs, size_t count,
		node_result *results, ht_err *err);

/* Take records from a peer: for each envelope, limits and decoding
 * (record_parse), the origin's key (its genesis, checked by the trust
 * hook), the signature, then the chain rules, all in one transaction.
 * results[i] says what happened to each; every refusal is logged with
 * peer=, origin=, seq= and the reason. Returns 0, or a storage error after
 * which nothing of the batch is stored. Fits sync_node_ops.store. */
int node_receive(void *node, const char *peer, const uint8_t *const *env,
		 const size_t *len, size_t n, sync_result *results);

/* Counters of what node_receive refused, by reason. */
typedef struct node_counters {
	uint64_t decode;    /* limits, decoding, canonical form, schema */
	uint64_t signature; /* bad signature or unknown key */
	uint64_t trust;     /* certificate refused */
	uint64_t chain;     /* prev mismatch, wrong node name */
	uint64_t forks;
	uint64_t gaps;
} node_counters;
const node_counters *node_get_counters(const node *n);

/* The trust hook: decides whether a genesis (seq 1) record's key may speak
 * for its origin (the PKI checks its certificate chain). NULL accepts the
 * key the genesis names (tests and the single-node foundation). */
typedef int (*node_trust_fn)(void *ctx, const record *genesis, ht_err *err);
void node_set_trust(node *n, node_trust_fn fn, void *ctx);

#endif
