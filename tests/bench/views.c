/*
 * bench_views: do the views stay index-bound on a large ledger?
 *
 *   bench_views [N] [--dir D] [--queries Q] [--keep] [--digest]
 *       N = 1000000 records, D = $TMPDIR or /tmp, Q = 2000 per kind
 *
 * Builds a ledger of N records from eight origins (the key cities, one key
 * each, 1000 records to a transaction): about 40% leads (one to three
 * people from a pool of N/5 names, an organization name from a pool of
 * N/100, a place), 33% repatriation steps (cases that progress through the
 * state machine, each step at its responsible origin), 15% organization
 * alerts and sightings (N/100 org ids, shared names so duplicates exist),
 * 7% corrections of leads and 5% receipts. Then times Q random queries of
 * each kind on the open ledger, as the CLI runs them: case show
 * (view_case_load), org show with receipts, links and duplicates
 * (view_org_load FULL) and intel search by person (view_lead_search), and
 * prints median, p99 and max in milliseconds. --digest also times the
 * full-ledger view digests once; --keep leaves the ledger (D/.../ledger.db)
 * for trying the CLI on it; --reuse LEDGER times the queries on a ledger
 * a --keep run left (give the same N).
 */
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "record.h"
#include "util.h"
#include "view.h"

#define BATCH 1000
#define N_ORIG 8
#define MAX_OPEN 4000
#define T0 1735689600000LL /* 2025-01-01 */

static const char *regions[N_ORIG] = {"320100", "360100", "430100", "450100",
				      "610100", "210200", "130300", "450600"};
static const char *surnames[] = {"张", "王", "李", "赵", "陈", "刘", "杨",
				 "黄", "周", "吴", "徐", "孙", "胡", "朱"};

typedef struct origin {
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint64_t seq;
	uint8_t prev[RECORD_ID_BYTES];
	uint8_t leads[256][RECORD_ID_BYTES]; /* recent leads, for corrections */
	size_t n_leads;
} origin;

typedef struct kase {
	long id;
	int from, to;
	int state; /* view_state */
} kase;

