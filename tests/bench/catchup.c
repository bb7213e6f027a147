/*
 * bench_catchup: the C half of tests/bench/catchup.sh (a fresh hutongd
 * pulling a whole ledger from one neighbour over CurveZMQ). The script
 * sets up the nodes and runs the daemons; this program does what needs the
 * core library:
 *
 *   bench_catchup gen NODEDIR N     sign and store N intel records (~600-byte
 *                                   envelopes) in NODEDIR's ledger with its
 *                                   own key and certificate, 1000 to a
 *                                   transaction (node_submit), before its
 *                                   daemon ever runs
 *   bench_catchup verify-rate [N]   raw single-core crypto_sign_verify_detached
 *                                   rate over ~110-byte headers (N, or 2 s)
 *   bench_catchup arrival NODEDIR ORIGIN
 *                                   from NODEDIR's ledger (read-only): the
 *                                   origin's head seq and the stored_ms of
 *                                   its first and last record (one origin's
 *                                   records arrive in seq order)
 *
 * Output is key=value on one line, for the script to read.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "ledger.h"
#include "node.h"
#include "pki.h"
#include "record.h"
#include "util.h"

#define GEN_BATCH 1000 /* NODE_MAX_BATCH */
#define HDR_BYTES 110

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static conf *load_conf(const char *dir)
{
	char path[PATH_MAX];
	if (util_path_join(dir, "hutongd.conf", path, sizeof(path)) != 0)
		return NULL;
	return conf_load(path, report, NULL);
}

/* A ~450-byte summary that differs per record (i). */
static void fill_summary(char *s, size_t cap, long i)
{
	int len = snprintf(s, cap,
			   "Lead %08ld: weekly gathering of recruits in a "
			   "rented flat near the station; ",
			   i);
	while (len < 420)
		len += snprintf(s + len, cap - (size_t)len,
				"organizer collects entry fees. ");
	s[420] = '\0';
}

static int gen_batches(node *nd, long n, size_t *env_bytes)
{
	static char summary[GEN_BATCH][512];
	Hutong__Submission sub[GEN_BATCH], *subp[GEN_BATCH];
	Hutong__Body body[GEN_BATCH];
	Hutong__Intelligence in[GEN_BATCH];
	static node_result res[GEN_BATCH];
	ht_err e = {0};
	for (long done = 0; done < n;) {
		size_t k =
		    n - done < GEN_BATCH ? (size_t)(n - done) : GEN_BATCH;
		for (size_t i = 0; i < k; i++) {
			hutong__submission__init(&sub[i]);
			hutong__body__init(&body[i]);
			hutong__intelligence__init(&in[i]);
			fill_summary(summary[i], sizeof(summary[i]),
				     done + (long)i);
			in[i].organization = "鑫源互助会";
			in[i].summary = summary[i];
			body[i].content_case =
			    HUTONG__BODY__CONTENT_INTELLIGENCE;
			body[i].intelligence = &in[i];
			sub[i].author = "officer-017";
			sub[i].scope = HUTONG__SCOPE__SCOPE_NATIONAL;
			sub[i].body = &body[i];
			subp[i] = &sub[i];
		}
		if (node_submit(nd, subp, k, res, &e) != 0) {
			fprintf(stderr, "gen: %s: %s\n", e.field, e.msg);
			return 1;
		}
		for (size_t i = 0; i < k; i++)
			if (res[i].code != 0) {
				fprintf(stderr, "gen: %s: %s\n",
					res[i].err.field, res[i].err.msg);
				return 1;
			}
		done += (long)k;
	}
	const ledger_origin *o =
	    ledger_origin_find(node_ledger(nd), node_region(nd));
	record *r = NULL;
	if (ledger_get_seq(node_ledger(nd), o->region, o->seq, &r, NULL, &e) ==
	    0)
		record_bytes(r, env_bytes);
	record_free(&r);
	return 0;
}

