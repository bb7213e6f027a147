/*
 * json: the proto3 JSON mapping for any protobuf-c message, driven only by
 * the message descriptor, so every hutong message (and any other protobuf-c
 * message) reads and writes JSON the way Google's json_format does.
 *
 * Reading is strict because the JSON comes from people and scripts: an
 * unknown key, a wrong type, an out-of-range number, an unknown enum name, two
 * members of one oneof, or one field given under both of its names is an
 * error that names the path of the value at fault
 * ("body.intelligence.people[1].role: unknown enum value 'boss'"). Message
 * nesting is limited to JSON_MAX_DEPTH. The message is built with malloc in
 * exactly the shape protobuf_c_message_unpack() gives, so the caller frees it
 * with protobuf_c_message_free_unpacked(m, NULL); on failure everything
 * allocated so far is freed the same way and nothing is returned.
 *
 * Writing follows proto3: lowerCamelCase keys in field-number order, enum
 * names (the number when a value has no name), 64-bit integers as decimal
 * strings, bytes as padded standard base64, proto3 default values omitted,
 * only the set member of a oneof.
 *
 * The one extension: a bytes value given as exactly 64 hex digits is read as
 * 32 raw bytes (a record id, key or hash), and JSON_BYTES_HEX writes 32-byte
 * values that way. Hex is tried before base64, so the only base64 strings it
 * shadows are 48-byte values whose 64 characters all happen to be hex digits
 * (a chance of about (22/64)^64 for random bytes).
 */
#include "json.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PATH_MAX_LEN 1024 /* longer paths are cut; errors show their tail */
#define SHOW_MAX 40	  /* bytes of a key or value quoted in an error */
#define ID_BYTES 32	  /* the size the hex extension reads and writes */

/* Where the reader is: the path of the value being read, for errors. */
typedef struct jctx {
	char path[PATH_MAX_LEN];
	size_t len;
	int depth; /* messages entered so far */
	ht_err *err;
} jctx;

/* Sign and magnitude of an integer, whatever JSON form it came in. */
typedef struct jint {
	bool neg;
	uint64_t mag;
} jint;

static int read_message(jctx *c, const json_t *o,
			const ProtobufCMessageDescriptor *d,
			ProtobufCMessage **out);
static json_t *write_message(const ProtobufCMessage *m, int flags, int depth);

/* ---- small shared helpers ---- */

static void *member(const void *m, unsigned offset)
{
	return (char *)m + offset;
}

static bool is_hex_digit(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	       (ch >= 'A' && ch <= 'F');
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return ch - 'A' + 10;
}

/* The next character of the lowerCamelCase form of a proto field name, as
 * protoc computes json_name: each '_' is dropped and the letter after it
 * upper-cased. Advances *name; NUL at the end. */
