/*
 * test_json: the proto3 JSON mapping. Golden files written by Google's own
 * json_format and encoder (tests/data/json, see make_golden.py) must read to
 * the same bytes Google packs and write back to the same text; hand-built
 * hutong messages round-trip; every kind of bad input is refused with the
 * exact path and reason; a hand-written descriptor covers the field types and
 * labels hutong.proto does not use (floats, sint/fixed, proto2 optional and
 * required, scalar oneofs, repeated numbers and enums).
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "control.pb-c.h"
#include "hutong.pb-c.h"
#include "json.h"

/* ---- helpers ---- */

static ProtobufCMessage *parse(const char *text,
			       const ProtobufCMessageDescriptor *d, ht_err *e)
{
	ht_err_clear(e);
	return json_parse_message(text, strlen(text), d, e);
}

/* json_from_message dumped compactly; caller frees. NULL if it failed. */
static char *to_text(const ProtobufCMessage *m, int flags)
{
	json_t *j = json_from_message(m, flags);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

/* Packed bytes of m; caller frees. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*len + 1);
	protobuf_c_message_pack(m, buf);
	return buf;
}

static bool same_wire(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t la, lb;
	uint8_t *pa = pack(a, &la), *pb = pack(b, &lb);
	bool same = la == lb && memcmp(pa, pb, la) == 0;

	free(pa);
	free(pb);
	return same;
}

/* m -> JSON text -> message packs to the same bytes as m. */
static void check_roundtrip(const ProtobufCMessage *m, int flags)
{
	char *text = to_text(m, flags);
	ht_err e;
	ProtobufCMessage *back;

	CHECK(text != NULL);
	if (text == NULL)
		return;
	back = parse(text, m->descriptor, &e);
	CHECK(back != NULL);
	if (back == NULL)
		fprintf(stderr, "  %s: %s: %s\n", text, e.field, e.msg);
	else
		CHECK(same_wire(m, back));
	protobuf_c_message_free_unpacked(back, NULL);
	free(text);
}

static char *read_text(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;

	snprintf(path, sizeof(path), "%s/json/%s", TEST_DATA_DIR, name);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void fill_id(uint8_t *id, uint8_t first)
{
	for (int i = 0; i < 32; i++)
		id[i] = (uint8_t)(first + i);
}

/* ---- golden files from Google's json_format ---- */

static void check_golden(const char *name, const ProtobufCMessageDescriptor *d,
			 bool ascii)
{
	char file[64];
	size_t tlen, nlen, plen, wlen;
	ht_err e;

	snprintf(file, sizeof(file), "%s.json", name);
	char *text = read_text(file, &tlen);
	snprintf(file, sizeof(file), "%s.names.json", name);
	char *names = read_text(file, &nlen);
	snprintf(file, sizeof(file), "%s.pb", name);
	uint8_t *wire = (uint8_t *)read_text(file, &wlen);
	CHECK(text != NULL && names != NULL && wire != NULL);
	if (text == NULL || names == NULL || wire == NULL)
		goto out;

	/* Google's camelCase text and proto-name text read to Google's bytes.
	 */
	ProtobufCMessage *m = json_parse_message(text, tlen, d, &e);
	ProtobufCMessage *mn = json_parse_message(names, nlen, d, &e);
	CHECK(m != NULL && mn != NULL);
	if (m != NULL && mn != NULL) {
		uint8_t *p = pack(m, &plen);
		CHECK_EQ_INT(plen, wlen);
		CHECK(plen == wlen && memcmp(p, wire, plen) == 0);
		free(p);
		CHECK(same_wire(m, mn));
	} else {
		fprintf(stderr, "  %s: %s: %s\n", name, e.field, e.msg);
	}

	/* Google's bytes, decoded by protobuf-c, write Google's text. */
	ProtobufCMessage *u = protobuf_c_message_unpack(d, NULL, wlen, wire);
	CHECK(u != NULL);
	json_t *out = u ? json_from_message(u, 0) : NULL;
	json_t *want = json_loads(text, 0, NULL);
	CHECK(out != NULL && want != NULL && json_equal(out, want));
	if (out != NULL && !ascii) {
		char *dump = json_dumps(out, JSON_INDENT(2));
		size_t dl = strlen(dump);
		CHECK(dl + 1 == tlen && memcmp(dump, text, dl) == 0);
		free(dump);
	}
	json_decref(out);
	json_decref(want);
	protobuf_c_message_free_unpacked(u, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	protobuf_c_message_free_unpacked(mn, NULL);
out:
	free(text);
	free(names);
	free(wire);
}

static void test_golden(void)
{
	check_golden("fleeing", &hutong__submission__descriptor, false);
	check_golden("intelligence", &hutong__submission__descriptor, true);
	check_golden("correction", &hutong__submission__descriptor, false);
	check_golden("genesis", &hutong__submission__descriptor, false);
	check_golden("header", &hutong__header__descriptor, false);
	check_golden("envelope", &hutong__envelope__descriptor, false);
}

/* ---- hand-built hutong messages ---- */

static void test_submission_kinds(void)
{
	uint8_t id[32], key[32], cert[3] = {0x30, 0x82, 0x01};
	char *org = "亚细亚", *aliases[] = {"a", "b"};
	Hutong__Person p1 = HUTONG__PERSON__INIT, p2 = HUTONG__PERSON__INIT;
	Hutong__Person *people[] = {&p1, &p2};
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Repatriation rp = HUTONG__REPATRIATION__INIT;
	Hutong__FleeingOrganization fo = HUTONG__FLEEING_ORGANIZATION__INIT;
	Hutong__Correction co = HUTONG__CORRECTION__INIT;
	Hutong__Genesis ge = HUTONG__GENESIS__INIT;
	Hutong__Body body = HUTONG__BODY__INIT, inner = HUTONG__BODY__INIT;
	Hutong__Submission s = HUTONG__SUBMISSION__INIT;
	ProtobufCBinaryData related[] = {{32, id}, {3, cert}};
	ProtobufCBinaryData certs[] = {{3, cert}};

	fill_id(id, 0xa0);
	fill_id(key, 0);
	p1.name = "张三";
	p1.role = HUTONG__ROLE__ROLE_ORGANIZER;
	p2.name = "李四";
	p2.phone = "13800000000";
	in.organization = org;
	in.n_aliases = 2, in.aliases = aliases;
	in.n_people = 2, in.people = people;
	in.summary = "line one\nline \"two\"";
	in.accuracy = 4;
	in.handling = HUTONG__HANDLING__HANDLING_H3;
	in.n_related = 2, in.related = related;
	rp.case_id = "NN-1";
	rp.step = HUTONG__STEP__STEP_RECEIVE;
	rp.n_people = 1, rp.people = people;
	rp.time_ms = INT64_MIN;
	fo.org_id = "ORG-1";
	fo.estimated_members = UINT32_MAX;
	fo.last_seen_ms = INT64_MAX;
	fo.n_suspected_destinations = 2, fo.suspected_destinations = aliases;
	fo.level = HUTONG__ALERT_LEVEL__ALERT_LEVEL_CRITICAL;
	fo.sighting = 1;
	ge.public_key.len = 32, ge.public_key.data = key;
	ge.n_certificates = 1, ge.certificates = certs;
	inner.content_case = HUTONG__BODY__CONTENT_REPATRIATION;
	inner.repatriation = &rp;
	co.target.len = 32, co.target.data = id;
	co.reason = "typo";
	co.replacement = &inner;

	s.author = "officer-7";
	s.scope = HUTONG__SCOPE__SCOPE_PROVINCE;
	s.body = &body;
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	check_roundtrip(&s.base, 0);
	check_roundtrip(&s.base, JSON_BYTES_HEX);
	body.content_case = HUTONG__BODY__CONTENT_REPATRIATION;
	body.repatriation = &rp;
	check_roundtrip(&s.base, 0);
	body.content_case = HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION;
	body.fleeing_organization = &fo;
	check_roundtrip(&s.base, 0);
	body.content_case = HUTONG__BODY__CONTENT_CORRECTION;
	body.correction = &co;
	check_roundtrip(&s.base, 0);
	check_roundtrip(&s.base, JSON_BYTES_HEX);

	/* Exact text: camelCase, enum names, int64 as strings, defaults gone,
	 * only the set oneof member, bytes base64 or (32 bytes) hex. */
	char *t = to_text(&s.base, 0);
	CHECK_STR(t, "{\"author\":\"officer-7\",\"scope\":\"SCOPE_PROVINCE\","
		     "\"body\":{\"correction\":{\"target\":"
		     "\"oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8=\","
		     "\"reason\":\"typo\",\"replacement\":{\"repatriation\":{"
		     "\"caseId\":\"NN-1\",\"step\":\"STEP_RECEIVE\",\"people\":"
		     "[{\"name\":\"张三\",\"role\":\"ROLE_ORGANIZER\"}],"
		     "\"timeMs\":\"-9223372036854775808\"}}}}}");
	free(t);
	body.content_case = HUTONG__BODY__CONTENT_GENESIS;
	body.genesis = &ge;
	check_roundtrip(&s.base, 0);
	t = to_text(&s.base, JSON_BYTES_HEX);
	CHECK_STR(t, "{\"author\":\"officer-7\",\"scope\":\"SCOPE_PROVINCE\","
		     "\"body\":{\"genesis\":{\"publicKey\":\"000102030405060708"
		     "090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\","
		     "\"certificates\":[\"MIIB\"]}}}");
	free(t);
	body.content_case = HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION;
	body.fleeing_organization = &fo;
	t = to_text(&s.base, 0);
	CHECK_HAS(t, "\"estimatedMembers\":4294967295,");
	CHECK_HAS(t, "\"lastSeenMs\":\"9223372036854775807\"");
	CHECK_HAS(t, "\"level\":\"ALERT_LEVEL_CRITICAL\",\"sighting\":true}");
	free(t);

	/* An empty message is {} and a body with no member is {}. */
	Hutong__Submission empty = HUTONG__SUBMISSION__INIT;
	t = to_text(&empty.base, 0);
	CHECK_STR(t, "{}");
	free(t);
	body.content_case = HUTONG__BODY__CONTENT__NOT_SET;
	t = to_text(&s.base, 0);
	CHECK_STR(t, "{\"author\":\"officer-7\",\"scope\":\"SCOPE_PROVINCE\","
		     "\"body\":{}}");
	free(t);
}

static void test_header_envelope(void)
{
	uint8_t prev[32], hash[32], sig[64];
	Hutong__Header h = HUTONG__HEADER__INIT;
	Hutong__Envelope env = HUTONG__ENVELOPE__INIT;
	size_t hlen;

	fill_id(prev, 0);
	fill_id(hash, 0x40);
	for (int i = 0; i < 64; i++)
		sig[i] = (uint8_t)i;
	h.origin_region = "320100";
	h.origin_node = "nanjing-1";
	h.seq = 1;
	h.prev_id.len = 32, h.prev_id.data = prev;
	h.created_ms = 1764374400123;
	h.kind = 99; /* no name: written as a number, read back */
	h.body_hash.len = 32, h.body_hash.data = hash;
	check_roundtrip(&h.base, 0);
	check_roundtrip(&h.base, JSON_BYTES_HEX);
	char *t = to_text(&h.base, JSON_BYTES_HEX);
	CHECK_STR(t,
		  "{\"originRegion\":\"320100\",\"originNode\":\"nanjing-1\","
		  "\"seq\":\"1\",\"prevId\":\"000102030405060708090a0b0c0d0e"
		  "0f101112131415161718191a1b1c1d1e1f\",\"createdMs\":"
		  "\"1764374400123\",\"kind\":99,\"bodyHash\":\"40414243444546"
		  "4748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f\"}");
	free(t);

	uint8_t *hb = pack(&h.base, &hlen);
	env.header.len = hlen, env.header.data = hb;
	env.signature.len = 64, env.signature.data = sig;
	check_roundtrip(&env.base, 0);
	check_roundtrip(&env.base, JSON_BYTES_HEX);
	/* A 64-byte signature stays base64 under JSON_BYTES_HEX. */
	t = to_text(&env.base, JSON_BYTES_HEX);
	CHECK_HAS(t, "\"signature\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
		     "Hh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==\"}");
	free(t);
	free(hb);
}

/* ---- reading details ---- */

static void test_read_values(void)
{
	ht_err e;
	Hutong__Header *h = (Hutong__Header *)parse(
	    "{\"origin_region\":\"320100\",\"originNode\":null,"
	    "\"seq\":\"18446744073709551615\",\"createdMs\":-5,"
	    "\"kind\":\"KIND_GENESIS\",\"scope\":2,\"author\":\"\"}",
	    &hutong__header__descriptor, &e);
	CHECK(h != NULL);
	if (h != NULL) {
		CHECK_STR(h->origin_region, "320100");
		CHECK(h->origin_node == protobuf_c_empty_string);
		CHECK(h->seq == UINT64_MAX);
		CHECK_EQ_INT(h->created_ms, -5);
		CHECK_EQ_INT(h->kind, HUTONG__KIND__KIND_GENESIS);
		CHECK_EQ_INT(h->scope, HUTONG__SCOPE__SCOPE_PROVINCE);
		CHECK_STR(h->author, "");
	}
	protobuf_c_message_free_unpacked((ProtobufCMessage *)h, NULL);

	/* Integers: strings, integral reals and exponents; "-0" is zero. */
	h = (Hutong__Header *)parse("{\"seq\":1e3,\"createdMs\":"
				    "\"-9223372036854775808\"}",
				    &hutong__header__descriptor, &e);
	CHECK(h != NULL && h->seq == 1000 && h->created_ms == INT64_MIN);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)h, NULL);
	h = (Hutong__Header *)parse("{\"seq\":\"-0\",\"createdMs\":2.0}",
				    &hutong__header__descriptor, &e);
	CHECK(h != NULL && h->seq == 0 && h->created_ms == 2);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)h, NULL);

	Hutong__ControlReply *r = (Hutong__ControlReply *)parse(
	    "{\"code\":-2147483648}", &hutong__control_reply__descriptor, &e);
	CHECK(r != NULL && r->code == INT32_MIN);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)r, NULL);

	/* null for a message, a list and a oneof member means unset. */
	Hutong__Submission *s = (Hutong__Submission *)parse(
	    "{\"body\":{\"genesis\":null,\"intelligence\":{\"people\":null,"
	    "\"aliases\":[]}}}",
	    &hutong__submission__descriptor, &e);
	CHECK(s != NULL && s->body != NULL);
	if (s != NULL && s->body != NULL) {
		CHECK_EQ_INT(s->body->content_case,
			     HUTONG__BODY__CONTENT_INTELLIGENCE);
		CHECK_EQ_INT(s->body->intelligence->n_people, 0);
		CHECK_EQ_INT(s->body->intelligence->n_aliases, 0);
	}
	protobuf_c_message_free_unpacked((ProtobufCMessage *)s, NULL);
}

