/*
 * ledger_verify: the offline re-check of everything stored. One walk over
 * the records in arrival order checks each envelope, its columns, the
 * arrival chain, the chain links and sequence, and the receipts (the
 * receipt index against the receipts; entries against the chains, where a
 * contradiction is a dispute against the receipt's signer, reported apart
 * and never counted as a problem of this ledger); signatures
 * are checked in batches on two threads. Then the frontier table and the
 * fork evidence. Problems go to the caller's callback, one line each; this
 * file never changes the ledger.
 */
#include "ledger_impl.h"
#include "pool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct verify_state {
	ledger *l;
	ledger_problem_fn fn;
	ledger_dispute_fn dfn; /* receipts contradicting the chains */
	void *ctx;
	int64_t skew_ms;    /* clock tolerance for receipt disputes */
	bool only_disputes; /* skip signatures and fork evidence */
	int problems;
	ledger_origin *seen; /* per origin: what the chain walk reached */
	size_t n_seen, cap_seen;
	struct verify_key { /* every key the walk saw installed */
		char region[HT_REGION_LEN + 1];
		uint64_t from; /* in force from this seq on */
		uint8_t key[RECORD_PK_BYTES];
	} * keys;
	size_t n_keys, cap_keys;
	struct rcpt_seen *rcpt; /* receipts: per (node, origin), see below */
	size_t n_rcpt, cap_rcpt;
	sqlite3_stmt *rcpt_rows;
	bool rcpt_have, rcpt_end;
	int rcpt_rc;
	struct sig_queue *sigs;		  /* signature checks, see below */
	uint8_t sig_key[RECORD_PK_BYTES]; /* the key verify_chain chose */
} verify_state;

/* Remember that region's records from seq `from` on are signed by key. */
static void note_key(verify_state *v, const char *region, uint64_t from,
		     const uint8_t *key)
{
	if (v->n_keys == v->cap_keys) {
		size_t cap = v->cap_keys ? 2 * v->cap_keys : 16;
		struct verify_key *k = realloc(v->keys, cap * sizeof(*k));
		if (k == NULL)
			return; /* its forks will be reported, not missed */
		v->keys = k;
		v->cap_keys = cap;
	}
	struct verify_key *k = &v->keys[v->n_keys++];
	snprintf(k->region, sizeof(k->region), "%s", region);
	k->from = from;
	memcpy(k->key, key, RECORD_PK_BYTES);
}

/* The key in force at region/seq as the walk saw it, or NULL. */
static const uint8_t *key_at(const verify_state *v, const char *region,
			     uint64_t seq)
{
	const struct verify_key *best = NULL;
	for (size_t i = 0; i < v->n_keys; i++)
		if (strcmp(v->keys[i].region, region) == 0 &&
		    v->keys[i].from <= seq &&
		    (best == NULL || v->keys[i].from >= best->from))
			best = &v->keys[i];
	return best ? best->key : NULL;
}

static void problem(verify_state *v, const uint8_t *id, const char *region,
		    uint64_t seq, const char *fmt, ...) HT_PRINTF(5, 6);

static void problem(verify_state *v, const uint8_t *id, const char *region,
		    uint64_t seq, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	v->problems++;
	if (v->fn)
		v->fn(v->ctx, id, region, seq, reason);
}

/* The walk's entry for region, created empty when new. */
static ledger_origin *seen_origin(verify_state *v, const char *region)
{
	ledger tmp = {.origins = v->seen,
		      .n_origins = v->n_seen,
		      .cap_origins = v->cap_seen};
	ledger_origin *o = ledger_origin_insert(&tmp, region);
	v->seen = tmp.origins;
	v->n_seen = tmp.n_origins;
	v->cap_seen = tmp.cap_origins;
	return o;
}

