/*
 * test_seal: sealed bodies. Every entitled node opens the body and no other
 * does; a flipped byte anywhere, or the associated data of another record,
 * fails to open; a grant's extra key opens it for a new reader without the
 * body changing; bad shapes and limits are refused with their reason.
 */
#define _GNU_SOURCE /* memmem */
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hutong.pb-c.h"
#include "seal.h"

#define NODES 31

static uint8_t pk[NODES][SEAL_PK_BYTES], sk[NODES][SEAL_SK_BYTES];
static char region[NODES][8];

static void make_nodes(void)
{
	for (int i = 0; i < NODES; i++) {
		CHECK_EQ_INT(seal_keypair(pk[i], sk[i]), 0);
		snprintf(region[i], sizeof(region[i]), "45%04d", i + 100);
	}
}

static size_t ad_of(uint64_t seq, uint8_t ad[SEAL_MAX_AD])
{
	uint8_t prev[32];
	memset(prev, 0xab, sizeof(prev));
	return seal_ad("450100", seq, prev, sizeof(prev), ad);
}

/* Seal plain for nodes [0, n); returns the sealed bytes. */
static uint8_t *seal_for(const char *plain, size_t n, size_t *len)
{
	seal_recipient r[NODES];
	uint8_t ad[SEAL_MAX_AD];
	size_t adlen = ad_of(7, ad);
	for (size_t i = 0; i < n; i++)
		r[i] = (seal_recipient){region[i], pk[i]};
	uint8_t *out = NULL;
	ht_err e;
	int rc = seal_body((const uint8_t *)plain, strlen(plain), ad, adlen, r,
			   n, &out, len, &e);
	CHECK_EQ_INT(rc, 0);
	return out;
}

static int open_as(const uint8_t *s, size_t len, int node, uint64_t seq,
		   char *got, size_t gotlen)
{
	uint8_t ad[SEAL_MAX_AD], *pt = NULL;
	size_t adlen = ad_of(seq, ad), ptlen = 0;
	ht_err e;
	int rc = seal_open(s, len, ad, adlen, pk[node], sk[node], NULL, NULL, 0,
			   &pt, &ptlen, &e);
	if (rc == 0 && got != NULL && ptlen < gotlen) {
		memcpy(got, pt, ptlen);
		got[ptlen] = '\0';
	}
	free(pt);
	return rc;
}

static void test_recipients(void)
{
	const char *secret = "informant 450102199003070011 marker-Q7";
	size_t len = 0;
	uint8_t *s = seal_for(secret, 30, &len);
	char got[128];
	for (int i = 0; i < 30; i++) {
		got[0] = '\0';
		CHECK_EQ_INT(open_as(s, len, i, 7, got, sizeof(got)), 0);
		CHECK_STR(got, secret);
	}
	CHECK_EQ_INT(open_as(s, len, 30, 7, NULL, 0), HT_ENOTFOUND);
	CHECK(memmem(s, len, "marker-Q7", 9) == NULL);
	/* The same ciphertext under another record's place does not open. */
	CHECK_EQ_INT(open_as(s, len, 0, 8, NULL, 0), HT_ECRYPTO);
	char list[512];
	CHECK_EQ_INT(seal_regions(s, len, list, sizeof(list)), 0);
	CHECK_HAS(list, "450100");
	CHECK_HAS(list, "450129");
	CHECK(strstr(list, "450130") == NULL);
	free(s);
}

/* Flip every byte of a sealed body in turn: none still opens to the
 * plaintext (it fails to decode, to unwrap or to decrypt). */
static void test_tamper(void)
{
	size_t len = 0;
	uint8_t *s = seal_for("a short lead", 2, &len);
	int opened = 0, labels = 0;
	for (size_t i = 0; i < len; i++) {
		bool label = s[i] >= '0' && s[i] <= '9';
		s[i] ^= 0x01;
		if (open_as(s, len, 0, 7, NULL, 0) == 0 &&
		    open_as(s, len, 1, 7, NULL, 0) == 0)
			*(label ? &labels : &opened) += 1;
		s[i] ^= 0x01;
	}
	/* A wrap's key id may be flipped and the other node still opens, but
	 * never both; only the region labels (digits, which the signed
	 * body_hash covers, not the cipher) are not authenticated here. */
	CHECK_EQ_INT(opened, 0);
	CHECK(labels <= 12);
	CHECK_EQ_INT(open_as(s, len, 0, 7, NULL, 0), 0);
	free(s);
}

