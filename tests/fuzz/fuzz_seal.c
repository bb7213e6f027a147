/*
 * fuzz_seal: sealed bodies from a peer. An input whose first byte is even
 * is taken as a SealedBody and opened with a fixed node key (it must never
 * open: the fuzzer cannot forge a key wrap) and listed by seal_regions; an
 * odd one seals the rest of the input for that key and must open again to
 * the same bytes.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void open_untrusted(const uint8_t *pk, const uint8_t *sk,
			   const uint8_t *data, size_t size)
{
	uint8_t ad[SEAL_MAX_AD], *pt = NULL;
	size_t adlen = seal_ad("450100", 1, NULL, 0, ad), ptlen = 0;
	char list[256];
	ht_err e;
	const uint8_t *extra[1] = {data};
	if (seal_open(data, size, ad, adlen, pk, sk, extra, &size, 1, &pt,
		      &ptlen, &e) == 0)
		abort();
	if (pt != NULL)
		abort();
	(void)seal_regions(data, size, list, sizeof(list));
}

static void round_trip(const uint8_t *pk, const uint8_t *sk,
		       const uint8_t *data, size_t size)
{
	uint8_t ad[SEAL_MAX_AD], *s = NULL, *pt = NULL;
	size_t adlen = seal_ad("450100", 2, NULL, 0, ad), slen = 0, ptlen = 0;
	seal_recipient r = {"450100", pk};
	ht_err e;
	if (seal_body(data, size, ad, adlen, &r, 1, &s, &slen, &e) != 0)
		return;
	if (seal_open(s, slen, ad, adlen, pk, sk, NULL, NULL, 0, &pt, &ptlen,
		      &e) != 0 ||
	    ptlen != size || (size && memcmp(pt, data, size) != 0))
		abort();
	free(s);
	free(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pk[SEAL_PK_BYTES], sk[SEAL_SK_BYTES];
	static int ready;
	if (!ready) {
		uint8_t seed[crypto_box_SEEDBYTES] = {7};
		if (sodium_init() < 0 ||
		    crypto_box_seed_keypair(pk, sk, seed) != 0)
			abort();
		ready = 1;
	}
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		open_untrusted(pk, sk, data + 1, size - 1);
	else
		round_trip(pk, sk, data + 1, size - 1);
	return 0;
}
