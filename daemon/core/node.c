/*
 * node: the origin side of a bureau's node. Submissions become records here:
 * the node checks them, fills the header (origin, next seq, previous id,
 * creation time), signs the header bytes and appends the record to its own
 * chain, a batch per transaction so a bulk import costs one fsync per batch.
 * Records from peers are parsed and their signatures checked ahead of each
 * batch's transaction on two threads (see node_receive); everything else
 * runs on the caller's thread.
 */
#include "node.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_MEMO 32              /* remembered refusal event rows */
#define NODE_COALESCE_MS 60000    /* repeats within this add to one row */
#define NODE_MAX_FPEND 64         /* reported fork versions beyond our head */

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
	pki_store *pki;          /* not owned; NULL without PKI */
	struct origin_cert *certs; /* cache of origins' current certificates */
	size_t n_certs, cap_certs;
	/* receipts: what the last one said, and what was checked since */
	bool rcpt_loaded;
	int64_t rcpt_last_ms;    /* its creation time; INT64_MIN: none yet */
	uint64_t rcpt_own_seq;   /* its seq in our own chain */
	int64_t rcpt_retry_ms;   /* after a failure, not before this */
	struct rcpt_mark *rcpt_marks; /* per origin: seq known to add nothing
				       * but receipts since the last one */
	size_t n_rcpt_marks;
	/* refusals repeated by a peer add to one event row (see below) */
	struct refusal_memo {
		char peer[RECORD_MAX_NAME + 1];
		int kind;
		char origin[HT_REGION_LEN + 1];
		uint64_t reason_hash;
		int64_t row, at_ms;
	} memo[NODE_MEMO];
	size_t memo_next;
	/* versions of reported forks beyond this node's head (fork reports) */
	struct fork_pending {
		uint8_t *env;
		size_t len;
		char origin[HT_REGION_LEN + 1];
		uint64_t seq;
	} fpend[NODE_MAX_FPEND];
	size_t n_fpend;
	/* hooks (node_set_check, node_set_stored_hook) */
	node_check_fn check;
	void *check_ctx;
	node_stored_fn stored;
	void *stored_ctx;
	record **pending;        /* appended in the open transaction */
	size_t n_pending, cap_pending;
};

typedef struct rcpt_mark {
	char region[HT_REGION_LEN + 1];
	uint64_t seq;
} rcpt_mark;

/* An origin's current certificate as installed by its genesis or last
 * rotation (key_id), verified once at that record's creation time. */
typedef struct origin_cert {
	char region[HT_REGION_LEN + 1];
	uint8_t key_id[RECORD_ID_BYTES];
	bool loaded;
	node_cert_state st; /* as judged at load, revocations kept current */
	pki_chain chain;    /* the certificates installed, node's first */
} origin_cert;


/* ---- trust: certificates of origins ---- */

/* Does the chain in certs verify at at_ms for this key, region and name? */
static int check_chain(const pki_store *pki, const ProtobufCBinaryData *certs,
		       size_t nc, int64_t at_ms, const uint8_t *pk,
		       const char *region, const char *name, pki_identity *id,
		       ht_err *err)
{
	const uint8_t *der[PKI_MAX_CHAIN];
	size_t len[PKI_MAX_CHAIN];
	if (nc == 0)
		return ht_err_set(err, HT_ETRUST, "certificates",
				  "origin %s presents no certificate", region);
	if (nc > PKI_MAX_CHAIN)
		return ht_err_set(err, HT_ELIMIT, "certificates",
				  "more than %d", PKI_MAX_CHAIN);
	for (size_t i = 0; i < nc; i++) {
		der[i] = certs[i].data;
		len[i] = certs[i].len;
	}
	int rc = pki_verify_chain(pki, der, len, nc, at_ms, id, err);
	if (rc == 0)
		rc = pki_check_region(id, region, err);
	if (rc == 0)
		rc = pki_check_key(id, pk, err);
	if (rc == 0 && strcmp(id->name, name) != 0)
		rc = ht_err_set(err, HT_ETRUST, "certificate",
				"certificate names node '%s', record says '%s'",
				id->name, name);
	return rc;
}

/* Check the certificates a genesis or rotation record installs. */
static int check_key_change(node *n, const record *r, ht_err *err)
{
	const uint8_t *pk;
	const ProtobufCBinaryData *certs;
	size_t nc;
	const Hutong__Header *h = record_header(r);
	pki_identity id;
	if (!record_key_change(r, &pk, &certs, &nc))
		return 0;
	return check_chain(n->pki, certs, nc, h->created_ms, pk,
			   h->origin_region, h->origin_node, &id, err);
}

static void cert_free(origin_cert *c)
{
	pki_chain_clear(&c->chain);
}

static origin_cert *cert_slot(node *n, const char *region)
{
	for (size_t i = 0; i < n->n_certs; i++)
		if (strcmp(n->certs[i].region, region) == 0)
			return &n->certs[i];
	if (n->n_certs == n->cap_certs) {
		size_t cap = n->cap_certs ? n->cap_certs * 2 : 32;
		origin_cert *c = realloc(n->certs, cap * sizeof(*c));
		if (c == NULL)
			return NULL;
		n->certs = c;
		n->cap_certs = cap;
	}
	origin_cert *c = &n->certs[n->n_certs++];
	memset(c, 0, sizeof(*c));
	snprintf(c->region, sizeof(c->region), "%s", region);
	return c;
}

/* Copy a record's certificates into a pki_chain (owned buffers). */
static int copy_chain(const ProtobufCBinaryData *certs, size_t nc,
		      pki_chain *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < nc && i < PKI_MAX_CHAIN; i++) {
		if ((out->der[i] = malloc(certs[i].len)) == NULL) {
			pki_chain_clear(out);
			return HT_ENOMEM;
		}
		memcpy(out->der[i], certs[i].data, certs[i].len);
		out->len[i] = certs[i].len;
		out->n = i + 1;
	}
	return 0;
}

/* Revocation and CRL freshness of a verified chain, from pki now. */
static void chain_status(const pki_store *pki, const pki_chain *c,
			 node_cert_state *st)
{
	pki_chain_status(pki, (const uint8_t *const *)c->der, c->len, c->n,
			 &st->revoked_ms, &st->crl_until_ms);
}

