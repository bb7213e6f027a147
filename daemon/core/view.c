/*
 * view: folds of ledger records into cases, organizations, leads and
 * alerts (see view.h for the rules). Every fold fetches its records through
 * the term index, copies them into a store the view owns, sorts them by
 * their signed headers and walks them once; nothing depends on arrival
 * order, local time or which node computes it. Where several records could
 * supply one value, the rule names which (the latest in header order, the
 * least by org id ...), so the digests agree across nodes.
 */
#include "view.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char view_province_pairs[][2][3];
extern const size_t view_province_pairs_len;

#define HEX_ID (2 * RECORD_ID_BYTES + 1)

/* ---- store and vectors ---- */

struct view_store {
	record **recs; /* owned copies */
	size_t n, cap;
	void **mem; /* owned arrays */
	size_t n_mem, cap_mem;
};

typedef struct vec {
	void *p;
	size_t n, cap;
} vec;

/* A zeroed new element of size sz at the end of v, or NULL. */
static void *vec_push(vec *v, size_t sz)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void *p = realloc(v->p, cap * sz);
		if (p == NULL)
			return NULL;
		v->p = p;
		v->cap = cap;
	}
	void *e = (char *)v->p + v->n++ * sz;
	memset(e, 0, sz);
	return e;
}

static view_store *store_new(void) { return calloc(1, sizeof(view_store)); }

static void store_free(view_store **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	view_store *s = *sp;
	for (size_t i = 0; i < s->n; i++)
		record_free(&s->recs[i]);
	for (size_t i = 0; i < s->n_mem; i++)
		free(s->mem[i]);
	free(s->recs);
	free(s->mem);
	free(s);
	*sp = NULL;
}

static bool grow(void **p, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 16;
	void *q = realloc(*p, c * sz);
	if (q == NULL)
		return false;
	*p = q;
	*cap = c;
	return true;
}

/* Hand p (malloc'd, may be NULL) to the store; false if it could not be
 * kept (and was freed). */
static bool store_keep(view_store *s, void *p)
{
	if (p == NULL)
		return true;
	if (!grow((void **)&s->mem, &s->cap_mem, s->n_mem, sizeof(void *))) {
		free(p);
		return false;
	}
	s->mem[s->n_mem++] = p;
	return true;
}

/* A copy of a borrowed record, owned by the store. */
static const record *store_copy(view_store *s, const record *r)
{
	size_t len;
	const uint8_t *b = record_bytes(r, &len);
	if (!grow((void **)&s->recs, &s->cap, s->n, sizeof(record *)))
		return NULL;
	record *c = record_parse(b, len, NULL);
	if (c != NULL)
		s->recs[s->n++] = c;
	return c;
}

/* ---- order and helpers ---- */

/* qsort, which must not see a NULL array even when it is empty. */
static void sort(void *p, size_t n, size_t sz,
		 int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(p, n, sz, cmp);
}

/* The fold order: created_ms, origin region, seq (then id). */
static int cmp_rec(const record *a, const record *b)
{
	const Hutong__Header *x = record_header(a), *y = record_header(b);
	if (x->created_ms != y->created_ms)
		return x->created_ms < y->created_ms ? -1 : 1;
	int c = strcmp(x->origin_region, y->origin_region);
	if (c != 0)
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return memcmp(record_id(a), record_id(b), RECORD_ID_BYTES);
}

static int cmp_recp(const void *a, const void *b)
{
	return cmp_rec(*(const record *const *)a, *(const record *const *)b);
}

static const char *origin_of(const record *r)
{
	return record_header(r)->origin_region;
}

static int body_case(const record *r)
{
	const Hutong__Body *b = record_body(r);
	return b ? (int)b->content_case : 0;
}

static void id_term(const char *prefix, const uint8_t *id, char *out,
		    size_t len)
{
	char hex[HEX_ID];
	snprintf(out, len, "%s:%s", prefix, util_hex(id, RECORD_ID_BYTES, hex));
}

/* Records under term, copied into s, pushed onto out (const record *). */
typedef struct fetch {
	view_store *s;
	vec *out;
	int kind; /* header kind wanted, 0 = any */
	bool (*keep)(const record *r, const void *arg);
	const void *arg;
	int rc;
} fetch;

static int fetch_one(void *ctx, const record *r, const ledger_meta *m)
{
	fetch *f = ctx;
	(void)m;
	if (record_body(r) == NULL ||
	    (f->kind && (int)record_header(r)->kind != f->kind) ||
	    (f->keep && !f->keep(r, f->arg)))
		return 0;
	if (f->out->n >= VIEW_MAX_FOLD)
		return f->rc = HT_ELIMIT;
	const record *c = store_copy(f->s, r);
	const record **slot = c ? vec_push(f->out, sizeof(*slot)) : NULL;
	if (slot == NULL)
		return f->rc = HT_ENOMEM;
	*slot = c;
	return 0;
}

static int fetch_term(ledger *l, const char *term, fetch *f, ht_err *err)
{
	int rc = ledger_each_term(l, term, fetch_one, f, err);
	if (f->rc == HT_ELIMIT)
		return ht_err_set(err, HT_ELIMIT, "",
				  "%s: more than %d records", term,
				  VIEW_MAX_FOLD);
	if (f->rc != 0)
		return ht_err_set(err, f->rc, "", "out of memory");
	return rc;
}

/* ---- hashing ---- */

