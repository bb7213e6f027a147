/*
 * ledger: SQLite storage of records, the chain rules and the frontier. This
 * file owns the schema, open and close, transactions, append (the chain
 * rules, the arrival chain, the term and receipt indexes, key history), the
 * in-memory frontier and its digest, and the operator's fork decision.
 * Reads live in ledger_query.c, the link event log in ledger_event.c and
 * offline verification in ledger_verify.c; ledger_impl.h is what they share.
 *
 * Schema (version 2; a version 1 ledger is migrated at open, see
 * ledger_history.c):
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
 *   event(n, time_ms, last_ms, peer, kind, origin, seq, count, reason,
 *         chain)  the link audit log: local facts; chain is NULL while a
 *                 row is open (its count may still be bumped), then
 *                 SHA-256(prev chain || the row) once a receipt seals it
 * The heads of both chains go into the node's own signed receipts.
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
#include "ledger_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEDGER_SCHEMA_VERSION 2
#define LEDGER_CACHE_KIB 131072

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
    " reason TEXT NOT NULL, chain BLOB);"
    "CREATE INDEX IF NOT EXISTS event_time ON event(last_ms);"
    "CREATE TABLE IF NOT EXISTS bodiless(n INTEGER PRIMARY KEY);"
    "INSERT OR IGNORE INTO meta VALUES('schema', 2);";

/* The errno behind an SQLite I/O failure. sqlite3_system_errno is often 0
 * for a failed write (SQLite 3.40 does not record it there), so ask the
 * unix VFS for the last errno of the WAL file, then of the database file. */
static int db_errno(ledger *l)
{
	if (l == NULL || l->db == NULL)
		return 0;
	int e = sqlite3_system_errno(l->db);
	sqlite3_file *f = NULL;
	if (e == 0 &&
	    sqlite3_file_control(l->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
				 &f) == SQLITE_OK &&
	    f != NULL && f->pMethods != NULL &&
	    f->pMethods->xFileControl(f, SQLITE_FCNTL_LAST_ERRNO, &e) !=
		SQLITE_OK)
		e = 0;
	if (e == 0 &&
	    sqlite3_file_control(l->db, "main", SQLITE_FCNTL_LAST_ERRNO, &e) !=
		SQLITE_OK)
		e = 0;
	return e;
}

/* Map an SQLite failure to an HT code and a message naming the action.
 * The file system refusing to grow the ledger is HT_EFULL: SQLite says
 * SQLITE_FULL for ENOSPC, but a write past RLIMIT_FSIZE (EFBIG) or a quota
 * (EDQUOT) comes back as an I/O error carrying that errno. Disk full and
 * I/O errors say so first, so the CLI's and the log's line reads
 * "ledger: disk full: commit: ..." without knowing SQLite. */
int ledger_db_err(ledger *l, int rc, const char *what, ht_err *err)
{
	const char *msg =
	    l && l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc);
	int e = (rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR
		    ? db_errno(l)
		    : 0;
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

int ledger_exec(ledger *l, const char *sql, ht_err *err)
{
	int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, sql, err);
}

int ledger_prepare(ledger *l, sqlite3_stmt **st, const char *sql, ht_err *err)
{
	int rc = sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				    st, NULL);
	return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, "prepare", err);
}

/* The event log's writers (read-write ledgers only). */
static int prepare_events(ledger *l, ht_err *err)
{
	if (ledger_prepare(
		l, &l->ins_event,
		"INSERT INTO event(time_ms, last_ms, peer, kind, origin,"
		" seq, count, reason) VALUES(?,?,?,?,?,?,?,?)",
		err) ||
	    ledger_prepare(
		l, &l->bump_event,
		"UPDATE event SET count = count + ?,"
		" last_ms = max(last_ms, ?) WHERE n = ? AND chain IS NULL",
		err))
		return HT_EIO;
	return 0;
}

