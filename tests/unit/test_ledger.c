/*
 * test_ledger: the chain rules, the frontier and its digest, persistence,
 * transactions, queries and the offline verifier, each on a fresh SQLite
 * file in a temporary directory.
 *
 * Records are built with fixed keys and times (one key per origin), so every
 * run stores the same bytes. The verifier is tested by damaging a copy of a
 * clean ledger with sqlite3 directly, as a disk fault or a hand with the
 * sqlite3 shell would, and checking that the damage is reported by id.
 */
#include <ctype.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ledger.h"
#include "record.h"
#include "util.h"

#define T0 1795939200000 /* 2026-11-29T08:00:00Z */
#define PER_ORIGIN 20

static char dir[] = "/tmp/hutong-test-ledger-XXXXXX";

/* ---- fixtures: keys, records, a clock ---- */

typedef struct okey {
	const char *region, *node;
	int index;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
} okey;

static okey keys[3] = {
    {"430100", "changsha", 0, {0}, {0}},
    {"320100", "nanjing", 1, {0}, {0}},
    {"360100", "nanchang", 2, {0}, {0}},
};

static void make_keys(void)
{
	for (int k = 0; k < 3; k++) {
		uint8_t seed[crypto_sign_SEEDBYTES];
		memset(seed, 0x40 + k, sizeof(seed));
		crypto_sign_seed_keypair(keys[k].pk, keys[k].sk, seed);
	}
}

static int sign_with(void *ctx, const uint8_t *msg, size_t len,
		     uint8_t sig[RECORD_SIG_BYTES])
{
	return crypto_sign_detached(sig, NULL, msg, len, ctx) == 0 ? 0
								   : HT_ECRYPTO;
}

/* Created time of seq for origin k: minutes apart, origins a second apart. */
static int64_t created(const okey *k, uint64_t seq)
{
	return T0 + (int64_t)seq * 60000 + k->index * 1000;
}

/* Record seq of origin k after prev. seq 1 is the genesis; then intel,
 * repatriation, org in turn; author officer-(seq % 3). variant > 0 gives a
 * different record at the same place (a fork). */
static record *make(const okey *k, uint64_t seq, const uint8_t *prev,
		    int variant)
{
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Genesis gen = HUTONG__GENESIS__INIT;
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Repatriation rep = HUTONG__REPATRIATION__INIT;
	Hutong__FleeingOrganization org = HUTONG__FLEEING_ORGANIZATION__INIT;
	char author[32], text[64];
	snprintf(author, sizeof(author), "officer-%d", (int)(seq % 3));
	snprintf(text, sizeof(text), "lead %llu of %s, version %d",
		 (unsigned long long)seq, k->region, variant);
	sub.author = author;
	sub.body = &body;
	if (seq == 1) {
		gen.public_key = (ProtobufCBinaryData){32, (uint8_t *)k->pk};
		body.content_case = HUTONG__BODY__CONTENT_GENESIS;
		body.genesis = &gen;
		sub.author = "hutongd";
	} else if (seq % 3 == 2) {
		in.summary = text;
		body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
		body.intelligence = &in;
	} else if (seq % 3 == 0) {
		rep.case_id = text;
		rep.step = HUTONG__STEP__STEP_REQUEST;
		rep.from_region = (char *)k->region;
		rep.to_region = "610100";
		body.content_case = HUTONG__BODY__CONTENT_REPATRIATION;
		body.repatriation = &rep;
	} else {
		org.org_id = "org-1";
		org.name = text;
		body.content_case = HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION;
		body.fleeing_organization = &org;
	}
	record_origin o = {k->region, k->node, seq, prev, created(k, seq)};
	record *r = NULL;
	ht_err e;
	if (record_build(&sub, &o, sign_with, (void *)k->sk, &r, &e) != 0) {
		fprintf(stderr, "cannot build %s seq %llu: %s: %s\n", k->region,
			(unsigned long long)seq, e.field, e.msg);
		abort();
	}
	return r;
}

/* A chain of n records (index 0 = seq 1) for origin k. */
static void make_chain(const okey *k, record **out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = make(k, (uint64_t)i + 1,
			      i ? record_id(out[i - 1]) : NULL, 0);
}

static void free_chain(record **c, int n)
{
	for (int i = 0; i < n; i++)
		record_free(&c[i]);
}

typedef struct fake_clock {
	int64_t now;
} fake_clock;

static int64_t fake_now(void *ctx)
{
	fake_clock *f = ctx;
	return f->now += 10;
}

static void path_of(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static ledger *open_new(const char *name, const ht_clock *clock)
{
	char path[PATH_MAX];
	ht_err e;
	path_of(path, name);
	ledger *l = ledger_open(path, LEDGER_RDWR, clock, &e);
	CHECK(l != NULL);
	if (l == NULL) {
		fprintf(stderr, "  ledger_open %s: %s: %s\n", path, e.field,
			e.msg);
		abort();
	}
	return l;
}

/* Append r and return the outcome, or the error code (negative). */
static int append(ledger *l, const record *r, const char *source, ht_err *e)
{
	ledger_outcome out = 99;
	ht_err scratch;
	int rc = ledger_append(l, r, source, &out, e ? e : &scratch);
	return rc != 0 ? rc : (int)out;
}

static bool same_id(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, RECORD_ID_BYTES) == 0;
}

/* ---- chain rules ---- */

static int collect_fork(void *ctx, const record *r, const ledger_meta *m)
{
	record **got = ctx;
	if (*got == NULL) {
		size_t n;
		const uint8_t *b = record_bytes(r, &n);
		*got = record_parse(b, n, NULL);
	}
	return 0;
}

