/*
 * test_view: the reconciled views. Records of several origins are built
 * and signed here (record_build with throw-away keys; the ledger applies the
 * chain rules, the views never look at signatures) and appended to ledgers
 * in different arrival orders, so what is checked is that each fold depends
 * on the set of records only: the repatriation state machine (every valid
 * path, every invalid step and its reason, concurrent conflicting steps),
 * the submit-time check and the node's hooks, organization trails with
 * receipts, links and duplicate suggestions by normalized names, leads with
 * amendments and retractions and their search, alerts for a region and its
 * neighbours, and the view digests.
 */
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ident.h"
#include "ledger.h"
#include "node.h"
#include "view.h"

#define T0 1795939200000LL /* 2026-11-29T08:00:00Z */
#define MIN 60000LL
#define MAX_BUILT 512

static char tmpdir[] = "/tmp/hutong-test-view-XXXXXX";

/* ---- origins and records ---- */

typedef struct orig {
	const char *region, *node;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint64_t seq;
	uint8_t prev[RECORD_ID_BYTES];
} orig;

static record *built[MAX_BUILT]; /* every record, in creation order */
static size_t n_built;

static int sign_with(void *ctx, const uint8_t *msg, size_t len,
		     uint8_t sig[RECORD_SIG_BYTES])
{
	return crypto_sign_detached(sig, NULL, msg, len, ctx) ? HT_ECRYPTO : 0;
}

static record *build(orig *o, int64_t at, Hutong__Body *body)
{
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	sub.author = "officer";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = body;
	record_origin ro = {o->region, o->node, o->seq + 1,
			    o->seq ? o->prev : NULL, at};
	record *r = NULL;
	ht_err err = {0};
	if (record_build(&sub, &ro, sign_with, o->sk, &r, &err) != 0) {
		fprintf(stderr, "record_build: %s: %s\n", err.field, err.msg);
		CHECK(r != NULL);
		return NULL;
	}
	o->seq++;
	memcpy(o->prev, record_id(r), RECORD_ID_BYTES);
	CHECK(n_built < MAX_BUILT);
	built[n_built++] = r;
	return r;
}

static void orig_init(orig *o, const char *region, const char *name)
{
	memset(o, 0, sizeof(*o));
	o->region = region;
	o->node = name;
	crypto_sign_keypair(o->pk, o->sk);
	Hutong__Genesis g = HUTONG__GENESIS__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	g.public_key = (ProtobufCBinaryData){RECORD_PK_BYTES, o->pk};
	b.content_case = HUTONG__BODY__CONTENT_GENESIS;
	b.genesis = &g;
	build(o, T0 - 1000, &b);
}

static Hutong__Person *person(const char *name, const char *idno,
			      const char *phone)
{
	static Hutong__Person pool[64];
	static size_t next;
	Hutong__Person *p = &pool[next++ % 64];
	hutong__person__init(p);
	p->name = (char *)name;
	p->id_number = (char *)(idno ? idno : "");
	p->phone = (char *)(phone ? phone : "");
	return p;
}

static record *step(orig *o, int64_t at, const char *id, int st,
		    const char *from, const char *to)
{
	Hutong__Repatriation r = HUTONG__REPATRIATION__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	Hutong__Person *people[2] = {person("张三", "450102199001011231", NULL),
				     person("李四", NULL, NULL)};
	r.case_id = (char *)id;
	r.step = st;
	r.from_region = (char *)from;
	r.to_region = (char *)to;
	if (st == HUTONG__STEP__STEP_REQUEST) {
		r.people = people;
		r.n_people = 2;
	}
	b.content_case = HUTONG__BODY__CONTENT_REPATRIATION;
	b.repatriation = &r;
	return build(o, at, &b);
}

typedef struct orgspec {
	const char *id, *name, *alias, *seen, *dest, *dest2, *leader;
	bool sighting;
	int level;
} orgspec;

static void org_fill(Hutong__FleeingOrganization *f, const orgspec *s,
		     char **alias, char **dests, Hutong__Person **lead)
{
	hutong__fleeing_organization__init(f);
	f->org_id = (char *)s->id;
	f->name = (char *)s->name;
	f->sighting = s->sighting;
	f->level = s->level;
	f->last_seen_region = (char *)(s->seen ? s->seen : "");
	alias[0] = (char *)s->alias;
	f->aliases = alias;
	f->n_aliases = s->alias ? 1 : 0;
	dests[0] = (char *)s->dest;
	dests[1] = (char *)s->dest2;
	f->suspected_destinations = dests;
	f->n_suspected_destinations = s->dest ? (s->dest2 ? 2 : 1) : 0;
	lead[0] = person(s->leader ? s->leader : "", NULL, NULL);
	f->leaders = lead;
	f->n_leaders = s->leader ? 1 : 0;
}

static record *org(orig *o, int64_t at, orgspec s)
{
	Hutong__FleeingOrganization f;
	Hutong__Body b = HUTONG__BODY__INIT;
	char *alias[1], *dests[2];
	Hutong__Person *lead[1];
	org_fill(&f, &s, alias, dests, lead);
	b.content_case = HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION;
	b.fleeing_organization = &f;
	return build(o, at, &b);
}