/* Do the indexed columns say what the header says? */
static bool columns_match(sqlite3_stmt *st, const record *r)
{
	const Hutong__Header *h = record_header(r);
	const uint8_t *id = sqlite3_column_blob(st, 3);
	return strcmp((const char *)sqlite3_column_text(st, 1),
		      h->origin_region) == 0 &&
	       (uint64_t)sqlite3_column_int64(st, 2) == h->seq &&
	       sqlite3_column_bytes(st, 3) == RECORD_ID_BYTES &&
	       memcmp(id, record_id(r), RECORD_ID_BYTES) == 0 &&
	       sqlite3_column_int(st, 4) == (int)h->kind &&
	       sqlite3_column_int64(st, 5) == h->created_ms &&
	       strcmp((const char *)sqlite3_column_text(st, 6), h->author) == 0;
}

/* Chain rules and signature of r against what the walk has seen. */
static void verify_chain(verify_state *v, const record *r)
{
	const Hutong__Header *h = record_header(r);
	const uint8_t *id = record_id(r);
	ledger_origin *o = seen_origin(v, h->origin_region);
	if (o == NULL)
		return;
	if (h->seq != o->seq + 1)
		problem(
		    v, id, h->origin_region, h->seq,
		    "chain gap: seq %llu follows seq %llu (records missing)",
		    (unsigned long long)h->seq, (unsigned long long)o->seq);
	else if (h->seq > 1 &&
		 memcmp(h->prev_id.data, o->head, RECORD_ID_BYTES) != 0)
		problem(v, id, h->origin_region, h->seq,
			"prev_id does not match the record at seq %llu",
			(unsigned long long)o->seq);
	if (record_is_genesis(r) && ledger_install_key(o, r))
		note_key(v, h->origin_region, 1, o->key);
	memcpy(v->sig_key, o->key, RECORD_PK_BYTES); /* checked in sig_flush */
	o->seq = h->seq;
	memcpy(o->head, id, RECORD_ID_BYTES);
	if (!record_is_genesis(r) && ledger_install_key(o, r))
		note_key(v, h->origin_region, h->seq + 1, o->key);
}

/* ---- signatures on two threads ---- */

/* Signature checks dominate verify. The walk (SQLite reads, parsing, the
 * chain and arrival checks) stays on the caller's thread and queues each
 * record with the key in force at its seq; every SIG_BATCH records the
 * core's worker pool (the caller and one worker) checks the batch, then the
 * caller reports the failures in order. Without a worker (it could not
 * start) the caller checks them all: the same code with one thread. */
#define SIG_BATCH 1024

typedef struct sig_job {
	record *r;
	uint8_t key[RECORD_PK_BYTES];
	bool ok;
} sig_job;

typedef struct sig_queue {
	sig_job jobs[SIG_BATCH];
	size_t n; /* queued in this batch */
	pool *workers;
} sig_queue;

static void sig_check_one(void *ctx, size_t i)
{
	sig_job *j = &((sig_queue *)ctx)->jobs[i];
	j->ok = record_verify(j->r, j->key);
}

static sig_queue *sig_queue_new(void)
{
	sig_queue *q = calloc(1, sizeof(*q));
	if (q != NULL)
		q->workers = pool_new(1);
	return q;
}

/* Check the queued batch on both threads; report failures in order. */
static void sig_flush(verify_state *v)
{
	sig_queue *q = v->sigs;
	if (q == NULL || q->n == 0)
		return;
	pool_run(q->workers, q->n, sig_check_one, q);
	for (size_t i = 0; i < q->n; i++) {
		const Hutong__Header *h = record_header(q->jobs[i].r);
		if (!q->jobs[i].ok)
			problem(v, record_id(q->jobs[i].r), h->origin_region,
				h->seq,
				"signature does not verify with the "
				"origin's key");
		record_free(&q->jobs[i].r);
	}
	q->n = 0;
}

