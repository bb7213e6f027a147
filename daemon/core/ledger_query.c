/*
 * ledger_query: reading records back. Fetch by id or by origin/seq, raw
 * envelopes of a chain for sending, and the walks views and audit use: by
 * filter, by term, by term name, receipts covering a record, fork evidence,
 * an origin's newest record of a kind and its per-kind summary. Every walk
 * lends the caller each record for one callback; nothing here writes.
 */
#include "ledger_impl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

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

static int get_one(ledger *l, sqlite3_stmt *st, record **out, ledger_meta *meta,
		   ht_err *err)
{
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_ROW ? row_record(st, out, meta, err)
		  : rc == SQLITE_DONE
		      ? HT_ENOTFOUND
		      : ledger_db_err(l, rc, "read record", err);
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
	sqlite3_bind_blob(l->get_fork_id, 1, id, RECORD_ID_BYTES,
			  SQLITE_STATIC);
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

/* The smallest (fill '0') or largest (fill 'f') id with this hex prefix. */
static void prefix_bound(const char *hex, size_t len, char fill,
			 uint8_t out[RECORD_ID_BYTES])
{
	char full[LEDGER_PREFIX_MAX + 1];
	memset(full, fill, LEDGER_PREFIX_MAX);
	full[LEDGER_PREFIX_MAX] = '\0';
	memcpy(full, hex, len);
	if (util_unhex(full, out, RECORD_ID_BYTES) != 0)
		memset(out, 0, RECORD_ID_BYTES);
}

static int check_prefix(const char *hex, size_t len, ht_err *err)
{
	if (len < LEDGER_PREFIX_MIN || len > LEDGER_PREFIX_MAX)
		return ht_err_set(err, HT_EINVAL, "id",
				  "want %d to %d hex digits, got %zu",
				  LEDGER_PREFIX_MIN, LEDGER_PREFIX_MAX, len);
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdefABCDEF", hex[i]))
			return ht_err_set(err, HT_EINVAL, "id",
					  "'%c' is not a hex digit", hex[i]);
	return 0;
}

/* Does id begin with the hex prefix (any case)? */
static bool has_prefix(const uint8_t *id, const char *hex, size_t len)
{
	char idhex[2 * RECORD_ID_BYTES + 1];
	util_hex(id, RECORD_ID_BYTES, idhex);
	return strncasecmp(idhex, hex, len) == 0;
}

int ledger_find_prefix(ledger *l, const char *hex,
		       uint8_t (*ids)[RECORD_ID_BYTES], size_t max, size_t *n,
		       ht_err *err)
{
	static const char sql[] =
	    "SELECT id FROM record WHERE substr(id, 1, 8) BETWEEN ?1 AND ?2"
	    " UNION SELECT id FROM fork WHERE id BETWEEN ?3 AND ?4"
	    " ORDER BY 1";
	uint8_t lo[RECORD_ID_BYTES], hi[RECORD_ID_BYTES];
	size_t len = strlen(hex), found = 0;
	sqlite3_stmt *st = NULL;
	*n = 0;
	int rc = check_prefix(hex, len, err);
	if (rc != 0)
		return rc;
	prefix_bound(hex, len, '0', lo);
	prefix_bound(hex, len, 'f', hi);
	if ((rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return ledger_db_err(l, rc, "find id prefix", err);
	sqlite3_bind_blob(st, 1, lo, 8, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hi, 8, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, lo, RECORD_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, hi, RECORD_ID_BYTES, SQLITE_STATIC);
	while (found < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *id = sqlite3_column_blob(st, 0);
		if (sqlite3_column_bytes(st, 0) == RECORD_ID_BYTES &&
		    has_prefix(id, hex, len))
			memcpy(ids[found++], id, RECORD_ID_BYTES);
	}
	int ret = found == max || rc == SQLITE_DONE
		      ? 0
		      : ledger_db_err(l, rc, "find id prefix", err);
	sqlite3_finalize(st);
	*n = ret == 0 ? found : 0;
	return ret;
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
static int each_row(ledger *l, sqlite3_stmt *st, ledger_each_fn fn, void *ctx,
		    ht_err *err)
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
		ret = ledger_db_err(l, rc, "read records", err);
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
		      : ledger_db_err(l, rc, "read range", err);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int ledger_each_term(ledger *l, const char *term, ledger_each_fn fn, void *ctx,
		     ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(l, &st,
				"SELECT r.envelope, r.stored_ms, r.source, r.n"
				" FROM term t JOIN record r ON r.n = t.n"
				" WHERE t.term = ? ORDER BY t.n",
				err);
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
	int rc = ledger_prepare(l, &st,
				"SELECT DISTINCT term FROM term WHERE"
				" term >= ? AND term < ? ORDER BY term",
				err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, hi, -1, SQLITE_TRANSIENT);
	int step, ret = 0;
	while (ret == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn(ctx, (const char *)sqlite3_column_text(st, 0));
	if (ret == 0 && step != SQLITE_DONE)
		ret = ledger_db_err(l, step, "read terms", err);
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
	int rc =
	    ledger_prepare(l, &st,
			   "SELECT d.region, (SELECT created_ms FROM receipt r"
			   " WHERE r.origin = ?1 AND r.node = d.region AND"
			   " r.seq >= ?2 ORDER BY r.seq LIMIT 1) AS t"
			   " FROM origin d WHERE t IS NOT NULL"
			   " ORDER BY d.region",
			   err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	int step, ret = 0;
	while (ret == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn(ctx, (const char *)sqlite3_column_text(st, 0),
			 sqlite3_column_int64(st, 1));
	if (ret == 0 && step != SQLITE_DONE)
		ret = ledger_db_err(l, step, "read receipts", err);
	sqlite3_finalize(st);
	return ret;
}

int ledger_each(ledger *l, const ledger_filter *f, ledger_each_fn fn, void *ctx,
		ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc =
	    ledger_prepare(l, &st,
			   "SELECT envelope, stored_ms, source, n FROM record"
			   " WHERE (?1 = 0 OR kind = ?1) AND (?2 IS NULL OR"
			   " origin = ?2) AND (?3 IS NULL OR author = ?3) AND"
			   " (?4 = 0 OR created_ms >= ?4) AND (?5 = 0 OR"
			   " created_ms < ?5) ORDER BY n LIMIT ?6",
			   err);
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
	int rc = ledger_prepare(l, &st,
				"SELECT envelope, stored_ms, source, n FROM"
				" fork ORDER BY n",
				err);
	if (rc == 0)
		rc = each_row(l, st, fn, ctx, err);
	sqlite3_finalize(st);
	return rc;
}
/* ---- audit: receipts policy and summaries ---- */

int ledger_last_of_kind(ledger *l, const char *origin, int kind, record **out,
			ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(l, &st,
				"SELECT envelope, stored_ms, source, n FROM"
				" record WHERE origin = ?1 AND kind = ?2"
				" ORDER BY seq DESC LIMIT 1",
				err);
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
	int rc = ledger_prepare(l, &st,
				"SELECT 1 FROM record WHERE origin = ?1 AND"
				" seq > ?2 AND kind != ?3 LIMIT 1",
				err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	sqlite3_bind_int(st, 3, kind);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		*yes = step == SQLITE_ROW;
	else
		rc = ledger_db_err(l, step, "read records", err);
	sqlite3_finalize(st);
	return rc;
}

int ledger_origin_summary(ledger *l, const char *origin, int64_t since_ms,
			  int64_t until_ms, ledger_summary_fn fn, void *ctx,
			  ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(l, &st,
				"SELECT kind, author, count(*),"
				" min(created_ms), max(created_ms) FROM record"
				" WHERE origin = ?1 AND created_ms >= ?2 AND"
				" created_ms < ?3 GROUP BY kind, author"
				" ORDER BY kind, author",
				err);
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
		ret = ledger_db_err(l, step, "read summary", err);
	sqlite3_finalize(st);
	return ret;
}

int ledger_kind_counts(ledger *l, ledger_kind_count_fn fn, void *ctx,
		       ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = ledger_prepare(l, &st,
				"SELECT origin, kind, count(*) FROM record"
				" GROUP BY origin, kind ORDER BY origin, kind",
				err);
	if (rc != 0)
		return rc;
	int step, ret = 0;
	while (ret == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn(ctx, (const char *)sqlite3_column_text(st, 0),
			 sqlite3_column_int(st, 1),
			 (uint64_t)sqlite3_column_int64(st, 2));
	if (ret == 0 && step != SQLITE_DONE)
		ret = ledger_db_err(l, step, "read kind counts", err);
	sqlite3_finalize(st);
	return ret;
}