typedef struct leadspec {
	const char *org, *person, *idno, *phone, *region, *summary;
	const record *rel[2];
} leadspec;

static void lead_fill(Hutong__Intelligence *in, const leadspec *s,
		      Hutong__Person **pp, Hutong__Place *pl,
		      Hutong__Place **plp, ProtobufCBinaryData *rel)
{
	hutong__intelligence__init(in);
	in->summary = (char *)(s->summary ? s->summary : "a lead");
	in->organization = (char *)(s->org ? s->org : "");
	pp[0] = person(s->person ? s->person : "", s->idno, s->phone);
	in->people = pp;
	in->n_people = s->person ? 1 : 0;
	hutong__place__init(pl);
	pl->region = (char *)s->region;
	plp[0] = pl;
	in->places = plp;
	in->n_places = s->region ? 1 : 0;
	for (int i = 0; i < 2; i++)
		if (s->rel[i]) {
			rel[in->n_related++] = (ProtobufCBinaryData){
			    RECORD_ID_BYTES, (uint8_t *)record_id(s->rel[i])};
		}
	in->related = rel;
}

static record *lead(orig *o, int64_t at, leadspec s)
{
	Hutong__Intelligence in;
	Hutong__Body b = HUTONG__BODY__INIT;
	Hutong__Person *pp[1];
	Hutong__Place pl, *plp[1];
	ProtobufCBinaryData rel[2];
	lead_fill(&in, &s, pp, &pl, plp, rel);
	b.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	b.intelligence = &in;
	return build(o, at, &b);
}

/* A correction of target: a retraction (repl NULL) or an amendment. */
static record *fix(orig *o, int64_t at, const record *target,
		   Hutong__Body *repl)
{
	Hutong__Correction k = HUTONG__CORRECTION__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	k.target = (ProtobufCBinaryData){RECORD_ID_BYTES,
					 (uint8_t *)record_id(target)};
	k.retract = repl == NULL;
	k.reason = "checked again";
	k.replacement = repl;
	b.content_case = HUTONG__BODY__CONTENT_CORRECTION;
	b.correction = &k;
	return build(o, at, &b);
}

static record *fix_lead(orig *o, int64_t at, const record *target, leadspec s)
{
	Hutong__Intelligence in;
	Hutong__Body b = HUTONG__BODY__INIT;
	Hutong__Person *pp[1];
	Hutong__Place pl, *plp[1];
	ProtobufCBinaryData rel[2];
	lead_fill(&in, &s, pp, &pl, plp, rel);
	b.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	b.intelligence = &in;
	return fix(o, at, target, &b);
}

static record *fix_org(orig *o, int64_t at, const record *target, orgspec s)
{
	Hutong__FleeingOrganization f;
	Hutong__Body b = HUTONG__BODY__INIT;
	char *alias[1], *dests[2];
	Hutong__Person *lead[1];
	org_fill(&f, &s, alias, dests, lead);
	b.content_case = HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION;
	b.fleeing_organization = &f;
	return fix(o, at, target, &b);
}

/* A receipt of o saying it holds each of the given origins up to seq. */
static record *receipt(orig *o, int64_t at, orig *const *held, size_t n)
{
	Hutong__ReceiptEntry e[8], *ep[8];
	Hutong__Receipt rc = HUTONG__RECEIPT__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	for (size_t i = 0; i < n; i++) {
		hutong__receipt_entry__init(&e[i]);
		e[i].origin = (char *)held[i]->region;
		e[i].seq = held[i]->seq;
		e[i].head =
		    (ProtobufCBinaryData){RECORD_ID_BYTES, held[i]->prev};
		ep[i] = &e[i];
	}
	rc.entries = ep;
	rc.n_entries = n;
	b.content_case = HUTONG__BODY__CONTENT_RECEIPT;
	b.receipt = &rc;
	return build(o, at, &b);
}

/* ---- ledgers ---- */

static ledger *fresh(const char *name)
{
	char path[PATH_MAX];
	ht_err err = {0};
	snprintf(path, sizeof(path), "%s/%s.db", tmpdir, name);
	ledger *l = ledger_open(path, LEDGER_RDWR, NULL, &err);
	CHECK(l != NULL);
	if (l == NULL)
		fprintf(stderr, "ledger_open: %s\n", err.msg);
	return l;
}

static void append(ledger *l, const record *r)
{
	ledger_outcome out;
	ht_err err = {0};
	int rc = ledger_append(l, r, "test", &out, &err);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0)
		fprintf(stderr, "append: %s\n", err.msg);
}

/* Every record built so far, in creation order (held ones are no-ops). */
static void load(ledger *l)
{
	for (size_t i = 0; i < n_built; i++)
		append(l, built[i]);
}

/* The same records, origin by origin from the last origin created. */
static void load_reversed(ledger *l)
{
	char seen[32][HT_REGION_LEN + 1];
	size_t n = 0;
	for (size_t i = 0; i < n_built; i++) {
		const char *o = record_header(built[i])->origin_region;
		bool have = false;
		for (size_t k = 0; k < n && !have; k++)
			have = strcmp(seen[k], o) == 0;
		if (!have && n < 32)
			snprintf(seen[n++], sizeof(seen[0]), "%s", o);
	}
	while (n-- > 0)
		for (size_t i = 0; i < n_built; i++)
			if (strcmp(record_header(built[i])->origin_region,
				   seen[n]) == 0)
				append(l, built[i]);
}

