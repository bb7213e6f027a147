/*
 * bench_audit: audit queries and verify on a large federation's ledger.
 *
 *   bench_audit [N] [--origins K] [--dir D] [--keep]
 *       N = 1000000 records, K = 30 origins, D = $TMPDIR or /tmp
 *
 * Builds one ledger as a node of a K-origin federation would hold it: each
 * origin's genesis, then N intel records round-robin over the origins
 * (signed with K keys, appended 1000 to a transaction, 20 authors per
 * origin), and, every 10000 records, a receipt from each of the K nodes
 * stating the frontier at that moment (signed records in their own
 * chains, so they are indexed as the daemon indexes them). It prints the
 * build time, then reopens the ledger read-only as the CLI does and times:
 *   audit record   audit_record() on 1000 random ids: median and p99
 *   audit origin   audit_origin() over each origin's whole history, and
 *                  over one hour: median
 *   verify         ledger_verify(): records/s, next to the raw Ed25519
 *                  verify rate (crypto_sign_verify_detached over the same
 *                  header sizes, one thread) measured in this run, and
 *                  their ratio
 * Targets: audit record under 10 ms; verify >= 0.8 x raw. The directory is
 * removed at the end unless --keep.
 */
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "ledger.h"
#include "record.h"
#include "util.h"

#define BATCH 1000
#define RECEIPT_EVERY 10000
#define AUTHORS 20
#define MAX_ORIGINS 1000
#define T0 1795939200000 /* 2026-11-29T08:00:00Z */
#define SAMPLES 1000

typedef struct origin_key {
	char region[HT_REGION_LEN + 1];
	char name[32];
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	uint64_t seq;
	uint8_t head[RECORD_ID_BYTES];
} origin_key;

typedef struct bench {
	ledger *l;
	origin_key *keys;
	int k;
	long n;
	uint8_t (*ids)[RECORD_ID_BYTES]; /* every intel record, for sampling */
	long n_ids;
	int64_t clock_ms;
	long receipts;
	size_t hdr_bytes;
} bench;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sign_with(void *ctx, const uint8_t *msg, size_t len,
		     uint8_t sig[RECORD_SIG_BYTES])
{
	return crypto_sign_detached(sig, NULL, msg, len, ctx) == 0 ? 0
								   : HT_ECRYPTO;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sign and append one record of origin o with body b. */
static int add(bench *b, origin_key *o, const char *author, Hutong__Body *body,
	       record **keep)
{
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	sub.author = (char *)author;
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = body;
	record_origin at = {o->region, o->name, o->seq + 1,
			    o->seq ? o->head : NULL, b->clock_ms};
	b->clock_ms += 1000; /* a record a second across the federation */
	record *r = NULL;
	ledger_outcome out;
	ht_err e = {0};
	int rc = record_build(&sub, &at, sign_with, o->sk, &r, &e);
	if (rc == 0)
		rc = ledger_append(b->l, r, "bench", &out, &e);
	if (rc != 0) {
		fprintf(stderr, "append %s/%llu: %s: %s\n", o->region,
			(unsigned long long)o->seq + 1, e.field, e.msg);
		record_free(&r);
		return rc;
	}
	o->seq++;
	memcpy(o->head, record_id(r), RECORD_ID_BYTES);
	if (keep)
		*keep = r;
	else
		record_free(&r);
	return 0;
}

static int add_genesis(bench *b, origin_key *o)
{
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Genesis g = HUTONG__GENESIS__INIT;
	g.public_key = (ProtobufCBinaryData){32, o->pk};
	body.content_case = HUTONG__BODY__CONTENT_GENESIS;
	body.genesis = &g;
	return add(b, o, "node", &body, NULL);
}

/* Node o states the frontier as the ledger has it now. */
static int add_receipt(bench *b, origin_key *o)
{
	size_t k = ledger_origin_count(b->l);
	Hutong__ReceiptEntry *e = calloc(k, sizeof(*e));
	Hutong__ReceiptEntry **p = calloc(k, sizeof(*p));
	Hutong__Receipt rc = HUTONG__RECEIPT__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	for (size_t i = 0; i < k; i++) {
		const ledger_origin *lo = ledger_origin_at(b->l, i);
		hutong__receipt_entry__init(&e[i]);
		e[i].origin = (char *)lo->region;
		e[i].seq = lo->seq;
		e[i].head = (ProtobufCBinaryData){32, (uint8_t *)lo->head};
		p[i] = &e[i];
	}
	rc.entries = p;
	rc.n_entries = k;
	body.content_case = HUTONG__BODY__CONTENT_RECEIPT;
	body.receipt = &rc;
	int ret = add(b, o, "node", &body, NULL);
	free(e);
	free(p);
	b->receipts++;
	return ret;
}

static int add_intel(bench *b, long i)
{
	char summary[256], author[32];
	origin_key *o = &b->keys[i % b->k];
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	in.summary = summary;
	snprintf(summary, sizeof(summary),
		 "Lead %08ld: weekly gathering of "
		 "recruits in a rented flat near the station; the organizer "
		 "collects entry fees and moves the group every month.",
		 i);
	snprintf(author, sizeof(author), "officer-%02ld", (i / b->k) % AUTHORS);
	record *r = NULL;
	int rc = add(b, o, author, &body, &r);
	if (rc == 0) {
		memcpy(b->ids[b->n_ids++], record_id(r), RECORD_ID_BYTES);
		if (b->hdr_bytes == 0)
			record_header_bytes(r, &b->hdr_bytes);
	}
	record_free(&r);
	return rc;
}

static int build(bench *b)
{
	ht_err e = {0};
	int rc = ledger_begin(b->l, &e);
	for (int i = 0; rc == 0 && i < b->k; i++)
		rc = add_genesis(b, &b->keys[i]);
	if (rc == 0)
		rc = ledger_commit(b->l, &e);
	for (long i = 0; rc == 0 && i < b->n; i++) {
		if (i % BATCH == 0 && (rc = ledger_begin(b->l, &e)) != 0)
			break;
		rc = add_intel(b, i);
		if (rc == 0 && i % RECEIPT_EVERY == RECEIPT_EVERY - 1)
			for (int k = 0; rc == 0 && k < b->k; k++)
				rc = add_receipt(b, &b->keys[k]);
		if (rc == 0 && (i % BATCH == BATCH - 1 || i == b->n - 1))
			rc = ledger_commit(b->l, &e);
	}
	if (rc != 0 && e.msg[0])
		fprintf(stderr, "build: %s\n", e.msg);
	return rc;
}

/* ---- measurements ---- */

static double raw_verify_rate(size_t msg_len, double min_s)
{
	uint8_t pk[32], sk[64], msg[RECORD_MAX_HEADER], sig[64];
	crypto_sign_keypair(pk, sk);
	randombytes_buf(msg, sizeof(msg));
	crypto_sign_detached(sig, NULL, msg, msg_len, sk);
	long done = 0;
	int bad = 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 256; i++)
			bad |=
			    crypto_sign_verify_detached(sig, msg, msg_len, pk);
		done += 256;
		t = now_s() - t0;
	} while (t < min_s);
	if (bad)
		fprintf(stderr, "raw verify failed\n");
	return (double)done / t;
}

