/*
 * test_util: the strict parsers. Each parser must take the whole string or
 * refuse it; these tables hold the inputs people and files really give us
 * (and the near misses), with the exact answer expected for each.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "util.h"

static void test_hex(void)
{
	uint8_t all[256], back[256];
	char hex[2 * sizeof(all) + 1];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	util_hex(all, sizeof(all), hex);
	CHECK_EQ_INT(strlen(hex), 512);
	CHECK(strncmp(hex, "000102", 6) == 0);
	CHECK_STR(hex + 500, "fafbfcfdfeff");
	CHECK_EQ_INT(util_unhex(hex, back, sizeof(back)), 0);
	CHECK(memcmp(all, back, sizeof(all)) == 0);

	uint8_t b[4];
	CHECK_EQ_INT(util_unhex("DeadBEEF", b, 4), 0);
	CHECK(b[0] == 0xde && b[1] == 0xad && b[2] == 0xbe && b[3] == 0xef);
	CHECK_STR(util_hex(b, 0, hex), "");

	static const char *bad[] = {
	    "deadbee",	  /* odd length */
	    "deadbeef00", /* too long for 4 bytes */
	    "deadbe",	  /* too short */
	    "deadbeeg",	  /* not a hex digit */
	    "dead beef",  /* space */
	    " deadbee",	  /* leading space */
	    "0xdeadbe",	  /* prefix */
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(b, 0x5a, sizeof(b));
		CHECK_EQ_INT(util_unhex(bad[i], b, 4), HT_EINVAL);
		/* out untouched on failure */
		CHECK(b[0] == 0x5a && b[1] == 0x5a && b[2] == 0x5a &&
		      b[3] == 0x5a);
	}
}

static void test_parse_u64(void)
{
	static const struct {
		const char *s;
		uint64_t min, max;
		int rc;
		uint64_t want;
	} cases[] = {
	    {"0", 0, UINT64_MAX, 0, 0},
	    {"42", 0, UINT64_MAX, 0, 42},
	    {"18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX},
	    {"18446744073709551616", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"99999999999999999999", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"100000000000000000000", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"+1", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"-1", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"-0", 0, UINT64_MAX, HT_EINVAL, 0},
	    {" 1", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"1 ", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"1\n", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"1a", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"0x10", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"1e3", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"1.0", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"1,000", 0, UINT64_MAX, HT_EINVAL, 0},
	    {"5", 1, 10, 0, 5},
	    {"1", 1, 10, 0, 1},
	    {"10", 1, 10, 0, 10},
	    {"0", 1, 10, HT_EINVAL, 0},
	    {"11", 1, 10, HT_EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 777;
		int rc =
		    util_parse_u64(cases[i].s, cases[i].min, cases[i].max, &v);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (rc != cases[i].rc)
			fprintf(stderr, "  input '%s'\n", cases[i].s);
		if (cases[i].rc == 0)
			CHECK(v == cases[i].want);
		else
			CHECK(v == 777); /* out untouched on failure */
	}
	uint64_t v;
	CHECK_EQ_INT(util_parse_u64(NULL, 0, 10, &v), HT_EINVAL);
}

static void test_region(void)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"320100", true},	     {"110000", true},	{"450600", true},
	    {"000001", true},	     {"32", false},	{"3201000", false},
	    {"32010a", false},	     {"000000", false}, {"", false},
	    {" 32010", false},	     {"32010 ", false}, {"-32010", false},
	    {"３２０１００", false}, /* full-width digits */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(util_is_region_code(cases[i].s) == cases[i].ok);
		ht_err e;
		ht_err_clear(&e);
		int rc = util_check_region(cases[i].s, "region", &e);
		CHECK_EQ_INT(rc, cases[i].ok ? 0 : HT_EINVAL);
		if (!cases[i].ok)
			CHECK_STR(e.field, "region");
	}
	CHECK(!util_is_region_code(NULL));

	ht_err e;
	char buf[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX];
	CHECK_EQ_INT(util_check_region("32", "region", &e), HT_EINVAL);
	CHECK_STR(e.field, "region");
	CHECK_STR(e.msg, "must be six digits, got '32'");
	CHECK_STR(ht_err_str(&e, buf, sizeof(buf)),
		  "region: must be six digits, got '32'");

	CHECK_EQ_INT(util_check_region("000000", "to_region", &e), HT_EINVAL);
	CHECK_STR(ht_err_str(&e, buf, sizeof(buf)),
		  "to_region: must be six digits, got '000000'");
	CHECK_EQ_INT(util_check_region("", "region", &e), HT_EINVAL);
	CHECK_STR(e.msg, "required");
	CHECK_EQ_INT(util_check_region(NULL, "region", &e), HT_EINVAL);
	CHECK_STR(e.msg, "required");
	/* Control bytes never reach the message; long input is cut short. */
	CHECK_EQ_INT(util_check_region("32\x1b[2J", "region", &e), HT_EINVAL);
	CHECK_STR(e.msg, "must be six digits, got '32?[2J'");
	CHECK_EQ_INT(
	    util_check_region("123456789012345678901234", "region", &e),
	    HT_EINVAL);
	CHECK_STR(e.msg, "must be six digits, got '12345678901234567890...'");
	/* A NULL err is allowed. */
	CHECK_EQ_INT(util_check_region("32", "region", NULL), HT_EINVAL);
}