static view_case *load_case(ledger *l, const char *id)
{
	view_case *c = NULL;
	ht_err err = {0};
	int rc = view_case_load(l, id, &c, &err);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0)
		fprintf(stderr, "case %s: %s\n", id, err.msg);
	return c;
}

static const char *state_of(ledger *l, const char *id)
{
	static char buf[32];
	view_case *c = load_case(l, id);
	snprintf(buf, sizeof(buf), "%s", c ? view_state_name(c->state) : "?");
	view_case_free(&c);
	return buf;
}

/* The reason step i of case id was not applied ("" if applied). */
static const char *reason_of(ledger *l, const char *id, size_t i)
{
	static char buf[VIEW_REASON_MAX];
	view_case *c = load_case(l, id);
	buf[0] = '\0';
	if (c != NULL && i < c->n_steps && !c->steps[i].applied)
		snprintf(buf, sizeof(buf), "%s", c->steps[i].reason);
	else if (c == NULL || i >= c->n_steps)
		snprintf(buf, sizeof(buf), "(no step %zu)", i);
	view_case_free(&c);
	return buf;
}

/* ---- the federation of the tests ---- */

static orig nanning, changsha, guangzhou, beijing, fcg;

enum {
	REQ = HUTONG__STEP__STEP_REQUEST,
	ACC = HUTONG__STEP__STEP_ACCEPT,
	REJ = HUTONG__STEP__STEP_REJECT,
	DEP = HUTONG__STEP__STEP_DEPART,
	HND = HUTONG__STEP__STEP_HAND_OVER,
	RCV = HUTONG__STEP__STEP_RECEIVE,
	CAN = HUTONG__STEP__STEP_CANCEL,
};

#define NN "450100"
#define CS "430100"

static void test_valid_paths(void)
{
	ledger *l = fresh("paths");
	int64_t t = T0;
	step(&nanning, t, "P-full", REQ, NN, CS);
	step(&changsha, t + 1 * MIN, "P-full", ACC, NN, CS);
	step(&nanning, t + 2 * MIN, "P-full", DEP, NN, CS);
	step(&nanning, t + 3 * MIN, "P-full", HND, NN, CS);
	step(&changsha, t + 5 * MIN, "P-full", RCV, NN, CS);
	step(&nanning, t, "P-rej", REQ, NN, CS);
	step(&changsha, t + MIN, "P-rej", REJ, NN, CS);
	step(&nanning, t, "P-can1", REQ, NN, CS);
	step(&nanning, t + MIN, "P-can1", CAN, NN, CS);
	step(&nanning, t, "P-can2", REQ, NN, CS);
	step(&changsha, t + MIN, "P-can2", ACC, NN, CS);
	step(&nanning, t + 2 * MIN, "P-can2", CAN, NN, CS);
	load(l);
	CHECK_STR(state_of(l, "P-full"), "received");
	CHECK_STR(state_of(l, "P-rej"), "rejected");
	CHECK_STR(state_of(l, "P-can1"), "cancelled");
	CHECK_STR(state_of(l, "P-can2"), "cancelled");

	view_case *c = load_case(l, "P-full");
	if (c != NULL) {
		CHECK_STR(c->from, NN);
		CHECK_STR(c->to, CS);
		CHECK_EQ_INT(c->n_steps, 5);
		CHECK_EQ_INT(c->n_stays, 5);
		CHECK_EQ_INT(c->n_people, 2);
		CHECK_EQ_INT(c->opened_ms, t);
		CHECK_EQ_INT(c->since_ms, t + 5 * MIN);
		/* time in each state: requested 1m, accepted 1m, departed 1m,
		 * handed-over 2m, received open */
		CHECK_EQ_INT(c->stays[0].state, VIEW_STATE_REQUESTED);
		CHECK_EQ_INT(c->stays[0].until_ms - c->stays[0].since_ms, MIN);
		CHECK_EQ_INT(c->stays[3].state, VIEW_STATE_HANDED_OVER);
		CHECK_EQ_INT(c->stays[3].until_ms - c->stays[3].since_ms,
			     2 * MIN);
		CHECK_EQ_INT(c->stays[4].until_ms, 0);
		for (size_t i = 0; i < c->n_steps; i++)
			CHECK(c->steps[i].applied);
		char buf[VIEW_REASON_MAX];
		CHECK_STR(view_case_allowed(c, buf, sizeof(buf)),
			  "none (the case is closed)");
		CHECK(!view_case_overdue(c, t + 1000 * MIN, MIN));
	}
	view_case_free(&c);
	c = load_case(l, "P-rej");
	CHECK(c && !view_case_overdue(c, t + 100 * MIN, MIN));
	view_case_free(&c);
	ledger_close(&l);
}