static int prepare_all(ledger *l, ht_err *err)
{
	if (ledger_prepare(
		l, &l->ins_record,
		"INSERT INTO record(n, origin, seq, id, kind, created_ms,"
		" author, envelope, stored_ms, source, arrival)"
		" VALUES(?,?,?,?,?,?,?,?,?,?,?)",
		err) ||
	    ledger_prepare(
		l, &l->ins_fork,
		"INSERT OR IGNORE INTO fork(origin, seq, id, envelope,"
		" stored_ms, source) VALUES(?,?,?,?,?,?)",
		err) ||
	    ledger_prepare(
		l, &l->upsert_origin,
		"INSERT OR REPLACE INTO origin VALUES(?,?,?,?,?,?,?)", err) ||
	    ledger_prepare(l, &l->get_chain,
			   "SELECT envelope, stored_ms, source, n FROM record"
			   " WHERE origin = ? AND seq = ?",
			   err) ||
	    ledger_prepare(
		l, &l->get_id,
		"SELECT envelope, stored_ms, source, n FROM record"
		" WHERE substr(id, 1, 8) = substr(?1, 1, 8) AND id = ?1",
		err) ||
	    ledger_prepare(l, &l->get_fork_id,
			   "SELECT envelope, stored_ms, source, n FROM fork"
			   " WHERE id = ?",
			   err) ||
	    ledger_prepare(
		l, &l->range,
		"SELECT envelope, seq FROM record WHERE origin = ? AND"
		" seq >= ? ORDER BY seq LIMIT ?",
		err) ||
	    ledger_prepare(l, &l->ins_term,
			   "INSERT OR IGNORE INTO term VALUES(?,?)", err) ||
	    ledger_prepare(l, &l->ins_receipt,
			   "INSERT INTO receipt VALUES(?,?,?,?,?)", err) ||
	    ledger_prepare(l, &l->max_receipt,
			   "SELECT max(seq) FROM receipt WHERE"
			   " origin = ? AND node = ?",
			   err) ||
	    ledger_prepare(l, &l->ins_key,
			   "INSERT OR REPLACE INTO keyhist VALUES(?,?,?,?)",
			   err) ||
	    ledger_prepare(
		l, &l->key_at,
		"SELECT key, key_id FROM keyhist WHERE origin = ? AND"
		" seq < ? ORDER BY seq DESC LIMIT 1",
		err) ||
	    (!l->rdonly && prepare_events(l, err) != 0))
		return HT_EIO;
	return 0;
}

/* ---- the in-memory frontier ---- */

/* Index of region in the sorted array, or where it would go (as ~pos). */
static long origin_pos(const ledger *l, const char *region)
{
	return util_region_pos(l->origins, l->n_origins, sizeof(*l->origins),
			       region);
}

long ledger_origin_index(const ledger *l, const char *region)
{
	long pos = origin_pos(l, region);
	return pos >= 0 ? pos : -1;
}

ledger_origin *ledger_origin_insert(ledger *l, const char *region)
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

void ledger_copy_blob(uint8_t *dst, size_t len, sqlite3_stmt *st, int col)
{
	memset(dst, 0, len);
	if (sqlite3_column_bytes(st, col) == (int)len)
		memcpy(dst, sqlite3_column_blob(st, col), len);
}

/* Load frontier, count and the arrival chain's tail from the tables. */
int ledger_load_state(ledger *l, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	l->n_origins = 0;
	int rc = ledger_prepare(l, &st,
				"SELECT region, node, seq, head, key, forked,"
				" key_id FROM origin ORDER BY region",
				err);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		ledger_origin *o = ledger_origin_insert(
		    l, (const char *)sqlite3_column_text(st, 0));
		if (o == NULL) {
			rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
			break;
		}
		snprintf(o->node, sizeof(o->node), "%s",
			 (const char *)sqlite3_column_text(st, 1));
		o->seq = (uint64_t)sqlite3_column_int64(st, 2);
		ledger_copy_blob(o->head, sizeof(o->head), st, 3);
		ledger_copy_blob(o->key, sizeof(o->key), st, 4);
		o->forked = sqlite3_column_int(st, 5) != 0;
		ledger_copy_blob(o->key_id, sizeof(o->key_id), st, 6);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == 0)
		rc = ledger_prepare(
		    l, &st,
		    "SELECT count(*), (SELECT n FROM record"
		    " ORDER BY n DESC LIMIT 1), (SELECT arrival FROM"
		    " record ORDER BY n DESC LIMIT 1) FROM record",
		    err);
	if (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		l->n_records = (uint64_t)sqlite3_column_int64(st, 0);
		l->last_n = sqlite3_column_int64(st, 1);
		ledger_copy_blob(l->last_arrival, sizeof(l->last_arrival), st,
				 2);
	}
	sqlite3_finalize(st);
	l->n_bodiless = ledger_body_count(l);
	return rc;
}

