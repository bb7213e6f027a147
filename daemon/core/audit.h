/*
 * audit: the questions an auditor asks of a ledger, answered from what any
 * node holds, without trusting its operator more than its signatures: who
 * originated a record and when; which nodes held it, and since when (their
 * signed receipts); what a bureau or an officer shared; what each link
 * carried and refused; which origins forked. The `hutong audit` commands and
 * the audit benchmark call these, so both measure the same work.
 *
 * Inputs come from people and scripts: each function checks its arguments
 * (region codes, lengths, text, time ranges) and fails with HT_EINVAL and a
 * message naming the argument before touching the ledger. Every query is
 * parameterized SQL inside ledger.c; nothing here builds SQL.
 */
#ifndef HT_AUDIT_H
#define HT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"
#include "record.h"

/* One node of the federation (an origin this ledger knows) and the
 * earliest of its signed receipts that covers a record. */
typedef struct audit_cover {
	char region[HT_REGION_LEN + 1];
	char name[RECORD_MAX_NAME + 1];
	bool covered;	    /* a receipt of this node covers the record */
	int64_t receipt_ms; /* creation time of its earliest such receipt */
} audit_cover;

/* The audit of one record. */
typedef struct audit_record_info {
	record *r;	    /* the record (owned) */
	ledger_meta meta;   /* local arrival: when, from which peer */
	bool fork_evidence; /* r is the conflicting copy, not the chain's */
	bool origin_forked; /* r's origin is flagged forked now */
	audit_cover *cover; /* one per origin in the ledger, by region */
	size_t n_cover;
	size_t n_covered;
} audit_record_info;

/* Look the record up by id (one indexed read) and each node's earliest
 * receipt covering its origin/seq (ledger_receipts). *out is filled only
 * on success; release it with audit_record_clear. */
int audit_record(ledger *l, const uint8_t id[RECORD_ID_BYTES],
		 audit_record_info *out, ht_err *err);
void audit_record_clear(audit_record_info *a);

/* Check a time range as given: since < until. INT64_MIN / INT64_MAX mean
 * open ends. HT_EINVAL naming "since" otherwise. */
int audit_check_range(int64_t since_ms, int64_t until_ms, ht_err *err);

/* What origin shared in [since_ms, until_ms): per kind and author, the
 * count and first/last creation times (ledger_origin_summary). HT_EINVAL for
 * a malformed code or range, HT_ENOTFOUND for an origin not in the ledger. */
int audit_origin(ledger *l, const char *origin, int64_t since_ms,
		 int64_t until_ms, ledger_summary_fn fn, void *ctx,
		 ht_err *err);

/* Every chain record the officer `author` originated (at origin, or any
 * origin when NULL), in arrival order. The author must be 1 to
 * RECORD_MAX_NAME bytes of text. */
int audit_author(ledger *l, const char *author, const char *origin,
		 ledger_each_fn fn, void *ctx, ht_err *err);

/* Per link (peer name), from the event log since since_ms: records
 * received, stored and sent, connects and disconnects, and the detail rows
 * (refusals with their reasons, gaps, forks, operator decisions). */
typedef struct audit_detail {
	int kind; /* LEDGER_EV_REFUSED, _GAP, _FORK, _RESOLVE */
	char *origin;
	char *reason;
	uint64_t records, events;
	int64_t first_ms, last_ms;
} audit_detail;

typedef struct audit_peer {
	char *peer;
	uint64_t records[LEDGER_EV_COUNT]; /* by LEDGER_EV_* */
	uint64_t events[LEDGER_EV_COUNT];
	int64_t first_ms, last_ms;
	audit_detail *details;
	size_t n_details;
} audit_peer;

typedef int (*audit_peer_fn)(void *ctx, const audit_peer *p);
int audit_peers(ledger *l, int64_t since_ms, audit_peer_fn fn, void *ctx,
		ht_err *err);

/* Each piece of fork evidence beside the chain record it conflicts with
 * (both signed, both verifiable by anyone with the origin's key). */
typedef struct audit_fork {
	const record *chain, *evidence;
	ledger_meta chain_meta, evidence_meta;
	bool flagged; /* the origin is still flagged (not resolved) */
} audit_fork;
typedef int (*audit_fork_fn)(void *ctx, const audit_fork *f);
int audit_forks(ledger *l, audit_fork_fn fn, void *ctx, ht_err *err);

#endif
