/*
 * audit: argument checks and the shaping of audit answers over the
 * ledger's queries. The ledger does the SQL (indexed, parameterized); this
 * file decides what an answer contains: a record's coverage lists every
 * node of the federation, covered or not, and a link's history is pivoted
 * from event groups into one summary per peer.
 */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int audit_check_range(int64_t since_ms, int64_t until_ms, ht_err *err)
{
	char a[40], b[40];
	if (since_ms >= until_ms)
		return ht_err_set(err, HT_EINVAL, "since",
				  "--since (%s) must be before --until (%s)",
				  util_format_time(since_ms, a, sizeof(a)),
				  util_format_time(until_ms, b, sizeof(b)));
	return 0;
}

static int check_origin(const char *origin, ht_err *err)
{
	if (origin == NULL)
		return ht_err_set(err, HT_EINVAL, "origin", "required");
	if (strlen(origin) > 64)
		return ht_err_set(err, HT_EINVAL, "origin",
				  "must be six digits "
				  "(GB/T 2260), got %zu bytes",
				  strlen(origin));
	return util_check_region(origin, "origin", err);
}

/* ---- one record ---- */

typedef struct cover_ctx {
	audit_record_info *a;
} cover_ctx;

static int note_cover(void *ctx, const char *node, int64_t created_ms)
{
	audit_record_info *a = ctx;
	for (size_t i = 0; i < a->n_cover; i++) {
		if (strcmp(a->cover[i].region, node) == 0) {
			a->cover[i].covered = true;
			a->cover[i].receipt_ms = created_ms;
			a->n_covered++;
			return 0;
		}
	}
	return 0; /* a receipt of a node not in the frontier: cannot be */
}

