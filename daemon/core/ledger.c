/*
 * ledger: SQLite storage of records, the chain rules and the frontier.
 *
 * Schema (version 1):
 *   record(n INTEGER PRIMARY KEY  -- local arrival order
 *          origin, seq, id, kind, created_ms, author,  -- copied from header
 *          envelope,                 -- the exact envelope bytes
 *          stored_ms, source,        -- arrival: when and from where
 *          arrival)                  -- SHA-256(prev arrival || n || id ||
 *                                       stored_ms || source): rewriting an
 *                                       arrival or deleting a row breaks it
 *   fork(...)    the second, conflicting record at a held origin/seq
 *   origin(region PRIMARY KEY, node, seq, head, key, forked)  -- frontier
 *   receipt(origin, node, seq, created_ms, n)  -- one row per receipt entry
 *   event(n, time_ms, last_ms, peer, kind, origin, seq, count, reason)
 *                the link audit log: local facts, not signed, not hashed
 * Audit indexes: record(author) lists one officer's records in arrival
 * order; record(origin, created_ms, kind, author) answers an origin's
 * summary over a time range from the index alone.
 *
 * Rows are appended in arrival order, so the table's b-tree grows at its
 * end; the (origin, seq) index grows at one point per origin. The id index
 * is random by nature; a large page cache keeps its inserts cheap.
 * The frontier lives in memory as a sorted array, loaded at open and
 * reloaded after a rollback, so appends never read it from disk.
 */
#include "ledger.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER_SCHEMA_VERSION 1
#define LEDGER_CACHE_KIB 131072

struct ledger {
	sqlite3 *db;
	const ht_clock *clock;
	bool in_tx;
	bool rdonly;
	ledger_origin *origins; /* sorted by region */
	size_t n_origins, cap_origins;
	uint64_t n_records;
	int64_t last_n;          /* highest arrival number */
	uint8_t last_arrival[32];
	sqlite3_stmt *ins_record, *ins_fork, *upsert_origin, *get_chain,
		*get_id, *get_fork_id, *range, *ins_term, *ins_receipt,
		*max_receipt,
		*ins_event, *bump_event, *ins_key, *key_at;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
	"CREATE TABLE IF NOT EXISTS record("
	" n INTEGER PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER NOT NULL,"
	" id BLOB NOT NULL, kind INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	" author TEXT NOT NULL, envelope BLOB NOT NULL,"
	" stored_ms INTEGER NOT NULL, source TEXT NOT NULL,"
	" arrival BLOB NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS record_chain ON record(origin, seq);"
	"CREATE INDEX IF NOT EXISTS record_idp ON record(substr(id, 1, 8));"
	"CREATE TABLE IF NOT EXISTS fork("
	" n INTEGER PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER NOT NULL,"
	" id BLOB NOT NULL UNIQUE, envelope BLOB NOT NULL,"
	" stored_ms INTEGER NOT NULL, source TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS origin("
	" region TEXT PRIMARY KEY, node TEXT NOT NULL, seq INTEGER NOT NULL,"
	" head BLOB NOT NULL, key BLOB NOT NULL, forked INTEGER NOT NULL,"
	" key_id BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS keyhist("
	" origin TEXT NOT NULL, seq INTEGER NOT NULL, key BLOB NOT NULL,"
	" key_id BLOB NOT NULL, PRIMARY KEY(origin, seq)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS term("
	" term TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(term, n))"
	" WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS receipt("
	" origin TEXT NOT NULL, node TEXT NOT NULL, seq INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL, n INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS receipt_cover ON receipt(origin, node, seq);"
	"CREATE INDEX IF NOT EXISTS record_author ON record(author);"
	"CREATE INDEX IF NOT EXISTS record_origin_time"
	" ON record(origin, created_ms, kind, author);"
	"CREATE TABLE IF NOT EXISTS event("
	" n INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
	" last_ms INTEGER NOT NULL, peer TEXT NOT NULL, kind TEXT NOT NULL,"
	" origin TEXT NOT NULL, seq INTEGER NOT NULL, count INTEGER NOT NULL,"
	" reason TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS event_time ON event(last_ms);"
	"INSERT OR IGNORE INTO meta VALUES('schema', 1);";

/* The errno behind an SQLite I/O failure. sqlite3_system_errno is often 0
 * for a failed write (SQLite 3.40 does not record it there), so ask the
 * unix VFS for the last errno of the WAL file, then of the database file. */
static int db_errno(ledger *l)
{
	if (l == NULL || l->db == NULL)
		return 0;
	int e = sqlite3_system_errno(l->db);
	sqlite3_file *f = NULL;
	if (e == 0 && sqlite3_file_control(l->db, "main",
					   SQLITE_FCNTL_JOURNAL_POINTER,
					   &f) == SQLITE_OK &&
	    f != NULL && f->pMethods != NULL &&
	    f->pMethods->xFileControl(f, SQLITE_FCNTL_LAST_ERRNO, &e) !=
		    SQLITE_OK)
		e = 0;
	if (e == 0 && sqlite3_file_control(l->db, "main",
					   SQLITE_FCNTL_LAST_ERRNO,
					   &e) != SQLITE_OK)
		e = 0;
	return e;
}

/* Map an SQLite failure to an HT code and a message naming the action.
 * The file system refusing to grow the ledger is HT_EFULL: SQLite says
 * SQLITE_FULL for ENOSPC, but a write past RLIMIT_FSIZE (EFBIG) or a quota
 * (EDQUOT) comes back as an I/O error carrying that errno. Disk full and
 * I/O errors say so first, so the CLI's and the log's line reads
 * "ledger: disk full: commit: ..." without knowing SQLite. */
static int db_err(ledger *l, int rc, const char *what, ht_err *err)
{
	const char *msg = l && l->db ? sqlite3_errmsg(l->db)
				     : sqlite3_errstr(rc);
	int e = (rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR
			? db_errno(l) : 0;
	if ((rc & 0xff) == SQLITE_FULL || e == ENOSPC || e == EFBIG ||
	    e == EDQUOT)
		return ht_err_set(err, HT_EFULL, "ledger",
				  "disk full: %s: %s (%s)", what, msg,
				  e != 0 ? strerror(e) : "no space left");
	if ((rc & 0xff) == SQLITE_IOERR)
		return ht_err_set(err, HT_EIO, "ledger",
				  "I/O error: %s: %s (%s)", what, msg,
				  e != 0 ? strerror(e) : "unknown cause");
	int code = HT_EIO;
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		code = HT_ECORRUPT;
	return ht_err_set(err, code, "ledger", "%s: %s", what, msg);
}

static int exec(ledger *l, const char *sql, ht_err *err)
{
	int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_err(l, rc, sql, err);
}

static int prepare(ledger *l, sqlite3_stmt **st, const char *sql, ht_err *err)
{
	int rc = sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				    st, NULL);
	return rc == SQLITE_OK ? 0 : db_err(l, rc, "prepare", err);
}

static int prepare_all(ledger *l, ht_err *err)
{
	if (prepare(l, &l->ins_record,
		    "INSERT INTO record(n, origin, seq, id, kind, created_ms,"
		    " author, envelope, stored_ms, source, arrival)"
		    " VALUES(?,?,?,?,?,?,?,?,?,?,?)", err) ||
	    prepare(l, &l->ins_fork,
		    "INSERT OR IGNORE INTO fork(origin, seq, id, envelope,"
		    " stored_ms, source) VALUES(?,?,?,?,?,?)", err) ||
	    prepare(l, &l->upsert_origin,
		    "INSERT OR REPLACE INTO origin VALUES(?,?,?,?,?,?,?)", err) ||
	    prepare(l, &l->get_chain,
		    "SELECT envelope, stored_ms, source, n FROM record"
		    " WHERE origin = ? AND seq = ?", err) ||
	    prepare(l, &l->get_id,
		    "SELECT envelope, stored_ms, source, n FROM record"
		    " WHERE substr(id, 1, 8) = substr(?1, 1, 8) AND id = ?1",
		    err) ||
	    prepare(l, &l->get_fork_id,
		    "SELECT envelope, stored_ms, source, n FROM fork"
		    " WHERE id = ?", err) ||
	    prepare(l, &l->range,
		    "SELECT envelope, seq FROM record WHERE origin = ? AND"
		    " seq >= ? ORDER BY seq LIMIT ?", err) ||
	    prepare(l, &l->ins_term, "INSERT OR IGNORE INTO term VALUES(?,?)",
		    err) ||
	    prepare(l, &l->ins_receipt,
		    "INSERT INTO receipt VALUES(?,?,?,?,?)", err) ||
	    prepare(l, &l->max_receipt, "SELECT max(seq) FROM receipt WHERE"
		    " origin = ? AND node = ?", err) ||
	    prepare(l, &l->ins_key,
		    "INSERT OR REPLACE INTO keyhist VALUES(?,?,?,?)", err) ||
	    prepare(l, &l->key_at,
		    "SELECT key, key_id FROM keyhist WHERE origin = ? AND"
		    " seq < ? ORDER BY seq DESC LIMIT 1", err) ||
	    (!l->rdonly &&
	     (prepare(l, &l->ins_event,
		      "INSERT INTO event(time_ms, last_ms, peer, kind, origin,"
		      " seq, count, reason) VALUES(?,?,?,?,?,?,?,?)", err) ||
	      prepare(l, &l->bump_event, "UPDATE event SET count = count + ?,"
		      " last_ms = max(last_ms, ?) WHERE n = ?", err))))
		return HT_EIO;
	return 0;
}

/* ---- the in-memory frontier ---- */

/* Index of region in the sorted array, or where it would go (as ~pos). */
static long origin_pos(const ledger *l, const char *region)
{
	size_t lo = 0, hi = l->n_origins;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->origins[mid].region, region);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return ~(long)lo;
}

