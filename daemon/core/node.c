/*
 * node: the origin side of a bureau's node. Submissions become records here:
 * the node checks them, fills the header (origin, next seq, previous id,
 * creation time), signs the header bytes and appends the record to its own
 * chain, a batch per transaction so a bulk import costs one fsync per batch.
 */
#include "node.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	char name[RECORD_MAX_NAME + 1];
	char region[HT_REGION_LEN + 1];
	ident *id;
	ledger *ledger;
	const ht_clock *clock;
	ht_log *log;
	node_counters counters;
	node_trust_fn trust;
	void *trust_ctx;
};

static int write_genesis(node *n, const node_config *cfg, ht_err *err)
{
	Hutong__Genesis g = HUTONG__GENESIS__INIT;
	g.public_key.data = (uint8_t *)ident_public(n->id);
	g.public_key.len = RECORD_PK_BYTES;
	ProtobufCBinaryData certs[RECORD_MAX_CERTS];
	if (cfg->n_certs > RECORD_MAX_CERTS)
		return ht_err_set(err, HT_ELIMIT, "certs", "more than %d",
				  RECORD_MAX_CERTS);
	for (size_t i = 0; i < cfg->n_certs; i++)
		certs[i] = (ProtobufCBinaryData){cfg->cert_lens[i],
						 (uint8_t *)cfg->certs[i]};
	g.certificates = certs;
	g.n_certificates = cfg->n_certs;
	Hutong__Body body = HUTONG__BODY__INIT;
	body.content_case = HUTONG__BODY__CONTENT_GENESIS;
	body.genesis = &g;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	sub.author = "node";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	record_origin o = {n->region, n->name, 1, NULL,
			   n->clock->now_ms(n->clock->ctx)};
	record *r = NULL;
	ledger_outcome out;
	int rc = record_build(&sub, &o, ident_sign, n->id, &r, err);
	if (rc == 0)
		rc = ledger_append(n->ledger, r, "local", &out, err);
	if (rc == 0)
		log_info(n->log, "genesis origin=%s node=%s", n->region, n->name);
	record_free(&r);
	return rc;
}

/* First start: write the genesis. Later: the key must be the chain's. */
static int check_origin(node *n, const node_config *cfg, ht_err *err)
{
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	if (o == NULL)
		return write_genesis(n, cfg, err);
	if (sodium_memcmp(o->key, ident_public(n->id), RECORD_PK_BYTES) != 0)
		return ht_err_set(err, HT_ECRYPTO, "key",
				  "%s is not the key of origin %s's chain in "
				  "this ledger", cfg->key_path, n->region);
	if (strcmp(o->node, n->name) != 0)
		return ht_err_set(err, HT_EINVAL, "name",
				  "ledger has origin %s as node '%s', config "
				  "says '%s'", n->region, o->node, n->name);
	return 0;
}

node *node_open(const node_config *cfg, ht_err *err)
{
	if (sodium_init() < 0) {
		ht_err_set(err, HT_ECRYPTO, "", "libsodium init failed");
		return NULL;
	}
	node *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		return NULL;
	}
	snprintf(n->name, sizeof(n->name), "%s", cfg->name);
	snprintf(n->region, sizeof(n->region), "%s", cfg->region);
	n->clock = cfg->clock ? cfg->clock : util_clock_system();
	n->log = cfg->log;
	if (util_check_region(cfg->region, "region", err) != 0 ||
	    (n->id = ident_load(cfg->key_path, err)) == NULL ||
	    (n->ledger = ledger_open(cfg->ledger_path, LEDGER_RDWR, n->clock,
				     err)) == NULL ||
	    check_origin(n, cfg, err) != 0)
		node_free(&n);
	return n;
}

void node_free(node **np)
{
	if (np == NULL || *np == NULL)
		return;
	ident_free(&(*np)->id);
	ledger_close(&(*np)->ledger);
	free(*np);
	*np = NULL;
}

ledger *node_ledger(node *n)
{
	return n->ledger;
}

const char *node_name(const node *n)
{
	return n->name;
}

const char *node_region(const node *n)
{
	return n->region;
}

const uint8_t *node_public_key(const node *n)
{
	return ident_public(n->id);
}

