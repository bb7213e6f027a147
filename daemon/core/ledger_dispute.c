/*
 * ledger_dispute: receipts judged against the chains they name. A receipt
 * is its signer's claim about what it held when it signed it; an entry
 * that the chains held here contradict is a dispute against that signer,
 * not a fault of this ledger. A dispute is never stored: it is worked out
 * from the records held whenever someone asks (receive, verify, audit), so
 * two nodes that hold the same records find the same disputes whatever
 * order the receipt and the records it names arrived in. The judgement
 * uses only signed facts (the records' and the receipt's creation times,
 * ids) and a tolerance for clocks, so it is the same on every node that
 * uses the same tolerance.
 */
#include "ledger_impl.h"

#include <stdio.h>
#include <string.h>

/* The id and creation time of origin's chain record at seq. */
static int held_at(ledger *l, const char *origin, uint64_t seq,
		   uint8_t id[RECORD_ID_BYTES], int64_t *created, ht_err *err)
{
	int rc = 0;
	if (l->created_at == NULL &&
	    ledger_prepare(l, &l->created_at,
			   "SELECT id, created_ms FROM record"
			   " WHERE origin = ? AND seq = ?",
			   err) != 0)
		return HT_EIO;
	sqlite3_stmt *st = l->created_at;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == RECORD_ID_BYTES) {
		memcpy(id, sqlite3_column_blob(st, 0), RECORD_ID_BYTES);
		*created = sqlite3_column_int64(st, 1);
	} else if (step == SQLITE_ROW || step == SQLITE_DONE) {
		rc = HT_ENOTFOUND;
	} else {
		rc = ledger_db_err(l, step, "read record time", err);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int ledger_created_at(ledger *l, const char *origin, uint64_t seq,
		      int64_t *created_ms, ht_err *err)
{
	uint8_t id[RECORD_ID_BYTES];
	return held_at(l, origin, seq, id, created_ms, err);
}

static bool is_fork_id(ledger *l, const uint8_t *id)
{
	sqlite3_stmt *st = l->get_fork_id;
	sqlite3_bind_blob(st, 1, id, RECORD_ID_BYTES, SQLITE_STATIC);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

/* An entry beyond the head held here: a chain's creation times never go
 * back, so when a record held below the claimed seq was created after the
 * receipt (beyond the skew), the signer cannot have held the claimed seq
 * when it signed. Otherwise there is nothing to judge yet (the origin may
 * have gone on; the records may come later, and verify judges again). */
static int beyond_dispute(ledger *l, const record *r,
			  const Hutong__ReceiptEntry *e, int64_t skew_ms,
			  char *reason, size_t len, ht_err *err)
{
	char t_rec[40], t_rcpt[40];
	uint8_t id[RECORD_ID_BYTES];
	int64_t created = 0, at = record_header(r)->created_ms;
	const ledger_origin *o = ledger_origin_find(l, e->origin);
	if (o == NULL || o->seq == 0 || o->seq >= e->seq)
		return 0;
	int rc = held_at(l, e->origin, o->seq, id, &created, err);
	if (rc == HT_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (created <= at || created - at <= skew_ms)
		return 0;
	snprintf(reason, len,
		 "receipt created %s claims origin %s up to seq %llu, but its "
		 "record at seq %llu, below that, was created %s, later than "
		 "the receipt (a chain's times never go back)",
		 util_format_time(at, t_rcpt, sizeof(t_rcpt)), e->origin,
		 (unsigned long long)e->seq, (unsigned long long)o->seq,
		 util_format_time(created, t_rec, sizeof(t_rec)));
	return 1;
}

int ledger_entry_dispute(ledger *l, const record *r,
			 const Hutong__ReceiptEntry *e, int64_t skew_ms,
			 char *reason, size_t len, ht_err *err)
{
	char want[2 * RECORD_ID_BYTES + 1], got[2 * RECORD_ID_BYTES + 1];
	char t_rec[40], t_rcpt[40];
	uint8_t id[RECORD_ID_BYTES];
	int64_t created = 0, at = record_header(r)->created_ms;
	int rc = held_at(l, e->origin, e->seq, id, &created, err);
	if (rc == HT_ENOTFOUND)
		return beyond_dispute(l, r, e, skew_ms, reason, len, err);
	if (e->head.len != RECORD_ID_BYTES)
		return 0;
	if (rc != 0)
		return rc;
	if (memcmp(id, e->head.data, RECORD_ID_BYTES) != 0) {
		if (is_fork_id(l, e->head.data))
			return 0; /* the signer held the other fork version */
		snprintf(reason, len,
			 "receipt names %s at origin %s seq %llu, but the "
			 "record there is %s",
			 util_hex(e->head.data, RECORD_ID_BYTES, want),
			 e->origin, (unsigned long long)e->seq,
			 util_hex(id, RECORD_ID_BYTES, got));
		return 1;
	}
	if (created <= at || created - at <= skew_ms)
		return 0;
	snprintf(reason, len,
		 "receipt created %s covers origin %s seq %llu created %s, "
		 "later than the receipt (beyond a clock skew of %llds)",
		 util_format_time(at, t_rcpt, sizeof(t_rcpt)), e->origin,
		 (unsigned long long)e->seq,
		 util_format_time(created, t_rec, sizeof(t_rec)),
		 (long long)(skew_ms / 1000));
	return 1;
}

ledger_dispute ledger_dispute_of(const record *r, const Hutong__ReceiptEntry *e,
				 const char *reason)
{
	const Hutong__Header *h = record_header(r);
	return (ledger_dispute){.id = record_id(r),
				.signer = h->origin_region,
				.signer_seq = h->seq,
				.created_ms = h->created_ms,
				.origin = e->origin,
				.seq = e->seq,
				.reason = reason};
}

int ledger_receipt_disputes(ledger *l, const record *r, int64_t skew_ms,
			    ledger_dispute_fn fn, void *ctx, ht_err *err)
{
	const Hutong__Body *b = record_body(r);
	char reason[512];
	int found = 0;
	if (b == NULL || b->content_case != HUTONG__BODY__CONTENT_RECEIPT)
		return 0;
	for (size_t i = 0; i < b->receipt->n_entries; i++) {
		const Hutong__ReceiptEntry *e = b->receipt->entries[i];
		int rc = ledger_entry_dispute(l, r, e, skew_ms, reason,
					      sizeof(reason), err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		found++;
		ledger_dispute d = ledger_dispute_of(r, e, reason);
		if (fn != NULL)
			fn(ctx, &d);
	}
	return found;
}