static ledger_origin *origin_insert(ledger *l, const char *region)
{
	long pos = origin_pos(l, region);
	if (pos >= 0)
		return &l->origins[pos];
	size_t at = (size_t)~pos;
	if (l->n_origins == l->cap_origins) {
		size_t cap = l->cap_origins ? l->cap_origins * 2 : 64;
		ledger_origin *o = realloc(l->origins, cap * sizeof(*o));
		if (o == NULL)
			return NULL;
		l->origins = o;
		l->cap_origins = cap;
	}
	memmove(&l->origins[at + 1], &l->origins[at],
		(l->n_origins - at) * sizeof(*l->origins));
	l->n_origins++;
	memset(&l->origins[at], 0, sizeof(*l->origins));
	snprintf(l->origins[at].region, sizeof(l->origins[at].region), "%s",
		 region);
	return &l->origins[at];
}

static void copy_blob(uint8_t *dst, size_t len, sqlite3_stmt *st, int col)
{
	memset(dst, 0, len);
	if (sqlite3_column_bytes(st, col) == (int)len)
		memcpy(dst, sqlite3_column_blob(st, col), len);
}

/* Load frontier, count and the arrival chain's tail from the tables. */
static int load_state(ledger *l, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	l->n_origins = 0;
	int rc = prepare(l, &st, "SELECT region, node, seq, head, key, forked,"
			 " key_id FROM origin ORDER BY region", err);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		ledger_origin *o = origin_insert(
			l, (const char *)sqlite3_column_text(st, 0));
		if (o == NULL) {
			rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
			break;
		}
		snprintf(o->node, sizeof(o->node), "%s",
			 (const char *)sqlite3_column_text(st, 1));
		o->seq = (uint64_t)sqlite3_column_int64(st, 2);
		copy_blob(o->head, sizeof(o->head), st, 3);
		copy_blob(o->key, sizeof(o->key), st, 4);
		o->forked = sqlite3_column_int(st, 5) != 0;
		copy_blob(o->key_id, sizeof(o->key_id), st, 6);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == 0)
		rc = prepare(l, &st, "SELECT count(*), (SELECT n FROM record"
			     " ORDER BY n DESC LIMIT 1), (SELECT arrival FROM"
			     " record ORDER BY n DESC LIMIT 1) FROM record",
			     err);
	if (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		l->n_records = (uint64_t)sqlite3_column_int64(st, 0);
		l->last_n = sqlite3_column_int64(st, 1);
		copy_blob(l->last_arrival, sizeof(l->last_arrival), st, 2);
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- open and close ---- */

static int configure(ledger *l, ht_err *err)
{
	char sql[128];
	sqlite3_busy_timeout(l->db, 5000);
	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d;", LEDGER_CACHE_KIB);
	if (exec(l, sql, err) != 0)
		return HT_EIO;
	if (l->rdonly)
		return exec(l, "PRAGMA query_only=1;", err);
	/* FULL: a commit is on disk before we report a record as stored;
	 * WAL with NORMAL may lose the last commits on power loss.
	 * wal_autocheckpoint: a checkpoint copies every page changed since
	 * the last one, and the id index takes random inserts; with the
	 * default 1000-page WAL its pages were copied again every few
	 * batches (6x write amplification at 100k records). A 10000-page
	 * (40 MB) WAL copies each far less often. */
	if (exec(l, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		 " PRAGMA foreign_keys=OFF; PRAGMA wal_autocheckpoint=10000;",
		 err) != 0)
		return HT_EIO;
	return exec(l, schema, err);
}

static int check_schema(ledger *l, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, "SELECT value FROM meta WHERE key='schema'",
			 err);
	if (rc != 0)
		return ht_err_set(err, HT_ECORRUPT, "ledger",
				  "not a hutong ledger (%s)", err->msg);
	int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (v != LEDGER_SCHEMA_VERSION)
		return ht_err_set(err, HT_ECORRUPT, "ledger",
				  "schema version %d, this hutong reads %d", v,
				  LEDGER_SCHEMA_VERSION);
	return 0;
}

ledger *ledger_open(const char *path, int mode, const ht_clock *clock,
		    ht_err *err)
{
	ledger *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		return NULL;
	}
	l->clock = clock ? clock : util_clock_system();
	l->rdonly = mode == LEDGER_RDONLY;
	int flags = l->rdonly ? SQLITE_OPEN_READWRITE
			      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int rc = sqlite3_open_v2(path, &l->db, flags | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		ht_err_set(err, rc == SQLITE_CANTOPEN ? HT_ENOTFOUND : HT_EIO,
			   "ledger", "%s: %s", path, sqlite3_errstr(rc));
		goto fail;
	}
	if (configure(l, err) != 0 || check_schema(l, err) != 0 ||
	    prepare_all(l, err) != 0 || load_state(l, err) != 0)
		goto fail;
	return l;
fail:
	ledger_close(&l);
	return NULL;
}

void ledger_close(ledger **lp)
{
	if (lp == NULL || *lp == NULL)
		return;
	ledger *l = *lp;
	if (l->in_tx)
		ledger_rollback(l);
	sqlite3_stmt *all[] = {l->ins_record, l->ins_fork, l->upsert_origin,
			       l->get_chain, l->get_id, l->get_fork_id,
			       l->range, l->ins_term, l->ins_receipt,
			       l->max_receipt,
			       l->ins_event, l->bump_event, l->ins_key,
			       l->key_at};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(l->db);
	free(l->origins);
	free(l);
	*lp = NULL;
}