static void test_bytes(void)
{
	static const char *same[] = {"++///j8=", "++///j8",
				     "--___j8=", "--___j8"};
	const uint8_t want[] = {0xfb, 0xef, 0xff, 0xfe, 0x3f};
	char text[256];
	ht_err e;

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		snprintf(text, sizeof(text), "{\"prevId\":\"%s\"}", same[i]);
		Hutong__Header *h = (Hutong__Header *)parse(
		    text, &hutong__header__descriptor, &e);
		CHECK(h != NULL && h->prev_id.len == 5 &&
		      memcmp(h->prev_id.data, want, 5) == 0);
		protobuf_c_message_free_unpacked((ProtobufCMessage *)h, NULL);
	}

	/* 64 hex digits, either case: 32 raw bytes. */
	uint8_t id[32];
	fill_id(id, 0xd0);
	snprintf(
	    text, sizeof(text), "{\"prevId\":\"%s\",\"bodyHash\":\"%s\"}",
	    "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEE"
	    "EF",
	    "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedee"
	    "ef");
	Hutong__Header *h =
	    (Hutong__Header *)parse(text, &hutong__header__descriptor, &e);
	CHECK(h != NULL && h->prev_id.len == 32 &&
	      memcmp(h->prev_id.data, id, 32) == 0 && h->body_hash.len == 32 &&
	      memcmp(h->body_hash.data, id, 32) == 0);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)h, NULL);

	/* 64 characters that are not all hex digits: base64 of 48 bytes. */
	char b64[65];
	memset(b64, 'a', 63);
	b64[63] = 'g', b64[64] = '\0';
	snprintf(text, sizeof(text), "{\"prevId\":\"%s\"}", b64);
	h = (Hutong__Header *)parse(text, &hutong__header__descriptor, &e);
	CHECK(h != NULL && h->prev_id.len == 48 && h->prev_id.data[0] == 0x69 &&
	      h->prev_id.data[47] == 0xa0);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)h, NULL);

	/* "" is empty bytes. */
	h = (Hutong__Header *)parse("{\"prevId\":\"\"}",
				    &hutong__header__descriptor, &e);
	CHECK(h != NULL && h->prev_id.len == 0);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)h, NULL);
}