static void test_is_text(void)
{
	static const struct {
		const char *what;
		const char *s;
		size_t len; /* 0: strlen */
		bool ok;
	} cases[] = {
	    {"empty", "", 0, true},
	    {"ascii", "Nanjing raid, 2026", 0, true},
	    {"CJK", "南京市公安局 互通有无", 0, true},
	    {"tab LF CR", "a\tb\nc\r\n", 0, true},
	    {"4-byte emoji", "\xf0\x9f\x98\x80", 0, true},
	    {"U+10FFFF", "\xf4\x8f\xbf\xbf", 0, true},
	    {"U+FFFD", "\xef\xbf\xbd", 0, true},
	    {"U+0080", "\xc2\x80", 0, true},
	    {"overlong '/' 2 bytes", "\xc0\xaf", 0, false},
	    {"overlong '/' 3 bytes", "\xe0\x80\xaf", 0, false},
	    {"overlong '/' 4 bytes", "\xf0\x80\x80\xaf", 0, false},
	    {"overlong U+07FF in 3", "\xe0\x9f\xbf", 0, false},
	    {"surrogate D800", "\xed\xa0\x80", 0, false},
	    {"surrogate DFFF", "\xed\xbf\xbf", 0, false},
	    {"U+110000", "\xf4\x90\x80\x80", 0, false},
	    {"F5 lead", "\xf5\x80\x80\x80", 0, false},
	    {"FF byte", "a\xff", 0, false},
	    {"lone continuation", "\x80", 0, false},
	    {"truncated 3-byte", "\xe5\x8d", 0, false},
	    {"truncated 3-byte then ASCII",
	     "\xe5\x8d"
	     "a",
	     0, false},
	    {"truncated 4-byte at end", "ok\xf0\x9f\x98", 0, false},
	    {"NUL inside", "ab\0cd", 5, false},
	    {"C0 ESC", "a\x1b[31m", 0, false},
	    {"C0 SOH", "\x01", 0, false},
	    {"DEL", "a\x7f", 0, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].s);
		bool got = util_is_text(cases[i].s, len);
		CHECK(got == cases[i].ok);
		if (got != cases[i].ok)
			fprintf(stderr, "  case: %s\n", cases[i].what);
	}
	/* Length bounds the scan: a valid prefix of a longer buffer. */
	CHECK(util_is_text("南京", 3));
	CHECK(!util_is_text("南京", 2));
}

