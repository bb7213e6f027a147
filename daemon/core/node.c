/*
 * node: the origin side of a bureau's node. Submissions become records here:
 * the node checks them, fills the header (origin, next seq, previous id,
 * creation time), signs the header bytes and appends the record to its own
 * chain, a batch per transaction so a bulk import costs one fsync per batch.
 * This file also opens and frees a node (its key, its ledger, its genesis
 * on first start), rotates its key and holds the hooks. A record is dated
 * now, or its predecessor's time when our clock is behind that (a chain's
 * times never go back; node_next_created); records from peers
 * are node_receive.c's, certificates node_trust.c's, forks node_fork.c's
 * and receipts node_receipt.c's.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_impl.h"

/* ---- keys: genesis, renewal, rotation ---- */

/* A genesis or rotation body for pk and its certificates (all borrowed). */
static void key_body(bool genesis, const uint8_t *pk,
		     ProtobufCBinaryData *certs, size_t nc, Hutong__Genesis *g,
		     Hutong__Rotation *rot, Hutong__Body *body)
{
	if (genesis) {
		g->public_key =
		    (ProtobufCBinaryData){RECORD_PK_BYTES, (uint8_t *)pk};
		g->certificates = certs;
		g->n_certificates = nc;
		body->content_case = HUTONG__BODY__CONTENT_GENESIS;
		body->genesis = g;
	} else {
		rot->public_key =
		    (ProtobufCBinaryData){RECORD_PK_BYTES, (uint8_t *)pk};
		rot->certificates = certs;
		rot->n_certificates = nc;
		body->content_case = HUTONG__BODY__CONTENT_ROTATION;
		body->rotation = rot;
	}
}

/* Sign and store a genesis (seq 1) or rotation record carrying pk and its
 * certificate chain, signed by the node's current key. */
static int write_key_record(node *n, bool genesis, const uint8_t *pk,
			    const uint8_t *const *der, const size_t *lens,
			    size_t nc, uint8_t id[RECORD_ID_BYTES], ht_err *err)
{
	ProtobufCBinaryData certs[RECORD_MAX_CERTS];
	if (nc > RECORD_MAX_CERTS)
		return ht_err_set(err, HT_ELIMIT, "certs", "more than %d",
				  RECORD_MAX_CERTS);
	for (size_t i = 0; i < nc; i++)
		certs[i] = (ProtobufCBinaryData){lens[i], (uint8_t *)der[i]};
	Hutong__Genesis g = HUTONG__GENESIS__INIT;
	Hutong__Rotation rot = HUTONG__ROTATION__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	key_body(genesis, pk, certs, nc, &g, &rot, &body);
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	sub.author = "node";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	record_origin at = {
	    n->region, n->name, o ? o->seq + 1 : 1, o ? o->head : NULL,
	    node_next_created(n, n->clock->now_ms(n->clock->ctx))};
	record *r = NULL;
	ledger_outcome out;
	int rc = record_build(&sub, &at, ident_sign, n->id, &r, err);
	if (rc == 0)
		rc = ledger_append(n->ledger, r, "local", &out, err);
	if (rc == 0) {
		char hex[2 * RECORD_ID_BYTES + 1];
		memcpy(id, record_id(r), RECORD_ID_BYTES);
		log_info(n->log, "%s origin=%s node=%s id=%s",
			 genesis ? "genesis" : "rotation", n->region, n->name,
			 util_hex(id, RECORD_ID_BYTES, hex));
	}
	record_free(&r);
	return rc;
}

/* The configured certificate differs from the one the chain carries (a
 * renewal): record it, signed by the same key, before signing anything. */
static int check_renewal(node *n, const ledger_origin *o,
			 const node_config *cfg, ht_err *err)
{
	uint8_t id[RECORD_ID_BYTES];
	if (n->pki == NULL || cfg->n_certs == 0)
		return 0;
	origin_cert *c = node_cert_of(n, o);
	if (c != NULL && c->st.trusted && c->chain.n > 0 &&
	    c->chain.len[0] == cfg->cert_lens[0] &&
	    memcmp(c->chain.der[0], cfg->certs[0], c->chain.len[0]) == 0)
		return 0;
	log_info(n->log, "certificate renewed: recording it origin=%s",
		 n->region);
	return write_key_record(n, false, ident_public(n->id), cfg->certs,
				cfg->cert_lens, cfg->n_certs, id, err);
}