static int count_cb(void *ctx, const record *r, const ledger_meta *m)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_chain_rules(void)
{
	fake_clock fc = {T0 + 3600000};
	ht_clock clock = {fake_now, fake_now, &fc};
	ledger *l = open_new("rules.db", &clock);
	okey *nj = &keys[1], *cs = &keys[0];
	record *c[5], *cs2[2];
	make_chain(nj, c, 5);
	make_chain(cs, cs2, 2);
	ht_err e;
	uint8_t d0[32], d1[32];

	CHECK_EQ_INT(ledger_record_count(l), 0);
	CHECK_EQ_INT(ledger_origin_count(l), 0);
	CHECK(ledger_origin_find(l, "320100") == NULL);

	/* non-genesis from an unknown origin */
	ht_err_clear(&e);
	CHECK_EQ_INT(append(l, c[1], "peer-a", &e), HT_EGAP);
	CHECK_STR(e.field, "header.seq");
	CHECK_HAS(e.msg, "ahead of origin 320100's head 0");
	/* a genesis without its body names no key */
	record *bare = record_without_body(c[0]);
	CHECK_EQ_INT(append(l, bare, "peer-a", &e), HT_EINVAL);
	CHECK_HAS(e.msg, "genesis record without its body");
	record_free(&bare);
	CHECK_EQ_INT(ledger_record_count(l), 0);

	/* genesis appends and names the key */
	CHECK_EQ_INT(append(l, c[0], "local", NULL), LEDGER_APPENDED);
	const ledger_origin *o = ledger_origin_find(l, "320100");
	CHECK(o != NULL);
	if (o == NULL)
		abort();
	CHECK_EQ_INT(o->seq, 1);
	CHECK(same_id(o->head, record_id(c[0])));
	CHECK(memcmp(o->key, nj->pk, 32) == 0);
	CHECK_STR(o->node, "nanjing");
	CHECK(!o->forked);
	CHECK_EQ_INT(ledger_record_count(l), 1);

	/* next appends */
	CHECK_EQ_INT(append(l, c[1], "local", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(append(l, c[2], "peer-a", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(ledger_record_count(l), 3);
	o = ledger_origin_find(l, "320100");
	CHECK_EQ_INT(o->seq, 3);
	CHECK(same_id(o->head, record_id(c[2])));

	/* the same record again, at the head and below it: nothing changes */
	ledger_digest(l, d0);
	CHECK_EQ_INT(append(l, c[2], "peer-b", NULL), LEDGER_DUPLICATE);
	CHECK_EQ_INT(append(l, c[1], "peer-b", NULL), LEDGER_DUPLICATE);
	CHECK_EQ_INT(append(l, c[0], "peer-b", NULL), LEDGER_DUPLICATE);
	CHECK_EQ_INT(ledger_record_count(l), 3);
	ledger_digest(l, d1);
	CHECK(same_id(d0, d1));

	/* ahead of a gap */
	ht_err_clear(&e);
	CHECK_EQ_INT(append(l, c[4], "peer-a", &e), HT_EGAP);
	CHECK_STR(e.field, "header.seq");
	CHECK_STR(e.msg, "5 is ahead of origin 320100's head 3");
	CHECK_EQ_INT(ledger_record_count(l), 3);

	/* seq 4 that does not link to the held seq 3 */
	uint8_t wrong[32];
	memset(wrong, 0x5a, sizeof(wrong));
	record *unlinked = make(nj, 4, wrong, 0);
	ht_err_clear(&e);
	CHECK_EQ_INT(append(l, unlinked, "peer-a", &e), HT_EINVAL);
	CHECK_STR(e.field, "header.prev_id");
	CHECK_HAS(e.msg, "does not link to the held record at seq 3");
	record_free(&unlinked);
	/* ... or that comes from another node name for the same origin */
	okey other = *nj;
	other.node = "nanjing-2";
	record *renamed = make(&other, 4, record_id(c[2]), 0);
	CHECK_EQ_INT(append(l, renamed, "peer-a", &e), HT_EINVAL);
	CHECK_STR(e.field, "header.origin_node");
	record_free(&renamed);
	CHECK_EQ_INT(ledger_origin_find(l, "320100")->seq, 3);

	/* a different record at the head seq: a fork, kept as evidence */
	record *fork3 = make(nj, 3, record_id(c[1]), 1);
	CHECK(!same_id(record_id(fork3), record_id(c[2])));
	ledger_digest(l, d0);
	CHECK_EQ_INT(append(l, fork3, "peer-c", NULL), LEDGER_FORK);
	o = ledger_origin_find(l, "320100");
	CHECK(o->forked);
	CHECK_EQ_INT(o->seq, 3);
	CHECK(same_id(o->head, record_id(c[2]))); /* the first is kept */
	CHECK_EQ_INT(ledger_record_count(l), 3);
	ledger_digest(l, d1);
	CHECK(same_id(d0, d1));
	record *got = NULL;
	ledger_meta meta;
	CHECK_EQ_INT(ledger_get_seq(l, "320100", 3, &got, NULL, &e), 0);
	CHECK(got != NULL && same_id(record_id(got), record_id(c[2])));
	record_free(&got);
	CHECK_EQ_INT(ledger_get(l, record_id(fork3), &got, &meta, &e), 0);
	CHECK(got != NULL && same_id(record_id(got), record_id(fork3)));
	CHECK_STR(meta.source, "peer-c");
	record_free(&got);
	CHECK(ledger_each_fork(l, collect_fork, &got, &e) == 0);
	CHECK(got != NULL && same_id(record_id(got), record_id(fork3)));
	record_free(&got);
	/* the same fork again is a duplicate */
	CHECK_EQ_INT(append(l, fork3, "peer-d", NULL), LEDGER_DUPLICATE);
	int forks = 0;
	CHECK_EQ_INT(ledger_each_fork(l, count_cb, &forks, &e), 0);
	CHECK_EQ_INT(forks, 1);

	/* a fork below the head (seq 2 of 3) */
	record *fork2 = make(nj, 2, record_id(c[0]), 2);
	CHECK_EQ_INT(append(l, fork2, "peer-c", NULL), LEDGER_FORK);
	CHECK_EQ_INT(append(l, fork2, "peer-c", NULL), LEDGER_DUPLICATE);
	forks = 0;
	CHECK_EQ_INT(ledger_each_fork(l, count_cb, &forks, &e), 0);
	CHECK_EQ_INT(forks, 2);
	CHECK(same_id(ledger_origin_find(l, "320100")->head, record_id(c[2])));
	record_free(&fork2);

	/* the chain goes on after a fork */
	CHECK_EQ_INT(append(l, c[3], "local", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(append(l, c[4], "local", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(ledger_record_count(l), 5);

	/* a second origin sorts before the first in the frontier */
	CHECK_EQ_INT(append(l, cs2[0], "peer-a", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(append(l, cs2[1], "peer-a", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(ledger_origin_count(l), 2);
	CHECK_STR(ledger_origin_at(l, 0)->region, "320100");
	CHECK_STR(ledger_origin_at(l, 1)->region, "430100");
	CHECK(ledger_origin_at(l, 2) == NULL);
	CHECK(!ledger_origin_at(l, 1)->forked);
	/* the index is the position ledger_origin_at takes, -1 when absent
	 * (before, between and after the held regions) */
	CHECK_EQ_INT(ledger_origin_index(l, "320100"), 0);
	CHECK_EQ_INT(ledger_origin_index(l, "430100"), 1);
	CHECK_EQ_INT(ledger_origin_index(l, "110000"), -1);
	CHECK_EQ_INT(ledger_origin_index(l, "360100"), -1);
	CHECK_EQ_INT(ledger_origin_index(l, "650000"), -1);

	/* lookups: arrival facts, and what is not there */
	CHECK_EQ_INT(ledger_get(l, record_id(c[1]), &got, &meta, &e), 0);
	CHECK_STR(meta.source, "local");
	CHECK_EQ_INT(meta.n, 2);
	CHECK(meta.stored_ms > T0 + 3600000 && meta.stored_ms < T0 + 3700000);
	record_free(&got);
	CHECK_EQ_INT(ledger_get(l, wrong, &got, NULL, &e), HT_ENOTFOUND);
	CHECK(got == NULL);
	CHECK_EQ_INT(ledger_get_seq(l, "320100", 6, &got, NULL, &e),
		     HT_ENOTFOUND);
	CHECK_EQ_INT(ledger_get_seq(l, "610100", 1, &got, NULL, &e),
		     HT_ENOTFOUND);
	CHECK(got == NULL);

	int problems = ledger_verify(l, NULL, NULL, &e);
	CHECK_EQ_INT(problems, 0);
	ledger_close(&l);
	CHECK(l == NULL);
	ledger_close(&l); /* NULL is fine */

	/* read-only: reads work, appends are refused */
	char path[PATH_MAX];
	path_of(path, "rules.db");
	l = ledger_open(path, LEDGER_RDONLY, NULL, &e);
	CHECK(l != NULL);
	if (l != NULL) {
		CHECK_EQ_INT(ledger_record_count(l), 7);
		CHECK(ledger_origin_find(l, "320100")->forked);
		record *next = make(cs, 3, record_id(cs2[1]), 0);
		CHECK_EQ_INT(append(l, next, "local", &e), HT_ESTATE);
		record_free(&next);
		ledger_close(&l);
	}
	record_free(&fork3);
	free_chain(c, 5);
	free_chain(cs2, 2);
}

static void test_open_errors(void)
{
	char path[PATH_MAX];
	ht_err e;
	path_of(path, "missing.db");
	ht_err_clear(&e);
	CHECK(ledger_open(path, LEDGER_RDONLY, NULL, &e) == NULL);
	CHECK(e.msg[0] != '\0');
	CHECK(access(path, F_OK) != 0); /* read-only never creates */

	path_of(path, "not-a-ledger.db");
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("this is not an SQLite database, it is a text file\n", f);
		fclose(f);
	}
	ht_err_clear(&e);
	CHECK(ledger_open(path, LEDGER_RDWR, NULL, &e) == NULL);
	CHECK(e.msg[0] != '\0');
	unlink(path);

	/* an SQLite file that is someone else's */
	path_of(path, "other.db");
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db,
			   "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
			   "INSERT INTO meta VALUES('schema', 99);",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	ht_err_clear(&e);
	CHECK(ledger_open(path, LEDGER_RDWR, NULL, &e) == NULL);
	CHECK_HAS(e.msg, "schema version 99");
}

/* A new ledger is 0600 whatever the umask; a missing directory is named;
 * ledger_check passes a sound file and names a damaged page. */
static void test_modes_and_check(void)
{
	char path[PATH_MAX], sub[PATH_MAX];
	ht_err e;
	struct stat st;
	mode_t old = umask(022);
	ledger *l = open_new("mode.db", NULL);
	umask(old);
	path_of(path, "mode.db");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ_INT(ledger_check(l, &e), 0);
	ledger_close(&l);

	path_of(sub, "no-such-dir/ledger.db");
	ht_err_clear(&e);
	CHECK(ledger_open(sub, LEDGER_RDWR, NULL, &e) == NULL);
	CHECK_HAS(e.msg, "no-such-dir: No such file or directory");

	/* 8 bytes over the header of the event index's root page */
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int root = 0;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db,
				 "SELECT rootpage FROM sqlite_master"
				 " WHERE name = 'event_time'",
				 -1, &q, NULL) == SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		root = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	CHECK(root > 1);
	FILE *f = fopen(path, "r+b");
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK(fseek(f, (long)(root - 1) * 4096, SEEK_SET) == 0);
		fwrite("\xde\xad\xbe\xef\xde\xad\xbe\xef", 1, 8, f);
		fclose(f);
	}
	l = open_new("mode.db", NULL);
	ht_err_clear(&e);
	CHECK_EQ_INT(ledger_check(l, &e), HT_ECORRUPT);
	CHECK_HAS(e.msg, "mode.db is damaged (quick_check: ");
	CHECK_HAS(e.msg, "restore it from a backup");
	CHECK(strchr(e.msg, '\n') == NULL);
	ledger_close(&l);
}

/* ---- digest and frontier ---- */

static void digest_hex(ledger *l, char hex[65])
{
	uint8_t d[32];
	ledger_digest(l, d);
	util_hex(d, 32, hex);
}

/* Append every record of the three chains in an order that keeps each
 * origin's own order: order[i] is the origin of the i-th append. */
static ledger *load(const char *name, record *chains[3][PER_ORIGIN + 1],
		    const int *order, int n)
{
	ledger *l = open_new(name, NULL);
	int next[3] = {0, 0, 0};
	ht_err e;
	CHECK_EQ_INT(ledger_begin(l, &e), 0);
	for (int i = 0; i < n; i++) {
		int k = order[i];
		int rc = append(l, chains[k][next[k]++], "peer", &e);
		CHECK_EQ_INT(rc, LEDGER_APPENDED);
	}
	CHECK_EQ_INT(ledger_commit(l, &e), 0);
	return l;
}

static bool same_frontier(const ledger *a, const ledger *b)
{
	if (ledger_origin_count(a) != ledger_origin_count(b))
		return false;
	for (size_t i = 0; i < ledger_origin_count(a); i++) {
		const ledger_origin *x = ledger_origin_at(a, i),
				    *y = ledger_origin_at(b, i);
		if (strcmp(x->region, y->region) || strcmp(x->node, y->node) ||
		    x->seq != y->seq || !same_id(x->head, y->head) ||
		    memcmp(x->key, y->key, 32) || x->forked != y->forked)
			return false;
	}
	return true;
}

static void test_digest(void)
{
	record *chains[3][PER_ORIGIN + 1];
	for (int k = 0; k < 3; k++)
		make_chain(&keys[k], chains[k], PER_ORIGIN + 1);
	enum { N = 3 * PER_ORIGIN, ORDERS = 5 };
	int orders[ORDERS][N];
	for (int i = 0; i < N; i++) {
		orders[0][i] = i / PER_ORIGIN;	   /* origin by origin */
		orders[1][i] = 2 - i / PER_ORIGIN; /* in reverse */
		orders[2][i] = i % 3;		   /* round robin */
	}
	uint32_t x = 2463534242u; /* xorshift32: two random interleavings */
	for (int o = 3; o < ORDERS; o++) {
		int left[3] = {PER_ORIGIN, PER_ORIGIN, PER_ORIGIN};
		for (int i = 0; i < N; i++) {
			int k;
			do {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				k = (int)(x % 3);
			} while (left[k] == 0);
			left[k]--;
			orders[o][i] = k;
		}
	}
	CHECK(memcmp(orders[3], orders[4], sizeof(orders[3])) != 0);

	ledger *l[ORDERS];
	char hex[ORDERS][65];
	for (int o = 0; o < ORDERS; o++) {
		char name[32];
		snprintf(name, sizeof(name), "digest-%d.db", o);
		l[o] = load(name, chains, orders[o], N);
		CHECK_EQ_INT(ledger_record_count(l[o]), N);
		CHECK_EQ_INT(ledger_origin_count(l[o]), 3);
		digest_hex(l[o], hex[o]);
	}
	for (int o = 1; o < ORDERS; o++) {
		CHECK_STR(hex[o], hex[0]);
		CHECK(same_frontier(l[o], l[0]));
	}

	/* the documented formula, computed here from the chains themselves:
	 * SHA-256 over region(6) || seq(8, big-endian) || head(32) by region */
	uint8_t buf[3 * 46], want[32];
	static const int by_region[3] = {1, 2, 0}; /* 320100 360100 430100 */
	for (int i = 0; i < 3; i++) {
		const okey *k = &keys[by_region[i]];
		uint8_t *p = buf + 46 * i;
		memcpy(p, k->region, 6);
		memset(p + 6, 0, 8);
		p[13] = PER_ORIGIN;
		memcpy(p + 14, record_id(chains[by_region[i]][PER_ORIGIN - 1]),
		       32);
	}
	crypto_hash_sha256(want, buf, sizeof(buf));
	char want_hex[65];
	CHECK_STR(hex[0], util_hex(want, 32, want_hex));

	/* one more record moves the digest */
	ht_err e;
	CHECK_EQ_INT(append(l[0], chains[2][PER_ORIGIN], "peer", &e),
		     LEDGER_APPENDED);
	char moved[65];
	digest_hex(l[0], moved);
	CHECK(strcmp(moved, hex[0]) != 0);
	CHECK_EQ_INT(ledger_origin_find(l[0], "360100")->seq, PER_ORIGIN + 1);

	/* the empty ledger hashes the empty string */
	ledger *empty = open_new("empty.db", NULL);
	digest_hex(empty, hex[0]);
	CHECK_STR(hex[0], "e3b0c44298fc1c149afbf4c8996fb924"
			  "27ae41e4649b934ca495991b7852b855");
	ledger_close(&empty);

	/* persistence: close and reopen gives the same state */
	char before[65];
	digest_hex(l[1], before);
	ledger_close(&l[1]);
	l[1] = open_new("digest-1.db", NULL);
	digest_hex(l[1], hex[1]);
	CHECK_STR(hex[1], before);
	CHECK_EQ_INT(ledger_record_count(l[1]), N);
	CHECK(same_frontier(l[1], l[2]));
	record *got = NULL;
	CHECK_EQ_INT(ledger_get_seq(l[1], "430100", 7, &got, NULL, &e), 0);
	CHECK(got != NULL && same_id(record_id(got), record_id(chains[0][6])));
	record_free(&got);
	/* ... and appending goes on where it left off */
	CHECK_EQ_INT(append(l[1], chains[2][PER_ORIGIN], "peer", &e),
		     LEDGER_APPENDED);
	digest_hex(l[1], hex[1]);
	CHECK_STR(hex[1], moved);
	CHECK_EQ_INT(ledger_verify(l[1], NULL, NULL, &e), 0);

	for (int o = 0; o < ORDERS; o++)
		ledger_close(&l[o]);
	for (int k = 0; k < 3; k++)
		free_chain(chains[k], PER_ORIGIN + 1);
}

/* ---- transactions ---- */

static void test_transactions(void)
{
	record *c[25], *cs[3];
	make_chain(&keys[1], c, 25);
	make_chain(&keys[0], cs, 3);
	ledger *l = open_new("tx.db", NULL);
	ht_err e;
	char d0[65], d1[65];

	CHECK_EQ_INT(append(l, c[0], "local", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(append(l, c[1], "local", NULL), LEDGER_APPENDED);
	digest_hex(l, d0);

	CHECK_EQ_INT(ledger_commit(l, &e), HT_ESTATE);
	CHECK_EQ_INT(ledger_begin(l, &e), 0);
	CHECK_EQ_INT(ledger_begin(l, &e), HT_ESTATE);
	for (int i = 2; i < 12; i++)
		CHECK_EQ_INT(append(l, c[i], "local", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(append(l, cs[0], "peer", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(ledger_record_count(l), 13);
	ledger_rollback(l);
	CHECK_EQ_INT(ledger_record_count(l), 2);
	CHECK_EQ_INT(ledger_origin_count(l), 1);
	CHECK(ledger_origin_find(l, "430100") == NULL);
	CHECK_EQ_INT(ledger_origin_find(l, "320100")->seq, 2);
	CHECK(same_id(ledger_origin_find(l, "320100")->head, record_id(c[1])));
	digest_hex(l, d1);
	CHECK_STR(d1, d0);
	record *got = NULL;
	CHECK_EQ_INT(ledger_get(l, record_id(c[5]), &got, NULL, &e),
		     HT_ENOTFOUND);

	/* the same appends again, committed; a refused one in the middle
	 * (ahead of a gap) does not spoil the batch */
	CHECK_EQ_INT(ledger_begin(l, &e), 0);
	for (int i = 2; i < 12; i++) {
		CHECK_EQ_INT(append(l, c[i], "local", NULL), LEDGER_APPENDED);
		if (i == 6)
			CHECK_EQ_INT(append(l, c[20], "peer", NULL), HT_EGAP);
	}
	CHECK_EQ_INT(ledger_commit(l, &e), 0);
	CHECK_EQ_INT(ledger_record_count(l), 12);
	CHECK_EQ_INT(ledger_origin_find(l, "320100")->seq, 12);
	CHECK_EQ_INT(ledger_get(l, record_id(c[5]), &got, NULL, &e), 0);
	record_free(&got);
	CHECK_EQ_INT(ledger_verify(l, NULL, NULL, &e), 0);

	/* an open transaction is rolled back by close */
	CHECK_EQ_INT(ledger_begin(l, &e), 0);
	CHECK_EQ_INT(append(l, c[12], "local", NULL), LEDGER_APPENDED);
	ledger_close(&l);
	l = open_new("tx.db", NULL);
	CHECK_EQ_INT(ledger_record_count(l), 12);
	CHECK_EQ_INT(ledger_origin_find(l, "320100")->seq, 12);
	/* and a rollback after a reopen keeps the arrival log whole */
	CHECK_EQ_INT(ledger_begin(l, &e), 0);
	CHECK_EQ_INT(append(l, c[12], "local", NULL), LEDGER_APPENDED);
	ledger_rollback(l);
	CHECK_EQ_INT(append(l, c[12], "local", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(ledger_verify(l, NULL, NULL, &e), 0);
	ledger_close(&l);
	free_chain(c, 25);
	free_chain(cs, 3);
}

/* ---- queries ---- */

typedef struct seen {
	int n;
	int64_t last_n;
	bool ordered;
	int stop_at;
	uint64_t seqs[64];
	char origins[64][7];
} seen;

static int seen_cb(void *ctx, const record *r, const ledger_meta *m)
{
	seen *s = ctx;
	if (m->n <= s->last_n)
		s->ordered = false;
	s->last_n = m->n;
	if (s->n < 64) {
		s->seqs[s->n] = record_header(r)->seq;
		snprintf(s->origins[s->n], 7, "%s",
			 record_header(r)->origin_region);
	}
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

static int query(ledger *l, const ledger_filter *f, seen *s)
{
	memset(s, 0, sizeof(*s));
	s->ordered = true;
	ht_err e;
	int rc = ledger_each(l, f, seen_cb, s, &e);
	CHECK_EQ_INT(rc, 0);
	CHECK(s->ordered);
	return s->n;
}

static void test_each(void)
{
	record *a[10], *b[10];
	make_chain(&keys[1], a, 10); /* 320100 */
	make_chain(&keys[2], b, 10); /* 360100 */
	ledger *l = open_new("each.db", NULL);
	for (int i = 0; i < 10; i++) {
		CHECK_EQ_INT(append(l, b[i], "peer", NULL), LEDGER_APPENDED);
		CHECK_EQ_INT(append(l, a[i], "local", NULL), LEDGER_APPENDED);
	}
	seen s;
	ledger_filter f = {0};
	CHECK_EQ_INT(query(l, NULL, &s), 20);
	CHECK_STR(s.origins[0], "360100"); /* arrival order, not region */
	CHECK_STR(s.origins[1], "320100");
	CHECK_EQ_INT(query(l, &f, &s), 20);

	/* seq 1 genesis; seq 2,5,8 intel; 3,6,9 repatriation; 4,7,10 org */
	f.kind = HUTONG__KIND__KIND_INTELLIGENCE;
	CHECK_EQ_INT(query(l, &f, &s), 6);
	CHECK_EQ_INT(s.seqs[0], 2);
	CHECK_EQ_INT(s.seqs[5], 8);
	f.kind = HUTONG__KIND__KIND_GENESIS;
	CHECK_EQ_INT(query(l, &f, &s), 2);
	f.origin = "320100";
	CHECK_EQ_INT(query(l, &f, &s), 1);
	CHECK_STR(s.origins[0], "320100");
	f.kind = 0;
	CHECK_EQ_INT(query(l, &f, &s), 10);
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(s.seqs[i], i + 1);
	f.origin = "610100";
	CHECK_EQ_INT(query(l, &f, &s), 0);

	memset(&f, 0, sizeof(f));
	f.author = "officer-1"; /* seq 4, 7, 10 */
	CHECK_EQ_INT(query(l, &f, &s), 6);
	f.author = "hutongd";
	CHECK_EQ_INT(query(l, &f, &s), 2);
	f.author = "nobody";
	CHECK_EQ_INT(query(l, &f, &s), 0);

	/* created_ms: T0 + seq minutes (+1 s for 320100, +2 s for 360100) */
	memset(&f, 0, sizeof(f));
	f.since_ms = created(&keys[1], 5); /* 320100 seq >= 5, 360100 >= 5 */
	CHECK_EQ_INT(query(l, &f, &s), 12);
	f.until_ms = created(&keys[1], 7); /* < 320100 seq 7: seq 5, 6 */
	CHECK_EQ_INT(query(l, &f, &s), 4);
	f.since_ms = 0;
	CHECK_EQ_INT(query(l, &f, &s), 12);    /* seq 1-6 of each */
	f.until_ms = created(&keys[2], 1) + 1; /* both genesis records */
	CHECK_EQ_INT(query(l, &f, &s), 2);
	f.since_ms = created(&keys[2], 1); /* since is inclusive */
	CHECK_EQ_INT(query(l, &f, &s), 1);
	CHECK_STR(s.origins[0], "360100");

	memset(&f, 0, sizeof(f));
	f.limit = 3;
	CHECK_EQ_INT(query(l, &f, &s), 3);
	f.origin = "320100";
	f.kind = HUTONG__KIND__KIND_REPATRIATION;
	f.limit = 2;
	CHECK_EQ_INT(query(l, &f, &s), 2);
	CHECK_EQ_INT(s.seqs[0], 3);
	CHECK_EQ_INT(s.seqs[1], 6);

	/* a callback that stops: its value comes back */
	memset(&s, 0, sizeof(s));
	s.ordered = true;
	s.stop_at = 4;
	ht_err e;
	CHECK_EQ_INT(ledger_each(l, NULL, seen_cb, &s, &e), 42);
	CHECK_EQ_INT(s.n, 4);

	ledger_close(&l);
	free_chain(a, 10);
	free_chain(b, 10);
}

/* ---- the offline verifier ---- */

typedef struct problems {
	int n;
	char ids[16][65];
	char reasons[16][512];
	char regions[16][8];
} problems;

static void problem_cb(void *ctx, const uint8_t *id, const char *region,
		       uint64_t seq, const char *reason)
{
	problems *p = ctx;
	if (p->n < 16) {
		if (id != NULL)
			util_hex(id, 32, p->ids[p->n]);
		else
			p->ids[p->n][0] = '\0';
		snprintf(p->reasons[p->n], sizeof(p->reasons[0]), "%s", reason);
		snprintf(p->regions[p->n], sizeof(p->regions[0]), "%s",
			 region ? region : "");
	}
	p->n++;
}

/* Is there a problem naming id (hex; NULL: any) with reason containing
 * `reason`? */
static bool reported(const problems *p, const uint8_t *id, const char *reason)
{
	char hex[65];
	if (id != NULL)
		util_hex(id, 32, hex);
	for (int i = 0; i < p->n && i < 16; i++)
		if ((id == NULL || strcmp(p->ids[i], hex) == 0) &&
		    strstr(p->reasons[i], reason) != NULL)
			return true;
	fprintf(stderr, "  no problem \"%s\" for %s among %d:\n", reason,
		id ? hex : "any record", p->n);
	for (int i = 0; i < p->n && i < 16; i++)
		fprintf(stderr, "    %s %s: %s\n", p->regions[i], p->ids[i],
			p->reasons[i]);
	return false;
}

static void copy_file(const char *from, const char *to)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	ht_err e;
	CHECK_EQ_INT(util_read_file(from, 64 << 20, &buf, &len, &e), 0);
	unlink(to);
	CHECK_EQ_INT(util_write_file(to, buf, len, 0600, true, &e), 0);
	free(buf);
}

/* A fresh copy of the clean ledger, damaged by sql (with ?1 bound to blob
 * when given), then verified. */
static int damage_and_verify(const char *name, const char *sql,
			     const uint8_t *blob, size_t blob_len, problems *p)
{
	char clean[PATH_MAX], path[PATH_MAX];
	path_of(clean, "clean.db");
	path_of(path, name);
	copy_file(clean, path);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	if (blob != NULL)
		sqlite3_bind_blob(st, 1, blob, (int)blob_len, SQLITE_TRANSIENT);
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	CHECK(sqlite3_changes(db) == 1);
	sqlite3_finalize(st);
	sqlite3_close(db);

	memset(p, 0, sizeof(*p));
	ht_err e;
	ledger *l = ledger_open(path, LEDGER_RDONLY, NULL, &e);
	CHECK(l != NULL);
	if (l == NULL)
		return -1;
	int rc = ledger_verify(l, problem_cb, p, &e);
	CHECK(rc >= 0);
	CHECK_EQ_INT(rc, p->n);
	ledger_close(&l);
	return rc;
}

/* Where r's signature sits in its envelope bytes. */
static size_t sig_offset(const record *r)
{
	size_t len;
	const uint8_t *env = record_bytes(r, &len);
	for (size_t i = 0; i + RECORD_SIG_BYTES <= len; i++)
		if (memcmp(env + i, record_signature(r), RECORD_SIG_BYTES) == 0)
			return i;
	abort();
}

static void test_verify(void)
{
	record *a[8], *b[8];
	make_chain(&keys[1], a, 8); /* 320100 */
	make_chain(&keys[2], b, 8); /* 360100 */
	ledger *l = open_new("clean.db", NULL);
	ht_err e;
	for (int i = 0; i < 8; i++) {
		CHECK_EQ_INT(append(l, a[i], "local", NULL), LEDGER_APPENDED);
		CHECK_EQ_INT(append(l, b[i], "peer-x", NULL), LEDGER_APPENDED);
	}
	record *fork = make(&keys[2], 4, record_id(b[2]), 1);
	CHECK_EQ_INT(append(l, fork, "peer-y", NULL), LEDGER_FORK);
	problems p = {0};
	CHECK_EQ_INT(ledger_verify(l, problem_cb, &p, &e), 0);
	CHECK_EQ_INT(p.n, 0);
	ledger_close(&l);
	char wal[PATH_MAX];
	path_of(wal, "clean.db-wal");
	CHECK(access(wal, F_OK) != 0); /* all in the main file */

	/* (a) one byte of a stored envelope: in the body, then the signature */
	const record *victim = a[3]; /* seq 4 of 320100, arrival n = 7 */
	size_t len;
	const uint8_t *env = record_bytes(victim, &len);
	uint8_t *bad = malloc(len);
	memcpy(bad, env, len);
	bad[len - 5] ^= 0x01; /* inside the body */
	CHECK(damage_and_verify("env-body.db",
				"UPDATE record SET envelope = ?1 WHERE n = 7",
				bad, len, &p) >= 1);
	CHECK(reported(&p, record_id(victim), "stored envelope is invalid"));
	memcpy(bad, env, len);
	size_t sig_at = sig_offset(victim);
	bad[sig_at + 7] ^= 0x80;
	CHECK(damage_and_verify("env-sig.db",
				"UPDATE record SET envelope = ?1 WHERE n = 7",
				bad, len, &p) >= 1);
	CHECK(reported(&p, record_id(victim), "signature does not verify"));
	free(bad);
	/* ... and reads of that record say it is corrupt */
	char path[PATH_MAX];
	path_of(path, "env-body.db");
	l = ledger_open(path, LEDGER_RDONLY, NULL, &e);
	record *got = NULL;
	CHECK(l != NULL);
	if (l != NULL)
		CHECK_EQ_INT(ledger_get(l, record_id(victim), &got, NULL, &e),
			     HT_ECORRUPT);
	CHECK(got == NULL);
	ledger_close(&l);

	/* (b) a record deleted from the middle of a chain */
	CHECK(damage_and_verify("deleted.db",
				"DELETE FROM record WHERE origin = '360100'"
				" AND seq = 3",
				NULL, 0, &p) >= 1);
	CHECK(reported(&p, record_id(b[3]), "chain gap: seq 4 follows seq 2"));
	/* the arrival log breaks at the row after it (320100 seq 4, n = 7) */
	CHECK(
	    reported(&p, record_id(a[3]), "arrival log gap: n=7 follows n=5"));

	/* (c) a record's arrival time rewritten */
	CHECK(
	    damage_and_verify("stored-ms.db",
			      "UPDATE record SET stored_ms = stored_ms - 60000"
			      " WHERE n = 9",
			      NULL, 0, &p) == 1);
	CHECK(reported(&p, record_id(a[4]), "arrival record altered"));
	CHECK(
	    damage_and_verify("source.db",
			      "UPDATE record SET source = 'peer-z' WHERE n = 2",
			      NULL, 0, &p) == 1);
	CHECK(reported(&p, record_id(b[0]), "arrival record altered"));

	/* (d) the origin table's head */
	CHECK(damage_and_verify("head.db",
				"UPDATE origin SET head = zeroblob(32)"
				" WHERE region = '320100'",
				NULL, 0, &p) >= 1);
	CHECK(reported(&p, NULL, "frontier says seq 8"));
	CHECK_STR(p.regions[0], "320100");
	CHECK(damage_and_verify("seq.db",
				"UPDATE origin SET seq = 7 WHERE region = "
				"'360100'",
				NULL, 0, &p) >= 1);
	CHECK(reported(&p, NULL,
		       "frontier says seq 7 but the chain ends at"
		       " seq 8"));
	CHECK(damage_and_verify("key.db",
				"UPDATE origin SET key = zeroblob(32)"
				" WHERE region = '360100'",
				NULL, 0, &p) >= 1);
	CHECK(reported(&p, NULL, "origin key differs"));

	/* an indexed column that disagrees with the signed header */
	CHECK(damage_and_verify("author.db",
				"UPDATE record SET author = 'officer-9'"
				" WHERE n = 5",
				NULL, 0, &p) == 1);
	CHECK(reported(&p, record_id(a[2]), "stored columns differ"));

	/* fork evidence that no longer verifies */
	size_t flen;
	const uint8_t *fenv = record_bytes(fork, &flen);
	bad = malloc(flen);
	memcpy(bad, fenv, flen);
	sig_at = sig_offset(fork);
	bad[sig_at] ^= 0x01;
	CHECK(damage_and_verify("fork.db", "UPDATE fork SET envelope = ?1", bad,
				flen, &p) == 1);
	CHECK(reported(&p, record_id(fork), "fork evidence does not verify"));
	free(bad);

	/* the clean copy itself is still clean */
	path_of(path, "clean.db");
	l = ledger_open(path, LEDGER_RDONLY, NULL, &e);
	CHECK(l != NULL);
	if (l != NULL)
		CHECK_EQ_INT(ledger_verify(l, NULL, NULL, &e), 0);
	ledger_close(&l);

	record_free(&fork);
	free_chain(a, 8);
	free_chain(b, 8);
}

/* ---- key rotation and raw ranges ---- */

/* seq of origin k, a rotation to new_pk, signed with k's key. */
static record *make_rotation(const okey *k, uint64_t seq, const uint8_t *prev,
			     const uint8_t *new_pk)
{
	static uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	ProtobufCBinaryData certs[1] = {{sizeof(cert), cert}};
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Rotation rot = HUTONG__ROTATION__INIT;
	rot.public_key = (ProtobufCBinaryData){32, (uint8_t *)new_pk};
	rot.n_certificates = 1;
	rot.certificates = certs;
	body.content_case = HUTONG__BODY__CONTENT_ROTATION;
	body.rotation = &rot;
	sub.author = "hutongd";
	sub.body = &body;
	record_origin o = {k->region, k->node, seq, prev, created(k, seq)};
	record *r = NULL;
	ht_err e;
	if (record_build(&sub, &o, sign_with, (void *)k->sk, &r, &e) != 0) {
		fprintf(stderr, "cannot build rotation: %s: %s\n", e.field,
			e.msg);
		abort();
	}
	return r;
}

typedef struct range_seen {
	int n, stop_at;
	uint64_t seqs[16];
	size_t bytes;
} range_seen;

static int range_cb(void *ctx, const uint8_t *env, size_t len, uint64_t seq)
{
	range_seen *s = ctx;
	record *r = record_parse(env, len, NULL);
	CHECK(r != NULL && record_header(r)->seq == seq);
	record_free(&r);
	if (s->n < 16)
		s->seqs[s->n] = seq;
	s->n++;
	s->bytes += len;
	return s->stop_at && s->n == s->stop_at;
}

static void test_rotation(void)
{
	okey a = keys[1], b = keys[1]; /* 320100 with its key, then a new one */
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, 0x77, sizeof(seed));
	crypto_sign_seed_keypair(b.pk, b.sk, seed);
	record *c[6];
	c[0] = make(&a, 1, NULL, 0);
	c[1] = make(&a, 2, record_id(c[0]), 0);
	c[2] = make_rotation(&a, 3, record_id(c[1]), b.pk);
	c[3] = make(&b, 4, record_id(c[2]), 0);
	c[4] = make(&b, 5, record_id(c[3]), 0);
	c[5] = make(&a, 6, record_id(c[4]), 0); /* the old key, too late */
	CHECK(record_verify(c[2], a.pk) && record_verify(c[3], b.pk));

	ledger *l = open_new("rotation.db", NULL);
	ht_err e;
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(append(l, c[i], "local", NULL), LEDGER_APPENDED);
	const ledger_origin *o = ledger_origin_find(l, "320100");
	CHECK(memcmp(o->key, b.pk, 32) == 0);
	CHECK(same_id(o->key_id, record_id(c[2])));
	CHECK_EQ_INT(append(l, c[3], "local", NULL), LEDGER_APPENDED);
	CHECK_EQ_INT(append(l, c[4], "local", NULL), LEDGER_APPENDED);
	/* evidence of a fork from before the rotation, signed by the old key */
	record *fork = make(&a, 2, record_id(c[0]), 1);
	CHECK_EQ_INT(append(l, fork, "peer-f", NULL), LEDGER_FORK);
	/* and a second genesis, under a key of its own */
	okey g2 = a;
	memset(seed, 0x78, sizeof(seed));
	crypto_sign_seed_keypair(g2.pk, g2.sk, seed);
	record *fork1 = make(&g2, 1, NULL, 0);
	CHECK_EQ_INT(append(l, fork1, "peer-f", NULL), LEDGER_FORK);
	problems p = {0};
	CHECK_EQ_INT(ledger_verify(l, problem_cb, &p, &e), 0);
	ledger_close(&l);
	/* fork evidence from before the rotation under the new key is not
	 * evidence of anything: verify names it */
	record *wrong_key = make(&b, 2, record_id(c[0]), 3);
	l = open_new("rotation.db", NULL);
	CHECK_EQ_INT(append(l, wrong_key, "peer-f", NULL), LEDGER_FORK);
	memset(&p, 0, sizeof(p));
	CHECK_EQ_INT(ledger_verify(l, problem_cb, &p, &e), 1);
	CHECK(reported(&p, record_id(wrong_key), "fork evidence does not"));
	ledger_close(&l);
	record_free(&wrong_key);
	record_free(&fork1);
	{ /* take it out again for what follows */
		char path[PATH_MAX];
		sqlite3 *db = NULL;
		path_of(path, "rotation.db");
		CHECK(sqlite3_open(path, &db) == SQLITE_OK);
		CHECK(sqlite3_exec(db, "DELETE FROM fork WHERE n = 3", NULL,
				   NULL, NULL) == SQLITE_OK);
		CHECK_EQ_INT(sqlite3_changes(db), 1);
		sqlite3_close(db);
	}

	l = open_new("rotation.db", NULL); /* the key survives a reopen */
	o = ledger_origin_find(l, "320100");
	CHECK(memcmp(o->key, b.pk, 32) == 0);
	CHECK(same_id(o->key_id, record_id(c[2])));
	memset(&p, 0, sizeof(p));
	CHECK_EQ_INT(ledger_verify(l, problem_cb, &p, &e), 0);
	/* a record after the rotation signed with the old key: appended
	 * (signatures are the caller's), but verify names it */
	CHECK_EQ_INT(append(l, c[5], "peer-g", NULL), LEDGER_APPENDED);
	memset(&p, 0, sizeof(p));
	CHECK_EQ_INT(ledger_verify(l, problem_cb, &p, &e), 1);
	CHECK(reported(&p, record_id(c[5]), "signature does not verify"));

	/* raw ranges for senders: seq order, count and byte limits */
	range_seen rs = {0};
	CHECK_EQ_INT(
	    ledger_range(l, "320100", 2, 3, 1 << 20, range_cb, &rs, &e), 3);
	CHECK(rs.n == 3 && rs.seqs[0] == 2 && rs.seqs[1] == 3 &&
	      rs.seqs[2] == 4);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ_INT(
	    ledger_range(l, "320100", 1, 100, 1 << 20, range_cb, &rs, &e), 6);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ_INT(
	    ledger_range(l, "320100", 5, 100, 1 << 20, range_cb, &rs, &e), 2);
	memset(&rs, 0, sizeof(rs)); /* the first always goes, however big */
	CHECK_EQ_INT(ledger_range(l, "320100", 1, 100, 1, range_cb, &rs, &e),
		     1);
	size_t two = 0, len;
	record_bytes(c[0], &len), two += len;
	record_bytes(c[1], &len), two += len;
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ_INT(ledger_range(l, "320100", 1, 100, two, range_cb, &rs, &e),
		     2);
	CHECK_EQ_INT(rs.bytes, two);
	memset(&rs, 0, sizeof(rs));
	rs.stop_at = 2; /* fn stops it: the records it saw are counted */
	CHECK_EQ_INT(
	    ledger_range(l, "320100", 1, 100, 1 << 20, range_cb, &rs, &e), 2);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ_INT(
	    ledger_range(l, "320100", 7, 100, 1 << 20, range_cb, &rs, &e), 0);
	CHECK_EQ_INT(
	    ledger_range(l, "610100", 1, 100, 1 << 20, range_cb, &rs, &e), 0);
	CHECK_EQ_INT(rs.n, 0);
	ledger_close(&l);
	record_free(&fork);
	free_chain(c, 6);
}

/* Remove the temporary directory and everything in it. */
/* Ids by prefix: unique, ambiguous (two ids made to share 63 digits),
 * none, and prefixes that are not ids at all. */
static void test_find_prefix(void)
{
	record *c[5];
	uint8_t ids[4][RECORD_ID_BYTES], twin[RECORD_ID_BYTES];
	char hex[2 * RECORD_ID_BYTES + 1], path[PATH_MAX], upper[20];
	size_t n = 99;
	ht_err e;
	ledger *l = open_new("prefix.db", NULL);
	make_chain(&keys[0], c, 5);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(append(l, c[i], "local", NULL), LEDGER_APPENDED);
	util_hex(record_id(c[1]), RECORD_ID_BYTES, hex);
	hex[16] = '\0';
	CHECK_EQ_INT(ledger_find_prefix(l, hex, ids, 4, &n, &e), 0);
	CHECK_EQ_INT(n, 1);
	CHECK(same_id(ids[0], record_id(c[1])));
	for (int i = 0; i < 8; i++)
		upper[i] = (char)toupper((unsigned char)hex[i]);
	upper[8] = '\0';
	CHECK_EQ_INT(ledger_find_prefix(l, upper, ids, 4, &n, &e), 0);
	CHECK_EQ_INT(n, 1);
	hex[7] = '\0';
	CHECK_EQ_INT(ledger_find_prefix(l, hex, ids, 4, &n, &e), HT_EINVAL);
	CHECK_EQ_INT(ledger_find_prefix(l, "0123456g", ids, 4, &n, &e),
		     HT_EINVAL);
	ledger_close(&l);

	/* seq 3 takes an id that differs from seq 2's in the last digit */
	memcpy(twin, record_id(c[1]), RECORD_ID_BYTES);
	twin[RECORD_ID_BYTES - 1] ^= 1;
	path_of(path, "prefix.db");
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "UPDATE record SET id = ?1 WHERE seq = 3",
				 -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_blob(st, 1, twin, RECORD_ID_BYTES, SQLITE_STATIC);
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	l = ledger_open(path, LEDGER_RDONLY, NULL, &e);
	CHECK(l != NULL);
	util_hex(record_id(c[1]), RECORD_ID_BYTES, hex);
	hex[63] = '\0';
	CHECK_EQ_INT(ledger_find_prefix(l, hex, ids, 4, &n, &e), 0);
	CHECK_EQ_INT(n, 2);
	hex[8] = '\0';
	CHECK_EQ_INT(ledger_find_prefix(l, hex, ids, 1, &n, &e), 0);
	CHECK_EQ_INT(n, 1);
	util_hex(record_id(c[1]), RECORD_ID_BYTES, hex);
	CHECK_EQ_INT(ledger_find_prefix(l, hex, ids, 4, &n, &e), 0);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(ledger_find_prefix(l, "00000000", ids, 4, &n, &e), 0);
	CHECK(n == 0 || !same_id(ids[0], record_id(c[0])));
	ledger_close(&l);
	free_chain(c, 5);
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	CHECK(sodium_init() >= 0);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	make_keys();
	test_open_errors();
	test_modes_and_check();
	test_chain_rules();
	test_digest();
	test_transactions();
	test_each();
	test_verify();
	test_rotation();
	test_find_prefix();
	cleanup();
	return check_done("test_ledger");
}
