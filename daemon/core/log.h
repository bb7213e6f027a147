/*
 * log: one line per event, "LEVEL key=value ..." with a timestamp, written to
 * a sink the caller owns (stderr for the daemon, a memory stream in tests).
 * A logger is a value, not a global; every module that logs takes one.
 */
#ifndef HT_LOG_H
#define HT_LOG_H

#include <stdio.h>

#include "err.h"
#include "util.h"

enum { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

typedef struct ht_log ht_log;

/* A logger writing to f (not owned) at most at `level`; clock may be NULL
 * for the system clock. Returns NULL on allocation failure. */
ht_log *log_new(FILE *f, int level, const ht_clock *clock);
void log_free(ht_log **lg);
void log_set_level(ht_log *lg, int level);

/* Parse "warn", "info", "debug". Returns level or -1. */
int log_level_parse(const char *s);

/* Room for a quoted value of the usual size: log_quote keeps at most
 * LOG_QUOTE_MAX - 1 bytes and marks a cut with "...". */
#define LOG_QUOTE_MAX 256

/* s as a log value: in double quotes, with '"' and '\\' escaped by a
 * backslash, LF, CR and tab as \n, \r, \t, any other control character,
 * bidirectional control or line separator as \u{XXXX}, and bytes that are
 * not UTF-8 as \xHH. A value too long for buf (size >= 8) is cut at a
 * character and ends in ..." so the line stays parseable. NULL gives "".
 * Returns buf, for use as a %s argument:
 *   log_warn(lg, "peer=%s", log_quote(q, sizeof(q), name)); */
char *log_quote(char *buf, size_t size, const char *s);

/* s as a log value that is usually a bare token (a node name, a region code,
 * a path, an address): as it is when every byte is one of
 * [A-Za-z0-9._:/@+-] and it is not empty, else log_quote(s). */
char *log_token(char *buf, size_t size, const char *s);

/* log_quote and log_token into a compound-literal buffer that lives until
 * the end of the enclosing block, so a call site needs no buffer of its own:
 *   log_warn(lg, "refused peer=%s reason=%s", LOG_T(peer), LOG_Q(why));
 * Every value that may hold text from a peer or a file goes through one of
 * them; a format never quotes a value itself (scripts/lint_c.py logs). */
#define LOG_Q(s) log_quote((char[LOG_QUOTE_MAX]){""}, LOG_QUOTE_MAX, (s))
#define LOG_T(s) log_token((char[LOG_QUOTE_MAX]){""}, LOG_QUOTE_MAX, (s))

/* Write one line. Any control character left in the formatted line (a value
 * not passed through log_quote) becomes '?' and LF/CR a space, so a line is
 * one event. A NULL logger discards. */
void log_msg(ht_log *lg, int level, const char *fmt, ...) HT_PRINTF(3, 4);

#define log_warn(lg, ...) log_msg((lg), LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...) log_msg((lg), LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_msg((lg), LOG_DEBUG, __VA_ARGS__)

#endif