/* ---- errors: exact path and reason ---- */

static const struct bad {
	const ProtobufCMessageDescriptor *d;
	const char *json;
	const char *field;
	const char *msg; /* exact */
} bad[] = {
#define SUB &hutong__submission__descriptor
#define HDR &hutong__header__descriptor
#define REPLY &hutong__control_reply__descriptor
    {SUB, "{\"author\":\"a\",\"body\":{\"intelligence\":{\"foo\":1}}}",
     "body.intelligence.foo", "unknown field"},
    {SUB,
     "{\"body\":{\"intelligence\":{\"people\":[{\"name\":\"x\"},"
     "{\"name\":\"y\",\"role\":\"boss\"}]}}}",
     "body.intelligence.people[1].role", "unknown enum value 'boss'"},
    {SUB, "{\"scope\":\"scope_local\"}", "scope",
     "unknown enum value 'scope_local'"},
    {SUB, "{\"scope\":true}", "scope",
     "expected an enum name or number, got a boolean"},
    {SUB, "{\"scope\":2147483648}", "scope",
     "value 2147483648 out of range for enum"},
    {REPLY, "{\"code\":2147483648}", "code",
     "value 2147483648 out of range for int32"},
    {REPLY, "{\"code\":-2147483649}", "code",
     "value -2147483649 out of range for int32"},
    {REPLY, "{\"code\":\"2147483648\"}", "code",
     "value '2147483648' out of range for int32"},
    {REPLY, "{\"code\":1.5}", "code", "expected an integer"},
    {REPLY, "{\"code\":true}", "code", "expected an integer, got a boolean"},
    {REPLY, "{\"results\":[{\"id\":\"AA==\"},{\"error\":7}]}",
     "results[1].error", "expected a string, got a number"},
    {HDR, "{\"seq\":-1}", "seq", "value -1 out of range for uint64"},
    {HDR, "{\"seq\":\"-1\"}", "seq", "value '-1' out of range for uint64"},
    {HDR, "{\"seq\":\"18446744073709551616\"}", "seq",
     "value '18446744073709551616' out of range for uint64"},
    {HDR, "{\"seq\":1e20}", "seq", "value 1e+20 out of range for uint64"},
    {HDR, "{\"seq\":\"+5\"}", "seq", "expected an integer"},
    {HDR, "{\"seq\":\" 5\"}", "seq", "expected an integer"},
    {HDR, "{\"seq\":\"\"}", "seq", "expected an integer"},
    {HDR, "{\"seq\":\"0x10\"}", "seq", "expected an integer"},
    {HDR, "{\"seq\":\"1e3\"}", "seq", "expected an integer"},
    {HDR, "{\"createdMs\":\"-9223372036854775809\"}", "createdMs",
     "value '-9223372036854775809' out of range for int64"},
    {HDR, "{\"createdMs\":9.3e18}", "createdMs",
     "value 9.3e+18 out of range for int64"},
    {SUB,
     "{\"body\":{\"fleeingOrganization\":{\"estimatedMembers\":"
     "4294967296}}}",
     "body.fleeingOrganization.estimatedMembers",
     "value 4294967296 out of range for uint32"},
    {SUB, "{\"body\":{\"fleeing_organization\":{\"sighting\":\"true\"}}}",
     "body.fleeing_organization.sighting", "expected a boolean, got a string"},
    {SUB, "{\"author\":5}", "author", "expected a string, got a number"},
    {SUB, "{\"author\":{}}", "author", "expected a string, got an object"},
    {SUB, "{\"body\":{\"intelligence\":{\"aliases\":\"x\"}}}",
     "body.intelligence.aliases", "expected an array, got a string"},
    {SUB, "{\"body\":[]}", "body", "expected an object, got an array"},
    {SUB, "{\"body\":{\"intelligence\":{\"people\":[\"x\"]}}}",
     "body.intelligence.people[0]", "expected an object, got a string"},
    {SUB, "{\"body\":{\"intelligence\":{},\"genesis\":{}}}", "body.genesis",
     "oneof already set by 'intelligence'"},
    {SUB,
     "{\"body\":{\"fleeing_organization\":{},\"correction\":null,"
     "\"repatriation\":{}}}",
     "body.repatriation", "oneof already set by 'fleeingOrganization'"},
    {SUB,
     "{\"body\":{\"fleeingOrganization\":{\"orgId\":\"x\","
     "\"org_id\":\"y\"}}}",
     "body.fleeingOrganization.org_id", "field 'org_id' given twice"},
    {SUB, "{\"body\":{\"intelligence\":{\"aliases\":[\"a\",null]}}}",
     "body.intelligence.aliases[1]", "null is not allowed in a list"},
    {SUB, "{\"body\":{\"intelligence\":{\"related\":[\"AAAA\",\"@@@@\"]}}}",
     "body.intelligence.related[1]", "invalid base64"},
    {SUB,
     "{\"body\":{\"correction\":{\"replacement\":{\"genesis\":{"
     "\"publicKey\":\"QR==\"}}}}}",
     "body.correction.replacement.genesis.publicKey", "invalid base64"},
    {HDR, "{\"prevId\":\"A\"}", "prevId", "invalid base64"},
    {HDR, "{\"prevId\":\"QQ=\"}", "prevId", "invalid base64"},
    {HDR, "{\"prevId\":\"QQ===\"}", "prevId", "invalid base64"},
    {HDR, "{\"prevId\":\"Q=Q=\"}", "prevId", "invalid base64"},
    {HDR, "{\"prevId\":\"QUJD\\nRA==\"}", "prevId", "invalid base64"},
    {HDR, "{\"prevId\":\"QUJD RA==\"}", "prevId", "invalid base64"},
    {HDR, "{\"prevId\":5}", "prevId", "expected a base64 string, got a number"},
    {HDR, "{\"a\\u0001b\":1}", "a?b", "unknown field"},
    {HDR, "{\"OriginRegion\":\"x\"}", "OriginRegion", "unknown field"},
    {HDR, "{\"origin-region\":\"x\"}", "origin-region", "unknown field"},
    {HDR, "[1]", "", "expected an object, got an array"},
#undef SUB
#undef HDR
#undef REPLY
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ht_err e;
		ProtobufCMessage *m = parse(bad[i].json, bad[i].d, &e);
		CHECK(m == NULL);
		CHECK_STR(e.field, bad[i].field);
		CHECK_STR(e.msg, bad[i].msg);
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

static void test_syntax(void)
{
	ht_err e;
	char buf[HT_ERR_FIELD_MAX + HT_ERR_MSG_MAX];

	CHECK(parse("{\"author\": }", &hutong__submission__descriptor, &e) ==
	      NULL);
	CHECK_STR(e.field, "");
	CHECK_HAS(e.msg, "line 1, column 12: ");
	CHECK(parse("{\n\"author\":\"a\",\n\"author\":\"b\"}",
		    &hutong__submission__descriptor, &e) == NULL);
	CHECK_HAS(e.msg, "line 3, column ");
	CHECK_HAS(e.msg, "duplicate object key");
	CHECK(parse("{} x", &hutong__submission__descriptor, &e) == NULL);
	CHECK_HAS(e.msg, "end of file expected");
	CHECK(parse("{\"author\":\"a\\u0000b\"}",
		    &hutong__submission__descriptor, &e) == NULL);
	CHECK_HAS(e.msg, "line 1, column");
	CHECK(parse("{\"author\":\"\xff\"}", &hutong__submission__descriptor,
		    &e) == NULL);
	CHECK_HAS(e.msg, "unable to decode byte 0xff");
	CHECK(parse("", &hutong__submission__descriptor, &e) == NULL);
	CHECK_HAS(e.msg, "line 1");
	CHECK_HAS(ht_err_str(&e, buf, sizeof(buf)), "line 1");
}

/* json_t values that jansson's parser never produces. */
static void test_built_values(void)
{
	ht_err e;
	json_t *o = json_object();

	json_object_set_new(o, "author", json_stringn("a\0b", 3));
	CHECK(json_to_message(o, &hutong__submission__descriptor, &e) == NULL);
	CHECK_STR(e.field, "author");
	CHECK_STR(e.msg, "contains a NUL character");
	json_object_set_new(o, "author", json_stringn_nocheck("\xc0\x80", 2));
	CHECK(json_to_message(o, &hutong__submission__descriptor, &e) == NULL);
	CHECK_STR(e.msg, "not valid UTF-8");
	json_object_set_new(o, "author", json_string_nocheck("\xed\xa0\x80"));
	CHECK(json_to_message(o, &hutong__submission__descriptor, &e) == NULL);
	CHECK_STR(e.msg, "not valid UTF-8");
	json_object_set_new(o, "author", json_string("ok"));
	json_object_set_new(o, "scope", json_stringn("SCOPE_LOCAL\0x", 13));
	CHECK(json_to_message(o, &hutong__submission__descriptor, &e) == NULL);
	CHECK_STR(e.msg, "unknown enum value 'SCOPE_LOCAL?x'");
	json_object_del(o, "scope");
	json_object_setn_new(o, "author\0x", 8, json_string("b"));
	CHECK(json_to_message(o, &hutong__submission__descriptor, &e) == NULL);
	CHECK_STR(e.field, "author?x");
	CHECK_STR(e.msg, "unknown field");
	json_decref(o);

	/* A long key is cut in the path and marked. */
	char key[200], text[300];
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(text, sizeof(text), "{\"%s\":1}", key);
	CHECK(parse(text, &hutong__header__descriptor, &e) == NULL);
	CHECK_EQ_INT(strlen(e.field), 43);
	CHECK(strcmp(e.field + 40, "...") == 0);
}

/* Submission -> body -> correction -> replacement -> correction ...: a
 * message chain of `levels` messages, with `tail` inside the innermost. */
static char *nested_submission(int levels, const char *tail)
{
	size_t cap = 64 + (size_t)levels * 40 + strlen(tail);
	char *s = malloc(cap);
	size_t n = (size_t)snprintf(s, cap, "{\"author\":\"a\",\"body\":");
	int i;

	for (i = 2; i < levels; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s",
				      i % 2 == 0 ? "{\"correction\":"
						 : "{\"replacement\":");
	n += (size_t)snprintf(s + n, cap - n, "{%s}", tail);
	for (i = 2; i < levels; i++)
		s[n++] = '}';
	snprintf(s + n, cap - n, "}");
	return s;
}

static void test_depth(void)
{
	ht_err e;
	char *t = nested_submission(JSON_MAX_DEPTH, "");
	ProtobufCMessage *m = parse(t, &hutong__submission__descriptor, &e);

	CHECK(m != NULL);
	if (m != NULL) {
		json_t *j = json_from_message(m, 0);
		CHECK(j != NULL);
		json_decref(j);
		check_roundtrip(m, 0);

		/* One more level, built by hand, is too deep to write. */
		Hutong__Submission top = HUTONG__SUBMISSION__INIT;
		Hutong__Body b = HUTONG__BODY__INIT;
		Hutong__Correction c = HUTONG__CORRECTION__INIT;
		top.body = &b;
		b.content_case = HUTONG__BODY__CONTENT_CORRECTION;
		b.correction = &c;
		c.replacement = ((Hutong__Submission *)m)->body;
		CHECK(json_from_message(&top.base, 0) == NULL);
		c.replacement = NULL;
		char *small = to_text(&top.base, 0);
		CHECK_STR(small, "{\"body\":{\"correction\":{}}}");
		free(small);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	free(t);

	t = nested_submission(JSON_MAX_DEPTH + 1, "");
	CHECK(parse(t, &hutong__submission__descriptor, &e) == NULL);
	CHECK_STR(e.msg, "messages nested deeper than 16");
	CHECK(strncmp(e.field, "...", 3) == 0);
	CHECK_HAS(e.field, "replacement.correction");
	free(t);

	/* The error deep inside still names its tail exactly. */
	t = nested_submission(JSON_MAX_DEPTH, "\"nope\":1");
	CHECK(parse(t, &hutong__submission__descriptor, &e) == NULL);
	CHECK_STR(e.msg, "unknown field");
	CHECK(strlen(e.field) == HT_ERR_FIELD_MAX - 1);
	CHECK(strstr(e.field, "replacement.correction.replacement.nope") !=
	      NULL);
	free(t);

	/* jansson's own limit keeps deep arrays from the converter. */
	char deep[4100];
	memset(deep, '[', 4096);
	deep[4096] = '\0';
	CHECK(parse(deep, &hutong__submission__descriptor, &e) == NULL);
	CHECK_HAS(e.msg, "maximum parsing depth");
}

/* ---- every field type and label: a hand-written descriptor ---- */

typedef struct Kitchen Kitchen;
struct Kitchen {
	ProtobufCMessage base;
	int32_t i32, s32, sf32;
	uint32_t u32, f32;
	int64_t i64, s64, sf64;
	uint64_t u64, f64;
	float fl;
	double db;
	protobuf_c_boolean b;
	int en;
	char *str;
	ProtobufCBinaryData by;
	Kitchen *child;
	size_t n_ri32;
	int32_t *ri32;
	size_t n_ru64;
	uint64_t *ru64;
	size_t n_rd;
	double *rd;
	size_t n_rb;
	protobuf_c_boolean *rb;
	size_t n_ren;
	int *ren;
	size_t n_rf;
	float *rf;
	protobuf_c_boolean has_opt;
	int32_t opt;
	char *ostr;
	uint32_t pick_case;
	union {
		int64_t pick_num;
		char *pick_text;
	};
};

static const ProtobufCMessageDescriptor kitchen_descriptor;

static void kitchen_init(ProtobufCMessage *m)
{
	static const Kitchen init = {
	    PROTOBUF_C_MESSAGE_INIT(&kitchen_descriptor),
	    .str = (char *)protobuf_c_empty_string,
	    .opt = 7,
	};
	*(Kitchen *)m = init;
}

#define F(name, id, label, type, q, off, desc, def, flags)                     \
	{                                                                      \
		name, id, PROTOBUF_C_LABEL_##label, PROTOBUF_C_TYPE_##type, q, \
		    offsetof(Kitchen, off), desc, def, flags, 0, NULL, NULL    \
	}
#define S(name, id, type, off) F(name, id, NONE, type, 0, off, NULL, NULL, 0)
#define R(name, id, type, off, desc)                                           \
	F(name, id, REPEATED, type, offsetof(Kitchen, n_##off), off, desc,     \
	  NULL, 0)

static const ProtobufCFieldDescriptor kitchen_fields[] = {
    S("int32_val", 1, INT32, i32),
    S("sint32_val", 2, SINT32, s32),
    S("sfixed32_val", 3, SFIXED32, sf32),
    S("uint32_val", 4, UINT32, u32),
    S("fixed32_val", 5, FIXED32, f32),
    S("int64_val", 6, INT64, i64),
    S("sint64_val", 7, SINT64, s64),
    S("sfixed64_val", 8, SFIXED64, sf64),
    S("uint64_val", 9, UINT64, u64),
    S("fixed64_val", 10, FIXED64, f64),
    S("float_val", 11, FLOAT, fl),
    S("double_val", 12, DOUBLE, db),
    S("bool_val", 13, BOOL, b),
    F("enum_val", 14, NONE, ENUM, 0, en, &hutong__role__descriptor, NULL, 0),
    F("string_val", 15, NONE, STRING, 0, str, NULL, &protobuf_c_empty_string,
      0),
    S("bytes_val", 16, BYTES, by),
    F("child", 17, NONE, MESSAGE, 0, child, &kitchen_descriptor, NULL, 0),
    R("r_int32", 18, INT32, ri32, NULL),
    R("r_uint64", 19, UINT64, ru64, NULL),
    R("r_double", 20, DOUBLE, rd, NULL),
    R("r_bool", 21, BOOL, rb, NULL),
    R("r_enum", 22, ENUM, ren, &hutong__role__descriptor),
    R("r_float", 23, FLOAT, rf, NULL),
    F("opt_int32", 24, OPTIONAL, INT32, offsetof(Kitchen, has_opt), opt, NULL,
      NULL, 0),
    F("opt_string", 25, OPTIONAL, STRING, 0, ostr, NULL, NULL, 0),
    F("pick_num", 26, NONE, INT64, offsetof(Kitchen, pick_case), pick_num, NULL,
      NULL, PROTOBUF_C_FIELD_FLAG_ONEOF),
    F("pick_text", 27, NONE, STRING, offsetof(Kitchen, pick_case), pick_text,
      NULL, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF),
};

static const ProtobufCIntRange kitchen_ranges[] = {{1, 0}, {0, 27}};

static const ProtobufCMessageDescriptor kitchen_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "test.Kitchen",
    "Kitchen",
    "Kitchen",
    "test",
    sizeof(Kitchen),
    27,
    kitchen_fields,
    NULL,
    1,
    kitchen_ranges,
    kitchen_init,
    NULL,
    NULL,
    NULL,
};

/* proto2: a message with one required string. */
typedef struct Req {
	ProtobufCMessage base;
	char *req_name;
} Req;

static const ProtobufCMessageDescriptor req_descriptor;

static void req_init(ProtobufCMessage *m)
{
	static const Req init = {PROTOBUF_C_MESSAGE_INIT(&req_descriptor),
				 NULL};
	*(Req *)m = init;
}

static const ProtobufCFieldDescriptor req_fields[] = {
    {"req_name", 1, PROTOBUF_C_LABEL_REQUIRED, PROTOBUF_C_TYPE_STRING, 0,
     offsetof(Req, req_name), NULL, NULL, 0, 0, NULL, NULL},
};

static const ProtobufCIntRange req_ranges[] = {{1, 0}, {0, 1}};

static const ProtobufCMessageDescriptor req_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "test.Req",
    "Req",
    "Req",
    "test",
    sizeof(Req),
    1,
    req_fields,
    NULL,
    1,
    req_ranges,
    req_init,
    NULL,
    NULL,
    NULL,
};

static const char kitchen_in[] =
    "{\"int32Val\":-5,\"sint32_val\":\"-2147483648\",\"sfixed32Val\":"
    "2147483647,\"uint32Val\":4294967295,\"fixed32Val\":\"7\","
    "\"int64Val\":\"-9223372036854775808\",\"sint64Val\":-3,"
    "\"sfixed64Val\":\"9223372036854775807\",\"uint64Val\":"
    "\"18446744073709551615\",\"fixed64Val\":1e3,\"floatVal\":1.5,"
    "\"doubleVal\":\"-1.25e-1\",\"boolVal\":true,\"enumVal\":2,"
    "\"stringVal\":\"互通有无\",\"bytesVal\":\"AQID\",\"child\":{"
    "\"int32Val\":1,\"child\":{\"stringVal\":\"leaf\"}},\"rInt32\":[1,-1,"
    "\"2\"],\"rUint64\":[\"0\",5],\"rDouble\":[0.5,\"NaN\",\"Infinity\","
    "\"-Infinity\"],\"rBool\":[true,false],\"rEnum\":[\"ROLE_ORGANIZER\","
    "99],\"rFloat\":[0.25],\"optInt32\":0,\"optString\":\"\","
    "\"pickText\":\"\"}";

static const char kitchen_out[] =
    "{\"int32Val\":-5,\"sint32Val\":-2147483648,\"sfixed32Val\":"
    "2147483647,\"uint32Val\":4294967295,\"fixed32Val\":7,"
    "\"int64Val\":\"-9223372036854775808\",\"sint64Val\":\"-3\","
    "\"sfixed64Val\":\"9223372036854775807\",\"uint64Val\":"
    "\"18446744073709551615\",\"fixed64Val\":\"1000\",\"floatVal\":1.5,"
    "\"doubleVal\":-0.125,\"boolVal\":true,\"enumVal\":\"ROLE_BACKBONE\","
    "\"stringVal\":\"互通有无\",\"bytesVal\":\"AQID\",\"child\":{"
    "\"int32Val\":1,\"child\":{\"stringVal\":\"leaf\"}},\"rInt32\":[1,-1,"
    "2],\"rUint64\":[\"0\",\"5\"],\"rDouble\":[0.5,\"NaN\",\"Infinity\","
    "\"-Infinity\"],\"rBool\":[true,false],\"rEnum\":[\"ROLE_ORGANIZER\","
    "99],\"rFloat\":[0.25],\"optInt32\":0,\"optString\":\"\","
    "\"pickText\":\"\"}";

static void check_kitchen_values(const Kitchen *k)
{
	CHECK_EQ_INT(k->i32, -5);
	CHECK_EQ_INT(k->s32, INT32_MIN);
	CHECK_EQ_INT(k->sf32, INT32_MAX);
	CHECK(k->u32 == UINT32_MAX);
	CHECK_EQ_INT(k->f32, 7);
	CHECK(k->i64 == INT64_MIN);
	CHECK_EQ_INT(k->s64, -3);
	CHECK(k->sf64 == INT64_MAX);
	CHECK(k->u64 == UINT64_MAX);
	CHECK(k->f64 == 1000);
	CHECK(k->fl == 1.5f);
	CHECK(k->db == -0.125);
	CHECK(k->b == 1);
	CHECK_EQ_INT(k->en, HUTONG__ROLE__ROLE_BACKBONE);
	CHECK_STR(k->str, "互通有无");
	CHECK(k->by.len == 3 && k->by.data[0] == 1 && k->by.data[2] == 3);
	CHECK(k->child != NULL && k->child->i32 == 1 &&
	      k->child->child != NULL);
	if (k->child != NULL && k->child->child != NULL)
		CHECK_STR(k->child->child->str, "leaf");
	CHECK(k->n_ri32 == 3 && k->ri32[1] == -1 && k->ri32[2] == 2);
	CHECK(k->n_ru64 == 2 && k->ru64[0] == 0 && k->ru64[1] == 5);
	CHECK(k->n_rd == 4 && k->rd[0] == 0.5 && isnan(k->rd[1]) &&
	      k->rd[2] == INFINITY && k->rd[3] == -INFINITY);
	CHECK(k->n_rb == 2 && k->rb[0] == 1 && k->rb[1] == 0);
	CHECK(k->n_ren == 2 && k->ren[0] == 1 && k->ren[1] == 99);
	CHECK(k->n_rf == 1 && k->rf[0] == 0.25f);
	CHECK(k->has_opt == 1 && k->opt == 0);
	CHECK(k->ostr != NULL && k->ostr[0] == '\0');
	CHECK_EQ_INT(k->pick_case, 27);
	CHECK(k->pick_text != NULL && k->pick_text[0] == '\0');
}

static void test_kitchen(void)
{
	ht_err e;
	Kitchen *k = (Kitchen *)parse(kitchen_in, &kitchen_descriptor, &e);

	CHECK(k != NULL);
	if (k == NULL) {
		fprintf(stderr, "  kitchen: %s: %s\n", e.field, e.msg);
		return;
	}
	check_kitchen_values(k);
	char *t = to_text(&k->base, 0);
	CHECK_STR(t, kitchen_out);
	free(t);
	check_roundtrip(&k->base, 0);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)k, NULL);

	/* Defaults: nothing written; has_ and oneof keep a zero value. */
	k = (Kitchen *)parse("{\"pickNum\":0,\"opt_int32\":null}",
			     &kitchen_descriptor, &e);
	CHECK(k != NULL && k->opt == 7 && k->has_opt == 0 &&
	      k->pick_case == 26);
	t = k ? to_text(&k->base, 0) : NULL;
	CHECK_STR(t, "{\"pickNum\":\"0\"}");
	free(t);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)k, NULL);

	/* Floats: strings, range, spellings strtod alone would take. */
	k = (Kitchen *)parse("{\"floatVal\":\"-Infinity\",\"doubleVal\":"
			     "\"NaN\",\"rFloat\":[3,\"1e2\"]}",
			     &kitchen_descriptor, &e);
	CHECK(k != NULL && k->fl == -INFINITY && isnan(k->db) && k->n_rf == 2 &&
	      k->rf[0] == 3 && k->rf[1] == 100);
	t = k ? to_text(&k->base, 0) : NULL;
	CHECK_STR(t, "{\"floatVal\":\"-Infinity\",\"doubleVal\":\"NaN\","
		     "\"rFloat\":[3.0,100.0]}");
	free(t);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)k, NULL);

	static const struct {
		const char *json, *field, *msg;
	} kbad[] = {
	    {"{\"floatVal\":1e39}", "floatVal",
	     "value 1e+39 out of range for float"},
	    {"{\"doubleVal\":\"1e999\"}", "doubleVal",
	     "value '1e999' out of range for double"},
	    {"{\"doubleVal\":\"inf\"}", "doubleVal", "expected a number"},
	    {"{\"doubleVal\":\"0x10\"}", "doubleVal", "expected a number"},
	    {"{\"doubleVal\":\" 1\"}", "doubleVal", "expected a number"},
	    {"{\"doubleVal\":\"\"}", "doubleVal", "expected a number"},
	    {"{\"doubleVal\":\"-\"}", "doubleVal", "expected a number"},
	    {"{\"doubleVal\":[]}", "doubleVal",
	     "expected a number, got an array"},
	    {"{\"sint32Val\":\"-2147483649\"}", "sint32Val",
	     "value '-2147483649' out of range for int32"},
	    {"{\"fixed32Val\":-1}", "fixed32Val",
	     "value -1 out of range for uint32"},
	    {"{\"fixed64Val\":-1}", "fixed64Val",
	     "value -1 out of range for uint64"},
	    {"{\"rEnum\":[\"ROLE_ORGANIZER\",\"ROLE_BOSS\"]}", "rEnum[1]",
	     "unknown enum value 'ROLE_BOSS'"},
	    {"{\"rBool\":[true,1]}", "rBool[1]",
	     "expected a boolean, got a number"},
	    {"{\"child\":{\"child\":{\"rUint64\":[1,\"x\"]}}}",
	     "child.child.rUint64[1]", "expected an integer"},
	    {"{\"pickText\":\"a\",\"pick_num\":1}", "pick_num",
	     "oneof already set by 'pickText'"},
	    {"{\"pickNum\":1,\"pickText\":\"a\"}", "pickText",
	     "oneof already set by 'pickNum'"},
	};
	for (size_t i = 0; i < sizeof(kbad) / sizeof(kbad[0]); i++) {
		CHECK(parse(kbad[i].json, &kitchen_descriptor, &e) == NULL);
		CHECK_STR(e.field, kbad[i].field);
		CHECK_STR(e.msg, kbad[i].msg);
	}

	/* Kitchen nested 17 deep: refused with the path's tail. */
	char deep[400] = "";
	for (int i = 1; i < JSON_MAX_DEPTH; i++)
		strcat(deep, "{\"child\":");
	strcat(deep, "{}");
	for (int i = 1; i < JSON_MAX_DEPTH; i++)
		strcat(deep, "}");
	k = (Kitchen *)parse(deep, &kitchen_descriptor, &e);
	CHECK(k != NULL);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)k, NULL);
	memmove(deep + 9, deep, strlen(deep) + 1);
	memcpy(deep, "{\"child\":", 9);
	strcat(deep, "}");
	CHECK(parse(deep, &kitchen_descriptor, &e) == NULL);
	CHECK_STR(e.msg, "messages nested deeper than 16");
	CHECK_STR(e.field, "...child.child.child.child.child.child.child."
			   "child.child.child");
}