static char camel_next(const char **name)
{
	bool up = false;
	char ch;

	while (**name == '_') {
		up = true;
		(*name)++;
	}
	ch = **name;
	if (ch == '\0')
		return '\0';
	(*name)++;
	return up && ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

/* lowerCamelCase of name into out (n bytes, always NUL-terminated). */
static void camel_name(const char *name, char *out, size_t n)
{
	size_t i = 0;
	char ch;

	while (i + 1 < n && (ch = camel_next(&name)) != '\0')
		out[i++] = ch;
	out[i] = '\0';
}

/* True if key (klen bytes, may hold NUL) is the camelCase form of name. */
static bool camel_equal(const char *key, size_t klen, const char *name)
{
	size_t i = 0;
	char ch;

	while ((ch = camel_next(&name)) != '\0')
		if (i >= klen || key[i++] != ch)
			return false;
	return i == klen;
}

/* Copy at most SHOW_MAX bytes of s for an error message: control bytes
 * become '?', a cut never splits a UTF-8 sequence and is marked "...". */
static void show(const char *s, size_t len, char *out, size_t n)
{
	size_t take = len, i;

	if (take > SHOW_MAX) {
		take = SHOW_MAX;
		while (take > 0 && ((unsigned char)s[take] & 0xc0) == 0x80)
			take--;
	}
	if (take + 4 > n)
		take = n - 4;
	for (i = 0; i < take; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	strcpy(out + i, take < len ? "..." : "");
}

/* ---- the path and errors ---- */

/* Append to the path (cut at PATH_MAX_LEN); returns the length to restore. */
static size_t path_push(jctx *c, const char *seg)
{
	size_t mark = c->len;
	int w = snprintf(c->path + c->len, sizeof(c->path) - c->len, "%s", seg);

	if (w > 0)
		c->len += (size_t)w;
	if (c->len >= sizeof(c->path))
		c->len = sizeof(c->path) - 1;
	return mark;
}

static size_t path_push_key(jctx *c, const char *key, size_t klen)
{
	char seg[SHOW_MAX + 8];

	seg[0] = '.';
	show(key, klen, seg + 1, sizeof(seg) - 1);
	return path_push(c, c->len == 0 ? seg + 1 : seg);
}

static size_t path_push_index(jctx *c, size_t i)
{
	char seg[32];

	snprintf(seg, sizeof(seg), "[%zu]", i);
	return path_push(c, seg);
}

static void path_pop(jctx *c, size_t mark)
{
	c->len = mark;
	c->path[mark] = '\0';
}

/* Record the error at the current path and return code. A path too long for
 * ht_err.field keeps its tail, the most specific part. */
static int fail(jctx *c, int code, const char *fmt, ...) HT_PRINTF(3, 4);
static int fail(jctx *c, int code, const char *fmt, ...)
{
	char msg[HT_ERR_MSG_MAX], field[HT_ERR_FIELD_MAX];
	const char *p = c->path;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->len >= sizeof(field)) {
		p = c->path + c->len - (sizeof(field) - 4);
		while (((unsigned char)*p & 0xc0) == 0x80)
			p++;
		if (*p == '.')
			p++;
		snprintf(field, sizeof(field), "...%s", p);
		p = field;
	}
	return ht_err_set(c->err, code, p, "%s", msg);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int fail_type(jctx *c, const char *want, const json_t *v)
{
	return fail(c, HT_EINVAL, "expected %s, got %s", want, type_name(v));
}

/* The JSON value as an error shows it: 'text' for strings, else literal. */
static void value_text(const json_t *v, char *out, size_t n)
{
	char s[SHOW_MAX + 8];

	if (json_is_string(v)) {
		show(json_string_value(v), json_string_length(v), s, sizeof(s));
		snprintf(out, n, "'%s'", s);
	} else if (json_is_integer(v)) {
		snprintf(out, n, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	} else if (json_is_real(v)) {
		/* the shortest form that reads back: 1e+39, not 9.99...e+38 */
		double x = json_real_value(v);
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(out, n, "%.*g", prec, x);
			if (strtod(out, NULL) == x)
				break;
		}
	} else {
		snprintf(out, n, "%s", type_name(v));
	}
}

static int fail_range(jctx *c, const json_t *v, const char *type)
{
	char t[SHOW_MAX + 16];

	value_text(v, t, sizeof(t));
	return fail(c, HT_EINVAL, "value %s out of range for %s", t, type);
}

/* ---- scalars ---- */

/* A decimal integer string: optional '-', then digits, nothing else. */
static bool parse_decimal(const char *s, size_t len, jint *out, bool *over)
{
	size_t i = 0;

	*over = false;
	out->neg = len > 0 && s[0] == '-';
	i = out->neg ? 1 : 0;
	if (i == len)
		return false;
	out->mag = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned dig = (unsigned)(s[i] - '0');
		if (out->mag > (UINT64_MAX - dig) / 10)
			*over = true;
		else
			out->mag = out->mag * 10 + dig;
	}
	return true;
}

/* An integer in any proto3 JSON form: a JSON integer, an integral real
 * ("1e3", "5.0") or a decimal string. Magnitudes of 2^64 and more are out of
 * range for every type. */
static int read_jint(jctx *c, const json_t *v, const char *type, jint *out)
{
	bool over = false;

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		out->neg = x < 0;
		out->mag = out->neg ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x;
		return 0;
	}
	if (json_is_real(v)) {
		double r = json_real_value(v);
		if (!isfinite(r) || floor(r) != r)
			return fail(c, HT_EINVAL, "expected an integer");
		if (fabs(r) >= 18446744073709551616.0)
			return fail_range(c, v, type);
		out->neg = r < 0;
		out->mag = (uint64_t)fabs(r);
		return 0;
	}
	if (!json_is_string(v))
		return fail_type(c, "an integer", v);
	if (!parse_decimal(json_string_value(v), json_string_length(v), out,
			   &over))
		return fail(c, HT_EINVAL, "expected an integer");
	if (over)
		return fail_range(c, v, type);
	out->neg = out->neg && out->mag != 0; /* "-0" is zero */
	return 0;
}