typedef struct world {
	ledger *l;
	origin o[N_ORIG];
	long n, people, orgnames, orgs;
	kase open[MAX_OPEN];
	size_t n_open;
	long cases;
	char (*ids)[40]; /* case ids held, for the queries */
	size_t n_ids;
	int64_t now;
	uint64_t rng;
	long counts[8];
} world;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(world *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static long pick(world *w, long n) { return (long)(rnd(w) % (uint64_t)n); }

static int sign_with(void *ctx, const uint8_t *msg, size_t len,
		     uint8_t sig[RECORD_SIG_BYTES])
{
	return crypto_sign_detached(sig, NULL, msg, len, ctx) ? HT_ECRYPTO : 0;
}

/* Build, sign and append body at origin k. */
static int put(world *w, int k, Hutong__Body *body, const uint8_t **id)
{
	origin *o = &w->o[k];
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	sub.author = "officer-017";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = body;
	char node[16];
	snprintf(node, sizeof(node), "node-%s", regions[k]);
	record_origin ro = {regions[k], node, o->seq + 1,
			    o->seq ? o->prev : NULL, w->now};
	record *r = NULL;
	ledger_outcome out;
	ht_err e = {0};
	int rc = record_build(&sub, &ro, sign_with, o->sk, &r, &e);
	if (rc == 0)
		rc = ledger_append(w->l, r, "local", &out, &e);
	if (rc != 0) {
		fprintf(stderr, "record: %s: %s\n", e.field, e.msg);
		record_free(&r);
		return rc;
	}
	o->seq++;
	memcpy(o->prev, record_id(r), RECORD_ID_BYTES);
	if (id != NULL) {
		memcpy(o->leads[o->n_leads++ % 256], record_id(r),
		       RECORD_ID_BYTES);
		*id = o->leads[(o->n_leads - 1) % 256];
	}
	record_free(&r);
	return 0;
}

static void person_name(long i, char *out, size_t len)
{
	snprintf(out, len, "%s%ld", surnames[i % 14], i);
}

static void org_name(long i, char *out, size_t len)
{
	/* every seventh name is written with a space and a suffix: the same
	 * key as its neighbour, so duplicate suggestions have work to do */
	if (i % 7 == 1)
		snprintf(out, len, "鑫源 %ld 互助会有限公司", i - 1);
	else
		snprintf(out, len, "鑫源%ld互助会", i);
}

static int add_lead(world *w)
{
	char names[3][32], idn[3][24], ph[3][16], org[64], summary[200];
	Hutong__Person p[3], *pp[3];
	Hutong__Place pl = HUTONG__PLACE__INIT, *plp[1] = {&pl};
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	int k = (int)pick(w, N_ORIG);
	size_t np = 1 + (size_t)pick(w, 3);
	for (size_t i = 0; i < np; i++) {
		long who = pick(w, w->people);
		hutong__person__init(&p[i]);
		person_name(who, names[i], sizeof(names[i]));
		snprintf(idn[i], sizeof(idn[i]), "45010219%010ld", who);
		snprintf(ph[i], sizeof(ph[i]), "138%08ld", who);
		p[i].name = names[i];
		p[i].id_number = idn[i]; /* unique, not a GB 11643 number */
		p[i].document_type = HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_OTHER;
		p[i].phone = ph[i];
		p[i].role = HUTONG__ROLE__ROLE_PARTICIPANT;
		pp[i] = &p[i];
	}
	org_name(pick(w, w->orgnames), org, sizeof(org));
	snprintf(summary, sizeof(summary),
		 "lead %ld: weekly gathering of "
		 "recruits in a rented flat near the station",
		 w->counts[0]);
	pl.region = (char *)regions[pick(w, N_ORIG)];
	in.summary = summary;
	in.organization = org;
	in.people = pp;
	in.n_people = np;
	in.places = plp;
	in.n_places = 1;
	b.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	b.intelligence = &in;
	const uint8_t *id;
	w->counts[0]++;
	return put(w, k, &b, &id);
}

static int add_step(world *w)
{
	Hutong__Repatriation r = HUTONG__REPATRIATION__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	Hutong__Person p[2], *pp[2];
	char id[32], names[2][32];
	kase *c;
	int by;
	if (w->n_open < MAX_OPEN / 2 ||
	    (w->n_open < MAX_OPEN && pick(w, 4) == 0)) {
		c = &w->open[w->n_open++];
		c->id = w->cases++;
		c->from = (int)pick(w, N_ORIG);
		c->to = (c->from + 1 + (int)pick(w, N_ORIG - 1)) % N_ORIG;
		c->state = VIEW_STATE_NONE;
	} else {
		c = &w->open[pick(w, (long)w->n_open)];
	}
	switch (c->state) {
	case VIEW_STATE_NONE:
		r.step = HUTONG__STEP__STEP_REQUEST;
		c->state = VIEW_STATE_REQUESTED;
		by = c->from;
		break;
	case VIEW_STATE_REQUESTED:
		if (pick(w, 20) == 0) {
			r.step = HUTONG__STEP__STEP_CANCEL;
			c->state = VIEW_STATE_CANCELLED;
			by = c->from;
		} else if (pick(w, 20) == 0) {
			r.step = HUTONG__STEP__STEP_REJECT;
			c->state = VIEW_STATE_REJECTED;
			by = c->to;
		} else {
			r.step = HUTONG__STEP__STEP_ACCEPT;
			c->state = VIEW_STATE_ACCEPTED;
			by = c->to;
		}
		break;
	case VIEW_STATE_ACCEPTED:
		r.step = HUTONG__STEP__STEP_DEPART;
		c->state = VIEW_STATE_DEPARTED;
		by = c->from;
		break;
	case VIEW_STATE_DEPARTED:
		r.step = HUTONG__STEP__STEP_HAND_OVER;
		c->state = VIEW_STATE_HANDED_OVER;
		by = c->from;
		break;
	default:
		r.step = HUTONG__STEP__STEP_RECEIVE;
		c->state = VIEW_STATE_RECEIVED;
		by = c->to;
		break;
	}
	snprintf(id, sizeof(id), "C%s-%ld", regions[c->from], c->id);
	r.case_id = id;
	r.from_region = (char *)regions[c->from];
	r.to_region = (char *)regions[c->to];
	r.time_ms = w->now;
	if (r.step == HUTONG__STEP__STEP_REQUEST) {
		for (int i = 0; i < 2; i++) {
			hutong__person__init(&p[i]);
			person_name(pick(w, w->people), names[i],
				    sizeof(names[i]));
			p[i].name = names[i];
			pp[i] = &p[i];
		}
		r.people = pp;
		r.n_people = 2;
	}
	b.content_case = HUTONG__BODY__CONTENT_REPATRIATION;
	b.repatriation = &r;
	if (view_state_is_final(c->state))
		*c = w->open[--w->n_open];
	w->counts[1]++;
	return put(w, by, &b, NULL);
}

static int add_org(world *w)
{
	Hutong__FleeingOrganization f = HUTONG__FLEEING_ORGANIZATION__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	Hutong__Person p = HUTONG__PERSON__INIT, *pp[1] = {&p};
	char id[32], name[64], leader[32], *dests[2];
	long which = pick(w, w->orgs);
	int k = (int)pick(w, N_ORIG);
	snprintf(id, sizeof(id), "ORG-%ld", which);
	org_name(which % w->orgnames, name, sizeof(name));
	person_name(which * 7 % w->people, leader, sizeof(leader));
	p.name = leader;
	p.role = HUTONG__ROLE__ROLE_ORGANIZER;
	dests[0] = (char *)regions[pick(w, N_ORIG)];
	dests[1] = (char *)regions[pick(w, N_ORIG)];
	f.org_id = id;
	f.name = name;
	f.leaders = pp;
	f.n_leaders = 1;
	f.last_seen_region = (char *)regions[k];
	f.last_seen_ms = w->now;
	f.suspected_destinations = dests;
	f.n_suspected_destinations = 2;
	f.sighting = pick(w, 3) != 0;
	f.level = f.sighting ? 0 : HUTONG__ALERT_LEVEL__ALERT_LEVEL_HIGH;
	f.estimated_members = 50;
	b.content_case = HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION;
	b.fleeing_organization = &f;
	w->counts[2]++;
	return put(w, k, &b, NULL);
}

static int add_fix(world *w)
{
	int k = (int)pick(w, N_ORIG);
	origin *o = &w->o[k];
	if (o->n_leads == 0)
		return add_lead(w);
	size_t have = o->n_leads < 256 ? o->n_leads : 256;
	Hutong__Correction c = HUTONG__CORRECTION__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	c.target = (ProtobufCBinaryData){RECORD_ID_BYTES,
					 o->leads[pick(w, (long)have)]};
	c.retract = true;
	c.reason = "duplicate lead";
	b.content_case = HUTONG__BODY__CONTENT_CORRECTION;
	b.correction = &c;
	w->counts[3]++;
	return put(w, k, &b, NULL);
}

static int add_receipt(world *w)
{
	Hutong__ReceiptEntry e[N_ORIG], *ep[N_ORIG];
	Hutong__Receipt rc = HUTONG__RECEIPT__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	int k = (int)pick(w, N_ORIG);
	size_t n = 0;
	static const int sorted[N_ORIG] = {6, 5, 0, 1,
					   2, 3, 7, 4}; /* by region */
	for (int j = 0; j < N_ORIG; j++) {
		int i = sorted[j];
		if (w->o[i].seq == 0)
			continue;
		hutong__receipt_entry__init(&e[n]);
		e[n].origin = (char *)regions[i];
		e[n].seq = w->o[i].seq;
		e[n].head =
		    (ProtobufCBinaryData){RECORD_ID_BYTES, w->o[i].prev};
		ep[n] = &e[n];
		n++;
	}
	rc.entries = ep;
	rc.n_entries = n;
	b.content_case = HUTONG__BODY__CONTENT_RECEIPT;
	b.receipt = &rc;
	w->counts[4]++;
	return put(w, k, &b, NULL);
}

static int genesis(world *w, int k)
{
	Hutong__Genesis g = HUTONG__GENESIS__INIT;
	Hutong__Body b = HUTONG__BODY__INIT;
	crypto_sign_keypair(w->o[k].pk, w->o[k].sk);
	g.public_key = (ProtobufCBinaryData){RECORD_PK_BYTES, w->o[k].pk};
	b.content_case = HUTONG__BODY__CONTENT_GENESIS;
	b.genesis = &g;
	return put(w, k, &b, NULL);
}

static int build(world *w)
{
	ht_err e = {0};
	int rc = ledger_begin(w->l, &e);
	for (int k = 0; rc == 0 && k < N_ORIG; k++)
		rc = genesis(w, k);
	double t0 = now_s();
	for (long i = N_ORIG; rc == 0 && i < w->n; i++) {
		long r = pick(w, 100);
		w->now += 1000;
		rc = r < 40   ? add_lead(w)
		     : r < 73 ? add_step(w)
		     : r < 88 ? add_org(w)
		     : r < 95 ? add_fix(w)
			      : add_receipt(w);
		if (rc == 0 && (i + 1) % BATCH == 0) {
			rc = ledger_commit(w->l, &e);
			if (rc == 0)
				rc = ledger_begin(w->l, &e);
		}
		if ((i + 1) % 100000 == 0)
			fprintf(stderr, "\rbuilt %ld records (%.0f/s)", i + 1,
				(double)i / (now_s() - t0));
	}
	if (rc == 0)
		rc = ledger_commit(w->l, &e);
	fprintf(stderr, "\n");
	if (rc != 0)
		fprintf(stderr, "build: %s\n", e.msg);
	return rc;
}

/* ---- timing ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *ms, long n, long found)
{
	qsort(ms, (size_t)n, sizeof(double), cmp_double);
	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += ms[i];
	printf("%-22s n=%ld  median=%.3f ms  p99=%.3f ms  max=%.3f ms  "
	       "mean=%.3f ms  (%s %.1f)\n",
	       what, n, ms[n / 2], ms[(long)(n * 0.99)], ms[n - 1], sum / n,
	       strcmp(what, "intel --person") == 0 ? "leads/query"
						   : "records/view",
	       (double)found / n);
}

static int count_lead(void *ctx, const view_lead *ld)
{
	(void)ld;
	(*(long *)ctx)++;
	return 0;
}

static int case_id(void *ctx, const char *term)
{
	world *w = ctx;
	snprintf(w->ids[w->n_ids++], sizeof(w->ids[0]), "%s", term + 5);
	return w->n_ids == (size_t)w->n;
}

static int time_queries(world *w, long q)
{
	double *ms = calloc((size_t)q, sizeof(double));
	char id[64];
	ht_err e = {0};
	long found = 0, errors = 0;
	if (ms == NULL ||
	    (w->ids = calloc((size_t)w->n, sizeof(w->ids[0]))) == NULL ||
	    ledger_each_term_name(w->l, "case:", case_id, w, &e) < 0 ||
	    w->n_ids == 0) {
		free(ms);
		fprintf(stderr, "no cases in the ledger\n");
		return 1;
	}
	for (long i = 0; i < q; i++) {
		view_case *k = NULL;
		const char *cid = w->ids[pick(w, (long)w->n_ids)];
		double t0 = now_s();
		if (view_case_load(w->l, cid, &k, &e) != 0)
			errors++;
		ms[i] = (now_s() - t0) * 1000;
		found += k ? (long)k->n_steps : 0;
		view_case_free(&k);
	}
	report("case show", ms, q, found);
	found = 0;
	for (long i = 0; i < q; i++) {
		view_org *o = NULL;
		snprintf(id, sizeof(id), "ORG-%ld", pick(w, w->orgs));
		double t0 = now_s();
		if (view_org_load(w->l, id, VIEW_ORG_FULL, &o, &e) != 0)
			errors++;
		ms[i] = (now_s() - t0) * 1000;
		found += o ? (long)o->n_trail : 0;
		view_org_free(&o);
	}
	report("org show", ms, q, found);
	found = 0;
	for (long i = 0; i < q; i++) {
		char name[32];
		person_name(pick(w, w->people), name, sizeof(name));
		view_query vq = {.person = name};
		double t0 = now_s();
		if (view_lead_search(w->l, &vq, count_lead, &found, &e) != 0)
			errors++;
		ms[i] = (now_s() - t0) * 1000;
	}
	report("intel --person", ms, q, found);
	free(ms);
	free(w->ids);
	if (errors)
		fprintf(stderr, "%ld queries failed (last: %s)\n", errors,
			e.msg);
	return errors ? 1 : 0;
}

static void remove_dir(const char *dir)
{
	static const char *files[] = {"ledger.db", "ledger.db-wal",
				      "ledger.db-shm"};
	char path[PATH_MAX + 32];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	if (rmdir(dir) != 0)
		perror(dir);
}

int main(int argc, char **argv)
{
	static world w;
	long q = 2000;
	bool keep = false, digest = false;
	const char *reuse = NULL;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	w.n = 1000000;
	for (int i = 1; i < argc; i++) {
		uint64_t v;
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			base = argv[++i];
		else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc &&
			 util_parse_u64(argv[i + 1], 1, 10000000, &v) == 0) {
			q = (long)v;
			i++;
		} else if (strcmp(argv[i], "--reuse") == 0 && i + 1 < argc)
			reuse = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep = true;
		else if (strcmp(argv[i], "--digest") == 0)
			digest = true;
		else if (util_parse_u64(argv[i], 1000, 100000000, &v) == 0)
			w.n = (long)v;
		else {
			fprintf(stderr,
				"usage: bench_views [N] [--dir D] "
				"[--queries Q] [--keep] [--digest] [--reuse "
				"LEDGER]\n");
			return 2;
		}
	}
	if (sodium_init() < 0)
		return 1;
	w.people = w.n / 5;
	w.orgnames = w.n / 100 > 10 ? w.n / 100 : 10;
	w.orgs = w.orgnames;
	w.rng = 0x9e3779b97f4a7c15ULL;
	w.now = T0;
	char dir[PATH_MAX], path[PATH_MAX + 32];
	ht_err e = {0};
	int rc = 1;
	double t0 = now_s();
	snprintf(dir, sizeof(dir), "%s/hutong-bench-views-XXXXXX", base);
	if (reuse != NULL) {
		snprintf(path, sizeof(path), "%s", reuse);
		keep = true;
		goto query;
	}
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	w.l = ledger_open(path, LEDGER_RDWR, NULL, &e);
	if (w.l == NULL) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		goto out;
	}
	if (build(&w) != 0)
		goto out;
	printf("records=%llu (leads %ld, steps %ld in %ld cases, org records "
	       "%ld for %ld orgs, corrections %ld, receipts %ld) built in %.0f "
	       "s\n",
	       (unsigned long long)ledger_record_count(w.l), w.counts[0],
	       w.counts[1], w.cases, w.counts[2], w.orgs, w.counts[3],
	       w.counts[4], now_s() - t0);
	ledger_close(&w.l);
query:
	/* queries on a fresh read-only handle, as the CLI opens it */
	w.l = ledger_open(path, LEDGER_RDONLY, NULL, &e);
	if (w.l == NULL) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		goto out;
	}
	rc = time_queries(&w, q);
	if (rc == 0 && digest) {
		view_digests d;
		char hex[2 * VIEW_DIGEST_BYTES + 1];
		t0 = now_s();
		rc = view_digest(w.l, &d, &e);
		printf(
		    "view digests: %.1f s (cases %llu, orgs %llu, leads %llu; "
		    "leads %s)\n",
		    now_s() - t0, (unsigned long long)d.n_cases,
		    (unsigned long long)d.n_orgs, (unsigned long long)d.n_leads,
		    util_hex(d.leads, VIEW_DIGEST_BYTES, hex));
	}
out:
	ledger_close(&w.l);
	if (keep)
		printf("ledger kept: %s\n", path);
	else
		remove_dir(dir);
	return rc;
}