static void test_utf8_decode(void)
{
	uint32_t cp = 0;
	CHECK_EQ_INT(util_utf8_decode("A", 1, &cp), 1);
	CHECK_EQ_INT(cp, 'A');
	CHECK_EQ_INT(util_utf8_decode("\xc2\x85", 2, &cp), 2);
	CHECK_EQ_INT(cp, 0x85);
	CHECK_EQ_INT(util_utf8_decode("南", 3, &cp), 3);
	CHECK_EQ_INT(cp, 0x5357);
	CHECK_EQ_INT(util_utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
	CHECK_EQ_INT(cp, 0x1f600);
	CHECK_EQ_INT(util_utf8_decode("南", 2, &cp), 0);       /* truncated */
	CHECK_EQ_INT(util_utf8_decode("\xc0\xaf", 2, &cp), 0); /* overlong */
	CHECK_EQ_INT(util_utf8_decode("\xed\xa0\x80", 3, &cp), 0);
	CHECK_EQ_INT(util_utf8_decode("\xf4\x90\x80\x80", 4, &cp), 0);
	CHECK_EQ_INT(util_utf8_decode("", 0, &cp), 0);
	CHECK(util_utf8_valid("a\x1b\0b", 4)); /* controls are UTF-8 */
	CHECK(!util_utf8_valid("a\xff", 2));
}

static void test_check_text(void)
{
	static const struct {
		const char *s;
		int flags;
		const char *msg; /* NULL: accepted */
	} cases[] = {
	    {"南京市 Gulou", 0, NULL},
	    {"", 0, NULL},
	    {"line\nline", UTIL_TEXT_LINES, NULL},
	    {"line\nline", 0, "control character U+000A (LF) at byte 4"},
	    {"a\x1b[31m", 0, "control character U+001B (ESC) at byte 1"},
	    {"a\x1b[31m", UTIL_TEXT_LINES,
	     "control character U+001B (ESC) at byte 1"},
	    {"tab\there", UTIL_TEXT_LINES,
	     "control character U+0009 (HT) at byte 3"},
	    {"cr\r\n", UTIL_TEXT_LINES,
	     "control character U+000D (CR) at byte 2"},
	    {"\x01", 0, "control character U+0001 (SOH) at byte 0"},
	    {"a\x7f", 0, "control character U+007F (DEL) at byte 1"},
	    {"南\xc2\x9b", 0, "control character U+009B (CSI) at byte 3"},
	    {"\xc2\x80", 0, "control character U+0080 (PAD) at byte 0"},
	    {"\xc2\x9f", 0, "control character U+009F (APC) at byte 0"},
	    {"\xc2\xa0nbsp", 0, NULL},
	    {"abc\xe2\x80\xae", 0,
	     "bidirectional override U+202E (RLO) at byte 3"},
	    {"\xe2\x80\xad", 0,
	     "bidirectional override U+202D (LRO) at byte 0"},
	    {"\xe2\x80\xaa", 0,
	     "bidirectional embedding U+202A (LRE) at byte 0"},
	    {"\xe2\x80\xac", 0, "bidirectional pop U+202C (PDF) at byte 0"},
	    {"\xe2\x81\xa6", 0, "bidirectional isolate U+2066 (LRI) at byte 0"},
	    {"\xe2\x81\xa9", 0, "bidirectional isolate U+2069 (PDI) at byte 0"},
	    {"\xe2\x80\x8e", 0, "bidirectional mark U+200E (LRM) at byte 0"},
	    {"\xe2\x80\x8f", 0, "bidirectional mark U+200F (RLM) at byte 0"},
	    {"x\xe2\x80\xa8", UTIL_TEXT_LINES,
	     "line separator U+2028 (LSEP) at byte 1"},
	    {"ab\xc0\xaf", 0, "not valid UTF-8 at byte 2"},
	    {"ok\xf0\x9f\x98", 0, "not valid UTF-8 at byte 2"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ht_err e;
		ht_err_clear(&e);
		int rc = util_check_text(cases[i].s, strlen(cases[i].s),
					 cases[i].flags, "f", &e);
		if (cases[i].msg == NULL) {
			CHECK_EQ_INT(rc, 0);
			continue;
		}
		CHECK_EQ_INT(rc, HT_EINVAL);
		CHECK_STR(e.field, "f");
		CHECK_STR(e.msg, cases[i].msg);
	}
	ht_err e;
	CHECK_EQ_INT(util_check_text("ab\0c", 4, 0, "f", &e), HT_EINVAL);
	CHECK_STR(e.msg, "control character U+0000 (NUL) at byte 2");
	CHECK(util_char_is_safe('a') && util_char_is_safe(0x5357));
	CHECK(!util_char_is_safe('\n') && !util_char_is_safe(0x202e));
}

static void test_node_name_and_time(void)
{
	char name[UTIL_NODE_NAME_MAX + 2];
	memset(name, 'n', sizeof(name));
	name[UTIL_NODE_NAME_MAX] = '\0';
	CHECK(util_is_node_name(name));
	name[UTIL_NODE_NAME_MAX] = 'n';
	name[UTIL_NODE_NAME_MAX + 1] = '\0';
	CHECK(!util_is_node_name(name));
	CHECK(util_is_node_name("nanjing-1.a_b"));
	CHECK(!util_is_node_name("Nanjing") && !util_is_node_name("-a"));
	CHECK(!util_is_node_name("") && !util_is_node_name(NULL));

	ht_err e;
	int64_t ms;
	CHECK_EQ_INT(util_parse_time("2000-01-01T00:00:00Z", &ms), 0);
	CHECK_EQ_INT(ms, UTIL_TIME_MIN_MS);
	CHECK_EQ_INT(util_parse_time("2100-01-01T00:00:00Z", &ms), 0);
	CHECK_EQ_INT(ms, UTIL_TIME_MAX_MS);
	CHECK_EQ_INT(util_check_time(UTIL_TIME_MIN_MS, "t", &e), 0);
	CHECK_EQ_INT(util_check_time(UTIL_TIME_MAX_MS - 1, "t", &e), 0);
	CHECK_EQ_INT(util_check_time(UTIL_TIME_MAX_MS, "t", &e), HT_EINVAL);
	CHECK_EQ_INT(util_check_time(UTIL_TIME_MIN_MS - 1, "t", &e), HT_EINVAL);
	CHECK_EQ_INT(util_check_time(INT64_MIN, "t", &e), HT_EINVAL);
	CHECK_STR(e.field, "t");
	CHECK_STR(e.msg, "must be from 2000-01-01T00:00:00Z to before "
			 "2100-01-01T00:00:00Z, got -9223372036854775808");
	CHECK_EQ_INT(util_check_time(INT64_MAX, "t", &e), HT_EINVAL);
}

static void test_parse_time(void)
{
	static const struct {
		const char *s;
		int rc;
		int64_t ms;
	} cases[] = {
	    {"1970-01-01T00:00:00Z", 0, 0},
	    {"1970-01-01", 0, 0},
	    {"2026-11-29T08:00:00Z", 0, 1795939200000},
	    {"2026-11-29t08:00:00z", 0, 1795939200000},
	    {"2026-11-29 08:00:00Z", 0, 1795939200000},
	    {"2026-11-29T16:00:00+08:00", 0, 1795939200000},
	    {"2026-11-29T03:00:00-05:00", 0, 1795939200000},
	    {"2026-11-29T08:00:00+00:00", 0, 1795939200000},
	    {"2026-11-29T08:00:00-00:00", 0, 1795939200000},
	    {"2026-11-30T07:59:00+23:59", 0, 1795939200000},
	    {"2026-11-29T08:00:00.123Z", 0, 1795939200123},
	    {"2026-11-29T08:00:00.5Z", 0, 1795939200500},
	    {"2026-11-29T08:00:00.05Z", 0, 1795939200050},
	    {"2026-11-29T08:00:00.123456789Z", 0, 1795939200123},
	    {"2026-11-29T16:00:00.999+08:00", 0, 1795939200999},
	    {"2026-11-29", 0, 1795910400000},
	    {"2024-02-29", 0, 1709164800000},
	    {"2024-02-29T00:00:00Z", 0, 1709164800000},
	    {"2000-02-29T00:00:00Z", 0, 951782400000},
	    {"1969-12-31T23:59:59Z", 0, -1000},
	    {"2016-12-31T23:59:60Z", 0, 1483228799000}, /* leap second */
	    {"2026-02-30", HT_EINVAL, 0},
	    {"2026-02-29", HT_EINVAL, 0},
	    {"1900-02-29", HT_EINVAL, 0},
	    {"2026-04-31", HT_EINVAL, 0},
	    {"2026-13-01", HT_EINVAL, 0},
	    {"2026-00-10", HT_EINVAL, 0},
	    {"2026-01-00", HT_EINVAL, 0},
	    {"2026-01-32", HT_EINVAL, 0},
	    {"2026-11-29T24:00:00Z", HT_EINVAL, 0},
	    {"2026-11-29T08:60:00Z", HT_EINVAL, 0},
	    {"2026-11-29T08:00:61Z", HT_EINVAL, 0},
	    {"2026-11-29T08:00:00", HT_EINVAL, 0},	/* no zone */
	    {"2026-11-29T08:00Z", HT_EINVAL, 0},	/* no seconds */
	    {"2026-11-29T08:00:00+0800", HT_EINVAL, 0}, /* zone needs ':' */
	    {"2026-11-29T08:00:00+24:00", HT_EINVAL, 0},
	    {"2026-11-29T08:00:00.Z", HT_EINVAL, 0}, /* empty fraction */
	    {"2026-11-29T08:00:00Z ", HT_EINVAL, 0}, /* trailing junk */
	    {"2026-11-29T", HT_EINVAL, 0},
	    {"2026-11-29X08:00:00Z", HT_EINVAL, 0},
	    {" 2026-11-29", HT_EINVAL, 0},
	    {"2026-1-29", HT_EINVAL, 0},
	    {"26-11-29", HT_EINVAL, 0},
	    {"20261129", HT_EINVAL, 0},
	    {"2026", HT_EINVAL, 0},
	    {"", HT_EINVAL, 0},
	    {"yesterday", HT_EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = 4242;
		int rc = util_parse_time(cases[i].s, &ms);
		CHECK_EQ_INT(rc, cases[i].rc);
		if (cases[i].rc == 0)
			CHECK_EQ_INT(ms, cases[i].ms);
		else
			CHECK_EQ_INT(ms, 4242);
		if (rc != cases[i].rc || (rc == 0 && ms != cases[i].ms))
			fprintf(stderr, "  input '%s'\n", cases[i].s);
	}
	int64_t ms;
	CHECK_EQ_INT(util_parse_time(NULL, &ms), HT_EINVAL);
}

static void test_format_time(void)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000Z"},
	    {1795939200000, "2026-11-29T08:00:00.000Z"},
	    {1795939200123, "2026-11-29T08:00:00.123Z"},
	    {1709164800999, "2024-02-29T00:00:00.999Z"},
	    {-1, "1969-12-31T23:59:59.999Z"},
	    {-1000, "1969-12-31T23:59:59.000Z"},
	    {-1001, "1969-12-31T23:59:58.999Z"},
	};
	char buf[32];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_STR(util_format_time(cases[i].ms, buf, sizeof(buf)),
			  cases[i].want);
		int64_t back = 0;
		CHECK_EQ_INT(util_parse_time(buf, &back), 0);
		CHECK_EQ_INT(back, cases[i].ms);
	}
	/* The documented minimum buffer holds the whole form. */
	char small[25];
	CHECK_STR(util_format_time(1795939200123, small, sizeof(small)),
		  "2026-11-29T08:00:00.123Z");
}