static void h_put(crypto_hash_sha256_state *st, char tag, const void *p,
		  size_t len)
{
	uint8_t hdr[5] = {(uint8_t)tag, (uint8_t)(len >> 24),
			  (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			  (uint8_t)len};
	crypto_hash_sha256_update(st, hdr, sizeof(hdr));
	crypto_hash_sha256_update(st, p, len);
}

static void h_str(crypto_hash_sha256_state *st, char tag, const char *s)
{
	h_put(st, tag, s ? s : "", s ? strlen(s) : 0);
}

static void h_int(crypto_hash_sha256_state *st, char tag, int64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	h_put(st, tag, b, sizeof(b));
}

static void h_id(crypto_hash_sha256_state *st, char tag, const record *r)
{
	h_put(st, tag, r ? record_id(r) : (const uint8_t *)"",
	      r ? RECORD_ID_BYTES : 0);
}

static void h_version(crypto_hash_sha256_state *st, const view_version *v)
{
	h_id(st, 'r', v->rec);
	h_int(st, 'R', v->retracted);
	h_id(st, 'v', v->amended_by);
	for (size_t i = 0; i < v->n_fixes; i++) {
		h_id(st, 'k', v->fixes[i].rec);
		h_int(st, 'a', v->fixes[i].applied);
	}
}

/* ---- corrections ---- */

/* May correction c (its body a Correction) amend or retract rec? */
static bool fix_judge(const record *rec, const record *c, char *why, size_t len)
{
	const Hutong__Correction *k = record_body(c)->correction;
	const Hutong__Body *o = record_body(rec), *n = k->replacement;
	if (strcmp(origin_of(c), origin_of(rec)) != 0) {
		snprintf(why, len,
			 "from %s; only the record's origin (%s) may "
			 "correct it",
			 origin_of(c), origin_of(rec));
		return false;
	}
	if (k->retract || o == NULL)
		return true;
	if (n == NULL || n->content_case != o->content_case) {
		snprintf(why, len, "the replacement is a %s, the record a %s",
			 record_kind_name(n ? record_body_kind(n) : 0),
			 record_kind_name(record_body_kind(o)));
		return false;
	}
	if (o->content_case == HUTONG__BODY__CONTENT_REPATRIATION) {
		const Hutong__Repatriation *a = o->repatriation,
					   *b = n->repatriation;
		if (strcmp(a->case_id, b->case_id) != 0 || a->step != b->step ||
		    strcmp(a->from_region, b->from_region) != 0 ||
		    strcmp(a->to_region, b->to_region) != 0) {
			snprintf(why, len,
				 "a correction of a repatriation step "
				 "must keep its case, step and regions");
			return false;
		}
	}
	if (o->content_case == HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION &&
	    strcmp(o->fleeing_organization->org_id,
		   n->fleeing_organization->org_id) != 0) {
		snprintf(why, len,
			 "a correction of an organization record must "
			 "keep its org id");
		return false;
	}
	return true;
}

static void fix_apply(view_version *v, view_fix *f)
{
	const Hutong__Correction *k = record_body(f->rec)->correction;
	f->retract = k->retract;
	f->applied = fix_judge(v->rec, f->rec, f->reason, sizeof(f->reason));
	if (!f->applied)
		return;
	if (k->retract) {
		v->retracted = true;
	} else {
		v->body = k->replacement;
		v->amended_by = f->rec;
		v->retracted = false;
	}
}

/* rec (owned by s, or outliving v) with its corrections from the ledger. */
static int version_load(ledger *l, view_store *s, const record *rec,
			view_version *v, ht_err *err)
{
	char term[RECORD_MAX_TERM];
	vec got = {0};
	fetch f = {.s = s, .out = &got, .kind = HUTONG__KIND__KIND_CORRECTION};
	memset(v, 0, sizeof(*v));
	v->rec = rec;
	v->body = record_body(rec);
	id_term("target", record_id(rec), term, sizeof(term));
	int rc = fetch_term(l, term, &f, err);
	if (rc != 0 || got.n == 0) {
		free(got.p);
		return rc;
	}
	sort(got.p, got.n, sizeof(record *), cmp_recp);
	v->fixes = calloc(got.n, sizeof(view_fix));
	if (v->fixes == NULL || !store_keep(s, v->fixes)) {
		free(got.p);
		v->fixes = NULL;
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	}
	v->n_fixes = got.n;
	for (size_t i = 0; i < got.n; i++) {
		v->fixes[i].rec = ((const record **)got.p)[i];
		fix_apply(v, &v->fixes[i]);
	}
	free(got.p);
	return 0;
}

/* ---- names ---- */

static const char *state_names[VIEW_STATE_COUNT] = {
    "none",	"requested",   "accepted", "rejected",
    "departed", "handed-over", "received", "cancelled"};

const char *view_state_name(int state)
{
	return state >= 0 && state < VIEW_STATE_COUNT ? state_names[state]
						      : "unknown";
}

int view_state_parse(const char *name)
{
	for (int i = 0; i < VIEW_STATE_COUNT; i++)
		if (strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}

bool view_state_is_final(int state)
{
	return state == VIEW_STATE_REJECTED || state == VIEW_STATE_RECEIVED ||
	       state == VIEW_STATE_CANCELLED;
}

const char *view_step_name(int step)
{
	static const char *names[] = {"unspecified", "request", "accept",
				      "reject",	     "depart",	"hand-over",
				      "receive",     "cancel"};
	return step >= 0 && step <= 7 ? names[step] : "unknown";
}

/* ---- the case state machine ---- */

typedef struct transition {
	view_state from;
	int step;
	view_state to;
	bool by_from; /* taken by the finding region (else the home region) */
} transition;

static const transition transitions[] = {
    {VIEW_STATE_NONE, HUTONG__STEP__STEP_REQUEST, VIEW_STATE_REQUESTED, true},
    {VIEW_STATE_REQUESTED, HUTONG__STEP__STEP_ACCEPT, VIEW_STATE_ACCEPTED,
     false},
    {VIEW_STATE_REQUESTED, HUTONG__STEP__STEP_REJECT, VIEW_STATE_REJECTED,
     false},
    {VIEW_STATE_REQUESTED, HUTONG__STEP__STEP_CANCEL, VIEW_STATE_CANCELLED,
     true},
    {VIEW_STATE_ACCEPTED, HUTONG__STEP__STEP_DEPART, VIEW_STATE_DEPARTED, true},
    {VIEW_STATE_ACCEPTED, HUTONG__STEP__STEP_CANCEL, VIEW_STATE_CANCELLED,
     true},
    {VIEW_STATE_DEPARTED, HUTONG__STEP__STEP_HAND_OVER, VIEW_STATE_HANDED_OVER,
     true},
    {VIEW_STATE_HANDED_OVER, HUTONG__STEP__STEP_RECEIVE, VIEW_STATE_RECEIVED,
     false},
};

#define N_TRANSITIONS (sizeof(transitions) / sizeof(transitions[0]))

static const transition *find_transition(view_state s, int step)
{
	for (size_t i = 0; i < N_TRANSITIONS; i++)
		if (transitions[i].from == s && transitions[i].step == step)
			return &transitions[i];
	return NULL;
}

char *view_case_allowed(const view_case *c, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = '\0';
	if (c->state == VIEW_STATE_NONE) {
		snprintf(buf, len,
			 "request (by the region where the people "
			 "were found)");
		return buf;
	}
	for (size_t i = 0; i < N_TRANSITIONS && at < len; i++) {
		const transition *t = &transitions[i];
		if (t->from != c->state)
			continue;
		int n = snprintf(buf + at, len - at, "%s%s (by %s)",
				 at ? ", " : "", view_step_name(t->step),
				 t->by_from ? c->from : c->to);
		at += n > 0 ? (size_t)n : 0;
	}
	if (at == 0)
		snprintf(buf, len, "none (the case is closed)");
	return buf;
}

/* "; state S; allowed steps: ..." appended to a reason. */
static void explain(const view_case *c, char *why, size_t len)
{
	char allowed[VIEW_REASON_MAX / 2];
	size_t at = strlen(why);
	snprintf(why + at, len - at, "%sstate %s; allowed steps: %s",
		 at ? "; " : "", view_state_name(c->state),
		 view_case_allowed(c, allowed, sizeof(allowed)));
}

/* Does step s apply to c where it falls? Fills why when not. */
static bool step_judge(const view_case *c, const view_step *s, char *why,
		       size_t len)
{
	const Hutong__Repatriation *b = s->body;
	const char *origin = origin_of(s->v.rec);
	const transition *t = find_transition(c->state, b->step);
	why[0] = '\0';
	if (s->v.retracted) {
		snprintf(why, len, "retracted");
		return false;
	}
	if (c->state != VIEW_STATE_NONE &&
	    (strcmp(b->from_region, c->from) != 0 ||
	     strcmp(b->to_region, c->to) != 0))
		snprintf(why, len, "names %s to %s, the case is %s to %s",
			 b->from_region, b->to_region, c->from, c->to);
	else if (t == NULL && b->step == HUTONG__STEP__STEP_REQUEST)
		snprintf(why, len, "already requested");
	else if (t == NULL)
		snprintf(why, len, "%s not allowed", view_step_name(b->step));
	else if (strcmp(origin, t->by_from ? b->from_region : b->to_region))
		snprintf(why, len, "%s must come from %s (%s), not %s",
			 view_step_name(b->step),
			 t->by_from ? b->from_region : b->to_region,
			 t->by_from ? "where the people were found"
				    : "their home region",
			 origin);
	else
		return true;
	explain(c, why, len);
	return false;
}

static int stay_push(view_case *c, vec *stays, view_state st, int64_t at)
{
	view_stay *last =
	    stays->n ? (view_stay *)stays->p + stays->n - 1 : NULL;
	if (last != NULL)
		last->until_ms = at;
	view_stay *s = vec_push(stays, sizeof(*s));
	if (s == NULL)
		return HT_ENOMEM;
	*s = (view_stay){st, at, 0};
	c->since_ms = at;
	return 0;
}

static bool same_person(const Hutong__Person *a, const Hutong__Person *b)
{
	char ka[RECORD_MAX_TERM], kb[RECORD_MAX_TERM];
	return strcmp(a->id_number, b->id_number) == 0 &&
	       strcmp(util_name_key(a->name, ka, sizeof(ka)),
		      util_name_key(b->name, kb, sizeof(kb))) == 0;
}

/* Append the people not yet in v (const Hutong__Person *). */
static int people_add(vec *v, Hutong__Person **p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t k = 0; k < v->n && !seen; k++)
			seen = same_person(((const Hutong__Person **)v->p)[k],
					   p[i]);
		const Hutong__Person **slot =
		    seen ? NULL : vec_push(v, sizeof(*slot));
		if (!seen && slot == NULL)
			return HT_ENOMEM;
		if (slot)
			*slot = p[i];
	}
	return 0;
}

