/*
 * links: the node's CurveZMQ links to its neighbours, and the place the
 * sync state machines (core/sync.h) meet real sockets.
 *
 * One ROUTER, the CURVE server, is bound at the config's `listen`; it carries
 * every neighbour's sender session into this node's receivers. Per
 * configured peer one DEALER, a CURVE client holding our link key pair and
 * the peer's link public key from its certificate, carries our sender
 * session to that peer's ROUTER. A socket monitor on each DEALER reports
 * handshake success and disconnection, which start and stop the sender; a
 * disconnection or a refused handshake also closes the DEALER, and a fresh
 * one is dialled after a back-off (libzmq 4.3 never reconnects a session
 * that ended in a ZAP refusal or a protocol error). A monitor on the
 * ROUTER logs and counts connections that never become links and a peer's
 * inbound connection going away.
 * The ZAP handler (zap.c) admits to the ROUTER only configured peers
 * whose certificates verify now; it stamps each admitted connection with the
 * peer's certificate node name as ZAP User-Id, and inbound frames are
 * attributed by that User-Id alone. Routing ids are only remembered to
 * address replies (a peer chooses its own).
 *
 * ZeroMQ drops messages silently in several cases, so delivery is the
 * protocol's job: every send here is non-blocking and may fail; the sessions
 * resend after acks, pings and reconnects. ROUTER_MANDATORY turns a reply to
 * a vanished peer into EHOSTUNREACH, which resets that receiver session.
 *
 * All of it runs on the daemon's one thread: links_poll_items adds our
 * sockets to the daemon's zmq_poll set, links_dispatch handles what polled
 * ready, links_next_ms and links_tick drive the timers. Status and the
 * audit sampler read the peers' counters as plain structs (links_peer_info,
 * links_summary; status.h turns them into JSON).
 */
#ifndef HT_LINKS_H
#define HT_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "node.h"
#include "pki.h"
#include "status.h"

/* Socket options (milliseconds unless stated). */
#define LINK_HANDSHAKE_MS 3000	       /* CURVE + ZAP handshake must finish */
#define LINK_HEARTBEAT_MS 2000	       /* ZMTP PING interval */
#define LINK_HEARTBEAT_TIMEOUT_MS 6000 /* no traffic after a PING: drop */
#define LINK_HEARTBEAT_TTL_MS 10000    /* what we ask the peer to wait */
#define LINK_RECONNECT_MS 250	       /* first reconnect delay */
#define LINK_RECONNECT_MAX_MS 8000     /* back-off ceiling */
#define LINK_MUTE_MS 5000 /* ignore a peer after a bad inbound frame */
#define LINK_RECHECK_MS                                                        \
	10000			  /* re-verify peer certificates: expiry,      \
				   * revocations learnt from the ledger */
#define LINK_MAX_ROUTING_ID 255	  /* bytes, ZMTP's limit */
#define LINK_AUTO_MAX_DEFAULT 256 /* max_connections=auto without a figure */

/* Messages queued per connection (ZMQ_RCVHWM, ZMQ_SNDHWM; both ends).
 * Frames may be up to SYNC_MAX_FRAME and the window counts records, not
 * bytes, so these are what bound memory: a peer that sends faster than we
 * verify keeps its backlog on its side; a slow peer leaves what we would
 * send it in the ledger; a peer that pings and never reads cannot make us
 * queue Welcomes. A full queue refuses a send; the sessions retry. */
#define LINK_RCVHWM 4
#define LINK_SNDHWM 16

/* Poll entries links may add: the ROUTER, its monitor, the ZAP socket,
 * and per peer its DEALER and its monitor. */
#define LINKS_MAX_ITEMS (3 + 2 * CONF_MAX_PEERS)

typedef struct links links;

typedef struct links_config {
	void *zctx;	/* the daemon's ZeroMQ context */
	const conf *cf; /* read during links_new only */
	node *node;	/* stores what receivers take; borrowed */
	ht_log *log;	/* borrowed */
	/* The trust store and this node's certificate chain (required when
	 * there are links), owned by the daemon, which keeps them alive and
	 * passes its current store to every links_reload. */
	const pki_store *pki;
	const pki_chain *certs;
	/* max_connections when the config says auto (the daemon derives it
	 * from its file descriptor limit); 0: LINK_AUTO_MAX_DEFAULT. */
	uint64_t auto_max_connections;
} links_config;

/* Set up the links the config asks for: bind the ROUTER at listen (with the
 * ZAP handler) and start a DEALER per peer. With no listen and no peers
 * links stay idle. Fails (NULL, err set) when the link key cannot be read,
 * the node's certificate does not verify or does not certify link.key and
 * the node's name, or listen cannot be bound with ZAP enforced: running
 * unauthenticated links is never an option. A peer whose certificate is refused
 * does not fail start: it is logged, shown in status, and not linked. */
links *links_new(const links_config *cfg, ht_err *err);

/* Close every socket (the context is the caller's) and free. Accepts NULL. */
void links_free(links **l);

/* Append our poll entries to items (room for max) and return how many. The
 * entries stay valid until links_dispatch or links_reload. */
size_t links_poll_items(links *l, zmq_pollitem_t *items, size_t max);

/* Handle what zmq_poll reported for the n entries links_poll_items gave
 * (same order). Never blocks. */
void links_dispatch(links *l, const zmq_pollitem_t *items, size_t n);

/* Milliseconds until links_tick has work, at most cap. */
long links_next_ms(links *l, long cap);

/* Run due timers: session ticks, redials, certificate re-checks. */
void links_tick(links *l);

/* Records were stored locally (a submit): push them to every peer. */
void links_pump(links *l);

/* SIGHUP: apply a validated config and the daemon's current trust store
 * (CRLs re-read). Peers that are gone are closed, new ones linked, changed
 * ones (endpoint or certificate) relinked; the others keep their links.
 * Every peer is re-checked: one whose certificate is now refused (revoked)
 * has both its links closed. `listen` cannot change while running (logged,
 * kept). 0, or an error (links wanted for the first time but the node's own
 * keys or certificate are unusable) after which nothing changed. */
int links_reload(links *l, const conf *cf, const pki_store *pki, ht_err *err);

/* The configured peers, for status and the audit sampler: how many, and
 * peer i's (0 <= i < links_peer_count) name, certificate, link state and
 * both sessions' counters, copied into *out. Peers are in config order;
 * the set changes only in links_reload. */
size_t links_peer_count(const links *l);
void links_peer_info(const links *l, size_t i, status_peer *out);

/* The link server's counters, copied into *out. */
void links_summary(const links *l, status_links *out);

#endif