int node_judge_origin(ledger *l, const pki_store *pki, const ledger_origin *o,
		      node_cert_state *out, pki_chain *chain)
{
	record *r = NULL;
	ht_err err = {0};
	const uint8_t *pk;
	const ProtobufCBinaryData *certs;
	size_t nc;
	pki_chain tmp = {0};
	memset(out, 0, sizeof(*out));
	out->revoked_ms = INT64_MAX;
	out->crl_until_ms = INT64_MAX;
	if (ledger_get(l, o->key_id, &r, NULL, &err) != 0 ||
	    !record_key_change(r, &pk, &certs, &nc)) {
		snprintf(out->reason, sizeof(out->reason),
			 "the record that installed its key is unreadable");
	} else if (check_chain(pki, certs, nc, record_header(r)->created_ms, pk,
			       o->region, o->node, &out->id, &err) != 0) {
		ht_err_str(&err, out->reason, sizeof(out->reason));
	} else if (copy_chain(certs, nc, &tmp) == 0) {
		out->trusted = true;
		chain_status(pki, &tmp, out);
	}
	record_free(&r);
	if (chain != NULL)
		*chain = tmp;
	else
		pki_chain_clear(&tmp);
	return out->trusted ? 0 : HT_ETRUST;
}

/* (Re)load the certificate that o's key_id record installed. */
static void cert_load(node *n, const ledger_origin *o, origin_cert *c)
{
	cert_free(c);
	memcpy(c->key_id, o->key_id, RECORD_ID_BYTES);
	node_judge_origin(n->ledger, n->pki, o, &c->st, &c->chain);
	c->loaded = true;
}

/* The current certificate of origin o, loading it when o's key changed,
 * and judging it again once the CRLs it was judged by are stale (which
 * then fails closed). */
static origin_cert *cert_of(node *n, const ledger_origin *o)
{
	origin_cert *c = cert_slot(n, o->region);
	if (c != NULL &&
	    (!c->loaded || memcmp(c->key_id, o->key_id, RECORD_ID_BYTES) != 0 ||
	     pki_now_ms(n->pki) >= c->st.crl_until_ms))
		cert_load(n, o, c);
	return c;
}

/* Was the judged certificate good for a record created at created_ms? */
static int judge_time(const node_cert_state *st, const char *region,
		      int64_t created_ms, ht_err *err)
{
	char t[40], v[40];
	util_format_time(created_ms, t, sizeof(t));
	if (!st->trusted)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "origin %s: %s", region, st->reason);
	if (created_ms > st->id.not_after_ms)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "expired: origin %s's certificate (serial %s)"
				  " was valid until %s, the record was created "
				  "%s", region, st->id.serial,
				  util_format_time(st->id.not_after_ms, v,
						   sizeof(v)), t);
	if (created_ms < st->id.not_before_ms)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "not yet valid: origin %s's certificate "
				  "(serial %s) is valid from %s, the record was "
				  "created %s", region, st->id.serial,
				  util_format_time(st->id.not_before_ms, v,
						   sizeof(v)), t);
	if (created_ms >= st->revoked_ms)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "origin %s's certificate (serial %s) or its "
				  "CA is revoked since %s", region,
				  st->id.serial,
				  util_format_time(st->revoked_ms, v, sizeof(v)));
	return 0;
}