/* Walk the sorted steps through the machine. */
static int case_run(view_case *c)
{
	vec stays = {0}, people = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < c->n_steps; i++) {
		view_step *s = &c->steps[i];
		s->applied = step_judge(c, s, s->reason, sizeof(s->reason));
		if (s->applied) {
			const transition *t =
			    find_transition(c->state, s->body->step);
			int64_t at = record_header(s->v.rec)->created_ms;
			if (c->state == VIEW_STATE_NONE) {
				snprintf(c->from, sizeof(c->from), "%s",
					 s->body->from_region);
				snprintf(c->to, sizeof(c->to), "%s",
					 s->body->to_region);
				c->opened_ms = at;
			}
			c->state = t->to;
			rc = stay_push(c, &stays, t->to, at);
			if (rc == 0)
				rc = people_add(&people, s->body->people,
						s->body->n_people);
		}
		s->state = c->state;
	}
	c->stays = stays.p;
	c->n_stays = stays.n;
	c->people = people.p;
	c->n_people = people.n;
	if (!store_keep(c->store, stays.p) || !store_keep(c->store, people.p))
		rc = HT_ENOMEM;
	return rc;
}

static bool is_step_of(const record *r, const void *id)
{
	const Hutong__Body *b = record_body(r);
	return b->content_case == HUTONG__BODY__CONTENT_REPATRIATION &&
	       strcmp(b->repatriation->case_id, id) == 0;
}

/* The steps of case id, plus extra (borrowed, not stored) when given. */
static int case_steps(ledger *l, view_case *c, const record *extra, ht_err *err)
{
	char term[RECORD_MAX_TERM];
	vec got = {0};
	fetch f = {.s = c->store,
		   .out = &got,
		   .kind = HUTONG__KIND__KIND_REPATRIATION,
		   .keep = is_step_of,
		   .arg = c->id};
	snprintf(term, sizeof(term), "case:%s", c->id);
	int rc = fetch_term(l, term, &f, err);
	const record **slot =
	    rc == 0 && extra ? vec_push(&got, sizeof(*slot)) : NULL;
	if (slot != NULL)
		*slot = extra;
	else if (rc == 0 && extra != NULL)
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (rc == 0 && got.n == 0)
		rc = ht_err_set(err, HT_ENOTFOUND, "case", "no case '%s'",
				c->id);
	if (rc == 0)
		sort(got.p, got.n, sizeof(record *), cmp_recp);
	c->steps = rc == 0 ? calloc(got.n, sizeof(view_step)) : NULL;
	if (rc == 0 && (c->steps == NULL || !store_keep(c->store, c->steps)))
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	for (size_t i = 0; rc == 0 && i < got.n; i++) {
		view_step *s = &c->steps[i];
		rc = version_load(l, c->store, ((const record **)got.p)[i],
				  &s->v, err);
		s->body = s->v.body->repatriation;
		c->n_steps++;
	}
	free(got.p);
	return rc;
}

static int case_build(ledger *l, const char *id, const record *extra,
		      view_case **out, ht_err *err)
{
	*out = NULL;
	view_case *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->store = store_new()) == NULL) {
		free(c);
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	int rc = case_steps(l, c, extra, err);
	if (rc == 0 && (rc = case_run(c)) != 0)
		ht_err_set(err, rc, "", "out of memory");
	if (rc != 0)
		view_case_free(&c);
	*out = c;
	return rc;
}

int view_case_load(ledger *l, const char *id, view_case **out, ht_err *err)
{
	return case_build(l, id, NULL, out, err);
}

void view_case_free(view_case **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	store_free(&(*cp)->store);
	free(*cp);
	*cp = NULL;
}

bool view_case_overdue(const view_case *c, int64_t now_ms, int64_t dur_ms)
{
	return c->state != VIEW_STATE_NONE && !view_state_is_final(c->state) &&
	       now_ms - c->since_ms > dur_ms;
}

typedef struct each_case {
	ledger *l;
	view_case_fn fn;
	void *ctx;
	ht_err *err;
	int rc;
} each_case;

static int case_term(void *ctx, const char *term)
{
	each_case *e = ctx;
	view_case *c = NULL;
	int rc = case_build(e->l, term + strlen("case:"), NULL, &c, e->err);
	if (rc == HT_ENOTFOUND)
		return 0; /* only corrections name it */
	if (rc != 0)
		return e->rc = rc;
	rc = e->fn(e->ctx, c);
	view_case_free(&c);
	return rc;
}

int view_case_each(ledger *l, view_case_fn fn, void *ctx, ht_err *err)
{
	each_case e = {l, fn, ctx, err, 0};
	int rc = ledger_each_term_name(l, "case:", case_term, &e, err);
	return e.rc ? e.rc : rc;
}

/* ---- the submit-time check ---- */

static int check_step(ledger *l, const record *r, ht_err *err)
{
	const Hutong__Repatriation *b = record_body(r)->repatriation;
	view_case *c = NULL;
	int rc = case_build(l, b->case_id, r, &c, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < c->n_steps; i++)
		if (c->steps[i].v.rec == r && !c->steps[i].applied)
			rc = ht_err_set(err, HT_ESTATE,
					"body.repatriation.step", "case %s: %s",
					c->id, c->steps[i].reason);
	view_case_free(&c);
	return rc;
}

static int check_fix(ledger *l, const record *r, ht_err *err)
{
	const Hutong__Correction *k = record_body(r)->correction;
	record *t = NULL;
	char why[VIEW_REASON_MAX];
	if (k->target.len != RECORD_ID_BYTES ||
	    ledger_get(l, k->target.data, &t, NULL, NULL) != 0)
		return 0; /* node's own check names a missing target */
	int rc = 0;
	if (record_body(t) != NULL && !fix_judge(t, r, why, sizeof(why)))
		rc = ht_err_set(err, HT_EINVAL, "body.correction.replacement",
				"%s", why);
	record_free(&t);
	return rc;
}

int view_check_record(void *ctx, ledger *l, const record *r, ht_err *err)
{
	(void)ctx;
	switch (body_case(r)) {
	case HUTONG__BODY__CONTENT_REPATRIATION:
		return check_step(l, r, err);
	case HUTONG__BODY__CONTENT_CORRECTION:
		return check_fix(l, r, err);
	default:
		return 0;
	}
}

/* ---- regions ---- */

const char *view_relation_name(int rel)
{
	static const char *names[] = {"none", "destination", "same province",
				      "adjacent province"};
	return rel >= 0 && rel <= VIEW_REL_ADJACENT ? names[rel] : "unknown";
}

