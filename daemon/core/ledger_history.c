/*
 * ledger_history: what makes the node's local history hard to rewrite
 * unseen. The arrival log and the event log are hash chains, but a chain
 * without a key can be recomputed by anyone who can write the file; so the
 * node commits both heads (last row number and its hash) in its own signed
 * receipts, which travel to every neighbour. This file owns the event
 * chain's hash, the migration that gives a version 1 ledger its event
 * chain, the heads a receipt commits, the checks verify adds (the event
 * chain; for each own receipt, the rows and heads it committed and every
 * record it covers still held) and the comparison with a neighbour's copy
 * of our receipts (verify --against). docs/ledger.md says what an
 * administrator of one node can and cannot hide.
 */
#include "ledger_impl.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEX_BYTES (2 * RECORD_ID_BYTES + 1)

/* ---- the event chain ---- */

/* An event row stays open while its refusal may repeat (ledger_event_bump
 * adds to its count); sealing fixes it: its chain becomes SHA-256(prev
 * chain || n || time_ms || last_ms || seq || count || peer || kind ||
 * origin || reason), integers big-endian, each text after its length.
 * Every open row is sealed, in order, when a receipt commits the log's
 * head, so a receipt covers exactly the sealed prefix and a sealed row is
 * never changed. */

static void put_be64(crypto_hash_sha256_state *st, int64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	crypto_hash_sha256_update(st, b, sizeof(b));
}

/* Length first, so that no two field lists hash alike. */
static void put_text(crypto_hash_sha256_state *st, const char *s)
{
	size_t len = strlen(s);
	uint8_t b[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
			(uint8_t)(len >> 8), (uint8_t)len};
	crypto_hash_sha256_update(st, b, sizeof(b));
	crypto_hash_sha256_update(st, (const uint8_t *)s, len);
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	return s ? s : "";
}

/* The chain of the row st holds (columns as EVENT_COLS) after prev. */
#define EVENT_COLS                                                             \
	"n, time_ms, last_ms, seq, count, peer, kind, origin, reason, chain"
static void event_hash(const uint8_t prev[32], sqlite3_stmt *st,
		       uint8_t out[32])
{
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, prev, 32);
	for (int c = 0; c < 5; c++)
		put_be64(&h, sqlite3_column_int64(st, c));
	for (int c = 5; c < 9; c++)
		put_text(&h, col_text(st, c));
	crypto_hash_sha256_final(&h, out);
}

