/*
 * fuzz_json: the JSON import path (json_parse_message into a Submission,
 * then record_check_submission), and the round trip of anything accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ht_err err;
	ProtobufCMessage *m = json_parse_message(
	    (const char *)data, size, &hutong__submission__descriptor, &err);
	if (m == NULL)
		return 0;
	int valid = record_check_submission((Hutong__Submission *)m, &err);
	(void)valid;
	json_t *j = json_from_message(m, 0);
	if (j != NULL) {
		ProtobufCMessage *back =
		    json_to_message(j, &hutong__submission__descriptor, &err);
		if (back == NULL)
			abort(); /* what we write we must read */
		protobuf_c_message_free_unpacked(back, NULL);
		json_decref(j);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
