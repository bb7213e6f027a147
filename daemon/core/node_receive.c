/*
 * node_receive: records from peers. For each envelope of a batch: limits
 * and decoding, the key it must verify with, the signature, the
 * certificate rules (node_trust.c), then the chain rules, all in one
 * transaction with the batch's rows in the ledger's event log. A refusal
 * or gap that a peer repeats within a minute adds to its earlier row (the
 * refusal memo), so a peer repeating itself cannot grow the log. Parsing
 * and signatures are checked ahead of the transaction on the node's pool
 * (pool.c); everything else runs on the caller's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_impl.h"

const node_counters *node_get_counters(const node *n) { return &n->counters; }

/* 100us, 250us, 500us, 1ms ... 10s: ledger commits of a few records take
 * well under a millisecond, a catch-up batch of 256 a few tens. */
static const int64_t hist_bounds_us[NODE_HIST_BUCKETS] = {
    100,   250,	   500,	   1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

int64_t node_hist_bound_us(size_t i)
{
	return i < NODE_HIST_BUCKETS ? hist_bounds_us[i] : INT64_MAX;
}

void node_hist_add(node_hist *h, int64_t us)
{
	size_t i = 0;
	if (us < 0)
		us = 0;
	while (i < NODE_HIST_BUCKETS && us > hist_bounds_us[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum_us += (uint64_t)us;
}

/* ---- the batch's entries in the event log ---- */

static node_batch_group *group_find(node_batch_log *bl, int kind,
				    const char *origin, const char *reason)
{
	for (size_t i = 0; i < bl->n_groups; i++) {
		node_batch_group *g = &bl->groups[i];
		if (g->kind == kind && strcmp(g->origin, origin) == 0 &&
		    strcmp(g->reason, reason) == 0)
			return g;
	}
	return NULL;
}

void node_batch_note(node_batch_log *bl, int kind, const record *r,
		     const char *reason)
{
	const char *origin = r ? record_header(r)->origin_region : "";
	node_batch_group *g = group_find(bl, kind, origin, reason);
	if (g != NULL) {
		g->count++;
		return;
	}
	if (bl->n_groups == bl->cap_groups) {
		size_t cap = bl->cap_groups ? 2 * bl->cap_groups : 8;
		g = realloc(bl->groups, cap * sizeof(*g));
		if (g == NULL)
			return; /* the log line was written; the row is lost */
		bl->groups = g;
		bl->cap_groups = cap;
	}
	g = &bl->groups[bl->n_groups];
	if ((g->reason = strdup(reason)) == NULL)
		return;
	g->kind = kind;
	snprintf(g->origin, sizeof(g->origin), "%s", origin);
	g->seq = r ? record_header(r)->seq : 0;
	g->count = 1;
	bl->n_groups++;
}

static void batch_free(node_batch_log *bl)
{
	for (size_t i = 0; i < bl->n_groups; i++)
		free(bl->groups[i].reason);
	free(bl->groups);
	for (size_t i = 0; i < bl->n_found; i++)
		record_free(&bl->found[i]);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	return h;
}

/* A refusal or gap the same peer caused within NODE_COALESCE_MS adds to
 * that event row. */
static refusal_memo *memo_find(node *n, const char *peer,
			       const node_batch_group *g, uint64_t h,
			       int64_t now)
{
	for (size_t i = 0; i < NODE_MEMO; i++) {
		refusal_memo *m = &n->memo[i];
		if (m->row > 0 && m->kind == g->kind && m->reason_hash == h &&
		    now - m->at_ms < NODE_COALESCE_MS &&
		    strcmp(m->origin, g->origin) == 0 &&
		    strcmp(m->peer, peer) == 0)
			return m;
	}
	return NULL;
}

/* Remember a new row, replacing the oldest memo. */
static void memo_add(node *n, const char *peer, const node_batch_group *g,
		     uint64_t h, int64_t row, int64_t now)
{
	refusal_memo *m = &n->memo[n->memo_next++ % NODE_MEMO];
	snprintf(m->peer, sizeof(m->peer), "%s", peer);
	snprintf(m->origin, sizeof(m->origin), "%s", g->origin);
	m->kind = g->kind;
	m->reason_hash = h;
	m->row = row;
	m->at_ms = now;
}

static int log_group(node *n, const char *peer, const node_batch_group *g,
		     ht_err *err)
{
	int64_t now = n->clock->now_ms(n->clock->ctx), row = 0;
	uint64_t h = hash_str(g->reason);
	refusal_memo *m =
	    g->kind == LEDGER_EV_FORK ? NULL : memo_find(n, peer, g, h, now);
	if (m != NULL &&
	    ledger_event_bump(n->ledger, m->row, g->count, now, err) == 0)
		return 0;
	ledger_event ev = {.time_ms = now,
			   .peer = peer,
			   .kind = g->kind,
			   .origin = g->origin,
			   .seq = g->seq,
			   .count = g->count,
			   .reason = g->reason};
	int rc = ledger_log_event(n->ledger, &ev, &row, err);
	if (rc != 0 || g->kind == LEDGER_EV_FORK)
		return rc;
	memo_add(n, peer, g, h, row, now);
	return 0;
}

/* Write the batch's rows inside its transaction. */
static int batch_write(node *n, const char *peer, size_t count,
		       const node_batch_log *bl, ht_err *err)
{
	ledger_event ev = {
	    .peer = peer, .kind = LEDGER_EV_RECEIVED, .count = count};
	int rc = ledger_log_event(n->ledger, &ev, NULL, err);
	ev.kind = LEDGER_EV_STORED;
	ev.count = bl->stored;
	if (rc == 0 && bl->stored > 0)
		rc = ledger_log_event(n->ledger, &ev, NULL, err);
	for (size_t i = 0; rc == 0 && i < bl->n_groups; i++)
		rc = log_group(n, peer, &bl->groups[i], err);
	return rc;
}

/* ---- a batch's parsing and signatures, ahead, on the node's pool ---- */

/* Parsing and the Ed25519 check are pure and take most of a batch's time
 * (the check alone about 60% of a record's cost: tests/bench/catchup.sh),
 * so node_receive does both for the whole batch before its transaction, on
 * the caller's thread and the node's pool (one worker), which claim
 * envelopes one at a time. Each record is checked with the key the ledger
 * names for it before the batch: its origin's current key for a record
 * beyond the head, or a new origin's genesis key. receive_one then takes
 * that result only when the key it settles on is the same key (a rotation
 * earlier in the same batch changes it, and then it checks again), so
 * every outcome, log line and row is what a one-thread run gives; only the
 * time differs. Nothing writes the ledger while the pool runs, and the
 * workers touch nothing but their own entries and the ledger's in-memory
 * frontier, read-only. */
#define NODE_PRE_MIN 16 /* smaller batches stay on one thread */
#define NODE_POOL_THREADS 1

typedef struct pre {
	record *r; /* parsed (taken by receive_one), or NULL: err says why */
	ht_err err;
	bool checked; /* r was checked with key; sig_ok is the answer */
	bool sig_ok;
	uint8_t key[RECORD_PK_BYTES];
} pre;

typedef struct pre_job {
	const ledger *l;
	const uint8_t *const *env;
	const size_t *len;
	pre *out;
} pre_job;

/* The key r will be checked with if the batch does not change it. */
static const uint8_t *pre_key(const ledger *l, const record *r)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o = ledger_origin_find(l, h->origin_region);
	if (o != NULL)
		return h->seq > o->seq ? o->key : NULL; /* held: is_held */
	if (record_is_genesis(r) && record_body(r) != NULL)
		return record_body(r)->genesis->public_key.data;
	return NULL;
}

/* One envelope of the batch (a pool_fn: writes out[i] only). */
static void pre_one(void *ctx, size_t i)
{
	pre_job *j = ctx;
	pre *p = &j->out[i];
	p->r = record_parse(j->env[i], j->len[i], &p->err);
	const uint8_t *key = p->r ? pre_key(j->l, p->r) : NULL;
	if (key == NULL)
		return;
	memcpy(p->key, key, RECORD_PK_BYTES);
	p->sig_ok = record_verify(p->r, key);
	p->checked = true;
}

/* Parse and check env[0..count) into out (count entries, zeroed). The
 * pool is made on the first batch that wants it; without it (out of
 * memory) the caller's thread does it all. */
static void pre_batch(node *n, const uint8_t *const *env, const size_t *len,
		      size_t count, pre *out)
{
	pre_job j = {n->ledger, env, len, out};
	if (count >= NODE_PRE_MIN && n->pool == NULL)
		n->pool = pool_new(NODE_POOL_THREADS);
	pool_run(count >= NODE_PRE_MIN ? n->pool : NULL, count, pre_one, &j);
}

static void pre_free(pre *p, size_t count)
{
	for (size_t i = 0; p != NULL && i < count; i++)
		record_free(&p[i].r);
	free(p);
}

/* Does r verify with key? The answer from the pre-pass if it checked this
 * key. */
static bool sig_ok(const pre *p, const record *r, const uint8_t *key)
{
	if (p->checked && memcmp(p->key, key, RECORD_PK_BYTES) == 0)
		return p->sig_ok;
	return record_verify(r, key);
}

/* ---- one envelope ---- */

/* The batch being received: where its rows go, and a storage error that
 * ends it (then nothing of it is stored). */
typedef struct rx_batch {
	node *n;
	const char *peer;
	node_batch_log bl;
	int rc;
	ht_err err; /* with rc */
} rx_batch;

/* Is r the very record held at its origin and seq? Then it needs no
 * checks: it was verified when it was stored. */
static bool is_held(node *n, const record *r)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o =
	    ledger_origin_find(n->ledger, h->origin_region);
	record *held = NULL;
	if (o == NULL || h->seq > o->seq)
		return false;
	if (h->seq == o->seq)
		return memcmp(o->head, record_id(r), RECORD_ID_BYTES) == 0;
	bool same = ledger_get_seq(n->ledger, o->region, h->seq, &held, NULL,
				   NULL) == 0 &&
		    memcmp(record_id(held), record_id(r), RECORD_ID_BYTES) == 0;
	record_free(&held);
	return same;
}

/* Is r a record of a forked origin beyond its head? Those wait for an
 * operator: storing them would choose a branch for them. */
static bool held_back(node *n, const record *r, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o =
	    ledger_origin_find(n->ledger, h->origin_region);
	if (o == NULL || !o->forked || h->seq <= o->seq)
		return false;
	ht_err_set(err, HT_ESTATE, "origin",
		   "origin %s is forked; an operator must resolve it",
		   h->origin_region);
	return true;
}

/* The checks before the chain rules: parsed, not held back, a key, its
 * signature, the certificate. true when r may be appended; otherwise *res
 * is SYNC_REFUSED or SYNC_GAP, counted, and err says why. */
static bool admit(node *n, const record *r, const pre *p, sync_result *res,
		  ht_err *err)
{
	uint8_t keybuf[RECORD_PK_BYTES];
	*res = SYNC_REFUSED;
	if (r == NULL) {
		n->counters.decode++;
		return false;
	}
	if (record_body(r) == NULL &&
	    record_needs_body((int)record_header(r)->kind)) {
		n->counters.no_body++;
		ht_err_set(err, HT_EINVAL, "body", "%s record without its body",
			   record_kind_name((int)record_header(r)->kind));
		return false;
	}
	if (held_back(n, r, err)) {
		n->counters.held_back++;
		return false;
	}
	const uint8_t *key = node_signer_key(n, r, keybuf, err);
	if (key == NULL && err->msg[0] && strstr(err->field, "seq")) {
		n->counters.gaps++;
		*res = SYNC_GAP;
		return false;
	}
	if (key == NULL) /* trust hook refused, or genesis without body */
		return false;
	if (!sig_ok(p, r, key)) {
		n->counters.signature++;
		ht_err_set(err, HT_ECRYPTO, "signature",
			   "does not verify with origin %s's key",
			   record_header(r)->origin_region);
		return false;
	}
	if (node_check_trust(n, r, err) != 0) {
		n->counters.trust++;
		return false;
	}
	return node_check_claims(n, r, err) == 0; /* times: counted there */
}

/* What a newly appended record changes beyond the ledger: a revocation is
 * logged, a fork report taken, waiting fork evidence retried. */
static void after_append(rx_batch *b, const record *r)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	if (record_header(r)->kind == HUTONG__KIND__KIND_REVOCATION)
		log_info(b->n->log, "revocation applied id=%s origin=%s",
			 util_hex(record_id(r), RECORD_ID_BYTES, hex),
			 LOG_T(record_header(r)->origin_region));
	b->bl.stored++;
	node_claims_after_append(b->n, r, b->peer); /* a receipt's disputes */
	int rc = node_fork_after_append(b->n, r, b->peer, &b->bl);
	if (rc != 0) {
		b->rc = rc;
		ht_err_set(&b->err, rc, "", "storing fork evidence failed");
	}
}

