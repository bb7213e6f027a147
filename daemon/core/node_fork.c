/*
 * node_fork: forks, the evidence of an equivocation. A node that meets
 * both versions of a fork signs a report carrying both (without bodies)
 * in its own chain; the report travels like any record, and every node
 * that takes it keeps the version it lacks as evidence and flags the
 * origin (take_evidence). A version beyond this node's head waits in
 * n->fpend until the chain reaches its seq: storing it then would choose
 * a branch. The list is rebuilt from the reports in the ledger when the
 * node opens. An operator resolves a fork (node_fork_resolve).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_impl.h"

static void fpend_add(node *n, const record *x)
{
	const Hutong__Header *h = record_header(x);
	size_t len;
	const uint8_t *env = record_bytes(x, &len);
	for (size_t i = 0; i < n->n_fpend; i++)
		if (n->fpend[i].len == len &&
		    memcmp(n->fpend[i].env, env, len) == 0)
			return;
	if (n->n_fpend == NODE_MAX_FPEND) {
		log_warn(n->log,
			 "fork evidence dropped origin=%s seq=%llu "
			 "waiting=%d reason=\"too many waiting\"",
			 LOG_T(h->origin_region), (unsigned long long)h->seq,
			 NODE_MAX_FPEND);
		return;
	}
	fork_pending *p = &n->fpend[n->n_fpend];
	if ((p->env = malloc(len)) == NULL)
		return;
	memcpy(p->env, env, len);
	p->len = len;
	snprintf(p->origin, sizeof(p->origin), "%s", h->origin_region);
	p->seq = h->seq;
	n->n_fpend++;
}

/* A version at a held seq is checked like a record from a peer: the key
 * in force at its seq, its signature, the certificate rules. */
static int evidence_check(node *n, const record *x, ht_err *err)
{
	uint8_t keybuf[RECORD_PK_BYTES];
	const uint8_t *key = node_signer_key(n, x, keybuf, err);
	if (key == NULL)
		return HT_ECRYPTO;
	if (!record_verify(x, key))
		return ht_err_set(err, HT_ECRYPTO, "signature",
				  "does not verify with origin %s's key",
				  record_header(x)->origin_region);
	return node_check_trust(n, x, err);
}

/* A version that conflicts with our chain was kept: count, log, row. */
static void evidence_kept(node *n, const record *x, const char *peer,
			  const char *reporter, node_batch_log *bl)
{
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	char hex[2 * RECORD_ID_BYTES + 1];
	const Hutong__Header *h = record_header(x);
	n->counters.forks++;
	log_warn(n->log, "fork peer=%s origin=%s seq=%llu reported_by=%s",
		 LOG_T(peer), LOG_T(h->origin_region),
		 (unsigned long long)h->seq, LOG_T(reporter));
	snprintf(msg, sizeof(msg), "%s (reported by %s)",
		 util_hex(record_id(x), RECORD_ID_BYTES, hex), reporter);
	node_batch_note(bl, LEDGER_EV_FORK, x, msg);
}

/* One version from a report: verified like a record from a peer, then
 * kept as evidence if it conflicts with what this node holds. Returns a
 * storage error only; a bad version is logged and skipped. */
static int take_evidence(node *n, const record *x, const char *peer,
			 const char *reporter, node_batch_log *bl)
{
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	const Hutong__Header *h = record_header(x);
	const ledger_origin *o =
	    ledger_origin_find(n->ledger, h->origin_region);
	ledger_outcome out;
	ht_err err = {0};
	if (o == NULL || h->seq > o->seq) {
		fpend_add(n, x);
		return 0;
	}
	int rc = evidence_check(n, x, &err);
	if (rc == 0)
		rc = ledger_append(n->ledger, x, peer, &out, &err);
	if (rc != 0 && node_is_storage_error(rc))
		return rc;
	if (rc != 0)
		log_warn(n->log,
			 "fork report version refused reporter=%s "
			 "origin=%s seq=%llu reason=%s",
			 LOG_T(reporter), LOG_T(h->origin_region),
			 (unsigned long long)h->seq,
			 LOG_Q(ht_err_str_private(&err, msg, sizeof(msg))));
	else if (out == LEDGER_FORK)
		evidence_kept(n, x, peer, reporter, bl);
	return 0;
}

/* A report just appended: both versions, same origin and seq, different
 * records; then each is taken as evidence. */
static int take_report(node *n, const record *rep, const char *peer,
		       node_batch_log *bl)
{
	const Hutong__ForkReport *f = record_body(rep)->fork;
	const char *reporter = record_header(rep)->origin_region;
	ht_err err = {0};
	record *a = record_parse(f->first.data, f->first.len, &err);
	record *b =
	    a ? record_parse(f->second.data, f->second.len, &err) : NULL;
	int rc = 0;
	if (a == NULL || b == NULL ||
	    strcmp(record_header(a)->origin_region,
		   record_header(b)->origin_region) != 0 ||
	    record_header(a)->seq != record_header(b)->seq ||
	    memcmp(record_id(a), record_id(b), RECORD_ID_BYTES) == 0)
		log_warn(n->log,
			 "fork report is not a fork reporter=%s reason=%s",
			 LOG_T(reporter),
			 LOG_Q(err.msg[0] ? err.msg
					  : "the versions do not conflict"));
	else if ((rc = take_evidence(n, a, peer, reporter, bl)) == 0)
		rc = take_evidence(n, b, peer, reporter, bl);
	record_free(&a);
	record_free(&b);
	return rc;
}