static void test_grant(void)
{
	size_t len = 0;
	uint8_t *s = seal_for("granted later", 1, &len);
	seal_recipient more[2] = {{region[5], pk[5]}, {region[6], pk[6]}};
	uint8_t **wk = NULL;
	size_t *wklen = NULL;
	ht_err e;
	CHECK_EQ_INT(open_as(s, len, 5, 7, NULL, 0), HT_ENOTFOUND);
	/* Only a node that can open it can wrap it again. */
	CHECK_EQ_INT(
	    seal_wrap_more(s, len, pk[9], sk[9], more, 2, &wk, &wklen, &e),
	    HT_ENOTFOUND);
	CHECK_EQ_INT(
	    seal_wrap_more(s, len, pk[0], sk[0], more, 2, &wk, &wklen, &e), 0);
	uint8_t ad[SEAL_MAX_AD], *pt = NULL;
	size_t adlen = ad_of(7, ad), ptlen = 0;
	const uint8_t *extra[2] = {wk[0], wk[1]};
	int rc = seal_open(s, len, ad, adlen, pk[6], sk[6], extra, wklen, 2,
			   &pt, &ptlen, &e);
	CHECK_EQ_INT(rc, 0);
	CHECK(ptlen == 13 && memcmp(pt, "granted later", 13) == 0);
	free(pt);
	pt = NULL;
	rc = seal_open(s, len, ad, adlen, pk[7], sk[7], extra, wklen, 2, &pt,
		       &ptlen, &e);
	CHECK_EQ_INT(rc, HT_ENOTFOUND);
	CHECK(pt == NULL);
	for (int i = 0; i < 2; i++)
		free(wk[i]);
	free(wk);
	free(wklen);
	free(s);
}

static void test_refusals(void)
{
	uint8_t ad[SEAL_MAX_AD], *out = NULL;
	size_t adlen = ad_of(1, ad), outlen = 0;
	ht_err e;
	seal_recipient twice[2] = {{region[0], pk[0]}, {region[1], pk[0]}};
	CHECK_EQ_INT(seal_body((const uint8_t *)"x", 1, ad, adlen, twice, 0,
			       &out, &outlen, &e),
		     HT_EINVAL);
	CHECK_HAS(e.msg, "no node");
	CHECK_EQ_INT(seal_body((const uint8_t *)"x", 1, ad, adlen, twice, 2,
			       &out, &outlen, &e),
		     HT_EINVAL);
	CHECK_HAS(e.msg, "twice");
	seal_recipient bad[1] = {{"45", pk[0]}};
	CHECK_EQ_INT(seal_body((const uint8_t *)"x", 1, ad, adlen, bad, 1, &out,
			       &outlen, &e),
		     HT_EINVAL);
	static seal_recipient many[SEAL_MAX_KEYS + 1];
	for (int i = 0; i <= SEAL_MAX_KEYS; i++)
		many[i] = (seal_recipient){region[0], pk[0]};
	CHECK_EQ_INT(seal_body((const uint8_t *)"x", 1, ad, adlen, many,
			       SEAL_MAX_KEYS + 1, &out, &outlen, &e),
		     HT_ELIMIT);
	static uint8_t huge[SEAL_MAX_PLAIN + 1];
	CHECK_EQ_INT(seal_body(huge, sizeof(huge), ad, adlen, twice, 1, &out,
			       &outlen, &e),
		     HT_ELIMIT);
	CHECK(out == NULL);
	/* Garbage and a body with no keys are refused before any crypto. */
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	CHECK_EQ_INT(seal_open((const uint8_t *)"\xff\xff", 2, ad, adlen, pk[0],
			       sk[0], NULL, NULL, 0, &pt, &ptlen, &e),
		     HT_EINVAL);
	Hutong__SealedBody sb = HUTONG__SEALED_BODY__INIT;
	uint8_t nonce[SEAL_NONCE_BYTES] = {0}, ct[SEAL_TAG_BYTES] = {0};
	sb.nonce = (ProtobufCBinaryData){sizeof(nonce), nonce};
	sb.ciphertext = (ProtobufCBinaryData){sizeof(ct), ct};
	uint8_t buf[128];
	size_t n = hutong__sealed_body__pack(&sb, buf);
	CHECK_EQ_INT(seal_open(buf, n, ad, adlen, pk[0], sk[0], NULL, NULL, 0,
			       &pt, &ptlen, &e),
		     HT_EINVAL);
	CHECK_HAS(e.msg, "no wrapped key");
	CHECK(pt == NULL);
}

static void test_ad(void)
{
	uint8_t a[SEAL_MAX_AD], b[SEAL_MAX_AD];
	size_t la = seal_ad("450100", 2, NULL, 0, a);
	size_t lb = seal_ad("450100", 3, NULL, 0, b);
	CHECK(la == lb && la > 0 && memcmp(a, b, la) != 0);
	CHECK_EQ_INT(seal_ad("450100", 2, a, 5, b), 0);
	CHECK_EQ_INT(
	    seal_ad("0123456789012345678901234567890123", 2, NULL, 0, b), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	make_nodes();
	test_recipients();
	test_tamper();
	test_grant();
	test_refusals();
	test_ad();
	return check_done("test_seal");
}