static int cmd_gen(const char *dir, long n)
{
	conf *cf = load_conf(dir);
	pki_store *pki = NULL;
	pki_chain chain = {0};
	node *nd = NULL;
	ht_err e = {0};
	size_t env_bytes = 0;
	int rc = 1;
	const char *crls[1];
	if (cf == NULL)
		return 1;
	crls[0] = cf->crl;
	if ((pki = pki_store_load(cf->ca_bundle, crls, 1, &e)) == NULL ||
	    pki_chain_read_pem(cf->cert, &chain, &e) != 0)
		goto out;
	node_config nc = {.name = cf->name,
			  .region = cf->region,
			  .key_path = cf->key,
			  .ledger_path = cf->ledger,
			  .pki = pki,
			  .certs = (const uint8_t *const *)chain.der,
			  .cert_lens = chain.len,
			  .n_certs = chain.n};
	if ((nd = node_open(&nc, &e)) == NULL)
		goto out;
	double t0 = now_s();
	rc = gen_batches(nd, n, &env_bytes);
	double t = now_s() - t0;
	if (rc == 0)
		printf("generated=%ld envelope_bytes=%zu gen_s=%.2f "
		       "gen_per_s=%.0f\n",
		       n, env_bytes, t, (double)n / t);
out:
	if (rc != 0 && e.msg[0])
		fprintf(stderr, "gen: %s: %s\n", e.field, e.msg);
	node_free(&nd);
	pki_chain_clear(&chain);
	pki_store_free(&pki);
	conf_free(&cf);
	return rc;
}

/* Verifications per second of distinct HDR_BYTES messages: n, or 2 s. */
static int cmd_verify_rate(long n)
{
	enum { DISTINCT = 1024 };
	static uint8_t msg[DISTINCT][HDR_BYTES], sig[DISTINCT][64];
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	if (sodium_init() < 0)
		return 1;
	crypto_sign_keypair(pk, sk);
	for (int i = 0; i < DISTINCT; i++) {
		randombytes_buf(msg[i], HDR_BYTES);
		crypto_sign_detached(sig[i], NULL, msg[i], HDR_BYTES, sk);
	}
	long done = 0, bad = 0;
	double t0 = now_s(), t;
	do {
		int i = (int)(done % DISTINCT);
		bad += crypto_sign_verify_detached(sig[i], msg[i], HDR_BYTES,
						   pk) != 0;
		done++;
		t = now_s() - t0;
	} while (done < n || t < 2.0);
	sodium_memzero(sk, sizeof(sk));
	printf("raw_verify_per_s=%.0f verify_us=%.1f bad=%ld\n",
	       (double)done / t, 1e6 * t / (double)done, bad);
	return bad != 0;
}

static int cmd_arrival(const char *dir, const char *origin)
{
	conf *cf = load_conf(dir);
	ht_err e = {0};
	ledger *l = NULL;
	ledger_meta first = {0}, last = {0};
	int rc = 1;
	if (cf == NULL)
		return 1;
	if ((l = ledger_open(cf->ledger, LEDGER_RDONLY, NULL, &e)) == NULL)
		goto out;
	const ledger_origin *o = ledger_origin_find(l, origin);
	if (o == NULL) {
		printf("head=0 first_ms=0 last_ms=0\n");
		rc = 0;
		goto out;
	}
	record *r = NULL;
	if (ledger_get_seq(l, origin, 1, &r, &first, &e) != 0)
		goto out;
	record_free(&r);
	if (ledger_get_seq(l, origin, o->seq, &r, &last, &e) != 0)
		goto out;
	record_free(&r);
	printf("head=%llu first_ms=%lld last_ms=%lld\n",
	       (unsigned long long)o->seq, (long long)first.stored_ms,
	       (long long)last.stored_ms);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "arrival: %s: %s\n", e.field, e.msg);
	ledger_close(&l);
	conf_free(&cf);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_catchup gen NODEDIR N | verify-rate [N] "
			"| arrival NODEDIR ORIGIN\n");
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t v = 0;
	if (argc == 4 && strcmp(argv[1], "gen") == 0 &&
	    util_parse_u64(argv[3], 1, 10000000, &v) == 0)
		return cmd_gen(argv[2], (long)v);
	if ((argc == 2 || argc == 3) && strcmp(argv[1], "verify-rate") == 0) {
		if (argc == 3 && util_parse_u64(argv[2], 1, 100000000, &v) != 0)
			return usage();
		return cmd_verify_rate(argc == 3 ? (long)v : 100000);
	}
	if (argc == 4 && strcmp(argv[1], "arrival") == 0)
		return cmd_arrival(argv[2], argv[3]);
	return usage();
}