/* ---- transactions ---- */

int ledger_begin(ledger *l, ht_err *err)
{
	if (l->in_tx)
		return ht_err_set(err, HT_ESTATE, "ledger",
				  "transaction already open");
	int rc = exec(l, "BEGIN IMMEDIATE", err);
	if (rc != 0)
		return rc;
	l->in_tx = true;
	return 0;
}

int ledger_commit(ledger *l, ht_err *err)
{
	if (!l->in_tx)
		return ht_err_set(err, HT_ESTATE, "ledger", "no transaction");
	int rc = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int code = db_err(l, rc, "commit", err);
		ledger_rollback(l);
		return code;
	}
	l->in_tx = false;
	return 0;
}

void ledger_rollback(ledger *l)
{
	sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	l->in_tx = false;
	load_state(l, NULL); /* the frontier as the disk has it */
}

int ledger_read_begin(ledger *l, ht_err *err)
{
	if (l->in_tx)
		return ht_err_set(err, HT_ESTATE, "ledger",
				  "transaction already open");
	int rc = exec(l, "BEGIN", err);
	if (rc != 0)
		return rc;
	l->in_tx = true;
	return 0;
}

void ledger_read_end(ledger *l)
{
	sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
	l->in_tx = false;
}

/* ---- append ---- */

static void arrival_hash(const uint8_t prev[32], int64_t n, const uint8_t *id,
			 int64_t stored_ms, const char *source, uint8_t out[32])
{
	crypto_hash_sha256_state st;
	uint8_t num[16];
	for (int i = 0; i < 8; i++) {
		num[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		num[8 + i] = (uint8_t)((uint64_t)stored_ms >> (56 - 8 * i));
	}
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, prev, 32);
	crypto_hash_sha256_update(&st, num, 8);
	crypto_hash_sha256_update(&st, id, RECORD_ID_BYTES);
	crypto_hash_sha256_update(&st, num + 8, 8);
	crypto_hash_sha256_update(&st, (const uint8_t *)source, strlen(source));
	crypto_hash_sha256_final(&st, out);
}

static int step_done(ledger *l, sqlite3_stmt *st, const char *what,
		     ht_err *err)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : db_err(l, rc, what, err);
}

static int save_origin(ledger *l, const ledger_origin *o, ht_err *err)
{
	sqlite3_stmt *st = l->upsert_origin;
	sqlite3_bind_text(st, 1, o->region, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)o->seq);
	sqlite3_bind_blob(st, 4, o->head, RECORD_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, o->key, RECORD_PK_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, o->forked);
	sqlite3_bind_blob(st, 7, o->key_id, RECORD_ID_BYTES, SQLITE_STATIC);
	return step_done(l, st, "save origin", err);
}

typedef struct term_ctx {
	ledger *l;
	int64_t n;
	int rc;
	ht_err *err;
} term_ctx;

static void insert_term(void *ctx, const char *term)
{
	term_ctx *t = ctx;
	if (t->rc != 0)
		return;
	sqlite3_bind_text(t->l->ins_term, 1, term, -1, SQLITE_STATIC);
	sqlite3_bind_int64(t->l->ins_term, 2, t->n);
	t->rc = step_done(t->l, t->l->ins_term, "insert term", t->err);
}

/* The highest seq the node's indexed receipts gave origin (0: none). */
static uint64_t indexed_seq(ledger *l, const char *origin, const char *node)
{
	sqlite3_stmt *st = l->max_receipt;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
	uint64_t seq = sqlite3_step(st) == SQLITE_ROW
			       ? (uint64_t)sqlite3_column_int64(st, 0)
			       : 0;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return seq;
}

/* A receipt says its node held each origin up to seq at created_ms. Only
 * entries that go beyond the node's earlier receipts are indexed: an
 * earlier receipt already covers everything the others cover, earlier, so
 * the index stays one row per change, not one per origin per receipt. */
static int index_receipt(ledger *l, const record *r, int64_t n, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	const Hutong__Receipt *rc = record_body(r)->receipt;
	int ret = 0;
	for (size_t i = 0; ret == 0 && i < rc->n_entries; i++) {
		sqlite3_stmt *st = l->ins_receipt;
		if (rc->entries[i]->seq <= indexed_seq(l, rc->entries[i]->origin,
						       h->origin_region))
			continue;
		sqlite3_bind_text(st, 1, rc->entries[i]->origin, -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(st, 2, h->origin_region, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)rc->entries[i]->seq);
		sqlite3_bind_int64(st, 4, h->created_ms);
		sqlite3_bind_int64(st, 5, n);
		ret = step_done(l, st, "insert receipt", err);
	}
	return ret;
}

/* The lookups views and audit need: terms, and receipt coverage. */
static int index_record(ledger *l, const record *r, int64_t n, ht_err *err)
{
	const Hutong__Body *b = record_body(r);
	if (b != NULL && b->content_case == HUTONG__BODY__CONTENT_RECEIPT)
		return index_receipt(l, r, n, err);
	term_ctx t = {l, n, 0, err};
	record_terms(r, insert_term, &t);
	return t.rc;
}

static int insert_record(ledger *l, const record *r, const char *source,
			 ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	size_t len;
	const uint8_t *env = record_bytes(r, &len);
	int64_t n = l->last_n + 1, now = l->clock->now_ms(l->clock->ctx);
	uint8_t arrival[32];
	arrival_hash(l->last_arrival, n, record_id(r), now, source, arrival);
	sqlite3_stmt *st = l->ins_record;
	sqlite3_bind_int64(st, 1, n);
	sqlite3_bind_text(st, 2, h->origin_region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)h->seq);
	sqlite3_bind_blob(st, 4, record_id(r), RECORD_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, h->kind);
	sqlite3_bind_int64(st, 6, h->created_ms);
	sqlite3_bind_text(st, 7, h->author, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, env, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, now);
	sqlite3_bind_text(st, 10, source, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 11, arrival, sizeof(arrival), SQLITE_STATIC);
	int rc = step_done(l, st, "insert record", err);
	if (rc == 0)
		rc = index_record(l, r, n, err);
	if (rc == 0) {
		l->last_n = n;
		memcpy(l->last_arrival, arrival, sizeof(arrival));
		l->n_records++;
	}
	return rc;
}

/* Read the id of the chain record at origin/seq into id. */
static int chain_id_at(ledger *l, const char *region, uint64_t seq,
		       uint8_t id[RECORD_ID_BYTES], ht_err *err)
{
	record *held = NULL;
	int rc = ledger_get_seq(l, region, seq, &held, NULL, err);
	if (rc == 0)
		memcpy(id, record_id(held), RECORD_ID_BYTES);
	record_free(&held);
	return rc;
}