/* Queue r (taken over) to be checked with key; *r is set to NULL. */
static void sig_push(verify_state *v, record **r, const uint8_t *key)
{
	sig_queue *q = v->sigs;
	if (q == NULL) { /* no memory for the queue: check it now */
		if (!record_verify(*r, key))
			problem(v, record_id(*r),
				record_header(*r)->origin_region,
				record_header(*r)->seq,
				"signature does not "
				"verify with the origin's key");
		record_free(r);
		return;
	}
	q->jobs[q->n].r = *r;
	memcpy(q->jobs[q->n].key, key, RECORD_PK_BYTES);
	*r = NULL;
	if (++q->n == SIG_BATCH)
		sig_flush(v);
}

static void sig_queue_free(verify_state *v)
{
	sig_queue *q = v->sigs;
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n; i++)
		record_free(&q->jobs[i].r);
	pool_free(&q->workers);
	free(q);
	v->sigs = NULL;
}

/* ---- receipts: entries against the chains, the index against records ---- */

/* What the walk last checked of one node's receipts about one origin. */
typedef struct rcpt_seen {
	uint64_t key; /* node code * 10^6 + origin code; 0 = empty slot */
	uint64_t seq;
	uint8_t head[RECORD_ID_BYTES];
	uint64_t max_seq; /* the highest seq so far: indexed rows go beyond */
} rcpt_seen;

