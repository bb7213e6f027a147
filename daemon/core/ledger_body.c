/*
 * ledger_body: chain records held without their body, and filling them
 * in. A relay may forward a header without its body (the signature covers
 * the header only, and the record id is the header's hash), so an honest
 * full copy that comes later is the same record: without this file it was
 * a duplicate and its body was lost for good. The bodiless table lists the
 * arrival number of each chain record stored without its body (kept by
 * insert_record, rebuilt once by a scan on a ledger that predates it), so
 * a restart still knows what to ask for and a duplicate costs no lookup
 * while nothing is missing. ledger_fill_body attaches a body in the
 * caller's transaction: the stored envelope, the term index and the
 * bodiless table change together; the arrival chain hashes the id, not
 * the envelope, so it stays valid.
 */
#include "ledger_impl.h"

#include <stdio.h>
#include <string.h>

#include "hutong.pb-c.h"

#define BODY_SCAN_KEY "bodiless_scan"

/* Is the stored envelope env one without a body? Unparseable bytes are
 * verify's to report, not ours. */
static bool env_bodiless(const uint8_t *env, int len)
{
	Hutong__Envelope *e =
	    len > 0 ? hutong__envelope__unpack(NULL, (size_t)len, env) : NULL;
	bool none = e != NULL && e->body.len == 0;
	if (e != NULL)
		hutong__envelope__free_unpacked(e, NULL);
	return none;
}

/* List every bodiless chain record once (a ledger written before the
 * bodiless table existed), then mark the scan done. */
static int body_scan(ledger *l, ht_err *err)
{
	sqlite3_stmt *st = NULL, *ins = NULL;
	int rc = ledger_prepare(
	    l, &st,
	    "SELECT n, envelope FROM record WHERE NOT EXISTS"
	    " (SELECT 1 FROM meta WHERE key = '" BODY_SCAN_KEY "')",
	    err);
	if (rc == 0)
		rc = ledger_prepare(
		    l, &ins, "INSERT OR IGNORE INTO bodiless VALUES(?)", err);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		if (!env_bodiless(sqlite3_column_blob(st, 1),
				  sqlite3_column_bytes(st, 1)))
			continue;
		sqlite3_bind_int64(ins, 1, sqlite3_column_int64(st, 0));
		rc = ledger_step_done(l, ins, "list bodiless record", err);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	if (rc == 0)
		rc = ledger_exec(
		    l,
		    "INSERT OR IGNORE INTO meta VALUES('" BODY_SCAN_KEY "', 1)",
		    err);
	return rc;
}

int ledger_body_setup(ledger *l, ht_err *err)
{
	int rc = ledger_begin(l, err);
	if (rc != 0)
		return rc;
	rc = body_scan(l, err);
	if (rc != 0) {
		ledger_rollback(l);
		return rc;
	}
	rc = ledger_commit(l, err);
	l->n_bodiless = ledger_body_count(l);
	return rc;
}

