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

#endif
