/*
 * test_record: the signed unit, from both sides.
 *
 * Known answers: one origin's chain (genesis, intel, repatriation, org,
 * correction, retraction) built with a fixed key and fixed times must give
 * the record ids and envelope bytes in tests/data/record/NAME.exp, so an
 * accidental change to the encoding, the hashing or the signing shows.
 *
 * Refusals: every other byte string is built by hand in protobuf wire format
 * (so protobuf-c's encoder cannot tidy it up) and signed with the same key,
 * so the only thing wrong with each is the defect under test; record_parse
 * must refuse it, naming the field and the reason. Each one is also kept in
 * tests/data/record/corrupt/NAME.bin, and every file there must be refused.
 *
 * HUTONG_REGEN=1 rewrites the .exp files and the corpus instead of reading
 * them (libsodium style); commit what it writes.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "person.h"
#include "record.h"
#include "util.h"

#define RECORD_DIR TEST_DATA_DIR "/record"
#define CORRUPT_DIR TEST_DATA_DIR "/record/corrupt"
#define T0 1795939200000 /* 2026-11-29T08:00:00Z */

static uint8_t test_pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t test_sk[crypto_sign_SECRETKEYBYTES];
static uint8_t next_pk[crypto_sign_PUBLICKEYBYTES]; /* after the rotation */
static uint8_t next_sk[crypto_sign_SECRETKEYBYTES];
static bool regen;
static int corpus_named; /* corrupt inputs this run named */

/* ---- the fixed key and a signer ---- */

static void test_key(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)i;
	crypto_sign_seed_keypair(test_pk, test_sk, seed);
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(0x20 + i);
	crypto_sign_seed_keypair(next_pk, next_sk, seed);
}

static int sign_with(void *ctx, const uint8_t *msg, size_t len,
		     uint8_t sig[RECORD_SIG_BYTES])
{
	return crypto_sign_detached(sig, NULL, msg, len, ctx) == 0 ? 0
								   : HT_ECRYPTO;
}

static int sign_fails(void *ctx, const uint8_t *msg, size_t len,
		      uint8_t sig[RECORD_SIG_BYTES])
{
	return HT_ECRYPTO;
}

/* ---- submissions: one valid sample of each kind ---- */

typedef struct sample {
	Hutong__Submission sub;
	Hutong__Body body, inner;
	Hutong__Intelligence intel, intel2;
	Hutong__Repatriation rep;
	Hutong__FleeingOrganization org;
	Hutong__Correction corr;
	Hutong__Genesis gen;
	Hutong__Rotation rot;
	Hutong__Revocation rev;
	Hutong__Person person[2], *people[2];
	Hutong__Place place, *places[1];
	char *aliases[2], *dests[2];
	ProtobufCBinaryData related[1], certs[1];
	uint8_t related_id[RECORD_ID_BYTES], target[RECORD_ID_BYTES];
} sample;

static uint8_t fake_cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
static uint8_t fake_crl[] = {0x30, 0x03, 0x02, 0x01, 0x02};

static void sample_people(sample *s)
{
	hutong__person__init(&s->person[0]);
	s->person[0].name = "张三";
	s->person[0].role = HUTONG__ROLE__ROLE_ORGANIZER;
	s->person[0].id_number = "320102198001011238";
	s->person[0].phone = "13800000000";
	hutong__person__init(&s->person[1]);
	s->person[1].name = "李四";
	s->person[1].role = HUTONG__ROLE__ROLE_PARTICIPANT;
	s->people[0] = &s->person[0];
	s->people[1] = &s->person[1];
	s->aliases[0] = "鑫源";
	s->aliases[1] = "XY mutual aid";
}

static void sample_intel(sample *s, Hutong__Intelligence *in)
{
	hutong__intelligence__init(in);
	in->organization = "鑫源互助会";
	in->n_aliases = 2;
	in->aliases = s->aliases;
	in->n_people = 1;
	in->people = s->people;
	hutong__place__init(&s->place);
	s->place.region = "320100";
	s->place.address = "南京市鼓楼区中山路 1 号";
	s->places[0] = &s->place;
	in->n_places = 1;
	in->places = s->places;
	in->mode = HUTONG__MODE__MODE_GATHERING;
	in->summary = "Weekly gathering of about 40 recruits in a rented "
		      "flat; organizer collects a 69,800 yuan entry fee.";
	in->source = "informant";
	in->reliability = HUTONG__RELIABILITY__RELIABILITY_B;
	in->accuracy = 2;
	in->handling = HUTONG__HANDLING__HANDLING_H1;
	memset(s->related_id, 0x11, sizeof(s->related_id));
	s->related[0] =
	    (ProtobufCBinaryData){sizeof(s->related_id), s->related_id};
	in->n_related = 1;
	in->related = s->related;
}

/* A valid submission of kind (KIND_CORRECTION with retract=false; pass
 * KIND_CORRECTION + 100 for a retraction). */
static void sample_init(sample *s, int kind)
{
	memset(s, 0, sizeof(*s));
	hutong__submission__init(&s->sub);
	hutong__body__init(&s->body);
	hutong__body__init(&s->inner);
	s->sub.author = "officer-017";
	s->sub.scope = HUTONG__SCOPE__SCOPE_PROVINCE;
	s->sub.body = &s->body;
	sample_people(s);
	memset(s->target, 0x22, sizeof(s->target));
	switch (kind) {
	case HUTONG__KIND__KIND_INTELLIGENCE:
		sample_intel(s, &s->intel);
		s->body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
		s->body.intelligence = &s->intel;
		break;
	case HUTONG__KIND__KIND_REPATRIATION:
		hutong__repatriation__init(&s->rep);
		s->rep.case_id = "NJ-2026-0042";
		s->rep.step = HUTONG__STEP__STEP_REQUEST;
		s->rep.n_people = 2;
		s->rep.people = s->people;
		s->rep.from_region = "320100";
		s->rep.to_region = "360100";
		s->rep.time_ms = T0 - 3600000;
		s->rep.escort = "鼓楼分局 two officers";
		s->rep.notes = "Both agree to return home.";
		s->sub.scope = HUTONG__SCOPE__SCOPE_NEIGHBOURS;
		s->body.content_case = HUTONG__BODY__CONTENT_REPATRIATION;
		s->body.repatriation = &s->rep;
		break;
	case HUTONG__KIND__KIND_FLEEING_ORGANIZATION:
		hutong__fleeing_organization__init(&s->org);
		s->org.org_id = "org-xinyuan";
		s->org.name = "鑫源互助会";
		s->org.n_aliases = 2;
		s->org.aliases = s->aliases;
		s->org.n_leaders = 1;
		s->org.leaders = s->people;
		s->org.estimated_members = 120;
		s->org.last_seen_region = "320100";
		s->org.last_seen_ms = T0 - 86400000;
		s->dests[0] = "430100";
		s->dests[1] = "450100";
		s->org.n_suspected_destinations = 2;
		s->org.suspected_destinations = s->dests;
		s->org.level = HUTONG__ALERT_LEVEL__ALERT_LEVEL_HIGH;
		s->org.sighting = 1;
		s->sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
		s->body.content_case =
		    HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION;
		s->body.fleeing_organization = &s->org;
		break;
	case HUTONG__KIND__KIND_CORRECTION:
	case HUTONG__KIND__KIND_CORRECTION + 100:
		hutong__correction__init(&s->corr);
		s->corr.target =
		    (ProtobufCBinaryData){sizeof(s->target), s->target};
		s->corr.reason = "Summary corrected after interview.";
		if (kind == HUTONG__KIND__KIND_CORRECTION) {
			sample_intel(s, &s->intel2);
			s->intel2.summary = "About 60 recruits, not 40.";
			s->inner.content_case =
			    HUTONG__BODY__CONTENT_INTELLIGENCE;
			s->inner.intelligence = &s->intel2;
			s->corr.replacement = &s->inner;
		} else {
			s->corr.retract = 1;
			s->corr.reason = "Case opened in error.";
		}
		s->body.content_case = HUTONG__BODY__CONTENT_CORRECTION;
		s->body.correction = &s->corr;
		break;
	case HUTONG__KIND__KIND_GENESIS:
		hutong__genesis__init(&s->gen);
		s->gen.public_key =
		    (ProtobufCBinaryData){sizeof(test_pk), test_pk};
		s->certs[0] =
		    (ProtobufCBinaryData){sizeof(fake_cert), fake_cert};
		s->gen.n_certificates = 1;
		s->gen.certificates = s->certs;
		s->sub.author = "hutongd";
		s->sub.scope = HUTONG__SCOPE__SCOPE_UNSPECIFIED;
		s->body.content_case = HUTONG__BODY__CONTENT_GENESIS;
		s->body.genesis = &s->gen;
		break;
	case HUTONG__KIND__KIND_ROTATION:
		hutong__rotation__init(&s->rot);
		s->rot.public_key =
		    (ProtobufCBinaryData){sizeof(next_pk), next_pk};
		s->certs[0] =
		    (ProtobufCBinaryData){sizeof(fake_cert), fake_cert};
		s->rot.n_certificates = 1;
		s->rot.certificates = s->certs;
		s->sub.author = "hutongd";
		s->sub.scope = HUTONG__SCOPE__SCOPE_UNSPECIFIED;
		s->body.content_case = HUTONG__BODY__CONTENT_ROTATION;
		s->body.rotation = &s->rot;
		break;
	case HUTONG__KIND__KIND_REVOCATION:
		hutong__revocation__init(&s->rev);
		s->rev.crl = (ProtobufCBinaryData){sizeof(fake_crl), fake_crl};
		s->sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
		s->body.content_case = HUTONG__BODY__CONTENT_REVOCATION;
		s->body.revocation = &s->rev;
		break;
	}
}

/* ---- hand-written protobuf wire format ---- */

typedef struct wbuf {
	uint8_t *b;
	size_t n, cap;
} wbuf;

static void w_raw(wbuf *w, const void *p, size_t n)
{
	if (w->n + n > w->cap) {
		w->cap = 2 * (w->n + n) + 64;
		w->b = realloc(w->b, w->cap);
		if (w->b == NULL)
			abort();
	}
	if (n > 0)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void w_free(wbuf *w)
{
	free(w->b);
	memset(w, 0, sizeof(*w));
}

static void w_varint(wbuf *w, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		w_raw(w, &c, 1);
	} while (v);
}

