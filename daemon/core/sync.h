/*
 * sync: the federation protocol (proto/sync.proto) as a state machine with
 * no sockets in it: bytes and clock ticks in, messages out through a send
 * callback. The daemon puts sessions on ZeroMQ links; the simulator
 * (tests/sim) puts many nodes in one process on in-memory queues with
 * injected delay, loss, duplication and partitions.
 *
 * A link between neighbours carries two sessions, one per direction:
 *   sync_sender    pushes this node's records to the neighbour (client side)
 *   sync_receiver  takes the neighbour's records (server side)
 * The sender streams what the receiver lacks (from the receiver's frontier
 * in Welcome), oldest first per origin, within a credit window that the
 * receiver's Acks refill after each commit, then keeps pushing new records
 * as sync_sender_pump is called. A periodic Ping makes the receiver resend
 * its full frontier (anti-entropy), which repairs anything lost.
 *
 * The receiver hands envelopes to the node through sync_store_ops (check,
 * verify, append in one transaction); records ahead of a gap wait in a
 * bounded per-origin buffer while the gap is requested with Want; beyond
 * the bound they are dropped and come again later.
 */
#ifndef HT_SYNC_H
#define HT_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"
#include "log.h"
#include "record.h"

#define SYNC_VERSION 1
#define SYNC_MAX_FRAME (8 * 1024 * 1024) /* one SyncMessage */
#define SYNC_MAX_BATCH 256		 /* envelopes per Records */
#define SYNC_MAX_BATCH_BYTES (2 * 1024 * 1024)
#define SYNC_WINDOW 2048	 /* unacknowledged records */
#define SYNC_PING_MS 3000	 /* anti-entropy period */
#define SYNC_GAP_PER_ORIGIN 256	 /* buffered records ahead of a gap */
#define SYNC_GAP_TOTAL 4096	 /* per receiver */
#define SYNC_MAX_FRONTIER 100000 /* entries in one frontier */
#define SYNC_GAP_BYTES                                                         \
	(16 * 1024 * 1024)	 /* buffered envelope bytes, per receiver */
#define SYNC_HELLO_MS 5000	 /* resend Hello if no Welcome by then */
#define SYNC_WANT_MS 1000	 /* at most one Want per origin per this */
#define SYNC_RETRY_MS 100	 /* retry a send the channel refused */
#define SYNC_REWIND_MAX_MS 30000 /* longest back-off between rewinds */
#define SYNC_FETCH_MAX 64	 /* ids in one Fetch */
#define SYNC_FETCH_MS 3000  /* ask one peer for one id at most this often */
#define SYNC_FETCH_MEMO 256 /* ids a receiver remembers asking for */
#define SYNC_REFUSE_SENDS 3 /* sends of one record: "peer refuses" */

/* What a peer can make a session send (proto/sync.proto says the bound).
 * Every frame a session sends, of either side, spends from a token bucket
 * of SYNC_SEND_BURST bytes refilled at SYNC_SEND_RATE bytes per second; a
 * frame goes while the bucket is above zero, so over t seconds a session
 * sends at most SYNC_SEND_BURST + SYNC_SEND_RATE * t + SYNC_MAX_FRAME
 * bytes, whatever the peer sends. 32 MiB/s is well above what a node
 * verifies and commits (an honest catch-up is never slowed by it); the
 * burst holds the largest Welcome (SYNC_MAX_FRONTIER entries) or several
 * full batches. Acks are never held back (they are the flow control). */
#define SYNC_SEND_RATE (32 * 1024 * 1024) /* bytes per second, per session */
#define SYNC_SEND_BURST (8 * 1024 * 1024) /* bucket size, bytes */
/* A receiver answers a Ping with its full frontier at
 * most once per SYNC_FRONTIER_MS; beyond that it is counted and ignored. An
 * honest sender pings every SYNC_PING_MS, three times slower. */
#define SYNC_FRONTIER_MS 1000
/* A sender serves a Want for records that the last Want of that origin is
 * still resending (from_seq at or below what it resent) at most once per
 * SYNC_WANT_MS; sooner it is counted and ignored. A Want never enlarges the
 * window: what it resends counts against the unacknowledged records. */
