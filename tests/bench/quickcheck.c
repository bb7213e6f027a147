/*
 * bench_quickcheck: what the start-up check (PRAGMA quick_check, see
 * ledger_check and hutongd(8)) costs on a big ledger.
 *
 *   bench_quickcheck [N] [--dir D]   (N = 1000000, D = $TMPDIR or /tmp)
 *   bench_quickcheck --ledger FILE   (time an existing ledger instead)
 *
 * Builds a fresh ledger of N signed intel records (~600-byte envelopes, as
 * bench_ingest does, 1000 to a transaction), closes it, then times
 * ledger_open + ledger_check on it and a plain sequential read() of the
 * whole file, and prints both and their ratio. Both run with the file in
 * the page cache (it was just written or read), so the figure is the CPU
 * cost; from a cold disk add the read time at the disk's speed. Prints
 * figures only; asserts nothing about time. The directory is removed.
 */
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "record.h"
#include "util.h"

#define BATCH 1000

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

static int ingest(ledger *l, const record *g, const uint8_t *sk, long n)
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
		if (record_build(&sub, &o, sign_with, (void *)sk, &r, &e) != 0)
			goto fail;
		int rc = ledger_append(l, r, "local", &out, &e);
		memcpy(prev, record_id(r), sizeof(prev));
		record_free(&r);
		if (rc != 0 || out != LEDGER_APPENDED)
			goto fail;
		if (i % BATCH == BATCH - 1 || i == n - 1) {
			if (ledger_commit(l, &e) != 0)
				goto fail;
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

/* Seconds to read path end to end, 1 MiB at a time; *bytes its size. */
static double read_all(const char *path, double *bytes)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	double t0 = now_s(), n = 0;
	ssize_t got;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		n += (double)got;
	close(fd);
	*bytes = n;
	return now_s() - t0;
}

/* Seconds for ledger_open + ledger_check on path; -1 on error. */
static double time_check(const char *path)
{
	ht_err e;
	double t0 = now_s();
	ledger *l = ledger_open(path, LEDGER_RDONLY, NULL, &e);
	if (l == NULL || ledger_check(l, &e) != 0) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		ledger_close(&l);
		return -1;
	}
	double t = now_s() - t0;
	ledger_close(&l);
	return t;
}

/* A ledger of n records at path: 0 or 1. */
static int build(const char *path, long n)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	crypto_sign_keypair(pk, sk);
	ht_err e;
	ledger *l = ledger_open(path, LEDGER_RDWR, NULL, &e);
	record *g = NULL;
	ledger_outcome out;
	int rc = 1;
	if (l == NULL) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		return 1;
	}
	if (build_genesis(pk, sk, &g) == 0 &&
	    ledger_append(l, g, "local", &out, &e) == 0)
		rc = ingest(l, g, sk, n - 1);
	record_free(&g);
	ledger_close(&l);
	return rc;
}

static int report(const char *path, long n)
{
	double bytes = 0, rd = read_all(path, &bytes), qc = time_check(path);
	if (rd < 0 || qc < 0)
		return 1;
	printf("records %ld  file %.0f MB  quick_check %.2f s  "
	       "read %.2f s  ratio %.1f\n",
	       n, bytes / 1e6, qc, rd, rd > 0 ? qc / rd : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	long n = 1000000;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const char *existing = NULL;
	for (int i = 1; i < argc; i++) {
		uint64_t v;
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			base = argv[++i];
		else if (strcmp(argv[i], "--ledger") == 0 && i + 1 < argc)
			existing = argv[++i];
		else if (util_parse_u64(argv[i], 2, 100000000, &v) == 0)
			n = (long)v;
		else {
			fprintf(stderr, "usage: bench_quickcheck [N] [--dir D] "
					"| --ledger FILE\n");
			return 2;
		}
	}
	if (sodium_init() < 0)
		return 1;
	if (existing != NULL)
		return report(existing, -1);
	char dir[PATH_MAX], path[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s/hutong-bench-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	double t0 = now_s();
	int rc = build(path, n);
	if (rc == 0)
		fprintf(stderr, "built %ld records in %.1f s\n", n,
			now_s() - t0);
	if (rc == 0)
		rc = report(path, n);
	remove_dir(dir);
	return rc;
}
