/*
 * ledger_event: the link event log, local facts beside the records: per
 * batch the counts received, stored and sent, one row per refusal group,
 * fork or gap, and connection and operator events. It owns the event names
 * and the grouped read that audit reports fold. Rows are hash-chained once
 * sealed (ledger_history.c seals every open row when a receipt commits the
 * event log's head); a repeated refusal bumps its row only while the row is
 * open, and starts a new row once it is sealed. Writes go into the open
 * transaction if there is one, so an event commits or rolls back with the
 * batch it describes.
 */
#include "ledger_impl.h"

#include <string.h>

/* ---- the event log ---- */

static const char *const event_names[LEDGER_EV_COUNT] = {
    [LEDGER_EV_RECEIVED] = "received", [LEDGER_EV_STORED] = "stored",
    [LEDGER_EV_SENT] = "sent",	       [LEDGER_EV_REFUSED] = "refused",
    [LEDGER_EV_FORK] = "fork",	       [LEDGER_EV_GAP] = "gap",
    [LEDGER_EV_CONNECT] = "connect",   [LEDGER_EV_DISCONNECT] = "disconnect",
    [LEDGER_EV_RESOLVE] = "resolve",   [LEDGER_EV_FILLED] = "filled",
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
		return ht_err_set(err, HT_EINVAL, "event",
				  "bad kind or no peer");
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
	int rc = ledger_step_done(l, st, "insert event", err);
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
	int rc = ledger_step_done(l, st, "update event", err);
	if (rc == 0 && sqlite3_changes(l->db) == 0)
		rc = ht_err_set(err, HT_ENOTFOUND, "event",
				"no open event row "
				"%lld (absent, or sealed by a receipt)",
				(long long)row);
	return rc;
}

int ledger_event_groups(ledger *l, int64_t since_ms, int64_t until_ms,
			ledger_event_fn fn, void *ctx, ht_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc =
	    ledger_prepare(l, &st,
			   "SELECT peer, kind, origin, reason,"
			   " sum(count), count(*), min(time_ms), max(last_ms)"
			   " FROM event WHERE last_ms >= ?1 AND last_ms < ?2"
			   " GROUP BY peer, kind, origin, reason"
			   " ORDER BY peer, kind, origin, reason",
			   err);
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
		ret = ledger_db_err(l, step, "read events", err);
	sqlite3_finalize(st);
	return ret;
}