/* Region codes are six digits (record_parse checked them). */
static uint64_t code_num(const char *s)
{
	uint64_t v = 0;
	for (int i = 0; i < HT_REGION_LEN && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

static rcpt_seen *rcpt_slot(verify_state *v, const char *node,
			    const char *origin)
{
	uint64_t key = code_num(node) * 1000000u + code_num(origin);
	if (2 * (v->n_rcpt + 1) > v->cap_rcpt) { /* keep it half empty */
		size_t cap = v->cap_rcpt ? 2 * v->cap_rcpt : 1024;
		rcpt_seen *t = calloc(cap, sizeof(*t));
		if (t == NULL)
			return NULL;
		for (size_t i = 0; i < v->cap_rcpt; i++) {
			if (v->rcpt[i].key == 0)
				continue;
			size_t j =
			    (size_t)(v->rcpt[i].key * 0x9E3779B97F4A7C15u) &
			    (cap - 1);
			while (t[j].key != 0)
				j = (j + 1) & (cap - 1);
			t[j] = v->rcpt[i];
		}
		free(v->rcpt);
		v->rcpt = t;
		v->cap_rcpt = cap;
	}
	size_t j = (size_t)(key * 0x9E3779B97F4A7C15u) & (v->cap_rcpt - 1);
	while (v->rcpt[j].key != 0 && v->rcpt[j].key != key)
		j = (j + 1) & (v->cap_rcpt - 1);
	if (v->rcpt[j].key == 0) {
		v->rcpt[j].key = key;
		v->n_rcpt++;
	}
	return &v->rcpt[j];
}

/* Entry e of receipt r is a claim its signer got wrong: a dispute against
 * the signer, reported apart from problems. */
static void dispute(verify_state *v, const record *r,
		    const Hutong__ReceiptEntry *e, const char *reason)
{
	ledger_dispute d = ledger_dispute_of(r, e, reason);
	if (v->dfn)
		v->dfn(v->ctx, &d);
}

/* One entry of receipt r: never below what the signer's earlier receipts
 * said, and naming the record this ledger holds at that seq (or known fork
 * evidence there), created in time (ledger_entry_dispute). What the entry
 * gets wrong is a dispute against the signer. Unchanged entries are
 * checked once. A read error is a problem of this ledger. */
static void verify_entry(verify_state *v, const record *r,
			 const Hutong__ReceiptEntry *e, rcpt_seen *s)
{
	char reason[512];
	ht_err err = {0};
	if (e->seq < s->seq) {
		snprintf(reason, sizeof(reason),
			 "receipt says origin %s at seq %llu, below seq %llu "
			 "in an earlier receipt of the same node",
			 e->origin, (unsigned long long)e->seq,
			 (unsigned long long)s->seq);
		dispute(v, r, e, reason);
	}
	if (e->head.len != RECORD_ID_BYTES ||
	    (e->seq == s->seq &&
	     memcmp(e->head.data, s->head, RECORD_ID_BYTES) == 0))
		return;
	s->seq = e->seq;
	memcpy(s->head, e->head.data, RECORD_ID_BYTES);
	int rc = ledger_entry_dispute(v->l, r, e, v->skew_ms, reason,
				      sizeof(reason), &err);
	if (rc == 1)
		dispute(v, r, e, reason);
	else if (rc < 0)
		problem(v, record_id(r), record_header(r)->origin_region,
			record_header(r)->seq, "receipt entry not checked: %s",
			err.msg);
}

/* The receipt index is read in insertion order beside the walk; one row is
 * kept peeked. Columns: origin, node, seq, created_ms, n. */
static bool rcpt_peek(verify_state *v)
{
	if (!v->rcpt_have && !v->rcpt_end) {
		int rc = sqlite3_step(v->rcpt_rows);
		v->rcpt_have = rc == SQLITE_ROW;
		v->rcpt_end = !v->rcpt_have;
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			v->rcpt_rc = rc;
	}
	return v->rcpt_have;
}

static const char *rcpt_text(verify_state *v, int col)
{
	const char *s = (const char *)sqlite3_column_text(v->rcpt_rows, col);
	return s ? s : "";
}

static void rcpt_extra(verify_state *v)
{
	problem(v, NULL, rcpt_text(v, 1),
		(uint64_t)sqlite3_column_int64(v->rcpt_rows, 2),
		"receipt index row (n=%lld, origin %s) matches no receipt "
		"entry (row added or changed, or its receipt record removed)",
		(long long)sqlite3_column_int64(v->rcpt_rows, 4),
		rcpt_text(v, 0));
	v->rcpt_have = false;
}

/* The index row for entry e of receipt r stored at arrival n. */
static void verify_index_row(verify_state *v, const record *r, int64_t n,
			     const Hutong__ReceiptEntry *e)
{
	const Hutong__Header *h = record_header(r);
	while (rcpt_peek(v)) {
		int64_t rn = sqlite3_column_int64(v->rcpt_rows, 4);
		int c = rn != n ? (rn < n ? -1 : 1)
				: strcmp(rcpt_text(v, 0), e->origin);
		if (c > 0)
			break;
		if (c < 0) {
			rcpt_extra(v);
			continue;
		}
		if (strcmp(rcpt_text(v, 1), h->origin_region) != 0 ||
		    (uint64_t)sqlite3_column_int64(v->rcpt_rows, 2) != e->seq ||
		    sqlite3_column_int64(v->rcpt_rows, 3) != h->created_ms)
			problem(v, record_id(r), h->origin_region, h->seq,
				"receipt index row for origin %s differs from "
				"the signed receipt (row altered)",
				e->origin);
		v->rcpt_have = false;
		return;
	}
	problem(v, record_id(r), h->origin_region, h->seq,
		"receipt index lacks the row for origin %s seq %llu (row "
		"deleted)",
		e->origin, (unsigned long long)e->seq);
}

static void verify_receipt(verify_state *v, const record *r, int64_t n)
{
	const Hutong__Body *b = record_body(r);
	if (b == NULL || b->content_case != HUTONG__BODY__CONTENT_RECEIPT)
		return;
	const char *node = record_header(r)->origin_region;
	for (size_t i = 0; i < b->receipt->n_entries; i++) {
		const Hutong__ReceiptEntry *e = b->receipt->entries[i];
		rcpt_seen *s = rcpt_slot(v, node, e->origin);
		if (s == NULL)
			continue; /* out of memory: not checked, not reported */
		if (e->seq > s->max_seq) { /* index_receipt indexed it */
			verify_index_row(v, r, n, e);
			s->max_seq = e->seq;
		}
		verify_entry(v, r, e, s);
	}
}

/* After the walk: index rows left over belong to no receipt. */
static void verify_receipt_tail(verify_state *v)
{
	while (rcpt_peek(v))
		rcpt_extra(v);
}

static int verify_receipt_open(verify_state *v, ht_err *err)
{
	ledger *l = v->l;
	if (ledger_prepare(l, &v->rcpt_rows,
			   "SELECT origin, node, seq, created_ms, n"
			   " FROM receipt ORDER BY rowid",
			   err))
		return HT_EIO;
	return 0;
}

static void verify_receipt_close(verify_state *v)
{
	sqlite3_finalize(v->rcpt_rows);
	free(v->rcpt);
}

/* The row's id column, or NULL when it is not an id. */
static const uint8_t *row_id(sqlite3_stmt *st)
{
	return sqlite3_column_bytes(st, 3) == RECORD_ID_BYTES
		   ? sqlite3_column_blob(st, 3)
		   : NULL;
}

/* The arrival log: n follows the previous row's and the arrival hash
 * chains on from the previous one. */
static void verify_arrival(verify_state *v, sqlite3_stmt *st, int64_t *prev_n,
			   uint8_t arrival[32])
{
	int64_t n = sqlite3_column_int64(st, 0);
	const char *region = (const char *)sqlite3_column_text(st, 1);
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 2);
	const uint8_t *col_id = row_id(st);
	if (n != *prev_n + 1)
		problem(v, col_id, region, seq,
			"arrival log gap: n=%lld follows"
			" n=%lld (rows deleted)",
			(long long)n, (long long)*prev_n);
	uint8_t want[32];
	if (col_id != NULL) {
		ledger_arrival_hash(
		    arrival, n, col_id, sqlite3_column_int64(st, 8),
		    (const char *)sqlite3_column_text(st, 9), want);
		if (sqlite3_column_bytes(st, 10) != 32 ||
		    memcmp(want, sqlite3_column_blob(st, 10), 32) != 0)
			problem(v, col_id, region, seq,
				"arrival record altered "
				"(stored time, source or order rewritten)");
	}
	*prev_n = n;
	ledger_copy_blob(arrival, 32, st, 10);
}

/* One record row: its arrival, envelope, columns, chain, receipts, and its
 * signature queued. */
static void verify_row(verify_state *v, sqlite3_stmt *st, int64_t *prev_n,
		       uint8_t arrival[32])
{
	int64_t n = sqlite3_column_int64(st, 0);
	const char *region = (const char *)sqlite3_column_text(st, 1);
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 2);
	verify_arrival(v, st, prev_n, arrival);
	ht_err err;
	record *r = record_parse(sqlite3_column_blob(st, 7),
				 (size_t)sqlite3_column_bytes(st, 7), &err);
	if (r == NULL) {
		char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
		problem(v, row_id(st), region, seq,
			"stored envelope is invalid: %s",
			ht_err_str(&err, msg, sizeof(msg)));
		return;
	}
	if (!columns_match(st, r))
		problem(v, record_id(r), region, seq,
			"stored columns differ from the signed header");
	if (record_body(r) == NULL &&
	    record_needs_body((int)record_header(r)->kind))
		problem(v, record_id(r), region, seq,
			"%s record held without its body",
			record_kind_name((int)record_header(r)->kind));
	memset(v->sig_key, 0, RECORD_PK_BYTES);
	verify_chain(v, r);
	verify_receipt(v, r, n);
	if (v->only_disputes)
		record_free(&r);
	else
		sig_push(v, &r, v->sig_key);
}