/* ---- open and close ---- */

static int configure(ledger *l, ht_err *err)
{
	char sql[128];
	sqlite3_busy_timeout(l->db, 5000);
	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d;", LEDGER_CACHE_KIB);
	if (ledger_exec(l, sql, err) != 0)
		return HT_EIO;
	if (l->rdonly)
		return ledger_exec(l, "PRAGMA query_only=1;", err);
	/* FULL: a commit is on disk before we report a record as stored;
	 * WAL with NORMAL may lose the last commits on power loss.
	 * wal_autocheckpoint: a checkpoint copies every page changed since
	 * the last one, and the id index takes random inserts; with the
	 * default 1000-page WAL its pages were copied again every few
	 * batches (6x write amplification at 100k records). A 10000-page
	 * (40 MB) WAL copies each far less often. */
	if (ledger_exec(
		l,
		"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		" PRAGMA foreign_keys=OFF; PRAGMA wal_autocheckpoint=10000;",
		err) != 0)
		return HT_EIO;
	return ledger_exec(l, schema, err) != 0
		   ? HT_EIO
		   : ledger_history_migrate(l, err);
}

static int check_schema(ledger *l, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(
	    l, &st, "SELECT value FROM meta WHERE key='schema'", err);
	if (rc != 0)
		return ht_err_set(err, HT_ECORRUPT, "ledger",
				  "not a hutong ledger (%s)", err->msg);
	int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	l->schema = v;
	if (v == 1 && l->rdonly)
		return 0; /* read as it is; the daemon migrates it at start */
	if (v != LEDGER_SCHEMA_VERSION)
		return ht_err_set(err, HT_ECORRUPT, "ledger",
				  "schema version %d, this hutong reads %d", v,
				  LEDGER_SCHEMA_VERSION);
	return 0;
}

#define DAMAGED_FIX                                                            \
	"restore it from a backup or move it aside to catch up from "          \
	"neighbours (hutongd --skip-check starts on it anyway)"

/* err says path is damaged, with SQLite's words; HT_ECORRUPT. */
static int damaged(const char *path, const char *what, ht_err *err)
{
	char why[HT_ERR_MSG_MAX / 2];
	snprintf(why, sizeof(why), "%s", what);
	return ht_err_set(err, HT_ECORRUPT, "ledger",
			  "%s is damaged (%s); " DAMAGED_FIX, path, why);
}

/* quick_check's text on one line (it starts "*** in database main ***"
 * and breaks lines), for a one-line message and log line. */
static void one_line(const char *t, char *out, size_t len)
{
	static const char banner[] = "*** in database main ***";
	if (strncmp(t, banner, sizeof(banner) - 1) == 0)
		t += sizeof(banner) - 1;
	while (*t == '\n' || *t == ' ')
		t++;
	size_t i = 0;
	for (; *t != '\0' && i + 1 < len; t++)
		out[i++] = *t == '\n' || *t == '\r' ? ' ' : *t;
	out[i] = '\0';
}