/* The last sealed row's n and chain (0 and zeros when none). */
static int event_head(ledger *l, int64_t *n, uint8_t chain[32], ht_err *err)
{
	sqlite3_stmt *st = NULL;
	*n = 0;
	memset(chain, 0, 32);
	if (l->schema < 2)
		return 0; /* read-only version 1: nothing sealed yet */
	int rc = ledger_prepare(l, &st,
				"SELECT n, chain FROM event WHERE"
				" chain IS NOT NULL ORDER BY n DESC LIMIT 1",
				err);
	int step = rc == 0 ? sqlite3_step(st) : SQLITE_DONE;
	if (step == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		ledger_copy_blob(chain, 32, st, 1);
	} else if (step != SQLITE_DONE) {
		rc = ledger_db_err(l, step, "read event head", err);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Seal every open row after the last sealed one, in order. */
static int event_seal(ledger *l, ht_err *err)
{
	sqlite3_stmt *st = NULL, *up = NULL;
	int64_t n;
	uint8_t chain[32];
	int rc = event_head(l, &n, chain, err);
	if (rc == 0)
		rc = ledger_prepare(l, &st,
				    "SELECT " EVENT_COLS " FROM event"
				    " WHERE n > ? ORDER BY n",
				    err);
	if (rc == 0)
		rc = ledger_prepare(l, &up,
				    "UPDATE event SET chain = ? WHERE"
				    " n = ?",
				    err);
	if (rc == 0)
		sqlite3_bind_int64(st, 1, n);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		event_hash(chain, st, chain);
		sqlite3_bind_blob(up, 1, chain, 32, SQLITE_STATIC);
		sqlite3_bind_int64(up, 2, sqlite3_column_int64(st, 0));
		rc = ledger_step_done(l, up, "seal event", err);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	return rc;
}

/* ---- migration from version 1 ---- */

/* A version 1 ledger kept its events unprotected: its rows are sealed as
 * they are, once, here (taken on trust, as docs/ledger.md says). */
int ledger_history_migrate(ledger *l, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(l, &st,
				"SELECT value FROM meta WHERE"
				" key = 'schema'",
				err);
	int v = rc == 0 && sqlite3_step(st) == SQLITE_ROW
		    ? sqlite3_column_int(st, 0)
		    : 0;
	sqlite3_finalize(st);
	if (rc != 0 || v != 1)
		return rc;
	l->schema = 2;
	if ((rc = ledger_exec(l,
			      "BEGIN IMMEDIATE; ALTER TABLE event ADD"
			      " COLUMN chain BLOB;",
			      err)) != 0 ||
	    (rc = event_seal(l, err)) != 0 ||
	    (rc = ledger_exec(l,
			      "UPDATE meta SET value = 2 WHERE key ="
			      " 'schema'; COMMIT;",
			      err)) != 0)
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---- the heads a receipt commits ---- */

int ledger_heads_get(ledger *l, ledger_heads *h, ht_err *err)
{
	memset(h, 0, sizeof(*h));
	h->arrival_n = l->last_n;
	if (l->last_n > 0)
		memcpy(h->arrival, l->last_arrival, sizeof(h->arrival));
	int rc = event_head(l, &h->event_n, h->event, err);
	if (rc != 0)
		memset(h, 0, sizeof(*h));
	return rc;
}

int ledger_receipt_heads(ledger *l, ledger_heads *keep, Hutong__Receipt *rc,
			 ht_err *err)
{
	int ret = l->rdonly ? 0 : event_seal(l, err);
	if (ret == 0)
		ret = ledger_heads_get(l, keep, err);
	if (ret != 0)
		return ret;
	if (keep->arrival_n > 0) {
		rc->arrival_n = (uint64_t)keep->arrival_n;
		rc->arrival_head =
		    (ProtobufCBinaryData){RECORD_ID_BYTES, keep->arrival};
	}
	if (keep->event_n > 0) {
		rc->event_n = (uint64_t)keep->event_n;
		rc->event_head =
		    (ProtobufCBinaryData){RECORD_ID_BYTES, keep->event};
	}
	return 0;
}

void ledger_set_self(ledger *l, const char *region)
{
	snprintf(l->self, sizeof(l->self), "%s", region ? region : "");
}

/* ---- problems ---- */

typedef struct hist {
	ledger *l;
	ledger_problem_fn fn;
	void *ctx;
	int problems;
	char self[HT_REGION_LEN + 1];
	sqlite3_stmt *arrival_at, *event_at;
	struct covered { /* the highest seq own receipts claim per origin */
		char origin[HT_REGION_LEN + 1];
		uint64_t seq, by; /* by: the receipt's seq */
	} * cov;
	size_t n_cov, cap_cov;
} hist;

static void hproblem(hist *h, const uint8_t *id, uint64_t seq, const char *fmt,
		     ...) HT_PRINTF(4, 5);

static void hproblem(hist *h, const uint8_t *id, uint64_t seq, const char *fmt,
		     ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	h->problems++;
	if (h->fn)
		h->fn(h->ctx, id, seq ? h->self : "", seq, reason);
}

/* The node's region: as set, else the origin of receipts stored "local". */
static int find_self(ledger *l, char self[HT_REGION_LEN + 1], ht_err *err)
{
	sqlite3_stmt *st = NULL;
	self[0] = '\0';
	if (l->self[0] != '\0') {
		memcpy(self, l->self, HT_REGION_LEN + 1);
		return 0;
	}
	int rc = ledger_prepare(l, &st,
				"SELECT origin FROM record WHERE"
				" source = 'local' AND kind = ? ORDER BY n"
				" LIMIT 1",
				err);
	if (rc != 0)
		return rc;
	sqlite3_bind_int(st, 1, HUTONG__KIND__KIND_RECEIPT);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(self, HT_REGION_LEN + 1, "%s", col_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}

/* The hash of row n of the arrival (or event) log into out; false when
 * the row is not there. */
static bool log_at(sqlite3_stmt *st, int64_t n, uint8_t out[32])
{
	if (st == NULL)
		return false; /* version 1: no event chain */
	sqlite3_bind_int64(st, 1, n);
	bool found =
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32;
	if (found)
		memcpy(out, sqlite3_column_blob(st, 0), 32);
	sqlite3_reset(st);
	return found;
}

static int hist_open(hist *h, ledger *l, ledger_problem_fn fn, void *ctx,
		     ht_err *err)
{
	memset(h, 0, sizeof(*h));
	h->l = l;
	h->fn = fn;
	h->ctx = ctx;
	if (find_self(l, h->self, err) != 0 ||
	    ledger_prepare(l, &h->arrival_at,
			   "SELECT arrival FROM record"
			   " WHERE n = ?",
			   err) != 0)
		return HT_EIO;
	if (l->schema >= 2 && ledger_prepare(l, &h->event_at,
					     "SELECT chain FROM event WHERE"
					     " n = ?",
					     err) != 0)
		return HT_EIO;
	return 0;
}

static void hist_close(hist *h)
{
	sqlite3_finalize(h->arrival_at);
	sqlite3_finalize(h->event_at);
	free(h->cov);
}

/* ---- verify: the event chain ---- */

/* One event row: n follows on; a sealed row chains on from the sealed row
 * before it and comes before every open one. */
static void check_event_row(hist *h, sqlite3_stmt *st, int64_t *prev_n,
			    uint8_t chain[32], int64_t *open_n)
{
	int64_t n = sqlite3_column_int64(st, 0);
	bool sealed = sqlite3_column_type(st, 9) != SQLITE_NULL;
	uint8_t want[32];
	if (n != *prev_n + 1)
		hproblem(h, NULL, 0,
			 "event log gap: n=%lld follows n=%lld "
			 "(rows deleted)",
			 (long long)n, (long long)*prev_n);
	*prev_n = n;
	if (!sealed) {
		if (*open_n == 0)
			*open_n = n;
		return;
	}
	event_hash(chain, st, want);
	if (*open_n != 0)
		hproblem(h, NULL, 0,
			 "event n=%lld is sealed after the open "
			 "row n=%lld (rows reordered or altered)",
			 (long long)n, (long long)*open_n);
	else if (sqlite3_column_bytes(st, 9) != 32 ||
		 memcmp(want, sqlite3_column_blob(st, 9), 32) != 0)
		hproblem(h, NULL, 0,
			 "event n=%lld altered (its time, peer, "
			 "kind, origin, seq, count, reason or order was "
			 "rewritten)",
			 (long long)n);
	ledger_copy_blob(chain, 32, st, 9);
}

static int verify_events(hist *h, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	if (h->l->schema < 2)
		return 0;
	int rc = ledger_prepare(h->l, &st,
				"SELECT " EVENT_COLS " FROM event"
				" ORDER BY n",
				err);
	int64_t prev_n = 0, open_n = 0;
	uint8_t chain[32] = {0};
	int step = SQLITE_DONE;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		check_event_row(h, st, &prev_n, chain, &open_n);
	if (rc == 0 && step != SQLITE_DONE)
		rc = ledger_db_err(h->l, step, "read events", err);
	sqlite3_finalize(st);
	return rc;
}

/* ---- verify: what the node's own receipts committed ---- */

/* Does row n of the log (st) still hash to the head receipt seq committed? */
static void check_head(hist *h, const uint8_t *id, uint64_t seq,
		       const char *what, sqlite3_stmt *st, uint64_t n,
		       const ProtobufCBinaryData *head)
{
	uint8_t got[32];
	char want_hex[HEX_BYTES], got_hex[HEX_BYTES];
	if (n == 0 || head->len != 32)
		return;
	util_hex(head->data, 32, want_hex);
	if (st == NULL) /* a version 1 ledger now: it was 2 when signed */
		hproblem(h, id, seq,
			 "receipt seq %llu says the %s log at n=%llu"
			 " is %s, but this ledger has no %s chain (schema "
			 "version 1: set back)",
			 (unsigned long long)seq, what, (unsigned long long)n,
			 want_hex, what);
	else if (!log_at(st, (int64_t)n, got))
		hproblem(
		    h, id, seq,
		    "receipt seq %llu says the %s log at n=%llu"
		    " is %s, but this ledger has no such row (rows deleted)",
		    (unsigned long long)seq, what, (unsigned long long)n,
		    want_hex);
	else if (memcmp(got, head->data, 32) != 0)
		hproblem(h, id, seq,
			 "receipt seq %llu says the %s log at n=%llu"
			 " is %s, but this ledger has %s (%s log rewritten "
			 "after the receipt was signed)",
			 (unsigned long long)seq, what, (unsigned long long)n,
			 want_hex, util_hex(got, 32, got_hex), what);
}

/* Remember that receipt `by` claims origin up to seq. */
static void note_cover(hist *h, const char *origin, uint64_t seq, uint64_t by)
{
	for (size_t i = 0; i < h->n_cov; i++)
		if (strcmp(h->cov[i].origin, origin) == 0) {
			if (seq > h->cov[i].seq) {
				h->cov[i].seq = seq;
				h->cov[i].by = by;
			}
			return;
		}
	if (h->n_cov == h->cap_cov) {
		size_t cap = h->cap_cov ? 2 * h->cap_cov : 32;
		struct covered *c = realloc(h->cov, cap * sizeof(*c));
		if (c == NULL)
			return; /* out of memory: not checked, not reported */
		h->cov = c;
		h->cap_cov = cap;
	}
	struct covered *c = &h->cov[h->n_cov++];
	snprintf(c->origin, sizeof(c->origin), "%s", origin);
	c->seq = seq;
	c->by = by;
}

static void check_own_receipt(hist *h, const record *r)
{
	const Hutong__Body *b = record_body(r);
	uint64_t seq = record_header(r)->seq;
	if (b == NULL || b->content_case != HUTONG__BODY__CONTENT_RECEIPT)
		return;
	const Hutong__Receipt *rc = b->receipt;
	check_head(h, record_id(r), seq, "arrival", h->arrival_at,
		   rc->arrival_n, &rc->arrival_head);
	check_head(h, record_id(r), seq, "event", h->event_at, rc->event_n,
		   &rc->event_head);
	for (size_t i = 0; i < rc->n_entries; i++)
		note_cover(h, rc->entries[i]->origin, rc->entries[i]->seq, seq);
}

/* Every record an own receipt covered is still held. */
static int check_cover(hist *h, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(h->l, &st,
				"SELECT count(*) FROM record"
				" WHERE origin = ? AND seq <= ?",
				err);
	for (size_t i = 0; rc == 0 && i < h->n_cov; i++) {
		const struct covered *c = &h->cov[i];
		sqlite3_bind_text(st, 1, c->origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)c->seq);
		uint64_t held = sqlite3_step(st) == SQLITE_ROW
				    ? (uint64_t)sqlite3_column_int64(st, 0)
				    : 0;
		sqlite3_reset(st);
		if (held < c->seq)
			hproblem(h, NULL, c->by,
				 "receipt seq %llu says this "
				 "node held origin %s up to seq %llu, but this "
				 "ledger holds %llu of those records (records "
				 "deleted)",
				 (unsigned long long)c->by, c->origin,
				 (unsigned long long)c->seq,
				 (unsigned long long)held);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Call fn for each of origin's receipts in l, in seq order, parsed. */
typedef void (*receipt_fn)(hist *h, const record *r);
static int each_receipt(ledger *l, const char *origin, receipt_fn fn, hist *h,
			ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(l, &st,
				"SELECT envelope FROM record WHERE"
				" origin = ? AND kind = ? ORDER BY seq",
				err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, HUTONG__KIND__KIND_RECEIPT);
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		ht_err perr;
		record *r =
		    record_parse(sqlite3_column_blob(st, 0),
				 (size_t)sqlite3_column_bytes(st, 0), &perr);
		if (r != NULL) /* an invalid one is the walk's to report */
			fn(h, r);
		record_free(&r);
	}
	if (step != SQLITE_DONE)
		rc = ledger_db_err(l, step, "read receipts", err);
	sqlite3_finalize(st);
	return rc;
}

int ledger_history_verify(ledger *l, ledger_problem_fn fn, void *ctx,
			  ht_err *err)
{
	hist h;
	int rc = hist_open(&h, l, fn, ctx, err);
	if (rc == 0)
		rc = verify_events(&h, err);
	if (rc == 0 && h.self[0] != '\0')
		rc = each_receipt(l, h.self, check_own_receipt, &h, err);
	if (rc == 0)
		rc = check_cover(&h, err);
	hist_close(&h);
	return rc == 0 ? h.problems : rc;
}

/* ---- verify --against: a neighbour's copy of our receipts ---- */

typedef struct against {
	hist h;
	const char *peer;
	sqlite3_stmt *id_at;
} against;

/* Does the peer's head for one log agree with our row there? */
static void against_head(against *a, const record *r, const char *what,
			 sqlite3_stmt *st, uint64_t n,
			 const ProtobufCBinaryData *head)
{
	uint8_t got[32];
	char mine[HEX_BYTES], theirs[HEX_BYTES];
	uint64_t seq = record_header(r)->seq;
	if (n == 0 || head->len != 32)
		return;
	bool held = log_at(st, (int64_t)n, got);
	if (held && memcmp(got, head->data, 32) == 0)
		return;
	hproblem(&a->h, record_id(r), seq,
		 "receipt seq %llu: this node's %s log at %llu is %s, but the "
		 "receipt held by %s says %s",
		 (unsigned long long)seq, what, (unsigned long long)n,
		 held ? util_hex(got, 32, mine) : "missing", a->peer,
		 util_hex(head->data, 32, theirs));
}

/* Our id at seq of our own chain into id; false if not held. */
static bool own_id_at(against *a, uint64_t seq, uint8_t id[RECORD_ID_BYTES])
{
	sqlite3_stmt *st = a->id_at;
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	bool found = sqlite3_step(st) == SQLITE_ROW &&
		     sqlite3_column_bytes(st, 0) == RECORD_ID_BYTES;
	if (found)
		memcpy(id, sqlite3_column_blob(st, 0), RECORD_ID_BYTES);
	sqlite3_reset(st);
	return found;
}

/* Is r, the peer's copy, signed by our key at its seq? */
static bool signed_by_us(against *a, const record *r)
{
	uint8_t key[RECORD_PK_BYTES], key_id[RECORD_ID_BYTES];
	ht_err err;
	return ledger_key_at(a->h.l, a->h.self, record_header(r)->seq, key,
			     key_id, &err) == 0 &&
	       record_verify(r, key);
}

static void against_receipt(hist *h, const record *r)
{
	against *a = (against *)h; /* h is a's first member */
	const Hutong__Receipt *rc =
	    record_body(r) ? record_body(r)->receipt : NULL;
	uint64_t seq = record_header(r)->seq;
	uint8_t id[RECORD_ID_BYTES];
	char mine[HEX_BYTES], theirs[HEX_BYTES];
	util_hex(record_id(r), RECORD_ID_BYTES, theirs);
	if (!own_id_at(a, seq, id))
		hproblem(h, record_id(r), seq,
			 "receipt seq %llu: this node "
			 "holds no record at seq %llu, but %s holds receipt "
			 "%s there",
			 (unsigned long long)seq, (unsigned long long)seq,
			 a->peer, theirs);
	else if (memcmp(id, record_id(r), RECORD_ID_BYTES) != 0)
		hproblem(h, record_id(r), seq,
			 "receipt seq %llu: this node "
			 "holds %s, but the receipt held by %s is %s%s",
			 (unsigned long long)seq,
			 util_hex(id, RECORD_ID_BYTES, mine), a->peer, theirs,
			 signed_by_us(a, r) ? ""
					    : " (not signed with this "
					      "node's key)");
	if (rc == NULL || !signed_by_us(a, r))
		return; /* an unsigned claim proves nothing about our logs */
	against_head(a, r, "arrival", h->arrival_at, rc->arrival_n,
		     &rc->arrival_head);
	against_head(a, r, "event", h->event_at, rc->event_n, &rc->event_head);
}

int ledger_history_against(ledger *l, ledger *peer, const char *peer_name,
			   ledger_problem_fn fn, void *ctx, ht_err *err)
{
	against a = {.peer = peer_name};
	int rc = hist_open(&a.h, l, fn, ctx, err);
	if (rc == 0 && a.h.self[0] == '\0')
		rc = ht_err_set(err, HT_ENOTFOUND, "ledger",
				"this node's "
				"region is unknown (no receipt of its own)");
	if (rc == 0)
		rc = ledger_prepare(l, &a.id_at,
				    "SELECT id FROM record WHERE"
				    " origin = ? AND seq = ?",
				    err);
	if (rc == 0) {
		sqlite3_bind_text(a.id_at, 1, a.h.self, -1, SQLITE_TRANSIENT);
		rc = each_receipt(peer, a.h.self, against_receipt, &a.h, err);
	}
	sqlite3_finalize(a.id_at);
	hist_close(&a.h);
	return rc == 0 ? a.h.problems : rc;
}