static int count_cover(void *ctx, const char *node, int64_t ms)
{
	(void)node;
	(void)ms;
	(*(long *)ctx)++;
	return 0;
}

static void time_audit_record(bench *b)
{
	double t[SAMPLES];
	long covered = 0, nodes = 0;
	for (int i = 0; i < SAMPLES; i++) {
		long pick = (long)randombytes_uniform((uint32_t)b->n_ids);
		audit_record_info a;
		ht_err e = {0};
		double t0 = now_s();
		int rc = audit_record(b->l, b->ids[pick], &a, &e);
		t[i] = (now_s() - t0) * 1e3;
		if (rc != 0) {
			fprintf(stderr, "audit record: %s\n", e.msg);
			continue;
		}
		covered += (long)a.n_covered;
		nodes += (long)a.n_cover;
		audit_record_clear(&a);
	}
	qsort(t, SAMPLES, sizeof(t[0]), cmp_double);
	printf("audit record: %d random ids  median %.3f ms  p99 %.3f ms  "
	       "max %.3f ms  (held by %.1f of %.0f nodes on average)  "
	       "target < 10 ms: %s\n",
	       SAMPLES, t[SAMPLES / 2], t[SAMPLES * 99 / 100], t[SAMPLES - 1],
	       (double)covered / SAMPLES, (double)nodes / SAMPLES,
	       t[SAMPLES * 99 / 100] < 10 ? "met" : "MISSED");
	(void)count_cover;
}

static int sum_rows(void *ctx, int kind, const char *author, uint64_t count,
		    int64_t first_ms, int64_t last_ms)
{
	*(uint64_t *)ctx += count;
	return 0;
}

static void time_audit_origin(bench *b)
{
	double all[MAX_ORIGINS], hour[MAX_ORIGINS];
	uint64_t rows_all = 0, rows_hour = 0;
	int64_t mid = T0 + (b->clock_ms - T0) / 2; /* an hour mid-history */
	for (int i = 0; i < b->k; i++) {
		ht_err e = {0};
		double t0 = now_s();
		if (audit_origin(b->l, b->keys[i].region, INT64_MIN, INT64_MAX,
				 sum_rows, &rows_all, &e) != 0)
			fprintf(stderr, "audit origin: %s\n", e.msg);
		all[i] = (now_s() - t0) * 1e3;
		t0 = now_s();
		if (audit_origin(b->l, b->keys[i].region, mid, mid + 3600000,
				 sum_rows, &rows_hour, &e) != 0)
			fprintf(stderr, "audit origin: %s\n", e.msg);
		hour[i] = (now_s() - t0) * 1e3;
	}
	qsort(all, (size_t)b->k, sizeof(all[0]), cmp_double);
	qsort(hour, (size_t)b->k, sizeof(hour[0]), cmp_double);
	printf("audit origin: whole history (%.0f records each)  median %.2f ms"
	       "  max %.2f ms\n",
	       (double)rows_all / b->k, all[b->k / 2], all[b->k - 1]);
	printf("audit origin: one hour (%.0f records each)  median %.3f ms  "
	       "max %.3f ms\n",
	       (double)rows_hour / b->k, hour[b->k / 2], hour[b->k - 1]);
}

