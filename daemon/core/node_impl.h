/*
 * node_impl: what the node's files share and nothing outside them sees:
 * the node struct and the few functions one concern calls in another.
 * node.c opens and submits, node_receive.c takes records from peers,
 * node_trust.c judges origins' certificates, node_fork.c keeps fork
 * evidence and reports, node_receipt.c writes receipts, node_claims.c
 * checks creation times and receipts' claims. node.h stays the
 * public API; include this header only from node*.c.
 */
#ifndef HT_NODE_IMPL_H
#define HT_NODE_IMPL_H

#include "node.h"
#include "pool.h"

#define NODE_MEMO 32	       /* remembered refusal event rows */
#define NODE_COALESCE_MS 60000 /* repeats within this add to one row */
#define NODE_MAX_FPEND 64      /* reported fork versions beyond our head */
#define NODE_CATCHUP_PEERS 64  /* neighbours remembered as having answered */
#define NODE_CATCHUP_WARN_MS 60000 /* "cannot confirm" at most this often */

/* Per origin, in the last receipt: the seq known to add nothing but
 * receipts since (node_receipt.c). */
typedef struct rcpt_mark {
	char region[HT_REGION_LEN + 1];
	uint64_t seq;
} rcpt_mark;

/* An origin's current certificate as installed by its genesis or last
 * rotation (key_id), verified once at that record's creation time. */
typedef struct origin_cert {
	char region[HT_REGION_LEN + 1];
	uint8_t key_id[RECORD_ID_BYTES];
	bool loaded;
	node_cert_state st; /* as judged at load, revocations kept current */
	pki_chain chain;    /* the certificates installed, node's first */
} origin_cert;

/* A refusal event row a peer's repeats add to (node_receive.c). */
typedef struct refusal_memo {
	char peer[RECORD_MAX_NAME + 1];
	int kind;
	char origin[HT_REGION_LEN + 1];
	uint64_t reason_hash;
	int64_t row, at_ms;
} refusal_memo;

/* A version of a reported fork beyond this node's head (node_fork.c). */
typedef struct fork_pending {
	uint8_t *env;
	size_t len;
	char origin[HT_REGION_LEN + 1];
	uint64_t seq;
} fork_pending;

struct node {
	char name[RECORD_MAX_NAME + 1];
	char region[HT_REGION_LEN + 1];
	ident *id;
	ledger *ledger;
	const ht_clock *clock;
	int64_t max_skew_ms; /* max_clock_skew; 0: LEDGER_DEFAULT_SKEW_MS */
	ht_log *log;
	node_counters counters;
	node_trust_fn trust;
	void *trust_ctx;
	pki_store *pki;	    /* not owned; NULL without PKI */
	origin_cert *certs; /* cache of origins' current certificates */
	size_t n_certs, cap_certs;
	/* receipts: what the last one said, and what was checked since */
	bool rcpt_loaded;
	int64_t rcpt_last_ms;  /* its creation time; INT64_MIN: none yet */
	int64_t rcpt_mono_ms;  /* monotonic time the interval counts from */
	uint64_t rcpt_own_seq; /* its seq in our own chain */
	int64_t rcpt_retry_ms; /* after a failure, not before this (mono) */
	rcpt_mark *rcpt_marks;
	size_t n_rcpt_marks;
	/* refusals repeated by a peer add to one event row */
	refusal_memo memo[NODE_MEMO];
	size_t memo_next;
	/* versions of reported forks beyond this node's head (fork reports) */
	fork_pending fpend[NODE_MAX_FPEND];
	size_t n_fpend;
	/* hooks (node_set_check, node_set_stored_hook) */
	node_check_fn check;
	void *check_ctx;
	node_stored_fn stored;
	void *stored_ctx;
	record **pending; /* appended in the open transaction */
	size_t n_pending, cap_pending;
	pool *pool; /* batch parsing and signatures; made on first need */
	/* node_catchup.c: may this node sign (its own chain is confirmed)? */
	bool own_ready;
	/* the chain a deferred genesis carries (node_config's, borrowed) */
	const uint8_t *const *gen_certs;
	const size_t *gen_lens;
	size_t gen_n;
	bool cu_active;	   /* waiting for neighbours or own records */
	bool cu_had_chain; /* held its chain at start (a restart, a backup) */
	size_t cu_peers;   /* configured neighbours */
	char cu_answered[NODE_CATCHUP_PEERS][RECORD_MAX_NAME + 1];
	size_t cu_n;		       /* how many of them answered */
	uint64_t cu_target;	       /* highest own seq a neighbour holds */
	int64_t cu_start;	       /* node_catchup_begin's now_ms */
	int64_t cu_deadline;	       /* catchup_timeout from the start */
	int64_t cu_warn_at;	       /* next "cannot confirm" warning */
	char cu_error[HT_ERR_MSG_MAX]; /* why catching up cannot finish */
};