/* v in one byte more than it needs: a trailing 0x00 group. */
static void w_varint_padded(wbuf *w, uint64_t v)
{
	do {
		uint8_t c = (v & 0x7f) | 0x80;
		v >>= 7;
		w_raw(w, &c, 1);
	} while (v);
	w_raw(w, "\0", 1);
}

static void w_tag(wbuf *w, unsigned field, unsigned wire)
{
	w_varint(w, (uint64_t)field << 3 | wire);
}

static void w_uint(wbuf *w, unsigned field, uint64_t v)
{
	w_tag(w, field, 0);
	w_varint(w, v);
}

static void w_len(wbuf *w, unsigned field, const void *p, size_t n)
{
	w_tag(w, field, 2);
	w_varint(w, n);
	w_raw(w, p, n);
}

static void w_str(wbuf *w, unsigned field, const char *s)
{
	w_len(w, field, s, strlen(s));
}

/* Header field f of h, omitted when it holds the default (canonical). */
static void w_header_field(wbuf *w, const Hutong__Header *h, unsigned f)
{
	switch (f) {
	case 1:
		if (h->origin_region[0])
			w_str(w, 1, h->origin_region);
		break;
	case 2:
		if (h->origin_node[0])
			w_str(w, 2, h->origin_node);
		break;
	case 3:
		if (h->seq)
			w_uint(w, 3, h->seq);
		break;
	case 4:
		if (h->prev_id.len)
			w_len(w, 4, h->prev_id.data, h->prev_id.len);
		break;
	case 5:
		if (h->created_ms)
			w_uint(w, 5, (uint64_t)h->created_ms);
		break;
	case 6:
		if (h->author[0])
			w_str(w, 6, h->author);
		break;
	case 7:
		if (h->kind)
			w_uint(w, 7, (uint64_t)h->kind);
		break;
	case 8:
		if (h->scope)
			w_uint(w, 8, (uint64_t)h->scope);
		break;
	case 9:
		if (h->body_hash.len)
			w_len(w, 9, h->body_hash.data, h->body_hash.len);
		break;
	}
}

/* h canonically: every field in number order. */
static void w_header(wbuf *w, const Hutong__Header *h)
{
	for (unsigned f = 1; f <= 9; f++)
		w_header_field(w, h, f);
}

static void w_envelope(wbuf *w, const uint8_t *h, size_t hl, const uint8_t *sig,
		       size_t sl, const uint8_t *b, size_t bl)
{
	if (hl)
		w_len(w, 1, h, hl);
	if (sl)
		w_len(w, 2, sig, sl);
	if (bl)
		w_len(w, 3, b, bl);
}

/* {header, Ed25519(header) with the test key, body}. */
static void w_signed(wbuf *w, const wbuf *hdr, const uint8_t *b, size_t bl)
{
	uint8_t sig[RECORD_SIG_BYTES];
	crypto_sign_detached(sig, NULL, hdr->b, hdr->n, test_sk);
	w_envelope(w, hdr->b, hdr->n, sig, sizeof(sig), b, bl);
}

/* ---- record parts ---- */

static Hutong__Envelope *unpack_env(const record *r)
{
	size_t n;
	const uint8_t *b = record_bytes(r, &n);
	Hutong__Envelope *e = hutong__envelope__unpack(NULL, n, b);
	if (e == NULL)
		abort();
	return e;
}

static uint8_t *pack_body(const Hutong__Body *b, size_t *len)
{
	*len = hutong__body__get_packed_size(b);
	uint8_t *out = malloc(*len + 1);
	if (out == NULL)
		abort();
	hutong__body__pack(b, out);
	return out;
}

/* ---- known answers ---- */

enum { K_GENESIS, K_INTEL, K_REP, K_ORG, K_CORR, K_RETRACT, K_ROT, K_REV, K_N };
static record *chain[K_N];

static const struct {
	const char *name;
	int kind;
} kats[K_N] = {
    {"genesis", HUTONG__KIND__KIND_GENESIS},
    {"intel", HUTONG__KIND__KIND_INTELLIGENCE},
    {"repatriation", HUTONG__KIND__KIND_REPATRIATION},
    {"org", HUTONG__KIND__KIND_FLEEING_ORGANIZATION},
    {"correction", HUTONG__KIND__KIND_CORRECTION},
    {"retraction", HUTONG__KIND__KIND_CORRECTION + 100},
    {"rotation", HUTONG__KIND__KIND_ROTATION},	   /* signed by the old key */
    {"revocation", HUTONG__KIND__KIND_REVOCATION}, /* and by the new one */
};

/* The key that signs known-answer record k. */
static const uint8_t *kat_pk(int k) { return k > K_ROT ? next_pk : test_pk; }

static char *kat_text(int i, const record *r)
{
	char seed[2 * crypto_sign_SEEDBYTES + 1], id[2 * RECORD_ID_BYTES + 1];
	size_t len;
	const uint8_t *env = record_bytes(r, &len);
	char *envhex = malloc(2 * len + 1), *out = malloc(2 * len + 512);
	if (envhex == NULL || out == NULL)
		abort();
	util_hex(i > K_ROT ? next_sk : test_sk, crypto_sign_SEEDBYTES, seed);
	snprintf(out, 2 * len + 512,
		 "# %s record: origin 320100/nanjing seq %d created_ms %lld\n"
		 "# Ed25519 seed %s\nid=%s\nenvelope=%s\n",
		 kats[i].name, i + 1, (long long)(T0 + 1000 * (i + 1)), seed,
		 util_hex(record_id(r), RECORD_ID_BYTES, id),
		 util_hex(env, len, envhex));
	free(envhex);
	return out;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK(n == 0 || fwrite(p, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

/* Compare want (or write it, with HUTONG_REGEN=1) with the file at path. */
static void check_known(const char *path, const char *want)
{
	if (regen) {
		write_file(path, want, strlen(want));
		return;
	}
	uint8_t *got = NULL;
	size_t len = 0;
	ht_err e;
	int rc = util_read_file(path, 1 << 20, &got, &len, &e);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  %s missing: run with HUTONG_REGEN=1\n",
			path);
		return;
	}
	bool same = len == strlen(want) && memcmp(got, want, len) == 0;
	CHECK(same);
	if (!same)
		fprintf(stderr, "  %s differs; this build gives:\n%s", path,
			want);
	free(got);
}

static void test_known_answers(void)
{
	const uint8_t *prev = NULL;
	for (int i = 0; i < K_N; i++) {
		sample s;
		sample_init(&s, kats[i].kind);
		if (i == K_CORR)
			memcpy(s.target, record_id(chain[K_INTEL]), 32);
		if (i == K_RETRACT)
			memcpy(s.target, record_id(chain[K_REP]), 32);
		record_origin o = {"320100", "nanjing", (uint64_t)i + 1, prev,
				   T0 + 1000 * (i + 1)};
		ht_err e;
		ht_err_clear(&e);
		int rc =
		    record_build(&s.sub, &o, sign_with,
				 i > K_ROT ? next_sk : test_sk, &chain[i], &e);
		CHECK_EQ_INT(rc, 0);
		if (rc != 0) {
			fprintf(stderr, "  %s: %s: %s\n", kats[i].name, e.field,
				e.msg);
			abort(); /* everything below builds on the chain */
		}
		const record *r = chain[i];
		const Hutong__Header *h = record_header(r);
		CHECK_STR(h->origin_region, "320100");
		CHECK_STR(h->origin_node, "nanjing");
		CHECK_EQ_INT(h->seq, i + 1);
		CHECK_EQ_INT(h->created_ms, T0 + 1000 * (i + 1));
		CHECK_EQ_INT(h->kind, record_body_kind(record_body(r)));
		CHECK(record_is_genesis(r) == (i == K_GENESIS));
		CHECK(record_verify(r, kat_pk(i)));
		CHECK(record_verify(r,
				    kat_pk(i) == test_pk ? next_pk : test_pk) ==
		      false);
		if (prev == NULL)
			CHECK_EQ_INT(h->prev_id.len, 0);
		else
			CHECK(h->prev_id.len == 32 &&
			      memcmp(h->prev_id.data, prev, 32) == 0);

		/* id = SHA-256(header bytes); hand encoding = protobuf-c's */
		size_t hl;
		const uint8_t *hb = record_header_bytes(r, &hl);
		uint8_t id[32];
		crypto_hash_sha256(id, hb, hl);
		CHECK(memcmp(id, record_id(r), 32) == 0);
		wbuf w = {0};
		w_header(&w, h);
		CHECK(w.n == hl && memcmp(w.b, hb, hl) == 0);
		w_free(&w);

		/* parse(bytes) gives the same record back */
		size_t len;
		const uint8_t *env = record_bytes(r, &len);
		record *again = record_parse(env, len, &e);
		CHECK(again != NULL);
		if (again != NULL)
			CHECK(memcmp(record_id(again), record_id(r), 32) == 0);
		record_free(&again);

		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s.exp", RECORD_DIR,
			 kats[i].name);
		char *text = kat_text(i, r);
		check_known(path, text);
		free(text);
		prev = record_id(r);
	}
	const Hutong__Body *b = record_body(chain[K_CORR]);
	CHECK(b != NULL && b->correction->replacement != NULL);
	CHECK(memcmp(b->correction->target.data, record_id(chain[K_INTEL]),
		     32) == 0);
	CHECK(record_body(chain[K_RETRACT])->correction->retract);
	const uint8_t *pk = NULL;
	const ProtobufCBinaryData *certs = NULL;
	size_t n_certs = 0;
	CHECK(record_key_change(chain[K_ROT], &pk, &certs, &n_certs));
	CHECK(pk != NULL && memcmp(pk, next_pk, 32) == 0 && n_certs == 1);
	CHECK(record_key_change(chain[K_GENESIS], &pk, &certs, &n_certs));
	CHECK(pk != NULL && memcmp(pk, test_pk, 32) == 0);
	CHECK(!record_key_change(chain[K_INTEL], &pk, &certs, &n_certs));
	record *bare = record_without_body(chain[K_ROT]);
	CHECK(bare != NULL && !record_key_change(bare, &pk, &certs, &n_certs));
	record_free(&bare);
}

static void test_names(void)
{
	for (int k = HUTONG__KIND__KIND_INTELLIGENCE;
	     k <= HUTONG__KIND__KIND_REVOCATION; k++)
		CHECK_EQ_INT(record_kind_parse(record_kind_name(k)), k);
	CHECK_STR(record_kind_name(HUTONG__KIND__KIND_FLEEING_ORGANIZATION),
		  "org");
	CHECK_STR(record_kind_name(0), "unknown");
	CHECK_STR(record_kind_name(99), "unknown");
	CHECK_EQ_INT(record_kind_parse("Intel"), -1);
	CHECK_EQ_INT(record_kind_parse(""), -1);
	CHECK_EQ_INT(record_body_kind(NULL), HUTONG__KIND__KIND_UNSPECIFIED);
}