static void on_problem(void *ctx, const uint8_t *id, const char *region,
		       uint64_t seq, const char *reason)
{
	if ((*(int *)ctx)++ < 5)
		fprintf(stderr, "verify: %s/%llu: %s\n", region,
			(unsigned long long)seq, reason);
}

static void time_verify(bench *b)
{
	double raw = raw_verify_rate(b->hdr_bytes, 2.0);
	int shown = 0;
	ht_err e = {0};
	double t0 = now_s(), c0 = cpu_s();
	int problems = ledger_verify(b->l, on_problem, &shown, &e);
	double t = now_s() - t0, cpu = cpu_s() - c0;
	uint64_t count = ledger_record_count(b->l);
	double rate = (double)count / t;
	double raw2 = raw_verify_rate(b->hdr_bytes, 2.0); /* same conditions */
	double rawm = (raw + raw2) / 2;
	printf("verify: %llu records in %.2f s = %.0f records/s, %d problems%s"
	       " (CPU %.2f s: %.2f cores busy)\n",
	       (unsigned long long)count, t, rate, problems,
	       problems < 0 ? e.msg : "", cpu, cpu / t);
	printf("raw Ed25519 verify (%zu-byte headers, one thread): %.0f/s "
	       "(%.0f before, %.0f after)\n",
	       b->hdr_bytes, rawm, raw, raw2);
	printf("verify/raw ratio: %.2f  target >= 0.8: %s\n", rate / rawm,
	       rate / rawm >= 0.8 ? "met" : "MISSED");
}

/* ---- main ---- */

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

static int usage(void)
{
	fprintf(stderr, "usage: bench_audit [N] [--origins K] [--dir D] "
			"[--keep]\n");
	return 2;
}

int main(int argc, char **argv)
{
	bench b = {.n = 1000000, .k = 30, .clock_ms = T0};
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	bool keep = false;
	for (int i = 1; i < argc; i++) {
		uint64_t v;
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			base = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep = true;
		else if (strcmp(argv[i], "--origins") == 0 && i + 1 < argc &&
			 util_parse_u64(argv[i + 1], 1, MAX_ORIGINS, &v) == 0)
			b.k = (int)v, i++;
		else if (util_parse_u64(argv[i], 1000, 100000000, &v) == 0)
			b.n = (long)v;
		else
			return usage();
	}
	if (sodium_init() < 0)
		return 1;
	b.keys = calloc((size_t)b.k, sizeof(*b.keys));
	b.ids = malloc((size_t)b.n * sizeof(*b.ids));
	if (b.keys == NULL || b.ids == NULL)
		return 1;
	for (int i = 0; i < b.k; i++) {
		char code[16];
		snprintf(code, sizeof(code), "%06d", 110100 + 100 * i);
		memcpy(b.keys[i].region, code, HT_REGION_LEN);
		snprintf(b.keys[i].name, sizeof(b.keys[i].name), "node%02d", i);
		crypto_sign_keypair(b.keys[i].pk, b.keys[i].sk);
	}
	char dir[PATH_MAX], path[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s/hutong-bench-audit-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	ht_err e = {0};
	int rc = 1;
	double t0 = now_s();
	if ((b.l = ledger_open(path, LEDGER_RDWR, NULL, &e)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		goto out;
	}
	if (build(&b) != 0)
		goto out;
	uint64_t total = ledger_record_count(b.l);
	ledger_close(&b.l);
	printf("build: %ld records from %d origins + %ld receipts (%llu in the "
	       "ledger) in %.1f s (%.0f records/s)\n",
	       b.n, b.k, b.receipts, (unsigned long long)total, now_s() - t0,
	       (double)total / (now_s() - t0));
	if ((b.l = ledger_open(path, LEDGER_RDONLY, NULL, &e)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		goto out;
	}
	time_audit_record(&b);
	time_audit_origin(&b);
	time_verify(&b);
	rc = 0;
out:
	ledger_close(&b.l);
	if (keep)
		printf("ledger kept: %s\n", path);
	else
		remove_dir(dir);
	for (int i = 0; i < b.k; i++)
		sodium_memzero(b.keys[i].sk, sizeof(b.keys[i].sk));
	free(b.keys);
	free(b.ids);
	return rc;
}