static void test_invalid_steps(void)
{
	ledger *l = fresh("invalid");
	int64_t t = T0 + 100 * MIN;
	/* accept by the finding region; depart before accept */
	step(&nanning, t, "X-1", REQ, NN, CS);
	step(&nanning, t + 1, "X-1", ACC, NN, CS);
	step(&nanning, t + 2, "X-1", DEP, NN, CS);
	/* a request from a bureau that did not find the people */
	step(&changsha, t, "X-2", REQ, NN, CS);
	/* a second request; a step naming other regions */
	step(&nanning, t, "X-3", REQ, NN, CS);
	step(&guangzhou, t + 1, "X-3", REQ, "440100", CS);
	step(&changsha, t + 2, "X-3", ACC, NN, "440100");
	/* after a final state; cancel after departure */
	step(&nanning, t, "X-4", REQ, NN, CS);
	step(&nanning, t + 1, "X-4", CAN, NN, CS);
	step(&changsha, t + 2, "X-4", ACC, NN, CS);
	step(&nanning, t, "X-5", REQ, NN, CS);
	step(&changsha, t + 1, "X-5", ACC, NN, CS);
	step(&nanning, t + 2, "X-5", DEP, NN, CS);
	step(&nanning, t + 3, "X-5", CAN, NN, CS);
	step(&changsha, t + 4, "X-5", RCV, NN, CS);
	/* no request at all */
	step(&changsha, t, "X-6", ACC, NN, CS);
	/* a retracted accept: the depart after it no longer applies */
	step(&nanning, t, "X-7", REQ, NN, CS);
	record *acc = step(&changsha, t + 1, "X-7", ACC, NN, CS);
	step(&nanning, t + 2, "X-7", DEP, NN, CS);
	fix(&changsha, t + 3, acc, NULL);
	load(l);

	CHECK_STR(state_of(l, "X-1"), "requested");
	CHECK_STR(reason_of(l, "X-1", 1),
		  "accept must come from 430100 (their home region), not "
		  "450100; state requested; allowed steps: accept (by 430100), "
		  "reject (by 430100), cancel (by 450100)");
	CHECK_STR(reason_of(l, "X-1", 2),
		  "depart not allowed; state requested; allowed steps: accept "
		  "(by 430100), reject (by 430100), cancel (by 450100)");
	CHECK_STR(state_of(l, "X-2"), "none");
	CHECK_HAS(reason_of(l, "X-2", 0),
		  "request must come from 450100 "
		  "(where the people were found), not 430100; state none");
	CHECK_STR(state_of(l, "X-3"), "requested");
	CHECK_HAS(reason_of(l, "X-3", 1), "names 440100 to 430100, the case "
					  "is 450100 to 430100");
	CHECK_HAS(reason_of(l, "X-3", 2), "names 450100 to 440100");
	CHECK_STR(state_of(l, "X-4"), "cancelled");
	CHECK_STR(reason_of(l, "X-4", 2),
		  "accept not allowed; state "
		  "cancelled; allowed steps: none (the case is closed)");
	CHECK_STR(state_of(l, "X-5"), "departed");
	CHECK_HAS(reason_of(l, "X-5", 3),
		  "cancel not allowed; state departed;"
		  " allowed steps: hand-over (by 450100)");
	CHECK_HAS(reason_of(l, "X-5", 4),
		  "receive not allowed; state departed");
	CHECK_STR(state_of(l, "X-6"), "none");
	CHECK_HAS(reason_of(l, "X-6", 0), "accept not allowed; state none; "
					  "allowed steps: request");
	CHECK_STR(state_of(l, "X-7"), "requested");
	CHECK_STR(reason_of(l, "X-7", 1), "retracted");
	CHECK_HAS(reason_of(l, "X-7", 2),
		  "depart not allowed; state requested");

	view_case *c = load_case(l, "X-5");
	CHECK(c && view_case_overdue(c, t + 2 + 10 * MIN, 5 * MIN));
	CHECK(c && !view_case_overdue(c, t + 2 + 4 * MIN, 5 * MIN));
	view_case_free(&c);
	ht_err err = {0};
	CHECK_EQ_INT(view_case_load(l, "no-such-case", &c, &err), HT_ENOTFOUND);
	ledger_close(&l);
}

static void digests(ledger *l, view_digests *d)
{
	ht_err err = {0};
	int rc = view_digest(l, d, &err);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0)
		fprintf(stderr, "view_digest: %s\n", err.msg);
}