static int read_signed(jctx *c, const json_t *v, int64_t min, int64_t max,
		       const char *type, int64_t *out)
{
	jint j;
	int rc = read_jint(c, v, type, &j);

	if (rc != 0)
		return rc;
	if (j.neg ? j.mag - 1 > (uint64_t)(-(min + 1)) : j.mag > (uint64_t)max)
		return fail_range(c, v, type);
	*out = j.neg ? -(int64_t)(j.mag - 1) - 1 : (int64_t)j.mag;
	return 0;
}

static int read_unsigned(jctx *c, const json_t *v, uint64_t max,
			 const char *type, uint64_t *out)
{
	jint j;
	int rc = read_jint(c, v, type, &j);

	if (rc != 0)
		return rc;
	if (j.neg || j.mag > max)
		return fail_range(c, v, type);
	*out = j.mag;
	return 0;
}

/* A decimal float string; strtod alone would also take "inf", hex floats
 * and leading space. */
static bool parse_float_text(const char *s, size_t len, double *out)
{
	bool digit = false;
	char *end = NULL;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digit = true;
		else if (strchr("+-.eE", s[i]) == NULL || s[i] == '\0')
			return false;
	}
	*out = strtod(s, &end);
	return digit && end == s + len;
}

/* A float or double: a JSON number, a decimal string, or the strings
 * "NaN", "Infinity" and "-Infinity". */
static int read_double(jctx *c, const json_t *v, bool single, double *out)
{
	const char *s = json_string_value(v);

	if (json_is_number(v)) {
		*out = json_number_value(v);
	} else if (s == NULL) {
		return fail_type(c, "a number", v);
	} else if (strcmp(s, "NaN") == 0) {
		*out = NAN;
		return 0;
	} else if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	} else if (!parse_float_text(s, json_string_length(v), out)) {
		return fail(c, HT_EINVAL, "expected a number");
	}
	if (!isfinite(*out) || (single && fabs(*out) > FLT_MAX))
		return fail_range(c, v, single ? "float" : "double");
	return 0;
}

/* An enum: its value name, or any int32 number (proto3 enums are open, so a
 * number without a name is kept, as the binary decoder keeps it). */
static int read_enum(jctx *c, const ProtobufCEnumDescriptor *ed,
		     const json_t *v, int32_t *out)
{
	const ProtobufCEnumValue *ev;
	char t[SHOW_MAX + 8];
	int64_t x;
	int rc;

	if (json_is_number(v)) {
		rc = read_signed(c, v, INT32_MIN, INT32_MAX, "enum", &x);
		if (rc == 0)
			*out = (int32_t)x;
		return rc;
	}
	if (!json_is_string(v))
		return fail_type(c, "an enum name or number", v);
	ev = NULL;
	if (strlen(json_string_value(v)) == json_string_length(v))
		ev = protobuf_c_enum_descriptor_get_value_by_name(
		    ed, json_string_value(v));
	if (ev == NULL) {
		show(json_string_value(v), json_string_length(v), t, sizeof(t));
		return fail(c, HT_EINVAL, "unknown enum value '%s'", t);
	}
	*out = ev->value;
	return 0;
}

/* A string: jansson already checked UTF-8 when it decoded the text; a
 * json_t built by hand is checked again, and NUL (which a C string cannot
 * hold) is refused. */
static int read_string(jctx *c, const json_t *v, char **out)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	char *copy;

	if (s == NULL)
		return fail_type(c, "a string", v);
	if (memchr(s, '\0', len) != NULL)
		return fail(c, HT_EINVAL, "contains a NUL character");
	if (!util_utf8_valid(s, len))
		return fail(c, HT_EINVAL, "not valid UTF-8");
	copy = malloc(len + 1);
	if (copy == NULL)
		return fail(c, HT_ENOMEM, "out of memory");
	memcpy(copy, s, len + 1);
	*out = copy;
	return 0;
}