/* May origin o sign a record created at created_ms (its current key)? */
static int check_origin_cert(node *n, const ledger_origin *o,
			     int64_t created_ms, ht_err *err)
{
	origin_cert *c = cert_of(n, o);
	if (c == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	return judge_time(&c->st, o->region, created_ms, err);
}

/* For fork evidence at a held seq: the certificate in force at that seq
 * (installed below it), judged without the cache. */
static int check_cert_at(node *n, const ledger_origin *o, uint64_t seq,
			 int64_t created_ms, ht_err *err)
{
	ledger_origin then = *o;
	node_cert_state st;
	int rc = ledger_key_at(n->ledger, o->region, seq, then.key, then.key_id,
			       err);
	if (rc != 0)
		return rc;
	node_judge_origin(n->ledger, n->pki, &then, &st, NULL);
	return judge_time(&st, o->region, created_ms, err);
}

/* Revocations learnt (a CRL reload or a revocation record) apply to
 * cached certificates from now on. */
static void certs_refresh_revocations(node *n)
{
	for (size_t i = 0; i < n->n_certs; i++)
		if (n->certs[i].st.trusted)
			chain_status(n->pki, &n->certs[i].chain,
				     &n->certs[i].st);
}

/* A revocation record's CRL: only a CA of the bundle may have signed it. */
static int apply_revocation(node *n, const record *r, ht_err *err)
{
	const Hutong__Body *b = record_body(r);
	if (n->pki == NULL || b == NULL ||
	    b->content_case != HUTONG__BODY__CONTENT_REVOCATION)
		return 0;
	int rc = pki_store_add_crl_der(n->pki, b->revocation->crl.data,
				       b->revocation->crl.len, err);
	if (rc == 0)
		certs_refresh_revocations(n);
	return rc;
}

static int reapply_one(void *ctx, const record *r, const ledger_meta *m)
{
	(void)m;
	return apply_revocation(ctx, r, NULL) == HT_ENOMEM;
}

static int add_crl_one(void *ctx, const record *r, const ledger_meta *m)
{
	const Hutong__Body *b = record_body(r);
	(void)m;
	if (b != NULL && b->content_case == HUTONG__BODY__CONTENT_REVOCATION)
		pki_store_add_crl_der(ctx, b->revocation->crl.data,
				      b->revocation->crl.len, NULL);
	return 0;
}

int node_load_revocations(ledger *l, pki_store *pki, ht_err *err)
{
	ledger_filter f = {.kind = HUTONG__KIND__KIND_REVOCATION};
	return ledger_each(l, &f, add_crl_one, pki, err);
}

/* On open and after a store swap: the revocation records held. */
static int reapply_revocations(node *n, ht_err *err)
{
	ledger_filter f = {.kind = HUTONG__KIND__KIND_REVOCATION};
	return n->pki ? ledger_each(n->ledger, &f, reapply_one, n, err) : 0;
}

void node_set_pki(node *n, pki_store *pki)
{
	n->pki = pki;
	for (size_t i = 0; i < n->n_certs; i++) {
		cert_free(&n->certs[i]);
		n->certs[i].loaded = false;
	}
	reapply_revocations(n, NULL);
}

int node_origin_cert(node *n, const char *region, node_cert_state *out)
{
	memset(out, 0, sizeof(*out));
	const ledger_origin *o = ledger_origin_find(n->ledger, region);
	if (o == NULL)
		return HT_ENOTFOUND;
	if (n->pki == NULL) {
		snprintf(out->reason, sizeof(out->reason), "no trust store");
		out->revoked_ms = INT64_MAX;
		return 0;
	}
	origin_cert *c = cert_of(n, o);
	if (c == NULL)
		return HT_ENOMEM;
	*out = c->st;
	return 0;
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
	if (genesis) {
		g.public_key = (ProtobufCBinaryData){RECORD_PK_BYTES, (uint8_t *)pk};
		g.certificates = certs;
		g.n_certificates = nc;
		body.content_case = HUTONG__BODY__CONTENT_GENESIS;
		body.genesis = &g;
	} else {
		rot.public_key = (ProtobufCBinaryData){RECORD_PK_BYTES, (uint8_t *)pk};
		rot.certificates = certs;
		rot.n_certificates = nc;
		body.content_case = HUTONG__BODY__CONTENT_ROTATION;
		body.rotation = &rot;
	}
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	sub.author = "node";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	record_origin at = {n->region, n->name, o ? o->seq + 1 : 1,
			    o ? o->head : NULL, n->clock->now_ms(n->clock->ctx)};
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
	origin_cert *c = cert_of(n, o);
	if (c != NULL && c->st.trusted && c->chain.n > 0 &&
	    c->chain.len[0] == cfg->cert_lens[0] &&
	    memcmp(c->chain.der[0], cfg->certs[0], c->chain.len[0]) == 0)
		return 0;
	log_info(n->log, "certificate renewed: recording it origin=%s",
		 n->region);
	return write_key_record(n, false, ident_public(n->id), cfg->certs,
				cfg->cert_lens, cfg->n_certs, id, err);
}

/* First start: write the genesis. Later: the key must be the chain's. */
static int check_origin(node *n, const node_config *cfg, ht_err *err)
{
	uint8_t id[RECORD_ID_BYTES];
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	if (o == NULL)
		return write_key_record(n, true, ident_public(n->id), cfg->certs,
					cfg->cert_lens, cfg->n_certs, id, err);
	if (sodium_memcmp(o->key, ident_public(n->id), RECORD_PK_BYTES) != 0)
		return ht_err_set(err, HT_ECRYPTO, "key",
				  "%s is not the key of origin %s's chain in "
				  "this ledger", cfg->key_path, n->region);
	if (strcmp(o->node, n->name) != 0)
		return ht_err_set(err, HT_EINVAL, "name",
				  "ledger has origin %s as node '%s', config "
				  "says '%s'", n->region, o->node, n->name);
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
		return ht_err_set(err, HT_ETRUST, "cert", "no certificate for "
				  "this node");
	for (size_t i = 0; i < cfg->n_certs; i++)
		certs[i] = (ProtobufCBinaryData){cfg->cert_lens[i],
						 (uint8_t *)cfg->certs[i]};
	return check_chain(n->pki, certs, cfg->n_certs,
			   n->clock->now_ms(n->clock->ctx), ident_public(n->id),
			   n->region, n->name, &id, err);
}

static int fpend_load(node *n, ht_err *err);

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
	n->pki = cfg->pki;
	if (util_check_region(cfg->region, "region", err) != 0 ||
	    (n->id = ident_load(cfg->key_path, err)) == NULL ||
	    check_own_cert(n, cfg, err) != 0 ||
	    (n->ledger = ledger_open(cfg->ledger_path, LEDGER_RDWR, n->clock,
				     err)) == NULL ||
	    reapply_revocations(n, err) != 0 ||
	    check_origin(n, cfg, err) != 0 || fpend_load(n, err) != 0)
		node_free(&n);
	return n;
}

static void pending_flush(node *n, bool committed);