int node_write_genesis(node *n, ht_err *err)
{
	uint8_t id[RECORD_ID_BYTES];
	int rc = write_key_record(n, true, ident_public(n->id), n->gen_certs,
				  n->gen_lens, n->gen_n, id, err);
	if (rc == 0)
		n->own_ready = true;
	return rc;
}

/* First start: write the genesis, or with defer_genesis leave that to
 * node_catchup_tick. Later: the key must be the chain's. */
static int check_origin(node *n, const node_config *cfg, ht_err *err)
{
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	n->gen_certs = cfg->certs;
	n->gen_lens = cfg->cert_lens;
	n->gen_n = cfg->n_certs;
	if (o == NULL)
		return cfg->defer_genesis ? 0 : node_write_genesis(n, err);
	n->own_ready = true;
	if (sodium_memcmp(o->key, ident_public(n->id), RECORD_PK_BYTES) != 0)
		return ht_err_set(err, HT_ECRYPTO, "key",
				  "%s is not the key of origin %s's chain in "
				  "this ledger",
				  cfg->key_path, n->region);
	if (strcmp(o->node, n->name) != 0)
		return ht_err_set(err, HT_EINVAL, "name",
				  "ledger has origin %s as node '%s', config "
				  "says '%s'",
				  n->region, o->node, n->name);
	return check_renewal(n, o, cfg, err);
}

/* With a trust store, this node's own chain must be valid now for its key,
 * name and region: a node without a good certificate does not start. */
static int check_own_cert(node *n, const node_config *cfg, ht_err *err)
{
	ProtobufCBinaryData certs[PKI_MAX_CHAIN];
	pki_identity id;
	if (n->pki == NULL)
		return 0;
	if (cfg->n_certs == 0 || cfg->n_certs > PKI_MAX_CHAIN)
		return ht_err_set(err, HT_ETRUST, "cert",
				  "no certificate for "
				  "this node");
	for (size_t i = 0; i < cfg->n_certs; i++)
		certs[i] = (ProtobufCBinaryData){cfg->cert_lens[i],
						 (uint8_t *)cfg->certs[i]};
	return node_check_chain(
	    n->pki, certs, cfg->n_certs, n->clock->now_ms(n->clock->ctx),
	    ident_public(n->id), n->region, n->name, &id, err);
}

/* ---- open and free ---- */

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
	n->max_skew_ms = cfg->max_clock_skew_ms;
	n->log = cfg->log;
	n->pki = cfg->pki;
	if (util_check_region(cfg->region, "region", err) != 0 ||
	    (n->id = ident_load(cfg->key_path, err)) == NULL ||
	    check_own_cert(n, cfg, err) != 0 ||
	    node_ledger_file_check(n, cfg->ledger_path, cfg->defer_genesis,
				   err) != 0 ||
	    (n->ledger = ledger_open(cfg->ledger_path, LEDGER_RDWR, n->clock,
				     err)) == NULL ||
	    node_reapply_revocations(n, err) != 0 ||
	    check_origin(n, cfg, err) != 0 || node_fork_load(n, err) != 0)
		node_free(&n);
	return n;
}

void node_free(node **np)
{
	if (np == NULL || *np == NULL)
		return;
	node *n = *np;
	pool_free(&n->pool);
	node_certs_free(n);
	free(n->rcpt_marks);
	node_fork_free(n);
	node_pending_flush(n, false);
	free(n->pending);
	ident_free(&n->id);
	ledger_close(&n->ledger);
	free(n);
	*np = NULL;
}

ledger *node_ledger(node *n) { return n->ledger; }

const char *node_name(const node *n) { return n->name; }

const char *node_region(const node *n) { return n->region; }

const uint8_t *node_public_key(const node *n) { return ident_public(n->id); }

/* ---- hooks: the submit check and the stored records ---- */

void node_set_check(node *n, node_check_fn fn, void *ctx)
{
	n->check = fn;
	n->check_ctx = ctx;
}