/* A record at a seq we hold: the same one again, or a fork. */
static int append_held(ledger *l, ledger_origin *o, const record *r,
		       const char *source, ledger_outcome *out, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	uint8_t id[RECORD_ID_BYTES];
	int rc = h->seq == o->seq ? (memcpy(id, o->head, sizeof(id)), 0)
				  : chain_id_at(l, o->region, h->seq, id, err);
	if (rc != 0)
		return rc;
	if (memcmp(id, record_id(r), RECORD_ID_BYTES) == 0) {
		*out = LEDGER_DUPLICATE;
		return 0;
	}
	size_t len;
	const uint8_t *env = record_bytes(r, &len);
	sqlite3_stmt *st = l->ins_fork;
	sqlite3_bind_text(st, 1, h->origin_region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)h->seq);
	sqlite3_bind_blob(st, 3, record_id(r), RECORD_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, env, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, l->clock->now_ms(l->clock->ctx));
	sqlite3_bind_text(st, 6, source, -1, SQLITE_STATIC);
	if ((rc = step_done(l, st, "insert fork", err)) != 0)
		return rc;
	if (sqlite3_changes(l->db) == 0) {
		/* evidence already held (an operator may have resolved it) */
		*out = LEDGER_DUPLICATE;
		return 0;
	}
	*out = LEDGER_FORK;
	o->forked = true;
	return save_origin(l, o, err);
}

/* A rotation record (already verified with the old key) installs the new
 * key for the records after it. True if r is a genesis or rotation. */
static int save_key(ledger *l, const ledger_origin *o, uint64_t seq,
		    ht_err *err);

static bool install_key(ledger_origin *o, const record *r)
{
	const uint8_t *pk;
	const ProtobufCBinaryData *certs;
	size_t n;
	if (!record_key_change(r, &pk, &certs, &n))
		return false;
	memcpy(o->key, pk, RECORD_PK_BYTES);
	memcpy(o->key_id, record_id(r), RECORD_ID_BYTES);
	return true;
}