bool view_provinces_adjacent(const char *a, const char *b)
{
	for (size_t i = 0; i < view_province_pairs_len; i++) {
		const char *x = view_province_pairs[i][0],
			   *y = view_province_pairs[i][1];
		if ((strncmp(a, x, 2) == 0 && strncmp(b, y, 2) == 0) ||
		    (strncmp(a, y, 2) == 0 && strncmp(b, x, 2) == 0))
			return true;
	}
	return false;
}

/* Does code a (province xx0000 or city xxxx00) contain code b? */
static bool contains(const char *a, const char *b)
{
	size_t k = strcmp(a + 2, "0000") == 0 ? 2
		   : strcmp(a + 4, "00") == 0 ? 4
					      : 6;
	return strncmp(a, b, k) == 0;
}

view_relation view_region_relation(const char *region, const char *dest)
{
	if (!util_is_region_code(region) || !util_is_region_code(dest))
		return VIEW_REL_NONE;
	if (contains(region, dest) || contains(dest, region))
		return VIEW_REL_DESTINATION;
	if (strncmp(region, dest, 2) == 0)
		return VIEW_REL_PROVINCE;
	return view_provinces_adjacent(region, dest) ? VIEW_REL_ADJACENT
						     : VIEW_REL_NONE;
}

view_relation view_org_concerns(const Hutong__FleeingOrganization *o,
				const char *region, const char **dest)
{
	view_relation best = VIEW_REL_NONE;
	for (size_t i = 0; i < o->n_suspected_destinations; i++) {
		const char *d = o->suspected_destinations[i];
		view_relation r = view_region_relation(region, d);
		/* closest first: destination < province < adjacent */
		if (r != VIEW_REL_NONE && (best == VIEW_REL_NONE || r < best)) {
			best = r;
			if (dest != NULL)
				*dest = d;
		}
	}
	return best;
}

const Hutong__FleeingOrganization *view_record_org(const record *r)
{
	const Hutong__Body *b = record_body(r);
	if (b == NULL)
		return NULL;
	if (b->content_case == HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION)
		return b->fleeing_organization;
	if (b->content_case == HUTONG__BODY__CONTENT_CORRECTION &&
	    b->correction->replacement != NULL &&
	    b->correction->replacement->content_case ==
		HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION)
		return b->correction->replacement->fleeing_organization;
	return NULL;
}

/* ---- id sets: the originals a term names ---- */

typedef struct idset {
	uint8_t (*ids)[RECORD_ID_BYTES];
	size_t n, cap;
	int kind; /* content the original must have */
	int rc;
} idset;

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, RECORD_ID_BYTES);
}

static int idset_add(idset *s, const uint8_t *id)
{
	if (s->n >= VIEW_MAX_LIST)
		return s->rc = HT_ELIMIT;
	if (!grow((void **)&s->ids, &s->cap, s->n, RECORD_ID_BYTES))
		return s->rc = HT_ENOMEM;
	memcpy(s->ids[s->n++], id, RECORD_ID_BYTES);
	return 0;
}

static void idset_sort(idset *s)
{
	size_t k = 0;
	sort(s->ids, s->n, RECORD_ID_BYTES, cmp_id);
	for (size_t i = 0; i < s->n; i++)
		if (k == 0 || memcmp(s->ids[k - 1], s->ids[i], RECORD_ID_BYTES))
			memmove(s->ids[k++], s->ids[i], RECORD_ID_BYTES);
	s->n = k;
}

static bool idset_has(const idset *s, const uint8_t *id)
{
	return s->n > 0 &&
	       bsearch(id, s->ids, s->n, RECORD_ID_BYTES, cmp_id) != NULL;
}

/* A record under a term stands for an original of kind s->kind: itself,
 * or the record a correction (with such a replacement) corrects. */
static int idset_one(void *ctx, const record *r, const ledger_meta *m)
{
	idset *s = ctx;
	const Hutong__Body *b = record_body(r);
	(void)m;
	if (b == NULL)
		return 0;
	if ((int)b->content_case == s->kind)
		return idset_add(s, record_id(r));
	if (b->content_case == HUTONG__BODY__CONTENT_CORRECTION &&
	    b->correction->replacement != NULL &&
	    (int)b->correction->replacement->content_case == s->kind &&
	    b->correction->target.len == RECORD_ID_BYTES)
		return idset_add(s, b->correction->target.data);
	return 0;
}

static int idset_term(ledger *l, const char *term, idset *s, ht_err *err)
{
	int rc = ledger_each_term(l, term, idset_one, s, err);
	if (s->rc != 0)
		return ht_err_set(err, s->rc, "", "%s: too many records", term);
	return rc;
}

/* Keep the ids of a that are in b. */
static void idset_intersect(idset *a, const idset *b)
{
	size_t k = 0;
	for (size_t i = 0; i < a->n; i++)
		if (idset_has(b, a->ids[i]))
			memmove(a->ids[k++], a->ids[i], RECORD_ID_BYTES);
	a->n = k;
}

/* The original with id (owned by s) if it has content kind. */
static const record *load_original(ledger *l, view_store *s, const uint8_t *id,
				   int kind)
{
	record *r = NULL;
	if (ledger_get(l, id, &r, NULL, NULL) != 0)
		return NULL;
	if (body_case(r) != kind ||
	    !grow((void **)&s->recs, &s->cap, s->n, sizeof(record *))) {
		record_free(&r);
		return NULL;
	}
	s->recs[s->n++] = r;
	return r;
}

/* ---- listings: sort small keys, then build one item at a time ---- */

/* A record's place in the fold order, with its id. */
typedef struct okey {
	int64_t created;
	char origin[HT_REGION_LEN + 1];
	uint64_t seq;
	uint8_t id[RECORD_ID_BYTES];
} okey;

typedef struct okeys {
	okey *k;
	size_t n, cap;
	int kind; /* content the record must have */
	int rc;
} okeys;

static int okeys_add(okeys *ks, const record *r)
{
	const Hutong__Header *h = record_header(r);
	if (body_case(r) != ks->kind)
		return 0;
	if (ks->n >= VIEW_MAX_LIST)
		return ks->rc = HT_ELIMIT;
	if (!grow((void **)&ks->k, &ks->cap, ks->n, sizeof(okey)))
		return ks->rc = HT_ENOMEM;
	okey *k = &ks->k[ks->n++];
	k->created = h->created_ms;
	snprintf(k->origin, sizeof(k->origin), "%s", h->origin_region);
	k->seq = h->seq;
	memcpy(k->id, record_id(r), RECORD_ID_BYTES);
	return 0;
}

static int okeys_one(void *ctx, const record *r, const ledger_meta *m)
{
	(void)m;
	return okeys_add(ctx, r);
}

/* The keys of the originals in ids (those of kind ks->kind). */
static int okeys_of(ledger *l, const idset *ids, okeys *ks, ht_err *err)
{
	for (size_t i = 0; ks->rc == 0 && i < ids->n; i++) {
		record *r = NULL;
		if (ledger_get(l, ids->ids[i], &r, NULL, NULL) == 0)
			okeys_add(ks, r);
		record_free(&r);
	}
	return ks->rc ? ht_err_set(err, ks->rc, "",
				   "more than %d items to "
				   "list; narrow the search",
				   VIEW_MAX_LIST)
		      : 0;
}

static int cmp_okey(const void *a, const void *b)
{
	const okey *x = a, *y = b;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	int c = strcmp(x->origin, y->origin);
	if (c != 0)
		return c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return memcmp(x->id, y->id, RECORD_ID_BYTES);
}

/* ---- leads ---- */