/* ---- bytes: base64 and the hex extension ---- */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a base64 digit in either alphabet, -1 if none. */
static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Decode base64 (standard or URL-safe, padded or not) into out, which has
 * room for len*3/4 bytes. Refuses misplaced padding, a dangling sixth of a
 * byte and non-zero bits after the last byte, so each byte string has one
 * accepted spelling per alphabet and padding choice. */
static bool b64_decode(const char *s, size_t len, uint8_t *out, size_t *n)
{
	size_t pad = 0, i;
	uint32_t acc = 0;
	int bits = 0;

	while (pad < 2 && len > pad && s[len - pad - 1] == '=')
		pad++;
	if ((pad > 0 && len % 4 != 0) || (len - pad) % 4 == 1)
		return false;
	*n = 0;
	for (i = 0; i < len - pad; i++) {
		int x = b64_value(s[i]);
		if (x < 0)
			return false;
		acc = (acc << 6 | (uint32_t)x) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[(*n)++] = (uint8_t)(acc >> bits);
		}
	}
	return (acc & ((1u << bits) - 1)) == 0;
}

static bool is_id_hex(const char *s, size_t len)
{
	if (len != 2 * ID_BYTES)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_hex_digit(s[i]))
			return false;
	return true;
}

static int read_bytes(jctx *c, const json_t *v, ProtobufCBinaryData *out)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v), n = 0;
	uint8_t *buf;

	if (s == NULL)
		return fail_type(c, "a base64 string", v);
	if (len == 0) {
		out->len = 0;
		out->data = NULL;
		return 0;
	}
	buf = malloc(len / 4 * 3 + 3);
	if (buf == NULL)
		return fail(c, HT_ENOMEM, "out of memory");
	if (is_id_hex(s, len)) {
		for (n = 0; n < ID_BYTES; n++)
			buf[n] = (uint8_t)(hex_value(s[2 * n]) << 4 |
					   hex_value(s[2 * n + 1]));
	} else if (!b64_decode(s, len, buf, &n)) {
		free(buf);
		return fail(c, HT_EINVAL, "invalid base64");
	}
	out->data = buf;
	out->len = n;
	return 0;
}

/* ---- fields ---- */

/* Bytes one element of a repeated field of this type takes. */
static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default: /* 32-bit integers and enums */
		return sizeof(uint32_t);
	}
}

/* Read one value of field f's type into slot, which it overwrites only on
 * success (what it held before is a default we do not own). */
static int read_value(jctx *c, const ProtobufCFieldDescriptor *f,
		      const json_t *v, void *slot)
{
	int64_t i = 0;
	uint64_t u = 0;
	double x = 0;
	int32_t e = 0;
	int rc;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if ((rc = read_signed(c, v, INT32_MIN, INT32_MAX, "int32",
				      &i)) == 0)
			*(int32_t *)slot = (int32_t)i;
		return rc;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if ((rc = read_signed(c, v, INT64_MIN, INT64_MAX, "int64",
				      &i)) == 0)
			*(int64_t *)slot = i;
		return rc;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if ((rc = read_unsigned(c, v, UINT32_MAX, "uint32", &u)) == 0)
			*(uint32_t *)slot = (uint32_t)u;
		return rc;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if ((rc = read_unsigned(c, v, UINT64_MAX, "uint64", &u)) == 0)
			*(uint64_t *)slot = u;
		return rc;
	case PROTOBUF_C_TYPE_FLOAT:
		if ((rc = read_double(c, v, true, &x)) == 0)
			*(float *)slot = (float)x;
		return rc;
	case PROTOBUF_C_TYPE_DOUBLE:
		if ((rc = read_double(c, v, false, &x)) == 0)
			*(double *)slot = x;
		return rc;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return fail_type(c, "a boolean", v);
		*(protobuf_c_boolean *)slot = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		if ((rc = read_enum(c, f->descriptor, v, &e)) == 0)
			*(int32_t *)slot = e;
		return rc;
	case PROTOBUF_C_TYPE_STRING:
		return read_string(c, v, (char **)slot);
	case PROTOBUF_C_TYPE_BYTES:
		return read_bytes(c, v, (ProtobufCBinaryData *)slot);
	case PROTOBUF_C_TYPE_MESSAGE:
		return read_message(c, v, f->descriptor,
				    (ProtobufCMessage **)slot);
	}
	return fail(c, HT_EINVAL, "unsupported field type %d", (int)f->type);
}