int ledger_check(ledger *l, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	char first[HT_ERR_MSG_MAX / 4] = "";
	int bad = 0;
	int rc =
	    sqlite3_prepare_v2(l->db, "PRAGMA quick_check(10)", -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (t != NULL && strcmp(t, "ok") != 0 && bad++ == 0)
			one_line(t, first, sizeof(first));
	}
	if (rc != SQLITE_DONE && bad++ == 0)
		snprintf(first, sizeof(first), "%s", sqlite3_errmsg(l->db));
	sqlite3_finalize(st);
	if (bad == 0)
		return 0;
	char what[HT_ERR_MSG_MAX / 3];
	snprintf(what, sizeof(what), "quick_check: %s%s", first,
		 bad > 1 ? "; and more" : "");
	return damaged(sqlite3_db_filename(l->db, "main"), what, err);
}

/* The directory part of path into out ("." when none). */
static void dir_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	char *slash = strrchr(out, '/');
	if (slash == NULL)
		snprintf(out, len, ".");
	else
		slash[slash == out ? 1 : 0] = '\0';
}

/* Before SQLite sees path: a clear reason when it cannot be used, and a
 * new file created 0600 whatever the umask (bodies are in it; SQLite gives
 * -wal and -shm the database file's mode). SQLite alone would say "unable
 * to open database file", or open an unwritable file read-only. */
static int check_file(const char *path, bool rdonly, ht_err *err)
{
	char dir[PATH_MAX];
	struct stat st;
	if (stat(path, &st) == 0) {
		if (access(path, rdonly ? R_OK : R_OK | W_OK) != 0)
			return ht_err_set(err, HT_EIO, "ledger",
					  "%s: cannot be %s by this user: %s",
					  path,
					  rdonly ? "read" : "read and written",
					  strerror(errno));
		return 0;
	}
	int e = errno;
	dir_of(path, dir, sizeof(dir));
	if (e == ENOENT && stat(dir, &st) != 0)
		return ht_err_set(err, HT_ENOTFOUND, "ledger",
				  "%s: directory %s: %s", path, dir,
				  strerror(errno));
	if (e != ENOENT || rdonly)
		return ht_err_set(err, e == ENOENT ? HT_ENOTFOUND : HT_EIO,
				  "ledger", "%s: %s", path, strerror(e));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return ht_err_set(err, HT_EIO, "ledger",
				  "%s: cannot create: %s", path,
				  strerror(errno));
	if (fd >= 0)
		close(fd);
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
	if (check_file(path, l->rdonly, err) != 0)
		goto fail;
	int flags = l->rdonly ? SQLITE_OPEN_READWRITE
			      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int rc =
	    sqlite3_open_v2(path, &l->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ht_err_set(err, rc == SQLITE_CANTOPEN ? HT_ENOTFOUND : HT_EIO,
			   "ledger", "%s: %s", path, sqlite3_errstr(rc));
		goto fail;
	}
	if ((rc = configure(l, err)) != 0 || (rc = check_schema(l, err)) != 0 ||
	    (rc = prepare_all(l, err)) != 0 ||
	    (rc = ledger_load_state(l, err)) != 0 ||
	    (!l->rdonly && (rc = ledger_body_setup(l, err)) != 0)) {
		if (rc == HT_ECORRUPT)
			damaged(path, err->msg, err);
		goto fail;
	}
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
	sqlite3_stmt *all[] = {l->ins_record,  l->ins_fork,  l->upsert_origin,
			       l->get_chain,   l->get_id,    l->get_fork_id,
			       l->range,       l->ins_term,  l->ins_receipt,
			       l->max_receipt, l->ins_event, l->bump_event,
			       l->ins_key,     l->key_at,    l->created_at};
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
	int rc = ledger_exec(l, "BEGIN IMMEDIATE", err);
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
		int code = ledger_db_err(l, rc, "commit", err);
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
	ledger_load_state(l, NULL); /* the frontier as the disk has it */
}