void node_set_stored_hook(node *n, node_stored_fn fn, void *ctx)
{
	n->stored = fn;
	n->stored_ctx = ctx;
}

void node_pending_keep(node *n, record **r)
{
	if (n->stored == NULL)
		return;
	if (n->n_pending == n->cap_pending) {
		size_t cap = n->cap_pending ? n->cap_pending * 2 : 64;
		record **p = realloc(n->pending, cap * sizeof(*p));
		if (p == NULL) {
			log_warn(
			    n->log,
			    "stored hook skipped reason=\"out of memory: a "
			    "stored record is not passed to the stored hook\"");
			return;
		}
		n->pending = p;
		n->cap_pending = cap;
	}
	n->pending[n->n_pending++] = *r;
	*r = NULL;
}

void node_pending_flush(node *n, bool committed)
{
	for (size_t i = 0; i < n->n_pending; i++) {
		if (committed && n->stored != NULL)
			n->stored(n->stored_ctx, n->pending[i]);
		record_free(&n->pending[i]);
	}
	n->n_pending = 0;
}

/* ---- submit ---- */

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
				"its own records",
				h->origin_region);
	else if (h->kind == HUTONG__KIND__KIND_GENESIS ||
		 h->kind == HUTONG__KIND__KIND_CORRECTION)
		rc = ht_err_set(err, HT_EINVAL, "body.correction.target",
				"a %s record cannot be corrected",
				record_kind_name(h->kind));
	record_free(&t);
	return rc;
}

typedef struct ref_find {
	const char *region, *author, *ref;
	uint8_t id[RECORD_ID_BYTES];
	bool found;
} ref_find;

/* ledger_each_term callback: this origin's record by the author with the
 * ref (the term may be cut short, so compare the header). */
static int ref_match(void *ctx, const record *r, const ledger_meta *m)
{
	ref_find *f = ctx;
	const Hutong__Header *h = record_header(r);
	(void)m;
	if (strcmp(h->origin_region, f->region) != 0 ||
	    strcmp(h->author, f->author) != 0 || strcmp(h->ref, f->ref) != 0)
		return 0;
	memcpy(f->id, record_id(r), RECORD_ID_BYTES);
	f->found = true;
	return 1;
}

/* Was s's ref stored already (the same author, this origin)? Then res
 * names that record and 1 is returned, so a re-run import does not
 * duplicate records; 0 when not, or a storage error. Records earlier in the
 * open batch count: their terms are in the transaction. */
static int find_ref(node *n, const Hutong__Submission *s, node_result *res)
{
	char term[RECORD_MAX_TERM];
	if (s->ref == NULL || s->ref[0] == '\0' || s->author == NULL)
		return 0;
	snprintf(term, sizeof(term), "ref:%s:%s", s->author, s->ref);
	ref_find f = {n->region, s->author, s->ref, {0}, false};
	int rc = ledger_each_term(n->ledger, term, ref_match, &f, &res->err);
	if (rc < 0)
		return rc;
	if (!f.found)
		return 0;
	memcpy(res->id, f.id, RECORD_ID_BYTES);
	res->existing = true;
	res->code = 0;
	return 1;
}

/* Build, sign and append one submission inside the open transaction. */
static int submit_one(node *n, const Hutong__Submission *s, node_result *res)
{
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	record_origin at = {
	    n->region, n->name, o->seq + 1, o->head,
	    node_next_created(n, n->clock->now_ms(n->clock->ctx))};
	record *r = NULL;
	ledger_outcome out;
	int rc = record_check_submission(s, &res->err);
	if (rc == 0 && (rc = find_ref(n, s, res)) != 0)
		return rc < 0 ? (res->code = rc) : 0;
	if (rc == 0)
		rc = check_correction_target(n, s, &res->err);
	if (rc == 0)
		rc = record_build(s, &at, ident_sign, n->id, &r, &res->err);
	if (rc == 0 && n->check != NULL)
		rc = n->check(n->check_ctx, n->ledger, r, &res->err);
	if (rc == 0)
		rc = node_check_trust(n, r, &res->err);
	if (rc == 0)
		rc = ledger_append(n->ledger, r, "local", &out, &res->err);
	if (rc == 0)
		memcpy(res->id, record_id(r), RECORD_ID_BYTES);
	res->code = rc;
	if (rc == 0)
		node_pending_keep(n, &r);
	record_free(&r);
	return rc;
}