/* r conflicts with the record held at its seq: kept as evidence, to be
 * reported once the batch is through. */
static void fork_met(rx_batch *b, const record *r)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	node *n = b->n;
	n->counters.forks++;
	log_warn(n->log, "fork peer=%s origin=%s seq=%llu", b->peer,
		 LOG_T(record_header(r)->origin_region),
		 (unsigned long long)record_header(r)->seq);
	util_hex(record_id(r), RECORD_ID_BYTES, hex);
	node_batch_note(&b->bl, LEDGER_EV_FORK, r, hex);
	if (b->bl.n_found < SYNC_MAX_BATCH)
		b->bl.found[b->bl.n_found++] = record_without_body(r);
}

/* The chain rules for an admitted record. A storage error ends the batch
 * (b->rc); a gap or a broken chain is a verdict. */
static sync_result append(rx_batch *b, const record *r, ht_err *err)
{
	ledger_outcome out;
	int rc = ledger_append(b->n->ledger, r, b->peer, &out, err);
	if (rc == 0 && out == LEDGER_APPENDED)
		after_append(b, r);
	if (rc == 0 && out == LEDGER_FORK)
		fork_met(b, r);
	if (rc == 0)
		return out == LEDGER_APPENDED	 ? SYNC_STORED
		       : out == LEDGER_DUPLICATE ? SYNC_DUPLICATE
						 : SYNC_FORK;
	if (rc == HT_EGAP) {
		b->n->counters.gaps++;
		return SYNC_GAP;
	}
	if (rc == HT_EINVAL) {
		b->n->counters.chain++;
	} else {
		b->rc = rc;
		b->err = *err;
	}
	return SYNC_REFUSED;
}

