/*
 * util: strict parsing and small helpers shared by every module. Every parser
 * takes the whole string or fails; nothing here trusts its input.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *util_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int util_unhex(const char *hex, uint8_t *out, size_t len)
{
	if (strlen(hex) != 2 * len)
		return HT_EINVAL;
	for (size_t i = 0; i < 2 * len; i++)
		if (hexval(hex[i]) < 0)
			return HT_EINVAL;
	for (size_t i = 0; i < len; i++)
		out[i] =
		    (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	return 0;
}

int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return HT_EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return HT_EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return HT_EINVAL;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return HT_EINVAL;
	*out = v;
	return 0;
}

bool util_is_region_code(const char *s)
{
	if (s == NULL || strlen(s) != HT_REGION_LEN)
		return false;
	for (int i = 0; i < HT_REGION_LEN; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return strcmp(s, "000000") != 0;
}

int util_check_region(const char *s, const char *field, ht_err *err)
{
	if (util_is_region_code(s))
		return 0;
	if (s == NULL || *s == '\0')
		return ht_err_set(err, HT_EINVAL, field, "required");
	char shown[32];
	snprintf(shown, sizeof(shown), "%.20s%s", s,
		 strlen(s) > 20 ? "..." : "");
	for (char *p = shown; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return ht_err_set(err, HT_EINVAL, field, "must be six digits, got '%s'",
			  shown);
}

size_t util_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len;
	uint32_t c, min;
	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, min = 0x80, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, min = 0x800, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, min = 0x10000, c = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

bool util_utf8_valid(const char *s, size_t len)
{
	uint32_t cp;
	for (size_t i = 0, k; i < len; i += k)
		if ((k = util_utf8_decode(s + i, len - i, &cp)) == 0)
			return false;
	return true;
}

bool util_is_text(const char *s, size_t len)
{
	uint32_t cp;
	for (size_t i = 0, k; i < len; i += k) {
		if ((k = util_utf8_decode(s + i, len - i, &cp)) == 0)
			return false;
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
		    cp == 0x7f)
			return false;
	}
	return true;
}

/* Short names of the C0 controls, DEL and the C1 controls (ISO 6429). */
static const char *const c0_names[32] = {
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS",  "HT",  "LF",
    "VT",  "FF",  "CR",	 "SO",	"SI",  "DLE", "DC1", "DC2", "DC3", "DC4", "NAK",
    "SYN", "ETB", "CAN", "EM",	"SUB", "ESC", "FS",  "GS",  "RS",  "US"};
static const char *const c1_names[32] = {
    "PAD", "HOP",  "BPH", "NBH", "IND", "NEL", "SSA", "ESA",
    "HTS", "HTJ",  "VTS", "PLD", "PLU", "RI",  "SS2", "SS3",
    "DCS", "PU1",  "PU2", "STS", "CCH", "MW",  "SPA", "EPA",
    "SOS", "SGCI", "SCI", "CSI", "ST",	"OSC", "PM",  "APC"};

/* The code points that reorder or break displayed text: the bidirectional
 * marks, embeddings, overrides and isolates, and the Unicode line and
 * paragraph separators. */
static const struct {
	uint32_t cp;
	const char *kind, *name;
} format_chars[] = {
    {0x061c, "bidirectional mark", "ALM"},
    {0x200e, "bidirectional mark", "LRM"},
    {0x200f, "bidirectional mark", "RLM"},
    {0x2028, "line separator", "LSEP"},
    {0x2029, "paragraph separator", "PSEP"},
    {0x202a, "bidirectional embedding", "LRE"},
    {0x202b, "bidirectional embedding", "RLE"},
    {0x202c, "bidirectional pop", "PDF"},
    {0x202d, "bidirectional override", "LRO"},
    {0x202e, "bidirectional override", "RLO"},
    {0x2066, "bidirectional isolate", "LRI"},
    {0x2067, "bidirectional isolate", "RLI"},
    {0x2068, "bidirectional isolate", "FSI"},
    {0x2069, "bidirectional isolate", "PDI"},
};

/* Why code point cp may not appear in text (NULL if it may): its kind and
 * short name. */
static const char *text_fault(uint32_t cp, int flags, const char **name)
{
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
		if (cp == '\n' && (flags & UTIL_TEXT_LINES))
			return NULL;
		*name = cp < 0x20    ? c0_names[cp]
			: cp == 0x7f ? "DEL"
				     : c1_names[cp - 0x80];
		return "control character";
	}
	for (size_t i = 0; i < sizeof(format_chars) / sizeof(format_chars[0]);
	     i++)
		if (format_chars[i].cp == cp) {
			*name = format_chars[i].name;
			return format_chars[i].kind;
		}
	return NULL;
}