/* ---- refusals ---- */

/* Keep buf as CORRUPT_DIR/name.bin (HUTONG_REGEN=1), or check it is there. */
static void corpus_add(const char *name, const wbuf *w)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.bin", CORRUPT_DIR, name);
	corpus_named++;
	if (regen) {
		write_file(path, w->b, w->n);
		return;
	}
	if (access(path, R_OK) != 0)
		fprintf(stderr, "  %s missing: run with HUTONG_REGEN=1\n",
			path);
	CHECK(access(path, R_OK) == 0);
}

/* Does record_parse refuse w, naming field and saying msg? name: the
 * corpus file to keep it in (NULL: too big to keep). */
static bool refused(const char *name, const wbuf *w, const char *field,
		    const char *msg)
{
	ht_err e;
	ht_err_clear(&e);
	record *r = record_parse(w->b, w->n, &e);
	bool ok = r == NULL && strcmp(e.field, field) == 0 &&
		  strstr(e.msg, msg) != NULL;
	if (!ok)
		fprintf(stderr,
			"  %s: %s; err \"%s: %s\", expected \"%s: "
			"...%s...\"\n",
			name ? name : "(unnamed)", r ? "parsed" : "refused",
			e.field, e.msg, field, msg);
	record_free(&r);
	if (name != NULL)
		corpus_add(name, w);
	return ok;
}

/* Does w parse and verify with the test key (the control case)? */
static bool accepted(const wbuf *w)
{
	ht_err e;
	ht_err_clear(&e);
	record *r = record_parse(w->b, w->n, &e);
	bool ok = r != NULL && record_verify(r, test_pk);
	if (r == NULL)
		fprintf(stderr, "  control refused: %s: %s\n", e.field, e.msg);
	record_free(&r);
	return ok;
}

/* Parses, but the signature does not verify with the test key. */
static bool unverified(const char *name, const wbuf *w)
{
	record *r = record_parse(w->b, w->n, NULL);
	bool ok = r != NULL && !record_verify(r, test_pk);
	record_free(&r);
	corpus_add(name, w);
	return ok;
}

static void test_envelope_refusals(void)
{
	Hutong__Envelope *e = unpack_env(chain[K_INTEL]);
	Hutong__Envelope *rep = unpack_env(chain[K_REP]);
	const ProtobufCBinaryData *H = &e->header, *S = &e->signature,
				  *B = &e->body;
	wbuf w = {0};

	w_envelope(&w, H->data, H->len, S->data, S->len, B->data, B->len);
	size_t len;
	const uint8_t *orig = record_bytes(chain[K_INTEL], &len);
	CHECK(w.n == len && memcmp(w.b, orig, len) == 0);
	CHECK(accepted(&w));
	w_free(&w);

	CHECK(refused("env_empty", &w, "envelope", "0 bytes"));
	uint8_t *big = calloc(1, RECORD_MAX_ENVELOPE + 1);
	wbuf huge = {big, RECORD_MAX_ENVELOPE + 1, RECORD_MAX_ENVELOPE + 1};
	CHECK(refused(NULL, &huge, "envelope", "limit"));
	w_free(&huge);

	w_raw(&w, "hello, world", 12);
	CHECK(refused("env_garbage", &w, "envelope",
		      "not a valid protobuf Envelope"));
	w_free(&w);

	w_envelope(&w, H->data, H->len, S->data, S->len, B->data, B->len);
	w.n--;
	CHECK(refused("env_truncated", &w, "envelope",
		      "not a valid protobuf Envelope"));
	w_free(&w);

	w_len(&w, 2, S->data, S->len); /* signature first */
	w_len(&w, 1, H->data, H->len);
	w_len(&w, 3, B->data, B->len);
	CHECK(refused("env_reordered", &w, "envelope",
		      "not canonically encoded"));
	w_free(&w);

	w_len(&w, 1, H->data, H->len);
	w_len(&w, 1, H->data, H->len); /* header twice */
	w_len(&w, 2, S->data, S->len);
	w_len(&w, 3, B->data, B->len);
	CHECK(refused("env_header_twice", &w, "envelope",
		      "not canonically encoded"));
	w_free(&w);

	w_envelope(&w, H->data, H->len, S->data, S->len, B->data, B->len);
	w_len(&w, 3, B->data, B->len); /* body twice */
	CHECK(refused("env_body_twice", &w, "envelope",
		      "not canonically encoded"));
	w_free(&w);

	w_envelope(&w, H->data, H->len, S->data, S->len, B->data, B->len);
	w_str(&w, 4, "smuggled"); /* unknown field at the end */
	CHECK(refused("env_unknown_appended", &w, "envelope",
		      "not canonically encoded"));
	w_free(&w);

	w_len(&w, 1, H->data, H->len);
	w_uint(&w, 9, 1); /* unknown field in the middle */
	w_len(&w, 2, S->data, S->len);
	w_len(&w, 3, B->data, B->len);
	CHECK(refused("env_unknown_middle", &w, "envelope",
		      "not canonically encoded"));
	w_free(&w);

	w_tag(&w, 1, 2);
	w_varint_padded(&w, H->len); /* header length in one byte too many */
	w_raw(&w, H->data, H->len);
	w_len(&w, 2, S->data, S->len);
	w_len(&w, 3, B->data, B->len);
	CHECK(refused("env_padded_length", &w, "envelope",
		      "not canonically encoded"));
	w_free(&w);

	w_varint_padded(&w, 1 << 3 | 2); /* tag in two bytes */
	w_varint(&w, H->len);
	w_raw(&w, H->data, H->len);
	w_len(&w, 2, S->data, S->len);
	w_len(&w, 3, B->data, B->len);
	CHECK(refused("env_padded_tag", &w, "envelope",
		      "not canonically encoded"));
	w_free(&w);

	w_len(&w, 1, H->data, H->len);
	w_len(&w, 2, "", 0); /* an empty bytes field written out */
	w_len(&w, 2, S->data, S->len);
	w_len(&w, 3, B->data, B->len);
	CHECK(refused("env_empty_field_written", &w, "envelope",
		      "not canonically encoded"));
	w_free(&w);

	w_envelope(&w, H->data, H->len, S->data, S->len - 1, B->data, B->len);
	CHECK(
	    refused("env_sig_63", &w, "signature", "must be 64 bytes, got 63"));
	w_free(&w);
	uint8_t sig65[65] = {0};
	memcpy(sig65, S->data, 64);
	w_envelope(&w, H->data, H->len, sig65, 65, B->data, B->len);
	CHECK(
	    refused("env_sig_65", &w, "signature", "must be 64 bytes, got 65"));
	w_free(&w);
	w_envelope(&w, H->data, H->len, NULL, 0, B->data, B->len);
	CHECK(refused("env_sig_missing", &w, "signature",
		      "must be 64 bytes, got 0"));
	w_free(&w);

	w_envelope(&w, NULL, 0, S->data, S->len, B->data, B->len);
	CHECK(refused("env_header_missing", &w, "header", "0 bytes"));
	w_free(&w);
	uint8_t *junk = malloc(RECORD_MAX_BODY + 1);
	memset(junk, 0x41, RECORD_MAX_BODY + 1);
	w_envelope(&w, junk, RECORD_MAX_HEADER + 1, S->data, S->len, B->data,
		   B->len);
	CHECK(refused("env_header_oversize", &w, "header", "1025 bytes"));
	w_free(&w);
	w_envelope(&w, H->data, H->len, S->data, S->len, junk,
		   RECORD_MAX_BODY + 1);
	CHECK(refused(NULL, &w, "body", "65537 bytes"));
	w_free(&w);
	free(junk);

	/* another record's body under this header */
	w_envelope(&w, H->data, H->len, S->data, S->len, rep->body.data,
		   rep->body.len);
	CHECK(refused("env_body_swapped", &w, "body",
		      "SHA-256 does not match header.body_hash"));
	w_free(&w);

	/* a valid signature of another header */
	w_envelope(&w, H->data, H->len, rep->signature.data, 64, B->data,
		   B->len);
	CHECK(unverified("env_sig_of_other_header", &w));
	w_free(&w);
	uint8_t bad[64];
	memcpy(bad, S->data, 64);
	bad[10] ^= 0x04;
	w_envelope(&w, H->data, H->len, bad, 64, B->data, B->len);
	CHECK(unverified("env_sig_flipped", &w));
	w_free(&w);

	/* the body withheld: header and signature still verify */
	w_envelope(&w, H->data, H->len, S->data, S->len, NULL, 0);
	record *r = record_parse(w.b, w.n, NULL);
	CHECK(r != NULL && record_body(r) == NULL && record_verify(r, test_pk));
	if (r != NULL)
		CHECK(memcmp(record_id(r), record_id(chain[K_INTEL]), 32) == 0);
	record *wb = record_without_body(chain[K_INTEL]);
	CHECK(wb != NULL && record_body(wb) == NULL);
	if (wb != NULL) {
		size_t n;
		const uint8_t *p = record_bytes(wb, &n);
		CHECK(n == w.n && memcmp(p, w.b, n) == 0);
		CHECK(record_verify(wb, test_pk));
	}
	record_free(&wb);
	record_free(&r);
	w_free(&w);

	hutong__envelope__free_unpacked(e, NULL);
	hutong__envelope__free_unpacked(rep, NULL);
}

/* The intel record's header with its body, re-signed; h may differ. */
static void w_sealed(wbuf *w, const wbuf *hdr, const ProtobufCBinaryData *b)
{
	w_signed(w, hdr, b->data, b->len);
}