static void test_duration(void)
{
	static const struct {
		const char *s;
		int rc;
		int64_t ms;
	} cases[] = {
	    {"90s", 0, 90000},
	    {"15m", 0, 900000},
	    {"36h", 0, 129600000},
	    {"7d", 0, 604800000},
	    {"2w", 0, 1209600000},
	    {"45", 0, 45000},
	    {"0", 0, 0},
	    {"0s", 0, 0},
	    {"", HT_EINVAL, 0},
	    {"s", HT_EINVAL, 0},
	    {"-5s", HT_EINVAL, 0},
	    {"+5s", HT_EINVAL, 0},
	    {"5 s", HT_EINVAL, 0},
	    {" 5s", HT_EINVAL, 0},
	    {"5x", HT_EINVAL, 0},
	    {"5ms", HT_EINVAL, 0},
	    {"1.5h", HT_EINVAL, 0},
	    {"5S", HT_EINVAL, 0},
	    {"1h30m", HT_EINVAL, 0},
	    {"9223372036854775807d", HT_EINVAL, 0}, /* overflows int64 ms */
	    {"106751991168d", HT_EINVAL, 0},
	    {"106751991167d", 0, 106751991167LL * 86400000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = 4242;
		int rc = util_parse_duration(cases[i].s, &ms);
		CHECK_EQ_INT(rc, cases[i].rc);
		CHECK_EQ_INT(ms, cases[i].rc == 0 ? cases[i].ms : 4242);
		if (rc != cases[i].rc)
			fprintf(stderr, "  input '%s'\n", cases[i].s);
	}
}

static void test_clock(void)
{
	const ht_clock *c = util_clock_system();
	int64_t now = c->now_ms(c->ctx);
	CHECK(now > 1735689600000); /* after 2025-01-01 */
	int64_t m1 = c->mono_ms(c->ctx), m2 = c->mono_ms(c->ctx);
	CHECK(m2 >= m1);
}

static void test_files(void)
{
	char dir[] = "/tmp/hutong-test-util-XXXXXX", path[PATH_MAX];
	CHECK(mkdtemp(dir) != NULL);
	ht_err e;

	CHECK_EQ_INT(util_path_join(dir, "f.txt", path, sizeof(path)), 0);
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s/f.txt", dir);
	CHECK_STR(path, want);
	char p2[16];
	CHECK_EQ_INT(util_path_join("/etc", "/abs", p2, sizeof(p2)), 0);
	CHECK_STR(p2, "/abs");
	CHECK_EQ_INT(util_path_join("/a/very/long/dir", "name", p2, sizeof(p2)),
		     HT_ELIMIT);

	CHECK_EQ_INT(util_write_file(path, "hello", 5, 0600, true, &e), 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_EQ_INT(util_write_file(path, "again", 5, 0600, true, &e),
		     HT_EEXIST);
	uint8_t *buf = NULL;
	size_t len = 0;
	CHECK_EQ_INT(util_read_file(path, 100, &buf, &len, &e), 0);
	CHECK(len == 5 && buf != NULL && memcmp(buf, "hello", 6) == 0);
	free(buf);
	buf = NULL;
	CHECK_EQ_INT(util_write_file(path, "bye", 3, 0644, false, &e), 0);
	CHECK_EQ_INT(util_read_file(path, 100, &buf, &len, &e), 0);
	CHECK(len == 3 && buf != NULL && memcmp(buf, "bye", 4) == 0);
	free(buf);
	buf = NULL;
	CHECK_EQ_INT(util_read_file(path, 2, &buf, &len, &e), HT_ELIMIT);
	CHECK(buf == NULL);
	unlink(path);
	CHECK_EQ_INT(util_read_file(path, 100, &buf, &len, &e), HT_ENOTFOUND);
	CHECK(rmdir(dir) == 0);
}

/* The sorted-region search: hits, and where a miss would go. */
static void test_region_pos(void)
{
	struct item {
		char region[HT_REGION_LEN + 1];
		int v;
	} a[] = {{"110000", 1}, {"320100", 2}, {"360100", 3}, {"450600", 4}};
	size_t n = sizeof(a) / sizeof(a[0]);
	CHECK_EQ_INT(util_region_pos(a, n, sizeof(a[0]), "110000"), 0);
	CHECK_EQ_INT(util_region_pos(a, n, sizeof(a[0]), "360100"), 2);
	CHECK_EQ_INT(util_region_pos(a, n, sizeof(a[0]), "450600"), 3);
	CHECK_EQ_INT(util_region_pos(a, n, sizeof(a[0]), "100000"), ~0L);
	CHECK_EQ_INT(util_region_pos(a, n, sizeof(a[0]), "330000"), ~2L);
	CHECK_EQ_INT(util_region_pos(a, n, sizeof(a[0]), "650000"), ~4L);
	CHECK_EQ_INT(util_region_pos(a, 0, sizeof(a[0]), "110000"), ~0L);
}

int main(void)
{
	test_hex();
	test_parse_u64();
	test_region();
	test_is_text();
	test_utf8_decode();
	test_check_text();
	test_node_name_and_time();
	test_parse_time();
	test_format_time();
	test_duration();
	test_clock();
	test_files();
	test_region_pos();
	return check_done("test_util");
}