bool util_char_is_safe(uint32_t cp)
{
	const char *name;
	return text_fault(cp, 0, &name) == NULL;
}

int util_check_text(const char *s, size_t len, int flags, const char *field,
		    ht_err *err)
{
	uint32_t cp;
	const char *kind, *name;
	for (size_t i = 0, k; i < len; i += k) {
		if ((k = util_utf8_decode(s + i, len - i, &cp)) == 0)
			return ht_err_set(err, HT_EINVAL, field,
					  "not valid UTF-8 at byte %zu", i);
		if ((kind = text_fault(cp, flags, &name)) != NULL)
			return ht_err_set(err, HT_EINVAL, field,
					  "%s U+%04X (%s) at byte %zu", kind,
					  (unsigned)cp, name, i);
	}
	return 0;
}

bool util_is_node_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > UTIL_NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

int util_check_time(int64_t ms, const char *field, ht_err *err)
{
	if (ms >= UTIL_TIME_MIN_MS && ms < UTIL_TIME_MAX_MS)
		return 0;
	return ht_err_set(err, HT_EINVAL, field,
			  "must be from 2000-01-01T00:00:00Z to before "
			  "2100-01-01T00:00:00Z, got %lld",
			  (long long)ms);
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Read exactly n digits at *p into *v, advancing *p. */
static bool digits(const char **p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return true;
}

static bool date_part(const char **p, int *y, int *mo, int *d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	if (!digits(p, 4, y) || *(*p)++ != '-' || !digits(p, 2, mo) ||
	    *(*p)++ != '-' || !digits(p, 2, d))
		return false;
	if (*mo < 1 || *mo > 12 || *d < 1)
		return false;
	int max = mdays[*mo - 1] + (*mo == 2 && is_leap(*y));
	return *d <= max;
}

/* Parse "HH:MM:SS[.frac]" into ms of day. */
static bool time_part(const char **p, int64_t *ms)
{
	int h, mi, s;
	if (!digits(p, 2, &h) || *(*p)++ != ':' || !digits(p, 2, &mi) ||
	    *(*p)++ != ':' || !digits(p, 2, &s))
		return false;
	if (h > 23 || mi > 59 || s > 60)
		return false;
	int frac = 0, scale = 100;
	if (**p == '.') {
		(*p)++;
		if (**p < '0' || **p > '9')
			return false;
		for (; **p >= '0' && **p <= '9'; (*p)++, scale /= 10)
			frac += scale > 0 ? (**p - '0') * scale : 0;
	}
	if (s == 60)
		s = 59; /* leap second: clamp */
	*ms = ((int64_t)h * 3600 + mi * 60 + s) * 1000 + frac;
	return true;
}

/* Parse "Z" or "+HH:MM" / "-HH:MM" into an offset in ms. */
static bool zone_part(const char **p, int64_t *off)
{
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*off = 0;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	int sign = **p == '-' ? -1 : 1, h, m;
	(*p)++;
	if (!digits(p, 2, &h) || *(*p)++ != ':' || !digits(p, 2, &m) ||
	    h > 23 || m > 59)
		return false;
	*off = sign * ((int64_t)h * 60 + m) * 60000;
	return true;
}

int util_parse_time(const char *s, int64_t *out)
{
	if (s == NULL || strlen(s) > 40)
		return HT_EINVAL;
	const char *p = s;
	int y, mo, d;
	int64_t tod = 0, off = 0;
	if (!date_part(&p, &y, &mo, &d))
		return HT_EINVAL;
	if (*p != '\0') {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return HT_EINVAL;
		p++;
		if (!time_part(&p, &tod) || !zone_part(&p, &off))
			return HT_EINVAL;
	}
	if (*p != '\0')
		return HT_EINVAL;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400000 + tod -
	       off;
	return 0;
}

char *util_format_time(int64_t ms, char *buf, size_t len)
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int millis = (int)(ms - secs * 1000);
	time_t t = (time_t)secs;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "invalid-time");
		return buf;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, millis);
	return buf;
}

int util_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		char unit;
		int64_t ms;
	} units[] = {{'s', 1000},
		     {'m', 60000},
		     {'h', 3600000},
		     {'d', 86400000},
		     {'w', 604800000}};
	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return HT_EINVAL;
	char num[24];
	size_t n = strlen(s);
	int64_t mult = 1000;
	snprintf(num, sizeof(num), "%s", s);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (n > 1 && s[n - 1] == units[i].unit) {
			mult = units[i].ms;
			num[n - 1] = '\0';
		}
	}
	uint64_t v;
	if (util_parse_u64(num, 0, (uint64_t)(INT64_MAX / mult), &v) != 0)
		return HT_EINVAL;
	*ms = (int64_t)v * mult;
	return 0;
}