static void test_header_refusals(void)
{
	Hutong__Envelope *e = unpack_env(chain[K_INTEL]);
	Hutong__Envelope *ge = unpack_env(chain[K_GENESIS]);
	const Hutong__Header *h0 = record_header(chain[K_INTEL]);
	const Hutong__Header *g0 = record_header(chain[K_GENESIS]);
	static const unsigned reordered[] = {3, 1, 2, 4, 5, 6, 7, 8, 9};
	static const unsigned repeated[] = {1, 2, 3, 4, 5, 6, 6, 7, 8, 9};
	wbuf hb = {0}, w = {0};

	w_header(&hb, h0);
	w_sealed(&w, &hb, &e->body);
	CHECK(accepted(&w)); /* control: hand-built and re-signed */
	w_free(&hb), w_free(&w);

#define FIELDS(list)                                                           \
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)            \
	w_header_field(&hb, h0, list[i])

	FIELDS(reordered);
	w_sealed(&w, &hb, &e->body);
	CHECK(
	    refused("hdr_reordered", &w, "header", "not canonically encoded"));
	w_free(&hb), w_free(&w);

	FIELDS(repeated);
	w_sealed(&w, &hb, &e->body);
	CHECK(refused("hdr_author_twice", &w, "header",
		      "not canonically encoded"));
	w_free(&hb), w_free(&w);

	for (unsigned f = 1; f <= 9; f++) {
		w_header_field(&hb, h0, f);
		if (f == 3)
			w_uint(&hb, 15, 1); /* unknown, in the middle */
	}
	w_sealed(&w, &hb, &e->body);
	CHECK(refused("hdr_unknown_middle", &w, "header",
		      "not canonically encoded"));
	w_free(&hb), w_free(&w);

	w_header(&hb, h0);
	w_uint(&hb, 15, 1); /* unknown, appended */
	w_sealed(&w, &hb, &e->body);
	CHECK(refused("hdr_unknown_appended", &w, "header",
		      "not canonically encoded"));
	w_free(&hb), w_free(&w);

	for (unsigned f = 1; f <= 9; f++) {
		if (f == 3) {
			w_tag(&hb, 3, 0);
			w_varint_padded(&hb, h0->seq);
		} else {
			w_header_field(&hb, h0, f);
		}
	}
	w_sealed(&w, &hb, &e->body);
	CHECK(refused("hdr_padded_varint", &w, "header",
		      "not canonically encoded"));
	w_free(&hb), w_free(&w);

	for (unsigned f = 1; f <= 9; f++) {
		if (f == 6) {
			w_tag(&hb, 6, 2);
			w_varint_padded(&hb, strlen(h0->author));
			w_raw(&hb, h0->author, strlen(h0->author));
		} else {
			w_header_field(&hb, h0, f);
		}
	}
	w_sealed(&w, &hb, &e->body);
	CHECK(refused("hdr_padded_length", &w, "header",
		      "not canonically encoded"));
	w_free(&hb), w_free(&w);

	for (unsigned f = 1; f <= 9; f++) {
		if (f == 6)
			w_len(&hb, 6, "officer\0-017", 12); /* NUL inside */
		else
			w_header_field(&hb, h0, f);
	}
	w_sealed(&w, &hb, &e->body);
	CHECK(refused("hdr_nul_in_string", &w, "header",
		      "not canonically encoded"));
	w_free(&hb), w_free(&w);

	for (unsigned f = 1; f <= 9; f++) {
		if (f == 3) {
			w_tag(&hb, 3, 2); /* seq as a length-delimited field */
			w_varint(&hb, 1);
			w_raw(&hb, "\x02", 1);
		} else {
			w_header_field(&hb, h0, f);
		}
	}
	w_sealed(&w, &hb, &e->body);
	CHECK(refused("hdr_wrong_wire_type", &w, "header",
		      "not a valid protobuf Header"));
	w_free(&hb), w_free(&w);

	/* the genesis header with its default scope written out */
	for (unsigned f = 1; f <= 9; f++) {
		w_header_field(&hb, g0, f);
		if (f == 8)
			w_uint(&hb, 8, 0);
	}
	w_sealed(&w, &hb, &ge->body);
	CHECK(refused("hdr_default_written", &w, "header",
		      "not canonically encoded"));
	w_free(&hb), w_free(&w);
#undef FIELDS

	/* canonical headers that break a rule */
	static const uint8_t short_id[31], long_id[32];
	static char long_author[RECORD_MAX_NAME + 2];
	memset(long_author, 'a', RECORD_MAX_NAME + 1);
	static char long_node[UTIL_NODE_NAME_MAX + 2];
	memset(long_node, 'n', UTIL_NODE_NAME_MAX + 1);
	static const struct {
		const char *name, *field, *msg;
		bool genesis; /* start from the genesis header and body */
	} rules[] = {
	    {"hdr_bad_utf8", "header.author", "not valid UTF-8 at byte 7", 0},
	    {"hdr_control_char", "header.author",
	     "control character U+001B (ESC) at byte 7", 0},
	    {"hdr_newline_author", "header.author",
	     "control character U+000A (LF) at byte 7", 0},
	    {"hdr_bidi_author", "header.author",
	     "bidirectional override U+202E (RLO) at byte 7", 0},
	    {"hdr_c1_author", "header.author",
	     "control character U+009B (CSI) at byte 7", 0},
	    {"hdr_node_long", "header.origin_node", "longer than 64 bytes", 0},
	    {"hdr_long_author", "header.author", "longer than 128 bytes", 0},
	    {"hdr_unknown_kind", "header.kind", "unknown value 99", 0},
	    {"hdr_unknown_scope", "header.scope", "unknown value 7", 0},
	    {"hdr_kind_mismatch", "body",
	     "content is intel but header.kind is repatriation", 0},
	    {"hdr_kind_missing", "header.kind", "required", 0},
	    {"hdr_seq1_not_genesis", "header.kind",
	     "seq 1 and only seq 1 is a genesis record", 0},
	    {"hdr_genesis_at_seq2", "header.kind",
	     "seq 1 and only seq 1 is a genesis record", 1},
	    {"hdr_prev_31", "header.prev_id",
	     "must be a 32-byte record id, got 31 bytes", 0},
	    {"hdr_prev_missing", "header.prev_id",
	     "must be a 32-byte record id, got 0 bytes", 0},
	    {"hdr_prev_at_seq1", "header.prev_id", "must be empty for seq 1",
	     1},
	    {"hdr_seq0", "header.seq", "must be >= 1", 0},
	    {"hdr_region_short", "header.origin_region",
	     "must be six digits, got '32'", 0},
	    {"hdr_region_zero", "header.origin_region",
	     "must be six digits, got '000000'", 0},
	    {"hdr_node_upper", "header.origin_node", "not a valid node name",
	     0},
	    {"hdr_node_missing", "header.origin_node", "not a valid node name",
	     0},
	    {"hdr_created_zero", "header.created_ms",
	     "must be from 2000-01-01T00:00:00Z to before "
	     "2100-01-01T00:00:00Z, got 0",
	     0},
	    {"hdr_created_negative", "header.created_ms",
	     "must be from 2000-01-01T00:00:00Z", 0},
	    {"hdr_created_min", "header.created_ms",
	     "2100-01-01T00:00:00Z, got -9223372036854775808", 0},
	    {"hdr_created_max", "header.created_ms", "got 9223372036854775807",
	     0},
	    {"hdr_created_2100", "header.created_ms", "got 4102444800000", 0},
	    {"hdr_created_1999", "header.created_ms", "got 946684799999", 0},
	    {"hdr_author_missing", "header.author", "required", 0},
	    {"hdr_body_hash_31", "header.body_hash", "must be 32 bytes", 0},
	    {"hdr_genesis_local", "header.scope",
	     "a genesis record is national", 1},
	    {"hdr_genesis_kind_on_intel", "body",
	     "content is intel but header.kind is genesis", 0},
	};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		Hutong__Header h = rules[i].genesis ? *g0 : *h0;
		const char *n = rules[i].name;
		if (!strcmp(n, "hdr_bad_utf8"))
			h.author = "officer\xc0\xaf";
		else if (!strcmp(n, "hdr_control_char"))
			h.author = "officer\x1b[2J";
		else if (!strcmp(n, "hdr_newline_author"))
			h.author = "officer\n2026 320100 intel forged";
		else if (!strcmp(n, "hdr_bidi_author"))
			h.author = "officer\xe2\x80\xae"
				   "710-";
		else if (!strcmp(n, "hdr_c1_author"))
			h.author = "officer\xc2\x9b"
				   "2J";
		else if (!strcmp(n, "hdr_node_long"))
			h.origin_node = long_node;
		else if (!strcmp(n, "hdr_long_author"))
			h.author = long_author;
		else if (!strcmp(n, "hdr_unknown_kind"))
			h.kind = 99;
		else if (!strcmp(n, "hdr_unknown_scope"))
			h.scope = 7;
		else if (!strcmp(n, "hdr_kind_mismatch"))
			h.kind = HUTONG__KIND__KIND_REPATRIATION;
		else if (!strcmp(n, "hdr_kind_missing"))
			h.kind = 0;
		else if (!strcmp(n, "hdr_seq1_not_genesis"))
			h.seq = 1, h.prev_id.len = 0;
		else if (!strcmp(n, "hdr_genesis_at_seq2"))
			h.seq = 2,
			h.prev_id =
			    (ProtobufCBinaryData){32, (uint8_t *)long_id};
		else if (!strcmp(n, "hdr_prev_31"))
			h.prev_id =
			    (ProtobufCBinaryData){31, (uint8_t *)short_id};
		else if (!strcmp(n, "hdr_prev_missing"))
			h.prev_id.len = 0;
		else if (!strcmp(n, "hdr_prev_at_seq1"))
			h.prev_id =
			    (ProtobufCBinaryData){32, (uint8_t *)long_id};
		else if (!strcmp(n, "hdr_seq0"))
			h.seq = 0;
		else if (!strcmp(n, "hdr_region_short"))
			h.origin_region = "32";
		else if (!strcmp(n, "hdr_region_zero"))
			h.origin_region = "000000";
		else if (!strcmp(n, "hdr_node_upper"))
			h.origin_node = "Nanjing";
		else if (!strcmp(n, "hdr_node_missing"))
			h.origin_node = "";
		else if (!strcmp(n, "hdr_created_zero"))
			h.created_ms = 0;
		else if (!strcmp(n, "hdr_created_negative"))
			h.created_ms = -5;
		else if (!strcmp(n, "hdr_created_min"))
			h.created_ms = INT64_MIN;
		else if (!strcmp(n, "hdr_created_max"))
			h.created_ms = INT64_MAX;
		else if (!strcmp(n, "hdr_created_2100"))
			h.created_ms = UTIL_TIME_MAX_MS;
		else if (!strcmp(n, "hdr_created_1999"))
			h.created_ms = UTIL_TIME_MIN_MS - 1;
		else if (!strcmp(n, "hdr_author_missing"))
			h.author = "";
		else if (!strcmp(n, "hdr_body_hash_31"))
			h.body_hash.len = 31;
		else if (!strcmp(n, "hdr_genesis_local"))
			h.scope = HUTONG__SCOPE__SCOPE_LOCAL;
		else if (!strcmp(n, "hdr_genesis_kind_on_intel"))
			h.kind = HUTONG__KIND__KIND_GENESIS, h.seq = 1,
			h.prev_id.len = 0, h.scope = 0;
		w_header(&hb, &h);
		w_sealed(&w, &hb, rules[i].genesis ? &ge->body : &e->body);
		CHECK(refused(n, &w, rules[i].field, rules[i].msg));
		w_free(&hb), w_free(&w);
	}
	hutong__envelope__free_unpacked(e, NULL);
	hutong__envelope__free_unpacked(ge, NULL);
}

