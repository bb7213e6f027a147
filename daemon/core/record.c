/*
 * record: envelopes in and out.
 *
 * Untrusted bytes go through, in order: size limits, protobuf decoding,
 * the canonical check (re-encode and compare: protobuf-c accepts reordered,
 * repeated and unknown fields and padded varints, and would sign or hash
 * something other than what it was given), then the schema walk (every
 * string valid UTF-8 text within its limit, every enum a known value, every
 * repeated field within its count, no unknown fields), then the rules of
 * each kind, then the body hash. Signatures are checked by record_verify with
 * a key the caller trusts.
 */
#include "record.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "person.h"
#include "region.h"
#include "util.h"

struct record {
	uint8_t *buf; /* envelope bytes */
	size_t len;
	Hutong__Envelope *env;
	Hutong__Header *hdr;
	Hutong__Body *body; /* NULL when withheld */
	uint8_t id[RECORD_ID_BYTES];
};

static const struct {
	int kind;
	const char *name;
} kind_names[] = {
    {HUTONG__KIND__KIND_INTELLIGENCE, "intel"},
    {HUTONG__KIND__KIND_REPATRIATION, "repatriation"},
    {HUTONG__KIND__KIND_FLEEING_ORGANIZATION, "org"},
    {HUTONG__KIND__KIND_CORRECTION, "correction"},
    {HUTONG__KIND__KIND_GENESIS, "genesis"},
    {HUTONG__KIND__KIND_ROTATION, "rotation"},
    {HUTONG__KIND__KIND_REVOCATION, "revocation"},
    {HUTONG__KIND__KIND_RECEIPT, "receipt"},
    {HUTONG__KIND__KIND_FORK, "fork"},
};

const char *record_kind_name(int kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (kind_names[i].kind == kind)
			return kind_names[i].name;
	return "unknown";
}

int record_kind_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(kind_names[i].name, name) == 0)
			return kind_names[i].kind;
	return -1;
}

int record_body_kind(const Hutong__Body *b)
{
	if (b == NULL)
		return HUTONG__KIND__KIND_UNSPECIFIED;
	switch (b->content_case) {
	case HUTONG__BODY__CONTENT_INTELLIGENCE:
		return HUTONG__KIND__KIND_INTELLIGENCE;
	case HUTONG__BODY__CONTENT_REPATRIATION:
		return HUTONG__KIND__KIND_REPATRIATION;
	case HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION:
		return HUTONG__KIND__KIND_FLEEING_ORGANIZATION;
	case HUTONG__BODY__CONTENT_CORRECTION:
		return HUTONG__KIND__KIND_CORRECTION;
	case HUTONG__BODY__CONTENT_GENESIS:
		return HUTONG__KIND__KIND_GENESIS;
	case HUTONG__BODY__CONTENT_ROTATION:
		return HUTONG__KIND__KIND_ROTATION;
	case HUTONG__BODY__CONTENT_REVOCATION:
		return HUTONG__KIND__KIND_REVOCATION;
	case HUTONG__BODY__CONTENT_RECEIPT:
		return HUTONG__KIND__KIND_RECEIPT;
	case HUTONG__BODY__CONTENT_FORK:
		return HUTONG__KIND__KIND_FORK;
	default:
		return HUTONG__KIND__KIND_UNSPECIFIED;
	}
}

/* ---- the generic schema walk ---- */

/* Longest allowed text per field name (RECORD_MAX_SHORT otherwise), and
 * whether it is multi-line free text (LF allowed): the RECORD_MAX_TEXT
 * fields are. */
static size_t text_limit(const char *field, int *flags)
{
	static const struct {
		const char *name;
		size_t max;
	} limits[] = {
	    {"summary", RECORD_MAX_TEXT},	 {"notes", RECORD_MAX_TEXT},
	    {"source", RECORD_MAX_TEXT},	 {"reason", RECORD_MAX_TEXT},
	    {"address", RECORD_MAX_SHORT},	 {"author", RECORD_MAX_NAME},
	    {"origin_node", UTIL_NODE_NAME_MAX}, {"case_id", RECORD_MAX_NAME},
	    {"org_id", RECORD_MAX_NAME},	 {"escort", RECORD_MAX_SHORT},
	};
	*flags = 0;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (strcmp(limits[i].name, field) == 0) {
			if (limits[i].max == RECORD_MAX_TEXT)
				*flags = UTIL_TEXT_LINES;
			return limits[i].max;
		}
	return RECORD_MAX_SHORT;
}

/* Most entries of a repeated field, by field name (see record.h). */
static size_t repeated_limit(const ProtobufCMessage *m, const char *field)
{
	static const struct {
		const char *name;
		size_t max;
	} limits[] = {
	    {"people", RECORD_MAX_PEOPLE},
	    {"leaders", RECORD_MAX_PEOPLE},
	    {"aliases", RECORD_MAX_ALIASES},
	    {"places", RECORD_MAX_PLACES},
	    {"suspected_destinations", RECORD_MAX_DESTINATIONS},
	    {"related", RECORD_MAX_RELATED},
	    {"certificates", RECORD_MAX_CERTS},
	};
	if (m->descriptor == &hutong__receipt__descriptor)
		return RECORD_MAX_RECEIPT;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (strcmp(limits[i].name, field) == 0)
			return limits[i].max;
	return RECORD_MAX_REPEATED;
}

/* Time fields are the int64 fields named *_ms; 0 is "not given". */
static bool is_time_field(const ProtobufCFieldDescriptor *f)
{
	size_t n = strlen(f->name);
	return f->type == PROTOBUF_C_TYPE_INT64 && n > 3 &&
	       strcmp(f->name + n - 3, "_ms") == 0;
}

static int walk(const ProtobufCMessage *m, const char *path, ht_err *err);