/* A correction must amend an earlier record of this origin. */
static int check_correction_target(node *n, const Hutong__Submission *s,
				   ht_err *err)
{
	if (s->body == NULL ||
	    s->body->content_case != HUTONG__BODY__CONTENT_CORRECTION)
		return 0;
	record *t = NULL;
	int rc = ledger_get(n->ledger, s->body->correction->target.data, &t,
			    NULL, err);
	if (rc != 0)
		return ht_err_set(err, HT_EINVAL, "body.correction.target",
				  "no such record in this ledger");
	const Hutong__Header *h = record_header(t);
	if (strcmp(h->origin_region, n->region) != 0)
		rc = ht_err_set(err, HT_EINVAL, "body.correction.target",
				"record of origin %s; a bureau corrects only "
				"its own records", h->origin_region);
	else if (h->kind == HUTONG__KIND__KIND_GENESIS ||
		 h->kind == HUTONG__KIND__KIND_CORRECTION)
		rc = ht_err_set(err, HT_EINVAL, "body.correction.target",
				"a %s record cannot be corrected",
				record_kind_name(h->kind));
	record_free(&t);
	return rc;
}

/* Build, sign and append one submission inside the open transaction. */
static int submit_one(node *n, const Hutong__Submission *s, node_result *res)
{
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	record_origin at = {n->region, n->name, o->seq + 1, o->head,
			    n->clock->now_ms(n->clock->ctx)};
	record *r = NULL;
	ledger_outcome out;
	int rc = record_check_submission(s, &res->err);
	if (rc == 0)
		rc = check_correction_target(n, s, &res->err);
	if (rc == 0)
		rc = record_build(s, &at, ident_sign, n->id, &r, &res->err);
	if (rc == 0)
		rc = ledger_append(n->ledger, r, "local", &out, &res->err);
	if (rc == 0)
		memcpy(res->id, record_id(r), RECORD_ID_BYTES);
	res->code = rc;
	record_free(&r);
	return rc;
}

static bool is_storage_error(int rc)
{
	return rc == HT_EIO || rc == HT_EFULL || rc == HT_ENOMEM ||
	       rc == HT_ECORRUPT;
}

/* Storage failed: nothing of the batch is stored; say so in each result. */
static int fail_batch(node *n, size_t count, node_result *results, int rc,
		      ht_err *err)
{
	for (size_t i = 0; i < count; i++) {
		results[i].code = rc;
		memcpy(&results[i].err, err, sizeof(*err));
	}
	log_warn(n->log, "submit failed count=%zu error=\"%s\"", count, err->msg);
	return rc;
}

int node_submit(node *n, Hutong__Submission *const *subs, size_t count,
		node_result *results, ht_err *err)
{
	if (count > NODE_MAX_BATCH)
		return ht_err_set(err, HT_ELIMIT, "", "more than %d records in "
				  "one batch", NODE_MAX_BATCH);
	memset(results, 0, count * sizeof(*results));
	int rc = ledger_begin(n->ledger, err);
	if (rc != 0)
		return fail_batch(n, count, results, rc, err);
	for (size_t i = 0; i < count; i++) {
		rc = submit_one(n, subs[i], &results[i]);
		if (is_storage_error(rc)) {
			memcpy(err, &results[i].err, sizeof(*err));
			ledger_rollback(n->ledger);
			return fail_batch(n, count, results, rc, err);
		}
	}
	if ((rc = ledger_commit(n->ledger, err)) != 0)
		return fail_batch(n, count, results, rc, err);
	char hex[2 * RECORD_ID_BYTES + 1];
	for (size_t i = 0; i < count; i++)
		if (results[i].code == 0)
			log_info(n->log, "stored id=%s origin=%s source=local",
				 util_hex(results[i].id, RECORD_ID_BYTES, hex),
				 n->region);
	return 0;
}

/* ---- records from peers ---- */

void node_set_trust(node *n, node_trust_fn fn, void *ctx)
{
	n->trust = fn;
	n->trust_ctx = ctx;
}

const node_counters *node_get_counters(const node *n)
{
	return &n->counters;
}

/* The key r must verify with: its origin's, or for a genesis its own after
 * the trust hook accepted it. NULL (and counted) when there is none. */
