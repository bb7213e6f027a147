/*
 * control: hutongd's side of the control socket (ctl.h binds it). One
 * request in, one reply out, from the daemon's loop and never blocking
 * for long: submit (sign and store records), status (the document of
 * status.h with live links), rotate (a new key and certificate), fork
 * resolve, stop. A table maps each request type to its handler; an
 * unknown or malformed request gets an error reply. After every request
 * the links are pumped, so what a submit stored goes out at once.
 */
#ifndef HT_CONTROL_H
#define HT_CONTROL_H

#include <stdbool.h>

#include "conf.h"
#include "links.h"
#include "log.h"
#include "node.h"
#include "pki.h"

/* What the handlers work on, all borrowed from the daemon for one call. */
typedef struct control_ctx {
	const conf *cf;	  /* the running config: name, region, cert, key */
	node *node;	  /* signs, stores, answers status */
	links *links;	  /* status of the peers; pumped after each request */
	ht_log *log;	  /* one line per request that changes something */
	pki_chain *chain; /* this node's chain: a rotation replaces it */
	const pki_store *pki; /* CRLs, for metrics */
	bool stop;	      /* out: a stop was requested */
} control_ctx;

/* Answer the request waiting on sock (the REP socket ctl_server_bind
 * returned), if there is one; returns at once when there is none. */
void control_serve(void *sock, control_ctx *c);

/* The metrics text (metrics.h) from c's live state: used by the metrics
 * request and by the daemon's metrics_file timer alike. malloc'd; NULL with
 * err set on failure. */
char *control_metrics_text(control_ctx *c, ht_err *err);

#endif