void node_free(node **np)
{
	if (np == NULL || *np == NULL)
		return;
	for (size_t i = 0; i < (*np)->n_certs; i++)
		cert_free(&(*np)->certs[i]);
	free((*np)->certs);
	free((*np)->rcpt_marks);
	for (size_t i = 0; i < (*np)->n_fpend; i++)
		free((*np)->fpend[i].env);
	pending_flush(*np, false);
	free((*np)->pending);
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

static int check_trust(node *n, const record *r, ht_err *err);

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

/* Keep an appended record (taking *r) for the stored hook, when one is
 * set, until its transaction ends. */
static void pending_keep(node *n, record **r)
{
	if (n->stored == NULL)
		return;
	if (n->n_pending == n->cap_pending) {
		size_t cap = n->cap_pending ? n->cap_pending * 2 : 64;
		record **p = realloc(n->pending, cap * sizeof(*p));
		if (p == NULL) {
			log_warn(n->log, "out of memory: a stored record is "
				 "not passed to the stored hook");
			return;
		}
		n->pending = p;
		n->cap_pending = cap;
	}
	n->pending[n->n_pending++] = *r;
	*r = NULL;
}

/* The transaction ended: on commit, call the hook for each kept record. */
static void pending_flush(node *n, bool committed)
{
	for (size_t i = 0; i < n->n_pending; i++) {
		if (committed && n->stored != NULL)
			n->stored(n->stored_ctx, n->pending[i]);
		record_free(&n->pending[i]);
	}
	n->n_pending = 0;
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
	if (rc == 0 && n->check != NULL)
		rc = n->check(n->check_ctx, n->ledger, r, &res->err);
	if (rc == 0)
		rc = check_trust(n, r, &res->err);
	if (rc == 0)
		rc = ledger_append(n->ledger, r, "local", &out, &res->err);
	if (rc == 0)
		memcpy(res->id, record_id(r), RECORD_ID_BYTES);
	res->code = rc;
	if (rc == 0)
		pending_keep(n, &r);
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
	pending_flush(n, false);
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
	pending_flush(n, true);
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
/* Is r the very record held at its origin and seq? Then it needs no
 * checks: it was verified when it was stored. */
static bool is_held(node *n, const record *r)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o = ledger_origin_find(n->ledger, h->origin_region);
	record *held = NULL;
	if (o == NULL || h->seq > o->seq)
		return false;
	if (h->seq == o->seq)
		return memcmp(o->head, record_id(r), RECORD_ID_BYTES) == 0;
	bool same = ledger_get_seq(n->ledger, o->region, h->seq, &held, NULL,
				   NULL) == 0 &&
		    memcmp(record_id(held), record_id(r), RECORD_ID_BYTES) == 0;
	record_free(&held);
	return same;
}

/* The key r must verify with: for a record beyond the head, its origin's
 * current key; for fork evidence at a held seq, the key in force at that
 * seq (keybuf); for a genesis of a new origin, its own key after the trust
 * hook accepted it. NULL (err set) when there is none. */
static const uint8_t *signer_key(node *n, const record *r,
				 uint8_t keybuf[RECORD_PK_BYTES], ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o = ledger_origin_find(n->ledger, h->origin_region);
	uint8_t key_id[RECORD_ID_BYTES];
	if (o != NULL && h->seq > o->seq)
		return o->key;
	if (o != NULL && h->seq > 1)
		return ledger_key_at(n->ledger, o->region, h->seq, keybuf,
				     key_id, err) == 0 ? keybuf : NULL;
	if (!record_is_genesis(r)) {
		ht_err_set(err, HT_EGAP, "header.seq", "origin %s unknown here; "
			   "its genesis must come first", h->origin_region);
		return NULL;
	}
	if (record_body(r) == NULL) {
		ht_err_set(err, HT_EINVAL, "body", "genesis without its body");
		return NULL;
	}
	if (n->pki == NULL && n->trust != NULL &&
	    n->trust(n->trust_ctx, r, err) != 0) {
		n->counters.trust++;
		return NULL;
	}
	return record_body(r)->genesis->public_key.data;
}

/* The certificate rules for a record whose signature verified: the
 * origin's certificate was valid and not revoked at the record's creation;
 * a genesis or rotation brings a chain valid for its key, region and name;
 * a revocation carries a CRL signed by a CA of the bundle. */
static int check_trust(node *n, const record *r, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	if (n->pki == NULL)
		return 0;
	const ledger_origin *o = ledger_origin_find(n->ledger, h->origin_region);
	int rc = 0;
	if (o != NULL && h->seq <= o->seq && !record_is_genesis(r))
		rc = check_cert_at(n, o, h->seq, h->created_ms, err);
	else if (o != NULL && !record_is_genesis(r))
		rc = check_origin_cert(n, o, h->created_ms, err);
	if (rc == 0)
		rc = check_key_change(n, r, err);
	const Hutong__Body *b = record_body(r);
	if (rc == 0 && b && b->content_case == HUTONG__BODY__CONTENT_REVOCATION)
		rc = apply_revocation(n, r, err);
	return rc;
}

/* What a newly appended record changes beyond the ledger. */
static void after_append(node *n, const record *r)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	if (record_header(r)->kind == HUTONG__KIND__KIND_REVOCATION)
		log_info(n->log, "revocation applied id=%s origin=%s",
			 util_hex(record_id(r), RECORD_ID_BYTES, hex),
			 record_header(r)->origin_region);
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

/* ---- the batch's entries in the event log ---- */

/* What one batch from a peer did, for the event log: counts, and its
 * refusals, gaps and forks grouped by (kind, origin, reason). */
typedef struct batch_group {
	int kind; /* LEDGER_EV_REFUSED, _GAP or _FORK */
	char origin[HT_REGION_LEN + 1];
	uint64_t seq; /* the first one's */
	uint64_t count;
	char *reason;
} batch_group;

typedef struct batch_log {
	size_t stored;
	batch_group *groups;
	size_t n_groups, cap_groups;
	record *found[SYNC_MAX_BATCH]; /* forks met here: to report */
	size_t n_found;
} batch_log;

static void batch_note(batch_log *bl, int kind, const record *r,
		       const char *reason)
{
	const char *origin = r ? record_header(r)->origin_region : "";
	uint64_t seq = r ? record_header(r)->seq : 0;
	for (size_t i = 0; i < bl->n_groups; i++) {
		batch_group *g = &bl->groups[i];
		if (g->kind == kind && strcmp(g->origin, origin) == 0 &&
		    strcmp(g->reason, reason) == 0) {
			g->count++;
			return;
		}
	}
	if (bl->n_groups == bl->cap_groups) {
		size_t cap = bl->cap_groups ? 2 * bl->cap_groups : 8;
		batch_group *g = realloc(bl->groups, cap * sizeof(*g));
		if (g == NULL)
			return; /* the log line was written; the row is lost */
		bl->groups = g;
		bl->cap_groups = cap;
	}
	batch_group *g = &bl->groups[bl->n_groups];
	if ((g->reason = strdup(reason)) == NULL)
		return;
	g->kind = kind;
	snprintf(g->origin, sizeof(g->origin), "%s", origin);
	g->seq = seq;
	g->count = 1;
	bl->n_groups++;
}

static void batch_free(batch_log *bl)
{
	for (size_t i = 0; i < bl->n_groups; i++)
		free(bl->groups[i].reason);
	free(bl->groups);
	for (size_t i = 0; i < bl->n_found; i++)
		record_free(&bl->found[i]);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	return h;
}

/* A refusal or gap the same peer caused within NODE_COALESCE_MS adds to
 * that event row, so a peer repeating itself cannot grow the log. */
static struct refusal_memo *memo_find(node *n, const char *peer,
				      const batch_group *g, uint64_t h,
				      int64_t now)
{
	for (size_t i = 0; i < NODE_MEMO; i++) {
		struct refusal_memo *m = &n->memo[i];
		if (m->row > 0 && m->kind == g->kind && m->reason_hash == h &&
		    now - m->at_ms < NODE_COALESCE_MS &&
		    strcmp(m->origin, g->origin) == 0 &&
		    strcmp(m->peer, peer) == 0)
			return m;
	}
	return NULL;
}

static int log_group(node *n, const char *peer, const batch_group *g,
		     ht_err *err)
{
	int64_t now = n->clock->now_ms(n->clock->ctx), row = 0;
	uint64_t h = hash_str(g->reason);
	struct refusal_memo *m = g->kind == LEDGER_EV_FORK
					 ? NULL
					 : memo_find(n, peer, g, h, now);
	if (m != NULL &&
	    ledger_event_bump(n->ledger, m->row, g->count, now, err) == 0)
		return 0;
	ledger_event ev = {.time_ms = now, .peer = peer, .kind = g->kind,
			   .origin = g->origin, .seq = g->seq,
			   .count = g->count, .reason = g->reason};
	int rc = ledger_log_event(n->ledger, &ev, &row, err);
	if (rc != 0 || g->kind == LEDGER_EV_FORK)
		return rc;
	m = &n->memo[n->memo_next++ % NODE_MEMO];
	snprintf(m->peer, sizeof(m->peer), "%s", peer);
	snprintf(m->origin, sizeof(m->origin), "%s", g->origin);
	m->kind = g->kind;
	m->reason_hash = h;
	m->row = row;
	m->at_ms = now;
	return 0;
}

/* Write the batch's rows inside its transaction. */
static int batch_write(node *n, const char *peer, size_t count,
		       const batch_log *bl, ht_err *err)
{
	ledger_event ev = {.peer = peer, .kind = LEDGER_EV_RECEIVED,
			   .count = count};
	int rc = ledger_log_event(n->ledger, &ev, NULL, err);
	ev.kind = LEDGER_EV_STORED;
	ev.count = bl->stored;
	if (rc == 0 && bl->stored > 0)
		rc = ledger_log_event(n->ledger, &ev, NULL, err);
	for (size_t i = 0; rc == 0 && i < bl->n_groups; i++)
		rc = log_group(n, peer, &bl->groups[i], err);
	return rc;
}

/* ---- fork reports: a fork seen anywhere is seen everywhere ---- */

/* A node that meets both versions of a fork signs a report carrying both
 * (without bodies) in its own chain; the report travels like any record,
 * and every node that takes it keeps the version it lacks as evidence and
 * flags the origin (take_evidence). A version beyond this node's head
 * waits in n->fpend until the chain reaches its seq: storing it then
 * would choose a branch. The list is rebuilt from the reports in
 * the ledger when the node opens. */

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
		log_warn(n->log, "fork evidence dropped origin=%s seq=%llu: "
			 "more than %d waiting", h->origin_region,
			 (unsigned long long)h->seq, NODE_MAX_FPEND);
		return;
	}
	struct fork_pending *p = &n->fpend[n->n_fpend];
	if ((p->env = malloc(len)) == NULL)
		return;
	memcpy(p->env, env, len);
	p->len = len;
	snprintf(p->origin, sizeof(p->origin), "%s", h->origin_region);
	p->seq = h->seq;
	n->n_fpend++;
}