/* What one batch from a peer did, for the event log: counts, and its
 * refusals, gaps and forks grouped by (kind, origin, reason). */
typedef struct node_batch_group {
	int kind; /* LEDGER_EV_REFUSED, _GAP or _FORK */
	char origin[HT_REGION_LEN + 1];
	uint64_t seq; /* the first one's */
	uint64_t count;
	char *reason;
} node_batch_group;

typedef struct node_batch_log {
	size_t stored;
	node_batch_group *groups;
	size_t n_groups, cap_groups;
	record *found[SYNC_MAX_BATCH]; /* forks met here: to report */
	size_t n_found;
} node_batch_log;

/* ---- node.c ---- */

/* Keep an appended record (taking *r) for the stored hook, when one is
 * set, until its transaction ends. */
void node_pending_keep(node *n, record **r);
/* The transaction ended: on commit, call the hook for each kept record;
 * either way forget them. */
void node_pending_flush(node *n, bool committed);
/* Is rc a failure of storage (the batch must roll back), not a verdict? */
bool node_is_storage_error(int rc);

/* ---- node_trust.c ---- */

/* Does the chain in certs verify at at_ms for this key, region and name?
 * 0, or HT_ETRUST/HT_ELIMIT with err. */
int node_check_chain(const pki_store *pki, const ProtobufCBinaryData *certs,
		     size_t nc, int64_t at_ms, const uint8_t *pk,
		     const char *region, const char *name, pki_identity *id,
		     ht_err *err);
/* The certificate rules for a record about to be stored (see
 * node_trust.c). 0 without a trust store. */
int node_check_trust(node *n, const record *r, ht_err *err);
/* The key r must verify with, or NULL (err set, counted when the trust
 * hook refused). keybuf holds it for fork evidence at a held seq. */
const uint8_t *node_signer_key(node *n, const record *r,
			       uint8_t keybuf[RECORD_PK_BYTES], ht_err *err);
/* The cached certificate of origin o, (re)judged when o's key changed or
 * its CRLs went stale. NULL when out of memory. */
origin_cert *node_cert_of(node *n, const ledger_origin *o);
/* Apply the revocation records held (on open, after a store swap). */
int node_reapply_revocations(node *n, ht_err *err);
/* Release the certificate cache. */
void node_certs_free(node *n);

/* ---- node_fork.c ---- */

/* On open: versions of reported forks still beyond this node's heads. */
int node_fork_load(node *n, ht_err *err);
/* Release the waiting versions. */
void node_fork_free(node *n);
/* A record just appended from a peer: a fork report to take, or the chain
 * reaching a reported fork's seq. Returns a storage error only. */
int node_fork_after_append(node *n, const record *r, const char *peer,
			   node_batch_log *bl);
/* Sign a report of the fork between this node's chain record and ev (the
 * evidence just stored), in the open transaction. */
int node_fork_report(node *n, const record *ev, ht_err *err);

/* ---- node_catchup.c ---- */

/* Before ledger_open: a ledger file that exists but is empty or not a
 * SQLite database is lost: logged (what happens next depends on defer:
 * catching up, or a new genesis), and a non-database is moved aside to
 * PATH.unreadable. 0, or HT_EIO for a path that cannot be read. */
int node_ledger_file_check(node *n, const char *path, bool defer, ht_err *err);
/* Sign the origin's genesis (seq 1) with the node's key and chain. */
int node_write_genesis(node *n, ht_err *err);
/* 0 when this node may sign now, else HT_ESTATE with why (submit, fork
 * reports, rotation). */
int node_check_ready(const node *n, ht_err *err);
/* ---- node_claims.c ---- */

/* The clock tolerance: max_clock_skew, or its default. */
int64_t node_skew_ms(const node *n);
/* The time claims of r, from a peer, about to be appended: not created
 * more than max_clock_skew ahead of this node's clock, nor before the
 * record before it in its chain. 0, or a refusal with err (counted). */
int node_check_claims(node *n, const record *r, ht_err *err);
/* r was just appended from peer: when it is a receipt, each of its entries
 * that contradicts the chains held is a dispute against its signer, logged
 * and counted (the receipt stays stored). */
void node_claims_after_append(node *n, const record *r, const char *peer);
/* The creation time of this node's next own record: now, or its previous
 * record's time when that is later (a chain's times never go back). */
int64_t node_next_created(node *n, int64_t now);

/* ---- node_receive.c ---- */

/* Count r (NULL: unparsed) into bl's group of (kind, origin, reason). */
void node_batch_note(node_batch_log *bl, int kind, const record *r,
		     const char *reason);

#endif