static bool same_digests(const view_digests *a, const view_digests *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* Reject (by the home region) and cancel (by the requester) race: the
 * header order decides, the same on every node. */
static void test_concurrent(void)
{
	int64_t t = T0 + 200 * MIN;
	step(&nanning, t, "C-1", REQ, NN, CS);
	step(&changsha, t + MIN, "C-1", REJ, NN, CS);
	step(&nanning, t + MIN, "C-1", CAN, NN, CS); /* same ms: 430100 first */
	step(&nanning, t, "C-2", REQ, NN, CS);
	step(&changsha, t + MIN, "C-2", REJ, NN, CS);
	step(&nanning, t + MIN - 1, "C-2", CAN, NN, CS); /* a ms earlier */
	ledger *a = fresh("conc-a"), *b = fresh("conc-b");
	load(a);
	load_reversed(b);
	CHECK_STR(state_of(a, "C-1"), "rejected");
	CHECK_STR(state_of(b, "C-1"), "rejected");
	CHECK_HAS(reason_of(b, "C-1", 2), "cancel not allowed; state rejected");
	CHECK_STR(state_of(a, "C-2"), "cancelled");
	CHECK_STR(state_of(b, "C-2"), "cancelled");
	CHECK_HAS(reason_of(a, "C-2", 2),
		  "reject not allowed; state cancelled");
	view_digests da, db;
	digests(a, &da);
	digests(b, &db);
	CHECK(same_digests(&da, &db));
	CHECK(da.n_cases > 0);
	ledger_close(&a);
	ledger_close(&b);
}

/* The check the daemon runs before signing, on a record not yet stored. */
static void test_submit_check(void)
{
	int64_t t = T0 + 300 * MIN;
	ledger *l = fresh("check");
	step(&nanning, t, "NN-1", REQ, NN, CS);
	step(&changsha, t + MIN, "NN-1", ACC, NN, CS);
	load(l);
	orig scratch = nanning; /* candidates, never appended */
	size_t mark = n_built;
	record *bad = step(&scratch, t + 2 * MIN, "NN-1", RCV, NN, CS);
	record *good = step(&scratch, t + 2 * MIN, "NN-1", DEP, NN, CS);
	ht_err err = {0};
	CHECK_EQ_INT(view_check_record(NULL, l, bad, &err), HT_ESTATE);
	CHECK_STR(err.field, "body.repatriation.step");
	CHECK_STR(err.msg,
		  "case NN-1: receive not allowed; state accepted; "
		  "allowed steps: depart (by 450100), cancel (by 450100)");
	CHECK_EQ_INT(view_check_record(NULL, l, good, NULL), 0);
	/* a correction must keep the step's case, step and regions */
	const record *req = built[mark - 2];
	record *f = NULL;
	{
		Hutong__Repatriation r = HUTONG__REPATRIATION__INIT;
		Hutong__Body b = HUTONG__BODY__INIT;
		r.case_id = "NN-9";
		r.step = HUTONG__STEP__STEP_REQUEST;
		r.from_region = NN;
		r.to_region = CS;
		b.content_case = HUTONG__BODY__CONTENT_REPATRIATION;
		b.repatriation = &r;
		f = fix(&scratch, t + 3 * MIN, req, &b);
	}
	CHECK(record_body(req)->content_case ==
	      HUTONG__BODY__CONTENT_REPATRIATION);
	CHECK_EQ_INT(view_check_record(NULL, l, f, &err), HT_EINVAL);
	CHECK_HAS(err.msg, "must keep its case, step and regions");
	/* forget the candidates */
	while (n_built > mark)
		record_free(&built[--n_built]);
	ledger_close(&l);
}

/* ---- the node's hooks ---- */

static int stored_count;
static char stored_kinds[64];

static void on_stored(void *ctx, const record *r)
{
	(void)ctx;
	size_t n = strlen(stored_kinds);
	if (n + 2 < sizeof(stored_kinds)) {
		stored_kinds[n] = (char)('0' + record_header(r)->kind);
		stored_kinds[n + 1] = '\0';
	}
	stored_count++;
}

static Hutong__Submission *sub_step(const char *id, int st)
{
	static Hutong__Repatriation r[4];
	static Hutong__Body b[4];
	static Hutong__Submission s[4];
	static int next;
	int i = next++ % 4;
	hutong__repatriation__init(&r[i]);
	hutong__body__init(&b[i]);
	hutong__submission__init(&s[i]);
	r[i].case_id = (char *)id;
	r[i].step = (Hutong__Step)st;
	r[i].from_region = NN;
	r[i].to_region = CS;
	b[i].content_case = HUTONG__BODY__CONTENT_REPATRIATION;
	b[i].repatriation = &r[i];
	s[i].author = "officer";
	s[i].body = &b[i];
	return &s[i];
}

static void test_node_hooks(void)
{
	char key[PATH_MAX], db[PATH_MAX];
	ht_err err = {0};
	snprintf(key, sizeof(key), "%s/node.key", tmpdir);
	snprintf(db, sizeof(db), "%s/node.db", tmpdir);
	CHECK_EQ_INT(ident_generate(key, &err), 0);
	node_config cfg = {.name = "nanning",
			   .region = NN,
			   .key_path = key,
			   .ledger_path = db};
	node *n = node_open(&cfg, &err);
	CHECK(n != NULL);
	if (n == NULL)
		return;
	node_set_check(n, view_check_record, NULL);
	node_set_stored_hook(n, on_stored, NULL);
	/* in one batch: request, a refused depart, cancel (sees the request) */
	Hutong__Submission *subs[3] = {
	    sub_step("H-1", REQ), sub_step("H-1", DEP), sub_step("H-1", CAN)};
	node_result res[3];
	CHECK_EQ_INT(node_submit(n, subs, 3, res, &err), 0);
	CHECK_EQ_INT(res[0].code, 0);
	CHECK_EQ_INT(res[1].code, HT_ESTATE);
	CHECK_HAS(res[1].err.msg,
		  "case H-1: depart not allowed; state "
		  "requested; allowed steps: accept (by 430100)");
	CHECK_EQ_INT(res[2].code, 0);
	CHECK_EQ_INT(stored_count, 2);
	CHECK_STR(stored_kinds, "22");
	CHECK_STR(state_of(node_ledger(n), "H-1"), "cancelled");
	/* records from a peer reach the hook too, once, after commit */
	orig peer;
	size_t mark = n_built;
	orig_init(&peer, "320100", "nanjing");
	org(&peer, T0, (orgspec){.id = "ORG-H", .name = "x", .dest = NN});
	const uint8_t *env[2];
	size_t len[2];
	sync_verdict sr[2];
	for (int i = 0; i < 2; i++)
		env[i] = record_bytes(built[mark + i], &len[i]);
	CHECK_EQ_INT(node_receive(n, "peer", env, len, 2, sr), 0);
	CHECK_EQ_INT(node_receive(n, "peer", env, len, 2, sr), 0); /* dups */
	CHECK_EQ_INT(stored_count, 4);
	CHECK_STR(stored_kinds, "2253");
	while (n_built > mark)
		record_free(&built[--n_built]);
	node_free(&n);
}

/* ---- organizations ---- */

static void test_orgs(void)
{
	int64_t t = T0 + 400 * MIN;
	/* ORG-A: an alert at Nanning, a sighting in Changsha, a later alert
	 * from Fangchenggang; ORG-B, ORG-C: the same name written otherwise;
	 * ORG-D: unrelated. */
	record *a1 = org(&nanning, t,
			 (orgspec){.id = "ORG-A",
				   .name = "鑫源互助会有限公司",
				   .alias = "XY Huzhu",
				   .seen = NN,
				   .dest = CS,
				   .leader = "王五",
				   .level = 3});
	org(&changsha, t + 60 * MIN,
	    (orgspec){.id = "ORG-A",
		      .name = "鑫源互助会",
		      .seen = CS,
		      .dest = "440100",
		      .leader = "王 五",
		      .sighting = true});
	record *s2 = org(&guangzhou, t + 90 * MIN,
			 (orgspec){.id = "ORG-A",
				   .name = "鑫源互助会",
				   .seen = "440100",
				   .sighting = true});
	org(&fcg, t + 120 * MIN,
	    (orgspec){.id = "ORG-A",
		      .name = "鑫源互助会",
		      .seen = "450600",
		      .dest = "440300",
		      .level = 4});
	record *b1 = org(
	    &guangzhou, t + 10 * MIN,
	    (orgspec){.id = "ORG-B", .name = "鑫源 互助会", .seen = "440100"});
	org(&beijing, t + 20 * MIN,
	    (orgspec){.id = "ORG-C",
		      .name = "北方商行",
		      .alias = "ＸＹ　Ｈｕｚｈｕ Co.",
		      .seen = "110000"});
	org(&beijing, t + 30 * MIN,
	    (orgspec){.id = "ORG-D", .name = "完全无关", .seen = "110000"});
	fix(&guangzhou, t + 100 * MIN, s2, NULL); /* the sighting retracted */
	/* Changsha and Beijing acknowledge ORG-A's first alert */
	orig *held_n[] = {&nanning};
	receipt(&changsha, t + 5 * MIN, held_n, 1);
	receipt(&beijing, t + 7 * MIN, held_n, 1);
	receipt(&changsha, t + 9 * MIN, held_n, 1); /* a later one: ignored */

	ledger *l = fresh("orgs");
	load(l);
	view_org *o = NULL;
	ht_err err = {0};
	CHECK_EQ_INT(view_org_load(l, "ORG-A", VIEW_ORG_FULL, &o, &err), 0);
	if (o != NULL) {
		CHECK_EQ_INT(o->n_trail, 4);
		CHECK_STR(o->trail[0].region, NN);
		CHECK_STR(o->trail[1].region, CS);
		CHECK(o->trail[2].v.retracted);
		CHECK_STR(o->trail[3].region, "450600");
		CHECK_STR(o->name, "鑫源互助会"); /* the latest alert's */
		CHECK_EQ_INT(o->level, 4);
		CHECK_STR(o->last_region, "450600");
		CHECK_EQ_INT(o->n_leaders, 1); /* 王五 = 王 五 */
		CHECK_EQ_INT(o->n_dests, 3);
		CHECK_STR(o->dests[0], CS);
		CHECK_STR(o->dests[1], "440100");
		CHECK_STR(o->dests[2], "440300");
		CHECK_EQ_INT(o->n_aliases, 1); /* XY Huzhu; 有限公司 dropped */
		CHECK_EQ_INT(o->n_received, 2);
		CHECK_STR(o->received[0].node, "110000");
		CHECK_STR(o->received[1].node, CS);
		CHECK_EQ_INT(o->received[1].ms, t + 5 * MIN);
		CHECK_EQ_INT(o->trail[0].n_receipts, 2);
		CHECK_EQ_INT(o->n_links, 0);
		CHECK_EQ_INT(o->n_dups, 2);
		if (o->n_dups == 2) {
			CHECK_STR(o->dups[0].org, "ORG-B");
			CHECK_STR(o->dups[0].key, "鑫源互助会");
			CHECK_STR(o->dups[1].org, "ORG-C");
			CHECK_STR(o->dups[1].key, "xyhuzhu");
		}
	}
	view_org_free(&o);

	/* an officer links ORG-A and ORG-B: no longer a suggestion */
	lead(&nanning, t + 130 * MIN,
	     (leadspec){.summary = "same group", .rel = {a1, b1}});
	load(l);
	CHECK_EQ_INT(view_org_load(l, "ORG-A", VIEW_ORG_FULL, &o, &err), 0);
	if (o != NULL) {
		CHECK_EQ_INT(o->n_links, 1);
		CHECK_STR(o->n_links ? o->links[0].org : "", "ORG-B");
		CHECK_EQ_INT(o->n_dups, 1);
		CHECK_STR(o->n_dups ? o->dups[0].org : "", "ORG-C");
	}
	view_org_free(&o);
	CHECK_EQ_INT(view_org_load(l, "ORG-B", VIEW_ORG_FULL, &o, &err), 0);
	CHECK(o && o->n_links == 1 && strcmp(o->links[0].org, "ORG-A") == 0);
	view_org_free(&o);
	CHECK_EQ_INT(view_org_load(l, "ORG-Z", 0, &o, &err), HT_ENOTFOUND);

	/* orgs in id order; the same digests whatever the arrival order */
	ledger *b = fresh("orgs-b");
	load_reversed(b);
	view_digests da, db;
	digests(l, &da);
	digests(b, &db);
	CHECK(same_digests(&da, &db));
	ledger_close(&b);
	ledger_close(&l);
}

/* ---- leads ---- */

static const char *found;

static int collect(void *ctx, const view_lead *ld)
{
	char *out = ctx;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "%s%s%s", n ? "," : "", ld->body->summary,
		 ld->v.retracted ? "(R)" : "");
	return 0;
}