/* Path of field f (element i when repeated, -1 otherwise) under path. */
static void sub_path(char *out, size_t len, const char *path,
		     const ProtobufCFieldDescriptor *f, long i)
{
	const char *dot = path[0] ? "." : "";
	if (i >= 0)
		snprintf(out, len, "%s%s%s[%ld]", path, dot, f->name, i);
	else
		snprintf(out, len, "%s%s%s", path, dot, f->name);
}

/* Check one value of field f at p (a pointer to the member or element),
 * element i of a repeated field (-1 otherwise) under parent. The path is
 * formatted only when it is needed: on an error or to go down a level. */
static int walk_value(const ProtobufCFieldDescriptor *f, const void *p,
		      const char *parent, long i, ht_err *err)
{
	char path[256];
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		int flags;
		size_t n = s ? strlen(s) : 0, max = text_limit(f->name, &flags);
		if (n <= max && util_check_text(s, n, flags, "", NULL) == 0)
			return 0;
		sub_path(path, sizeof(path), parent, f, i);
		if (n > max)
			return ht_err_set(err, HT_ELIMIT, path,
					  "longer than %zu bytes (%zu)", max,
					  n);
		return util_check_text(s, n, flags, path, err);
	}
	case PROTOBUF_C_TYPE_INT64: {
		int64_t v = *(const int64_t *)p;
		if (v == 0 || !is_time_field(f) ||
		    (v >= UTIL_TIME_MIN_MS && v < UTIL_TIME_MAX_MS))
			return 0;
		sub_path(path, sizeof(path), parent, f, i);
		return util_check_time(v, path, err);
	}
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		if (protobuf_c_enum_descriptor_get_value(f->descriptor, v) !=
		    NULL)
			return 0;
		sub_path(path, sizeof(path), parent, f, i);
		return ht_err_set(err, HT_EINVAL, path, "unknown value %d", v);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		if (sub == NULL)
			return 0;
		sub_path(path, sizeof(path), parent, f, i);
		return walk(sub, path, err);
	}
	default:
		return 0;
	}
}

/* Is field f present in m (for oneof members: is it the chosen one)? */
static bool field_present(const ProtobufCMessage *m,
			  const ProtobufCFieldDescriptor *f)
{
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		const uint32_t *which =
		    (const uint32_t *)((const char *)m + f->quantifier_offset);
		return *which == f->id;
	}
	return true;
}