/* The refusal of a peer's envelope, at warn. The reason is the private form
 * (ht_err_str_private): a record's personal data, such as an identity
 * number's date of birth, stays out of the log and the event table. */
static void log_refusal(node *n, const char *peer, size_t len, const record *r,
			const ht_err *err)
{
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	char hex[2 * RECORD_ID_BYTES + 1];
	if (r == NULL) {
		log_warn(n->log, "refused peer=%s bytes=%zu reason=%s", peer,
			 len, LOG_Q(ht_err_str_private(err, msg, sizeof(msg))));
		return;
	}
	const Hutong__Header *h = record_header(r);
	log_warn(n->log,
		 "refused peer=%s origin=%s seq=%llu id=%s "
		 "reason=%s",
		 peer, LOG_T(h->origin_region), (unsigned long long)h->seq,
		 util_hex(record_id(r), RECORD_ID_BYTES, hex),
		 LOG_Q(ht_err_str_private(err, msg, sizeof(msg))));
}

/* The verdict's origin and seq: those r claims, none when it did not
 * parse. */
static void verdict_of(sync_verdict *v, const record *r, sync_result res)
{
	memset(v, 0, sizeof(*v));
	v->result = res;
	if (r == NULL)
		return;
	snprintf(v->origin, sizeof(v->origin), "%s",
		 record_header(r)->origin_region);
	v->seq = record_header(r)->seq;
}