static void test_required(void)
{
	ht_err e;
	Req *r = (Req *)parse("{}", &req_descriptor, &e);

	CHECK(r == NULL);
	CHECK_STR(e.field, "reqName");
	CHECK_STR(e.msg, "required field missing");
	r = (Req *)parse("{\"reqName\":null}", &req_descriptor, &e);
	CHECK(r == NULL);
	r = (Req *)parse("{\"req_name\":\"x\"}", &req_descriptor, &e);
	CHECK(r != NULL && strcmp(r->req_name, "x") == 0);
	char *t = r ? to_text(&r->base, 0) : NULL;
	CHECK_STR(t, "{\"reqName\":\"x\"}");
	free(t);
	protobuf_c_message_free_unpacked((ProtobufCMessage *)r, NULL);
}

static void test_write_failures(void)
{
	Hutong__Submission s = HUTONG__SUBMISSION__INIT;
	char junk[] = "\xff\xfe";

	s.author = junk; /* jansson refuses text that is not UTF-8 */
	CHECK(json_from_message(&s.base, 0) == NULL);
}

/* The Person document type reads by name (either spelling of the key),
 * writes back by name, and what the record rules refuse (an ESC in a
 * summary, a wrong check character) still reads as JSON: the JSON layer
 * maps, record_check_submission judges. */