static int walk_field(const ProtobufCMessage *m,
		      const ProtobufCFieldDescriptor *f, const char *path,
		      ht_err *err)
{
	const char *member = (const char *)m + f->offset;
	char p[256];
	if (!field_present(m, f))
		return 0;
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return walk_value(f, member, path, -1, err);
	size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
	size_t max = repeated_limit(m, f->name);
	if (n > max) {
		sub_path(p, sizeof(p), path, f, -1);
		return ht_err_set(err, HT_ELIMIT, p,
				  "more than %zu entries (%zu)", max, n);
	}
	size_t esize = f->type == PROTOBUF_C_TYPE_STRING ||
			       f->type == PROTOBUF_C_TYPE_MESSAGE
			   ? sizeof(void *)
		       : f->type == PROTOBUF_C_TYPE_ENUM ? sizeof(int)
							 : 0;
	if (esize == 0)
		return 0;
	const char *arr = *(const char *const *)member;
	for (size_t i = 0; i < n; i++) {
		int rc = walk_value(f, arr + i * esize, path, (long)i, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Every string text within limits, every enum known, no unknown fields. */
static int walk(const ProtobufCMessage *m, const char *path, ht_err *err)
{
	if (m->n_unknown_fields > 0)
		return ht_err_set(err, HT_EINVAL, path[0] ? path : "message",
				  "unknown field %u",
				  (unsigned)m->unknown_fields[0].tag);
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		int rc = walk_field(m, &d->fields[i], path, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- the rules of each kind ---- */

static int need_text(const char *s, const char *field, ht_err *err)
{
	if (s == NULL || s[0] == '\0')
		return ht_err_set(err, HT_EINVAL, field, "required");
	return 0;
}

static int need_id(const ProtobufCBinaryData *b, const char *field, ht_err *err)
{
	if (b->len != RECORD_ID_BYTES)
		return ht_err_set(err, HT_EINVAL, field,
				  "must be a %d-byte record id, got %zu bytes",
				  RECORD_ID_BYTES, b->len);
	return 0;
}

static int check_person(const Hutong__Person *p, const char *path, size_t i,
			ht_err *err)
{
	char f[128];
	snprintf(f, sizeof(f), "%s[%zu].name", path, i);
	if (need_text(p->name, f, err) != 0)
		return HT_EINVAL;
	snprintf(f, sizeof(f), "%s[%zu].id_number", path, i);
	if (p->id_number != NULL && p->id_number[0] != '\0' &&
	    person_check_id_number(p->id_number, p->document_type, f, err) != 0)
		return HT_EINVAL;
	snprintf(f, sizeof(f), "%s[%zu].phone", path, i);
	if (p->phone != NULL && p->phone[0] != '\0' &&
	    person_check_phone(p->phone, f, err) != 0)
		return HT_EINVAL;
	return 0;
}

static int check_people(Hutong__Person **people, size_t n, const char *path,
			ht_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (check_person(people[i], path, i, err) != 0)
			return HT_EINVAL;
	return 0;
}

static int check_intel(const Hutong__Intelligence *in, ht_err *err)
{
	char f[128];
	if (need_text(in->summary, "body.intelligence.summary", err) != 0)
		return HT_EINVAL;
	if (in->accuracy > 4)
		return ht_err_set(err, HT_EINVAL, "body.intelligence.accuracy",
				  "must be 1-4 (0 = not graded), got %u",
				  in->accuracy);
	for (size_t i = 0; i < in->n_places; i++) {
		snprintf(f, sizeof(f), "body.intelligence.places[%zu].region",
			 i);
		if (util_check_region(in->places[i]->region, f, err) != 0)
			return HT_EINVAL;
	}
	for (size_t i = 0; i < in->n_related; i++) {
		snprintf(f, sizeof(f), "body.intelligence.related[%zu]", i);
		if (need_id(&in->related[i], f, err) != 0)
			return HT_EINVAL;
	}
	return check_people(in->people, in->n_people,
			    "body.intelligence.people", err);
}

static int check_repatriation(const Hutong__Repatriation *r, ht_err *err)
{
	if (need_text(r->case_id, "body.repatriation.case_id", err) != 0)
		return HT_EINVAL;
	if (r->step == HUTONG__STEP__STEP_UNSPECIFIED)
		return ht_err_set(err, HT_EINVAL, "body.repatriation.step",
				  "required");
	if (util_check_region(r->from_region, "body.repatriation.from_region",
			      err) != 0 ||
	    util_check_region(r->to_region, "body.repatriation.to_region",
			      err) != 0)
		return HT_EINVAL;
	if (strcmp(r->from_region, r->to_region) == 0)
		return ht_err_set(err, HT_EINVAL, "body.repatriation.to_region",
				  "must differ from from_region");
	return check_people(r->people, r->n_people, "body.repatriation.people",
			    err);
}

static int check_org(const Hutong__FleeingOrganization *o, ht_err *err)
{
	char f[128];
	if (need_text(o->org_id, "body.fleeing_organization.org_id", err) !=
		0 ||
	    need_text(o->name, "body.fleeing_organization.name", err) != 0)
		return HT_EINVAL;
	if (o->last_seen_region[0] != '\0' &&
	    util_check_region(o->last_seen_region,
			      "body.fleeing_organization.last_seen_region",
			      err) != 0)
		return HT_EINVAL;
	for (size_t i = 0; i < o->n_suspected_destinations; i++) {
		snprintf(
		    f, sizeof(f),
		    "body.fleeing_organization.suspected_destinations[%zu]", i);
		if (util_check_region(o->suspected_destinations[i], f, err) !=
		    0)
			return HT_EINVAL;
	}
	return check_people(o->leaders, o->n_leaders,
			    "body.fleeing_organization.leaders", err);
}

static int check_content(const Hutong__Body *b, bool nested, ht_err *err);

static int check_correction(const Hutong__Correction *c, ht_err *err)
{
	if (need_id(&c->target, "body.correction.target", err) != 0 ||
	    need_text(c->reason, "body.correction.reason", err) != 0)
		return HT_EINVAL;
	if (c->retract && c->replacement != NULL)
		return ht_err_set(err, HT_EINVAL, "body.correction.replacement",
				  "must be empty when retracting");
	if (!c->retract && c->replacement == NULL)
		return ht_err_set(err, HT_EINVAL, "body.correction.replacement",
				  "required unless retract is set");
	return c->replacement ? check_content(c->replacement, true, err) : 0;
}

/* A key and its certificates, as genesis and rotation carry them. */
static int check_key_certs(const ProtobufCBinaryData *pk,
			   const ProtobufCBinaryData *certs, size_t n,
			   const char *path, ht_err *err)
{
	char f[64];
	snprintf(f, sizeof(f), "%s.public_key", path);
	if (pk->len != RECORD_PK_BYTES)
		return ht_err_set(err, HT_EINVAL, f,
				  "must be %d bytes, got %zu", RECORD_PK_BYTES,
				  pk->len);
	snprintf(f, sizeof(f), "%s.certificates", path);
	if (n > RECORD_MAX_CERTS)
		return ht_err_set(err, HT_ELIMIT, f, "more than %d",
				  RECORD_MAX_CERTS);
	for (size_t i = 0; i < n; i++)
		if (certs[i].len == 0 || certs[i].len > RECORD_MAX_CERT)
			return ht_err_set(err, HT_ELIMIT, f,
					  "certificate %zu has %zu bytes", i,
					  certs[i].len);
	return 0;
}

static int check_genesis(const Hutong__Genesis *g, ht_err *err)
{
	return check_key_certs(&g->public_key, g->certificates,
			       g->n_certificates, "body.genesis", err);
}

static int check_rotation(const Hutong__Rotation *r, ht_err *err)
{
	if (r->n_certificates == 0)
		return ht_err_set(err, HT_EINVAL, "body.rotation.certificates",
				  "required");
	return check_key_certs(&r->public_key, r->certificates,
			       r->n_certificates, "body.rotation", err);
}

static int check_revocation(const Hutong__Revocation *r, ht_err *err)
{
	if (r->crl.len == 0)
		return ht_err_set(err, HT_EINVAL, "body.revocation.crl",
				  "required");
	if (r->crl.len > RECORD_MAX_CRL)
		return ht_err_set(err, HT_ELIMIT, "body.revocation.crl",
				  "%zu bytes (limit %d)", r->crl.len,
				  RECORD_MAX_CRL);
	return 0;
}

/* Entries sorted by origin, one each, valid codes and 32-byte heads. */
static int check_receipt(const Hutong__Receipt *r, ht_err *err)
{
	char f[64];
	for (size_t i = 0; i < r->n_entries; i++) {
		const Hutong__ReceiptEntry *e = r->entries[i];
		snprintf(f, sizeof(f), "body.receipt.entries[%zu]", i);
		if (util_check_region(e->origin, f, err) != 0)
			return HT_EINVAL;
		if (e->seq == 0 || e->head.len != RECORD_ID_BYTES)
			return ht_err_set(err, HT_EINVAL, f,
					  "needs seq >= 1 and "
					  "a 32-byte head");
		if (i > 0 && strcmp(r->entries[i - 1]->origin, e->origin) >= 0)
			return ht_err_set(err, HT_EINVAL, f,
					  "entries must be "
					  "sorted by origin, one per origin");
	}
	if ((r->arrival_n != 0) != (r->arrival_head.len == RECORD_ID_BYTES) ||
	    (r->event_n != 0) != (r->event_head.len == RECORD_ID_BYTES))
		return ht_err_set(err, HT_EINVAL, "body.receipt",
				  "a log head "
				  "needs its count and 32 bytes, or neither");
	return 0;
}

/* Two envelopes without bodies: a header, a signature and framing. What
 * they say is judged where the report is taken (node.c). */
static int check_fork(const Hutong__ForkReport *f, ht_err *err)
{
	const ProtobufCBinaryData *e[2] = {&f->first, &f->second};
	static const char *const names[2] = {"body.fork.first",
					     "body.fork.second"};
	for (int i = 0; i < 2; i++) {
		if (e[i]->len == 0)
			return ht_err_set(err, HT_EINVAL, names[i], "required");
		if (e[i]->len > RECORD_MAX_FORK_ENVELOPE)
			return ht_err_set(err, HT_ELIMIT, names[i],
					  "%zu bytes "
					  "(limit %d: an envelope without its "
					  "body)",
					  e[i]->len, RECORD_MAX_FORK_ENVELOPE);
	}
	return 0;
}

/* Rules of the body's kind. nested: inside a correction (no corrections
 * or genesis there). */
static int check_content(const Hutong__Body *b, bool nested, ht_err *err)
{
	switch (b->content_case) {
	case HUTONG__BODY__CONTENT_INTELLIGENCE:
		return check_intel(b->intelligence, err);
	case HUTONG__BODY__CONTENT_REPATRIATION:
		return check_repatriation(b->repatriation, err);
	case HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION:
		return check_org(b->fleeing_organization, err);
	case HUTONG__BODY__CONTENT_CORRECTION:
		if (nested)
			break;
		return check_correction(b->correction, err);
	case HUTONG__BODY__CONTENT_GENESIS:
		if (nested)
			break;
		return check_genesis(b->genesis, err);
	case HUTONG__BODY__CONTENT_ROTATION:
		if (nested)
			break;
		return check_rotation(b->rotation, err);
	case HUTONG__BODY__CONTENT_REVOCATION:
		if (nested)
			break;
		return check_revocation(b->revocation, err);
	case HUTONG__BODY__CONTENT_RECEIPT:
		if (nested)
			break;
		return check_receipt(b->receipt, err);
	case HUTONG__BODY__CONTENT_FORK:
		if (nested)
			break;
		return check_fork(b->fork, err);
	default:
		return ht_err_set(err, HT_EINVAL, "body",
				  "no content: one of "
				  "intelligence, repatriation, "
				  "fleeing_organization, correction required");
	}
	return ht_err_set(err, HT_EINVAL, "body.correction.replacement",
			  "must be an intelligence, repatriation or "
			  "fleeing_organization body");
}

int record_check_submission(const Hutong__Submission *sub, ht_err *err)
{
	int rc = walk(&sub->base, "", err);
	if (rc != 0)
		return rc;
	if (need_text(sub->author, "author", err) != 0)
		return HT_EINVAL;
	if (sub->body == NULL)
		return ht_err_set(err, HT_EINVAL, "body", "required");
	if (sub->body->content_case == HUTONG__BODY__CONTENT_GENESIS ||
	    sub->body->content_case == HUTONG__BODY__CONTENT_ROTATION ||
	    sub->body->content_case == HUTONG__BODY__CONTENT_RECEIPT ||
	    sub->body->content_case == HUTONG__BODY__CONTENT_FORK)
		return ht_err_set(err, HT_EINVAL, "body",
				  "genesis, rotation, receipt and fork records "
				  "are written by the node itself, not "
				  "submitted");
	return check_content(sub->body, false, err);
}

static int check_header(const Hutong__Header *h, ht_err *err)
{
	if (util_check_region(h->origin_region, "header.origin_region", err))
		return HT_EINVAL;
	if (!util_is_node_name(h->origin_node))
		return ht_err_set(err, HT_EINVAL, "header.origin_node",
				  "not a valid node name");
	if (h->seq == 0)
		return ht_err_set(err, HT_EINVAL, "header.seq", "must be >= 1");
	if (h->seq == 1 && h->prev_id.len != 0)
		return ht_err_set(err, HT_EINVAL, "header.prev_id",
				  "must be empty for seq 1");
	if (h->seq > 1 && need_id(&h->prev_id, "header.prev_id", err) != 0)
		return HT_EINVAL;
	if (util_check_time(h->created_ms, "header.created_ms", err) != 0)
		return HT_EINVAL;
	if (need_text(h->author, "header.author", err) != 0)
		return HT_EINVAL;
	if (h->kind == HUTONG__KIND__KIND_UNSPECIFIED)
		return ht_err_set(err, HT_EINVAL, "header.kind", "required");
	if ((h->seq == 1) != (h->kind == HUTONG__KIND__KIND_GENESIS))
		return ht_err_set(err, HT_EINVAL, "header.kind",
				  "seq 1 and only seq 1 is a genesis record");
	if (h->kind >= HUTONG__KIND__KIND_GENESIS &&
	    h->scope > HUTONG__SCOPE__SCOPE_NATIONAL)
		return ht_err_set(err, HT_EINVAL, "header.scope",
				  "a %s record is national",
				  record_kind_name(h->kind));
	if (h->body_hash.len != RECORD_HASH_BYTES)
		return ht_err_set(err, HT_EINVAL, "header.body_hash",
				  "must be %d bytes", RECORD_HASH_BYTES);
	return 0;
}

/* ---- decoding ---- */

/* Encode m and compare with the bytes it was decoded from. */
static bool is_canonical(const ProtobufCMessage *m, const uint8_t *buf,
			 size_t len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (n != len)
		return false;
	uint8_t stackbuf[1024];
	uint8_t *out = n <= sizeof(stackbuf) ? stackbuf : malloc(n);
	if (out == NULL)
		return false;
	protobuf_c_message_pack(m, out);
	bool same = memcmp(out, buf, n) == 0;
	if (out != stackbuf)
		free(out);
	return same;
}

static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *d,
				const uint8_t *buf, size_t len,
				const char *what, ht_err *err)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
	if (m == NULL) {
		ht_err_set(err, HT_EINVAL, what, "not a valid protobuf %s",
			   d->short_name);
		return NULL;
	}
	/* protobuf-c re-emits unknown fields verbatim, so the re-encoding
	 * alone would let one trail the known ones (the envelope is never
	 * walked for them). */
	if (m->n_unknown_fields > 0 || !is_canonical(m, buf, len)) {
		ht_err_set(err, HT_EINVAL, what,
			   "not canonically encoded (re-encoding differs)");
		protobuf_c_message_free_unpacked(m, NULL);
		return NULL;
	}
	return m;
}

/* protobuf-c decodes nested messages recursively with no depth limit, and a
 * body can nest Body > Correction > Body ... through correction (field 4 of
 * Body) and replacement (field 4 of Correction): 5000 levels fit in 35 KB and
 * exhaust the stack. Return how deep field 4 nests in buf, scanning at most
 * BODY_MAX_DEPTH + 1 levels; malformed bytes stop the scan (decode refuses
 * them). */
#define BODY_MAX_DEPTH 8

static bool get_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *i < n && shift < 64; shift += 7) {
		uint8_t c = p[(*i)++];
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

static int body_depth(const uint8_t *p, size_t n, int depth)
{
	int deepest = depth;
	size_t i = 0;
	uint64_t tag, v;
	while (i < n && deepest <= BODY_MAX_DEPTH) {
		if (!get_varint(p, n, &i, &tag))
			break;
		if ((tag & 7) == 0 && get_varint(p, n, &i, &v))
			continue;
		if ((tag & 7) == 1 || (tag & 7) == 5) {
			i += (tag & 7) == 1 ? 8 : 4;
			continue;
		}
		if ((tag & 7) != 2 || !get_varint(p, n, &i, &v) || v > n - i)
			break;
		if (tag >> 3 == 4) {
			int d = body_depth(p + i, (size_t)v, depth + 1);
			deepest = d > deepest ? d : deepest;
		}
		i += (size_t)v;
	}
	return deepest;
}

static int parse_body(record *r, ht_err *err)
{
	const ProtobufCBinaryData *b = &r->env->body;
	uint8_t hash[RECORD_HASH_BYTES];
	crypto_hash_sha256(hash, b->data, b->len);
	if (sodium_memcmp(hash, r->hdr->body_hash.data, sizeof(hash)) != 0)
		return ht_err_set(err, HT_ECRYPTO, "body",
				  "SHA-256 does not match header.body_hash");
	if (body_depth(b->data, b->len, 0) > BODY_MAX_DEPTH)
		return ht_err_set(err, HT_ELIMIT, "body",
				  "corrections nested more than %d deep",
				  BODY_MAX_DEPTH / 2);
	r->body = (Hutong__Body *)decode(&hutong__body__descriptor, b->data,
					 b->len, "body", err);
	if (r->body == NULL)
		return HT_EINVAL;
	int rc = walk(&r->body->base, "body", err);
	if (rc == 0)
		rc = check_content(r->body, false, err);
	if (rc == 0 && record_body_kind(r->body) != (int)r->hdr->kind)
		rc = ht_err_set(err, HT_EINVAL, "body",
				"content is %s but header.kind is %s",
				record_kind_name(record_body_kind(r->body)),
				record_kind_name(r->hdr->kind));
	return rc;
}

static int parse_parts(record *r, ht_err *err)
{
	r->env = (Hutong__Envelope *)decode(&hutong__envelope__descriptor,
					    r->buf, r->len, "envelope", err);
	if (r->env == NULL)
		return HT_EINVAL;
	const ProtobufCBinaryData *h = &r->env->header;
	if (h->len == 0 || h->len > RECORD_MAX_HEADER)
		return ht_err_set(err, HT_ELIMIT, "header",
				  "%zu bytes (limit %d)", h->len,
				  RECORD_MAX_HEADER);
	if (r->env->body.len > RECORD_MAX_BODY)
		return ht_err_set(err, HT_ELIMIT, "body",
				  "%zu bytes (limit %d)", r->env->body.len,
				  RECORD_MAX_BODY);
	if (r->env->signature.len != RECORD_SIG_BYTES)
		return ht_err_set(err, HT_EINVAL, "signature",
				  "must be %d bytes, got %zu", RECORD_SIG_BYTES,
				  r->env->signature.len);
	r->hdr = (Hutong__Header *)decode(&hutong__header__descriptor, h->data,
					  h->len, "header", err);
	if (r->hdr == NULL)
		return HT_EINVAL;
	int rc = walk(&r->hdr->base, "header", err);
	if (rc == 0)
		rc = check_header(r->hdr, err);
	if (rc != 0)
		return rc;
	crypto_hash_sha256(r->id, h->data, h->len);
	return r->env->body.len > 0 ? parse_body(r, err) : 0;
}

/* Take envelope bytes this module has just built from a checked
 * submission: decode the parts without the checks that guard against
 * peers (canonical form, schema walk, body hash), which hold by
 * construction. The signer's output is still what gets stored. */
static record *adopt_built(uint8_t *buf, size_t len)
{
	record *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->buf = buf;
	r->len = len;
	r->env = hutong__envelope__unpack(NULL, len, buf);
	if (r->env != NULL)
		r->hdr = hutong__header__unpack(NULL, r->env->header.len,
						r->env->header.data);
	if (r->hdr != NULL)
		r->body = hutong__body__unpack(NULL, r->env->body.len,
					       r->env->body.data);
	if (r->body == NULL) {
		r->buf = NULL; /* the caller frees buf */
		record_free(&r);
		return NULL;
	}
	crypto_hash_sha256(r->id, r->env->header.data, r->env->header.len);
	return r;
}

record *record_parse(const uint8_t *buf, size_t len, ht_err *err)
{
	if (len == 0 || len > RECORD_MAX_ENVELOPE) {
		ht_err_set(err, HT_ELIMIT, "envelope", "%zu bytes (limit %d)",
			   len, RECORD_MAX_ENVELOPE);
		return NULL;
	}
	record *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->buf = malloc(len)) == NULL) {
		free(r);
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		return NULL;
	}
	memcpy(r->buf, buf, len);
	r->len = len;
	if (parse_parts(r, err) != 0)
		record_free(&r);
	return r;
}

void record_free(record **rp)
{
	if (rp == NULL || *rp == NULL)
		return;
	record *r = *rp;
	if (r->body)
		protobuf_c_message_free_unpacked(&r->body->base, NULL);
	if (r->hdr)
		protobuf_c_message_free_unpacked(&r->hdr->base, NULL);
	if (r->env)
		protobuf_c_message_free_unpacked(&r->env->base, NULL);
	free(r->buf);
	free(r);
	*rp = NULL;
}

/* ---- building ---- */

/* Pack m into a new buffer. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(*len ? *len : 1);
	if (b != NULL)
		protobuf_c_message_pack(m, b);
	return b;
}

/* The parts of a record being built: body and header bytes, unsigned. */
typedef struct parts {
	uint8_t *body, *header;
	size_t blen, hlen;
} parts;

static void parts_free(parts *b)
{
	free(b->body);
	free(b->header);
}

/* Encode the body of sub and the header for it at o. */
static int build_parts(const Hutong__Submission *sub, const record_origin *o,
		       parts *b)
{
	uint8_t hash[RECORD_HASH_BYTES];
	if ((b->body = pack(&sub->body->base, &b->blen)) == NULL)
		return HT_ENOMEM;
	crypto_hash_sha256(hash, b->body, b->blen);
	Hutong__Header h = HUTONG__HEADER__INIT;
	h.origin_region = (char *)o->region;
	h.origin_node = (char *)o->node;
	h.seq = o->seq;
	h.prev_id.data = (uint8_t *)o->prev;
	h.prev_id.len = o->prev ? RECORD_ID_BYTES : 0;
	h.created_ms = o->created_ms;
	h.author = sub->author;
	h.kind = (Hutong__Kind)record_body_kind(sub->body);
	h.scope = sub->scope;
	h.body_hash.data = hash;
	h.body_hash.len = sizeof(hash);
	h.ref = sub->ref;
	return (b->header = pack(&h.base, &b->hlen)) ? 0 : HT_ENOMEM;
}

/* The limits record_parse applies, applied before signing, so the origin
 * never signs (and chains) a record every peer would refuse. The envelope's
 * size does not depend on the signature's bytes, only on its length. */
static int check_sizes(const parts *b, ht_err *err)
{
	Hutong__Envelope e = HUTONG__ENVELOPE__INIT;
	e.header.len = b->hlen;
	e.signature.len = RECORD_SIG_BYTES;
	e.body.len = b->blen;
	size_t n = protobuf_c_message_get_packed_size(&e.base);
	if (n > RECORD_MAX_ENVELOPE)
		return ht_err_set(err, HT_ELIMIT, "",
				  "envelope of %zu bytes exceeds the limit of "
				  "%d",
				  n, RECORD_MAX_ENVELOPE);
	if (b->blen > RECORD_MAX_BODY)
		return ht_err_set(err, HT_ELIMIT, "body",
				  "%zu bytes exceed the limit of %d", b->blen,
				  RECORD_MAX_BODY);
	if (b->hlen > RECORD_MAX_HEADER)
		return ht_err_set(err, HT_ELIMIT, "header",
				  "%zu bytes exceed the limit of %d", b->hlen,
				  RECORD_MAX_HEADER);
	return 0;
}

/* Sign the header and put the envelope bytes in *out. */
static int sign_parts(const parts *b, record_signer sign, void *sign_ctx,
		      uint8_t **out, size_t *out_len)
{
	uint8_t sig[RECORD_SIG_BYTES];
	int rc = sign(sign_ctx, b->header, b->hlen, sig);
	if (rc != 0)
		return rc;
	Hutong__Envelope e = HUTONG__ENVELOPE__INIT;
	e.header = (ProtobufCBinaryData){b->hlen, b->header};
	e.signature = (ProtobufCBinaryData){sizeof(sig), sig};
	e.body = (ProtobufCBinaryData){b->blen, b->body};
	return (*out = pack(&e.base, out_len)) ? 0 : HT_ENOMEM;
}

static bool built_by_node(const Hutong__Body *b)
{
	return b != NULL &&
	       (b->content_case == HUTONG__BODY__CONTENT_GENESIS ||
		b->content_case == HUTONG__BODY__CONTENT_ROTATION ||
		b->content_case == HUTONG__BODY__CONTENT_RECEIPT ||
		b->content_case == HUTONG__BODY__CONTENT_FORK);
}

/* Limits, then the submission's rules, then the signature. */
static int build_bytes(const Hutong__Submission *sub, const record_origin *o,
		       record_signer sign, void *sign_ctx, uint8_t **out,
		       size_t *out_len, ht_err *err)
{
	parts b = {0};
	int rc = build_parts(sub, o, &b);
	if (rc != 0) {
		rc = ht_err_set(err, rc, "", "cannot build record: %s",
				ht_strerror(rc));
		goto out;
	}
	if ((rc = check_sizes(&b, err)) != 0)
		goto out;
	if (!built_by_node(sub->body) &&
	    (rc = record_check_submission(sub, err)) != 0)
		goto out;
	if ((rc = sign_parts(&b, sign, sign_ctx, out, out_len)) != 0)
		rc = ht_err_set(err, rc, "", "cannot build record: %s",
				ht_strerror(rc));
out:
	parts_free(&b);
	return rc;
}

int record_build(const Hutong__Submission *sub, const record_origin *o,
		 record_signer sign, void *sign_ctx, record **out, ht_err *err)
{
	bool by_node = built_by_node(sub->body);
	if (sub->body == NULL)
		return ht_err_set(err, HT_EINVAL, "body", "required");
	uint8_t *bytes = NULL;
	size_t len = 0;
	int rc = build_bytes(sub, o, sign, sign_ctx, &bytes, &len, err);
	if (rc != 0)
		return rc;
	/* Node-built kinds are rare: run them through every check. A checked
	 * submission is adopted, but its header still meets the rules. */
	record *r =
	    by_node ? record_parse(bytes, len, err) : adopt_built(bytes, len);
	if (r == NULL || by_node)
		free(bytes);
	if (r == NULL)
		return by_node
			   ? HT_EINVAL
			   : ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if ((rc = check_header(r->hdr, err)) != 0)
		record_free(&r);
	*out = r;
	return rc;
}

record *record_without_body(const record *r)
{
	Hutong__Envelope e = HUTONG__ENVELOPE__INIT;
	e.header = r->env->header;
	e.signature = r->env->signature;
	size_t len;
	uint8_t *bytes = pack(&e.base, &len);
	if (bytes == NULL)
		return NULL;
	record *out = record_parse(bytes, len, NULL);
	free(bytes);
	return out;
}

bool record_verify(const record *r, const uint8_t pk[RECORD_PK_BYTES])
{
	return crypto_sign_verify_detached(r->env->signature.data,
					   r->env->header.data,
					   r->env->header.len, pk) == 0;
}

const uint8_t *record_id(const record *r) { return r->id; }

const Hutong__Header *record_header(const record *r) { return r->hdr; }

const Hutong__Body *record_body(const record *r) { return r->body; }

const uint8_t *record_bytes(const record *r, size_t *len)
{
	*len = r->len;
	return r->buf;
}

const uint8_t *record_header_bytes(const record *r, size_t *len)
{
	*len = r->env->header.len;
	return r->env->header.data;
}

const uint8_t *record_signature(const record *r)
{
	return r->env->signature.data;
}

bool record_is_genesis(const record *r)
{
	return r->hdr->kind == HUTONG__KIND__KIND_GENESIS;
}

bool record_needs_body(int kind)
{
	switch (kind) {
	case HUTONG__KIND__KIND_GENESIS:
	case HUTONG__KIND__KIND_ROTATION:
	case HUTONG__KIND__KIND_REVOCATION:
	case HUTONG__KIND__KIND_RECEIPT:
	case HUTONG__KIND__KIND_FORK:
		/* policy, grant and erasure records join here */
		return true;
	default:
		return false;
	}
}

bool record_key_change(const record *r, const uint8_t **pk,
		       const ProtobufCBinaryData **certs, size_t *n_certs)
{
	const Hutong__Body *b = r->body;
	if (b != NULL && b->content_case == HUTONG__BODY__CONTENT_GENESIS) {
		*pk = b->genesis->public_key.data;
		*certs = b->genesis->certificates;
		*n_certs = b->genesis->n_certificates;
		return true;
	}
	if (b != NULL && b->content_case == HUTONG__BODY__CONTENT_ROTATION) {
		*pk = b->rotation->public_key.data;
		*certs = b->rotation->certificates;
		*n_certs = b->rotation->n_certificates;
		return true;
	}
	return false;
}

/* ---- index terms ---- */

typedef struct terms {
	record_term_fn fn;
	void *ctx;
	char seen[RECORD_MAX_TERMS][RECORD_MAX_TERM];
	size_t n;
} terms;

static void term_add(terms *t, const char *prefix, const char *value)
{
	char term[RECORD_MAX_TERM];
	if (value == NULL || value[0] == '\0' || t->n == RECORD_MAX_TERMS)
		return;
	snprintf(term, sizeof(term), "%s:%s", prefix, value);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->seen[i], term) == 0)
			return;
	memcpy(t->seen[t->n++], term, sizeof(term));
	t->fn(t->ctx, term);
}