bool node_is_storage_error(int rc)
{
	return rc == HT_EIO || rc == HT_EFULL || rc == HT_ENOMEM ||
	       rc == HT_ECORRUPT;
}

/* Storage failed: nothing of the batch is stored; say so in each result. */
static int fail_batch(node *n, size_t count, node_result *results, int rc,
		      ht_err *err)
{
	node_pending_flush(n, false);
	for (size_t i = 0; i < count; i++) {
		results[i].code = rc;
		memcpy(&results[i].err, err, sizeof(*err));
	}
	log_warn(n->log, "submit failed count=%zu error=%s", count,
		 LOG_Q(err->msg));
	return rc;
}

int node_submit(node *n, Hutong__Submission *const *subs, size_t count,
		node_result *results, ht_err *err)
{
	if (count > NODE_MAX_BATCH)
		return ht_err_set(err, HT_ELIMIT, "",
				  "more than %d records in "
				  "one batch",
				  NODE_MAX_BATCH);
	memset(results, 0, count * sizeof(*results));
	if (node_check_ready(n, err) != 0) {
		for (size_t i = 0; i < count; i++) {
			results[i].code = HT_ESTATE;
			results[i].err = *err;
		}
		return HT_ESTATE;
	}
	int64_t t0 = util_mono_us();
	int rc = ledger_begin(n->ledger, err);
	if (rc != 0)
		return fail_batch(n, count, results, rc, err);
	for (size_t i = 0; i < count; i++) {
		rc = submit_one(n, subs[i], &results[i]);
		if (node_is_storage_error(rc)) {
			memcpy(err, &results[i].err, sizeof(*err));
			ledger_rollback(n->ledger);
			return fail_batch(n, count, results, rc, err);
		}
	}
	if ((rc = ledger_commit(n->ledger, err)) != 0)
		return fail_batch(n, count, results, rc, err);
	node_hist_add(&n->counters.commit, util_mono_us() - t0);
	char hex[2 * RECORD_ID_BYTES + 1];
	for (size_t i = 0; i < count; i++)
		if (results[i].code == 0 && !results[i].existing)
			log_info(n->log, "stored id=%s origin=%s source=local",
				 util_hex(results[i].id, RECORD_ID_BYTES, hex),
				 n->region);
	node_pending_flush(n, true);
	return 0;
}

/* ---- rotation ---- */

int node_rotate(node *n, const char *new_key_path, const uint8_t *const *certs,
		const size_t *cert_lens, size_t n_certs,
		uint8_t id[RECORD_ID_BYTES], ht_err *err)
{
	ProtobufCBinaryData chain[PKI_MAX_CHAIN];
	pki_identity pid;
	if (node_check_ready(n, err) != 0)
		return HT_ESTATE;
	ident *fresh = new_key_path ? ident_load(new_key_path, err) : NULL;
	if (new_key_path != NULL && fresh == NULL)
		return HT_EINVAL;
	const uint8_t *pk = fresh ? ident_public(fresh) : ident_public(n->id);
	int rc = n_certs > 0 && n_certs <= PKI_MAX_CHAIN
		     ? 0
		     : ht_err_set(err, HT_EINVAL, "cert",
				  "want 1 to %d certificates", PKI_MAX_CHAIN);
	for (size_t i = 0; rc == 0 && i < n_certs; i++)
		chain[i] =
		    (ProtobufCBinaryData){cert_lens[i], (uint8_t *)certs[i]};
	if (rc == 0 && n->pki != NULL)
		rc = node_check_chain(n->pki, chain, n_certs,
				      n->clock->now_ms(n->clock->ctx), pk,
				      n->region, n->name, &pid, err);
	if (rc == 0)
		rc = write_key_record(n, false, pk, certs, cert_lens, n_certs,
				      id, err);
	if (rc == 0 && fresh != NULL) {
		ident_free(&n->id);
		n->id = fresh;
		fresh = NULL;
	}
	ident_free(&fresh);
	return rc;
}
