/*
 * alert: what hutongd does when an alert concerning its region is
 * stored (from a peer or submitted here): one log line, and the configured
 * on_alert command run with the record id as its only argument, by
 * fork/execv (never a shell), without waiting for it. Children are reaped
 * from the loop with waitpid(WNOHANG); at most ALERT_MAX_RUNNING run at
 * once and ALERT_MAX_QUEUED more wait their turn (beyond that an alert is
 * logged but its command skipped, with a warning).
 */
#ifndef HT_ALERT_H
#define HT_ALERT_H

#include "log.h"
#include "record.h"

#define ALERT_MAX_RUNNING 4
#define ALERT_MAX_QUEUED 256

typedef struct alert_runner alert_runner;

/* For this node's region; command may be NULL or "" (log only). log is
 * borrowed. NULL on allocation failure. */
alert_runner *alert_new(const char *region, const char *command, ht_log *log);
void alert_free(alert_runner **a);

/* A config reload may change the command. */
void alert_set_command(alert_runner *a, const char *command);

/* The node's stored hook (node_set_stored_hook): ctx is the runner. */
void alert_on_stored(void *ctx, const record *r);

/* From the loop: reap finished commands, start queued ones. */
void alert_tick(alert_runner *a);

/* Commands running now (tests). */
size_t alert_running(const alert_runner *a);

#endif