static void term_name(terms *t, const char *prefix, const char *name)
{
	char key[RECORD_MAX_TERM];
	if (name != NULL && name[0] != '\0')
		term_add(t, prefix, util_name_key(name, key, sizeof(key)));
}

static void term_id(terms *t, const char *prefix, const ProtobufCBinaryData *b)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	if (b->len == RECORD_ID_BYTES)
		term_add(t, prefix, util_hex(b->data, b->len, hex));
}

static void term_people(terms *t, Hutong__Person **p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		term_name(t, "person", p[i]->name);
		term_add(t, "idno", p[i]->id_number);
		term_add(t, "phone", p[i]->phone);
	}
}

static void terms_intel(terms *t, const Hutong__Intelligence *in)
{
	term_name(t, "orgname", in->organization);
	for (size_t i = 0; i < in->n_aliases; i++)
		term_name(t, "orgname", in->aliases[i]);
	term_people(t, in->people, in->n_people);
	for (size_t i = 0; i < in->n_places; i++)
		term_add(t, "region", in->places[i]->region);
	for (size_t i = 0; i < in->n_related; i++)
		term_id(t, "related", &in->related[i]);
}

static void terms_org(terms *t, const Hutong__FleeingOrganization *o)
{
	term_add(t, "org", o->org_id);
	term_name(t, "orgname", o->name);
	for (size_t i = 0; i < o->n_aliases; i++)
		term_name(t, "orgname", o->aliases[i]);
	term_people(t, o->leaders, o->n_leaders);
	term_add(t, "region", o->last_seen_region);
	for (size_t i = 0; i < o->n_suspected_destinations; i++) {
		term_add(t, "dest", o->suspected_destinations[i]);
		term_add(t, "region", o->suspected_destinations[i]);
	}
}