/* Intelligence{organization, summary, accuracy} by hand, in Body field 1,
 * under the intel record's header (body hash updated), signed. */
static void w_body_record(wbuf *w, const wbuf *body)
{
	Hutong__Header h = *record_header(chain[K_INTEL]);
	uint8_t hash[RECORD_HASH_BYTES];
	crypto_hash_sha256(hash, body->b, body->n);
	h.body_hash = (ProtobufCBinaryData){sizeof(hash), hash};
	wbuf hb = {0};
	w_header(&hb, &h);
	w_signed(w, &hb, body->b, body->n);
	w_free(&hb);
}

/* Wrap the Intelligence bytes in into Body field 1 (length padded or not). */
static void w_body_intel(wbuf *body, const wbuf *in, bool padded)
{
	w_tag(body, 1, 2);
	if (padded)
		w_varint_padded(body, in->n);
	else
		w_varint(body, in->n);
	w_raw(body, in->b, in->n);
}

static void test_body_refusals(void)
{
	const char *org = "鑫源", *sum = "Gathering of 40 recruits.";
	wbuf in = {0}, body = {0}, w = {0};

	/* control: matches protobuf-c and is accepted */
	w_str(&in, 1, org);
	w_str(&in, 6, sum);
	w_uint(&in, 9, 2);
	w_body_intel(&body, &in, false);
	Hutong__Intelligence ci = HUTONG__INTELLIGENCE__INIT;
	ci.organization = (char *)org;
	ci.summary = (char *)sum;
	ci.accuracy = 2;
	Hutong__Body cb = HUTONG__BODY__INIT;
	cb.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	cb.intelligence = &ci;
	size_t cl;
	uint8_t *cp = pack_body(&cb, &cl);
	CHECK(cl == body.n && memcmp(cp, body.b, cl) == 0);
	free(cp);
	w_body_record(&w, &body);
	CHECK(accepted(&w));
	w_free(&w), w_free(&body);

	w_body_intel(&body, &in, true);
	w_body_record(&w, &body);
	CHECK(refused("body_padded_length", &w, "body",
		      "not canonically encoded"));
	w_free(&w), w_free(&body);

	w_body_intel(&body, &in, false);
	w_uint(&body, 15, 1); /* unknown field after the oneof */
	w_body_record(&w, &body);
	CHECK(refused("body_unknown_appended", &w, "body",
		      "not canonically encoded"));
	w_free(&w), w_free(&body);

	w_body_intel(&body, &in, false);
	w_body_intel(&body, &in, false); /* the oneof member twice */
	w_body_record(&w, &body);
	CHECK(refused("body_member_twice", &w, "body",
		      "not canonically encoded"));
	w_free(&w), w_free(&body), w_free(&in);

	/* Corrections nested in replacements: deep enough to exhaust the
	 * stack in protobuf-c's recursive decoder if nothing stopped it. */
	for (int levels = 2; levels <= 5000; levels += 4998) {
		wbuf a = {0};
		w_len(&a, 1, "\x32\x01x", 3); /* Body{intel{summary "x"}} */
		for (int i = 0; i < levels; i++) {
			wbuf c = {0};
			if (levels == 2) {
				w_len(&c, 1, record_id(chain[K_INTEL]), 32);
				w_str(&c, 3, "nested"); /* reason */
			}
			w_len(&c, 4, a.b, a.n); /* replacement */
			w_free(&a);
			w_len(&a, 4, c.b, c.n); /* Body.correction */
			w_free(&c);
		}
		w_body_record(&w, &a);
		if (levels == 2)
			CHECK(refused("body_correction_in_replacement", &w,
				      "body.correction.replacement",
				      "must be an intelligence"));
		else
			CHECK(refused("body_deep_nesting", &w, "body",
				      "corrections nested more than 4 deep"));
		w_free(&w), w_free(&a);
	}

	static const struct {
		const char *name, *field, *msg;
	} cases[] = {
	    {"body_reordered", "body", "not canonically encoded"},
	    {"body_summary_twice", "body", "not canonically encoded"},
	    {"body_unknown_middle", "body", "not canonically encoded"},
	    {"body_default_written", "body", "not canonically encoded"},
	    {"body_padded_varint", "body", "not canonically encoded"},
	    {"body_nul_in_string", "body", "not canonically encoded"},
	    {"body_nested_unknown_appended", "body.intelligence",
	     "unknown field 20"},
	    {"body_bad_utf8", "body.intelligence.summary",
	     "not valid UTF-8 at byte 10"},
	    {"body_surrogate", "body.intelligence.summary",
	     "not valid UTF-8 at byte 10"},
	    {"body_over_max", "body.intelligence.organization",
	     "not valid UTF-8 at byte 0"},
	    {"body_truncated_utf8", "body.intelligence.organization",
	     "not valid UTF-8 at byte 0"},
	    {"body_esc_summary", "body.intelligence.summary",
	     "control character U+001B (ESC) at byte 10"},
	    {"body_cr_summary", "body.intelligence.summary",
	     "control character U+000D (CR) at byte 10"},
	    {"body_tab_summary", "body.intelligence.summary",
	     "control character U+0009 (HT) at byte 10"},
	    {"body_nel_summary", "body.intelligence.summary",
	     "control character U+0085 (NEL) at byte 10"},
	    {"body_lf_organization", "body.intelligence.organization",
	     "control character U+000A (LF) at byte 6"},
	    {"body_bidi_organization", "body.intelligence.organization",
	     "bidirectional override U+202E (RLO) at byte 6"},
	    {"body_isolate_organization", "body.intelligence.organization",
	     "bidirectional isolate U+2066 (LRI) at byte 6"},
	    {"body_lsep_organization", "body.intelligence.organization",
	     "line separator U+2028 (LSEP) at byte 6"},
	    {"body_unknown_enum", "body.intelligence.mode", "unknown value 9"},
	    {"body_no_summary", "body.intelligence.summary", "required"},
	    {"body_accuracy_5", "body.intelligence.accuracy", "must be 1-4"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *n = cases[i].name;
		const char *o = org, *s = sum;
		if (!strcmp(n, "body_bad_utf8"))
			s = "Gathering \xc0\xaf";
		else if (!strcmp(n, "body_surrogate"))
			s = "Gathering \xed\xa0\x80";
		else if (!strcmp(n, "body_over_max"))
			o = "\xf4\x90\x80\x80";
		else if (!strcmp(n, "body_truncated_utf8"))
			o = "\xe9\x91";
		else if (!strcmp(n, "body_esc_summary"))
			s = "Gathering \x1b[31mred";
		else if (!strcmp(n, "body_cr_summary"))
			s = "Gathering \rforged";
		else if (!strcmp(n, "body_tab_summary"))
			s = "Gathering \tof 40";
		else if (!strcmp(n, "body_nel_summary"))
			s = "Gathering \xc2\x85of 40";
		else if (!strcmp(n, "body_lf_organization"))
			o = "鑫源\n320100 forged";
		else if (!strcmp(n, "body_bidi_organization"))
			o = "鑫源\xe2\x80\xae"
			    "abc";
		else if (!strcmp(n, "body_isolate_organization"))
			o = "鑫源\xe2\x81\xa6"
			    "abc";
		else if (!strcmp(n, "body_lsep_organization"))
			o = "鑫源\xe2\x80\xa8"
			    "abc";
		if (!strcmp(n, "body_reordered")) {
			w_str(&in, 6, s);
			w_str(&in, 1, o);
			w_uint(&in, 9, 2);
		} else if (!strcmp(n, "body_no_summary")) {
			w_str(&in, 1, o);
			w_uint(&in, 9, 2);
		} else {
			w_str(&in, 1, o);
			if (!strcmp(n, "body_unknown_middle"))
				w_uint(&in, 20, 1);
			if (!strcmp(n, "body_unknown_enum"))
				w_uint(&in, 5, 9);
			if (!strcmp(n, "body_default_written"))
				w_uint(&in, 5, 0); /* mode 0 written out */
			if (!strcmp(n, "body_nul_in_string"))
				w_len(&in, 6, "Gathering\0 of 40", 16);
			else
				w_str(&in, 6, s);
			if (!strcmp(n, "body_summary_twice"))
				w_str(&in, 6, "Another summary.");
			if (!strcmp(n, "body_padded_varint")) {
				w_tag(&in, 9, 0);
				w_varint_padded(&in, 2);
			} else if (!strcmp(n, "body_accuracy_5")) {
				w_uint(&in, 9, 5);
			} else {
				w_uint(&in, 9, 2);
			}
			if (!strcmp(n, "body_nested_unknown_appended"))
				w_uint(&in, 20, 1);
		}
		w_body_intel(&body, &in, false);
		w_body_record(&w, &body);
		CHECK(refused(n, &w, cases[i].field, cases[i].msg));
		w_free(&w), w_free(&body), w_free(&in);
	}
}

/* record_check_submission and record_build on bad submissions. */
static bool sub_refused(const sample *s, int code, const char *field,
			const char *msg)
{
	ht_err e;
	ht_err_clear(&e);
	int rc = record_check_submission(&s->sub, &e);
	bool ok = rc == code && strcmp(e.field, field) == 0 &&
		  strstr(e.msg, msg) != NULL;
	if (!ok)
		fprintf(stderr,
			"  got %d \"%s: %s\", expected %d \"%s: ...%s...\"\n",
			rc, e.field, e.msg, code, field, msg);
	return ok;
}

static void test_submissions(void)
{
	static char long_text[RECORD_MAX_TEXT + 2],
	    long_name[RECORD_MAX_NAME + 2], long_short[RECORD_MAX_SHORT + 2];
	static char *many[RECORD_MAX_ALIASES + 1];
	memset(long_text, 'x', RECORD_MAX_TEXT + 1);
	memset(long_name, 'x', RECORD_MAX_NAME + 1);
	memset(long_short, '9', RECORD_MAX_SHORT + 1);
	for (size_t i = 0; i < RECORD_MAX_ALIASES + 1; i++)
		many[i] = "alias";
	const int IN = HUTONG__KIND__KIND_INTELLIGENCE,
		  RE = HUTONG__KIND__KIND_REPATRIATION,
		  OR = HUTONG__KIND__KIND_FLEEING_ORGANIZATION,
		  CO = HUTONG__KIND__KIND_CORRECTION;
	sample s;
	ht_err e;

	for (int k = IN; k <= CO + 100; k++) {
		if (k > CO && k < CO + 100)
			continue;
		sample_init(&s, k);
		CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	}
	/* a correction may amend with a body of any plain kind */
	sample_init(&s, CO);
	s.inner.content_case = HUTONG__BODY__CONTENT_REPATRIATION;
	s.inner.repatriation = &s.rep;
	hutong__repatriation__init(&s.rep);
	s.rep.case_id = "NJ-1", s.rep.step = HUTONG__STEP__STEP_ACCEPT;
	s.rep.from_region = "320100", s.rep.to_region = "360100";
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);

	sample_init(&s, IN), s.sub.author = "";
	CHECK(sub_refused(&s, HT_EINVAL, "author", "required"));
	sample_init(&s, IN), s.sub.author = long_name;
	CHECK(sub_refused(&s, HT_ELIMIT, "author", "longer than 128 bytes"));
	sample_init(&s, IN), s.sub.body = NULL;
	CHECK(sub_refused(&s, HT_EINVAL, "body", "required"));
	sample_init(&s, IN),
	    s.body.content_case = HUTONG__BODY__CONTENT__NOT_SET;
	CHECK(sub_refused(&s, HT_EINVAL, "body", "no content"));
	sample_init(&s, IN), s.sub.scope = 9;
	CHECK(sub_refused(&s, HT_EINVAL, "scope", "unknown value 9"));

	sample_init(&s, IN), s.intel.summary = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.summary",
			  "required"));
	sample_init(&s, IN), s.intel.summary = long_text;
	CHECK(sub_refused(&s, HT_ELIMIT, "body.intelligence.summary",
			  "longer than 8192 bytes (8193)"));
	sample_init(&s, IN), s.intel.summary = "bad \xc0\xaf";
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.summary",
			  "not valid UTF-8 at byte 4"));
	sample_init(&s, IN), s.intel.accuracy = 5;
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.accuracy",
			  "must be 1-4 (0 = not graded), got 5"));
	sample_init(&s, IN), s.place.region = "32";
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.places[0].region",
			  "must be six digits, got '32'"));
	sample_init(&s, IN), s.related[0].len = 31;
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.related[0]",
			  "must be a 32-byte record id, got 31 bytes"));
	sample_init(&s, IN), s.person[0].name = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.people[0].name",
			  "required"));
	sample_init(&s, IN), s.person[0].phone = long_short;
	CHECK(sub_refused(&s, HT_ELIMIT, "body.intelligence.people[0].phone",
			  "longer than 256 bytes"));
	sample_init(&s, IN), s.person[0].role = 7;
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.people[0].role",
			  "unknown value 7"));
	sample_init(&s, IN), s.aliases[1] = "\xed\xa0\x80";
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.aliases[1]",
			  "not valid UTF-8 at byte 0"));
	sample_init(&s, IN), s.intel.aliases = many,
			     s.intel.n_aliases = RECORD_MAX_ALIASES + 1;
	CHECK(sub_refused(&s, HT_ELIMIT, "body.intelligence.aliases",
			  "more than 16 entries (17)"));
	sample_init(&s, IN), s.intel.mode = 9;
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.mode",
			  "unknown value 9"));

	sample_init(&s, RE), s.rep.case_id = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.case_id",
			  "required"));
	sample_init(&s, RE), s.rep.step = HUTONG__STEP__STEP_UNSPECIFIED;
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.step", "required"));
	sample_init(&s, RE), s.rep.step = 8;
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.step",
			  "unknown value 8"));
	sample_init(&s, RE), s.rep.from_region = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.from_region",
			  "required"));
	sample_init(&s, RE), s.rep.to_region = "3601";
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.to_region",
			  "must be six digits, got '3601'"));
	sample_init(&s, RE), s.rep.to_region = "320100";
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.to_region",
			  "must differ from from_region"));
	sample_init(&s, RE), s.person[1].name = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.people[1].name",
			  "required"));
	sample_init(&s, RE), s.rep.notes = long_text;
	CHECK(sub_refused(&s, HT_ELIMIT, "body.repatriation.notes",
			  "longer than 8192"));

	sample_init(&s, OR), s.org.org_id = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.fleeing_organization.org_id",
			  "required"));
	sample_init(&s, OR), s.org.name = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.fleeing_organization.name",
			  "required"));
	sample_init(&s, OR), s.org.last_seen_region = "000000";
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.fleeing_organization.last_seen_region",
			  "must be six digits, got '000000'"));
	sample_init(&s, OR), s.dests[1] = "4301";
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.fleeing_organization.suspected_destinations[1]",
			  "must be six digits, got '4301'"));
	sample_init(&s, OR), s.person[0].name = "";
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.fleeing_organization.leaders[0].name",
			  "required"));
	sample_init(&s, OR), s.org.level = 5;
	CHECK(sub_refused(&s, HT_EINVAL, "body.fleeing_organization.level",
			  "unknown value 5"));

	sample_init(&s, CO), s.corr.reason = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.correction.reason", "required"));
	sample_init(&s, CO + 100), s.corr.reason = "";
	CHECK(sub_refused(&s, HT_EINVAL, "body.correction.reason", "required"));
	sample_init(&s, CO), s.corr.target.len = 0;
	CHECK(sub_refused(&s, HT_EINVAL, "body.correction.target",
			  "must be a 32-byte record id, got 0 bytes"));
	sample_init(&s, CO), s.corr.retract = 1;
	CHECK(sub_refused(&s, HT_EINVAL, "body.correction.replacement",
			  "must be empty when retracting"));
	sample_init(&s, CO), s.corr.replacement = NULL;
	CHECK(sub_refused(&s, HT_EINVAL, "body.correction.replacement",
			  "required unless retract is set"));
	Hutong__Correction nested = HUTONG__CORRECTION__INIT;
	nested.target = s.corr.target, nested.reason = "again",
	nested.retract = 1;
	sample_init(&s, CO),
	    s.inner.content_case = HUTONG__BODY__CONTENT_CORRECTION,
	    s.inner.correction = &nested;
	CHECK(sub_refused(&s, HT_EINVAL, "body.correction.replacement",
			  "must be an intelligence, repatriation or "
			  "fleeing_organization body"));
	sample_init(&s, CO),
	    s.inner.content_case = HUTONG__BODY__CONTENT_GENESIS,
	    s.inner.genesis = &s.gen;
	hutong__genesis__init(&s.gen);
	CHECK(sub_refused(&s, HT_EINVAL, "body.correction.replacement",
			  "must be an intelligence"));
	/* The replacement is checked by its own kind's rules. (The field
	 * path names the kind, not where the replacement sits.) */
	sample_init(&s, CO), s.intel2.summary = "";
	ht_err_clear(&e);
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), HT_EINVAL);
	CHECK_HAS(e.field, "intelligence.summary");
	CHECK_STR(e.msg, "required");
	sample_init(&s, CO), s.intel2.summary = "bad \xff";
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.correction.replacement.intelligence.summary",
			  "not valid UTF-8 at byte 4"));

	sample_init(&s, HUTONG__KIND__KIND_GENESIS);
	CHECK(sub_refused(&s, HT_EINVAL, "body",
			  "written by the node itself, not submitted"));
	sample_init(&s, HUTONG__KIND__KIND_ROTATION);
	CHECK(sub_refused(&s, HT_EINVAL, "body",
			  "written by the node itself, not submitted"));
	sample_init(&s, HUTONG__KIND__KIND_REVOCATION);
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	s.rev.crl.len = 0;
	CHECK(sub_refused(&s, HT_EINVAL, "body.revocation.crl", "required"));

	/* record_build: refuses what the check refuses, leaves out alone */
	record *r = NULL;
	record_origin o = {"320100", "nanjing", 2, record_id(chain[K_GENESIS]),
			   T0};
	sample_init(&s, IN), s.intel.summary = "";
	ht_err_clear(&e);
	CHECK_EQ_INT(record_build(&s.sub, &o, sign_with, test_sk, &r, &e),
		     HT_EINVAL);
	CHECK(r == NULL);
	CHECK_STR(e.field, "body.intelligence.summary");
	sample_init(&s, IN);
	CHECK(record_build(&s.sub, &o, sign_fails, NULL, &r, &e) != 0);
	CHECK(r == NULL);
	/* ... and what the header rules refuse */
	o.seq = 1, o.prev = NULL;
	CHECK(record_build(&s.sub, &o, sign_with, test_sk, &r, &e) != 0);
	CHECK(r == NULL);
	CHECK_STR(e.field, "header.kind");
	o.region = "32", o.seq = 2, o.prev = record_id(chain[K_GENESIS]);
	CHECK(record_build(&s.sub, &o, sign_with, test_sk, &r, &e) != 0);
	CHECK_STR(e.field, "header.origin_region");
	o.region = "320100";
	sample_init(&s, HUTONG__KIND__KIND_GENESIS);
	s.gen.public_key.len = 31;
	o.seq = 1, o.prev = NULL;
	CHECK(record_build(&s.sub, &o, sign_with, test_sk, &r, &e) != 0);
	CHECK(r == NULL);
	CHECK_STR(e.field, "body.genesis.public_key");
	CHECK_STR(e.msg, "must be 32 bytes, got 31");
	o.seq = 7, o.prev = record_id(chain[K_RETRACT]);
	sample_init(&s, HUTONG__KIND__KIND_ROTATION);
	s.rot.n_certificates = 0;
	CHECK(record_build(&s.sub, &o, sign_with, test_sk, &r, &e) != 0);
	CHECK_STR(e.field, "body.rotation.certificates");
	CHECK_STR(e.msg, "required");
	sample_init(&s, HUTONG__KIND__KIND_ROTATION);
	s.sub.scope = HUTONG__SCOPE__SCOPE_LOCAL;
	CHECK(record_build(&s.sub, &o, sign_with, test_sk, &r, &e) != 0);
	CHECK_STR(e.field, "header.scope");
	CHECK_STR(e.msg, "a rotation record is national");
	CHECK(r == NULL);
}