/* r is held: if the held copy lacks the body r carries, fill it in.
 * SYNC_STORED when it was filled (the stored hook runs for it: its
 * content is new here), SYNC_DUPLICATE otherwise. */
static sync_result fill_in(rx_batch *b, const record *r)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	bool filled = false;
	ht_err err = {0};
	if (record_body(r) == NULL)
		return SYNC_DUPLICATE;
	int rc = ledger_fill_body(b->n->ledger, r, &filled, &err);
	if (rc != 0) {
		b->rc = rc;
		b->err = err;
		return SYNC_DUPLICATE;
	}
	if (!filled)
		return SYNC_DUPLICATE;
	b->n->counters.filled++;
	log_info(b->n->log, "body filled peer=%s origin=%s seq=%llu id=%s",
		 b->peer, LOG_T(record_header(r)->origin_region),
		 (unsigned long long)record_header(r)->seq,
		 util_hex(record_id(r), RECORD_ID_BYTES, hex));
	node_batch_note(&b->bl, LEDGER_EV_FILLED, r, "");
	return SYNC_STORED;
}

/* One envelope (parsed ahead in p, taken here): key, signature, chain
 * rules, and its rows. */
static void receive_one(rx_batch *b, size_t len, pre *p, sync_verdict *v)
{
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	ht_err err = p->err;
	record *r = p->r;
	sync_result res = SYNC_DUPLICATE;
	p->r = NULL;
	bool held = r != NULL && is_held(b->n, r);
	if (held) /* verified when stored: only its body may be new */
		res = fill_in(b, r);
	else if (admit(b->n, r, p, &res, &err))
		res = append(b, r, &err);
	if (res == SYNC_GAP)
		node_batch_note(&b->bl, LEDGER_EV_GAP, r, "");
	if (res == SYNC_REFUSED && b->rc == 0) {
		log_refusal(b->n, b->peer, len, r, &err);
		node_batch_note(&b->bl, LEDGER_EV_REFUSED, r,
				ht_err_str_private(&err, msg, sizeof(msg)));
	}
	verdict_of(v, r, res);
	if (res == SYNC_STORED)
		node_pending_keep(b->n, &r);
	record_free(&r);
}