static int64_t sys_now_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t sys_mono_ms(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const ht_clock system_clock = {sys_now_ms, sys_mono_ms, NULL};

const ht_clock *util_clock_system(void) { return &system_clock; }

int util_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
		   ht_err *err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return ht_err_set(err, errno == ENOENT ? HT_ENOTFOUND : HT_EIO,
				  "", "%s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap + 1);
	int rc = 0;
	while (b != NULL) {
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (n > max) {
			rc = ht_err_set(err, HT_ELIMIT, "",
					"%s: larger than %zu bytes", path, max);
			break;
		}
		if (got == 0)
			break;
		if (n == cap) {
			uint8_t *nb = realloc(b, cap * 2 + 1);
			if (nb == NULL) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (rc == 0 && b != NULL && ferror(f))
		rc = ht_err_set(err, HT_EIO, "", "%s: read error", path);
	fclose(f);
	if (b == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if (rc != 0) {
		free(b);
		return rc;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

int util_write_file(const char *path, const void *buf, size_t len, int mode,
		    bool exclusive, ht_err *err)
{
	char tmp[PATH_MAX];
	if (exclusive && access(path, F_OK) == 0)
		return ht_err_set(err, HT_EEXIST, "",
				  "%s already exists; "
				  "refusing to overwrite it",
				  path);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return ht_err_set(err, HT_EINVAL, "", "%s: path too long",
				  path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return ht_err_set(err, HT_EIO, "", "%s: %s", tmp,
				  strerror(errno));
	const uint8_t *p = buf;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	int saved = errno;
	bool ok = left == 0 && fchmod(fd, (mode_t)mode) == 0 && fsync(fd) == 0;
	if (!ok && left == 0)
		saved = errno;
	close(fd);
	if (!ok || (exclusive ? link(tmp, path) : rename(tmp, path)) != 0) {
		if (ok)
			saved = errno;
		unlink(tmp);
		return ht_err_set(err, saved == ENOSPC ? HT_EFULL : HT_EIO, "",
				  "%s: %s", path, strerror(saved));
	}
	if (exclusive)
		unlink(tmp);
	return 0;
}

int util_path_join(const char *dir, const char *name, char *out, size_t len)
{
	int n;
	if (name[0] == '/' || dir == NULL || dir[0] == '\0')
		n = snprintf(out, len, "%s", name);
	else
		n = snprintf(out, len, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= len ? HT_ELIMIT : 0;
}

/* Decode one character at s (n bytes left); an invalid byte passes through
 * as itself, so a name key never stops short. Returns its length. */
static size_t decode_lenient(const unsigned char *s, size_t n, unsigned *cp)
{
	uint32_t c;
	size_t k = util_utf8_decode((const char *)s, n, &c);
	*cp = k > 0 ? c : s[0];
	return k > 0 ? k : 1;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n > k && memcmp(s + n - k, suffix, k) == 0;
}

char *util_name_key(const char *name, char *out, size_t len)
{
	static const char *suffixes[] = {
	    "有限责任公司", "股份有限公司", "有限公司", "公司",	   "集团",
	    "工作室",	    "合作社",	    "商行",	"company", "corp",
	    "ltd",	    "llc",	    "inc",	"co"};
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)name;
	size_t left = strlen(name);
	while (*p && len > 0) {
		unsigned cp;
		size_t n = decode_lenient(p, left, &cp);
		left -= n;
		if (cp >= 0xff01 && cp <= 0xff5e) /* full-width ASCII */
			cp -= 0xfee0;
		bool drop = cp == 0x3000 || cp == 0xb7 || cp == 0x30fb ||
			    (cp < 0x80 &&
			     (isspace((int)cp) || strchr("-_.,", (int)cp)));
		if (!drop && cp < 0x80 && o + 1 < len) {
			out[o++] = (char)tolower((int)cp);
		} else if (!drop && cp >= 0x80 && o + n < len) {
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	if (len > 0)
		out[o] = '\0';
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ends_with(out, o, suffixes[i])) {
			out[o - strlen(suffixes[i])] = '\0';
			break;
		}
	return out;
}

long util_region_pos(const void *base, size_t n, size_t size,
		     const char *region)
{
	const char *p = base;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p + mid * size, region);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return ~(long)lo;
}

bool util_log_due(uint64_t count) { return (count & (count - 1)) == 0; }