int ledger_read_begin(ledger *l, ht_err *err)
{
	if (l->in_tx)
		return ht_err_set(err, HT_ESTATE, "ledger",
				  "transaction already open");
	int rc = ledger_exec(l, "BEGIN", err);
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

void ledger_arrival_hash(const uint8_t prev[32], int64_t n, const uint8_t *id,
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

int ledger_step_done(ledger *l, sqlite3_stmt *st, const char *what, ht_err *err)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : ledger_db_err(l, rc, what, err);
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
	return ledger_step_done(l, st, "save origin", err);
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
	t->rc = ledger_step_done(t->l, t->l->ins_term, "insert term", t->err);
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
		if (rc->entries[i]->seq <=
		    indexed_seq(l, rc->entries[i]->origin, h->origin_region))
			continue;
		sqlite3_bind_text(st, 1, rc->entries[i]->origin, -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(st, 2, h->origin_region, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)rc->entries[i]->seq);
		sqlite3_bind_int64(st, 4, h->created_ms);
		sqlite3_bind_int64(st, 5, n);
		ret = ledger_step_done(l, st, "insert receipt", err);
	}
	return ret;
}

/* The lookups views and audit need: terms, and receipt coverage. */
int ledger_index_record(ledger *l, const record *r, int64_t n, ht_err *err)
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
	ledger_arrival_hash(l->last_arrival, n, record_id(r), now, source,
			    arrival);
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
	int rc = ledger_step_done(l, st, "insert record", err);
	if (rc == 0)
		rc = ledger_index_record(l, r, n, err);
	if (rc == 0 && record_body(r) == NULL)
		rc = ledger_body_note(l, n, err);
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
	if ((rc = ledger_step_done(l, st, "insert fork", err)) != 0)
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

bool ledger_install_key(ledger_origin *o, const record *r)
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
	ledger_origin *o = ledger_origin_insert(l, h->origin_region);
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
	return ledger_step_done(l, st, "save key", err);
}

