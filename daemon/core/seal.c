/*
 * seal: XChaCha20-Poly1305 bodies with their key wrapped for each entitled
 * node (see seal.h). The body key exists only in sodium_malloc'd memory and
 * is wiped before every return. Decoding a SealedBody from a peer checks
 * every length before any cryptography.
 */
#include "seal.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hutong.pb-c.h"
#include "util.h"

#define SEAL_KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define AD_TAG "hutong/seal/1"

size_t seal_ad(const char *origin, uint64_t seq, const uint8_t *prev_id,
	       size_t prev_len, uint8_t out[SEAL_MAX_AD])
{
	size_t olen = strlen(origin), n = 0;
	if (olen > 32 || (prev_len != 0 && prev_len != 32))
		return 0;
	memcpy(out, AD_TAG, sizeof(AD_TAG)); /* with its NUL */
	n = sizeof(AD_TAG);
	out[n++] = (uint8_t)olen;
	memcpy(out + n, origin, olen);
	n += olen;
	for (int i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(seq >> (8 * i));
	if (prev_len)
		memcpy(out + n, prev_id, prev_len);
	return n + prev_len;
}

void seal_key_id(const uint8_t pk[SEAL_PK_BYTES], uint8_t id[SEAL_KEY_ID_BYTES])
{
	crypto_generichash(id, SEAL_KEY_ID_BYTES, pk, SEAL_PK_BYTES, NULL, 0);
}

int seal_keypair(uint8_t pk[SEAL_PK_BYTES], uint8_t sk[SEAL_SK_BYTES])
{
	if (sodium_init() < 0 || crypto_box_keypair(pk, sk) != 0)
		return HT_ECRYPTO;
	return 0;
}

/* One wrapped key being built: its id (for sorting) and its message. */
typedef struct wrap {
	uint8_t id[SEAL_KEY_ID_BYTES];
	uint8_t box[SEAL_WRAPPED_BYTES];
	const char *region;
} wrap;

static int wrap_cmp(const void *a, const void *b)
{
	return memcmp(((const wrap *)a)->id, ((const wrap *)b)->id,
		      SEAL_KEY_ID_BYTES);
}

/* Wrap key for each recipient into w[0..n), sorted by key id; refuses a
 * key given twice. */
static int wrap_all(const uint8_t *key, const seal_recipient *r, size_t n,
		    wrap *w, ht_err *err)
{
	if (n == 0)
		return ht_err_set(err, HT_EINVAL, "recipients",
				  "no node to seal the body for");
	if (n > SEAL_MAX_KEYS)
		return ht_err_set(err, HT_ELIMIT, "recipients",
				  "%zu nodes, at most %d", n, SEAL_MAX_KEYS);
	for (size_t i = 0; i < n; i++) {
		if (!util_is_region_code(r[i].region))
			return ht_err_set(err, HT_EINVAL, "recipients",
					  "region must be six digits");
		seal_key_id(r[i].pk, w[i].id);
		w[i].region = r[i].region;
		if (crypto_box_seal(w[i].box, key, SEAL_KEY_BYTES, r[i].pk) !=
		    0)
			return ht_err_set(err, HT_ECRYPTO, "recipients",
					  "cannot wrap the key for %s",
					  r[i].region);
	}
	qsort(w, n, sizeof(*w), wrap_cmp);
	for (size_t i = 1; i < n; i++)
		if (memcmp(w[i - 1].id, w[i].id, SEAL_KEY_ID_BYTES) == 0)
			return ht_err_set(err, HT_EINVAL, "recipients",
					  "one encryption key given twice (%s)",
					  w[i].region);
	return 0;
}

static void wrap_msg(const wrap *w, Hutong__WrappedKey *m)
{
	hutong__wrapped_key__init(m);
	m->region = (char *)w->region;
	m->key_id = (ProtobufCBinaryData){SEAL_KEY_ID_BYTES, (uint8_t *)w->id};
	m->wrapped =
	    (ProtobufCBinaryData){SEAL_WRAPPED_BYTES, (uint8_t *)w->box};
}

/* Encode the SealedBody of nonce, ciphertext and the wrapped keys. */
static int encode_sealed(const uint8_t *nonce, const uint8_t *ct, size_t ctlen,
			 const wrap *w, size_t n, uint8_t **out, size_t *outlen)
{
	Hutong__SealedBody sb = HUTONG__SEALED_BODY__INIT;
	Hutong__WrappedKey *msgs = calloc(n, sizeof(*msgs));
	Hutong__WrappedKey **ptrs = calloc(n, sizeof(*ptrs));
	int rc = HT_ENOMEM;
	if (msgs == NULL || ptrs == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		wrap_msg(&w[i], &msgs[i]);
		ptrs[i] = &msgs[i];
	}
	sb.nonce = (ProtobufCBinaryData){SEAL_NONCE_BYTES, (uint8_t *)nonce};
	sb.ciphertext = (ProtobufCBinaryData){ctlen, (uint8_t *)ct};
	sb.n_keys = n;
	sb.keys = ptrs;
	size_t len = hutong__sealed_body__get_packed_size(&sb);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL)
		goto out;
	hutong__sealed_body__pack(&sb, buf);
	*out = buf;
	*outlen = len;
	rc = 0;
out:
	free(msgs);
	free(ptrs);
	return rc;
}

