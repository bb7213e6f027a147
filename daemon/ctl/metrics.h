/*
 * metrics: the node's metrics in the Prometheus text exposition format
 * (version 0.0.4), built in this one place from plain values, the way
 * status.h builds the status document. hutongd renders it for the
 * `metrics` control request (`hutong metrics`) and for metrics_file, which
 * its loop rewrites every metrics_interval for node_exporter's textfile
 * collector. docs/metrics.md lists every family; keep it in step.
 *
 * The text holds counts, states, durations and times only: region codes,
 * kind names, the configured peer labels, node and CA names. Never a record
 * body, a person's name or an id number.
 */
#ifndef HT_METRICS_H
#define HT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"
#include "node.h"
#include "pki.h"
#include "status.h"

/* One CRL of the trust store: its issuer's name and nextUpdate. */
typedef struct metrics_crl {
	char issuer[PKI_NAME_MAX + 1];
	int64_t next_update_ms;
} metrics_crl;

/* Everything the text is made of, borrowed for one call. */
typedef struct metrics_input {
	const char *name;   /* node name */
	const char *region; /* node region */
	ledger *ledger;	    /* records held by origin and kind, origins */
	const status_peer *peers;
	size_t n_peers;
	const status_links *links;
	const node_counters *counters;
	int64_t cert_not_after_ms; /* the node certificate's; 0: not known */
	const metrics_crl *crls;   /* one per issuer */
	size_t n_crls;
	int64_t now_ms; /* wall clock: ages of last_seen */
} metrics_input;

/* The exposition text, NUL-terminated and malloc'd (the caller frees it),
 * or NULL with err set (out of memory, or a ledger read error). */
char *metrics_render(const metrics_input *in, ht_err *err);

/* v as a Prometheus label value (backslash, double quote and newline
 * escaped) into out of len bytes; returns out. A value that does not fit
 * is cut at a character boundary. */
char *metrics_escape(const char *v, char *out, size_t len);

#endif
