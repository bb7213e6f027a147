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

/* Write one line. A NULL logger discards. */
void log_msg(ht_log *lg, int level, const char *fmt, ...) HT_PRINTF(3, 4);

#define log_warn(lg, ...) log_msg((lg), LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...) log_msg((lg), LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_msg((lg), LOG_DEBUG, __VA_ARGS__)

#endif