static void terms_body(terms *t, const Hutong__Body *b)
{
	switch (b->content_case) {
	case HUTONG__BODY__CONTENT_INTELLIGENCE:
		terms_intel(t, b->intelligence);
		break;
	case HUTONG__BODY__CONTENT_REPATRIATION:
		term_add(t, "case", b->repatriation->case_id);
		term_people(t, b->repatriation->people,
			    b->repatriation->n_people);
		break;
	case HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION:
		terms_org(t, b->fleeing_organization);
		break;
	case HUTONG__BODY__CONTENT_CORRECTION:
		term_id(t, "target", &b->correction->target);
		if (b->correction->replacement != NULL)
			terms_body(t, b->correction->replacement);
		break;
	default:
		break;
	}
}

void record_terms(const record *r, record_term_fn fn, void *ctx)
{
	/* On the stack (10 KiB): an allocation failure here would silently
	 * leave a stored record out of the term index. */
	terms t;
	t.fn = fn;
	t.ctx = ctx;
	t.n = 0;
	if (r->hdr->ref != NULL && r->hdr->ref[0] != '\0') {
		char key[RECORD_MAX_TERM];
		snprintf(key, sizeof(key), "%s:%s", r->hdr->author,
			 r->hdr->ref);
		term_add(&t, "ref", key);
	}
	if (r->body == NULL)
		return;
	terms_body(&t, r->body);
}