#define SYNC_WANT_SERVE_MS SYNC_WANT_MS
/* Origins per receiver session for which a mismatch (frontier head or a
 * record that does not link) fetches the peer's record once. */
#define SYNC_FORK_ASKS 64

/* What the node did with one envelope from a peer. */
typedef enum sync_result {
	SYNC_STORED = 0, /* appended */
	SYNC_DUPLICATE,	 /* already held */
	SYNC_FORK,	 /* conflicting record kept as evidence */
	SYNC_GAP,	 /* ahead of its origin's head: buffer and ask */
	SYNC_REFUSED,	 /* invalid (the node logged why) */
} sync_result;

/* One envelope's verdict, with the origin and seq the node parsed from it
 * (for the gap buffer, the Ack and pairing); origin "" and seq 0 when it
 * did not parse. */
typedef struct sync_verdict {
	sync_result result;
	char origin[HT_REGION_LEN + 1];
	uint64_t seq;
} sync_verdict;

/* The node behind a session. */
typedef struct sync_node_ops {
	/* Check, verify and append envelopes[0..n) from peer in one
	 * transaction, filling results[i]. Returns 0, or a storage error after
	 * which nothing was stored (the receiver does not ack; the sender will
	 * resend). node_receive fits it, with the node as ctx. */
	int (*store)(void *ctx, const char *peer, const uint8_t *const *env,
		     const size_t *len, size_t n, sync_verdict *results);
	void *ctx; /* store's */
	/* Check the certificate chain a peer presented in Hello/Welcome
	 * against the link's authenticated peer. 0 or HT_ETRUST with err.
	 * NULL: any chain is taken. */
	int (*check_peer)(void *ctx, const char *peer,
			  const uint8_t *const *der, const size_t *len,
			  size_t n, ht_err *err);
	void *check_ctx; /* check_peer's */
	ledger *ledger;	 /* read by senders: frontier and envelopes */
	const uint8_t *const
	    *certs; /* this node's DER chain for Hello/Welcome */
	const size_t *cert_lens;
	size_t n_certs;
	ht_log *log;
} sync_node_ops;

/* Sends one encoded SyncMessage on the session's channel. Returns 0, or
 * non-zero when the channel cannot take it now (the session retries on the
 * next pump/tick; nothing is lost). */
typedef int (*sync_send_fn)(void *ctx, const uint8_t *buf, size_t len);

typedef struct sync_stats {
	uint64_t sent;	   /* records sent */
	uint64_t received; /* records received */
	uint64_t stored;   /* of those, newly stored */
	uint64_t duplicates;
	uint64_t refused;     /* invalid records */
	uint64_t bad_frames;  /* undecodable or out-of-place messages */
	uint64_t gaps;	      /* Want requests (sent or honoured) */
	uint64_t dropped;     /* records dropped beyond the gap buffer */
	int64_t last_seen_ms; /* wall clock of the last message from the peer */
	bool connected;	      /* session established (Hello/Welcome done) */
	uint64_t peer_behind; /* records we hold that the peer lacks (sender) */
	uint64_t forks;	      /* conflicting records kept as evidence */
	uint64_t buffered;    /* records now waiting ahead of a gap */
	uint64_t rewinds;     /* cursor rewinds: resends after loss (sender) */
	uint64_t bytes_sent;  /* SyncMessage frames the channel took: bytes */
	uint64_t bytes_received; /* frames from the peer, as they came */
	uint64_t frames_sent;
	uint64_t frames_received;
	/* Sender: records the peer refuses, that is records sent
	 * SYNC_REFUSE_SENDS times without the peer's frontier for their
	 * origin passing them (each counted once), and the last of them. */
	uint64_t refused_by_peer;
	char last_refused_origin[HT_REGION_LEN + 1]; /* "" when none */
	uint64_t last_refused_seq;
	uint8_t last_refused_id[RECORD_ID_BYTES]; /* zero when not read */
	uint64_t
	    wants_limited; /* Wants not served: repeated too soon (sender) */
	uint64_t pings_limited;	 /* Pings/Hellos not answered: too soon or over
				    budget */
	uint64_t throttled;	 /* times the send budget held frames back */
	uint64_t frontier_forks; /* peer's frontier names another record at a
				    seq we hold */
	uint64_t mismatches;	 /* refused records right after our head: a fork
				    suspected */
} sync_stats;

