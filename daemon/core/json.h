/*
 * json: the proto3 JSON mapping for any protobuf-c message, both ways, over
 * jansson. Input accepts what Google's json_format writes: lowerCamelCase or
 * original field names, enum names or numbers, int64 as strings or numbers,
 * bytes as base64 (standard or URL-safe, padded or not). Output writes
 * lowerCamelCase, enum names, int64 as strings, and omits default values.
 * As an extension, a bytes field given exactly 64 hex digits is read as a
 * 32-byte record id, and output can write bytes as hex (JSON_BYTES_HEX) for
 * people reading ids.
 */
#ifndef HT_JSON_H
#define HT_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "err.h"

/* Most messages nested inside each other (the outermost counts as 1), both
 * when reading and when writing. */
#define JSON_MAX_DEPTH 16

/* Write bytes values of exactly 32 bytes (ids, keys, hashes) as 64 lower-case
 * hex digits; other lengths stay base64, so the output always reads back. */
enum { JSON_BYTES_HEX = 1 };

/* A new message of type d from the JSON object o. On failure NULL, and err
 * names the field path ("body.intelligence.people[1].role") and the reason;
 * err->field keeps the tail of a path longer than it. null for any field
 * means its default. Nothing is left allocated on failure. Free the result
 * with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *json_to_message(const json_t *o,
				  const ProtobufCMessageDescriptor *d,
				  ht_err *err);

/* Parse text (one JSON object) and convert. err gives the JSON error with
 * line and column when the text is not JSON ("line 3, column 9: ..." in
 * err->msg, err->field empty); duplicate keys are a JSON error. */
ProtobufCMessage *json_parse_message(const char *text, size_t len,
				     const ProtobufCMessageDescriptor *d,
				     ht_err *err);

/* A new JSON object for m (caller json_decref's). NULL on allocation
 * failure, a string field that is not valid UTF-8, or messages nested deeper
 * than JSON_MAX_DEPTH. flags: 0 or JSON_BYTES_HEX. */
json_t *json_from_message(const ProtobufCMessage *m, int flags);

#endif
