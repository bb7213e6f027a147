/*
 * test_audit: receipts, the audit queries and fork handling at core level.
 * Real nodes (node_open on a temp dir, own keys, an injected clock) pass
 * envelopes to each other with node_receive, as the sync sessions do:
 *   - the receipt policy: one per interval at most, only after a change
 *     other than receipts, remembered across a restart;
 *   - coverage: which nodes held a record and since when, from receipts;
 *   - hostile audit inputs: quotes, SQL fragments, wildcards, overlong and
 *     invalid strings, empty, reversed and extreme ranges;
 *   - a fork: evidence kept, origin flagged, later records refused with a
 *     reason until an operator resolves it, the event log and audit_forks;
 *   - verify over receipts: an entry naming fork evidence is explained, a
 *     receipt naming a record this ledger does not hold is reported, and
 *     the receipt index altered by hand is reported.
 */
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "check.h"
#include "ident.h"
#include "ledger.h"
#include "node.h"
#include "util.h"

#define T0 1795939200000 /* 2026-11-29T08:00:00Z */
#define IVL 30000	 /* receipt interval in these tests */
#define IVL_PRIME 30000	 /* tnode_open starts the receipt clock this early */

static char tmpdir[] = "/tmp/hutong-test-audit-XXXXXX";
static int64_t now_ms;
static int64_t wall_off; /* the wall clock's error: moves it, not mono */
static bool no_prime;	 /* tnode_open: leave the receipt clock unstarted */

static int64_t clock_now(void *ctx) { return T0 + now_ms + wall_off; }
static int64_t clock_mono(void *ctx) { return now_ms; }
static const ht_clock test_clock = {clock_now, clock_mono, NULL};

typedef struct tnode {
	node *n;
	char name[32], region[8], key[PATH_MAX], db[PATH_MAX];
	ht_log *log;
	FILE *logf;
	char *logbuf;
	size_t loglen;
} tnode;

static void tnode_start(tnode *t)
{
	ht_err err = {0};
	t->logf = open_memstream(&t->logbuf, &t->loglen);
	t->log = log_new(t->logf, LOG_INFO, &test_clock);
	node_config cfg = {.name = t->name,
			   .region = t->region,
			   .key_path = t->key,
			   .ledger_path = t->db,
			   .clock = &test_clock,
			   .log = t->log};
	t->n = node_open(&cfg, &err);
	CHECK(t->n != NULL);
	if (t->n == NULL)
		fprintf(stderr, "node_open %s: %s\n", t->name, err.msg);
}

static void tnode_stop(tnode *t)
{
	node_free(&t->n);
	log_free(&t->log);
	if (t->logf)
		fclose(t->logf);
	free(t->logbuf);
	t->logf = NULL;
	t->logbuf = NULL;
}

static void tnode_open(tnode *t, const char *name, const char *region)
{
	char dir[PATH_MAX - 32];
	ht_err err = {0};
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->region, sizeof(t->region), "%s", region);
	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	snprintf(t->key, sizeof(t->key), "%s/node.key", dir);
	snprintf(t->db, sizeof(t->db), "%s/ledger.db", dir);
	CHECK(mkdir(dir, 0700) == 0);
	CHECK_EQ_INT(ident_generate(t->key, &err), 0);
	tnode_start(t);
	uint8_t id[RECORD_ID_BYTES];
	if (!no_prime) { /* start the receipt clock an interval ago */
		now_ms -= IVL_PRIME;
		CHECK_EQ_INT(
		    node_maybe_receipt(t->n, T0 + now_ms, IVL_PRIME, id, &err),
		    0);
		now_ms += IVL_PRIME;
	}
}

static ledger *L(tnode *t) { return node_ledger(t->n); }

static void submit(tnode *t, size_t count, const char *author)
{
	for (size_t i = 0; i < count; i++) {
		Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
		Hutong__Body body = HUTONG__BODY__INIT;
		Hutong__Submission sub = HUTONG__SUBMISSION__INIT, *subs[1];
		in.summary = "a lead about a gathering";
		body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
		body.intelligence = &in;
		sub.author = (char *)author;
		sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
		sub.body = &body;
		subs[0] = &sub;
		node_result res;
		ht_err err = {0};
		CHECK_EQ_INT(node_submit(t->n, subs, 1, &res, &err), 0);
		CHECK_EQ_INT(res.code, 0);
	}
}

/* ---- moving envelopes as a sync session would ---- */

typedef struct envs {
	uint8_t *buf[4096];
	size_t len[4096];
	size_t n;
} envs;

static int collect(void *ctx, const uint8_t *env, size_t len, uint64_t seq)
{
	envs *e = ctx;
	if (e->n == 4096)
		return 1;
	e->buf[e->n] = malloc(len);
	memcpy(e->buf[e->n], env, len);
	e->len[e->n++] = len;
	return 0;
}

static void envs_free(envs *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->buf[i]);
	e->n = 0;
}

/* Hand `to` the envelopes it lacks from `from` (every origin, or only
 * `only`, seq order) and return how many it stored. */
static size_t copy_only(tnode *from, tnode *to, const char *only)
{
	size_t stored = 0;
	for (size_t i = 0; i < ledger_origin_count(L(from)); i++) {
		const ledger_origin *o = ledger_origin_at(L(from), i);
		const ledger_origin *have =
		    ledger_origin_find(L(to), o->region);
		if (only && strcmp(o->region, only) != 0)
			continue;
		envs e = {0};
		ht_err err = {0};
		ledger_range(L(from), o->region, have ? have->seq + 1 : 1, 4096,
			     SIZE_MAX, collect, &e, &err);
		if (e.n == 0)
			continue;
		sync_verdict res[4096];
		CHECK_EQ_INT(node_receive(to->n, from->name,
					  (const uint8_t *const *)e.buf, e.len,
					  e.n, res),
			     0);
		for (size_t k = 0; k < e.n; k++)
			stored += res[k].result == SYNC_STORED;
		envs_free(&e);
	}
	return stored;
}

static size_t copy(tnode *from, tnode *to) { return copy_only(from, to, NULL); }

/* Receive one envelope; returns the result. */
static sync_result give(tnode *to, const char *peer, const record *r)
{
	size_t len;
	const uint8_t *env = record_bytes(r, &len);
	sync_verdict res = {.result = SYNC_REFUSED};
	CHECK_EQ_INT(node_receive(to->n, peer, &env, &len, 1, &res), 0);
	return res.result;
}