/* One version from a report: verified like a record from a peer, then
 * kept as evidence if it conflicts with what this node holds. Returns a
 * storage error only; a bad version is logged and skipped. */
static int take_evidence(node *n, const record *x, const char *peer,
			 const char *reporter, batch_log *bl)
{
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	char hex[2 * RECORD_ID_BYTES + 1];
	const Hutong__Header *h = record_header(x);
	const ledger_origin *o = ledger_origin_find(n->ledger, h->origin_region);
	uint8_t keybuf[RECORD_PK_BYTES];
	ledger_outcome out;
	ht_err err = {0};
	if (o == NULL || h->seq > o->seq) {
		fpend_add(n, x);
		return 0;
	}
	const uint8_t *key = signer_key(n, x, keybuf, &err);
	int rc = key == NULL ? HT_ECRYPTO
	       : !record_verify(x, key)
		       ? ht_err_set(&err, HT_ECRYPTO, "signature", "does not "
				    "verify with origin %s's key",
				    h->origin_region)
		       : check_trust(n, x, &err);
	if (rc == 0)
		rc = ledger_append(n->ledger, x, peer, &out, &err);
	if (rc != 0 && is_storage_error(rc))
		return rc;
	if (rc != 0) {
		log_warn(n->log, "fork report of %s: a version is refused "
			 "origin=%s seq=%llu reason=\"%s\"", reporter,
			 h->origin_region, (unsigned long long)h->seq,
			 ht_err_str(&err, msg, sizeof(msg)));
		return 0;
	}
	if (out == LEDGER_FORK) {
		n->counters.forks++;
		log_warn(n->log, "fork peer=%s origin=%s seq=%llu reported_by=%s",
			 peer, h->origin_region, (unsigned long long)h->seq,
			 reporter);
		snprintf(msg, sizeof(msg), "%s (reported by %s)",
			 util_hex(record_id(x), RECORD_ID_BYTES, hex), reporter);
		batch_note(bl, LEDGER_EV_FORK, x, msg);
	}
	return 0;
}

/* A report just appended: both versions, same origin and seq, different
 * records; then each is taken as evidence. */
static int take_report(node *n, const record *rep, const char *peer,
		       batch_log *bl)
{
	const Hutong__ForkReport *f = record_body(rep)->fork;
	const char *reporter = record_header(rep)->origin_region;
	ht_err err = {0};
	record *a = record_parse(f->first.data, f->first.len, &err);
	record *b = a ? record_parse(f->second.data, f->second.len, &err) : NULL;
	int rc = 0;
	if (a == NULL || b == NULL ||
	    strcmp(record_header(a)->origin_region,
		   record_header(b)->origin_region) != 0 ||
	    record_header(a)->seq != record_header(b)->seq ||
	    memcmp(record_id(a), record_id(b), RECORD_ID_BYTES) == 0)
		log_warn(n->log, "fork report of %s is not a fork: %s", reporter,
			 err.msg[0] ? err.msg : "the versions do not conflict");
	else if ((rc = take_evidence(n, a, peer, reporter, bl)) == 0)
		rc = take_evidence(n, b, peer, reporter, bl);
	record_free(&a);
	record_free(&b);
	return rc;
}

