/*
 * node_trust: whether an origin may speak. The node caches each origin's
 * current certificate (installed by its genesis or last rotation), judged
 * once at that record's creation time and kept current as revocations
 * arrive (a CRL reload, or a revocation record through the ledger); it
 * finds the key a peer's record must verify with, and applies the
 * certificate rules to every record it is about to store. Without a trust
 * store (the foundation's unit tests) only the trust hook decides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_impl.h"

int node_check_chain(const pki_store *pki, const ProtobufCBinaryData *certs,
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
	return node_check_chain(n->pki, certs, nc, h->created_ms, pk,
				h->origin_region, h->origin_node, &id, err);
}

static void cert_free(origin_cert *c) { pki_chain_clear(&c->chain); }

void node_certs_free(node *n)
{
	for (size_t i = 0; i < n->n_certs; i++)
		cert_free(&n->certs[i]);
	free(n->certs);
	n->certs = NULL;
	n->n_certs = n->cap_certs = 0;
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
	} else if (node_check_chain(pki, certs, nc,
				    record_header(r)->created_ms, pk, o->region,
				    o->node, &out->id, &err) != 0) {
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
origin_cert *node_cert_of(node *n, const ledger_origin *o)
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
		return ht_err_set(
		    err, HT_ETRUST, "certificate",
		    "expired: origin %s's certificate (serial %s)"
		    " was valid until %s, the record was created "
		    "%s",
		    region, st->id.serial,
		    util_format_time(st->id.not_after_ms, v, sizeof(v)), t);
	if (created_ms < st->id.not_before_ms)
		return ht_err_set(
		    err, HT_ETRUST, "certificate",
		    "not yet valid: origin %s's certificate "
		    "(serial %s) is valid from %s, the record was "
		    "created %s",
		    region, st->id.serial,
		    util_format_time(st->id.not_before_ms, v, sizeof(v)), t);
	if (created_ms >= st->revoked_ms)
		return ht_err_set(
		    err, HT_ETRUST, "certificate",
		    "origin %s's certificate (serial %s) or its "
		    "CA is revoked since %s",
		    region, st->id.serial,
		    util_format_time(st->revoked_ms, v, sizeof(v)));
	return 0;
}

/* May origin o sign a record created at created_ms (its current key)? */
static int check_origin_cert(node *n, const ledger_origin *o,
			     int64_t created_ms, ht_err *err)
{
	origin_cert *c = node_cert_of(n, o);
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
int node_reapply_revocations(node *n, ht_err *err)
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
	node_reapply_revocations(n, NULL);
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
	origin_cert *c = node_cert_of(n, o);
	if (c == NULL)
		return HT_ENOMEM;
	*out = c->st;
	return 0;
}

void node_set_trust(node *n, node_trust_fn fn, void *ctx)
{
	n->trust = fn;
	n->trust_ctx = ctx;
}

/* The key r must verify with: for a record beyond the head, its origin's
 * current key; for fork evidence at a held seq, the key in force at that
 * seq (keybuf); for a genesis of a new origin, its own key after the trust
 * hook accepted it. NULL (err set) when there is none. */
const uint8_t *node_signer_key(node *n, const record *r,
			       uint8_t keybuf[RECORD_PK_BYTES], ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	const ledger_origin *o =
	    ledger_origin_find(n->ledger, h->origin_region);
	uint8_t key_id[RECORD_ID_BYTES];
	if (o != NULL && h->seq > o->seq)
		return o->key;
	if (o != NULL && h->seq > 1)
		return ledger_key_at(n->ledger, o->region, h->seq, keybuf,
				     key_id, err) == 0
			   ? keybuf
			   : NULL;
	if (!record_is_genesis(r)) {
		ht_err_set(err, HT_EGAP, "header.seq",
			   "origin %s unknown here; "
			   "its genesis must come first",
			   h->origin_region);
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
int node_check_trust(node *n, const record *r, ht_err *err)
{
	const Hutong__Header *h = record_header(r);
	if (n->pki == NULL)
		return 0;
	const ledger_origin *o =
	    ledger_origin_find(n->ledger, h->origin_region);
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