int seal_body(const uint8_t *plain, size_t len, const uint8_t *ad, size_t adlen,
	      const seal_recipient *r, size_t n, uint8_t **out, size_t *outlen,
	      ht_err *err)
{
	uint8_t nonce[SEAL_NONCE_BYTES];
	uint8_t *key = sodium_malloc(SEAL_KEY_BYTES);
	uint8_t *ct = malloc(len + SEAL_TAG_BYTES);
	wrap *w = calloc(n ? n : 1, sizeof(*w));
	unsigned long long ctlen = 0;
	int rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (key == NULL || ct == NULL || w == NULL || sodium_init() < 0)
		goto out;
	rc = ht_err_set(err, HT_ELIMIT, "body", "%zu bytes, at most %d", len,
			SEAL_MAX_PLAIN);
	if (len > SEAL_MAX_PLAIN)
		goto out;
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	randombytes_buf(nonce, sizeof(nonce));
	if ((rc = wrap_all(key, r, n, w, err)) != 0)
		goto out;
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &ctlen, plain, len, ad,
						   adlen, NULL, nonce, key);
	rc = encode_sealed(nonce, ct, (size_t)ctlen, w, n, out, outlen);
	if (rc == 0)
		ht_err_clear(err);
	else
		ht_err_set(err, rc, "", "out of memory");
out:
	sodium_free(key);
	free(ct);
	free(w);
	return rc;
}

/* Decode and check the shape of a SealedBody. */
static int decode_sealed(const uint8_t *b, size_t len, Hutong__SealedBody **out,
			 ht_err *err)
{
	if (len > SEAL_MAX_PLAIN + SEAL_MAX_KEYS * 160)
		return ht_err_set(err, HT_ELIMIT, "sealed", "%zu bytes", len);
	Hutong__SealedBody *sb = hutong__sealed_body__unpack(NULL, len, b);
	if (sb == NULL)
		return ht_err_set(err, HT_EINVAL, "sealed",
				  "not a SealedBody message");
	const char *why = NULL;
	if (sb->nonce.len != SEAL_NONCE_BYTES)
		why = "nonce is not 24 bytes";
	else if (sb->ciphertext.len < SEAL_TAG_BYTES)
		why = "ciphertext shorter than its tag";
	else if (sb->n_keys == 0 || sb->n_keys > SEAL_MAX_KEYS)
		why = "no wrapped key, or too many";
	for (size_t i = 0; why == NULL && i < sb->n_keys; i++)
		if (sb->keys[i]->key_id.len != SEAL_KEY_ID_BYTES ||
		    sb->keys[i]->wrapped.len != SEAL_WRAPPED_BYTES)
			why = "a wrapped key has the wrong length";
		else if (!util_is_region_code(sb->keys[i]->region))
			why = "a wrapped key's region is not six digits";
	if (why != NULL) {
		hutong__sealed_body__free_unpacked(sb, NULL);
		return ht_err_set(err, HT_EINVAL, "sealed", "%s", why);
	}
	*out = sb;
	return 0;
}

/* Whether a decoded WrappedKey is well formed and for key id. */
static bool wrap_is_for(const Hutong__WrappedKey *k,
			const uint8_t id[SEAL_KEY_ID_BYTES])
{
	return k != NULL && k->key_id.len == SEAL_KEY_ID_BYTES &&
	       k->wrapped.len == SEAL_WRAPPED_BYTES &&
	       sodium_memcmp(k->key_id.data, id, SEAL_KEY_ID_BYTES) == 0;
}

/* Unwrap the key wrapped for id into key, from the body's keys or from the
 * extra (granted) ones. HT_ENOTFOUND when none is for id. */
static int unwrap(const Hutong__SealedBody *sb, const uint8_t *const *extra,
		  const size_t *extra_len, size_t n_extra,
		  const uint8_t pk[SEAL_PK_BYTES],
		  const uint8_t sk[SEAL_SK_BYTES], uint8_t *key, ht_err *err)
{
	uint8_t id[SEAL_KEY_ID_BYTES];
	const uint8_t *box = NULL;
	Hutong__WrappedKey *granted = NULL;
	seal_key_id(pk, id);
	for (size_t i = 0; box == NULL && i < sb->n_keys; i++)
		if (sodium_memcmp(sb->keys[i]->key_id.data, id, sizeof(id)) ==
		    0)
			box = sb->keys[i]->wrapped.data;
	for (size_t i = 0; box == NULL && i < n_extra; i++) {
		granted =
		    hutong__wrapped_key__unpack(NULL, extra_len[i], extra[i]);
		if (wrap_is_for(granted, id)) {
			box = granted->wrapped.data;
		} else if (granted != NULL) {
			hutong__wrapped_key__free_unpacked(granted, NULL);
			granted = NULL;
		}
	}
	int rc = 0;
	if (box == NULL)
		rc = ht_err_set(err, HT_ENOTFOUND, "sealed",
				"no key wrapped for this node");
	else if (crypto_box_seal_open(key, box, SEAL_WRAPPED_BYTES, pk, sk) !=
		 0)
		rc = ht_err_set(err, HT_ECRYPTO, "sealed",
				"the key wrapped for this node does not open");
	if (granted != NULL)
		hutong__wrapped_key__free_unpacked(granted, NULL);
	return rc;
}