static int lead_build(ledger *l, const uint8_t *id, view_lead **out,
		      ht_err *err)
{
	view_lead *ld = calloc(1, sizeof(*ld));
	*out = NULL;
	if (ld == NULL || (ld->store = store_new()) == NULL) {
		free(ld);
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	}
	const record *r =
	    load_original(l, ld->store, id, HUTONG__BODY__CONTENT_INTELLIGENCE);
	int rc = r ? version_load(l, ld->store, r, &ld->v, err)
		   : ht_err_set(err, HT_ENOTFOUND, "id", "no such lead");
	if (rc == 0)
		ld->body = ld->v.body->intelligence;
	else
		view_lead_free(&ld);
	*out = ld;
	return rc;
}

int view_lead_load(ledger *l, const uint8_t id[RECORD_ID_BYTES],
		   view_lead **out, ht_err *err)
{
	record *r = NULL;
	uint8_t target[RECORD_ID_BYTES];
	const uint8_t *want = id;
	*out = NULL;
	if (ledger_get(l, id, &r, NULL, NULL) != 0)
		return ht_err_set(err, HT_ENOTFOUND, "id", "no such record");
	if (body_case(r) == HUTONG__BODY__CONTENT_CORRECTION &&
	    record_body(r)->correction->target.len == RECORD_ID_BYTES) {
		memcpy(target, record_body(r)->correction->target.data,
		       RECORD_ID_BYTES);
		want = target;
	}
	record_free(&r);
	return lead_build(l, want, out, err);
}

void view_lead_free(view_lead **lp)
{
	if (lp == NULL || *lp == NULL)
		return;
	store_free(&(*lp)->store);
	free(*lp);
	*lp = NULL;
}

/* The lead ids q's terms select, sorted and distinct; *any says whether
 * q had a term. */
static int lead_ids(ledger *l, const view_query *q, idset *out, bool *any_term,
		    ht_err *err)
{
	char key[RECORD_MAX_TERM], term[RECORD_MAX_TERM + 16];
	const char *v[5] = {q->org, q->person, q->idno, q->phone, q->region};
	static const char *prefix[5] = {"orgname", "person", "idno", "phone",
					"region"};
	bool any = false;
	int rc = 0;
	out->kind = HUTONG__BODY__CONTENT_INTELLIGENCE;
	for (int i = 0; rc == 0 && i < 5; i++) {
		if (v[i] == NULL)
			continue;
		idset one = {.kind = out->kind};
		snprintf(term, sizeof(term), "%s:%s", prefix[i],
			 i < 2 ? util_name_key(v[i], key, sizeof(key)) : v[i]);
		rc = idset_term(l, term, any ? &one : out, err);
		if (any) {
			idset_sort(&one);
			idset_intersect(out, &one);
		} else {
			idset_sort(out);
		}
		free(one.ids);
		any = true;
	}
	*any_term = any;
	return rc;
}

/* The keys of the leads q selects (every lead when it has no term). */
static int lead_keys(ledger *l, const view_query *q, okeys *ks, ht_err *err)
{
	idset ids = {0};
	bool any = false;
	ledger_filter f = {.kind = HUTONG__KIND__KIND_INTELLIGENCE};
	int rc = lead_ids(l, q, &ids, &any, err);
	if (rc == 0 && any)
		rc = okeys_of(l, &ids, ks, err);
	else if (rc == 0 &&
		 (rc = ledger_each(l, &f, okeys_one, ks, err)) == 0 &&
		 ks->rc != 0)
		rc = ht_err_set(err, ks->rc, "",
				"more than %d leads to list; "
				"narrow the search",
				VIEW_MAX_LIST);
	free(ids.ids);
	return rc;
}

int view_lead_search(ledger *l, const view_query *q, view_lead_fn fn, void *ctx,
		     ht_err *err)
{
	okeys ks = {.kind = HUTONG__BODY__CONTENT_INTELLIGENCE};
	int rc = lead_keys(l, q, &ks, err);
	sort(ks.k, ks.n, sizeof(okey), cmp_okey);
	for (size_t i = 0; rc == 0 && i < ks.n; i++) {
		view_lead *ld = NULL;
		rc = lead_build(l, ks.k[i].id, &ld, err);
		if (rc == 0)
			rc = fn(ctx, ld);
		view_lead_free(&ld);
	}
	free(ks.k);
	return rc;
}

/* ---- organizations ---- */

static bool is_record_of(const record *r, const void *id)
{
	const Hutong__Body *b = record_body(r);
	return b->content_case == HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION &&
	       strcmp(b->fleeing_organization->org_id, id) == 0;
}

static int org_trail(ledger *l, view_org *o, ht_err *err)
{
	char term[RECORD_MAX_TERM];
	vec got = {0};
	fetch f = {.s = o->store,
		   .out = &got,
		   .kind = HUTONG__KIND__KIND_FLEEING_ORGANIZATION,
		   .keep = is_record_of,
		   .arg = o->id};
	snprintf(term, sizeof(term), "org:%s", o->id);
	int rc = fetch_term(l, term, &f, err);
	if (rc == 0 && got.n == 0)
		rc = ht_err_set(err, HT_ENOTFOUND, "org",
				"no organization "
				"'%s'",
				o->id);
	if (rc == 0) {
		sort(got.p, got.n, sizeof(record *), cmp_recp);
		o->trail = calloc(got.n, sizeof(view_trail));
		if (o->trail == NULL || !store_keep(o->store, o->trail))
			rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	}
	for (size_t i = 0; rc == 0 && i < got.n; i++) {
		view_trail *t = &o->trail[i];
		rc = version_load(l, o->store, ((const record **)got.p)[i],
				  &t->v, err);
		t->body = t->v.body->fleeing_organization;
		t->region = t->body->last_seen_region[0]
				? t->body->last_seen_region
				: origin_of(t->v.rec);
		t->seen_ms = t->body->last_seen_ms
				 ? t->body->last_seen_ms
				 : record_header(t->v.rec)->created_ms;
		o->n_trail++;
	}
	free(got.p);
	return rc;
}

static int cmp_dest(const void *a, const void *b) { return strcmp(a, b); }

/* Names other than the current one, distinct by name key. */
static int alias_add(vec *v, const char *cur, const char *name)
{
	char k[RECORD_MAX_TERM], c[RECORD_MAX_TERM];
	util_name_key(name, k, sizeof(k));
	if (k[0] == '\0' || strcmp(k, util_name_key(cur, c, sizeof(c))) == 0)
		return 0;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(k, util_name_key(((const char **)v->p)[i], c,
					    sizeof(c))) == 0)
			return 0;
	const char **slot = vec_push(v, sizeof(*slot));
	if (slot == NULL)
		return HT_ENOMEM;
	*slot = name;
	return 0;
}

static int dest_add(vec *v, const char *d)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(((char(*)[HT_REGION_LEN + 1]) v->p)[i], d) == 0)
			return 0;
	char *slot = vec_push(v, HT_REGION_LEN + 1);
	if (slot == NULL)
		return HT_ENOMEM;
	snprintf(slot, HT_REGION_LEN + 1, "%s", d);
	return 0;
}

/* Name, level, members, last seen: from the live (not retracted) trail. */
static void org_headline(view_org *o)
{
	const view_trail *alert = NULL, *latest = NULL;
	for (size_t i = 0; i < o->n_trail; i++) {
		const view_trail *t = &o->trail[i];
		if (t->v.retracted)
			continue;
		if (!t->body->sighting)
			alert = t;
		if (t->body->estimated_members)
			o->members = t->body->estimated_members;
		if (latest == NULL || t->seen_ms >= latest->seen_ms)
			latest = t;
	}
	if (latest == NULL) /* all retracted: still name it */
		latest = &o->trail[o->n_trail - 1];
	o->name =
	    alert ? alert->body->name : o->trail[o->n_trail - 1].body->name;
	o->level = alert ? alert->body->level : 0;
	o->last_region = latest->region;
	o->last_seen_ms = latest->seen_ms;
}

