/*
 * node_claims: a record's creation time and a receipt's entries are claims
 * of their signer, checked here before they count. A record from a peer
 * created more than max_clock_skew ahead of this node's clock is refused
 * (and taken when a peer sends it again once it is no longer ahead: nothing
 * here remembers the refusal), and so is one created before its
 * predecessor in its chain. This node never dates its own record before
 * its previous one: it signs max(now, previous creation time). A receipt
 * that contradicts the chains held is stored like any record of its
 * signer's chain (refusing it would break that chain for everyone) and is
 * a dispute against the signer: logged and counted here when it arrives,
 * and found again from the records by ledger_verify_ex and audit disputes,
 * whatever order the receipt and the records it names arrive in.
 */
#include <stdio.h>
#include <string.h>

#include "node_impl.h"

/* ms in the largest unit it reaches, rounded ("300d", "5h", "12m", "30s");
 * with exact, the largest unit that divides it ("5m", "90s"). */
static char *fmt_span(int64_t ms, bool exact, char *buf, size_t len)
{
	static const struct {
		int64_t ms;
		char unit;
	} u[] = {{86400000, 'd'}, {3600000, 'h'}, {60000, 'm'}, {1000, 's'}};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (ms >= u[i].ms && (!exact || ms % u[i].ms == 0)) {
			snprintf(buf, len, "%lld%c",
				 (long long)((ms + u[i].ms / 2) / u[i].ms),
				 u[i].unit);
			return buf;
		}
	snprintf(buf, len, "%lldms", (long long)ms);
	return buf;
}

void node_set_clock_skew(node *n, int64_t max_clock_skew_ms)
{
	n->max_skew_ms = max_clock_skew_ms;
}

int64_t node_skew_ms(const node *n)
{
	return n->max_skew_ms > 0 ? n->max_skew_ms : LEDGER_DEFAULT_SKEW_MS;
}

/* Created no further ahead of our clock than max_clock_skew? */
static int check_ahead(node *n, const record *r, ht_err *err)
{
	char t[40], ahead[24], skew[24];
	int64_t now = n->clock->now_ms(n->clock->ctx);
	int64_t at = record_header(r)->created_ms;
	if (at <= now || at - now <= node_skew_ms(n))
		return 0;
	n->counters.clock_skew++;
	return ht_err_set(err, HT_ESTATE, "created",
			  "created %s is %s ahead of this node's clock "
			  "(max_clock_skew %s)",
			  util_format_time(at, t, sizeof(t)),
			  fmt_span(at - now, false, ahead, sizeof(ahead)),
			  fmt_span(node_skew_ms(n), true, skew, sizeof(skew)));
}

/* Created no earlier than the record before it in its chain (when held:
 * otherwise the record waits in a gap and is checked when it is taken). */
static int check_after_prev(node *n, const record *r, ht_err *err)
{
	char t[40], tp[40];
	const Hutong__Header *h = record_header(r);
	int64_t prev = 0;
	if (h->seq <= 1)
		return 0;
	int rc = ledger_created_at(n->ledger, h->origin_region, h->seq - 1,
				   &prev, err);
	if (rc == HT_ENOTFOUND)
		return 0;
	if (rc != 0 || h->created_ms >= prev)
		return rc;
	n->counters.backdated++;
	return ht_err_set(
	    err, HT_EINVAL, "created",
	    "created before its predecessor at seq %llu (%s < %s)",
	    (unsigned long long)(h->seq - 1),
	    util_format_time(h->created_ms, t, sizeof(t)),
	    util_format_time(prev, tp, sizeof(tp)));
}

int node_check_claims(node *n, const record *r, ht_err *err)
{
	int rc = check_ahead(n, r, err);
	return rc != 0 ? rc : check_after_prev(n, r, err);
}

typedef struct dispute_ctx {
	node *n;
	const char *peer;
} dispute_ctx;

static void on_dispute(void *ctx, const ledger_dispute *d)
{
	dispute_ctx *c = ctx;
	c->n->counters.disputes++;
	log_warn(c->n->log,
		 "dispute origin=%s signer=%s seq=%llu peer=%s reason=%s",
		 LOG_T(d->origin), LOG_T(d->signer), (unsigned long long)d->seq,
		 LOG_T(c->peer), LOG_Q(d->reason));
}

void node_claims_after_append(node *n, const record *r, const char *peer)
{
	ht_err err = {0};
	dispute_ctx c = {n, peer};
	if (record_header(r)->kind != HUTONG__KIND__KIND_RECEIPT)
		return;
	if (ledger_receipt_disputes(n->ledger, r, node_skew_ms(n), on_dispute,
				    &c, &err) < 0)
		log_warn(n->log,
			 "dispute check failed origin=%s seq=%llu "
			 "error=%s",
			 LOG_T(record_header(r)->origin_region),
			 (unsigned long long)record_header(r)->seq,
			 LOG_Q(err.msg));
}

int64_t node_next_created(node *n, int64_t now)
{
	int64_t prev = 0;
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	ht_err err = {0};
	if (o == NULL ||
	    ledger_created_at(n->ledger, n->region, o->seq, &prev, &err) != 0)
		return now;
	return prev > now ? prev : now;
}