/* seq 1 of a new origin: the genesis names the chain's key. */
static int append_genesis(ledger *l, const record *r, const char *source,
			  ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	const Hutong__Body *b = record_body(r);
	if (b == NULL || b->content_case != HUTONG__BODY__CONTENT_GENESIS)
		return ht_err_set(err, HT_EINVAL, "body",
				  "genesis record without its body");
	int rc = insert_record(l, r, source, err);
	if (rc != 0)
		return rc;
	ledger_origin *o = origin_insert(l, h->origin_region);
	if (o == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	snprintf(o->node, sizeof(o->node), "%s", h->origin_node);
	o->seq = 1;
	memcpy(o->head, record_id(r), RECORD_ID_BYTES);
	memcpy(o->key, b->genesis->public_key.data, RECORD_PK_BYTES);
	memcpy(o->key_id, record_id(r), RECORD_ID_BYTES);
	if ((rc = save_key(l, o, 1, err)) != 0)
		return rc;
	return save_origin(l, o, err);
}

/* Remember from which seq a key signs: fork evidence and old duplicates
 * are judged by the key in force at their seq (ledger_key_at). */
static int save_key(ledger *l, const ledger_origin *o, uint64_t seq,
		    ht_err *err)
{
	sqlite3_stmt *st = l->ins_key;
	sqlite3_bind_text(st, 1, o->region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	sqlite3_bind_blob(st, 3, o->key, RECORD_PK_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, o->key_id, RECORD_ID_BYTES, SQLITE_STATIC);
	return step_done(l, st, "save key", err);
}

int ledger_key_at(ledger *l, const char *region, uint64_t seq,
		  uint8_t key[RECORD_PK_BYTES], uint8_t key_id[RECORD_ID_BYTES],
		  ht_err *err)
{
	sqlite3_stmt *st = l->key_at;
	sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW && sqlite3_column_bytes(st, 0) == RECORD_PK_BYTES &&
	    sqlite3_column_bytes(st, 1) == RECORD_ID_BYTES) {
		memcpy(key, sqlite3_column_blob(st, 0), RECORD_PK_BYTES);
		memcpy(key_id, sqlite3_column_blob(st, 1), RECORD_ID_BYTES);
	} else if (step == SQLITE_ROW || step == SQLITE_DONE) {
		rc = ht_err_set(err, HT_ENOTFOUND, "seq", "no key of origin %s "
				"below seq %llu", region,
				(unsigned long long)seq);
	} else {
		rc = db_err(l, step, "read key history", err);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static int append_next(ledger *l, ledger_origin *o, const record *r,
		       const char *source, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	if (memcmp(h->prev_id.data, o->head, RECORD_ID_BYTES) != 0)
		return ht_err_set(err, HT_EINVAL, "header.prev_id",
				  "does not link to the held record at seq %llu",
				  (unsigned long long)o->seq);
	if (strcmp(h->origin_node, o->node) != 0)
		return ht_err_set(err, HT_EINVAL, "header.origin_node",
				  "'%s' but origin %s is node '%s'",
				  h->origin_node, o->region, o->node);
	int rc = insert_record(l, r, source, err);
	if (rc != 0)
		return rc;
	o->seq = h->seq;
	memcpy(o->head, record_id(r), RECORD_ID_BYTES);
	if (install_key(o, r) && (rc = save_key(l, o, h->seq, err)) != 0)
		return rc;
	return save_origin(l, o, err);
}

static int append_rules(ledger *l, const record *r, const char *source,
			ledger_outcome *out, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	long pos = origin_pos(l, h->origin_region);
	ledger_origin *o = pos >= 0 ? &l->origins[pos] : NULL;
	*out = LEDGER_APPENDED;
	if (o != NULL && h->seq <= o->seq)
		return append_held(l, o, r, source, out, err);
	uint64_t head = o ? o->seq : 0;
	if (h->seq > head + 1)
		return ht_err_set(err, HT_EGAP, "header.seq",
				  "%llu is ahead of origin %s's head %llu",
				  (unsigned long long)h->seq, h->origin_region,
				  (unsigned long long)head);
	return o ? append_next(l, o, r, source, err)
		 : append_genesis(l, r, source, err);
}

int ledger_append(ledger *l, const record *r, const char *source,
		  ledger_outcome *out, ht_err *err)
{
	if (l->rdonly)
		return ht_err_set(err, HT_ESTATE, "ledger", "opened read-only");
	bool own_tx = !l->in_tx;
	if (own_tx && ledger_begin(l, err) != 0)
		return HT_EIO;
	int rc = append_rules(l, r, source, out, err);
	if (own_tx) {
		if (rc == 0)
			return ledger_commit(l, err);
		ledger_rollback(l);
	}
	/* Inside the caller's transaction a storage failure is the caller's
	 * to roll back (node_submit and node_receive do). */
	return rc;
}

/* ---- reading ---- */

size_t ledger_origin_count(const ledger *l)
{
	return l->n_origins;
}

const ledger_origin *ledger_origin_at(const ledger *l, size_t i)
{
	return i < l->n_origins ? &l->origins[i] : NULL;
}

const ledger_origin *ledger_origin_find(const ledger *l, const char *region)
{
	long pos = origin_pos(l, region);
	return pos >= 0 ? &l->origins[pos] : NULL;
}

uint64_t ledger_record_count(const ledger *l)
{
	return l->n_records;
}

void ledger_digest(const ledger *l, uint8_t out[RECORD_ID_BYTES])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < l->n_origins; i++) {
		const ledger_origin *o = &l->origins[i];
		uint8_t seq[8];
		for (int k = 0; k < 8; k++)
			seq[k] = (uint8_t)(o->seq >> (56 - 8 * k));
		crypto_hash_sha256_update(&st, (const uint8_t *)o->region,
					  HT_REGION_LEN);
		crypto_hash_sha256_update(&st, seq, sizeof(seq));
		crypto_hash_sha256_update(&st, o->head, RECORD_ID_BYTES);
	}
	crypto_hash_sha256_final(&st, out);
}

/* Turn the current row (envelope, stored_ms, source, n) into a record. */
static int row_record(sqlite3_stmt *st, record **out, ledger_meta *meta,
		      ht_err *err)
{
	const uint8_t *env = sqlite3_column_blob(st, 0);
	int len = sqlite3_column_bytes(st, 0);
	record *r = record_parse(env, (size_t)len, err);
	if (r == NULL)
		return HT_ECORRUPT;
	if (meta != NULL) {
		meta->stored_ms = sqlite3_column_int64(st, 1);
		snprintf(meta->source, sizeof(meta->source), "%s",
			 (const char *)sqlite3_column_text(st, 2));
		meta->n = sqlite3_column_int64(st, 3);
		meta->fork = false;
	}
	*out = r;
	return 0;
}

static int get_one(ledger *l, sqlite3_stmt *st, record **out,
		   ledger_meta *meta, ht_err *err)
{
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_ROW    ? row_record(st, out, meta, err)
		  : rc == SQLITE_DONE ? HT_ENOTFOUND
				      : db_err(l, rc, "read record", err);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int ledger_get(ledger *l, const uint8_t id[RECORD_ID_BYTES], record **out,
	       ledger_meta *meta, ht_err *err)
{
	sqlite3_bind_blob(l->get_id, 1, id, RECORD_ID_BYTES, SQLITE_STATIC);
	int rc = get_one(l, l->get_id, out, meta, err);
	if (rc != HT_ENOTFOUND)
		return rc;
	sqlite3_bind_blob(l->get_fork_id, 1, id, RECORD_ID_BYTES, SQLITE_STATIC);
	rc = get_one(l, l->get_fork_id, out, meta, err);
	if (rc == 0 && meta != NULL)
		meta->fork = true;
	if (rc == HT_ENOTFOUND) {
		char hex[2 * RECORD_ID_BYTES + 1];
		ht_err_set(err, rc, "id", "no record %s",
			   util_hex(id, RECORD_ID_BYTES, hex));
	}
	return rc;
}

int ledger_get_seq(ledger *l, const char *region, uint64_t seq, record **out,
		   ledger_meta *meta, ht_err *err)
{
	sqlite3_bind_text(l->get_chain, 1, region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(l->get_chain, 2, (sqlite3_int64)seq);
	int rc = get_one(l, l->get_chain, out, meta, err);
	if (rc == HT_ENOTFOUND)
		ht_err_set(err, rc, "seq", "origin %s has no seq %llu", region,
			   (unsigned long long)seq);
	return rc;
}

/* Run st (columns envelope, stored_ms, source, n) calling fn per row. */
static int each_row(ledger *l, sqlite3_stmt *st, ledger_each_fn fn,
		    void *ctx, ht_err *err)
{
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		record *r = NULL;
		ledger_meta meta;
		ret = row_record(st, &r, &meta, err);
		if (ret == 0)
			ret = fn(ctx, r, &meta);
		record_free(&r);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = db_err(l, rc, "read records", err);
	return ret;
}

int ledger_range(ledger *l, const char *origin, uint64_t from, size_t max_n,
		 size_t max_bytes, ledger_raw_fn fn, void *ctx, ht_err *err)
{
	sqlite3_stmt *st = l->range;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max_n);
	int rc, count = 0;
	size_t bytes = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		if (count > 0 && bytes + len > max_bytes)
			break;
		bytes += len;
		if (fn(ctx, sqlite3_column_blob(st, 0), len,
		       (uint64_t)sqlite3_column_int64(st, 1)) != 0) {
			count++;
			break;
		}
		count++;
	}
	int ret = rc == SQLITE_ROW || rc == SQLITE_DONE
			  ? count
			  : db_err(l, rc, "read range", err);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int ledger_each_term(ledger *l, const char *term, ledger_each_fn fn,
		     void *ctx, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, "SELECT r.envelope, r.stored_ms, r.source, r.n"
			 " FROM term t JOIN record r ON r.n = t.n"
			 " WHERE t.term = ? ORDER BY t.n", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, term, -1, SQLITE_TRANSIENT);
	rc = each_row(l, st, fn, ctx, err);
	sqlite3_finalize(st);
	return rc;
}

int ledger_each_term_name(ledger *l, const char *prefix, ledger_term_fn fn,
			  void *ctx, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	char hi[RECORD_MAX_TERM + 2];
	snprintf(hi, sizeof(hi), "%s\xff", prefix);
	int rc = prepare(l, &st, "SELECT DISTINCT term FROM term WHERE"
			 " term >= ? AND term < ? ORDER BY term", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, hi, -1, SQLITE_TRANSIENT);
	int step, ret = 0;
	while (ret == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn(ctx, (const char *)sqlite3_column_text(st, 0));
	if (ret == 0 && step != SQLITE_DONE)
		ret = db_err(l, step, "read terms", err);
	sqlite3_finalize(st);
	return ret;
}

int ledger_receipts(ledger *l, const char *origin, uint64_t seq,
		    ledger_receipt_fn fn, void *ctx, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	/* Receipts of one node cover ever higher seqs, so the first with
	 * seq >= the record's is its earliest covering receipt. Every node
	 * that signs receipts is an origin, so one index seek per origin
	 * finds them (a DISTINCT over the receipts would read them all). */
	int rc = prepare(l, &st,
			 "SELECT d.region, (SELECT created_ms FROM receipt r"
			 " WHERE r.origin = ?1 AND r.node = d.region AND"
			 " r.seq >= ?2 ORDER BY r.seq LIMIT 1) AS t"
			 " FROM origin d WHERE t IS NOT NULL"
			 " ORDER BY d.region", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	int step, ret = 0;
	while (ret == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn(ctx, (const char *)sqlite3_column_text(st, 0),
			 sqlite3_column_int64(st, 1));
	if (ret == 0 && step != SQLITE_DONE)
		ret = db_err(l, step, "read receipts", err);
	sqlite3_finalize(st);
	return ret;
}

int ledger_each(ledger *l, const ledger_filter *f, ledger_each_fn fn,
		void *ctx, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st,
			 "SELECT envelope, stored_ms, source, n FROM record"
			 " WHERE (?1 = 0 OR kind = ?1) AND (?2 IS NULL OR"
			 " origin = ?2) AND (?3 IS NULL OR author = ?3) AND"
			 " (?4 = 0 OR created_ms >= ?4) AND (?5 = 0 OR"
			 " created_ms < ?5) ORDER BY n LIMIT ?6", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_int(st, 1, f ? f->kind : 0);
	if (f && f->origin)
		sqlite3_bind_text(st, 2, f->origin, -1, SQLITE_STATIC);
	if (f && f->author)
		sqlite3_bind_text(st, 3, f->author, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, f ? f->since_ms : 0);
	sqlite3_bind_int64(st, 5, f ? f->until_ms : 0);
	sqlite3_bind_int64(st, 6, f && f->limit > 0 ? f->limit : -1);
	rc = each_row(l, st, fn, ctx, err);
	sqlite3_finalize(st);
	return rc;
}

int ledger_each_fork(ledger *l, ledger_each_fn fn, void *ctx, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, "SELECT envelope, stored_ms, source, n FROM"
			 " fork ORDER BY n", err);
	if (rc == 0)
		rc = each_row(l, st, fn, ctx, err);
	sqlite3_finalize(st);
	return rc;
}

/* ---- forks: the operator's decision ---- */

/* The seq of origin's chain record id, or HT_ENOTFOUND. */
static int chain_seq_of(ledger *l, const char *origin,
			const uint8_t id[RECORD_ID_BYTES], uint64_t *seq,
			ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, "SELECT seq FROM record WHERE substr(id, 1, 8)"
			 " = substr(?1, 1, 8) AND id = ?1 AND origin = ?2",
			 err);
	if (rc != 0)
		return rc;
	sqlite3_bind_blob(st, 1, id, RECORD_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, origin, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
	rc = step == SQLITE_ROW    ? 0
	     : step == SQLITE_DONE ? HT_ENOTFOUND
				   : db_err(l, step, "read record", err);
	sqlite3_finalize(st);
	return rc;
}

/* Count rows of sql (one ?1 text, one ?2 int64 or blob parameter). */
static int count_rows(ledger *l, const char *sql, const char *a,
		      const void *blob, int64_t b, int64_t *count, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, sql, err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (blob != NULL)
		sqlite3_bind_blob(st, 2, blob, RECORD_ID_BYTES, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, b);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	else
		rc = db_err(l, step, "count", err);
	sqlite3_finalize(st);
	return rc;
}

/* Is keep a chain record of o at a seq with fork evidence? */
static int check_keep(ledger *l, const ledger_origin *o,
		      const uint8_t keep[RECORD_ID_BYTES], uint64_t *seq,
		      ht_err *err)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	int64_t n = 0;
	util_hex(keep, RECORD_ID_BYTES, hex);
	int rc = chain_seq_of(l, o->region, keep, seq, err);
	if (rc == HT_ENOTFOUND) {
		if (count_rows(l, "SELECT count(*) FROM fork WHERE origin = ?1"
			       " AND id = ?2", o->region, keep, 0, &n, err))
			return HT_EIO;
		if (n > 0)
			return ht_err_set(err, HT_EINVAL, "keep", "%s is the "
					  "fork evidence, not this node's chain"
					  " record; the chain is never "
					  "rewritten: keep the chain record "
					  "(see 'hutong audit forks')", hex);
		return ht_err_set(err, HT_ENOTFOUND, "keep", "no record %s of "
				  "origin %s", hex, o->region);
	}
	if (rc != 0)
		return rc;
	if (count_rows(l, "SELECT count(*) FROM fork WHERE origin = ?1 AND"
		       " seq = ?2", o->region, NULL, (int64_t)*seq, &n, err))
		return HT_EIO;
	if (n == 0)
		return ht_err_set(err, HT_EINVAL, "keep", "%s (seq %llu) is not"
				  " at a forked seq of origin %s", hex,
				  (unsigned long long)*seq, o->region);
	return 0;
}

int ledger_fork_resolve(ledger *l, const char *origin,
			const uint8_t keep[RECORD_ID_BYTES], ht_err *err)
{
	char hex[2 * RECORD_ID_BYTES + 1], reason[128];
	uint64_t seq = 0;
	if (l->rdonly)
		return ht_err_set(err, HT_ESTATE, "ledger", "opened read-only");
	long pos = origin_pos(l, origin);
	if (pos < 0)
		return ht_err_set(err, HT_ENOTFOUND, "origin", "origin %s is "
				  "not in this ledger", origin);
	ledger_origin *o = &l->origins[pos];
	if (!o->forked)
		return ht_err_set(err, HT_ESTATE, "origin", "origin %s is not "
				  "flagged forked", origin);
	int rc = check_keep(l, o, keep, &seq, err);
	if (rc != 0)
		return rc;
	bool own_tx = !l->in_tx;
	if (own_tx && ledger_begin(l, err) != 0)
		return HT_EIO;
	o->forked = false;
	snprintf(reason, sizeof(reason), "kept %s",
		 util_hex(keep, RECORD_ID_BYTES, hex));
	ledger_event ev = {.peer = "operator", .kind = LEDGER_EV_RESOLVE,
			   .origin = origin, .seq = seq, .count = 1,
			   .reason = reason};
	rc = save_origin(l, o, err);
	if (rc == 0)
		rc = ledger_log_event(l, &ev, NULL, err);
	if (own_tx)
		rc = rc == 0 ? ledger_commit(l, err)
			     : (ledger_rollback(l), rc);
	return rc;
}

/* ---- audit: receipts policy and summaries ---- */

int ledger_last_of_kind(ledger *l, const char *origin, int kind, record **out,
			ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, "SELECT envelope, stored_ms, source, n FROM"
			 " record WHERE origin = ?1 AND kind = ?2"
			 " ORDER BY seq DESC LIMIT 1", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, kind);
	rc = get_one(l, st, out, NULL, err);
	sqlite3_finalize(st);
	if (rc == HT_ENOTFOUND)
		ht_err_set(err, rc, "kind", "origin %s has no %s record",
			   origin, record_kind_name(kind));
	return rc;
}

int ledger_other_kind_after(ledger *l, const char *origin, uint64_t seq,
			    int kind, bool *yes, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, "SELECT 1 FROM record WHERE origin = ?1 AND"
			 " seq > ?2 AND kind != ?3 LIMIT 1", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	sqlite3_bind_int(st, 3, kind);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		*yes = step == SQLITE_ROW;
	else
		rc = db_err(l, step, "read records", err);
	sqlite3_finalize(st);
	return rc;
}

int ledger_origin_summary(ledger *l, const char *origin, int64_t since_ms,
			  int64_t until_ms, ledger_summary_fn fn, void *ctx,
			  ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, "SELECT kind, author, count(*),"
			 " min(created_ms), max(created_ms) FROM record"
			 " WHERE origin = ?1 AND created_ms >= ?2 AND"
			 " created_ms < ?3 GROUP BY kind, author"
			 " ORDER BY kind, author", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since_ms);
	sqlite3_bind_int64(st, 3, until_ms);
	int step, ret = 0;
	while (ret == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn(ctx, sqlite3_column_int(st, 0),
			 (const char *)sqlite3_column_text(st, 1),
			 (uint64_t)sqlite3_column_int64(st, 2),
			 sqlite3_column_int64(st, 3),
			 sqlite3_column_int64(st, 4));
	if (ret == 0 && step != SQLITE_DONE)
		ret = db_err(l, step, "read summary", err);
	sqlite3_finalize(st);
	return ret;
}

/* ---- the event log ---- */

static const char *const event_names[LEDGER_EV_COUNT] = {
	[LEDGER_EV_RECEIVED] = "received", [LEDGER_EV_STORED] = "stored",
	[LEDGER_EV_SENT] = "sent",         [LEDGER_EV_REFUSED] = "refused",
	[LEDGER_EV_FORK] = "fork",         [LEDGER_EV_GAP] = "gap",
	[LEDGER_EV_CONNECT] = "connect",   [LEDGER_EV_DISCONNECT] = "disconnect",
	[LEDGER_EV_RESOLVE] = "resolve",
};

const char *ledger_event_name(int kind)
{
	return kind >= 0 && kind < LEDGER_EV_COUNT ? event_names[kind] : "?";
}

int ledger_event_parse(const char *name)
{
	for (int i = 0; i < LEDGER_EV_COUNT; i++)
		if (strcmp(event_names[i], name) == 0)
			return i;
	return -1;
}

int ledger_log_event(ledger *l, const ledger_event *ev, int64_t *row,
		     ht_err *err)
{
	if (l->rdonly)
		return ht_err_set(err, HT_ESTATE, "ledger", "opened read-only");
	if (ev->kind < 0 || ev->kind >= LEDGER_EV_COUNT || ev->peer == NULL)
		return ht_err_set(err, HT_EINVAL, "event", "bad kind or no peer");
	int64_t t = ev->time_ms ? ev->time_ms : l->clock->now_ms(l->clock->ctx);
	sqlite3_stmt *st = l->ins_event;
	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_int64(st, 2, t);
	sqlite3_bind_text(st, 3, ev->peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, event_names[ev->kind], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, ev->origin ? ev->origin : "", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)ev->seq);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)ev->count);
	sqlite3_bind_text(st, 8, ev->reason ? ev->reason : "", -1,
			  SQLITE_STATIC);
	int rc = step_done(l, st, "insert event", err);
	if (rc == 0 && row != NULL)
		*row = sqlite3_last_insert_rowid(l->db);
	return rc;
}