static int org_collect(view_org *o)
{
	vec al = {0}, le = {0}, de = {0};
	int rc = 0;
	org_headline(o);
	for (size_t i = 0; rc == 0 && i < o->n_trail; i++) {
		const Hutong__FleeingOrganization *b = o->trail[i].body;
		if (o->trail[i].v.retracted)
			continue;
		rc = alias_add(&al, o->name, b->name);
		for (size_t k = 0; rc == 0 && k < b->n_aliases; k++)
			rc = alias_add(&al, o->name, b->aliases[k]);
		if (rc == 0)
			rc = people_add(&le, b->leaders, b->n_leaders);
		for (size_t k = 0; rc == 0 && k < b->n_suspected_destinations;
		     k++)
			rc = dest_add(&de, b->suspected_destinations[k]);
	}
	sort(de.p, de.n, HT_REGION_LEN + 1, cmp_dest);
	o->aliases = al.p;
	o->n_aliases = al.n;
	o->leaders = le.p;
	o->n_leaders = le.n;
	o->dests = de.p;
	o->n_dests = de.n;
	bool kept = store_keep(o->store, al.p);
	kept = store_keep(o->store, le.p) && kept;
	kept = store_keep(o->store, de.p) && kept;
	return rc == 0 && kept ? 0 : HT_ENOMEM;
}

/* ---- organizations: receipts, links, duplicates ---- */

typedef struct rcpt_ctx {
	vec *v;
	int rc;
} rcpt_ctx;

static int rcpt_one(void *ctx, const char *node, int64_t ms)
{
	rcpt_ctx *c = ctx;
	view_receipt *r = vec_push(c->v, sizeof(*r));
	if (r == NULL)
		return c->rc = HT_ENOMEM;
	snprintf(r->node, sizeof(r->node), "%s", node);
	r->ms = ms;
	return 0;
}

/* Earliest time per node over all alerts. */
static int received_add(vec *u, const view_receipt *r)
{
	for (size_t i = 0; i < u->n; i++) {
		view_receipt *x = (view_receipt *)u->p + i;
		if (strcmp(x->node, r->node) == 0) {
			if (r->ms < x->ms)
				x->ms = r->ms;
			return 0;
		}
	}
	view_receipt *x = vec_push(u, sizeof(*x));
	if (x == NULL)
		return HT_ENOMEM;
	*x = *r;
	return 0;
}

static int cmp_receipt(const void *a, const void *b)
{
	return strcmp(((const view_receipt *)a)->node,
		      ((const view_receipt *)b)->node);
}

static int org_receipts(ledger *l, view_org *o, ht_err *err)
{
	vec all = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < o->n_trail; i++) {
		view_trail *t = &o->trail[i];
		vec v = {0};
		rcpt_ctx c = {&v, 0};
		if (t->body->sighting)
			continue;
		const Hutong__Header *h = record_header(t->v.rec);
		rc = ledger_receipts(l, h->origin_region, h->seq, rcpt_one, &c,
				     err);
		rc = rc ? rc : c.rc;
		t->receipts = v.p;
		t->n_receipts = v.n;
		if (!store_keep(o->store, v.p))
			rc = HT_ENOMEM;
		for (size_t k = 0; rc == 0 && k < v.n; k++)
			rc = received_add(&all, &t->receipts[k]);
	}
	sort(all.p, all.n, sizeof(view_receipt), cmp_receipt);
	o->received = all.p;
	o->n_received = all.n;
	if (!store_keep(o->store, all.p) && rc == 0)
		rc = HT_ENOMEM;
	return rc == HT_ENOMEM ? ht_err_set(err, rc, "", "out of memory") : rc;
}

static bool in_trail(const view_org *o, const uint8_t *id)
{
	for (size_t i = 0; i < o->n_trail; i++)
		if (memcmp(record_id(o->trail[i].v.rec), id, RECORD_ID_BYTES) ==
		    0)
			return true;
	return false;
}

static bool names_related(const Hutong__Intelligence *in, const uint8_t *id)
{
	for (size_t i = 0; i < in->n_related; i++)
		if (in->related[i].len == RECORD_ID_BYTES &&
		    memcmp(in->related[i].data, id, RECORD_ID_BYTES) == 0)
			return true;
	return false;
}

/* Record a link to org `other` by lead `by`; per org the earliest lead. */
static int link_add(vec *v, const char *other, const record *by)
{
	for (size_t i = 0; i < v->n; i++) {
		view_link *k = (view_link *)v->p + i;
		if (strcmp(k->org, other) == 0) {
			if (cmp_rec(by, k->by) < 0)
				k->by = by;
			return 0;
		}
	}
	view_link *k = vec_push(v, sizeof(*k));
	if (k == NULL)
		return HT_ENOMEM;
	snprintf(k->org, sizeof(k->org), "%s", other);
	k->by = by;
	return 0;
}

/* The organizations a live lead links this one with. */
static int lead_links(ledger *l, view_org *o, const view_version *lv,
		      vec *links, ht_err *err)
{
	const Hutong__Intelligence *in = lv->body->intelligence;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < in->n_related; i++) {
		record *r = NULL;
		const Hutong__FleeingOrganization *other;
		if (in->related[i].len != RECORD_ID_BYTES ||
		    in_trail(o, in->related[i].data) ||
		    ledger_get(l, in->related[i].data, &r, NULL, NULL) != 0)
			continue;
		other = view_record_org(r);
		if (other != NULL && strcmp(other->org_id, o->id) != 0)
			rc = link_add(links, other->org_id, lv->rec);
		record_free(&r);
	}
	(void)err;
	return rc;
}

static int cmp_link(const void *a, const void *b)
{
	return strcmp(((const view_link *)a)->org, ((const view_link *)b)->org);
}

static int org_links(ledger *l, view_org *o, ht_err *err)
{
	char term[RECORD_MAX_TERM];
	idset leads = {.kind = HUTONG__BODY__CONTENT_INTELLIGENCE};
	vec links = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < o->n_trail; i++) {
		id_term("related", record_id(o->trail[i].v.rec), term,
			sizeof(term));
		rc = idset_term(l, term, &leads, err);
	}
	idset_sort(&leads);
	for (size_t i = 0; rc == 0 && i < leads.n; i++) {
		view_version lv;
		const record *r =
		    load_original(l, o->store, leads.ids[i],
				  HUTONG__BODY__CONTENT_INTELLIGENCE);
		if (r == NULL)
			continue;
		rc = version_load(l, o->store, r, &lv, err);
		bool live = false;
		for (size_t k = 0; rc == 0 && k < o->n_trail && !live; k++)
			live = names_related(lv.body->intelligence,
					     record_id(o->trail[k].v.rec));
		if (rc == 0 && live && !lv.retracted)
			rc = lead_links(l, o, &lv, &links, err);
	}
	free(leads.ids);
	sort(links.p, links.n, sizeof(view_link), cmp_link);
	o->links = links.p;
	o->n_links = links.n;
	if (!store_keep(o->store, links.p) && rc == 0)
		rc = HT_ENOMEM;
	return rc == HT_ENOMEM ? ht_err_set(err, rc, "", "out of memory") : rc;
}

/* A candidate duplicate: per org the least record (fold order) names it. */
typedef struct dup_cand {
	view_dup d;
	uint8_t key[8 + 7 + 8]; /* created, origin, seq: the tie-break */
} dup_cand;

typedef struct dup_ctx {
	const view_org *o;
	const char *key;
	vec *v;
	int rc;
} dup_ctx;