uint64_t ledger_body_count(ledger *l)
{
	sqlite3_stmt *st = NULL;
	uint64_t n = 0;
	if (sqlite3_prepare_v2(l->db, "SELECT count(*) FROM bodiless", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st); /* an old read-only ledger has no table: 0 */
	return n;
}

int ledger_body_note(ledger *l, int64_t n, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(l, &st,
				"INSERT OR IGNORE INTO bodiless"
				" VALUES(?)",
				err);
	if (rc != 0)
		return rc;
	sqlite3_bind_int64(st, 1, n);
	rc = ledger_step_done(l, st, "list bodiless record", err);
	sqlite3_finalize(st);
	if (rc == 0)
		l->n_bodiless++;
	return rc;
}

uint64_t ledger_bodiless_count(const ledger *l) { return l->n_bodiless; }

/* The arrival number of the bodiless chain record with r's id, or 0. */
static int64_t bodiless_n(ledger *l, const record *r, ht_err *err, int *rc)
{
	sqlite3_stmt *st = NULL;
	int64_t n = 0;
	*rc = ledger_prepare(l, &st,
			     "SELECT b.n FROM bodiless b JOIN record r ON"
			     " r.n = b.n WHERE r.origin = ? AND r.seq = ? AND"
			     " r.id = ?",
			     err);
	if (*rc != 0)
		return 0;
	sqlite3_bind_text(st, 1, record_header(r)->origin_region, -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)record_header(r)->seq);
	sqlite3_bind_blob(st, 3, record_id(r), RECORD_ID_BYTES, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else if (step != SQLITE_DONE)
		*rc = ledger_db_err(l, step, "read bodiless record", err);
	sqlite3_finalize(st);
	return n;
}

/* Does r carry the very signature the held copy was verified with? The
 * header is the same (same id); the signature bytes must be too, so the
 * new envelope is one this node has already checked, plus a body whose
 * hash record_parse matched against the header. */
static bool same_signature(ledger *l, const record *r)
{
	record *held = NULL;
	bool same =
	    ledger_get_seq(l, record_header(r)->origin_region,
			   record_header(r)->seq, &held, NULL, NULL) == 0 &&
	    memcmp(record_signature(held), record_signature(r),
		   RECORD_SIG_BYTES) == 0;
	record_free(&held);
	return same;
}

/* Store r's envelope at row n, index its terms, take it off the list. */
static int attach(ledger *l, const record *r, int64_t n, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	size_t len;
	const uint8_t *env = record_bytes(r, &len);
	int rc = ledger_prepare(
	    l, &st, "UPDATE record SET envelope = ? WHERE n = ?", err);
	if (rc != 0)
		return rc;
	sqlite3_bind_blob(st, 1, env, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, n);
	rc = ledger_step_done(l, st, "fill in body", err);
	sqlite3_finalize(st);
	if (rc == 0)
		rc = ledger_index_record(l, r, n, err);
	if (rc == 0 && (rc = ledger_prepare(l, &st,
					    "DELETE FROM bodiless"
					    " WHERE n = ?",
					    err)) == 0) {
		sqlite3_bind_int64(st, 1, n);
		rc = ledger_step_done(l, st, "fill in body", err);
		sqlite3_finalize(st);
	}
	return rc;
}

int ledger_fill_body(ledger *l, const record *r, bool *filled, ht_err *err)
{
	int rc = 0;
	*filled = false;
	if (l->rdonly || !l->in_tx)
		return ht_err_set(err, HT_ESTATE, "ledger",
				  "fill in a body inside a write transaction");
	if (l->n_bodiless == 0 || record_body(r) == NULL ||
	    record_needs_body((int)record_header(r)->kind))
		return 0;
	int64_t n = bodiless_n(l, r, err, &rc);
	if (rc != 0 || n == 0 || !same_signature(l, r))
		return rc;
	if ((rc = attach(l, r, n, err)) != 0)
		return rc;
	l->n_bodiless--;
	*filled = true;
	return 0;
}

/* Turn the current row (envelope, stored_ms, source, n) into a record for
 * fn; a row that does not parse is skipped (verify reports it). */
static int bodiless_row(sqlite3_stmt *st, ledger_each_fn fn, void *ctx)
{
	ledger_meta m = {0};
	record *r = record_parse(sqlite3_column_blob(st, 0),
				 (size_t)sqlite3_column_bytes(st, 0), NULL);
	if (r == NULL)
		return 0;
	m.stored_ms = sqlite3_column_int64(st, 1);
	snprintf(m.source, sizeof(m.source), "%s",
		 (const char *)sqlite3_column_text(st, 2));
	m.n = sqlite3_column_int64(st, 3);
	int rc = fn(ctx, r, &m);
	record_free(&r);
	return rc;
}

int ledger_each_bodiless(ledger *l, int64_t after_n, size_t max,
			 ledger_each_fn fn, void *ctx, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	if (l->n_bodiless == 0)
		return 0;
	int rc = ledger_prepare(l, &st,
				"SELECT r.envelope, r.stored_ms, r.source, r.n"
				" FROM bodiless b JOIN record r ON r.n = b.n"
				" WHERE b.n > ? ORDER BY b.n LIMIT ?",
				err);
	if (rc != 0)
		return rc;
	sqlite3_bind_int64(st, 1, after_n);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	int step = SQLITE_DONE;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = bodiless_row(st, fn, ctx);
	if (rc == 0 && step != SQLITE_DONE)
		rc = ledger_db_err(l, step, "read bodiless records", err);
	sqlite3_finalize(st);
	return rc;
}
