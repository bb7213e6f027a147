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
	pki_store *pki;          /* not owned; NULL without PKI */
	struct origin_cert *certs; /* cache of origins' current certificates */
	size_t n_certs, cap_certs;
};

/* An origin's current certificate as installed by its genesis or last
 * rotation (key_id), verified once at that record's creation time. */
typedef struct origin_cert {
	char region[HT_REGION_LEN + 1];
	uint8_t key_id[RECORD_ID_BYTES];
	bool trusted;
	pki_identity id;
	uint8_t *leaf;      /* DER of the node certificate */
	size_t leaf_len;
	int64_t revoked_ms; /* INT64_MAX if not revoked */
	char reason[HT_ERR_MSG_MAX];
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
	free(c->leaf);
	c->leaf = NULL;
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

int node_judge_origin(ledger *l, const pki_store *pki, const ledger_origin *o,
		      node_cert_state *out, uint8_t **leaf, size_t *leaf_len)
{
	record *r = NULL;
	ht_err err = {0};
	const uint8_t *pk;
	const ProtobufCBinaryData *certs;
	size_t nc;
	memset(out, 0, sizeof(*out));
	out->revoked_ms = INT64_MAX;
	if (ledger_get(l, o->key_id, &r, NULL, &err) != 0 ||
	    !record_key_change(r, &pk, &certs, &nc)) {
		snprintf(out->reason, sizeof(out->reason),
			 "the record that installed its key is unreadable");
	} else if (check_chain(pki, certs, nc, record_header(r)->created_ms, pk,
			       o->region, o->node, &out->id, &err) != 0) {
		ht_err_str(&err, out->reason, sizeof(out->reason));
	} else if (leaf == NULL ||
		   (*leaf = malloc(certs[0].len)) != NULL) {
		if (leaf != NULL) {
			memcpy(*leaf, certs[0].data, certs[0].len);
			*leaf_len = certs[0].len;
		}
		out->trusted = true;
		out->revoked_ms = pki_revocation_ms(pki, certs[0].data,
						    certs[0].len);
	}
	record_free(&r);
	return out->trusted ? 0 : HT_ETRUST;
}

/* (Re)load the certificate that o's key_id record installed. */
static void cert_load(node *n, const ledger_origin *o, origin_cert *c)
{
	node_cert_state st;
	cert_free(c);
	memcpy(c->key_id, o->key_id, RECORD_ID_BYTES);
	node_judge_origin(n->ledger, n->pki, o, &st, &c->leaf, &c->leaf_len);
	c->trusted = st.trusted;
	c->id = st.id;
	c->revoked_ms = st.revoked_ms;
	snprintf(c->reason, sizeof(c->reason), "%s", st.reason);
}

/* The current certificate of origin o, loading it when o's key changed. */
static origin_cert *cert_of(node *n, const ledger_origin *o)
{
	origin_cert *c = cert_slot(n, o->region);
	if (c != NULL && (memcmp(c->key_id, o->key_id, RECORD_ID_BYTES) != 0 ||
			  (!c->trusted && c->leaf == NULL)))
		cert_load(n, o, c);
	return c;
}

/* May origin o sign a record created at created_ms? */
static int check_origin_cert(node *n, const ledger_origin *o,
			     int64_t created_ms, ht_err *err)
{
	char t[40];
	origin_cert *c = cert_of(n, o);
	if (c == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (!c->trusted)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "origin %s: %s", o->region, c->reason);
	if (created_ms < c->id.not_before_ms || created_ms > c->id.not_after_ms)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "origin %s's certificate was not valid at "
				  "the record's creation (%s)", o->region,
				  util_format_time(created_ms, t, sizeof(t)));
	if (created_ms >= c->revoked_ms)
		return ht_err_set(err, HT_ETRUST, "certificate",
				  "origin %s's certificate (serial %s) is "
				  "revoked since %s", o->region, c->id.serial,
				  util_format_time(c->revoked_ms, t, sizeof(t)));
	return 0;
}

/* Revocations learnt (a CRL reload or a revocation record) apply to
 * cached certificates from now on. */
static void certs_refresh_revocations(node *n)
{
	for (size_t i = 0; i < n->n_certs; i++)
		if (n->certs[i].trusted && n->certs[i].leaf != NULL)
			n->certs[i].revoked_ms = pki_revocation_ms(
				n->pki, n->certs[i].leaf, n->certs[i].leaf_len);
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
		n->certs[i].trusted = false;
		memset(n->certs[i].key_id, 0, RECORD_ID_BYTES);
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
	out->trusted = c->trusted;
	out->id = c->id;
	out->revoked_ms = c->revoked_ms;
	snprintf(out->reason, sizeof(out->reason), "%s", c->reason);
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
	if (c != NULL && c->trusted && c->leaf_len == cfg->cert_lens[0] &&
	    memcmp(c->leaf, cfg->certs[0], c->leaf_len) == 0)
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
	    check_origin(n, cfg, err) != 0)
		node_free(&n);
	return n;
}

void node_free(node **np)
{
	if (np == NULL || *np == NULL)
		return;
	for (size_t i = 0; i < (*np)->n_certs; i++)
		cert_free(&(*np)->certs[i]);
	free((*np)->certs);
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
		rc = check_trust(n, r, &res->err);
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
	int rc = o && !record_is_genesis(r)
			 ? check_origin_cert(n, o, h->created_ms, err)
			 : 0;
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
	} else if (check_trust(n, r, &err) != 0) {
		n->counters.trust++;
	} else if ((rc = ledger_append(n->ledger, r, peer, &out, &err)) == 0) {
		res = outcome_result(out);
		if (out == LEDGER_APPENDED)
			after_append(n, r);
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