int ledger_event_bump(ledger *l, int64_t row, uint64_t count, int64_t at_ms,
		      ht_err *err)
{
	if (l->rdonly)
		return ht_err_set(err, HT_ESTATE, "ledger", "opened read-only");
	sqlite3_stmt *st = l->bump_event;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)count);
	sqlite3_bind_int64(st, 2, at_ms);
	sqlite3_bind_int64(st, 3, row);
	int rc = step_done(l, st, "update event", err);
	if (rc == 0 && sqlite3_changes(l->db) == 0)
		rc = ht_err_set(err, HT_ENOTFOUND, "event", "no event row %lld",
				(long long)row);
	return rc;
}

int ledger_event_groups(ledger *l, int64_t since_ms, int64_t until_ms,
			ledger_event_fn fn, void *ctx, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(l, &st, "SELECT peer, kind, origin, reason,"
			 " sum(count), count(*), min(time_ms), max(last_ms)"
			 " FROM event WHERE last_ms >= ?1 AND last_ms < ?2"
			 " GROUP BY peer, kind, origin, reason"
			 " ORDER BY peer, kind, origin, reason", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, until_ms);
	int step, ret = 0;
	while (ret == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		ledger_event_group g = {
			.peer = (const char *)sqlite3_column_text(st, 0),
			.kind = ledger_event_parse(kind ? kind : ""),
			.origin = (const char *)sqlite3_column_text(st, 2),
			.reason = (const char *)sqlite3_column_text(st, 3),
			.records = (uint64_t)sqlite3_column_int64(st, 4),
			.events = (uint64_t)sqlite3_column_int64(st, 5),
			.first_ms = sqlite3_column_int64(st, 6),
			.last_ms = sqlite3_column_int64(st, 7)};
		if (g.peer == NULL || g.origin == NULL || g.reason == NULL)
			continue; /* NULLs put in by hand: skip, not crash */
		ret = fn(ctx, &g);
	}
	if (ret == 0 && step != SQLITE_DONE)
		ret = db_err(l, step, "read events", err);
	sqlite3_finalize(st);
	return ret;
}

