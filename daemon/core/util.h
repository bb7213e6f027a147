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

/* True if [s, s+len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF)
 * and has no NUL or C0 control other than tab, LF and CR. */
bool util_is_text(const char *s, size_t len);

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

#endif
