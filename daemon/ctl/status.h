/*
 * status: the status document, `hutong status --json`, built in this one
 * place. Both programs build it: the CLI from the ledger alone when the
 * daemon is down (status_json with running false and no peers), hutongd
 * with its live links and counters (status_daemon_json). The link layer
 * knows nothing of JSON: it fills the plain structs below and this file
 * turns them into the document, so its keys are written down only here.
 */
#ifndef HT_STATUS_H
#define HT_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"
#include "ledger.h"
#include "node.h"
#include "pki.h"
#include "sync.h"

/* One configured peer as the links see it now (copied, not borrowed). */
typedef struct status_peer {
	char name[RECORD_MAX_NAME + 1];	  /* the configured label */
	char node[PKI_NAME_MAX + 1];	  /* its certificate's node, or "" */
	char region[HT_REGION_LEN + 1];	  /* its certificate's region, or "" */
	char endpoint[CONF_MAX_ENDPOINT]; /* where we dial it */
	bool connected;		      /* our outbound link and session are up */
	bool trusted;		      /* its certificate verified: linked */
	char refusal[HT_ERR_MSG_MAX]; /* why not trusted */
	uint64_t inbound_lost;	      /* inbound connections that went away */
	sync_stats tx;		      /* our sender session to it */
	sync_stats rx;		      /* our receiver session from it */
} status_peer;

/* The link server's counters. */
typedef struct status_links {
	char listen[CONF_MAX_ENDPOINT]; /* as bound; "" when not listening */
	uint64_t zap_admitted;
	uint64_t zap_refused;
	uint64_t unknown_frames;      /* frames from no linked peer */
	uint64_t handshake_failed;    /* inbound handshakes failed before ZAP */
	uint64_t closed_unlinked;     /* inbound closed before a first frame */
	uint64_t connections;	      /* inbound connections open now */
	uint64_t connections_refused; /* over max_connections(_per_peer) */
	uint64_t max_connections;     /* the limits in force */
	uint64_t max_per_peer;
} status_links;

/* The document without a daemon: node, region, running, records, digest,
 * origins (object keyed by region: node, seq, head, forked) and an empty
 * peers array. NULL on allocation failure; the caller owns the result. */
json_t *status_json(const char *name, const char *region, ledger *l,
		    bool running);

/* One entry of the "peers" array: name, node, region, endpoint, connected,
 * inbound, last_seen (RFC 3339 or null), sent, received, stored, behind,
 * refused, duplicates, gaps, dropped, bad_frames, forks, buffered,
 * inbound_lost, bytes_sent, bytes_received, frames_sent, frames_received,
 * certificate ("ok" or why refused), refused_by_peer (records the peer
 * keeps refusing, sync_stats) and last_refused ({origin, seq, id} of the
 * last of them, or null). The caller owns the result. */
json_t *status_peer_json(const status_peer *p);

/* The "links" object: listen (or null), zap_admitted, zap_refused,
 * unknown_frames, handshake_failed, closed_unlinked, connections,
 * connections_refused, max_connections, max_connections_per_peer. Caller
 * owns it. */
json_t *status_links_json(const status_links *s);

/* The "own_chain" object: state ("ok", "catching_up", "unconfirmed": no
 * neighbour answered yet, "refused": the neighbours' chain is not ours),
 * confirmed (false: signing from the chain held at start, no neighbour
 * answered within catchup_timeout), seq, target (highest own seq a neighbour
 * named), answered, peers, error (or null). Caller owns it. */
json_t *status_own_chain_json(const node_catchup_info *c);

/* The "refusals" object: what node_receive refused since start, by reason
 * (decode, signature, trust, chain, forks, gaps, held_back). */
json_t *status_refusals_json(const node_counters *c);

/* The running daemon's document: status_json with running true, and peers
 * (n entries), links and refusals from the daemon's live state. NULL on
 * allocation failure; the caller owns the result. */
json_t *status_daemon_json(const char *name, const char *region, ledger *l,
			   const status_peer *peers, size_t n,
			   const status_links *links, const node_counters *c);

#endif