/* origin's chain grew: evidence waiting for it may be taken now. */
static int fpend_retry(node *n, const char *origin, const char *peer,
			 batch_log *bl)
{
	const ledger_origin *o = ledger_origin_find(n->ledger, origin);
	for (size_t i = 0; o != NULL && i < n->n_fpend;) {
		struct fork_pending *p = &n->fpend[i];
		if (strcmp(p->origin, origin) != 0 || p->seq > o->seq) {
			i++;
			continue;
		}
		ht_err err = {0};
		record *x = record_parse(p->env, p->len, &err);
		free(p->env);
		*p = n->fpend[--n->n_fpend];
		int rc = x ? take_evidence(n, x, peer, "an earlier report", bl)
			   : 0;
		record_free(&x);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Sign a report of the fork between this node's chain record and ev (the
 * evidence just stored), in the open transaction. */
static int write_report(node *n, const record *ev, ht_err *err)
{
	const Hutong__Header *h = record_header(ev);
	record *chain = NULL, *a = NULL, *b = NULL, *r = NULL;
	int rc = ledger_get_seq(n->ledger, h->origin_region, h->seq, &chain,
				NULL, err);
	if (rc == 0 && ((a = record_without_body(chain)) == NULL ||
			(b = record_without_body(ev)) == NULL))
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (rc == 0) {
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
		rc = record_build(&sub, &at, ident_sign, n->id, &r, err);
		if (rc == 0)
			rc = ledger_append(n->ledger, r, "local", &out, err);
	}
	if (rc == 0) {
		char hex[2 * RECORD_ID_BYTES + 1];
		log_warn(n->log, "fork reported id=%s origin=%s seq=%llu",
			 util_hex(record_id(r), RECORD_ID_BYTES, hex),
			 h->origin_region, (unsigned long long)h->seq);
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

/* On open: versions of reported forks still beyond this node's heads. */
static int fpend_load(node *n, ht_err *err)
{
	ledger_filter f = {.kind = HUTONG__KIND__KIND_FORK};
	return ledger_each(n->ledger, &f, report_one, n, err);
}

/* A record just appended from a peer: a fork report to take, or the
 * chain reaching a reported fork's seq. */
static int after_append_forks(node *n, const record *r, const char *peer,
			      batch_log *bl)
{
	const Hutong__Body *b = record_body(r);
	int rc = 0;
	if (b != NULL && b->content_case == HUTONG__BODY__CONTENT_FORK)
		rc = take_report(n, r, peer, bl);
	if (rc == 0 && n->n_fpend > 0)
		rc = fpend_retry(n, record_header(r)->origin_region, peer, bl);
	return rc;
}

/* Is r a record of a forked origin beyond its head? Those wait for an
 * operator: storing them would choose a branch for them. */
static bool held_back(node *n, const record *r, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o = ledger_origin_find(n->ledger, h->origin_region);
	if (o == NULL || !o->forked || h->seq <= o->seq)
		return false;
	ht_err_set(err, HT_ESTATE, "origin", "origin %s is forked; an "
		   "operator must resolve it", h->origin_region);
	return true;
}

/* ---- a batch's parsing and signatures, ahead, on two threads ---- */

/* Parsing and the Ed25519 check are pure and take most of a batch's time
 * (the check alone about 60% of a record's cost: tests/bench/catchup.sh),
 * so node_receive does both for the whole batch before its transaction, on
 * the caller's thread and one helper thread (started per batch, joined
 * before the transaction), which claim envelopes one at a time. Each
 * record is checked with the key the ledger names for it before the batch:
 * its origin's current key for a record beyond the head, or a new origin's
 * genesis key. receive_one then takes that result only when the key it
 * settles on is the same key (a rotation earlier in the same batch changes
 * it, and then it checks again), so every outcome, log line and row is
 * what a one-thread run gives; only the time differs. Nothing writes the
 * ledger while the helper runs, and the helper touches nothing but its own
 * entries and the ledger's in-memory frontier, read-only. */
#define NODE_PRE_MIN 16 /* smaller batches stay on one thread */

typedef struct pre {
	record *r; /* parsed (taken by receive_one), or NULL: err says why */
	ht_err err;
	bool checked; /* r was checked with key; sig_ok is the answer */
	bool sig_ok;
	uint8_t key[RECORD_PK_BYTES];
} pre;

typedef struct pre_job {
	const ledger *l;
	const uint8_t *const *env;
	const size_t *len;
	pre *out;
	size_t n;
	atomic_size_t next; /* the next entry to claim */
} pre_job;

/* The key r will be checked with if the batch does not change it. */
static const uint8_t *pre_key(const ledger *l, const record *r)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o = ledger_origin_find(l, h->origin_region);
	if (o != NULL)
		return h->seq > o->seq ? o->key : NULL; /* held: is_held */
	if (record_is_genesis(r) && record_body(r) != NULL)
		return record_body(r)->genesis->public_key.data;
	return NULL;
}

/* Claim entries one by one until none is left: a helper that starts late
 * (the other core is busy) takes fewer, never delays the batch. */
static void *pre_run(void *arg)
{
	pre_job *j = arg;
	size_t i;
	while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
		pre *p = &j->out[i];
		p->r = record_parse(j->env[i], j->len[i], &p->err);
		const uint8_t *key = p->r ? pre_key(j->l, p->r) : NULL;
		if (key == NULL)
			continue;
		memcpy(p->key, key, RECORD_PK_BYTES);
		p->sig_ok = record_verify(p->r, key);
		p->checked = true;
	}
	return NULL;
}

/* Parse and check env[0..count) into out (count entries, zeroed). */
static void pre_batch(const node *n, const uint8_t *const *env,
		      const size_t *len, size_t count, pre *out)
{
	pre_job j = {n->ledger, env, len, out, count, 0};
	pthread_t helper;
	bool helped = count >= NODE_PRE_MIN &&
		      pthread_create(&helper, NULL, pre_run, &j) == 0;
	pre_run(&j);
	if (helped)
		pthread_join(helper, NULL);
}

static void pre_free(pre *p, size_t count)
{
	for (size_t i = 0; p != NULL && i < count; i++)
		record_free(&p[i].r);
	free(p);
}

/* Does r verify with key? The answer from the pre-pass if it checked this
 * key. */
static bool sig_ok(const pre *p, const record *r, const uint8_t *key)
{
	if (p->checked && memcmp(p->key, key, RECORD_PK_BYTES) == 0)
		return p->sig_ok;
	return record_verify(r, key);
}

/* One envelope (parsed ahead in p): key, signature, chain rules. */
static sync_result receive_one(node *n, const char *peer, const uint8_t *env,
			       size_t len, pre *p, int *storage_rc,
			       ht_err *serr, batch_log *bl)
{
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	ht_err err = p->err;
	ledger_outcome out;
	uint8_t keybuf[RECORD_PK_BYTES];
	record *r = p->r;
	p->r = NULL;
	if (r != NULL && is_held(n, r)) { /* verified when it was stored */
		record_free(&r);
		return SYNC_DUPLICATE;
	}
	bool held = r != NULL && held_back(n, r, &err);
	const uint8_t *key = r && !held ? signer_key(n, r, keybuf, &err) : NULL;
	sync_result res = SYNC_REFUSED;
	int rc;
	if (r == NULL) {
		n->counters.decode++;
	} else if (held) {
		n->counters.held_back++;
	} else if (key == NULL && err.msg[0] && strstr(err.field, "seq")) {
		n->counters.gaps++;
		res = SYNC_GAP;
	} else if (key == NULL) {
		/* trust hook refused, or genesis without body: logged below */
	} else if (!sig_ok(p, r, key)) {
		n->counters.signature++;
		ht_err_set(&err, HT_ECRYPTO, "signature", "does not verify with "
			   "origin %s's key", record_header(r)->origin_region);
	} else if (check_trust(n, r, &err) != 0) {
		n->counters.trust++;
	} else if ((rc = ledger_append(n->ledger, r, peer, &out, &err)) == 0) {
		res = outcome_result(out);
		if (out == LEDGER_APPENDED) {
			after_append(n, r);
			bl->stored++;
			rc = after_append_forks(n, r, peer, bl);
			if (rc != 0) {
				*storage_rc = rc;
				ht_err_set(serr, rc, "", "storing fork evidence "
					   "failed");
			}
		}
		if (out == LEDGER_FORK) {
			n->counters.forks++;
			log_warn(n->log, "fork peer=%s origin=%s seq=%llu",
				 peer, record_header(r)->origin_region,
				 (unsigned long long)record_header(r)->seq);
			util_hex(record_id(r), RECORD_ID_BYTES, msg);
			batch_note(bl, LEDGER_EV_FORK, r, msg);
			if (bl->n_found < SYNC_MAX_BATCH)
				bl->found[bl->n_found++] = record_without_body(r);
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
	if (res == SYNC_GAP)
		batch_note(bl, LEDGER_EV_GAP, r, "");
	if (res == SYNC_REFUSED && *storage_rc == 0) {
		log_refusal(n, peer, env, len, r, &err);
		batch_note(bl, LEDGER_EV_REFUSED, r,
			   ht_err_str(&err, msg, sizeof(msg)));
	}
	if (res == SYNC_STORED)
		pending_keep(n, &r);
	record_free(&r);
	return res;
}

int node_receive(void *ctx, const char *peer, const uint8_t *const *env,
		 const size_t *len, size_t count, sync_result *results)
{
	node *n = ctx;
	ht_err err = {0};
	batch_log bl = {0};
	pre *p = calloc(count ? count : 1, sizeof(*p));
	if (p == NULL) {
		log_warn(n->log, "receive failed peer=%s count=%zu error=\"out "
			 "of memory\"", peer, count);
		return HT_ENOMEM;
	}
	pre_batch(n, env, len, count, p);
	int rc = ledger_begin(n->ledger, &err);
	for (size_t i = 0; rc == 0 && i < count; i++)
		results[i] = receive_one(n, peer, env[i], len[i], &p[i], &rc,
					 &err, &bl);
	for (size_t i = 0; rc == 0 && i < bl.n_found; i++)
		if (bl.found[i] != NULL)
			rc = write_report(n, bl.found[i], &err);
	if (rc == 0)
		rc = batch_write(n, peer, count, &bl, &err);
	if (rc == 0) {
		rc = ledger_commit(n->ledger, &err);
	} else {
		ledger_rollback(n->ledger);
	}
	if (rc != 0) {
		memset(n->memo, 0, sizeof(n->memo)); /* its rows may be gone */
		log_warn(n->log, "receive failed peer=%s count=%zu error=\"%s\"",
			 peer, count, err.msg);
	}
	pending_flush(n, rc == 0);
	batch_free(&bl);
	pre_free(p, count);
	return rc;
}

int node_fork_resolve(node *n, const char *origin,
		      const uint8_t keep[RECORD_ID_BYTES], ht_err *err)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	int rc = ledger_fork_resolve(n->ledger, origin, keep, err);
	if (rc == 0)
		log_warn(n->log, "fork resolved by operator origin=%s keep=%s",
			 origin, util_hex(keep, RECORD_ID_BYTES, hex));
	return rc;
}

/* ---- receipts ---- */

/* What our last receipt said, read from the ledger once (a restart keeps
 * the policy's clock and knows what it covered). */
static int receipt_load(node *n, ht_err *err)
{
	record *r = NULL;
	int rc = ledger_last_of_kind(n->ledger, n->region,
				     HUTONG__KIND__KIND_RECEIPT, &r, err);
	n->rcpt_last_ms = INT64_MIN;
	n->rcpt_own_seq = 0;
	n->n_rcpt_marks = 0;
	if (rc == HT_ENOTFOUND) {
		n->rcpt_loaded = true;
		return 0;
	}
	if (rc != 0)
		return rc;
	const Hutong__Body *b = record_body(r);
	size_t k = b && b->receipt ? b->receipt->n_entries : 0;
	free(n->rcpt_marks);
	n->rcpt_marks = calloc(k ? k : 1, sizeof(*n->rcpt_marks));
	if (n->rcpt_marks == NULL) {
		record_free(&r);
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	}
	for (size_t i = 0; i < k; i++) {
		snprintf(n->rcpt_marks[i].region, sizeof(n->rcpt_marks[i].region),
			 "%s", b->receipt->entries[i]->origin);
		n->rcpt_marks[i].seq = b->receipt->entries[i]->seq;
	}
	n->n_rcpt_marks = k;
	n->rcpt_last_ms = record_header(r)->created_ms;
	n->rcpt_own_seq = record_header(r)->seq;
	n->rcpt_loaded = true;
	record_free(&r);
	return 0;
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
						 HUTONG__KIND__KIND_RECEIPT, due,
						 err);
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
		ents[i].head = (ProtobufCBinaryData){RECORD_ID_BYTES,
						     (uint8_t *)o->head};
		ptrs[i] = &ents[i];
	}
	hutong__receipt__init(rc);
	rc->entries = ptrs;
	rc->n_entries = k;
}