/* ---- the batch ---- */

/* After the envelopes: report the forks met, write the rows, commit (or
 * roll back on a storage error). */
static void batch_end(rx_batch *b, size_t count)
{
	node *n = b->n;
	for (size_t i = 0; b->rc == 0 && i < b->bl.n_found; i++)
		if (b->bl.found[i] != NULL)
			b->rc = node_fork_report(n, b->bl.found[i], &b->err);
	if (b->rc == 0)
		b->rc = batch_write(n, b->peer, count, &b->bl, &b->err);
	if (b->rc == 0)
		b->rc = ledger_commit(n->ledger, &b->err);
	else
		ledger_rollback(n->ledger);
	if (b->rc != 0) {
		memset(n->memo, 0, sizeof(n->memo)); /* its rows may be gone */
		log_warn(n->log, "receive failed peer=%s count=%zu error=%s",
			 b->peer, count, LOG_Q(b->err.msg));
	}
}

int node_receive(void *ctx, const char *peer, const uint8_t *const *env,
		 const size_t *len, size_t count, sync_verdict *results)
{
	node *n = ctx;
	rx_batch b = {.n = n, .peer = peer};
	pre *p = calloc(count ? count : 1, sizeof(*p));
	if (p == NULL) {
		log_warn(
		    n->log,
		    "receive failed peer=%s count=%zu error=\"out of memory\"",
		    peer, count);
		return HT_ENOMEM;
	}
	int64_t t0 = util_mono_us();
	pre_batch(n, env, len, count, p);
	int64_t t1 = util_mono_us();
	node_hist_add(&n->counters.verify, t1 - t0);
	b.rc = ledger_begin(n->ledger, &b.err);
	for (size_t i = 0; b.rc == 0 && i < count; i++)
		receive_one(&b, len[i], &p[i], &results[i]);
	batch_end(&b, count);
	if (b.rc == 0)
		node_hist_add(&n->counters.commit, util_mono_us() - t1);
	node_pending_flush(n, b.rc == 0);
	batch_free(&b.bl);
	pre_free(p, count);
	return b.rc;
}