static const uint8_t *signer_key(node *n, const record *r, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o = ledger_origin_find(n->ledger, h->origin_region);
	if (o != NULL)
		return o->key;
	if (!record_is_genesis(r)) {
		ht_err_set(err, HT_EGAP, "header.seq", "origin %s unknown here; "
			   "its genesis must come first", h->origin_region);
		return NULL;
	}
	if (record_body(r) == NULL) {
		ht_err_set(err, HT_EINVAL, "body", "genesis without its body");
		return NULL;
	}
	if (n->trust != NULL && n->trust(n->trust_ctx, r, err) != 0) {
		n->counters.trust++;
		return NULL;
	}
	return record_body(r)->genesis->public_key.data;
}

static sync_result outcome_result(ledger_outcome out)
{
	return out == LEDGER_APPENDED    ? SYNC_STORED
	       : out == LEDGER_DUPLICATE ? SYNC_DUPLICATE
					 : SYNC_FORK;
}

static void log_refusal(node *n, const char *peer, const uint8_t *env,
			size_t len, const record *r, const ht_err *err)
{
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	char hex[2 * RECORD_ID_BYTES + 1];
	if (r == NULL) {
		log_warn(n->log, "refused peer=%s bytes=%zu reason=\"%s\"", peer,
			 len, ht_err_str(err, msg, sizeof(msg)));
		return;
	}
	const Hutong__Header *h = record_header(r);
	log_warn(n->log, "refused peer=%s origin=%s seq=%llu id=%s "
		 "reason=\"%s\"", peer, h->origin_region,
		 (unsigned long long)h->seq,
		 util_hex(record_id(r), RECORD_ID_BYTES, hex),
		 ht_err_str(err, msg, sizeof(msg)));
	(void)env;
}

/* One envelope: parse, key, signature, chain rules. */
static sync_result receive_one(node *n, const char *peer, const uint8_t *env,
			       size_t len, int *storage_rc, ht_err *serr)
{
	ht_err err = {0};
	ledger_outcome out;
	record *r = record_parse(env, len, &err);
	const uint8_t *key = r ? signer_key(n, r, &err) : NULL;
	sync_result res = SYNC_REFUSED;
	int rc;
	if (r == NULL) {
		n->counters.decode++;
	} else if (key == NULL && err.msg[0] && strstr(err.field, "seq")) {
		n->counters.gaps++;
		res = SYNC_GAP;
	} else if (key == NULL) {
		/* trust hook refused, or genesis without body: logged below */
	} else if (!record_verify(r, key)) {
		n->counters.signature++;
		ht_err_set(&err, HT_ECRYPTO, "signature", "does not verify with "
			   "origin %s's key", record_header(r)->origin_region);
	} else if ((rc = ledger_append(n->ledger, r, peer, &out, &err)) == 0) {
		res = outcome_result(out);
		if (out == LEDGER_FORK) {
			n->counters.forks++;
			log_warn(n->log, "fork peer=%s origin=%s seq=%llu",
				 peer, record_header(r)->origin_region,
				 (unsigned long long)record_header(r)->seq);
		}
	} else if (rc == HT_EGAP) {
		n->counters.gaps++;
		res = SYNC_GAP;
	} else if (rc == HT_EINVAL) {
		n->counters.chain++;
	} else {
		*storage_rc = rc;
		*serr = err;
	}
	if (res == SYNC_REFUSED && *storage_rc == 0)
		log_refusal(n, peer, env, len, r, &err);
	record_free(&r);
	return res;
}

int node_receive(void *ctx, const char *peer, const uint8_t *const *env,
		 const size_t *len, size_t count, sync_result *results)
{
	node *n = ctx;
	ht_err err = {0};
	int rc = ledger_begin(n->ledger, &err);
	for (size_t i = 0; rc == 0 && i < count; i++)
		results[i] = receive_one(n, peer, env[i], len[i], &rc, &err);
	if (rc == 0)
		rc = ledger_commit(n->ledger, &err);
	else
		ledger_rollback(n->ledger);
	if (rc != 0)
		log_warn(n->log, "receive failed peer=%s count=%zu error=\"%s\"",
			 peer, count, err.msg);
	return rc;
}