static void test_person_document(void)
{
	static const char text[] =
	    "{\"author\":\"o1\",\"body\":{\"intelligence\":{\"summary\":"
	    "\"a\\u001b[2J\",\"people\":[{\"name\":\"A\",\"idNumber\":"
	    "\"E12345678\",\"documentType\":\"DOCUMENT_TYPE_PASSPORT\"},"
	    "{\"name\":\"B\",\"document_type\":3}]}}}";
	ht_err e;
	ht_err_clear(&e);
	Hutong__Submission *s = (Hutong__Submission *)json_parse_message(
	    text, strlen(text), &hutong__submission__descriptor, &e);
	CHECK(s != NULL);
	if (s == NULL) {
		fprintf(stderr, "  %s: %s\n", e.field, e.msg);
		return;
	}
	Hutong__Intelligence *in = s->body->intelligence;
	CHECK_EQ_INT(in->n_people, 2);
	CHECK_EQ_INT(in->people[0]->document_type,
		     HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_PASSPORT);
	CHECK_EQ_INT(in->people[1]->document_type,
		     HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_HK_MACAO_PERMIT);
	CHECK_STR(in->summary, "a\x1b[2J");
	json_t *j = json_from_message(&s->base, 0);
	char *out = json_dumps(j, JSON_COMPACT);
	CHECK_HAS(out, "\"documentType\":\"DOCUMENT_TYPE_PASSPORT\"");
	CHECK_HAS(out, "\"documentType\":\"DOCUMENT_TYPE_HK_MACAO_PERMIT\"");
	free(out);
	json_decref(j);
	protobuf_c_message_free_unpacked(&s->base, NULL);
	static const char bad_doc[] =
	    "{\"name\":\"A\",\"documentType\":\"ID\"}";
	CHECK(json_parse_message(bad_doc, strlen(bad_doc),
				 &hutong__person__descriptor, &e) == NULL);
	CHECK_STR(e.field, "documentType");
	CHECK_STR(e.msg, "unknown enum value 'ID'");
}

int main(void)
{
	test_golden();
	test_submission_kinds();
	test_header_envelope();
	test_read_values();
	test_bytes();
	test_errors();
	test_syntax();
	test_built_values();
	test_depth();
	test_kitchen();
	test_required();
	test_write_failures();
	test_person_document();
	return check_done("test_json");
}