/* ---- warnings ---- */

static void warn_add(record_warnings *w, const char *fmt, ...) HT_PRINTF(2, 3);
static void warn_add(record_warnings *w, const char *fmt, ...)
{
	va_list ap;
	if (w->n < RECORD_MAX_WARNINGS) {
		va_start(ap, fmt);
		vsnprintf(w->msg[w->n++], sizeof(w->msg[0]), fmt, ap);
		va_end(ap);
	}
	w->total++;
}

static void warn_region(record_warnings *w, const char *code, const char *path,
			const char *field, long i)
{
	if (!util_is_region_code(code) || region_known(code))
		return;
	if (i >= 0)
		warn_add(w, "unknown region %s at %s.%s[%ld]", code, path,
			 field, i);
	else
		warn_add(w, "unknown region %s at %s.%s", code, path, field);
}

/* A resident identity number's prefix is its holder's region of first
 * registration; codes retired since are still valid numbers. */
static void warn_people(record_warnings *w, Hutong__Person **p, size_t n,
			const char *path)
{
	char code[HT_REGION_LEN + 1];
	for (size_t i = 0; i < n; i++) {
		const char *id = p[i]->id_number;
		if (p[i]->document_type >
			HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_RESIDENT_ID ||
		    id == NULL || strlen(id) != PERSON_RESIDENT_ID_LEN)
			continue;
		memcpy(code, id, HT_REGION_LEN);
		code[HT_REGION_LEN] = '\0';
		if (util_is_region_code(code) && !region_known(code))
			warn_add(w, "unknown region %s at %s[%zu].id_number",
				 code, path, i);
	}
}