/* A repeated field: a JSON array, each element a value (null is refused, as
 * Google's parser does). The count grows with each element read, so on
 * failure free_unpacked frees exactly what was read. */
static int read_repeated(jctx *c, const ProtobufCFieldDescriptor *f,
			 ProtobufCMessage *m, const json_t *v)
{
	size_t *count = member(m, f->quantifier_offset);
	void **arr = member(m, f->offset);
	size_t n, esz = elem_size(f->type);

	if (!json_is_array(v))
		return fail_type(c, "an array", v);
	n = json_array_size(v);
	if (n == 0)
		return 0;
	*arr = calloc(n, esz);
	if (*arr == NULL)
		return fail(c, HT_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		size_t mark = path_push_index(c, i);
		if (json_is_null(e))
			return fail(c, HT_EINVAL,
				    "null is not allowed in a list");
		int rc = read_value(c, f, e, (char *)*arr + i * esz);
		if (rc != 0)
			return rc;
		(*count)++;
		path_pop(c, mark);
	}
	return 0;
}

/* A oneof member: refused when another member of the same oneof (the
 * fields sharing its case word) is already set. */
static int read_oneof(jctx *c, const ProtobufCMessageDescriptor *d,
		      const ProtobufCFieldDescriptor *f, ProtobufCMessage *m,
		      const json_t *v)
{
	uint32_t *which = member(m, f->quantifier_offset);
	char other[64] = "?";
	int rc;

	if (*which != 0) {
		for (unsigned i = 0; i < d->n_fields; i++)
			if (d->fields[i].id == *which &&
			    d->fields[i].quantifier_offset ==
				f->quantifier_offset)
				camel_name(d->fields[i].name, other,
					   sizeof(other));
		return fail(c, HT_EINVAL, "oneof already set by '%s'", other);
	}
	rc = read_value(c, f, v, member(m, f->offset));
	if (rc == 0)
		*which = f->id;
	return rc;
}

/* Whether a field of this type, when optional, has a has_ flag at
 * quantifier_offset (strings and messages use NULL instead). */
static bool has_flag(const ProtobufCFieldDescriptor *f)
{
	return f->label == PROTOBUF_C_LABEL_OPTIONAL &&
	       !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	       f->type != PROTOBUF_C_TYPE_STRING &&
	       f->type != PROTOBUF_C_TYPE_MESSAGE;
}

static int read_field(jctx *c, const ProtobufCMessageDescriptor *d,
		      const ProtobufCFieldDescriptor *f, ProtobufCMessage *m,
		      const json_t *v)
{
	int rc;

	if (json_is_null(v))
		return 0;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return read_oneof(c, d, f, m, v);
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return read_repeated(c, f, m, v);
	rc = read_value(c, f, v, member(m, f->offset));
	if (rc == 0 && has_flag(f))
		*(protobuf_c_boolean *)member(m, f->quantifier_offset) = 1;
	return rc;
}

/* The field a key names, by lowerCamelCase or original proto name. */
static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *d, const char *key, size_t klen)
{
	for (unsigned i = 0; i < d->n_fields; i++) {
		const char *name = d->fields[i].name;
		if ((strlen(name) == klen && memcmp(name, key, klen) == 0) ||
		    camel_equal(key, klen, name))
			return &d->fields[i];
	}
	return NULL;
}

static int read_members(jctx *c, const json_t *o,
			const ProtobufCMessageDescriptor *d,
			ProtobufCMessage *m, uint8_t *seen)
{
	json_t *obj = (json_t *)o; /* jansson iterators do not modify */

	for (void *it = json_object_iter(obj); it != NULL;
	     it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		size_t klen = json_object_iter_key_len(it);
		size_t mark = path_push_key(c, key, klen);
		const ProtobufCFieldDescriptor *f = find_field(d, key, klen);
		if (f == NULL)
			return fail(c, HT_EINVAL, "unknown field");
		if (seen[f - d->fields]++)
			return fail(c, HT_EINVAL, "field '%s' given twice",
				    f->name);
		int rc = read_field(c, d, f, m, json_object_iter_value(it));
		if (rc != 0)
			return rc;
		path_pop(c, mark);
	}
	return 0;
}