static int receipt(tnode *t)
{
	uint8_t id[RECORD_ID_BYTES];
	ht_err err = {0};
	int rc = node_maybe_receipt(t->n, T0 + now_ms, IVL, id, &err);
	if (rc < 0)
		fprintf(stderr, "receipt %s: %s\n", t->name, err.msg);
	return rc;
}

static int n_disputes;	       /* found by the last verify() */
static char last_dispute[512]; /* "signer origin seq: reason" */
static int verify(tnode *t, char *first, size_t len);

/* ---- receipts ---- */

static void test_receipt_policy(void)
{
	tnode a, b;
	now_ms = 0;
	no_prime = true;
	tnode_open(&a, "policy-a", "320100");
	no_prime = false;
	tnode_open(&b, "policy-b", "430100");
	CHECK_EQ_INT(receipt(&a), 0); /* the clock starts */
	now_ms += IVL - 1;
	CHECK_EQ_INT(receipt(&a), 0); /* within the interval */
	now_ms += 1;
	CHECK_EQ_INT(receipt(&a), 1); /* the first one: its genesis */
	CHECK_EQ_INT(receipt(&a), 0); /* within the interval */
	now_ms += IVL;
	CHECK_EQ_INT(receipt(&a), 0); /* nothing changed since */
	submit(&a, 2, "officer-1");
	CHECK_EQ_INT(receipt(&a), 1); /* a change, and the interval past */
	submit(&a, 1, "officer-1");
	now_ms += IVL - 1;
	CHECK_EQ_INT(receipt(&a), 0); /* one ms too early */
	now_ms += 1;
	CHECK_EQ_INT(receipt(&a), 1);

	/* the receipt states the frontier, sorted, and verifies */
	record *r = NULL;
	ht_err err = {0};
	CHECK_EQ_INT(ledger_last_of_kind(L(&a), "320100",
					 HUTONG__KIND__KIND_RECEIPT, &r, &err),
		     0);
	const Hutong__Receipt *rc = record_body(r)->receipt;
	CHECK_EQ_INT(rc->n_entries, 1);
	CHECK_STR(rc->entries[0]->origin, "320100");
	CHECK_EQ_INT(rc->entries[0]->seq, record_header(r)->seq - 1);
	CHECK(record_verify(r, node_public_key(a.n)));
	CHECK_EQ_INT(record_header(r)->created_ms, T0 + now_ms);
	record_free(&r);

	/* b's genesis is news to a; b's receipts alone are not */
	CHECK_EQ_INT(copy(&b, &a), 1);
	now_ms += IVL;
	CHECK_EQ_INT(receipt(&b), 1);  /* b: its own first receipt */
	CHECK_EQ_INT(receipt(&a), 1);  /* a: b's genesis arrived */
	CHECK_EQ_INT(copy(&a, &b), 8); /* a's chain, receipts included */
	CHECK_EQ_INT(copy(&b, &a), 1); /* b's receipt */
	now_ms += IVL;
	CHECK_EQ_INT(receipt(&a), 0); /* only a receipt of b arrived */
	CHECK_EQ_INT(receipt(&b), 1); /* a's intel records reached b */
	CHECK_EQ_INT(copy(&b, &a), 1);
	now_ms += IVL;
	CHECK_EQ_INT(receipt(&a), 0); /* receipts do not breed receipts */
	CHECK_EQ_INT(copy(&a, &b), 0);
	CHECK_EQ_INT(receipt(&b), 0);

	/* a restart remembers the last receipt's time and content */
	submit(&a, 1, "officer-1");
	CHECK_EQ_INT(receipt(&a), 1);
	submit(&a, 1, "officer-1");
	tnode_stop(&a);
	tnode_start(&a);
	CHECK_EQ_INT(receipt(&a), 0); /* the interval runs on */
	now_ms += IVL;
	CHECK_EQ_INT(receipt(&a), 1); /* the record before the restart */
	now_ms += IVL;
	tnode_stop(&a);
	tnode_start(&a);
	CHECK_EQ_INT(receipt(&a), 0); /* nothing new since */
	char first[512];
	CHECK_EQ_INT(verify(&a, first, sizeof(first)), 0);
	CHECK_EQ_INT(verify(&b, first, sizeof(first)), 0);
	tnode_stop(&a);
	tnode_stop(&b);
}

/* ---- coverage: who held a record, since when ---- */

static void test_coverage(void)
{
	tnode a, b, c;
	audit_record_info ai;
	ht_err err = {0};
	now_ms = 0;
	tnode_open(&a, "cover-a", "320100");
	tnode_open(&b, "cover-b", "360100");
	tnode_open(&c, "cover-c", "430100");
	copy(&b, &a);
	copy(&c, &a);
	copy(&a, &b);
	copy(&a, &c);
	submit(&a, 1, "officer-9");
	const ledger_origin *o = ledger_origin_find(L(&a), "320100");
	uint8_t id[RECORD_ID_BYTES];
	memcpy(id, o->head, sizeof(id));

	now_ms = 1000;
	CHECK_EQ_INT(receipt(&a), 1); /* a at +1 s */
	now_ms = 2000;
	copy(&a, &b); /* b holds it at +2 s */
	now_ms = 3000;
	CHECK_EQ_INT(receipt(&b), 1); /* b's receipt at +3 s */
	now_ms = 40000;
	submit(&a, 1, "officer-9"); /* a later record */
	copy(&a, &c);
	now_ms = 41000;
	CHECK_EQ_INT(receipt(&c), 1); /* c's at +41 s */
	copy(&b, &a);
	copy(&c, &a);

	CHECK_EQ_INT(audit_record(L(&a), id, &ai, &err), 0);
	CHECK_EQ_INT(ai.n_cover, 3);
	CHECK_EQ_INT(ai.n_covered, 3);
	CHECK_STR(ai.cover[0].region, "320100");
	CHECK_EQ_INT(ai.cover[0].receipt_ms, T0 + 1000);
	CHECK_STR(ai.cover[1].region, "360100");
	CHECK_EQ_INT(ai.cover[1].receipt_ms, T0 + 3000);
	CHECK_STR(ai.cover[2].name, "cover-c");
	CHECK_EQ_INT(ai.cover[2].receipt_ms, T0 + 41000);
	CHECK_STR(ai.meta.source, "local");
	CHECK(!ai.fork_evidence);
	audit_record_clear(&ai);

	/* the later record: b never signed that it held it */
	o = ledger_origin_find(L(&a), "320100");
	record *r = NULL;
	CHECK_EQ_INT(ledger_get_seq(L(&a), "320100", 4, &r, NULL, &err), 0);
	CHECK_EQ_INT(audit_record(L(&a), record_id(r), &ai, &err), 0);
	CHECK_EQ_INT(ai.n_covered, 1); /* c only; a's is older */
	CHECK(!ai.cover[0].covered && !ai.cover[1].covered);
	CHECK(ai.cover[2].covered);
	audit_record_clear(&ai);
	record_free(&r);

	/* on c: arrival names the peer it came from */
	CHECK_EQ_INT(audit_record(L(&c), id, &ai, &err), 0);
	CHECK_STR(ai.meta.source, "cover-a");
	audit_record_clear(&ai);

	uint8_t none[RECORD_ID_BYTES] = {1};
	CHECK_EQ_INT(audit_record(L(&a), none, &ai, &err), HT_ENOTFOUND);
	CHECK_HAS(err.msg, "no record");
	tnode_stop(&a);
	tnode_stop(&b);
	tnode_stop(&c);
}

