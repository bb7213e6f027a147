/*
 * node_body: which bodies this node lacks and should ask its neighbours
 * for. The list lives in the ledger (ledger_each_bodiless), so it
 * survives a restart; node_body_due is the one place that decides
 * whether a missing body is due at all (scope withholding and erasure
 * will say no here). Filling in happens in node_receive.
 */
#include <stdio.h>
#include <string.h>

#include "node_impl.h"

#define NODE_BODY_SCAN 4 /* rows read per wanted entry, at most */

bool node_body_due(const node *n, const record *r)
{
	(void)n;
	(void)r;
	return true; /* no scope withholding or erasure yet */
}

typedef struct missing_walk {
	node *n;
	node_missing *out;
	size_t max, count;
	int64_t last_n;
} missing_walk;

static int missing_one(void *ctx, const record *r, const ledger_meta *m)
{
	missing_walk *w = ctx;
	w->last_n = m->n;
	if (!node_body_due(w->n, r))
		return 0;
	node_missing *e = &w->out[w->count++];
	memcpy(e->id, record_id(r), RECORD_ID_BYTES);
	snprintf(e->origin, sizeof(e->origin), "%s",
		 record_header(r)->origin_region);
	e->seq = record_header(r)->seq;
	snprintf(e->source, sizeof(e->source), "%s", m->source);
	e->stored_ms = m->stored_ms;
	return w->count == w->max;
}

int node_missing_bodies(node *n, node_missing *out, size_t max, ht_err *err)
{
	missing_walk w = {.n = n, .out = out, .max = max};
	for (size_t pass = 0; pass < NODE_BODY_SCAN && w.count < max; pass++) {
		int64_t from = w.last_n;
		int rc = ledger_each_bodiless(n->ledger, from, max - w.count,
					      missing_one, &w, err);
		if (rc < 0)
			return rc;
		if (w.last_n == from) /* nothing more */
			break;
	}
	return (int)w.count;
}