/* ---- offline verification ---- */

typedef struct verify_state {
	ledger *l;
	ledger_problem_fn fn;
	void *ctx;
	int problems;
	ledger_origin *seen; /* per origin: what the chain walk reached */
	size_t n_seen, cap_seen;
	struct verify_key { /* every key the walk saw installed */
		char region[HT_REGION_LEN + 1];
		uint64_t from; /* in force from this seq on */
		uint8_t key[RECORD_PK_BYTES];
	} *keys;
	size_t n_keys, cap_keys;
	struct rcpt_seen *rcpt; /* receipts: per (node, origin), see below */
	size_t n_rcpt, cap_rcpt;
	sqlite3_stmt *rcpt_rows, *chain_id, *fork_id;
	bool rcpt_have, rcpt_end;
	int rcpt_rc;
	struct sig_pool *sigs;  /* signature checks, see below */
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
	ledger tmp = {.origins = v->seen, .n_origins = v->n_seen,
		      .cap_origins = v->cap_seen};
	ledger_origin *o = origin_insert(&tmp, region);
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
		problem(v, id, h->origin_region, h->seq,
			"chain gap: seq %llu follows seq %llu (records missing)",
			(unsigned long long)h->seq, (unsigned long long)o->seq);
	else if (h->seq > 1 &&
		 memcmp(h->prev_id.data, o->head, RECORD_ID_BYTES) != 0)
		problem(v, id, h->origin_region, h->seq,
			"prev_id does not match the record at seq %llu",
			(unsigned long long)o->seq);
	if (record_is_genesis(r) && install_key(o, r))
		note_key(v, h->origin_region, 1, o->key);
	memcpy(v->sig_key, o->key, RECORD_PK_BYTES); /* checked in sig_flush */
	o->seq = h->seq;
	memcpy(o->head, id, RECORD_ID_BYTES);
	if (!record_is_genesis(r) && install_key(o, r))
		note_key(v, h->origin_region, h->seq + 1, o->key);
}

/* ---- signatures on two threads ---- */

/* Signature checks dominate verify. The walk (SQLite reads, parsing, the
 * chain and arrival checks) stays on the caller's thread and queues each
 * record with the key in force at its seq; every SIG_BATCH records the
 * caller and one helper thread share the batch's checks (claimed one by
 * one from an atomic index), then the caller reports the failures in
 * order. Without the helper (it could not start) the caller checks them
 * all: the same code with one thread. */
#define SIG_BATCH 1024

typedef struct sig_job {
	record *r;
	uint8_t key[RECORD_PK_BYTES];
	bool ok;
} sig_job;

typedef struct sig_pool {
	sig_job jobs[SIG_BATCH];
	size_t n;             /* queued in this batch */
	atomic_size_t next;   /* next job to claim */
	pthread_t helper;
	bool has_helper;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	unsigned gen, acked;  /* batches handed out, finished by the helper */
	bool quit;            /* the helper should end (under mu) */
} sig_pool;

static void sig_run(sig_pool *p)
{
	size_t i;
	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		p->jobs[i].ok = record_verify(p->jobs[i].r, p->jobs[i].key);
}

