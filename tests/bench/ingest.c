/*
 * bench_ingest: how close local ingest comes to the cost of signing alone.
 *
 *   bench_ingest [N] [--dir D]     (N = 100000, D = $TMPDIR or /tmp)
 *
 * First the raw rate of libsodium's crypto_sign_detached over 600-byte
 * messages (N of them, or 2 s, whichever is longer). Then N intel records
 * (~600-byte envelopes, a ~450-byte summary) built, signed and appended to a
 * fresh ledger in a temporary directory, 1000 to a transaction, as the daemon
 * does for a burst of submissions. Prints the two rates, their ratio (the
 * target is >= 0.5) and where the ingest time went. The directory is
 * removed at the end.
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

#define BATCH 1000
#define MSG_BYTES 600

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

/* Signatures per second over MSG_BYTES messages: n of them, or 2 s. */
static double raw_sign_rate(const uint8_t *sk, long n)
{
	uint8_t msg[MSG_BYTES], sig[crypto_sign_BYTES];
	randombytes_buf(msg, sizeof(msg));
	long done = 0;
	double t0 = now_s(), t;
	do {
		memcpy(msg, &done, sizeof(done)); /* a new message each time */
		crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
		done++;
		t = now_s() - t0;
	} while (done < n || t < 2.0);
	return (double)done / t;
}

typedef struct timing {
	double build, append, commit;
	size_t env_bytes, hdr_bytes;
} timing;

static int build_genesis(const uint8_t *pk, const uint8_t *sk, record **out)
{
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Genesis gen = HUTONG__GENESIS__INIT;
	gen.public_key = (ProtobufCBinaryData){32, (uint8_t *)pk};
	body.content_case = HUTONG__BODY__CONTENT_GENESIS;
	body.genesis = &gen;
	sub.author = "hutongd";
	sub.body = &body;
	record_origin o = {"320100", "nanjing", 1, NULL, 1795939200000};
	ht_err e;
	int rc = record_build(&sub, &o, sign_with, (void *)sk, out, &e);
	if (rc != 0)
		fprintf(stderr, "genesis: %s: %s\n", e.field, e.msg);
	return rc;
}

/* Build, sign and append records 2..n+1 after the genesis g. */
static int ingest(ledger *l, const record *g, const uint8_t *sk, long n,
		  timing *t)
{
	char summary[512];
	uint8_t prev[RECORD_ID_BYTES];
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	sub.author = "officer-017";
	sub.scope = HUTONG__SCOPE__SCOPE_PROVINCE;
	sub.body = &body;
	in.organization = "鑫源互助会";
	in.summary = summary;
	memcpy(prev, record_id(g), sizeof(prev));
	ht_err e;
	int len = snprintf(summary, sizeof(summary),
			   "Lead 00000000: weekly "
			   "gathering of recruits in a rented flat near the "
			   "station; ");
	while (len < 450)
		len += snprintf(summary + len, sizeof(summary) - len,
				"organizer collects entry fees. ");
	summary[450] = '\0';
	for (long i = 0; i < n; i++) {
		if (i % BATCH == 0 && ledger_begin(l, &e) != 0)
			goto fail;
		char num[16];
		snprintf(num, sizeof(num), "%08ld", i % 100000000);
		memcpy(summary + 5, num, 8); /* a different record each time */
		record_origin o = {"320100", "nanjing", (uint64_t)i + 2, prev,
				   1795939200000 + i};
		record *r = NULL;
		ledger_outcome out;
		double t0 = now_s();
		if (record_build(&sub, &o, sign_with, (void *)sk, &r, &e) != 0)
			goto fail;
		double t1 = now_s();
		int rc = ledger_append(l, r, "local", &out, &e);
		t->append += now_s() - t1;
		t->build += t1 - t0;
		if (i == 0) {
			record_bytes(r, &t->env_bytes);
			record_header_bytes(r, &t->hdr_bytes);
		}
		memcpy(prev, record_id(r), sizeof(prev));
		record_free(&r);
		if (rc != 0 || out != LEDGER_APPENDED)
			goto fail;
		if (i % BATCH == BATCH - 1 || i == n - 1) {
			t0 = now_s();
			if (ledger_commit(l, &e) != 0)
				goto fail;
			t->commit += now_s() - t0;
		}
	}
	return 0;
fail:
	fprintf(stderr, "ingest: %s: %s\n", e.field, e.msg);
	return 1;
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
	long n = 100000;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	for (int i = 1; i < argc; i++) {
		uint64_t v;
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			base = argv[++i];
		else if (util_parse_u64(argv[i], 1, 100000000, &v) == 0)
			n = (long)v;
		else {
			fprintf(stderr, "usage: bench_ingest [N] [--dir D]\n");
			return 2;
		}
	}
	if (sodium_init() < 0)
		return 1;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	crypto_sign_keypair(pk, sk);

	double raw = raw_sign_rate(sk, n);

	char dir[PATH_MAX], path[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s/hutong-bench-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	ht_err e;
	ledger *l = ledger_open(path, LEDGER_RDWR, NULL, &e);
	record *g = NULL;
	ledger_outcome out;
	timing t = {0};
	int rc = 1;
	if (l == NULL) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		goto out;
	}
	if (build_genesis(pk, sk, &g) != 0 ||
	    ledger_append(l, g, "local", &out, &e) != 0)
		goto out;
	double t0 = now_s();
	rc = ingest(l, g, sk, n, &t);
	double total = now_s() - t0;
	if (rc != 0)
		goto out;
	double rate = (double)n / total;
	printf("records=%ld envelope_bytes=%zu header_bytes=%zu batch=%d\n", n,
	       t.env_bytes, t.hdr_bytes, BATCH);
	printf("raw_sign_per_s=%.0f ingest_per_s=%.0f ratio=%.2f\n", raw, rate,
	       rate / raw);
	printf("build_sign_s=%.3f (%.0f%%) append_s=%.3f (%.0f%%) "
	       "commit_s=%.3f (%.0f%%) total_s=%.3f\n",
	       t.build, 100 * t.build / total, t.append, 100 * t.append / total,
	       t.commit, 100 * t.commit / total, total);
	printf("per_record_us: build_sign=%.1f append=%.1f commit=%.1f "
	       "raw_sign=%.1f\n",
	       1e6 * t.build / n, 1e6 * t.append / n, 1e6 * t.commit / n,
	       1e6 / raw);
out:
	record_free(&g);
	ledger_close(&l);
	remove_dir(dir);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}
