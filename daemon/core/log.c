/*
 * log: timestamped one-line events to a caller-owned stream. Lines look like
 * "2026-11-29T08:00:00.000Z info stored id=ab12.. origin=320100 seq=7", and
 * a value that came from outside is quoted by log_quote, so a peer's name
 * cannot end a field or a line: name="L\"; rm -rf / #".
 */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ht_log {
	FILE *f;
	int level;
	const ht_clock *clock;
};

static const char *level_names[] = {"warn", "info", "debug"};

ht_log *log_new(FILE *f, int level, const ht_clock *clock)
{
	ht_log *lg = calloc(1, sizeof(*lg));
	if (lg == NULL)
		return NULL;
	lg->f = f;
	lg->level = level;
	lg->clock = clock ? clock : util_clock_system();
	return lg;
}

void log_free(ht_log **lg)
{
	if (lg == NULL || *lg == NULL)
		return;
	free(*lg);
	*lg = NULL;
}

void log_set_level(ht_log *lg, int level)
{
	if (lg != NULL)
		lg->level = level;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* The escaped form of the character at s (n bytes left) into out (at
 * least 16 bytes); returns how many input bytes it took. */
static size_t quote_char(const char *s, size_t n, char *out)
{
	uint32_t cp;
	size_t k = util_utf8_decode(s, n, &cp);
	if (k == 0) {
		snprintf(out, 16, "\\x%02x", (unsigned char)s[0]);
		return 1;
	}
	if (cp == '"' || cp == '\\')
		snprintf(out, 16, "\\%c", (char)cp);
	else if (cp == '\n' || cp == '\r' || cp == '\t')
		snprintf(out, 16, "\\%c",
			 cp == '\n'   ? 'n'
			 : cp == '\r' ? 'r'
				      : 't');
	else if (!util_char_is_safe(cp))
		snprintf(out, 16, "\\u{%04X}", (unsigned)cp);
	else {
		memcpy(out, s, k);
		out[k] = '\0';
	}
	return k;
}

/* Bytes the quoted form of s takes, without quotes and NUL. */
static size_t quoted_len(const char *s, size_t n)
{
	char piece[16];
	size_t total = 0;
	for (size_t i = 0; i < n;) {
		i += quote_char(s + i, n - i, piece);
		total += strlen(piece);
	}
	return total;
}

char *log_quote(char *buf, size_t size, const char *s)
{
	static const char cut[] = "...\"";
	size_t o = 0, n = s ? strlen(s) : 0;
	char piece[16];
	if (size < sizeof(cut) + 2) {
		if (size > 0)
			buf[0] = '\0';
		return buf;
	}
	/* all of it with both quotes, or as much as leaves room for the cut */
	size_t room =
	    quoted_len(s, n) + 3 <= size ? size - 2 : size - sizeof(cut);
	buf[o++] = '"';
	for (size_t i = 0; i < n;) {
		size_t k = quote_char(s + i, n - i, piece), m = strlen(piece);
		if (o + m > room) {
			memcpy(buf + o, cut, sizeof(cut));
			return buf;
		}
		memcpy(buf + o, piece, m);
		o += m;
		i += k;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* True if s may stand in a log line without quotes. */
static bool is_token(const char *s)
{
	static const char extra[] = "._:/@+-";
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			     (c >= 'A' && c <= 'Z');
		if (!alnum && strchr(extra, c) == NULL)
			return false;
	}
	return true;
}

char *log_token(char *buf, size_t size, const char *s)
{
	if (!is_token(s) || strlen(s) >= size)
		return log_quote(buf, size, s);
	memcpy(buf, s, strlen(s) + 1);
	return buf;
}

void log_msg(ht_log *lg, int level, const char *fmt, ...)
{
	if (lg == NULL || lg->f == NULL || level > lg->level || level < 0)
		return;
	char ts[40];
	util_format_time(lg->clock->now_ms(lg->clock->ctx), ts, sizeof(ts));
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++) { /* one event, one line */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	fprintf(lg->f, "%s %s %s\n", ts, level_names[level], line);
	fflush(lg->f);
}