/* ---- identifiers, phones, times, text and warnings ---- */

static bool id_refused(const char *id, int doc, const char *msg)
{
	ht_err e;
	ht_err_clear(&e);
	int rc = person_check_id_number(id, doc, "id", &e);
	bool ok = rc == HT_EINVAL && strcmp(e.field, "id") == 0 &&
		  strstr(e.msg, msg) != NULL;
	if (!ok)
		fprintf(stderr, "  id '%s': %d \"%s\", expected \"...%s...\"\n",
			id, rc, e.msg, msg);
	return ok;
}

static bool phone_refused(const char *p, const char *msg)
{
	ht_err e;
	ht_err_clear(&e);
	int rc = person_check_phone(p, "phone", &e);
	bool ok = rc == HT_EINVAL && strstr(e.msg, msg) != NULL;
	if (!ok)
		fprintf(stderr,
			"  phone '%s': %d \"%s\", expected \"...%s...\"\n", p,
			rc, e.msg, msg);
	return ok;
}

static void test_identifiers(void)
{
	const int RID = HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_UNSPECIFIED,
		  PP = HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_PASSPORT,
		  HK = HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_HK_MACAO_PERMIT,
		  OT = HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_OTHER;
	ht_err e;
	CHECK_EQ_INT(person_id_check_char("32010219800101123"), '8');
	CHECK_EQ_INT(person_id_check_char("11010519491231002"), 'X');
	CHECK_EQ_INT(person_id_check_char("3201021980010112"), 0);
	CHECK_EQ_INT(person_check_id_number("320102198001011238", RID, "f", &e),
		     0);
	CHECK_EQ_INT(person_check_id_number(
			 "11010519491231002X",
			 HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_RESIDENT_ID, "f",
			 &e),
		     0);
	CHECK_EQ_INT(person_check_id_number("320102200002291235", RID, "f", &e),
		     0);
	CHECK(id_refused(
	    "abc", RID, "a resident identity number has 18 characters, got 3"));
	CHECK(id_refused("320102198013011238", RID,
			 "month of birth 13 is not 01-12"));
	CHECK(id_refused("320102198001011233", RID,
			 "check character should be '8', got '3'"));
	CHECK(id_refused("320102198001011063", RID,
			 "check character should be 'X', got '3'"));
	CHECK(id_refused("11010519491231002x", RID,
			 "check character should be 'X', got 'x'"));
	CHECK(id_refused("32010219800101123A", RID,
			 "check character should be '8', got 'A'"));
	CHECK(id_refused("3201021980A101123A", RID,
			 "character 11 must be a digit"));
	CHECK(id_refused("320102199902291238", RID,
			 "date of birth 19990229 is not a real date"));
	CHECK(id_refused("320102198004311238", RID,
			 "date of birth 19800431 is not a real date"));
	CHECK(id_refused("320102198001001238", RID, "is not a real date"));
	CHECK(id_refused("320102189901011238", RID,
			 "year of birth 1899 is not from 1900 to 2099"));
	CHECK(id_refused("990102198001011238", RID,
			 "region prefix 990102 names no province"));
	/* what a log line about a peer's record says: the field and the
	 * class of the reason, no digit of the number */
	static const struct {
		const char *id, *brief;
	} priv[] = {
	    {"320102198001011233", "f: check character wrong"},
	    {"320102199902291238", "f: date of birth not a real date"},
	    {"320102198013011238", "f: month of birth out of range"},
	    {"320102189901011238", "f: year of birth out of range"},
	    {"990102198001011238", "f: region prefix unknown"},
	};
	char line[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		CHECK_EQ_INT(person_check_id_number(priv[i].id, RID, "f", &e),
			     HT_EINVAL);
		CHECK_STR(ht_err_str_private(&e, line, sizeof(line)),
			  priv[i].brief);
		CHECK(strpbrk(line, "0123456789") == NULL);
	}
	/* a reason without personal data reads the same either way, and a
	 * later ht_err_set forgets an earlier brief */
	ht_err_set(&e, HT_EINVAL, "f", "too long (%d)", 3);
	CHECK_STR(ht_err_str_private(&e, line, sizeof(line)),
		  "f: too long (3)");
	CHECK(id_refused("3201021980010112345", RID, "got 19"));
	/* other documents: charset and length only */
	CHECK_EQ_INT(person_check_id_number("E12345678", PP, "f", &e), 0);
	CHECK_EQ_INT(person_check_id_number("320102198001011233", PP, "f", &e),
		     0);
	CHECK_EQ_INT(person_check_id_number("H1234567801", HK, "f", &e), 0);
	CHECK_EQ_INT(person_check_id_number("A-1", OT, "f", &e), 0);
	CHECK(id_refused("E12", PP, "must be 5-20 characters, got 3"));
	CHECK(id_refused("E 123456", PP,
			 "character 2 must be a letter or digit"));
	CHECK(id_refused("E-123456", HK,
			 "character 2 must be a letter or digit"));
	CHECK(id_refused("123456789012345678901234567890123", OT,
			 "must be 1-32 characters, got 33"));

	static const char *good_phones[] = {
	    "13800000000",	   "19912345678",    "025-12345678",
	    "02512345678",	   "0731-1234567",   "010-12345678-123",
	    "07311234567#12",	   "+8613800000000", "+123456",
	    "0731-12345678-123456"};
	for (size_t i = 0; i < sizeof(good_phones) / sizeof(good_phones[0]);
	     i++) {
		int rc = person_check_phone(good_phones[i], "p", &e);
		CHECK_EQ_INT(rc, 0);
		if (rc != 0)
			fprintf(stderr, "  %s: %s\n", good_phones[i], e.msg);
	}
	CHECK(phone_refused("12800000000",
			    "a mobile number starts 13-19, got '12'"));
	CHECK(phone_refused("1380000000",
			    "a mobile number has 11 digits, got 10"));
	CHECK(
	    phone_refused("+86 731 0000", "' ' at byte 3: write digits only"));
	CHECK(phone_refused("+12345", "'+' must be followed by 6-15 digits"));
	CHECK(phone_refused("+1234567890123456", "'+' must be followed"));
	CHECK(phone_refused("008613800000000", "not 00"));
	CHECK(phone_refused("abc", "'a' at byte 0"));
	CHECK(phone_refused("5551234", "must be a mobile"));
	CHECK(phone_refused("025-123456",
			    "a landline is 0, a 2-3 digit area code"));
	CHECK(phone_refused("025123456", "a landline is 0"));
	CHECK(phone_refused("025-12345678-", "a landline is 0"));
	CHECK(phone_refused("025-12345678-12345678",
			    "longer than 20 characters (21)"));
	CHECK(phone_refused("13800000000-1", "a mobile number has 11 digits"));
}