static const char *search(ledger *l, view_query q)
{
	static char out[256];
	ht_err err = {0};
	out[0] = '\0';
	int rc = view_lead_search(l, &q, collect, out, &err);
	CHECK_EQ_INT(rc, 0);
	found = out;
	return out;
}

static void test_leads(void)
{
	int64_t t = T0 + 600 * MIN;
	record *l1 = lead(&nanning, t,
			  (leadspec){.summary = "L1",
				     .org = "鑫源互助会",
				     .person = "张三",
				     .idno = "450102199001011231",
				     .phone = "13800000000",
				     .region = NN});
	record *l2 = lead(&changsha, t + MIN,
			  (leadspec){.summary = "L2",
				     .org = "Ｆｕｌｌ Ｗｉｄｔｈ Ltd",
				     .person = "Li Si",
				     .region = CS});
	record *l3 = lead(
	    &guangzhou, t + 2 * MIN,
	    (leadspec){.summary = "L3", .person = "张三", .region = "440100"});
	/* L1 amended: a second person; L3 retracted; Changsha's attempt at
	 * correcting Nanning's lead does not apply */
	fix_lead(&nanning, t + 3 * MIN, l1,
		 (leadspec){.summary = "L1 v2",
			    .org = "鑫源互助会",
			    .person = "赵六",
			    .region = NN});
	fix(&guangzhou, t + 4 * MIN, l3, NULL);
	fix_lead(&changsha, t + 5 * MIN, l1, (leadspec){.summary = "L1 bogus"});
	ledger *l = fresh("leads");
	load(l);

	view_lead *ld = NULL;
	ht_err err = {0};
	CHECK_EQ_INT(view_lead_load(l, record_id(l1), &ld, &err), 0);
	if (ld != NULL) {
		CHECK_STR(ld->body->summary, "L1 v2");
		CHECK(!ld->v.retracted);
		CHECK_EQ_INT(ld->v.n_fixes, 2);
		CHECK(ld->v.fixes[0].applied);
		CHECK(!ld->v.fixes[1].applied);
		CHECK_HAS(ld->v.fixes[1].reason, "only the record's origin "
						 "(450100) may correct it");
	}
	view_lead_free(&ld);
	CHECK_EQ_INT(view_lead_load(l, record_id(l3), &ld, &err), 0);
	CHECK(ld && ld->v.retracted);
	view_lead_free(&ld);
	CHECK_EQ_INT(view_lead_load(l, record_id(l2), &ld, &err), 0);
	view_lead_free(&ld);

	CHECK_STR(search(l, (view_query){.person = "张 三"}), "L1 v2,L3(R)");
	CHECK_STR(search(l, (view_query){.person = "赵六"}), "L1 v2");
	CHECK_STR(search(l, (view_query){.idno = "450102199001011231"}),
		  "L1 v2");
	CHECK_STR(search(l, (view_query){.phone = "13800000000"}), "L1 v2");
	CHECK_STR(search(l, (view_query){.region = CS}), "L2");
	CHECK_STR(search(l, (view_query){.org = "full width"}), "L2");
	CHECK_STR(search(l, (view_query){.org = "鑫源互助会有限公司"}),
		  "L1 v2");
	CHECK_STR(search(l, (view_query){.person = "张三", .region = "440100"}),
		  "L3(R)");
	CHECK_STR(search(l, (view_query){.person = "nobody"}), "");
	search(l, (view_query){0});
	CHECK_HAS(found, "L1 v2,L2,L3(R)");

	ledger *b = fresh("leads-b");
	load_reversed(b);
	view_digests da, db;
	digests(l, &da);
	digests(b, &db);
	CHECK(same_digests(&da, &db));
	CHECK(da.n_leads >= 3);
	ledger_close(&b);
	ledger_close(&l);
}

