/*
 * util: strict parsing of what people and files give us (numbers, region
 * codes, RFC 3339 times, durations, UTF-8), hex, and the injectable clock.
 * Nothing here keeps state; the clock is a value the caller passes around so
 * tests and the simulator can run time as they please.
 */
#ifndef HT_UTIL_H
#define HT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HT_REGION_LEN 6

/* Lower-case hex of `len` bytes into `out` (2*len+1 bytes). Returns out. */
char *util_hex(const uint8_t *in, size_t len, char *out);

/* Decode exactly 2*len hex digits (either case) into out. 0 or HT_EINVAL;
 * out is untouched on failure. */
int util_unhex(const char *hex, uint8_t *out, size_t len);

/* Parse a whole decimal string into [min,max]; no sign, space or junk. */
int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* True if s is exactly six ASCII digits and not "000000". */
bool util_is_region_code(const char *s);

/* Validate a region code, filling err with "FIELD: must be six digits, got
 * 'x'" on failure. */
int util_check_region(const char *s, const char *field, ht_err *err);

/* Node names (config `name`, certificate CN, header.origin_node): 1 to
 * UTIL_NODE_NAME_MAX bytes of [a-z0-9._-], starting with a letter or digit.
 * RECORD_MAX_NAME (author, case and organization ids) is larger. */
#define UTIL_NODE_NAME_MAX 64

/* Times hutong accepts in records: 2000-01-01T00:00:00Z inclusive to
 * 2100-01-01T00:00:00Z exclusive, in Unix ms. */
#define UTIL_TIME_MIN_MS 946684800000LL
#define UTIL_TIME_MAX_MS 4102444800000LL

/* Decode the UTF-8 sequence at s (n bytes available) into *cp. Returns its
 * length (1-4), or 0 if it is not valid UTF-8: truncated, overlong, a
 * surrogate or above U+10FFFF. The one UTF-8 decoder of hutong. */
size_t util_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* True if [s, s+len) is entirely valid UTF-8 (NUL and controls allowed). */
bool util_utf8_valid(const char *s, size_t len);

/* True if [s, s+len) is valid UTF-8 and has no NUL or C0 control other than
 * tab, LF and CR: the lenient test for config values and certificate
 * strings. Record text meets util_check_text instead. */
bool util_is_text(const char *s, size_t len);

/* util_check_text flags: LF is allowed (multi-line free text). */
enum { UTIL_TEXT_LINES = 1 };

/* Check text that will be shown to people: valid UTF-8 with no C0 or C1
 * control character, DEL, bidirectional mark, embedding, override or
 * isolate (U+061C, U+200E/F, U+202A-E, U+2066-9) or Unicode line or
 * paragraph separator (U+2028/9), except LF with UTIL_TEXT_LINES. On
 * failure HT_EINVAL and err names field and the first fault:
 * "control character U+001B (ESC) at byte 12",
 * "bidirectional override U+202E (RLO) at byte 3",
 * "not valid UTF-8 at byte 7". */
int util_check_text(const char *s, size_t len, int flags, const char *field,
		    ht_err *err);

/* True if code point cp may appear in one line of text that people read:
 * none of the characters util_check_text refuses (LF included). */
bool util_char_is_safe(uint32_t cp);

/* True if s is a node name (see UTIL_NODE_NAME_MAX); false for NULL. */
bool util_is_node_name(const char *s);

/* 0 if ms is within [UTIL_TIME_MIN_MS, UTIL_TIME_MAX_MS); else HT_EINVAL
 * with err naming field and the bounds. */
int util_check_time(int64_t ms, const char *field, ht_err *err);

/* Parse an RFC 3339 date-time ("2026-11-29T08:00:00Z", "...+08:00", optional
 * fraction) or a full date ("2026-11-29", midnight UTC) into Unix ms. */
int util_parse_time(const char *s, int64_t *ms);

/* Format Unix ms as RFC 3339 UTC with milliseconds into buf (>= 25 bytes). */
char *util_format_time(int64_t ms, char *buf, size_t len);

/* Parse a duration "90s", "15m", "36h", "7d" (or plain seconds) into ms. */
int util_parse_duration(const char *s, int64_t *ms);

/* The matching key of a name (organizations, people), written into out
 * (len bytes, NUL-terminated, truncated at a character boundary):
 * full-width ASCII forms (U+FF01-U+FF5E) become ASCII, all white space
 * (ASCII, U+3000 ideographic space) and the separators -_.,·・ are
 * dropped, ASCII letters are lower-cased, and one common legal-form suffix
 * is removed from the end (有限责任公司, 股份有限公司, 有限公司, 公司, 集团,
 * 工作室, 合作社, 商行, ltd, co, inc, llc, corp, company). Two names with the
 * same key are suggested as the same organization. */
char *util_name_key(const char *name, char *out, size_t len);

/* The clock: wall time for records, monotonic time for timers. */
typedef struct ht_clock {
	int64_t (*now_ms)(void *ctx);  /* Unix ms */
	int64_t (*mono_ms)(void *ctx); /* monotonic ms */
	void *ctx;
} ht_clock;

/* The monotonic clock in microseconds, for measuring durations (the
 * latency histograms); never for record times or timers. */
int64_t util_mono_us(void);

/* The real clock (a constant; not mutable state). */
const ht_clock *util_clock_system(void);

/* Read a whole file (at most max bytes; HT_ELIMIT beyond). *buf is malloc'd
 * and NUL-terminated; the caller frees it. */
int util_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
		   ht_err *err);

/* Write a file atomically (temp file, fsync, rename) with the given mode.
 * With exclusive, refuse (HT_EEXIST) if path exists. */
int util_write_file(const char *path, const void *buf, size_t len, int mode,
		    bool exclusive, ht_err *err);

/* Join dir and name into out (PATH_MAX); name unchanged when absolute. */
int util_path_join(const char *dir, const char *name, char *out, size_t len);

/* Binary search of an array of n structs of `size` bytes each whose first
 * member is a region's NUL-terminated code (char[HT_REGION_LEN + 1]),
 * sorted by it with strcmp. Returns the index of region, or ~(where it
 * would be inserted) (negative) when absent. The one sorted-region search
 * (the ledger's frontier, the sync sender's cursors). */
long util_region_pos(const void *base, size_t n, size_t size,
		     const char *region);

/* Log the count-th repetition of a hostile event? At 1, 2, 4, 8, ...: the
 * log stays readable under a flood and the counter says how many. */
bool util_log_due(uint64_t count);

#endif