static void *sig_helper(void *arg)
{
	sig_pool *p = arg;
	unsigned seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		sig_run(p);
		pthread_mutex_lock(&p->mu);
		p->acked = seen;
		pthread_cond_signal(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static sig_pool *sig_pool_new(void)
{
	sig_pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->has_helper = pthread_create(&p->helper, NULL, sig_helper, p) == 0;
	return p;
}

/* Check the queued batch on both threads; report failures in order. */
static void sig_flush(verify_state *v)
{
	sig_pool *p = v->sigs;
	if (p == NULL || p->n == 0)
		return;
	atomic_store(&p->next, 0);
	if (p->has_helper) {
		pthread_mutex_lock(&p->mu);
		p->gen++;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
	}
	sig_run(p);
	pthread_mutex_lock(&p->mu);
	while (p->has_helper && p->acked != p->gen) /* it is done with it */
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->n; i++) {
		const Hutong__Header *h = record_header(p->jobs[i].r);
		if (!p->jobs[i].ok)
			problem(v, record_id(p->jobs[i].r), h->origin_region,
				h->seq, "signature does not verify with the "
				"origin's key");
		record_free(&p->jobs[i].r);
	}
	p->n = 0;
}

/* Queue r (taken over) to be checked with key; *r is set to NULL. */
static void sig_push(verify_state *v, record **r, const uint8_t *key)
{
	sig_pool *p = v->sigs;
	if (p == NULL) { /* no memory for the pool: check it now */
		if (!record_verify(*r, key))
			problem(v, record_id(*r), record_header(*r)->origin_region,
				record_header(*r)->seq, "signature does not "
				"verify with the origin's key");
		record_free(r);
		return;
	}
	p->jobs[p->n].r = *r;
	memcpy(p->jobs[p->n].key, key, RECORD_PK_BYTES);
	*r = NULL;
	if (++p->n == SIG_BATCH)
		sig_flush(v);
}

static void sig_pool_free(verify_state *v)
{
	sig_pool *p = v->sigs;
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		record_free(&p->jobs[i].r);
	if (p->has_helper) {
		pthread_mutex_lock(&p->mu);
		p->quit = true;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->helper, NULL);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	free(p);
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
			size_t j = (size_t)(v->rcpt[i].key * 0x9E3779B97F4A7C15u)
				   & (cap - 1);
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

/* The id of the chain record at origin/seq into id; false if not held. */
static bool held_id(verify_state *v, const char *origin, uint64_t seq,
		    uint8_t id[RECORD_ID_BYTES])
{
	sqlite3_stmt *st = v->chain_id;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	bool found = sqlite3_step(st) == SQLITE_ROW &&
		     sqlite3_column_bytes(st, 0) == RECORD_ID_BYTES;
	if (found)
		memcpy(id, sqlite3_column_blob(st, 0), RECORD_ID_BYTES);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

static bool is_fork_evidence(verify_state *v, const uint8_t *id)
{
	sqlite3_stmt *st = v->fork_id;
	sqlite3_bind_blob(st, 1, id, RECORD_ID_BYTES, SQLITE_STATIC);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

/* One entry of receipt r: never below what the node's earlier receipts
 * said, and naming the record this ledger holds at that seq (or known
 * fork evidence there). Unchanged entries are checked once. */
static void verify_entry(verify_state *v, const record *r,
			 const Hutong__ReceiptEntry *e, rcpt_seen *s)
{
	const Hutong__Header *h = record_header(r);
	char want[2 * RECORD_ID_BYTES + 1], got[2 * RECORD_ID_BYTES + 1];
	uint8_t id[RECORD_ID_BYTES];
	if (e->seq < s->seq)
		problem(v, record_id(r), h->origin_region, h->seq,
			"receipt says origin %s at seq %llu, below seq %llu in "
			"an earlier receipt of the same node", e->origin,
			(unsigned long long)e->seq, (unsigned long long)s->seq);
	if (e->seq == s->seq && memcmp(e->head.data, s->head, RECORD_ID_BYTES) == 0)
		return;
	s->seq = e->seq;
	memcpy(s->head, e->head.data, RECORD_ID_BYTES);
	if (!held_id(v, e->origin, e->seq, id) ||
	    memcmp(id, e->head.data, RECORD_ID_BYTES) == 0 ||
	    is_fork_evidence(v, e->head.data))
		return;
	problem(v, record_id(r), h->origin_region, h->seq,
		"receipt names %s at origin %s seq %llu, but this ledger holds "
		"%s there (the ledger or the receipt is inconsistent)",
		util_hex(e->head.data, RECORD_ID_BYTES, want), e->origin,
		(unsigned long long)e->seq, util_hex(id, RECORD_ID_BYTES, got));
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
				"the signed receipt (row altered)", e->origin);
		v->rcpt_have = false;
		return;
	}
	problem(v, record_id(r), h->origin_region, h->seq,
		"receipt index lacks the row for origin %s seq %llu (row "
		"deleted)", e->origin, (unsigned long long)e->seq);
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
	if (prepare(l, &v->rcpt_rows, "SELECT origin, node, seq, created_ms, n"
		    " FROM receipt ORDER BY rowid", err) ||
	    prepare(l, &v->chain_id, "SELECT id FROM record WHERE origin = ?"
		    " AND seq = ?", err) ||
	    prepare(l, &v->fork_id, "SELECT 1 FROM fork WHERE id = ?", err))
		return HT_EIO;
	return 0;
}

static void verify_receipt_close(verify_state *v)
{
	sqlite3_finalize(v->rcpt_rows);
	sqlite3_finalize(v->chain_id);
	sqlite3_finalize(v->fork_id);
	free(v->rcpt);
}

static void verify_row(verify_state *v, sqlite3_stmt *st, int64_t *prev_n,
		       uint8_t arrival[32])
{
	int64_t n = sqlite3_column_int64(st, 0);
	const char *region = (const char *)sqlite3_column_text(st, 1);
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 2);
	const uint8_t *col_id = sqlite3_column_bytes(st, 3) == RECORD_ID_BYTES
					? sqlite3_column_blob(st, 3)
					: NULL;
	if (n != *prev_n + 1)
		problem(v, col_id, region, seq, "arrival log gap: n=%lld follows"
			" n=%lld (rows deleted)", (long long)n,
			(long long)*prev_n);
	uint8_t want[32];
	if (col_id != NULL) {
		arrival_hash(arrival, n, col_id, sqlite3_column_int64(st, 8),
			     (const char *)sqlite3_column_text(st, 9), want);
		if (sqlite3_column_bytes(st, 10) != 32 ||
		    memcmp(want, sqlite3_column_blob(st, 10), 32) != 0)
			problem(v, col_id, region, seq, "arrival record altered "
				"(stored time, source or order rewritten)");
	}
	*prev_n = n;
	copy_blob(arrival, 32, st, 10);
	ht_err err;
	record *r = record_parse(sqlite3_column_blob(st, 7),
				 (size_t)sqlite3_column_bytes(st, 7), &err);
	if (r == NULL) {
		char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
		problem(v, col_id, region, seq, "stored envelope is invalid: %s",
			ht_err_str(&err, msg, sizeof(msg)));
		return;
	}
	if (!columns_match(st, r))
		problem(v, record_id(r), region, seq,
			"stored columns differ from the signed header");
	memset(v->sig_key, 0, RECORD_PK_BYTES);
	verify_chain(v, r);
	verify_receipt(v, r, n);
	sig_push(v, &r, v->sig_key);
}

/* Does the origin table agree with where each chain ends? */
static void verify_frontier(verify_state *v)
{
	ledger *l = v->l;
	for (size_t i = 0; i < l->n_origins; i++) {
		const ledger_origin *t = &l->origins[i];
		long pos = origin_pos(&(ledger){.origins = v->seen,
						.n_origins = v->n_seen},
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
		problem(v, NULL, "", 0, "%zu origins in records but %zu in the "
			"frontier table", v->n_seen, l->n_origins);
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

int ledger_verify(ledger *l, ledger_problem_fn fn, void *ctx, ht_err *err)
{
	verify_state v = {.l = l, .fn = fn, .ctx = ctx};
	sqlite3_stmt *st = NULL;
	/* one read transaction: every statement sees the same snapshot while
	 * the daemon goes on writing */
	bool own_tx = !l->in_tx;
	int rc = own_tx ? exec(l, "BEGIN", err) : 0;
	if (rc == 0)
		rc = load_state(l, err);
	if (rc == 0)
		rc = verify_receipt_open(&v, err);
	if (rc == 0)
		rc = prepare(l, &st, "SELECT n, origin, seq, id, kind,"
			     " created_ms, author, envelope, stored_ms, source,"
			     " arrival FROM record ORDER BY n", err);
	int64_t prev_n = 0;
	uint8_t arrival[32] = {0};
	int step = SQLITE_DONE;
	v.sigs = rc == 0 ? sig_pool_new() : NULL;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		verify_row(&v, st, &prev_n, arrival);
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_err(l, step, "read records", err);
	sig_flush(&v);
	sig_pool_free(&v);
	sqlite3_finalize(st);
	if (rc == 0) {
		verify_receipt_tail(&v);
		if (v.rcpt_rc != 0)
			rc = db_err(l, v.rcpt_rc, "read receipt index", err);
	}
	if (rc == 0) {
		verify_frontier(&v);
		rc = ledger_each_fork(l, verify_fork_row, &v, err);
	}
	verify_receipt_close(&v);
	if (own_tx)
		sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
	free(v.seen);
	free(v.keys);
	return rc == 0 ? v.problems : rc;
}