/* origin's chain grew: evidence waiting for it may be taken now. */
static int fpend_retry(node *n, const char *origin, const char *peer,
		       node_batch_log *bl)
{
	const ledger_origin *o = ledger_origin_find(n->ledger, origin);
	for (size_t i = 0; o != NULL && i < n->n_fpend;) {
		fork_pending *p = &n->fpend[i];
		if (strcmp(p->origin, origin) != 0 || p->seq > o->seq) {
			i++;
			continue;
		}
		ht_err err = {0};
		record *x = record_parse(p->env, p->len, &err);
		free(p->env);
		*p = n->fpend[--n->n_fpend];
		int rc =
		    x ? take_evidence(n, x, peer, "an earlier report", bl) : 0;
		record_free(&x);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Sign and append a report carrying versions a and b (without bodies) as
 * the next record of our chain (*r). */
static int report_sign(node *n, const record *a, const record *b, record **r,
		       ht_err *err)
{
	Hutong__ForkReport f = HUTONG__FORK_REPORT__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	ledger_outcome out;
	f.first.data = (uint8_t *)record_bytes(a, &f.first.len);
	f.second.data = (uint8_t *)record_bytes(b, &f.second.len);
	body.content_case = HUTONG__BODY__CONTENT_FORK;
	body.fork = &f;
	sub.author = "node";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	const ledger_origin *own = ledger_origin_find(n->ledger, n->region);
	record_origin at = {n->region, n->name, own->seq + 1, own->head,
			    n->clock->now_ms(n->clock->ctx)};
	int rc = record_build(&sub, &at, ident_sign, n->id, r, err);
	if (rc == 0)
		rc = ledger_append(n->ledger, *r, "local", &out, err);
	return rc;
}

int node_fork_report(node *n, const record *ev, ht_err *err)
{
	const Hutong__Header *h = record_header(ev);
	record *chain = NULL, *a = NULL, *b = NULL, *r = NULL;
	if (!n->own_ready) /* catching up its own chain: the evidence is kept,
			    * a report waits for a node that signs */
		return 0;
	int rc = ledger_get_seq(n->ledger, h->origin_region, h->seq, &chain,
				NULL, err);
	if (rc == 0 && ((a = record_without_body(chain)) == NULL ||
			(b = record_without_body(ev)) == NULL))
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (rc == 0)
		rc = report_sign(n, a, b, &r, err);
	if (rc == 0) {
		char hex[2 * RECORD_ID_BYTES + 1];
		log_warn(n->log, "fork reported id=%s origin=%s seq=%llu",
			 util_hex(record_id(r), RECORD_ID_BYTES, hex),
			 LOG_T(h->origin_region), (unsigned long long)h->seq);
	}
	record_free(&chain);
	record_free(&a);
	record_free(&b);
	record_free(&r);
	return rc;
}

static int report_one(void *ctx, const record *rep, const ledger_meta *m)
{
	node *n = ctx;
	const Hutong__Body *b = record_body(rep);
	ht_err err = {0};
	if (b == NULL || b->content_case != HUTONG__BODY__CONTENT_FORK)
		return 0;
	const ProtobufCBinaryData *v[2] = {&b->fork->first, &b->fork->second};
	for (int i = 0; i < 2; i++) {
		record *x = record_parse(v[i]->data, v[i]->len, &err);
		const ledger_origin *o =
		    x ? ledger_origin_find(n->ledger,
					   record_header(x)->origin_region)
		      : NULL;
		if (x != NULL && (o == NULL || record_header(x)->seq > o->seq))
			fpend_add(n, x);
		record_free(&x);
	}
	(void)m;
	return 0;
}

void node_fork_free(node *n)
{
	for (size_t i = 0; i < n->n_fpend; i++)
		free(n->fpend[i].env);
	n->n_fpend = 0;
}

int node_fork_load(node *n, ht_err *err)
{
	ledger_filter f = {.kind = HUTONG__KIND__KIND_FORK};
	return ledger_each(n->ledger, &f, report_one, n, err);
}

int node_fork_after_append(node *n, const record *r, const char *peer,
			   node_batch_log *bl)
{
	const Hutong__Body *b = record_body(r);
	int rc = 0;
	if (b != NULL && b->content_case == HUTONG__BODY__CONTENT_FORK)
		rc = take_report(n, r, peer, bl);
	if (rc == 0 && n->n_fpend > 0)
		rc = fpend_retry(n, record_header(r)->origin_region, peer, bl);
	return rc;
}

int node_fork_resolve(node *n, const char *origin,
		      const uint8_t keep[RECORD_ID_BYTES], ht_err *err)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	int rc = ledger_fork_resolve(n->ledger, origin, keep, err);
	if (rc == 0)
		log_warn(n->log, "fork resolved by operator origin=%s keep=%s",
			 LOG_T(origin), util_hex(keep, RECORD_ID_BYTES, hex));
	return rc;
}