/* proto2 required strings and messages have no usable default. */
static int check_required(jctx *c, const ProtobufCMessageDescriptor *d,
			  const ProtobufCMessage *m)
{
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->label != PROTOBUF_C_LABEL_REQUIRED ||
		    (f->type != PROTOBUF_C_TYPE_STRING &&
		     f->type != PROTOBUF_C_TYPE_MESSAGE) ||
		    *(void **)member(m, f->offset) != NULL)
			continue;
		char key[64];
		camel_name(f->name, key, sizeof(key));
		size_t mark = path_push_key(c, key, strlen(key));
		int rc = fail(c, HT_EINVAL, "required field missing");
		path_pop(c, mark);
		return rc;
	}
	return 0;
}

static int read_message(jctx *c, const json_t *o,
			const ProtobufCMessageDescriptor *d,
			ProtobufCMessage **out)
{
	ProtobufCMessage *m;
	uint8_t *seen;
	int rc;

	if (!json_is_object(o))
		return fail_type(c, "an object", o);
	if (c->depth >= JSON_MAX_DEPTH)
		return fail(c, HT_ELIMIT, "messages nested deeper than %d",
			    JSON_MAX_DEPTH);
	m = malloc(d->sizeof_message);
	seen = calloc(d->n_fields + 1, 1);
	if (m == NULL || seen == NULL) {
		free(m);
		free(seen);
		return fail(c, HT_ENOMEM, "out of memory");
	}
	d->message_init(m);
	c->depth++;
	rc = read_members(c, o, d, m, seen);
	if (rc == 0)
		rc = check_required(c, d, m);
	c->depth--;
	free(seen);
	if (rc != 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		return rc;
	}
	*out = m;
	return 0;
}

ProtobufCMessage *json_to_message(const json_t *o,
				  const ProtobufCMessageDescriptor *d,
				  ht_err *err)
{
	jctx c = {.err = err};
	ProtobufCMessage *m = NULL;

	if (read_message(&c, o, d, &m) != 0)
		return NULL;
	return m;
}

ProtobufCMessage *json_parse_message(const char *text, size_t len,
				     const ProtobufCMessageDescriptor *d,
				     ht_err *err)
{
	json_error_t je;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	ProtobufCMessage *m;

	if (o == NULL) {
		ht_err_set(err, HT_EINVAL, "", "line %d, column %d: %s",
			   je.line, je.column, je.text);
		return NULL;
	}
	m = json_to_message(o, d, err);
	json_decref(o);
	return m;
}

/* ---- writing ---- */

static json_t *write_base64(const uint8_t *p, size_t len)
{
	char *s = malloc((len + 2) / 3 * 4 + 1);
	size_t n = 0;
	json_t *j;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t acc = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			acc |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			acc |= p[i + 2];
		s[n++] = b64_std[acc >> 18 & 63];
		s[n++] = b64_std[acc >> 12 & 63];
		s[n++] = i + 1 < len ? b64_std[acc >> 6 & 63] : '=';
		s[n++] = i + 2 < len ? b64_std[acc & 63] : '=';
	}
	j = json_stringn(s, n);
	free(s);
	return j;
}

static json_t *write_bytes(const ProtobufCBinaryData *b, int flags)
{
	char hex[2 * ID_BYTES + 1];

	if (!(flags & JSON_BYTES_HEX) || b->len != ID_BYTES)
		return write_base64(b->data, b->len);
	for (size_t i = 0; i < ID_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", b->data[i]);
	return json_stringn(hex, 2 * ID_BYTES);
}

static json_t *write_double(double x)
{
	if (isnan(x))
		return json_string("NaN");
	if (isinf(x))
		return json_string(x < 0 ? "-Infinity" : "Infinity");
	return json_real(x);
}

static json_t *write_enum(const ProtobufCEnumDescriptor *ed, int32_t x)
{
	const ProtobufCEnumValue *ev =
	    protobuf_c_enum_descriptor_get_value(ed, x);

	return ev != NULL ? json_string(ev->name) : json_integer(x);
}

static json_t *write_int64(bool is_signed, const void *slot)
{
	char buf[24];

	if (is_signed)
		snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)slot);
	else
		snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)slot);
	return json_string(buf);
}