/* Remember what the receipt just written said. */
static int receipt_remember(node *n, const Hutong__Receipt *rc,
			    const record *r, ht_err *err)
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

static int receipt_write(node *n, int64_t now_ms, uint8_t id[RECORD_ID_BYTES],
			 ht_err *err)
{
	size_t k = ledger_origin_count(n->ledger);
	if (k > RECORD_MAX_RECEIPT)
		return ht_err_set(err, HT_ELIMIT, "receipt", "%zu origins, a "
				  "receipt holds at most %d", k,
				  RECORD_MAX_RECEIPT);
	Hutong__ReceiptEntry *ents = calloc(k ? k : 1, sizeof(*ents));
	Hutong__ReceiptEntry **ptrs = calloc(k ? k : 1, sizeof(*ptrs));
	Hutong__Receipt rc;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	record *r = NULL;
	ledger_outcome out;
	int ret = ents && ptrs ? 0 : ht_err_set(err, HT_ENOMEM, "", "out of memory");
	const ledger_origin *own = ledger_origin_find(n->ledger, n->region);
	if (ret == 0) {
		receipt_body(n, ents, ptrs, &rc);
		body.content_case = HUTONG__BODY__CONTENT_RECEIPT;
		body.receipt = &rc;
		sub.author = "node";
		sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
		sub.body = &body;
		record_origin at = {n->region, n->name, own->seq + 1, own->head,
				    now_ms};
		ret = record_build(&sub, &at, ident_sign, n->id, &r, err);
	}
	if (ret == 0)
		ret = check_trust(n, r, err);
	if (ret == 0)
		ret = ledger_append(n->ledger, r, "local", &out, err);
	if (ret == 0)
		ret = receipt_remember(n, record_body(r)->receipt, r, err);
	if (ret == 0) {
		char hex[2 * RECORD_ID_BYTES + 1];
		memcpy(id, record_id(r), RECORD_ID_BYTES);
		log_info(n->log, "receipt id=%s origin=%s seq=%llu origins=%zu",
			 util_hex(id, RECORD_ID_BYTES, hex), n->region,
			 (unsigned long long)record_header(r)->seq, k);
	}
	record_free(&r);
	free(ents);
	free(ptrs);
	return ret;
}