typedef struct sync_sender sync_sender;
typedef struct sync_receiver sync_receiver;

/* A sender for peer `peer` (name). NULL on allocation failure. */
sync_sender *sync_sender_new(const sync_node_ops *ops, const char *peer,
			     sync_send_fn send, void *send_ctx);
void sync_sender_free(sync_sender **s);

/* The channel (re)connected: start a session (sends Hello). */
void sync_sender_on_connect(sync_sender *s, int64_t now_ms);
/* The channel dropped: forget in-flight state; wait for on_connect. */
void sync_sender_on_disconnect(sync_sender *s);
/* A frame from the receiver. Returns 0, or HT_EINVAL/HT_ELIMIT/HT_ETRUST
 * for a frame that should drop the link (logged and counted). */
int sync_sender_on_frame(sync_sender *s, const uint8_t *buf, size_t len,
			 int64_t now_ms);
/* Send what the window allows (call after records were stored). */
void sync_sender_pump(sync_sender *s);
/* Timers: ping for anti-entropy, hello retry. */
void sync_sender_tick(sync_sender *s, int64_t now_ms);
/* Milliseconds until the next tick is due (for the poll timeout), 0 when
 * overdue, -1 when no timer runs (not connected). */
int64_t sync_sender_next_ms(const sync_sender *s, int64_t now_ms);
const sync_stats *sync_sender_stats(const sync_sender *s);
/* The peer is known to hold origin's chain up to seq (it sent us that
 * record, or named it in its Hello), so this sender need not send it back.
 * Called through sync_receiver_pair; ignored for origins we do not hold. */
void sync_sender_peer_holds(sync_sender *s, const char *origin, uint64_t seq);

/* Watch origin in the peer's Welcome frontiers, whether or not our ledger
 * holds it (a node that lost its own chain asks its neighbours for it). */
void sync_sender_watch(sync_sender *s, const char *origin);
/* Has the peer answered with a Welcome (its frontier) since
 * sync_sender_new? *seq: the highest seq of the watched origin any Welcome
 * named, 0 when none did. */
bool sync_sender_watched(const sync_sender *s, uint64_t *seq);

/* A receiver for peer `peer`. */
sync_receiver *sync_receiver_new(const sync_node_ops *ops, const char *peer,
				 sync_send_fn send, void *send_ctx);
void sync_receiver_free(sync_receiver **r);
/* A frame from the sender. *stored is set to the number of records newly
 * stored (so the shell can pump every sender). Returns as above. */
int sync_receiver_on_frame(sync_receiver *r, const uint8_t *buf, size_t len,
			   int64_t now_ms, size_t *stored);
void sync_receiver_on_disconnect(sync_receiver *r);
const sync_stats *sync_receiver_stats(const sync_receiver *r);
/* Pair the two sessions of one neighbour: what the receiver learns the peer
 * holds (its Hello frontier, each record it sends) moves the sender's cursor
 * past it, so records are not echoed back on the link they came from; and a
 * fork that either side sees in the peer's frontier makes the sender send our
 * record at that seq and the receiver ask (Want) for the peer's. s may be
 * NULL to unpair; either session may be freed first (freeing one unpairs
 * it). */
void sync_receiver_pair(sync_receiver *r, sync_sender *s);

/* Ask the peer for the full envelopes of records held here without their
 * body (node_missing_bodies): one Fetch with those of ids[0..n) not asked
 * of this peer within SYNC_FETCH_MS, at most SYNC_FETCH_MAX. The answer
 * comes as Records (node_receive fills the bodies in). Returns how many
 * ids were asked for (0 before Hello, or when the channel is full). */
int sync_receiver_fetch(sync_receiver *r, const uint8_t (*ids)[RECORD_ID_BYTES],
			size_t n, int64_t now_ms);

#endif