static void test_submission_rules(void)
{
	const int IN = HUTONG__KIND__KIND_INTELLIGENCE,
		  RE = HUTONG__KIND__KIND_REPATRIATION,
		  OR = HUTONG__KIND__KIND_FLEEING_ORGANIZATION;
	sample s;
	ht_err e;

	sample_init(&s, IN), s.person[0].id_number = "abc";
	CHECK(
	    sub_refused(&s, HT_EINVAL, "body.intelligence.people[0].id_number",
			"a resident identity number has 18 characters, got 3"));
	sample_init(&s, IN), s.person[0].id_number = "320102198001011233";
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.intelligence.people[0].id_number",
			  "check character should be '8', got '3'"));
	sample_init(&s, IN), s.person[0].id_number = "E12345678";
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.intelligence.people[0].id_number",
			  "has 18 characters"));
	s.person[0].document_type =
	    HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_PASSPORT;
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	s.person[0].document_type = 9;
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.intelligence.people[0].document_type",
			  "unknown value 9"));
	sample_init(&s, RE), s.person[1].phone = "+86 731 0000";
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.people[1].phone",
			  "' ' at byte 3"));
	sample_init(&s, OR), s.person[0].phone = "12800000000";
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.fleeing_organization.leaders[0].phone",
			  "starts 13-19"));

	/* times: given ones within 2000-2100; 0 is "not given" */
	sample_init(&s, RE), s.rep.time_ms = INT64_MIN;
	CHECK(sub_refused(&s, HT_EINVAL, "body.repatriation.time_ms",
			  "must be from 2000-01-01T00:00:00Z to before "
			  "2100-01-01T00:00:00Z, got -9223372036854775808"));
	sample_init(&s, RE), s.rep.time_ms = 0;
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	sample_init(&s, OR), s.org.last_seen_ms = UTIL_TIME_MAX_MS;
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.fleeing_organization.last_seen_ms",
			  "got 4102444800000"));
	sample_init(&s, OR), s.org.last_seen_ms = UTIL_TIME_MAX_MS - 1;
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	sample_init(&s, OR), s.org.last_seen_ms = -1;
	CHECK(sub_refused(&s, HT_EINVAL,
			  "body.fleeing_organization.last_seen_ms", "got -1"));
	record *r = NULL;
	record_origin o = {"320100", "nanjing", 2, record_id(chain[K_GENESIS]),
			   INT64_MIN};
	sample_init(&s, IN);
	CHECK_EQ_INT(record_build(&s.sub, &o, sign_with, test_sk, &r, &e),
		     HT_EINVAL);
	CHECK(r == NULL);
	CHECK_STR(e.field, "header.created_ms");
	CHECK_HAS(e.msg, "got -9223372036854775808");

	/* text: LF only in multi-line fields; controls and bidi nowhere */
	sample_init(&s, IN), s.intel.summary = "Line one.\nLine two.";
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	sample_init(&s, RE), s.rep.notes = "a\nb";
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	sample_init(&s, IN), s.intel.summary = "Gathering \x1b[2J of 40";
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.summary",
			  "control character U+001B (ESC) at byte 10"));
	sample_init(&s, IN), s.sub.author = "officer\n320100 forged";
	CHECK(sub_refused(&s, HT_EINVAL, "author",
			  "control character U+000A (LF) at byte 7"));
	sample_init(&s, IN), s.person[0].name = "张三\xe2\x80\xae";
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.people[0].name",
			  "bidirectional override U+202E (RLO) at byte 6"));
	sample_init(&s, IN), s.place.address = "路\xe2\x80\x8f";
	CHECK(sub_refused(&s, HT_EINVAL, "body.intelligence.places[0].address",
			  "bidirectional mark U+200F (RLM) at byte 3"));
	sample_init(&s, OR), s.aliases[0] = "a\tb";
	CHECK(sub_refused(&s, HT_EINVAL, "body.fleeing_organization.aliases[0]",
			  "control character U+0009 (HT) at byte 1"));
}