static void warn_intel(record_warnings *w, const Hutong__Intelligence *in,
		       const char *path)
{
	char f[128];
	for (size_t i = 0; i < in->n_places; i++) {
		snprintf(f, sizeof(f), "%s.places[%zu]", path, i);
		warn_region(w, in->places[i]->region, f, "region", -1);
	}
	snprintf(f, sizeof(f), "%s.people", path);
	warn_people(w, in->people, in->n_people, f);
}

static void warn_org(record_warnings *w, const Hutong__FleeingOrganization *o,
		     const char *path)
{
	char f[128];
	warn_region(w, o->last_seen_region, path, "last_seen_region", -1);
	for (size_t i = 0; i < o->n_suspected_destinations; i++)
		warn_region(w, o->suspected_destinations[i], path,
			    "suspected_destinations", (long)i);
	snprintf(f, sizeof(f), "%s.leaders", path);
	warn_people(w, o->leaders, o->n_leaders, f);
}

static void warn_body(record_warnings *w, const Hutong__Body *b,
		      const char *path)
{
	char f[96];
	switch (b->content_case) {
	case HUTONG__BODY__CONTENT_INTELLIGENCE:
		snprintf(f, sizeof(f), "%s.intelligence", path);
		warn_intel(w, b->intelligence, f);
		break;
	case HUTONG__BODY__CONTENT_REPATRIATION:
		snprintf(f, sizeof(f), "%s.repatriation", path);
		warn_region(w, b->repatriation->from_region, f, "from_region",
			    -1);
		warn_region(w, b->repatriation->to_region, f, "to_region", -1);
		snprintf(f, sizeof(f), "%s.repatriation.people", path);
		warn_people(w, b->repatriation->people,
			    b->repatriation->n_people, f);
		break;
	case HUTONG__BODY__CONTENT_FLEEING_ORGANIZATION:
		snprintf(f, sizeof(f), "%s.fleeing_organization", path);
		warn_org(w, b->fleeing_organization, f);
		break;
	case HUTONG__BODY__CONTENT_CORRECTION:
		snprintf(f, sizeof(f), "%s.correction.replacement", path);
		if (b->correction->replacement != NULL)
			warn_body(w, b->correction->replacement, f);
		break;
	default:
		break;
	}
}

size_t record_warnings_of(const Hutong__Body *b, record_warnings *w)
{
	memset(w, 0, sizeof(*w));
	if (b != NULL)
		warn_body(w, b, "body");
	return w->total;
}