/* Does the origin table agree with where each chain ends? */
static void verify_frontier(verify_state *v)
{
	ledger *l = v->l;
	for (size_t i = 0; i < l->n_origins; i++) {
		const ledger_origin *t = &l->origins[i];
		long pos = ledger_origin_index(
		    &(ledger){.origins = v->seen, .n_origins = v->n_seen},
		    t->region);
		const ledger_origin *s = pos >= 0 ? &v->seen[pos] : NULL;
		if (s == NULL || s->seq != t->seq ||
		    memcmp(s->head, t->head, RECORD_ID_BYTES) != 0)
			problem(v, t->head, t->region, t->seq,
				"frontier says seq %llu but the chain ends at "
				"seq %llu (head record missing or altered)",
				(unsigned long long)t->seq,
				(unsigned long long)(s ? s->seq : 0));
		else if (memcmp(s->key, t->key, RECORD_PK_BYTES) != 0 ||
			 memcmp(s->key_id, t->key_id, RECORD_ID_BYTES) != 0)
			problem(v, t->head, t->region, t->seq,
				"origin key differs from its genesis or "
				"rotation records");
	}
	if (v->n_seen != l->n_origins)
		problem(v, NULL, "", 0,
			"%zu origins in records but %zu in the "
			"frontier table",
			v->n_seen, l->n_origins);
}