static void test_warnings(void)
{
	const int IN = HUTONG__KIND__KIND_INTELLIGENCE,
		  OR = HUTONG__KIND__KIND_FLEEING_ORGANIZATION,
		  CO = HUTONG__KIND__KIND_CORRECTION;
	sample s;
	ht_err e;
	record_warnings w;

	for (int k = IN; k <= CO; k++) {
		sample_init(&s, k);
		CHECK_EQ_INT(record_warnings_of(s.sub.body, &w), 0);
		CHECK_EQ_INT(w.n, 0);
	}
	CHECK_EQ_INT(record_warnings_of(NULL, &w), 0);
	sample_init(&s, IN), s.place.region = "999999";
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0); /* not refused */
	CHECK_EQ_INT(record_warnings_of(s.sub.body, &w), 1);
	CHECK_STR(
	    w.msg[0],
	    "unknown region 999999 at body.intelligence.places[0].region");
	sample_init(&s, IN), s.person[0].id_number = "329999198001011239";
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	CHECK_EQ_INT(record_warnings_of(s.sub.body, &w), 1);
	CHECK_STR(w.msg[0], "unknown region 329999 at "
			    "body.intelligence.people[0].id_number");
	sample_init(&s, OR), s.dests[1] = "999999",
			     s.org.last_seen_region = "320199";
	CHECK_EQ_INT(record_check_submission(&s.sub, &e), 0);
	CHECK_EQ_INT(record_warnings_of(s.sub.body, &w), 2);
	CHECK_STR(w.msg[0], "unknown region 320199 at "
			    "body.fleeing_organization.last_seen_region");
	CHECK_STR(w.msg[1],
		  "unknown region 999999 at "
		  "body.fleeing_organization.suspected_destinations[1]");
	sample_init(&s, CO), s.place.region = "999999";
	CHECK_EQ_INT(record_warnings_of(s.sub.body, &w), 1);
	CHECK_STR(w.msg[0], "unknown region 999999 at body.correction."
			    "replacement.intelligence.places[0].region");
	/* more than fit: counted, the first kept */
	static Hutong__Place pl[RECORD_MAX_WARNINGS + 3];
	static Hutong__Place *pp[RECORD_MAX_WARNINGS + 3];
	for (size_t i = 0; i < RECORD_MAX_WARNINGS + 3; i++) {
		hutong__place__init(&pl[i]);
		pl[i].region = "999999";
		pp[i] = &pl[i];
	}
	sample_init(&s, IN), s.intel.places = pp,
			     s.intel.n_places = RECORD_MAX_WARNINGS + 3;
	CHECK_EQ_INT(record_warnings_of(s.sub.body, &w),
		     RECORD_MAX_WARNINGS + 3);
	CHECK_EQ_INT(w.n, RECORD_MAX_WARNINGS);
}

/* The largest valid bodies fit the limits, so the counts in record.h are
 * enough to keep a valid submission signable; past the counts, a body that
 * is too big is refused before it is signed, naming its size. */
static void test_sizes(void)
{
	static char text[RECORD_MAX_TEXT + 1], shrt[RECORD_MAX_SHORT + 1],
	    name[RECORD_MAX_NAME + 1], node[UTIL_NODE_NAME_MAX + 1],
	    other_id[PERSON_OTHER_MAX + 1];
	static Hutong__Person pers[256], *ppl[256];
	static Hutong__Place pl[RECORD_MAX_PLACES], *pp[RECORD_MAX_PLACES];
	static char *aliases[RECORD_MAX_ALIASES];
	static ProtobufCBinaryData rel[RECORD_MAX_RELATED];
	static uint8_t id[RECORD_ID_BYTES];
	memset(text, 't', RECORD_MAX_TEXT);
	memset(shrt, 's', RECORD_MAX_SHORT);
	memset(name, 'n', RECORD_MAX_NAME);
	memset(node, 'n', UTIL_NODE_NAME_MAX);
	memset(other_id, 'A', PERSON_OTHER_MAX);
	for (size_t i = 0; i < 256; i++) {
		hutong__person__init(&pers[i]);
		pers[i].name = shrt;
		pers[i].role = HUTONG__ROLE__ROLE_PARTICIPANT;
		pers[i].document_type =
		    HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_OTHER;
		pers[i].id_number = other_id;
		pers[i].phone = "0731-12345678-123456";
		ppl[i] = &pers[i];
	}
	for (size_t i = 0; i < RECORD_MAX_PLACES; i++) {
		hutong__place__init(&pl[i]);
		pl[i].region = "320100", pl[i].address = shrt, pp[i] = &pl[i];
	}
	for (size_t i = 0; i < RECORD_MAX_ALIASES; i++)
		aliases[i] = shrt;
	for (size_t i = 0; i < RECORD_MAX_RELATED; i++)
		rel[i] = (ProtobufCBinaryData){sizeof(id), id};
	sample s;
	sample_init(&s, HUTONG__KIND__KIND_CORRECTION);
	Hutong__Intelligence *in = &s.intel2;
	in->organization = shrt, in->summary = text, in->source = text;
	in->aliases = aliases, in->n_aliases = RECORD_MAX_ALIASES;
	in->people = ppl, in->n_people = RECORD_MAX_PEOPLE;
	in->places = pp, in->n_places = RECORD_MAX_PLACES;
	in->related = rel, in->n_related = RECORD_MAX_RELATED;
	in->accuracy = 4;
	s.corr.reason = text;
	s.sub.author = name;
	record_origin o = {"320100", node, UINT64_MAX / 2,
			   record_id(chain[K_GENESIS]), UTIL_TIME_MAX_MS - 1};
	record *r = NULL;
	ht_err e;
	ht_err_clear(&e);
	int rc = record_build(&s.sub, &o, sign_with, test_sk, &r, &e);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0)
		fprintf(stderr, "  largest correction: %s: %s\n", e.field,
			e.msg);
	size_t len = 0;
	if (r != NULL) {
		record_bytes(r, &len);
		CHECK(len > 60000 && len <= RECORD_MAX_ENVELOPE);
		record *again = record_parse(record_bytes(r, &len), len, &e);
		CHECK(again != NULL); /* and every peer takes it */
		record_free(&again);
	}
	record_free(&r);

	/* 256 people with long names: refused before signing, with the size */
	sample_init(&s, HUTONG__KIND__KIND_INTELLIGENCE);
	s.intel.people = ppl, s.intel.n_people = 256;
	ht_err_clear(&e);
	CHECK_EQ_INT(record_build(&s.sub, &o, sign_fails, NULL, &r, &e),
		     HT_ELIMIT);
	CHECK(r == NULL);
	CHECK_STR(e.field, "");
	CHECK_HAS(e.msg, "envelope of ");
	CHECK_HAS(e.msg, " bytes exceeds the limit of 66688");
	CHECK(sub_refused(&s, HT_ELIMIT, "body.intelligence.people",
			  "more than 64 entries (256)"));
	/* within the size, past the count */
	s.intel.n_people = RECORD_MAX_PEOPLE + 1;
	CHECK_EQ_INT(record_build(&s.sub, &o, sign_fails, NULL, &r, &e),
		     HT_ELIMIT);
	CHECK_STR(e.field, "body.intelligence.people");
	CHECK_STR(e.msg, "more than 64 entries (65)");
}

/* Flip every bit (and every whole byte) of each known-answer envelope:
 * the result must fail to parse or fail to verify; never both pass. */
static void test_tamper(void)
{
	static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08, 0x10,
					0x20, 0x40, 0x80, 0xff};
	for (int k = 0; k < K_N; k++) {
		size_t len;
		const uint8_t *orig = record_bytes(chain[k], &len);
		uint8_t *buf = malloc(len);
		memcpy(buf, orig, len);
		int passed = 0, parsed = 0;
		for (size_t i = 0; i < len; i++) {
			for (size_t m = 0; m < sizeof(masks); m++) {
				buf[i] ^= masks[m];
				record *r = record_parse(buf, len, NULL);
				if (r != NULL) {
					parsed++;
					if (record_verify(r, kat_pk(k))) {
						passed++;
						fprintf(stderr,
							"  %s: byte %zu "
							"^ 0x%02x parses and "
							"verifies\n",
							kats[k].name, i,
							masks[m]);
					}
				}
				record_free(&r);
				buf[i] ^= masks[m];
			}
		}
		CHECK_EQ_INT(passed, 0);
		CHECK(parsed > 0); /* the signature bytes, at least */
		/* And cutting the envelope short anywhere is refused. */
		for (size_t n = 0; n < len; n++) {
			record *r = record_parse(buf, n, NULL);
			CHECK(r == NULL || !record_verify(r, kat_pk(k)) ||
			      record_body(r) == NULL);
			record_free(&r);
		}
		free(buf);
	}
}

/* Every file in the corpus is refused: it does not parse, or it does not
 * verify with the test key. */
static void test_corpus(void)
{
	DIR *d = opendir(CORRUPT_DIR);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	int files = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".bin") != 0)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", CORRUPT_DIR, de->d_name);
		uint8_t *buf = NULL;
		size_t len = 0;
		ht_err e;
		CHECK_EQ_INT(util_read_file(path, 4 * RECORD_MAX_ENVELOPE, &buf,
					    &len, &e),
			     0);
		record *r = record_parse(buf, len, NULL);
		bool ok = r == NULL || !record_verify(r, test_pk);
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "  %s is accepted\n", path);
		record_free(&r);
		free(buf);
		files++;
	}
	closedir(d);
	CHECK(files >= corpus_named);
}

int main(void)
{
	CHECK(sodium_init() >= 0);
	regen = getenv("HUTONG_REGEN") != NULL &&
		strcmp(getenv("HUTONG_REGEN"), "1") == 0;
	if (regen) {
		mkdir(RECORD_DIR, 0755);
		mkdir(CORRUPT_DIR, 0755);
	}
	test_key();
	test_known_answers();
	test_names();
	test_envelope_refusals();
	test_header_refusals();
	test_body_refusals();
	test_submissions();
	test_identifiers();
	test_submission_rules();
	test_warnings();
	test_sizes();
	test_tamper();
	test_corpus();
	for (int k = 0; k < K_N; k++)
		record_free(&chain[k]);
	return check_done("test_record");
}
