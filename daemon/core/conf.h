/*
 * conf: hutongd.conf -> struct conf. The file is "key = value" lines, '#'
 * comments, and "[peer NAME]" sections. Parsing fills a fresh struct and
 * reports every problem with file:line; a caller swaps the new struct in only
 * when it validated, so a bad reload keeps the old config running.
 * Relative paths are resolved against the config file's directory.
 */
#ifndef HT_CONF_H
#define HT_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "record.h"
#include "util.h"

#define CONF_MAX_PEERS 64
#define CONF_MAX_ENDPOINT 256
#define CONF_MAX_LINE 4096	    /* bytes per line, without the newline */
#define CONF_MAX_FILE (1024 * 1024) /* bytes per config file */
#define CONF_MAX_ERRORS 100	    /* reported per parse; then one summary */
#define CONF_MAX_NODE_NAME UTIL_NODE_NAME_MAX /* one rule: util.h */

typedef struct conf_peer {
	char name[RECORD_MAX_NAME + 1];
	char endpoint[CONF_MAX_ENDPOINT]; /* tcp://HOST:PORT */
	char cert[PATH_MAX];		  /* peer's node certificate */
	int line;			  /* where the section starts */
} conf_peer;

/* A duration as written ("30s", "5m") and its value. */
typedef struct conf_duration {
	char text[24];
	int64_t ms;
} conf_duration;

#define CONF_RECEIPT_MIN_MS                                                    \
	1000 /* receipt_interval and max_clock_skew                            \
		bounds */
#define CONF_RECEIPT_MAX_MS 86400000
#define CONF_CATCHUP_MIN_MS 1000 /* catchup_timeout bounds */
#define CONF_CATCHUP_MAX_MS 3600000
#define CONF_MAX_CONNECTIONS 1000000 /* max_connections bound */
#define CONF_MAX_PER_PEER 64	     /* max_connections_per_peer bound */

/* A count as written ("auto", "512") and its value (0 = auto). */
typedef struct conf_count {
	char text[24];
	uint64_t n;
} conf_count;

typedef struct conf {
	char path[PATH_MAX];		/* the file read */
	char dir[PATH_MAX];		/* its directory, for relative paths */
	char name[RECORD_MAX_NAME + 1]; /* node name (required) */
	char region[HT_REGION_LEN + 1]; /* six digits (required) */
	char key[PATH_MAX];		/* Ed25519 key PEM; default node.key */
	char link_key[PATH_MAX];	/* X25519 link key; default link.key */
	char cert[PATH_MAX];		/* node certificate; default node.crt */
	char ca_bundle[PATH_MAX]; /* root (+ intermediates) PEM; default ca.crt
				   */
	char crl[PATH_MAX];	/* CRL PEM (may list several); default ca.crl */
	char ledger[PATH_MAX];	/* SQLite file; default ledger.db */
	char control[PATH_MAX]; /* control socket path; default control.sock */
	char listen[CONF_MAX_ENDPOINT]; /* tcp://HOST:PORT, empty = no listener
					 */
	char on_alert[PATH_MAX]; /* command run for alerts, empty = none */
	int log_level;		 /* LOG_WARN/INFO/DEBUG; default info */
	conf_duration receipt_interval; /* at most one receipt per this; 30s */
	/* With peers and no own chain: wait this long for every neighbour's
	 * frontier before deciding on a genesis; 60s. */
	conf_duration catchup_timeout;
	/* Inbound link connections in all (0 = auto: from the fd limit) and
	 * authenticated ones per peer; auto and 4. */
	conf_count max_connections;
	conf_count max_connections_per_peer;
	/* The Prometheus text file (empty = none), rewritten every
	 * metrics_interval (15s) for node_exporter's textfile collector. */
	char metrics_file[PATH_MAX];
	conf_duration metrics_interval;
	conf_duration max_clock_skew; /* refuse records created further ahead
					 of our clock than this; 5m */
	conf_peer peers[CONF_MAX_PEERS];
	size_t n_peers;
} conf;

/* Called once per problem: "FILE:LINE: message". */
typedef void (*conf_report_fn)(void *ctx, const char *line);

/* Parse and validate path. Reports every problem through fn (may be NULL)
 * and returns NULL if there was any; otherwise a new conf (caller frees). */
conf *conf_load(const char *path, conf_report_fn fn, void *ctx);

/* Same, from a buffer; `path` names it in messages and anchors relative
 * paths. */
conf *conf_parse(const char *path, const char *text, size_t len,
		 conf_report_fn fn, void *ctx);

void conf_free(conf **c);

/* The peer named name, or NULL. */
const conf_peer *conf_peer_find(const conf *c, const char *name);

/* Write a commented default config for a new node at path (mode 0644):
 * name and region (both checked), listen (NULL or "" for none), every other
 * key at its default with its help line, and a commented example peer.
 * Written atomically; HT_EEXIST if path exists, HT_EINVAL naming the field. */
int conf_write_default(const char *path, const char *name, const char *region,
		       const char *listen, ht_err *err);

/* Print the normalized config (every key, resolved paths) to a buffer; the
 * caller frees. Used by --check-config and golden tests. */
char *conf_dump(const conf *c);

/* Append a "[peer NAME]" section (endpoint, and cert when not NULL; a
 * relative cert is relative to the config file) to the config at path,
 * keeping every other byte. The result must parse, or nothing is written;
 * the file is then replaced atomically with its mode kept. HT_EEXIST if the
 * peer is already there; HT_EINVAL with err naming the field or the first
 * "FILE:LINE: message" of the result otherwise. */
int conf_file_add_peer(const char *path, const char *name, const char *endpoint,
		       const char *cert, ht_err *err);

/* Remove the "[peer NAME]" section from the config at path: its header, its
 * lines up to the next section, and the comment block directly above it
 * (when a blank line separates that block from what precedes it). Other
 * comments stay. Validated and replaced like conf_file_add_peer.
 * HT_ENOTFOUND if there is no such section. */
int conf_file_remove_peer(const char *path, const char *name, ht_err *err);

/* True if s is a valid node name: util_is_node_name (1-64 of [a-z0-9._-],
 * starting with a letter or digit). */
bool conf_is_node_name(const char *s);

/* Is s a listen endpoint (tcp://HOST:PORT, HOST may be '*')? 0, or
 * HT_EINVAL with err naming field "listen" and the reason (for checks
 * before anything is written, as hutong init does). */
int conf_check_listen(const char *s, ht_err *err);

#endif