int ledger_key_at(ledger *l, const char *region, uint64_t seq,
		  uint8_t key[RECORD_PK_BYTES], uint8_t key_id[RECORD_ID_BYTES],
		  ht_err *err)
{
	sqlite3_stmt *st = l->key_at;
	sqlite3_bind_text(st, 1, region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == RECORD_PK_BYTES &&
	    sqlite3_column_bytes(st, 1) == RECORD_ID_BYTES) {
		memcpy(key, sqlite3_column_blob(st, 0), RECORD_PK_BYTES);
		memcpy(key_id, sqlite3_column_blob(st, 1), RECORD_ID_BYTES);
	} else if (step == SQLITE_ROW || step == SQLITE_DONE) {
		rc = ht_err_set(err, HT_ENOTFOUND, "seq",
				"no key of origin %s "
				"below seq %llu",
				region, (unsigned long long)seq);
	} else {
		rc = ledger_db_err(l, step, "read key history", err);
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
		return ht_err_set(
		    err, HT_EINVAL, "header.prev_id",
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
	if (ledger_install_key(o, r) && (rc = save_key(l, o, h->seq, err)) != 0)
		return rc;
	return save_origin(l, o, err);
}

static int append_rules(ledger *l, const record *r, const char *source,
			ledger_outcome *out, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	long pos = ledger_origin_index(l, h->origin_region);
	ledger_origin *o = pos >= 0 ? &l->origins[pos] : NULL;
	*out = LEDGER_APPENDED;
	if (o != NULL && h->seq <= o->seq)
		return append_held(l, o, r, source, out, err);
	uint64_t head = o ? o->seq : 0;
	if (record_body(r) == NULL && record_needs_body((int)h->kind))
		return ht_err_set(err, HT_EINVAL, "body",
				  "%s record without its body",
				  record_kind_name((int)h->kind));
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

size_t ledger_origin_count(const ledger *l) { return l->n_origins; }

const ledger_origin *ledger_origin_at(const ledger *l, size_t i)
{
	return i < l->n_origins ? &l->origins[i] : NULL;
}

const ledger_origin *ledger_origin_find(const ledger *l, const char *region)
{
	long pos = ledger_origin_index(l, region);
	return pos >= 0 ? &l->origins[pos] : NULL;
}

uint64_t ledger_record_count(const ledger *l) { return l->n_records; }

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
/* ---- forks: the operator's decision ---- */

/* The seq of origin's chain record id, or HT_ENOTFOUND. */
static int chain_seq_of(ledger *l, const char *origin,
			const uint8_t id[RECORD_ID_BYTES], uint64_t *seq,
			ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc =
	    ledger_prepare(l, &st,
			   "SELECT seq FROM record WHERE substr(id, 1, 8)"
			   " = substr(?1, 1, 8) AND id = ?1 AND origin = ?2",
			   err);
	if (rc != 0)
		return rc;
	sqlite3_bind_blob(st, 1, id, RECORD_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, origin, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
	rc = step == SQLITE_ROW	   ? 0
	     : step == SQLITE_DONE ? HT_ENOTFOUND
				   : ledger_db_err(l, step, "read record", err);
	sqlite3_finalize(st);
	return rc;
}

/* Count rows of sql (one ?1 text, one ?2 int64 or blob parameter). */
static int count_rows(ledger *l, const char *sql, const char *a,
		      const void *blob, int64_t b, int64_t *count, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(l, &st, sql, err);
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
		rc = ledger_db_err(l, step, "count", err);
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
		if (count_rows(l,
			       "SELECT count(*) FROM fork WHERE origin = ?1"
			       " AND id = ?2",
			       o->region, keep, 0, &n, err))
			return HT_EIO;
		if (n > 0)
			return ht_err_set(err, HT_EINVAL, "keep",
					  "%s is the "
					  "fork evidence, not this node's chain"
					  " record; the chain is never "
					  "rewritten: keep the chain record "
					  "(see 'hutong audit forks')",
					  hex);
		return ht_err_set(err, HT_ENOTFOUND, "keep",
				  "no record %s of "
				  "origin %s",
				  hex, o->region);
	}
	if (rc != 0)
		return rc;
	if (count_rows(l,
		       "SELECT count(*) FROM fork WHERE origin = ?1 AND"
		       " seq = ?2",
		       o->region, NULL, (int64_t)*seq, &n, err))
		return HT_EIO;
	if (n == 0)
		return ht_err_set(err, HT_EINVAL, "keep",
				  "%s (seq %llu) is not"
				  " at a forked seq of origin %s",
				  hex, (unsigned long long)*seq, o->region);
	return 0;
}

int ledger_fork_resolve(ledger *l, const char *origin,
			const uint8_t keep[RECORD_ID_BYTES], ht_err *err)
{
	char hex[2 * RECORD_ID_BYTES + 1], reason[128];
	uint64_t seq = 0;
	if (l->rdonly)
		return ht_err_set(err, HT_ESTATE, "ledger", "opened read-only");
	long pos = ledger_origin_index(l, origin);
	if (pos < 0)
		return ht_err_set(err, HT_ENOTFOUND, "origin",
				  "origin %s is "
				  "not in this ledger",
				  origin);
	ledger_origin *o = &l->origins[pos];
	if (!o->forked)
		return ht_err_set(err, HT_ESTATE, "origin",
				  "origin %s is not "
				  "flagged forked",
				  origin);
	int rc = check_keep(l, o, keep, &seq, err);
	if (rc != 0)
		return rc;
	bool own_tx = !l->in_tx;
	if (own_tx && ledger_begin(l, err) != 0)
		return HT_EIO;
	o->forked = false;
	snprintf(reason, sizeof(reason), "kept %s",
		 util_hex(keep, RECORD_ID_BYTES, hex));
	ledger_event ev = {.peer = "operator",
			   .kind = LEDGER_EV_RESOLVE,
			   .origin = origin,
			   .seq = seq,
			   .count = 1,
			   .reason = reason};
	rc = save_origin(l, o, err);
	if (rc == 0)
		rc = ledger_log_event(l, &ev, NULL, err);
	if (own_tx)
		rc = rc == 0 ? ledger_commit(l, err) : (ledger_rollback(l), rc);
	return rc;
}