static void dup_order(const record *r, uint8_t out[23])
{
	const Hutong__Header *h = record_header(r);
	uint64_t c = (uint64_t)h->created_ms ^ (1ULL << 63);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(c >> (56 - 8 * i));
	memcpy(out + 8, h->origin_region, 6);
	out[14] = 0;
	for (int i = 0; i < 8; i++)
		out[15 + i] = (uint8_t)(h->seq >> (56 - 8 * i));
}

static bool is_linked(const view_org *o, const char *id)
{
	for (size_t i = 0; i < o->n_links; i++)
		if (strcmp(o->links[i].org, id) == 0)
			return true;
	return false;
}

static int dup_one(void *ctx, const record *r, const ledger_meta *m)
{
	dup_ctx *c = ctx;
	const Hutong__FleeingOrganization *f = view_record_org(r);
	uint8_t ord[23];
	(void)m;
	if (f == NULL || strcmp(f->org_id, c->o->id) == 0 ||
	    is_linked(c->o, f->org_id))
		return 0;
	dup_order(r, ord);
	for (size_t i = 0; i < c->v->n; i++) {
		dup_cand *d = (dup_cand *)c->v->p + i;
		if (strcmp(d->d.org, f->org_id) != 0)
			continue;
		if (memcmp(ord, d->key, sizeof(ord)) < 0 &&
		    strcmp(d->d.key, c->key) == 0) {
			memcpy(d->key, ord, sizeof(ord));
			snprintf(d->d.name, sizeof(d->d.name), "%s", f->name);
		}
		return 0;
	}
	dup_cand *d = vec_push(c->v, sizeof(*d));
	if (d == NULL)
		return c->rc = HT_ENOMEM;
	snprintf(d->d.org, sizeof(d->d.org), "%s", f->org_id);
	snprintf(d->d.key, sizeof(d->d.key), "%s", c->key);
	snprintf(d->d.name, sizeof(d->d.name), "%s", f->name);
	memcpy(d->key, ord, sizeof(ord));
	return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

/* The distinct name keys of the organization, sorted. */
static int org_keys(const view_org *o, vec *keys)
{
	for (size_t i = 0; i <= o->n_aliases; i++) {
		char k[RECORD_MAX_TERM];
		util_name_key(i == 0 ? o->name : o->aliases[i - 1], k,
			      sizeof(k));
		bool seen = k[0] == '\0';
		for (size_t j = 0; j < keys->n && !seen; j++)
			seen = strcmp((char *)keys->p + j * RECORD_MAX_TERM,
				      k) == 0;
		char *slot = seen ? NULL : vec_push(keys, RECORD_MAX_TERM);
		if (!seen && slot == NULL)
			return HT_ENOMEM;
		if (slot)
			memcpy(slot, k, RECORD_MAX_TERM);
	}
	sort(keys->p, keys->n, RECORD_MAX_TERM, cmp_str);
	return 0;
}

static int cmp_dup(const void *a, const void *b)
{
	return strcmp(((const dup_cand *)a)->d.org,
		      ((const dup_cand *)b)->d.org);
}

static int org_dups(ledger *l, view_org *o, ht_err *err)
{
	char term[RECORD_MAX_TERM + 16];
	vec keys = {0}, cands = {0};
	int rc = org_keys(o, &keys);
	for (size_t i = 0; rc == 0 && i < keys.n; i++) {
		const char *k = (char *)keys.p + i * RECORD_MAX_TERM;
		dup_ctx c = {o, k, &cands, 0};
		snprintf(term, sizeof(term), "orgname:%s", k);
		rc = ledger_each_term(l, term, dup_one, &c, err);
		rc = rc ? rc : c.rc;
	}
	free(keys.p);
	sort(cands.p, cands.n, sizeof(dup_cand), cmp_dup);
	o->dups = rc == 0 && cands.n ? calloc(cands.n, sizeof(view_dup)) : NULL;
	for (size_t i = 0; o->dups && i < cands.n; i++)
		o->dups[i] = ((dup_cand *)cands.p)[i].d;
	o->n_dups = o->dups ? cands.n : 0;
	free(cands.p);
	if (rc == 0 &&
	    (!store_keep(o->store, o->dups) || (cands.n && o->dups == NULL)))
		rc = HT_ENOMEM;
	return rc == HT_ENOMEM ? ht_err_set(err, rc, "", "out of memory") : rc;
}

int view_org_load(ledger *l, const char *id, int flags, view_org **out,
		  ht_err *err)
{
	view_org *o = calloc(1, sizeof(*o));
	*out = NULL;
	if (o == NULL || (o->store = store_new()) == NULL) {
		free(o);
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	}
	snprintf(o->id, sizeof(o->id), "%s", id);
	int rc = org_trail(l, o, err);
	if (rc == 0 && org_collect(o) != 0)
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (rc == 0 && flags != VIEW_ORG_BRIEF) {
		rc = org_receipts(l, o, err);
		if (rc == 0)
			rc = org_links(l, o, err);
		if (rc == 0)
			rc = org_dups(l, o, err);
	}
	if (rc != 0)
		view_org_free(&o);
	*out = o;
	return rc;
}

void view_org_free(view_org **op)
{
	if (op == NULL || *op == NULL)
		return;
	store_free(&(*op)->store);
	free(*op);
	*op = NULL;
}

typedef struct each_org {
	ledger *l;
	int flags;
	view_org_fn fn;
	void *ctx;
	ht_err *err;
	int rc;
} each_org;

static int org_term(void *ctx, const char *term)
{
	each_org *e = ctx;
	view_org *o = NULL;
	int rc =
	    view_org_load(e->l, term + strlen("org:"), e->flags, &o, e->err);
	if (rc == HT_ENOTFOUND)
		return 0;
	if (rc != 0)
		return e->rc = rc;
	rc = e->fn(e->ctx, o);
	view_org_free(&o);
	return rc;
}

int view_org_each(ledger *l, int flags, view_org_fn fn, void *ctx, ht_err *err)
{
	each_org e = {l, flags, fn, ctx, err, 0};
	int rc = ledger_each_term_name(l, "org:", org_term, &e, err);
	return e.rc ? e.rc : rc;
}

/* ---- alerts ---- */

typedef struct dest_ctx {
	ledger *l;
	const char *region;
	idset *ids;
	ht_err *err;
	int rc;
} dest_ctx;

static int dest_term(void *ctx, const char *term)
{
	dest_ctx *d = ctx;
	if (view_region_relation(d->region, term + strlen("dest:")) ==
	    VIEW_REL_NONE)
		return 0;
	return d->rc = idset_term(d->l, term, d->ids, d->err);
}

/* The organization records whose destinations may concern region. */
static int alert_ids(ledger *l, const char *region, idset *ids, ht_err *err)
{
	char prefix[16];
	dest_ctx d = {l, region, ids, err, 0};
	int rc = 0;
	ids->kind = HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION;
	for (int p = 11; rc == 0 && p <= 82; p++) {
		char code[HT_REGION_LEN + 1];
		snprintf(code, sizeof(code), "%02d0000", p);
		if (strncmp(code, region, 2) != 0 &&
		    !view_provinces_adjacent(code, region))
			continue;
		snprintf(prefix, sizeof(prefix), "dest:%.2s", code);
		rc = ledger_each_term_name(l, prefix, dest_term, &d, err);
		rc = d.rc ? d.rc : rc;
	}
	idset_sort(ids);
	return rc;
}

/* One organization record, if its current version concerns region. */
static int alert_one(ledger *l, const uint8_t *id, const char *region,
		     view_alert_fn fn, void *ctx, ht_err *err)
{
	view_alert a = {0};
	view_store *s = store_new();
	int rc = s ? 0 : ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (rc == 0)
		a.v.rec = load_original(
		    l, s, id, HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION);
	if (a.v.rec != NULL &&
	    (rc = version_load(l, s, a.v.rec, &a.v, err)) == 0) {
		a.body = a.v.body->fleeing_organization;
		a.rel = view_org_concerns(a.body, region, &a.dest);
		if (a.rel != VIEW_REL_NONE)
			rc = fn(ctx, &a);
	}
	store_free(&s);
	return rc;
}

int view_alerts(ledger *l, const char *region, view_alert_fn fn, void *ctx,
		ht_err *err)
{
	idset ids = {0};
	okeys ks = {.kind = HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION};
	int rc = alert_ids(l, region, &ids, err);
	if (rc == 0)
		rc = okeys_of(l, &ids, &ks, err);
	free(ids.ids);
	sort(ks.k, ks.n, sizeof(okey), cmp_okey);
	for (size_t i = ks.n; rc == 0 && i-- > 0;) /* newest first */
		rc = alert_one(l, ks.k[i].id, region, fn, ctx, err);
	free(ks.k);
	return rc;
}

/* ---- digests ---- */

typedef struct digest_ctx {
	crypto_hash_sha256_state st;
	uint64_t n;
	idset targets; /* records some correction names */
	uint8_t (*pairs)[2 * RECORD_ID_BYTES]; /* lead id, item hash */
	size_t n_pairs, cap_pairs;
	ledger *l;
	ht_err *err;
	int rc;
} digest_ctx;

static void item_done(digest_ctx *d, crypto_hash_sha256_state *item)
{
	uint8_t h[VIEW_DIGEST_BYTES];
	crypto_hash_sha256_final(item, h);
	crypto_hash_sha256_update(&d->st, h, sizeof(h));
	d->n++;
}

static int digest_case(void *ctx, const view_case *c)
{
	crypto_hash_sha256_state it;
	crypto_hash_sha256_init(&it);
	h_str(&it, 'c', c->id);
	h_str(&it, 's', view_state_name(c->state));
	h_str(&it, 'f', c->from);
	h_str(&it, 't', c->to);
	for (size_t i = 0; i < c->n_steps; i++) {
		const view_step *s = &c->steps[i];
		h_version(&it, &s->v);
		h_int(&it, 'a', s->applied);
		h_str(&it, 'e', s->reason);
		h_str(&it, 'x', view_state_name(s->state));
	}
	item_done(ctx, &it);
	return 0;
}

static int digest_org(void *ctx, const view_org *o)
{
	crypto_hash_sha256_state it;
	crypto_hash_sha256_init(&it);
	h_str(&it, 'o', o->id);
	h_str(&it, 'n', o->name);
	h_int(&it, 'l', o->level);
	h_int(&it, 'm', o->members);
	for (size_t i = 0; i < o->n_trail; i++) {
		h_version(&it, &o->trail[i].v);
		for (size_t k = 0; k < o->trail[i].n_receipts; k++) {
			h_str(&it, 'q', o->trail[i].receipts[k].node);
			h_int(&it, 'w', o->trail[i].receipts[k].ms);
		}
	}
	for (size_t i = 0; i < o->n_dests; i++)
		h_str(&it, 'd', o->dests[i]);
	for (size_t i = 0; i < o->n_links; i++) {
		h_str(&it, 'L', o->links[i].org);
		h_id(&it, 'b', o->links[i].by);
	}
	for (size_t i = 0; i < o->n_dups; i++) {
		h_str(&it, 'D', o->dups[i].org);
		h_str(&it, 'K', o->dups[i].key);
	}
	item_done(ctx, &it);
	return 0;
}

static int target_one(void *ctx, const record *r, const ledger_meta *m)
{
	const Hutong__Body *b = record_body(r);
	(void)m;
	if (b == NULL || b->correction->target.len != RECORD_ID_BYTES)
		return 0;
	return idset_add(ctx, b->correction->target.data);
}

/* One lead: its hash, kept beside its id for sorting. */
static int lead_pair(void *ctx, const record *r, const ledger_meta *m)
{
	digest_ctx *d = ctx;
	view_version v = {.rec = r, .body = record_body(r)};
	view_store *s = NULL;
	crypto_hash_sha256_state it;
	(void)m;
	if (v.body == NULL)
		return 0;
	if (idset_has(&d->targets, record_id(r)) &&
	    ((s = store_new()) == NULL ||
	     (d->rc = version_load(d->l, s, r, &v, d->err)) != 0)) {
		store_free(&s);
		return d->rc ? d->rc : (d->rc = HT_ENOMEM);
	}
	if (!grow((void **)&d->pairs, &d->cap_pairs, d->n_pairs,
		  sizeof(d->pairs[0]))) {
		store_free(&s);
		return d->rc = HT_ENOMEM;
	}
	crypto_hash_sha256_init(&it);
	h_version(&it, &v);
	memcpy(d->pairs[d->n_pairs], record_id(r), RECORD_ID_BYTES);
	crypto_hash_sha256_final(&it, d->pairs[d->n_pairs++] + RECORD_ID_BYTES);
	store_free(&s);
	return 0;
}

static int leads_digest(ledger *l, view_digests *out, ht_err *err)
{
	digest_ctx d = {.l = l, .err = err};
	ledger_filter fc = {.kind = HUTONG__KIND__KIND_CORRECTION};
	ledger_filter fi = {.kind = HUTONG__KIND__KIND_INTELLIGENCE};
	int rc = ledger_each(l, &fc, target_one, &d.targets, err);
	if (rc == 0 && d.targets.rc)
		rc = ht_err_set(err, d.targets.rc, "", "too many corrections");
	idset_sort(&d.targets);
	if (rc == 0)
		rc = ledger_each(l, &fi, lead_pair, &d, err);
	if (d.rc != 0)
		rc = d.rc == HT_ENOMEM
			 ? ht_err_set(err, d.rc, "", "out of memory")
			 : d.rc;
	if (rc == 0) {
		sort(d.pairs, d.n_pairs, sizeof(d.pairs[0]), cmp_id);
		crypto_hash_sha256_init(&d.st);
		for (size_t i = 0; i < d.n_pairs; i++)
			crypto_hash_sha256_update(&d.st,
						  d.pairs[i] + RECORD_ID_BYTES,
						  VIEW_DIGEST_BYTES);
		crypto_hash_sha256_final(&d.st, out->leads);
		out->n_leads = d.n_pairs;
	}
	free(d.targets.ids);
	free(d.pairs);
	return rc;
}

static int digest_all(ledger *l, view_digests *out, ht_err *err)
{
	digest_ctx d = {.l = l, .err = err};
	crypto_hash_sha256_init(&d.st);
	int rc = view_case_each(l, digest_case, &d, err);
	crypto_hash_sha256_final(&d.st, out->cases);
	out->n_cases = d.n;
	d.n = 0;
	crypto_hash_sha256_init(&d.st);
	if (rc == 0)
		rc = view_org_each(l, VIEW_ORG_FULL, digest_org, &d, err);
	crypto_hash_sha256_final(&d.st, out->orgs);
	out->n_orgs = d.n;
	return rc == 0 ? leads_digest(l, out, err) : rc;
}

int view_digest(ledger *l, view_digests *out, ht_err *err)
{
	view_digests d;
	memset(&d, 0, sizeof(d));
	bool snap = ledger_read_begin(l, NULL) == 0;
	int rc = digest_all(l, &d, err);
	if (snap)
		ledger_read_end(l);
	if (rc == 0)
		*out = d;
	return rc;
}