/* ---- hostile input ---- */

static int count_summary(void *ctx, int kind, const char *author,
			 uint64_t count, int64_t f, int64_t l)
{
	*(uint64_t *)ctx += count;
	return 0;
}

static int count_each(void *ctx, const record *r, const ledger_meta *m)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_peers(void *ctx, const audit_peer *p)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_hostile(void)
{
	static const char *quoted = "o'brien\"; DROP TABLE record; --";
	tnode a;
	ht_err err = {0};
	uint64_t n = 0;
	int k = 0;
	char big[5000];
	now_ms = 0;
	tnode_open(&a, "hostile-a", "320100");
	submit(&a, 2, quoted);
	submit(&a, 1, "officer-%");
	submit(&a, 1, "x' OR '1'='1");

	/* origin codes */
	const char *bad_codes[] = {
	    "",	      "32010",	"3201000", "000000", "320100' OR 1=1 --",
	    "32010%", "ＡＢＣ", NULL};
	for (int i = 0; bad_codes[i]; i++) {
		CHECK_EQ_INT(audit_origin(L(&a), bad_codes[i], INT64_MIN,
					  INT64_MAX, count_summary, &n, &err),
			     HT_EINVAL);
		CHECK_STR(err.field, "origin");
	}
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ_INT(audit_origin(L(&a), big, INT64_MIN, INT64_MAX,
				  count_summary, &n, &err),
		     HT_EINVAL);
	CHECK_EQ_INT(audit_origin(L(&a), "999999", INT64_MIN, INT64_MAX,
				  count_summary, &n, &err),
		     HT_ENOTFOUND);
	CHECK_HAS(err.msg, "not in this ledger");
	CHECK_EQ_INT(n, 0);

	/* ranges: reversed and empty refused; extreme and negative answered */
	CHECK_EQ_INT(
	    audit_origin(L(&a), "320100", T0 + 10, T0, count_summary, &n, &err),
	    HT_EINVAL);
	CHECK_HAS(err.msg, "must be before --until");
	CHECK_EQ_INT(
	    audit_origin(L(&a), "320100", T0, T0, count_summary, &n, &err),
	    HT_EINVAL);
	CHECK_EQ_INT(audit_origin(L(&a), "320100", INT64_MIN, INT64_MAX,
				  count_summary, &n, &err),
		     0);
	CHECK_EQ_INT(n, 5); /* genesis + 4 */
	n = 0;
	CHECK_EQ_INT(audit_origin(L(&a), "320100", INT64_MIN, -1, count_summary,
				  &n, &err),
		     0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(audit_origin(L(&a), "320100", INT64_MAX - 1, INT64_MAX,
				  count_summary, &n, &err),
		     0);
	CHECK_EQ_INT(n, 0);

	/* authors match exactly: quotes and SQL are just characters */
	CHECK_EQ_INT(audit_author(L(&a), quoted, NULL, count_each, &k, &err),
		     0);
	CHECK_EQ_INT(k, 2);
	k = 0;
	CHECK_EQ_INT(audit_author(L(&a), "%", NULL, count_each, &k, &err), 0);
	CHECK_EQ_INT(
	    audit_author(L(&a), "officer-_", NULL, count_each, &k, &err), 0);
	CHECK_EQ_INT(
	    audit_author(L(&a), "x' OR '1'='1' --", NULL, count_each, &k, &err),
	    0);
	CHECK_EQ_INT(k, 0);
	CHECK_EQ_INT(
	    audit_author(L(&a), "officer-%", "320100", count_each, &k, &err),
	    0);
	CHECK_EQ_INT(k, 1);
	CHECK_EQ_INT(audit_author(L(&a), "", NULL, count_each, &k, &err),
		     HT_EINVAL);
	big[RECORD_MAX_NAME + 1] = '\0';
	CHECK_EQ_INT(audit_author(L(&a), big, NULL, count_each, &k, &err),
		     HT_EINVAL);
	CHECK_HAS(err.msg, "at most 128");
	CHECK_EQ_INT(
	    audit_author(L(&a), "bad\xff\xfe", NULL, count_each, &k, &err),
	    HT_EINVAL);
	CHECK_EQ_INT(
	    audit_author(L(&a), "bell\x07", NULL, count_each, &k, &err),
	    HT_EINVAL);
	CHECK_EQ_INT(
	    audit_author(L(&a), "officer-%", "1'--", count_each, &k, &err),
	    HT_EINVAL);

	/* peers */
	CHECK_EQ_INT(audit_peers(L(&a), INT64_MAX, count_peers, &k, &err),
		     HT_EINVAL);
	CHECK_EQ_INT(audit_peers(L(&a), INT64_MIN, count_peers, &k, &err), 0);

	/* the ledger is whole after all that */
	CHECK_EQ_INT(ledger_record_count(L(&a)), 5);
	char first[512];
	CHECK_EQ_INT(verify(&a, first, sizeof(first)), 0);
	tnode_stop(&a);
}

/* ---- forks ---- */

static int signer(void *ctx, const uint8_t *msg, size_t len,
		  uint8_t sig[RECORD_SIG_BYTES])
{
	return ident_sign(ctx, msg, len, sig);
}

/* A second, different record at origin t's seq, signed with t's key: what
 * a cloned or compromised node produces. */
static record *forge(tnode *t, uint64_t seq, const char *summary)
{
	ht_err err = {0};
	ident *id = ident_load(t->key, &err);
	record *prev = NULL, *r = NULL;
	CHECK_EQ_INT(
	    ledger_get_seq(L(t), t->region, seq - 1, &prev, NULL, &err), 0);
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	in.summary = (char *)summary;
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	sub.author = "clone";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	record_origin at = {t->region, t->name, seq, record_id(prev),
			    T0 + now_ms};
	CHECK_EQ_INT(record_build(&sub, &at, signer, id, &r, &err), 0);
	record_free(&prev);
	ident_free(&id);
	return r;
}

typedef struct fork_seen {
	int n;
	uint8_t chain[RECORD_ID_BYTES], evidence[RECORD_ID_BYTES];
	bool flagged;
} fork_seen;

static int see_fork(void *ctx, const audit_fork *f)
{
	fork_seen *s = ctx;
	s->n++;
	memcpy(s->chain, record_id(f->chain), RECORD_ID_BYTES);
	memcpy(s->evidence, record_id(f->evidence), RECORD_ID_BYTES);
	s->flagged = f->flagged;
	return 0;
}

typedef struct peer_seen {
	char peer[64];
	uint64_t refused, stored, received, forks, resolved;
	char reason[512];
} peer_seen;

static int see_peer(void *ctx, const audit_peer *p)
{
	peer_seen *s = ctx;
	if (strcmp(p->peer, s->peer) != 0 && strcmp(s->peer, "operator") != 0)
		return 0;
	if (strcmp(p->peer, s->peer) != 0)
		return 0;
	s->refused = p->records[LEDGER_EV_REFUSED];
	s->stored = p->records[LEDGER_EV_STORED];
	s->received = p->records[LEDGER_EV_RECEIVED];
	s->forks = p->records[LEDGER_EV_FORK];
	s->resolved = p->events[LEDGER_EV_RESOLVE];
	for (size_t i = 0; i < p->n_details; i++)
		if (p->details[i].kind == LEDGER_EV_REFUSED)
			snprintf(s->reason, sizeof(s->reason), "%s",
				 p->details[i].reason);
	return 0;
}

static void test_fork(void)
{
	tnode a, b, c;
	ht_err err = {0};
	now_ms = 0;
	tnode_open(&a, "fork-a", "320100");
	tnode_open(&b, "fork-b", "360100");
	tnode_open(&c, "fork-c", "430100");
	submit(&a, 2, "officer-1"); /* a: seq 1..3 */
	record *clone = forge(&a, 3, "the other branch");
	CHECK_EQ_INT(copy(&a, &b), 3);
	CHECK_EQ_INT(give(&c, "fork-a", clone), SYNC_GAP); /* no genesis yet */
	CHECK_EQ_INT(copy(&a, &c), 3);
	record *genuine = NULL;
	CHECK_EQ_INT(ledger_get_seq(L(&a), "320100", 3, &genuine, NULL, &err),
		     0);

	/* b holds the genuine seq 3; the clone is a fork */
	CHECK_EQ_INT(give(&b, "mallory", clone), SYNC_FORK);
	CHECK(ledger_origin_find(L(&b), "320100")->forked);
	CHECK_EQ_INT(give(&b, "mallory", clone), SYNC_DUPLICATE);

	/* b met both versions and signed a report; c, which holds only the
	 * genuine one, learns the fork from it (and reports nothing itself) */
	CHECK_EQ_INT(ledger_origin_find(L(&b), "360100")->seq, 2);
	CHECK(!ledger_origin_find(L(&c), "320100")->forked);
	CHECK_EQ_INT(copy(&b, &c), 2);
	CHECK(ledger_origin_find(L(&c), "320100")->forked);
	CHECK_EQ_INT(ledger_origin_find(L(&c), "430100")->seq, 1);
	fork_seen fc = {0};
	CHECK_EQ_INT(audit_forks(L(&c), see_fork, &fc, &err), 0);
	CHECK_EQ_INT(fc.n, 1);
	CHECK(memcmp(fc.evidence, record_id(clone), RECORD_ID_BYTES) == 0);

	/* e is behind (seq 2): the versions wait, across a restart, until its
	 * chain reaches seq 3 */
	tnode e5;
	tnode_open(&e5, "fork-e", "210200");
	envs ee = {0};
	sync_verdict eres[4];
	ledger_range(L(&a), "320100", 1, 2, SIZE_MAX, collect, &ee, &err);
	CHECK_EQ_INT(node_receive(e5.n, "fork-a",
				  (const uint8_t *const *)ee.buf, ee.len, ee.n,
				  eres),
		     0);
	envs_free(&ee);
	CHECK_EQ_INT(copy_only(&b, &e5, "360100"), 2);
	CHECK(!ledger_origin_find(L(&e5), "320100")->forked);
	tnode_stop(&e5);
	tnode_start(&e5);
	CHECK_EQ_INT(give(&e5, "fork-a", genuine), SYNC_STORED);
	CHECK(ledger_origin_find(L(&e5), "320100")->forked);
	fc = (fork_seen){0};
	CHECK_EQ_INT(audit_forks(L(&e5), see_fork, &fc, &err), 0);
	CHECK(fc.n == 1 &&
	      memcmp(fc.evidence, record_id(clone), RECORD_ID_BYTES) == 0);
	char efirst[512] = "";
	CHECK_EQ_INT(verify(&e5, efirst, sizeof(efirst)), 0);
	tnode_stop(&e5);

	/* its later records are refused, with the reason, and counted */
	submit(&a, 2, "officer-1"); /* seq 4, 5 */
	CHECK_EQ_INT(copy(&a, &b), 0);
	CHECK_EQ_INT(node_get_counters(b.n)->held_back, 2);
	CHECK_EQ_INT(ledger_origin_find(L(&b), "320100")->seq, 3);
	CHECK_HAS(b.logbuf ? (fflush(b.logf), b.logbuf) : "",
		  "origin 320100 is forked; an operator must resolve it");
	CHECK_EQ_INT(copy(&a, &b), 0); /* again: same row */
	peer_seen ps = {.peer = "fork-a"};
	CHECK_EQ_INT(audit_peers(L(&b), INT64_MIN, see_peer, &ps, &err), 0);
	CHECK_EQ_INT(ps.refused, 4);
	CHECK_HAS(ps.reason, "origin 320100 is forked; an operator must "
			     "resolve it");
	peer_seen pm = {.peer = "mallory"};
	CHECK_EQ_INT(audit_peers(L(&b), INT64_MIN, see_peer, &pm, &err), 0);
	CHECK_EQ_INT(pm.forks, 1);

	/* audit_forks: both signed versions */
	fork_seen fs = {0};
	CHECK_EQ_INT(audit_forks(L(&b), see_fork, &fs, &err), 0);
	CHECK_EQ_INT(fs.n, 1);
	CHECK(memcmp(fs.chain, record_id(genuine), RECORD_ID_BYTES) == 0);
	CHECK(memcmp(fs.evidence, record_id(clone), RECORD_ID_BYTES) == 0);
	CHECK(fs.flagged);
	audit_record_info ai;
	CHECK_EQ_INT(audit_record(L(&b), record_id(clone), &ai, &err), 0);
	CHECK(ai.fork_evidence && ai.origin_forked);
	audit_record_clear(&ai);

	/* resolve: only this node's chain record at the forked seq */
	const ledger_origin *o = ledger_origin_find(L(&b), "320100");
	CHECK_EQ_INT(node_fork_resolve(b.n, "320100", record_id(clone), &err),
		     HT_EINVAL);
	CHECK_HAS(err.msg, "fork evidence");
	record *two = NULL;
	CHECK_EQ_INT(ledger_get_seq(L(&b), "320100", 2, &two, NULL, &err), 0);
	CHECK_EQ_INT(node_fork_resolve(b.n, "320100", record_id(two), &err),
		     HT_EINVAL);
	CHECK_HAS(err.msg, "not at a forked seq");
	CHECK_EQ_INT(node_fork_resolve(b.n, "430100", record_id(two), &err),
		     HT_ENOTFOUND); /* b does not know c */
	CHECK_EQ_INT(node_fork_resolve(b.n, "360100", record_id(two), &err),
		     HT_ESTATE); /* b itself: not forked */
	CHECK_EQ_INT(node_fork_resolve(b.n, "320100", record_id(genuine), &err),
		     0);
	CHECK(!o->forked || !ledger_origin_find(L(&b), "320100")->forked);
	CHECK_EQ_INT(node_fork_resolve(b.n, "320100", record_id(genuine), &err),
		     HT_ESTATE);
	CHECK_EQ_INT(copy(&a, &b), 2); /* 4 and 5 now taken */
	CHECK_EQ_INT(give(&b, "mallory", clone), SYNC_DUPLICATE);
	CHECK(!ledger_origin_find(L(&b), "320100")->forked);
	peer_seen po = {.peer = "operator"};
	CHECK_EQ_INT(audit_peers(L(&b), INT64_MIN, see_peer, &po, &err), 0);
	CHECK_EQ_INT(po.resolved, 1);
	fs = (fork_seen){0};
	CHECK_EQ_INT(audit_forks(L(&b), see_fork, &fs, &err), 0);
	CHECK(fs.n == 1 && !fs.flagged); /* the evidence stays */

	/* c: took the clone's branch first? No: c holds the genuine chain.
	 * A node d that got the clone first names it in its receipt; on b that
	 * entry is explained by b's fork evidence, not a problem. */
	tnode d;
	tnode_open(&d, "fork-d", "450100");
	envs e = {0};
	ledger_range(L(&a), "320100", 1, 2, SIZE_MAX, collect, &e, &err);
	sync_verdict res[4];
	CHECK_EQ_INT(node_receive(d.n, "mallory", (const uint8_t *const *)e.buf,
				  e.len, e.n, res),
		     0);
	envs_free(&e);
	CHECK_EQ_INT(give(&d, "mallory", clone), SYNC_STORED);
	CHECK_EQ_INT(give(&d, "fork-a", genuine), SYNC_FORK);
	now_ms += IVL;
	CHECK_EQ_INT(receipt(&d), 1);
	CHECK_EQ_INT(copy(&d, &b), 3); /* d's genesis, its report, receipt */
	char first[512] = "";
	CHECK_EQ_INT(verify(&b, first, sizeof(first)), 0);
	CHECK_EQ_INT(verify(&d, first, sizeof(first)), 0);

	/* a receipt naming a record nobody holds at a held seq: a dispute
	 * against its signer, stored, not a problem of b's ledger */
	{
		ident *did = ident_load(d.key, &err);
		const ledger_origin *dh = ledger_origin_find(L(&d), "450100");
		Hutong__ReceiptEntry en = HUTONG__RECEIPT_ENTRY__INIT,
				     *pe = &en;
		Hutong__Receipt rc = HUTONG__RECEIPT__INIT;
		Hutong__Body body = HUTONG__BODY__INIT;
		Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
		uint8_t bogus[RECORD_ID_BYTES];
		memset(bogus, 0xab, sizeof(bogus));
		en.origin = "320100";
		en.seq = 3; /* the forked seq, but neither version */
		en.head = (ProtobufCBinaryData){RECORD_ID_BYTES, bogus};
		rc.entries = &pe;
		rc.n_entries = 1;
		body.content_case = HUTONG__BODY__CONTENT_RECEIPT;
		body.receipt = &rc;
		sub.author = "node";
		sub.body = &body;
		now_ms += 10;
		record_origin at = {"450100", "fork-d", dh->seq + 1, dh->head,
				    T0 + now_ms};
		record *lie = NULL;
		CHECK_EQ_INT(record_build(&sub, &at, signer, did, &lie, &err),
			     0);
		CHECK_EQ_INT(give(&b, "fork-d", lie), SYNC_STORED);
		CHECK_EQ_INT(node_get_counters(b.n)->disputes, 1);
		CHECK_EQ_INT(verify(&b, first, sizeof(first)), 0);
		CHECK_EQ_INT(n_disputes, 1);
		CHECK_HAS(last_dispute,
			  "450100 320100 3: receipt names abababab");
		record_free(&lie);
		ident_free(&did);
	}
	record_free(&two);
	record_free(&clone);
	record_free(&genuine);
	tnode_stop(&a);
	tnode_stop(&b);
	tnode_stop(&c);
	tnode_stop(&d);
}

/* ---- verify: the receipt index against the receipt records ---- */

typedef struct problems {
	int n;
	char *first;
	size_t len;
} problems;

static void on_problem(void *ctx, const uint8_t *id, const char *region,
		       uint64_t seq, const char *reason)
{
	problems *p = ctx;
	if (p->n++ == 0 && p->first)
		snprintf(p->first, p->len, "%s", reason);
}

static void on_dispute(void *ctx, const ledger_dispute *d)
{
	n_disputes++;
	snprintf(last_dispute, sizeof(last_dispute), "%s %s %llu: %s",
		 d->signer, d->origin, (unsigned long long)d->seq, d->reason);
}

/* The problems of t's ledger (disputes are counted apart, in n_disputes). */
static int verify(tnode *t, char *first, size_t len)
{
	problems p = {0, first, len};
	ht_err err = {0};
	n_disputes = 0;
	last_dispute[0] = '\0';
	int n = ledger_verify_ex(L(t), LEDGER_DEFAULT_SKEW_MS, false,
				 on_problem, on_dispute, &p, &err);
	CHECK_EQ_INT(n, p.n);
	return n;
}

static int tamper(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	int rc = sqlite3_open(db, &h);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
	CHECK_EQ_INT(rc, SQLITE_OK);
	CHECK_EQ_INT(sqlite3_changes(h), 1);
	sqlite3_close(h);
	return rc;
}

static void test_verify_receipts(void)
{
	tnode a, b;
	char first[512];
	ht_err err = {0};
	now_ms = 0;
	tnode_open(&a, "vr-a", "320100");
	tnode_open(&b, "vr-b", "360100");
	copy(&b, &a);
	submit(&a, 3, "officer-2");
	CHECK_EQ_INT(receipt(&a), 1);
	copy(&a, &b);
	CHECK_EQ_INT(receipt(&b), 1);
	copy(&b, &a);
	CHECK_EQ_INT(verify(&a, first, sizeof(first)), 0);
	tnode_stop(&a);

	/* a row of the index deleted, one altered, one added */
	tamper(a.db, "DELETE FROM receipt WHERE rowid = (SELECT max(rowid) "
		     "FROM receipt)");
	tnode_start(&a);
	CHECK_EQ_INT(verify(&a, first, sizeof(first)), 1);
	CHECK_HAS(first, "receipt index lacks the row");
	tnode_stop(&a);
	tamper(a.db, "UPDATE receipt SET seq = seq + 7 WHERE rowid = 1");
	tnode_start(&a);
	CHECK_EQ_INT(verify(&a, first, sizeof(first)), 2);
	CHECK_HAS(first, "differs from the signed receipt");
	tnode_stop(&a);
	tamper(a.db,
	       "INSERT INTO receipt VALUES('110100', '360100', 5, 0, 9999)");
	tnode_start(&a);
	CHECK_EQ_INT(verify(&a, first, sizeof(first)), 3);
	/* the coverage answer stays what the signed receipts say for b */
	audit_record_info ai;
	record *r = NULL;
	CHECK_EQ_INT(ledger_get_seq(L(&a), "320100", 2, &r, NULL, &err), 0);
	CHECK_EQ_INT(audit_record(L(&a), record_id(r), &ai, &err), 0);
	CHECK(ai.cover[1].covered);
	audit_record_clear(&ai);
	record_free(&r);
	tnode_stop(&a);
	tnode_stop(&b);
}

/* ---- history: what the node's own receipts committed ---- */

/* All problems' reasons, one per line. */
typedef struct reasons {
	int n;
	char text[8192];
} reasons;

static void on_reason(void *ctx, const uint8_t *id, const char *region,
		      uint64_t seq, const char *reason)
{
	reasons *r = ctx;
	size_t len = strlen(r->text);
	r->n++;
	snprintf(r->text + len, sizeof(r->text) - len, "%s\n", reason);
}

/* Open db read-only and verify it (or compare it with peer). */
static int verify_file(const char *db, const char *peer, reasons *r)
{
	ht_err err = {0};
	memset(r, 0, sizeof(*r));
	ledger *l = ledger_open(db, LEDGER_RDONLY, NULL, &err);
	ledger *p = peer ? ledger_open(peer, LEDGER_RDONLY, NULL, &err) : NULL;
	CHECK(l != NULL && (peer == NULL || p != NULL));
	if (l == NULL || (peer != NULL && p == NULL)) {
		ledger_close(&l);
		return -1;
	}
	ledger_set_self(l, "320100");
	int n = p ? ledger_history_against(l, p, "vh-b", on_reason, r, &err)
		  : ledger_verify(l, on_reason, r, &err);
	CHECK_EQ_INT(n, r->n);
	ledger_close(&p);
	ledger_close(&l);
	return n;
}

/* What an administrator with sqlite3 does after editing rows: renumber
 * the arrival log and recompute its (unkeyed) chain. */
static void rechain_arrivals(sqlite3 *h)
{
	sqlite3_stmt *st = NULL;
	int64_t k = 0;
	uint8_t prev[32] = {0};
	CHECK_EQ_INT(sqlite3_prepare_v2(h,
					"SELECT n, id, stored_ms, source "
					"FROM record ORDER BY n",
					-1, &st, NULL),
		     SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 0), ms;
		uint8_t id[32], num[16];
		char src[128], sql[512], hex[65];
		memcpy(id, sqlite3_column_blob(st, 1), 32);
		ms = sqlite3_column_int64(st, 2);
		snprintf(src, sizeof(src), "%s", sqlite3_column_text(st, 3));
		k++;
		for (int i = 0; i < 8; i++) {
			num[i] = (uint8_t)((uint64_t)k >> (56 - 8 * i));
			num[8 + i] = (uint8_t)((uint64_t)ms >> (56 - 8 * i));
		}
		crypto_hash_sha256_state hs;
		crypto_hash_sha256_init(&hs);
		crypto_hash_sha256_update(&hs, prev, 32);
		crypto_hash_sha256_update(&hs, num, 8);
		crypto_hash_sha256_update(&hs, id, 32);
		crypto_hash_sha256_update(&hs, num + 8, 8);
		crypto_hash_sha256_update(&hs, (uint8_t *)src, strlen(src));
		crypto_hash_sha256_final(&hs, prev);
		snprintf(sql, sizeof(sql),
			 "UPDATE record SET n = %lld, arrival"
			 " = x'%s' WHERE n = %lld",
			 (long long)k, util_hex(prev, 32, hex), (long long)n);
		CHECK_EQ_INT(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_finalize(st);
}

/* A copy of src at dst, sql applied, the arrival chain recomputed. */
static void tampered(const char *src, const char *dst, const char *sql,
		     bool rechain)
{
	char cmd[2 * PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	CHECK_EQ_INT(system(cmd), 0);
	sqlite3 *h = NULL;
	CHECK_EQ_INT(sqlite3_open(dst, &h), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	if (rechain)
		rechain_arrivals(h);
	sqlite3_close(h);
}

/* Open db read-write (migrating it) and close it. */
static void reopen_rdwr(const char *db)
{
	ht_err err = {0};
	ledger *l = ledger_open(db, LEDGER_RDWR, NULL, &err);
	CHECK(l != NULL);
	if (l == NULL)
		fprintf(stderr, "open %s: %s\n", db, err.msg);
	ledger_close(&l);
}

static void test_verify_history(void)
{
	tnode a, b;
	reasons r;
	char db[PATH_MAX];
	now_ms = 0;
	tnode_open(&a, "vh-a", "320100");
	tnode_open(&b, "vh-b", "360100");
	copy(&b, &a); /* a's event log gets rows */
	submit(&a, 3, "officer-2");
	CHECK_EQ_INT(receipt(&a), 1);
	copy(&a, &b);		    /* b holds a's receipt and its heads */
	submit(&a, 1, "officer-3"); /* after the receipt: not covered */
	tnode_stop(&a);
	tnode_stop(&b);
	CHECK_EQ_INT(verify_file(a.db, NULL, &r), 0);
	CHECK_EQ_INT(verify_file(a.db, b.db, &r), 0);

	/* (a) an arrival time and source rewritten, the chain recomputed */
	snprintf(db, sizeof(db), "%s/vh-arrival.db", tmpdir);
	tampered(a.db, db,
		 "UPDATE record SET stored_ms = stored_ms - 3600000,"
		 " source = 'elsewhere' WHERE n = 2",
		 true);
	CHECK(verify_file(db, NULL, &r) >= 1);
	CHECK_HAS(r.text, "says the arrival log at n=");
	CHECK_HAS(r.text, "arrival log rewritten after the receipt");
	/* (d) and a neighbour's copy of the receipt says otherwise */
	CHECK_EQ_INT(verify_file(db, b.db, &r), 1);
	CHECK_HAS(r.text, "this node's arrival log at ");
	CHECK_HAS(r.text, "but the receipt held by vh-b says");

	/* (b) a covered record deleted, with its origin, the log renumbered */
	snprintf(db, sizeof(db), "%s/vh-delete.db", tmpdir);
	tampered(a.db, db,
		 "DELETE FROM record WHERE origin = '360100';"
		 "DELETE FROM origin WHERE region = '360100';"
		 "DELETE FROM keyhist WHERE origin = '360100';",
		 true);
	CHECK(verify_file(db, NULL, &r) >= 1);
	CHECK_HAS(r.text, "held origin 360100 up to seq 1, but this ledger "
			  "holds 0 of those records");

	/* (c) an event row edited, then also with its chain recomputed */
	snprintf(db, sizeof(db), "%s/vh-event.db", tmpdir);
	tampered(a.db, db, "UPDATE event SET count = count + 5 WHERE n = 1",
		 false);
	CHECK_EQ_INT(verify_file(db, NULL, &r), 1);
	CHECK_HAS(r.text, "event n=1 altered");
	/* ... and with its chain recomputed: the migration from version 1
	 * seals the rows as they are, which is what a tamperer would do */
	snprintf(db, sizeof(db), "%s/vh-event2.db", tmpdir);
	tampered(a.db, db,
		 "UPDATE event SET reason = 'nothing' WHERE n = 1;"
		 "UPDATE meta SET value = 1 WHERE key = 'schema';"
		 "ALTER TABLE event DROP COLUMN chain;",
		 false);
	reopen_rdwr(db);
	CHECK(verify_file(db, NULL, &r) >= 1);
	CHECK_HAS(r.text, "says the event log at n=");

	/* set back to version 1: read as it is, the receipt's event head
	 * has no chain to match; migrated, the same rows seal alike */
	snprintf(db, sizeof(db), "%s/vh-v1.db", tmpdir);
	tampered(a.db, db,
		 "UPDATE meta SET value = 1 WHERE key = 'schema';"
		 "ALTER TABLE event DROP COLUMN chain;",
		 false);
	CHECK_EQ_INT(verify_file(db, NULL, &r), 1);
	CHECK_HAS(r.text, "has no event chain (schema version 1");
	reopen_rdwr(db);
	CHECK_EQ_INT(verify_file(db, NULL, &r), 0);
	CHECK_EQ_INT(verify_file(db, b.db, &r), 0);
}

/* ---- claims: creation times and receipts ---- */

#define DAY_MS 86400000LL

static const char *logged(tnode *t)
{
	fflush(t->logf);
	return t->logbuf ? t->logbuf : "";
}

/* A record of t's chain at seq (after the held seq-1), created at ms,
 * signed with t's key; with rc, a receipt of those entries instead. */
static record *forge_at(tnode *t, ledger *held, uint64_t seq, int64_t ms,
			Hutong__Receipt *rc)
{
	ht_err err = {0};
	ident *id = ident_load(t->key, &err);
	record *prev = NULL, *r = NULL;
	CHECK_EQ_INT(
	    ledger_get_seq(held, t->region, seq - 1, &prev, NULL, &err), 0);
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	in.summary = "a claim";
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	if (rc != NULL) {
		body.content_case = HUTONG__BODY__CONTENT_RECEIPT;
		body.receipt = rc;
	}
	sub.author = rc ? "node" : "officer-9";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	record_origin at = {t->region, t->name, seq,
			    prev ? record_id(prev) : NULL, ms};
	CHECK_EQ_INT(record_build(&sub, &at, signer, id, &r, &err), 0);
	record_free(&prev);
	ident_free(&id);
	return r;
}

static uint64_t own_seq(tnode *t)
{
	return ledger_origin_find(L(t), t->region)->seq;
}

static int64_t created_of(tnode *t, const char *region, uint64_t seq)
{
	int64_t ms = 0;
	ht_err err = {0};
	CHECK_EQ_INT(ledger_created_at(L(t), region, seq, &ms, &err), 0);
	return ms;
}

/* A record 300 days ahead is refused with its reason, counted, not stored,
 * and taken once the receiver's clock has caught up with it. */
static void test_clock_skew(void)
{
	tnode a, b;
	now_ms = 0;
	tnode_open(&a, "cs-a", "320100");
	tnode_open(&b, "cs-b", "360100");
	copy(&a, &b);
	record *r =
	    forge_at(&a, L(&a), own_seq(&a) + 1, T0 + 300 * DAY_MS, NULL);
	CHECK_EQ_INT(give(&b, "cs-a", r), SYNC_REFUSED);
	CHECK_HAS(logged(&b), "is 300d ahead of this node's clock "
			      "(max_clock_skew 5m)");
	CHECK_HAS(logged(&b), "created 2027-09-25T08:00:00.000Z");
	CHECK_HAS(logged(&b), "refused peer=cs-a origin=320100 seq=2");
	CHECK_EQ_INT(node_get_counters(b.n)->clock_skew, 1);
	CHECK_EQ_INT(ledger_origin_find(L(&b), "320100")->seq, 1);
	/* within the skew: taken; again, as no memo keeps the refusal */
	now_ms = 300 * DAY_MS - 4 * 60000;
	CHECK_EQ_INT(give(&b, "cs-a", r), SYNC_STORED);
	CHECK_EQ_INT(node_get_counters(b.n)->clock_skew, 1);
	record_free(&r);

	/* a record dated before its predecessor is refused */
	r = forge_at(&a, L(&b), 3, T0 + 300 * DAY_MS - 1, NULL);
	CHECK_EQ_INT(give(&b, "cs-a", r), SYNC_REFUSED);
	CHECK_HAS(logged(&b), "created before its predecessor at seq 2");
	CHECK_EQ_INT(node_get_counters(b.n)->backdated, 1);
	record_free(&r);
	tnode_stop(&a);
	tnode_stop(&b);
}

/* The node never dates its own record before its previous one. */
static void test_submit_monotonic(void)
{
	tnode a;
	now_ms = 0;
	tnode_open(&a, "sm-a", "320100");
	wall_off = DAY_MS; /* the clock runs a day ahead, then comes back */
	submit(&a, 1, "officer-1");
	int64_t ahead = created_of(&a, "320100", own_seq(&a));
	CHECK(ahead == T0 + DAY_MS);
	wall_off = 0;
	now_ms += 1000;
	submit(&a, 1, "officer-1");
	CHECK(created_of(&a, "320100", own_seq(&a)) == ahead);
	tnode_stop(&a);
}

/* Receipts d signs about a's chain: one entry. */
static Hutong__Receipt *one_entry(Hutong__Receipt *rc, Hutong__ReceiptEntry *en,
				  Hutong__ReceiptEntry **pe, const char *origin,
				  uint64_t seq, const uint8_t *head)
{
	hutong__receipt__init(rc);
	hutong__receipt_entry__init(en);
	en->origin = (char *)origin;
	en->seq = seq;
	en->head = (ProtobufCBinaryData){RECORD_ID_BYTES, (uint8_t *)head};
	*pe = en;
	rc->entries = pe;
	rc->n_entries = 1;
	return rc;
}

/* Each kind of lying receipt is stored as a dispute against its signer;
 * verify on the holder finds no problem, only the dispute, whether the
 * receipt came before or after the records it names. */
static void test_lying_receipts(void)
{
	tnode a, b, d;
	char first[512];
	Hutong__Receipt rc;
	Hutong__ReceiptEntry en, *pe;
	now_ms = 0;
	tnode_open(&a, "lr-a", "320100");
	tnode_open(&b, "lr-b", "360100");
	tnode_open(&d, "lr-d", "450100");
	copy(&a, &d);
	copy(&d, &b);
	now_ms = 3600000; /* an hour later a writes seq 2 */
	submit(&a, 1, "officer-1");
	record *a2 = NULL;
	ht_err err = {0};
	CHECK_EQ_INT(ledger_get_seq(L(&a), "320100", 2, &a2, NULL, &err), 0);

	/* (a, b) d claims, in a receipt dated half an hour ago, a's seq 2,
	 * which was created only now: d got there first */
	record *early =
	    forge_at(&d, L(&d), own_seq(&d) + 1, T0 + 1800000,
		     one_entry(&rc, &en, &pe, "320100", 2, record_id(a2)));
	CHECK_EQ_INT(give(&b, "lr-d", early), SYNC_STORED); /* before a2 */
	CHECK_EQ_INT(node_get_counters(b.n)->disputes, 0);  /* not judged */
	copy(&a, &b);
	CHECK_EQ_INT(verify(&b, first, sizeof(first)), 0);
	CHECK_EQ_INT(n_disputes, 1);
	CHECK_HAS(last_dispute, "450100 320100 2: receipt created "
				"2026-11-29T08:30:00.000Z covers origin 320100 "
				"seq 2 created 2026-11-29T09:00:00.000Z");

	/* (c) a head that contradicts the record held */
	uint8_t bogus[RECORD_ID_BYTES];
	memset(bogus, 0xcd, sizeof(bogus));
	copy_only(&b, &d, "450100");
	record *wrong = forge_at(&d, L(&d), own_seq(&d) + 1, T0 + now_ms,
				 one_entry(&rc, &en, &pe, "320100", 1, bogus));
	CHECK_EQ_INT(give(&b, "lr-d", wrong), SYNC_STORED);
	CHECK_EQ_INT(node_get_counters(b.n)->disputes, 1);
	CHECK_HAS(logged(&b), "dispute origin=320100 signer=450100 seq=1 "
			      "peer=lr-d reason=\"receipt names cdcdcdcd");
	CHECK_EQ_INT(verify(&b, first, sizeof(first)), 0);
	/* and it goes below d's earlier receipt (seq 2): a third */
	CHECK_EQ_INT(n_disputes, 3);
	CHECK_HAS(last_dispute, "450100 320100 1: receipt names cdcdcdcd");
	/* every dispute, without the rest of verify */
	n_disputes = 0;
	CHECK_EQ_INT(ledger_verify_ex(L(&b), LEDGER_DEFAULT_SKEW_MS, true, NULL,
				      on_dispute, NULL, &err),
		     0);
	CHECK_EQ_INT(n_disputes, 3);
	/* the old interface reports no problem either */
	CHECK_EQ_INT(ledger_verify(L(&b), NULL, NULL, &err), 0);
	record_free(&early);
	record_free(&wrong);
	record_free(&a2);
	tnode_stop(&a);
	tnode_stop(&b);
	tnode_stop(&d);
}

/* A clock 25 days ahead wrote a receipt; once it is back, the next one is
 * an interval away on the monotonic clock, not 25 days, and a restart
 * does not wait for the future-dated receipt either. */
static void test_receipt_clock_jump(void)
{
	tnode a;
	now_ms = 0;
	tnode_open(&a, "rj-a", "320100");
	wall_off = 25 * DAY_MS;
	submit(&a, 1, "officer-1");
	CHECK_EQ_INT(receipt(&a), 1);
	wall_off = 0; /* the clock comes back */
	submit(&a, 1, "officer-1");
	now_ms += IVL - 1;
	CHECK_EQ_INT(receipt(&a), 0);
	now_ms += 1;
	CHECK_EQ_INT(receipt(&a), 1);
	/* a restart while the last receipt is still in the future */
	wall_off = 25 * DAY_MS;
	now_ms += IVL;
	submit(&a, 1, "officer-1");
	CHECK_EQ_INT(receipt(&a), 1);
	wall_off = 0;
	submit(&a, 1, "officer-1");
	tnode_stop(&a);
	tnode_start(&a);
	CHECK_EQ_INT(receipt(&a), 1);
	tnode_stop(&a);
}

static void rm_tree(const char *dir)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL)
		return 1;
	test_receipt_policy();
	test_coverage();
	test_hostile();
	test_fork();
	test_verify_receipts();
	test_verify_history();
	test_clock_skew();
	test_submit_monotonic();
	test_lying_receipts();
	test_receipt_clock_jump();
	rm_tree(tmpdir);
	return check_done("test_audit");
}
