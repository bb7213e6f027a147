/*
 * node_receipt: receipts, the audit trail of who held what and since when.
 * A receipt is a record of this node's whole frontier, signed like any
 * other, written when node_maybe_receipt's policy allows (see node.h): at
 * most one per interval and only when some origin gained a record other
 * than a receipt, so receipts never breed receipts. What the last receipt
 * said is read from the ledger once and then kept in n->rcpt_*. The
 * interval is counted on the clock's monotonic time: a wall clock that was
 * ahead and came back does not hold receipts back until it catches up with
 * the future-dated receipt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_impl.h"

/* Remember what a receipt of ours (r, its body rc) said. */
static int receipt_remember(node *n, const Hutong__Receipt *rc, const record *r,
			    ht_err *err)
{
	rcpt_mark *m = calloc(rc->n_entries ? rc->n_entries : 1, sizeof(*m));
	if (m == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	for (size_t i = 0; i < rc->n_entries; i++) {
		snprintf(m[i].region, sizeof(m[i].region), "%s",
			 rc->entries[i]->origin);
		m[i].seq = rc->entries[i]->seq;
	}
	free(n->rcpt_marks);
	n->rcpt_marks = m;
	n->n_rcpt_marks = rc->n_entries;
	n->rcpt_last_ms = record_header(r)->created_ms;
	n->rcpt_own_seq = record_header(r)->seq;
	return 0;
}

static int64_t mono_now(const node *n)
{
	return n->clock->mono_ms(n->clock->ctx);
}

/* Where the interval counts from on the monotonic clock, from the last
 * receipt's creation time `from`: as long ago as that is, or an interval
 * ago (due now) when it lies in the future. */
static void receipt_anchor(node *n, int64_t from, int64_t interval_ms)
{
	int64_t wall = n->clock->now_ms(n->clock->ctx), mono = mono_now(n);
	n->rcpt_mono_ms =
	    from <= wall ? mono - (wall - from) : mono - interval_ms;
}

/* What our last receipt said, read from the ledger once (a restart keeps
 * the policy's clock and knows what it covered). */
static int receipt_load(node *n, int64_t interval_ms, ht_err *err)
{
	record *r = NULL;
	Hutong__Receipt none = HUTONG__RECEIPT__INIT;
	int rc = ledger_last_of_kind(n->ledger, n->region,
				     HUTONG__KIND__KIND_RECEIPT, &r, err);
	n->rcpt_last_ms = INT64_MIN;
	n->rcpt_own_seq = 0;
	n->n_rcpt_marks = 0;
	if (rc == HT_ENOTFOUND) { /* none yet: the interval starts now */
		n->rcpt_mono_ms = mono_now(n);
		n->rcpt_loaded = true;
		return 0;
	}
	if (rc != 0)
		return rc;
	const Hutong__Body *b = record_body(r);
	rc = receipt_remember(n, b && b->receipt ? b->receipt : &none, r, err);
	receipt_anchor(n, n->rcpt_last_ms, interval_ms);
	n->rcpt_loaded = rc == 0;
	record_free(&r);
	return rc;
}

static rcpt_mark *receipt_mark(node *n, const char *region)
{
	for (size_t i = 0; i < n->n_rcpt_marks; i++)
		if (strcmp(n->rcpt_marks[i].region, region) == 0)
			return &n->rcpt_marks[i];
	return NULL;
}

/* Did any origin gain a record other than a receipt since our last
 * receipt? Origins found to have gained only receipts are marked, so each
 * record is looked at once however often the timer asks. */
static int receipt_due(node *n, bool *due, ht_err *err)
{
	*due = false;
	for (size_t i = 0; i < ledger_origin_count(n->ledger); i++) {
		const ledger_origin *o = ledger_origin_at(n->ledger, i);
		if (strcmp(o->region, n->region) == 0) {
			if (o->seq > n->rcpt_own_seq) /* we wrote more since */
				*due = true;
			continue;
		}
		rcpt_mark *m = receipt_mark(n, o->region);
		uint64_t from = m ? m->seq : 0;
		if (o->seq <= from)
			continue;
		int rc = ledger_other_kind_after(n->ledger, o->region, from,
						 HUTONG__KIND__KIND_RECEIPT,
						 due, err);
		if (rc != 0 || *due)
			return rc;
		if (m != NULL)
			m->seq = o->seq;
		/* a new origin always brings its genesis: never reached */
	}
	return 0;
}

/* Build the receipt body over the current frontier, sorted by origin (the
 * frontier's own order). entries/ptrs have room for every origin. */
static void receipt_body(node *n, Hutong__ReceiptEntry *ents,
			 Hutong__ReceiptEntry **ptrs, Hutong__Receipt *rc)
{
	size_t k = ledger_origin_count(n->ledger);
	for (size_t i = 0; i < k; i++) {
		const ledger_origin *o = ledger_origin_at(n->ledger, i);
		hutong__receipt_entry__init(&ents[i]);
		ents[i].origin = (char *)o->region;
		ents[i].seq = o->seq;
		ents[i].head =
		    (ProtobufCBinaryData){RECORD_ID_BYTES, (uint8_t *)o->head};
		ptrs[i] = &ents[i];
	}
	hutong__receipt__init(rc);
	rc->entries = ptrs;
	rc->n_entries = k;
}

/* Sign a receipt of the current frontier, created at now_ms, as the next
 * record of our chain (*r). */
static int receipt_sign(node *n, int64_t now_ms, record **r, ht_err *err)
{
	size_t k = ledger_origin_count(n->ledger);
	Hutong__ReceiptEntry *ents = calloc(k ? k : 1, sizeof(*ents));
	Hutong__ReceiptEntry **ptrs = calloc(k ? k : 1, sizeof(*ptrs));
	Hutong__Receipt rc;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	ledger_heads heads;
	int ret =
	    ents && ptrs ? 0 : ht_err_set(err, HT_ENOMEM, "", "out of memory");
	const ledger_origin *own = ledger_origin_find(n->ledger, n->region);
	if (ret == 0)
		receipt_body(n, ents, ptrs, &rc);
	if (ret == 0 &&
	    (ret = ledger_receipt_heads(n->ledger, &heads, &rc, err)) == 0) {
		body.content_case = HUTONG__BODY__CONTENT_RECEIPT;
		body.receipt = &rc;
		sub.author = "node";
		sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
		sub.body = &body;
		record_origin at = {n->region, n->name, own->seq + 1, own->head,
				    now_ms};
		ret = record_build(&sub, &at, ident_sign, n->id, r, err);
	}
	free(ents);
	free(ptrs);
	return ret;
}

static int receipt_write(node *n, int64_t now_ms, uint8_t id[RECORD_ID_BYTES],
			 ht_err *err)
{
	size_t k = ledger_origin_count(n->ledger);
	record *r = NULL;
	ledger_outcome out;
	if (k > RECORD_MAX_RECEIPT)
		return ht_err_set(err, HT_ELIMIT, "receipt",
				  "%zu origins, a receipt holds at most %d", k,
				  RECORD_MAX_RECEIPT);
	int ret = receipt_sign(n, node_next_created(n, now_ms), &r, err);
	if (ret == 0)
		ret = node_check_trust(n, r, err);
	if (ret == 0)
		ret = ledger_append(n->ledger, r, "local", &out, err);
	if (ret == 0)
		ret = receipt_remember(n, record_body(r)->receipt, r, err);
	if (ret == 0) {
		n->rcpt_mono_ms = mono_now(n);
		char hex[2 * RECORD_ID_BYTES + 1];
		memcpy(id, record_id(r), RECORD_ID_BYTES);
		log_info(n->log, "receipt id=%s origin=%s seq=%llu origins=%zu",
			 util_hex(id, RECORD_ID_BYTES, hex), n->region,
			 (unsigned long long)record_header(r)->seq, k);
	}
	record_free(&r);
	return ret;
}

int node_maybe_receipt(node *n, int64_t now_ms, int64_t interval_ms,
		       uint8_t id[RECORD_ID_BYTES], ht_err *err)
{
	bool due = false;
	if (!n->own_ready) /* catching up its own chain: signs nothing */
		return 0;
	int rc = n->rcpt_loaded ? 0 : receipt_load(n, interval_ms, err);
	int64_t mono = mono_now(n);
	if (rc != 0 || mono < n->rcpt_retry_ms)
		return rc;
	if (mono - n->rcpt_mono_ms < interval_ms)
		return 0;
	if ((rc = receipt_due(n, &due, err)) == 0 && due)
		rc = receipt_write(n, now_ms, id, err);
	if (rc != 0) {
		n->rcpt_retry_ms = mono + interval_ms;
		log_warn(n->log, "receipt not written reason=%s",
			 LOG_Q(err->msg));
		return rc;
	}
	return due ? 1 : 0;
}