/* ---- alerts ---- */

static int alert_list(void *ctx, const view_alert *a)
{
	char *out = ctx;
	size_t n = strlen(out);
	snprintf(out + n, 512 - n, "%s%s/%s/%s", n ? "," : "", a->body->org_id,
		 a->dest, view_relation_name(a->rel));
	return 0;
}

static void test_alerts(void)
{
	CHECK_EQ_INT(view_region_relation(CS, CS), VIEW_REL_DESTINATION);
	CHECK_EQ_INT(view_region_relation(CS, "430000"), VIEW_REL_DESTINATION);
	CHECK_EQ_INT(view_region_relation("430102", CS), VIEW_REL_DESTINATION);
	CHECK_EQ_INT(view_region_relation(CS, "430102"), VIEW_REL_DESTINATION);
	CHECK_EQ_INT(view_region_relation(CS, "430200"), VIEW_REL_PROVINCE);
	CHECK_EQ_INT(view_region_relation(CS, NN), VIEW_REL_ADJACENT);
	CHECK_EQ_INT(view_region_relation("460100", "440100"),
		     VIEW_REL_ADJACENT);
	CHECK_EQ_INT(view_region_relation("110000", "650000"), VIEW_REL_NONE);
	CHECK_EQ_INT(view_region_relation("110000", "110105"),
		     VIEW_REL_DESTINATION);
	CHECK(view_provinces_adjacent("43", "45"));
	CHECK(!view_provinces_adjacent("45", "32"));

	int64_t t = T0 + 800 * MIN;
	orig sy;
	orig_init(&sy, "210100", "shenyang");
	org(&sy, t, (orgspec){.id = "AL-1", .name = "a", .dest = CS});
	org(&sy, t + MIN,
	    (orgspec){.id = "AL-2", .name = "b", .dest = "430200"});
	org(&sy, t + 2 * MIN,
	    (orgspec){.id = "AL-3",
		      .name = "c",
		      .dest = "110000",
		      .dest2 = "450600"});
	org(&sy, t + 3 * MIN,
	    (orgspec){.id = "AL-4", .name = "d", .dest = "650100"});
	record *a5 =
	    org(&sy, t + 4 * MIN,
		(orgspec){.id = "AL-5", .name = "e", .dest = "650100"});
	record *a6 =
	    org(&sy, t + 5 * MIN,
		(orgspec){.id = "AL-6", .name = "f", .dest = "430100"});
	/* AL-5 amended to name Changsha; AL-6 amended away from it */
	fix_org(&sy, t + 6 * MIN, a5,
		(orgspec){.id = "AL-5", .name = "e", .dest = "430000"});
	fix_org(&sy, t + 7 * MIN, a6,
		(orgspec){.id = "AL-6", .name = "f", .dest = "650100"});
	ledger *l = fresh("alerts");
	load(l);
	char out[512] = "";
	ht_err err = {0};
	CHECK_EQ_INT(view_alerts(l, CS, alert_list, out, &err), 0);
	CHECK_HAS(out, "AL-5/430000/destination,AL-3/450600/adjacent province,"
		       "AL-2/430200/same province,AL-1/430100/destination");
	CHECK(strstr(out, "AL-4") == NULL);
	CHECK(strstr(out, "AL-6") == NULL);
	/* and the stored-record test the daemon uses */
	const char *dest = NULL;
	CHECK_EQ_INT(view_org_concerns(view_record_org(a6), CS, &dest),
		     VIEW_REL_DESTINATION);
	CHECK_STR(dest, CS);
	CHECK(view_record_org(built[n_built - 1]) != NULL); /* a correction */
	ledger_close(&l);
}