/* One value of field f's type at slot. NULL on allocation failure or a
 * string that is not UTF-8 (jansson refuses those). */
static json_t *write_value(const ProtobufCFieldDescriptor *f, const void *slot,
			   int flags, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)slot);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)slot);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return write_int64(true, slot);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return write_int64(false, slot);
	case PROTOBUF_C_TYPE_FLOAT:
		return write_double(*(const float *)slot);
	case PROTOBUF_C_TYPE_DOUBLE:
		return write_double(*(const double *)slot);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)slot);
	case PROTOBUF_C_TYPE_ENUM:
		return write_enum(f->descriptor, *(const int32_t *)slot);
	case PROTOBUF_C_TYPE_STRING:
		return json_string(*(char *const *)slot);
	case PROTOBUF_C_TYPE_BYTES:
		return write_bytes(slot, flags);
	case PROTOBUF_C_TYPE_MESSAGE:
		return write_message(*(ProtobufCMessage *const *)slot, flags,
				     depth + 1);
	}
	return NULL;
}

static json_t *write_repeated(const ProtobufCFieldDescriptor *f,
			      const ProtobufCMessage *m, int flags, int depth)
{
	size_t n = *(const size_t *)member(m, f->quantifier_offset);
	const char *arr = *(char *const *)member(m, f->offset);
	size_t esz = elem_size(f->type);
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++) {
		json_t *v = write_value(f, arr + i * esz, flags, depth);
		if (json_array_append_new(a, v) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* Whether a proto3 field (no label) holds its default and is omitted. */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *slot)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)slot == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)slot == 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)slot == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)slot;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)slot;
		return s == NULL || s[0] == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)slot)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)slot == NULL;
	default: /* 32-bit integers and enums */
		return *(const uint32_t *)slot == 0;
	}
}

/* Whether field f of m is written, mirroring what protobuf-c packs. */
static bool is_present(const ProtobufCFieldDescriptor *f,
		       const ProtobufCMessage *m)
{
	const void *slot = member(m, f->offset);
	bool ptr = f->type == PROTOBUF_C_TYPE_STRING ||
		   f->type == PROTOBUF_C_TYPE_MESSAGE;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)member(m, f->quantifier_offset) ==
			   f->id &&
		       (!ptr || *(void *const *)slot != NULL);
	switch (f->label) {
	case PROTOBUF_C_LABEL_REPEATED:
		return *(const size_t *)member(m, f->quantifier_offset) > 0;
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (ptr)
			return *(void *const *)slot != NULL &&
			       *(void *const *)slot != f->default_value;
		return *(const protobuf_c_boolean *)member(
		    m, f->quantifier_offset);
	case PROTOBUF_C_LABEL_REQUIRED:
		return !ptr || *(void *const *)slot != NULL;
	default:
		return !is_default(f, slot);
	}
}

/* Set o[camelCase(name)] = v, taking v. */
static int set_member(json_t *o, const char *name, json_t *v)
{
	size_t n = strlen(name) + 1;
	char *key = malloc(n);
	int rc = -1;

	if (key != NULL && v != NULL) {
		camel_name(name, key, n);
		rc = json_object_set_new(o, key, v);
		v = NULL;
	}
	json_decref(v);
	free(key);
	return rc;
}

static json_t *write_message(const ProtobufCMessage *m, int flags, int depth)
{
	const ProtobufCMessageDescriptor *d;
	json_t *o;

	if (m == NULL || depth > JSON_MAX_DEPTH)
		return NULL;
	d = m->descriptor;
	o = json_object();

	for (unsigned i = 0; o != NULL && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		json_t *v;
		if (!is_present(f, m))
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			v = write_repeated(f, m, flags, depth);
		else
			v = write_value(f, member(m, f->offset), flags, depth);
		if (set_member(o, f->name, v) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

json_t *json_from_message(const ProtobufCMessage *m, int flags)
{
	return write_message(m, flags, 1);
}
