/*
 * log: timestamped one-line events to a caller-owned stream. Lines look like
 * "2026-11-29T08:00:00.000Z info stored id=ab12.. origin=320100 seq=7".
 */
#include "log.h"

#include <stdarg.h>
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
	for (char *p = line; *p; p++) /* one event, one line */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(lg->f, "%s %s %s\n", ts, level_names[level], line);
	fflush(lg->f);
}
