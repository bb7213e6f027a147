/*
 * fuzz_record: envelope decoding and validation (record_parse), then the
 * invariants a parsed record must keep: its id is SHA-256 of its header
 * bytes, and re-parsing its own bytes gives the same id.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ht_err err;
	record *r = record_parse(data, size, &err);
	if (r == NULL)
		return 0;
	size_t hlen, len;
	const uint8_t *h = record_header_bytes(r, &hlen);
	uint8_t id[RECORD_ID_BYTES];
	crypto_hash_sha256(id, h, hlen);
	if (memcmp(id, record_id(r), sizeof(id)) != 0)
		abort();
	const uint8_t *b = record_bytes(r, &len);
	record *again = record_parse(b, len, &err);
	if (again == NULL || memcmp(record_id(again), id, sizeof(id)) != 0)
		abort();
	uint8_t pk[RECORD_PK_BYTES] = {0};
	bool ok = record_verify(r, pk); /* all-zero key: must not crash */
	(void)ok;
	record_free(&again);
	record_free(&r);
	return 0;
}
