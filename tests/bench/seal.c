/*
 * bench_seal: what sealing a body costs next to signing a record.
 *
 *   bench_seal [ITERATIONS]   (default 2000)
 *
 * In one run, on a 2 KB body (a lead with a few people): the plain cost of
 * a record (SHA-256 of the body and an Ed25519 signature over a 200-byte
 * header), then seal_body for 1 and for 30 recipients and seal_open by one
 * of them. Prints microseconds per operation and each as a ratio to the
 * plain signing cost measured in the same run; asserts nothing about time.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seal.h"

#define BODY 2048
#define MAXR 30

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t body[BODY], header[200];
static uint8_t pk[MAXR][SEAL_PK_BYTES], sk[MAXR][SEAL_SK_BYTES];
static seal_recipient rec[MAXR];

static double time_sign(long n)
{
	uint8_t spk[32], ssk[64], sig[64], hash[32];
	crypto_sign_keypair(spk, ssk);
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		crypto_hash_sha256(hash, body, sizeof(body));
		memcpy(header, hash, sizeof(hash));
		crypto_sign_detached(sig, NULL, header, sizeof(header), ssk);
	}
	return (now_s() - t0) / (double)n;
}

static double time_seal(long n, size_t nr, uint8_t **keep, size_t *keeplen)
{
	uint8_t ad[SEAL_MAX_AD];
	size_t adlen = seal_ad("450100", 42, NULL, 0, ad);
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		uint8_t *out = NULL;
		size_t outlen = 0;
		ht_err e;
		if (seal_body(body, sizeof(body), ad, adlen, rec, nr, &out,
			      &outlen, &e) != 0) {
			fprintf(stderr, "seal: %s\n", e.msg);
			exit(1);
		}
		if (i + 1 == n) {
			*keep = out;
			*keeplen = outlen;
		} else {
			free(out);
		}
	}
	return (now_s() - t0) / (double)n;
}

static double time_open(long n, const uint8_t *s, size_t len, int who)
{
	uint8_t ad[SEAL_MAX_AD];
	size_t adlen = seal_ad("450100", 42, NULL, 0, ad);
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		uint8_t *pt = NULL;
		size_t ptlen = 0;
		ht_err e;
		if (seal_open(s, len, ad, adlen, pk[who], sk[who], NULL, NULL,
			      0, &pt, &ptlen, &e) != 0) {
			fprintf(stderr, "open: %s\n", e.msg);
			exit(1);
		}
		free(pt);
	}
	return (now_s() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	static char region[MAXR][8];
	if (sodium_init() < 0 || n <= 0)
		return 1;
	randombytes_buf(body, sizeof(body));
	for (int i = 0; i < MAXR; i++) {
		seal_keypair(pk[i], sk[i]);
		snprintf(region[i], sizeof(region[i]), "%06d", 450100 + i);
		rec[i] = (seal_recipient){region[i], pk[i]};
	}
	double sign = time_sign(n);
	printf("bench_seal: %d-byte body, %ld iterations each\n", BODY, n);
	printf("%-28s %9.1f us  1.00x\n", "sign (sha256 + ed25519)",
	       sign * 1e6);
	size_t sizes[2] = {1, MAXR};
	for (int k = 0; k < 2; k++) {
		uint8_t *s = NULL;
		size_t slen = 0;
		double ts = time_seal(n, sizes[k], &s, &slen);
		double to = time_open(n, s, slen, (int)sizes[k] - 1);
		printf("seal, %2zu recipient(s)       %9.1f us  %5.2fx  "
		       "(%zu bytes sealed)\n",
		       sizes[k], ts * 1e6, ts / sign, slen);
		printf("open, of %2zu recipient(s)    %9.1f us  %5.2fx\n",
		       sizes[k], to * 1e6, to / sign);
		free(s);
	}
	return 0;
}