int seal_open(const uint8_t *sealed, size_t len, const uint8_t *ad,
	      size_t adlen, const uint8_t pk[SEAL_PK_BYTES],
	      const uint8_t sk[SEAL_SK_BYTES], const uint8_t *const *extra,
	      const size_t *extra_len, size_t n_extra, uint8_t **plain,
	      size_t *plen, ht_err *err)
{
	Hutong__SealedBody *sb = NULL;
	uint8_t *key = sodium_malloc(SEAL_KEY_BYTES), *pt = NULL;
	unsigned long long ptlen = 0;
	int rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (key == NULL || sodium_init() < 0)
		goto out;
	if ((rc = decode_sealed(sealed, len, &sb, err)) != 0)
		goto out;
	rc = unwrap(sb, extra, extra_len, n_extra, pk, sk, key, err);
	if (rc != 0)
		goto out;
	rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if ((pt = malloc(sb->ciphertext.len)) == NULL)
		goto out;
	rc = ht_err_set(err, HT_ECRYPTO, "sealed",
			"the body does not decrypt (tampered, or sealed for "
			"another record)");
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		pt, &ptlen, NULL, sb->ciphertext.data, sb->ciphertext.len, ad,
		adlen, sb->nonce.data, key) != 0)
		goto out;
	*plain = pt;
	*plen = (size_t)ptlen;
	pt = NULL;
	rc = 0;
	ht_err_clear(err);
out:
	free(pt);
	sodium_free(key);
	if (sb != NULL)
		hutong__sealed_body__free_unpacked(sb, NULL);
	return rc;
}

/* Encode each wrap as its own WrappedKey message. */
static int encode_wraps(const wrap *w, size_t n, uint8_t ***out,
			size_t **out_len)
{
	uint8_t **bufs = calloc(n, sizeof(*bufs));
	size_t *lens = calloc(n, sizeof(*lens));
	if (bufs == NULL || lens == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		Hutong__WrappedKey m;
		wrap_msg(&w[i], &m);
		lens[i] = hutong__wrapped_key__get_packed_size(&m);
		if ((bufs[i] = malloc(lens[i])) == NULL)
			goto fail;
		hutong__wrapped_key__pack(&m, bufs[i]);
	}
	*out = bufs;
	*out_len = lens;
	return 0;
fail:
	for (size_t i = 0; bufs != NULL && i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(lens);
	return HT_ENOMEM;
}

int seal_wrap_more(const uint8_t *sealed, size_t len,
		   const uint8_t pk[SEAL_PK_BYTES],
		   const uint8_t sk[SEAL_SK_BYTES], const seal_recipient *r,
		   size_t n, uint8_t ***out, size_t **out_len, ht_err *err)
{
	Hutong__SealedBody *sb = NULL;
	uint8_t *key = sodium_malloc(SEAL_KEY_BYTES);
	wrap *w = calloc(n ? n : 1, sizeof(*w));
	int rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (key == NULL || w == NULL || sodium_init() < 0)
		goto out;
	if ((rc = decode_sealed(sealed, len, &sb, err)) != 0)
		goto out;
	if ((rc = unwrap(sb, NULL, NULL, 0, pk, sk, key, err)) != 0)
		goto out;
	if ((rc = wrap_all(key, r, n, w, err)) != 0)
		goto out;
	if ((rc = encode_wraps(w, n, out, out_len)) != 0)
		ht_err_set(err, rc, "", "out of memory");
	else
		ht_err_clear(err);
out:
	sodium_free(key);
	free(w);
	if (sb != NULL)
		hutong__sealed_body__free_unpacked(sb, NULL);
	return rc;
}

/* Append region to buf unless it is already listed. */
static void regions_add(char *buf, size_t buflen, const char *region)
{
	size_t rl = strlen(region), at = strlen(buf);
	for (const char *p = buf; (p = strstr(p, region)) != NULL; p += rl)
		if ((p == buf || p[-1] == ' ') && (p[rl] == ',' || !p[rl]))
			return;
	if (at + rl + 3 > buflen)
		return;
	snprintf(buf + at, buflen - at, "%s%s", at ? ", " : "", region);
}

int seal_regions(const uint8_t *sealed, size_t len, char *buf, size_t buflen)
{
	Hutong__SealedBody *sb = NULL;
	if (buflen == 0)
		return HT_EINVAL;
	buf[0] = '\0';
	int rc = decode_sealed(sealed, len, &sb, NULL);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < sb->n_keys; i++)
		if (sb->keys[i]->region != NULL && sb->keys[i]->region[0])
			regions_add(buf, buflen, sb->keys[i]->region);
	hutong__sealed_body__free_unpacked(sb, NULL);
	return 0;
}