static int verify_fork_row(void *ctx, const record *r, const ledger_meta *m)
{
	verify_state *v = ctx;
	const Hutong__Header *h = record_header(r);
	/* the key in force at its seq (a rotation since does not count); a
	 * second genesis names its own */
	const uint8_t *key = key_at(v, h->origin_region, h->seq), *own;
	const ProtobufCBinaryData *certs;
	size_t n;
	if (record_is_genesis(r) && record_key_change(r, &own, &certs, &n))
		key = own;
	if (key == NULL || !record_verify(r, key))
		problem(v, record_id(r), h->origin_region, h->seq,
			"fork evidence does not verify with the origin's key");
	return 0;
}

/* The walk over every record in arrival order, signatures in batches. */
static int verify_records(verify_state *v, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(v->l, &st,
				"SELECT n, origin, seq, id, kind,"
				" created_ms, author, envelope, stored_ms,"
				" source, arrival FROM record ORDER BY n",
				err);
	int64_t prev_n = 0;
	uint8_t arrival[32] = {0};
	int step = SQLITE_DONE;
	v->sigs = rc == 0 ? sig_queue_new() : NULL;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		verify_row(v, st, &prev_n, arrival);
	if (rc == 0 && step != SQLITE_DONE)
		rc = ledger_db_err(v->l, step, "read records", err);
	sig_flush(v);
	sig_queue_free(v);
	sqlite3_finalize(st);
	return rc;
}

/* After the walk: receipt index rows no receipt claimed, the frontier
 * table, the fork evidence. */
static int verify_after_walk(verify_state *v, ht_err *err)
{
	verify_receipt_tail(v);
	if (v->rcpt_rc != 0)
		return ledger_db_err(v->l, v->rcpt_rc, "read receipt index",
				     err);
	verify_frontier(v);
	if (v->only_disputes)
		return 0;
	return ledger_each_fork(v->l, verify_fork_row, v, err);
}

int ledger_verify(ledger *l, ledger_problem_fn fn, void *ctx, ht_err *err)
{
	return ledger_verify_ex(l, LEDGER_DEFAULT_SKEW_MS, false, fn, NULL, ctx,
				err);
}

int ledger_verify_ex(ledger *l, int64_t skew_ms, bool only_disputes,
		     ledger_problem_fn fn, ledger_dispute_fn dfn, void *ctx,
		     ht_err *err)
{
	verify_state v = {.l = l,
			  .fn = fn,
			  .dfn = dfn,
			  .ctx = ctx,
			  .skew_ms = skew_ms,
			  .only_disputes = only_disputes};
	/* one read transaction: every statement sees the same snapshot while
	 * the daemon goes on writing */
	bool own_tx = !l->in_tx;
	int rc = own_tx ? ledger_exec(l, "BEGIN", err) : 0;
	if (rc != 0 || (rc = ledger_load_state(l, err)) != 0 ||
	    (rc = verify_receipt_open(&v, err)) != 0 ||
	    (rc = verify_records(&v, err)) != 0)
		goto out;
	rc = verify_after_walk(&v, err);
	if (rc == 0 && (rc = ledger_history_verify(l, fn, ctx, err)) > 0)
		v.problems += rc, rc = 0;
out:
	verify_receipt_close(&v);
	if (own_tx)
		sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
	free(v.seen);
	free(v.keys);
	return rc == 0 ? v.problems : rc;
}
