/*
 * ident: the node's Ed25519 identity key and X25519 link key.
 *
 * Both are stored as PKCS#8 PEM (OpenSSL's format, so `openssl pkey` reads
 * them and bureaus can inspect or back them up with standard tools), mode
 * 0600. OpenSSL is used only to read and write the files; signing is done by
 * libsodium from the 32-byte seed, which OpenSSL calls the raw private key.
 * Secrets live in sodium_malloc'd memory and are wiped on every path.
 */
#include "ident.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "util.h"

struct ident {
	uint8_t pk[IDENT_PK_BYTES];
	uint8_t *sk; /* IDENT_SK_BYTES, sodium_malloc'd */
};

/* Write a raw private key of type `type` as PKCS#8 PEM to a new file. */
static int write_pem_key(const char *path, int type, const uint8_t *raw,
			 ht_err *err)
{
	int rc = HT_ECRYPTO;
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(type, NULL, raw, 32);
	BIO *mem = BIO_new(BIO_s_mem());
	if (pk == NULL || mem == NULL ||
	    !PEM_write_bio_PrivateKey(mem, pk, NULL, NULL, 0, NULL, NULL)) {
		ht_err_set(err, rc, "key", "cannot encode key for %s", path);
		goto out;
	}
	char *data = NULL;
	long len = BIO_get_mem_data(mem, &data);
	rc = util_write_file(path, data, (size_t)len, 0600, true, err);
	OPENSSL_cleanse(data, (size_t)len);
out:
	BIO_free(mem);
	EVP_PKEY_free(pk);
	return rc;
}

/* Read a PEM private key of type `type` from path into raw (32 bytes). */
static int read_pem_key(const char *path, int type, uint8_t raw[32],
			ht_err *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return ht_err_set(err, HT_ENOTFOUND, "key", "%s: %s", path,
				  strerror(errno));
	if ((st.st_mode & 077) != 0)
		return ht_err_set(err, HT_EINVAL, "key",
				  "%s: permissions %03o are too open; run "
				  "chmod 600 %s",
				  path, (unsigned)(st.st_mode & 0777), path);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = util_read_file(path, 16384, &buf, &len, err);
	if (rc != 0)
		return rc;
	rc = HT_ECRYPTO;
	BIO *mem = BIO_new_mem_buf(buf, (int)len);
	EVP_PKEY *pk =
	    mem ? PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL) : NULL;
	size_t rawlen = 32;
	if (pk == NULL) {
		ht_err_set(err, rc, "key", "%s: not a PEM private key", path);
	} else if (EVP_PKEY_get_id(pk) != type) {
		ht_err_set(err, rc, "key", "%s: wrong key type (want %s)", path,
			   type == EVP_PKEY_ED25519 ? "Ed25519" : "X25519");
	} else if (!EVP_PKEY_get_raw_private_key(pk, raw, &rawlen) ||
		   rawlen != 32) {
		ht_err_set(err, rc, "key", "%s: cannot read raw key", path);
	} else {
		rc = 0;
	}
	EVP_PKEY_free(pk);
	BIO_free(mem);
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

int ident_generate(const char *path, ht_err *err)
{
	if (sodium_init() < 0)
		return ht_err_set(err, HT_ECRYPTO, "", "libsodium init failed");
	uint8_t seed[32];
	randombytes_buf(seed, sizeof(seed));
	int rc = write_pem_key(path, EVP_PKEY_ED25519, seed, err);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

ident *ident_load(const char *path, ht_err *err)
{
	if (sodium_init() < 0) {
		ht_err_set(err, HT_ECRYPTO, "", "libsodium init failed");
		return NULL;
	}
	ident *id = calloc(1, sizeof(*id));
	uint8_t *seed = sodium_malloc(32);
	if (id != NULL)
		id->sk = sodium_malloc(IDENT_SK_BYTES);
	if (id == NULL || seed == NULL || id->sk == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		goto fail;
	}
	if (read_pem_key(path, EVP_PKEY_ED25519, seed, err) != 0)
		goto fail;
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
	sodium_free(seed);
	return id;
fail:
	sodium_free(seed);
	ident_free(&id);
	return NULL;
}

void ident_free(ident **idp)
{
	if (idp == NULL || *idp == NULL)
		return;
	sodium_free((*idp)->sk); /* wipes */
	free(*idp);
	*idp = NULL;
}

const uint8_t *ident_public(const ident *id) { return id->pk; }

int ident_sign(void *ctx, const uint8_t *msg, size_t len,
	       uint8_t sig[IDENT_SIG_BYTES])
{
	const ident *id = ctx;
	if (crypto_sign_detached(sig, NULL, msg, len, id->sk) != 0)
		return HT_ECRYPTO;
	return 0;
}

int ident_link_generate(const char *path, ht_err *err)
{
	if (sodium_init() < 0)
		return ht_err_set(err, HT_ECRYPTO, "", "libsodium init failed");
	uint8_t sk[32];
	randombytes_buf(sk, sizeof(sk));
	int rc = write_pem_key(path, EVP_PKEY_X25519, sk, err);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int ident_link_load(const char *path, uint8_t pk[IDENT_LINK_BYTES],
		    uint8_t sk[IDENT_LINK_BYTES], ht_err *err)
{
	uint8_t raw[32];
	int rc = read_pem_key(path, EVP_PKEY_X25519, raw, err);
	if (rc != 0)
		return rc;
	crypto_scalarmult_base(pk, raw);
	memcpy(sk, raw, 32);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}