/* Everything built so far, two arrival orders, one missing record. */
static void test_digests(void)
{
	ledger *a = fresh("dig-a"), *b = fresh("dig-b"), *c = fresh("dig-c");
	load(a);
	load_reversed(b);
	for (size_t i = 0; i + 1 < n_built; i++)
		append(c, built[i]);
	view_digests da, db, dc;
	digests(a, &da);
	digests(b, &db);
	digests(c, &dc);
	CHECK(same_digests(&da, &db));
	CHECK(!same_digests(&da, &dc));
	CHECK(da.n_cases > 10 && da.n_orgs > 5 && da.n_leads > 3);
	ledger_close(&a);
	ledger_close(&b);
	ledger_close(&c);
}

int main(void)
{
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL)
		return 1;
	orig_init(&nanning, NN, "nanning");
	orig_init(&changsha, CS, "changsha");
	orig_init(&guangzhou, "440100", "guangzhou");
	orig_init(&beijing, "110000", "beijing");
	orig_init(&fcg, "450600", "fangchenggang");
	test_valid_paths();
	test_invalid_steps();
	test_concurrent();
	test_submit_check();
	test_node_hooks();
	test_orgs();
	test_leads();
	test_alerts();
	test_digests();
	for (size_t i = 0; i < n_built; i++)
		record_free(&built[i]);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done("test_view");
}