int node_maybe_receipt(node *n, int64_t now_ms, int64_t interval_ms,
		       uint8_t id[RECORD_ID_BYTES], ht_err *err)
{
	bool due = false;
	int rc = n->rcpt_loaded ? 0 : receipt_load(n, err);
	if (rc != 0 || now_ms < n->rcpt_retry_ms)
		return rc;
	if (n->rcpt_last_ms == INT64_MIN) /* none yet: the clock starts now */
		n->rcpt_last_ms = now_ms;
	if (n->rcpt_last_ms != INT64_MIN && now_ms - n->rcpt_last_ms < interval_ms)
		return 0;
	if ((rc = receipt_due(n, &due, err)) == 0 && due)
		rc = receipt_write(n, now_ms, id, err);
	if (rc != 0) {
		n->rcpt_retry_ms = now_ms + interval_ms;
		log_warn(n->log, "receipt not written: %s", err->msg);
		return rc;
	}
	return due ? 1 : 0;
}

/* ---- rotation ---- */

int node_rotate(node *n, const char *new_key_path, const uint8_t *const *certs,
		const size_t *cert_lens, size_t n_certs,
		uint8_t id[RECORD_ID_BYTES], ht_err *err)
{
	ProtobufCBinaryData chain[PKI_MAX_CHAIN];
	pki_identity pid;
	ident *fresh = new_key_path ? ident_load(new_key_path, err) : NULL;
	if (new_key_path != NULL && fresh == NULL)
		return HT_EINVAL;
	const uint8_t *pk = fresh ? ident_public(fresh) : ident_public(n->id);
	int rc = n_certs > 0 && n_certs <= PKI_MAX_CHAIN
			 ? 0
			 : ht_err_set(err, HT_EINVAL, "cert",
				      "want 1 to %d certificates", PKI_MAX_CHAIN);
	for (size_t i = 0; rc == 0 && i < n_certs; i++)
		chain[i] = (ProtobufCBinaryData){cert_lens[i], (uint8_t *)certs[i]};
	if (rc == 0 && n->pki != NULL)
		rc = check_chain(n->pki, chain, n_certs,
				 n->clock->now_ms(n->clock->ctx),
				 pk, n->region, n->name, &pid, err);
	if (rc == 0)
		rc = write_key_record(n, false, pk, certs, cert_lens, n_certs, id,
				      err);
	if (rc == 0 && fresh != NULL) {
		ident_free(&n->id);
		n->id = fresh;
		fresh = NULL;
	}
	ident_free(&fresh);
	return rc;
}