/* Every origin in the frontier, not yet covered. */
static int cover_init(ledger *l, audit_record_info *a, ht_err *err)
{
	size_t k = ledger_origin_count(l);
	a->cover = calloc(k ? k : 1, sizeof(*a->cover));
	if (a->cover == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	for (size_t i = 0; i < k; i++) {
		const ledger_origin *o = ledger_origin_at(l, i);
		snprintf(a->cover[i].region, sizeof(a->cover[i].region), "%s",
			 o->region);
		snprintf(a->cover[i].name, sizeof(a->cover[i].name), "%s",
			 o->node);
	}
	a->n_cover = k;
	return 0;
}

int audit_record(ledger *l, const uint8_t id[RECORD_ID_BYTES],
		 audit_record_info *out, ht_err *err)
{
	audit_record_info a = {0};
	int rc = ledger_get(l, id, &a.r, &a.meta, err);
	if (rc != 0)
		return rc;
	const Hutong__Header *h = record_header(a.r);
	const ledger_origin *o = ledger_origin_find(l, h->origin_region);
	a.origin_forked = o != NULL && o->forked;
	a.fork_evidence = a.meta.fork;
	rc = cover_init(l, &a, err);
	if (rc == 0)
		rc = ledger_receipts(l, h->origin_region, h->seq, note_cover,
				     &a, err);
	if (rc != 0) {
		audit_record_clear(&a);
		return rc;
	}
	*out = a;
	return 0;
}

void audit_record_clear(audit_record_info *a)
{
	if (a == NULL)
		return;
	record_free(&a->r);
	free(a->cover);
	memset(a, 0, sizeof(*a));
}

/* ---- origins and authors ---- */

int audit_origin(ledger *l, const char *origin, int64_t since_ms,
		 int64_t until_ms, ledger_summary_fn fn, void *ctx, ht_err *err)
{
	int rc = check_origin(origin, err);
	if (rc == 0)
		rc = audit_check_range(since_ms, until_ms, err);
	if (rc != 0)
		return rc;
	if (ledger_origin_find(l, origin) == NULL)
		return ht_err_set(
		    err, HT_ENOTFOUND, "origin",
		    "origin %s is not "
		    "in this ledger (no record of it was received)",
		    origin);
	return ledger_origin_summary(l, origin, since_ms, until_ms, fn, ctx,
				     err);
}

int audit_author(ledger *l, const char *author, const char *origin,
		 ledger_each_fn fn, void *ctx, ht_err *err)
{
	size_t n = author ? strlen(author) : 0;
	if (n == 0)
		return ht_err_set(err, HT_EINVAL, "author", "required");
	if (n > RECORD_MAX_NAME)
		return ht_err_set(err, HT_EINVAL, "author",
				  "%zu bytes; an "
				  "officer id has at most %d",
				  n, RECORD_MAX_NAME);
	if (!util_is_text(author, n))
		return ht_err_set(err, HT_EINVAL, "author",
				  "not valid UTF-8 "
				  "text");
	if (origin != NULL && check_origin(origin, err) != 0)
		return HT_EINVAL;
	ledger_filter f = {.author = author, .origin = origin};
	return ledger_each(l, &f, fn, ctx, err);
}

/* ---- links ---- */

typedef struct peers_ctx {
	audit_peer cur;
	audit_peer_fn fn;
	void *ctx;
	int rc;
} peers_ctx;

static void peer_clear(audit_peer *p)
{
	for (size_t i = 0; i < p->n_details; i++) {
		free(p->details[i].origin);
		free(p->details[i].reason);
	}
	free(p->details);
	free(p->peer);
	memset(p, 0, sizeof(*p));
}

/* Hand the finished peer to the caller. */
static int peer_flush(peers_ctx *pc)
{
	int rc = pc->cur.peer ? pc->fn(pc->ctx, &pc->cur) : 0;
	peer_clear(&pc->cur);
	return rc;
}

static bool is_detail(int kind)
{
	return kind == LEDGER_EV_REFUSED || kind == LEDGER_EV_GAP ||
	       kind == LEDGER_EV_FORK || kind == LEDGER_EV_RESOLVE;
}

static int add_detail(audit_peer *p, const ledger_event_group *g)
{
	audit_detail *d = realloc(p->details, (p->n_details + 1) * sizeof(*d));
	if (d == NULL)
		return HT_ENOMEM;
	p->details = d;
	d = &d[p->n_details];
	d->kind = g->kind;
	d->origin = strdup(g->origin);
	d->reason = strdup(g->reason);
	d->records = g->records;
	d->events = g->events;
	d->first_ms = g->first_ms;
	d->last_ms = g->last_ms;
	if (d->origin == NULL || d->reason == NULL) {
		free(d->origin);
		free(d->reason);
		return HT_ENOMEM;
	}
	p->n_details++;
	return 0;
}

static int take_group(void *ctx, const ledger_event_group *g)
{
	peers_ctx *pc = ctx;
	audit_peer *p = &pc->cur;
	if (g->kind < 0)
		return 0; /* a kind this hutong does not know */
	if (p->peer == NULL || strcmp(p->peer, g->peer) != 0) {
		if ((pc->rc = peer_flush(pc)) != 0)
			return pc->rc;
		if ((p->peer = strdup(g->peer)) == NULL)
			return pc->rc = HT_ENOMEM;
		p->first_ms = g->first_ms;
		p->last_ms = g->last_ms;
	}
	p->records[g->kind] += g->records;
	p->events[g->kind] += g->events;
	if (g->first_ms < p->first_ms)
		p->first_ms = g->first_ms;
	if (g->last_ms > p->last_ms)
		p->last_ms = g->last_ms;
	if (is_detail(g->kind) && add_detail(p, g) != 0)
		return pc->rc = HT_ENOMEM;
	return 0;
}

int audit_peers(ledger *l, int64_t since_ms, audit_peer_fn fn, void *ctx,
		ht_err *err)
{
	peers_ctx pc = {.fn = fn, .ctx = ctx};
	int rc = audit_check_range(since_ms, INT64_MAX, err);
	if (rc != 0)
		return rc;
	rc = ledger_event_groups(l, since_ms, INT64_MAX, take_group, &pc, err);
	if (rc == 0)
		rc = peer_flush(&pc);
	peer_clear(&pc.cur);
	if (rc == HT_ENOMEM)
		ht_err_set(err, rc, "", "out of memory");
	return rc;
}

/* ---- forks ---- */

typedef struct forks_ctx {
	ledger *l;
	audit_fork_fn fn;
	void *ctx;
	ht_err *err;
} forks_ctx;

static int take_fork(void *ctx, const record *ev, const ledger_meta *m)
{
	forks_ctx *fc = ctx;
	const Hutong__Header *h = record_header(ev);
	record *chain = NULL;
	audit_fork f = {.evidence = ev, .evidence_meta = *m};
	int rc = ledger_get_seq(fc->l, h->origin_region, h->seq, &chain,
				&f.chain_meta, fc->err);
	if (rc != 0)
		return rc; /* evidence beside no chain record: verify says so */
	const ledger_origin *o = ledger_origin_find(fc->l, h->origin_region);
	f.chain = chain;
	f.flagged = o != NULL && o->forked;
	rc = fc->fn(fc->ctx, &f);
	record_free(&chain);
	return rc;
}

int audit_forks(ledger *l, audit_fork_fn fn, void *ctx, ht_err *err)
{
	forks_ctx fc = {l, fn, ctx, err};
	return ledger_each_fork(l, take_fork, &fc, err);
}
