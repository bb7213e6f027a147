/*
 * sync: the federation protocol (proto/sync.proto) as two socket-free state
 * machines, one per direction of a link. Frames and clock ticks come in;
 * encoded SyncMessages go out through the session's send callback. Time is
 * only what the caller passes (now_ms); nothing here reads a clock, opens a
 * socket or keeps global state, so the simulator runs hundreds of nodes in
 * one process and replays a seed exactly.
 *
 * Every frame is hostile until proven otherwise: the size limit comes before
 * decoding, then protobuf-c, then unknown fields, then per-message limits
 * (frontier entries, certificates, envelopes per batch), then whether the
 * message belongs to this side and this state. A refused frame is counted in
 * stats.bad_frames, logged once with peer= and the reason, and returned as a
 * code so the shell can drop the link. The envelopes themselves are judged by
 * the node (sync_node_ops.store), never here.
 *
 * Sender. Per origin a cursor: `known`, the peer holds 1..known (from its
 * Welcome, its Acks, and through the paired receiver from what it sends us),
 * and `sent`, what this session has sent (>= known). A record goes out when
 * the ledger's seq passes `sent`, so each record crosses a link once in the
 * normal case; records are read with ledger_range (committed only, so a
 * record is relayed only after it was validated and stored), oldest first
 * per origin, round-robin across origins, in batches of SYNC_MAX_BATCH
 * records / SYNC_MAX_BATCH_BYTES, while fewer than `window` records are
 * unacknowledged. Repair: a Want rewinds one origin; a Welcome (the answer
 * to our Ping) with nothing in flight and the peer below our cursor rewinds
 * that origin (with back-off, so a fork that can never be resolved does not
 * resend forever); a Welcome that shows the acks for records sent before the
 * Ping never came resets the window, so a lost Ack cannot deadlock it.
 *
 * Receiver. Hello -> check_peer -> Welcome (full frontier, window). Records
 * -> ops.store in one transaction -> Ack{count, frontier of the origins the
 * batch touched}; on a storage error there is no Ack and the sender resends.
 * A record ahead of a gap waits in a bounded buffer per origin (oldest kept,
 * beyond the bounds dropped and counted) while Want{origin, head+1} asks for
 * the gap, at most once per SYNC_WANT_MS per origin; buffered records are
 * retried on every frame once their origin's head has reached them. Ping ->
 * Welcome with the full frontier.
 */
#include "sync.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync.pb-c.h"
#include "util.h"

typedef Hutong__SyncMessage sync_msg;

/* What both directions share: the node, the peer and the channel. */
typedef struct session {
	sync_node_ops ops;
	char peer[RECORD_MAX_NAME + 1];
	sync_send_fn send;
	void *send_ctx;
	sync_stats stats;
	int64_t budget;	   /* bytes the session may still send (can go < 0) */
	int64_t budget_ms; /* when the bucket was last refilled */
	bool budget_set;   /* budget_ms is set */
} session;

static void session_init(session *ss, const sync_node_ops *ops,
			 const char *peer, sync_send_fn send, void *ctx)
{
	ss->ops = *ops;
	snprintf(ss->peer, sizeof(ss->peer), "%s", peer ? peer : "");
	ss->send = send;
	ss->send_ctx = ctx;
	ss->budget = SYNC_SEND_BURST;
}

/* 1st, 2nd, 4th, 8th ...: counts that a flood drives are logged without
 * flooding the log. */

/* Refill the send bucket for the time since the last refill. */
static void budget_refill(session *ss, int64_t now)
{
	if (!ss->budget_set || now < ss->budget_ms) {
		ss->budget_set = true;
		ss->budget_ms = now;
		return;
	}
	int64_t ms = now - ss->budget_ms;
	int64_t room = SYNC_SEND_BURST - ss->budget;
	if (ms > 0 && room > 0)
		ss->budget +=
		    ms >= 1000 || ms * (int64_t)SYNC_SEND_RATE / 1000 > room
			? room
			: ms * (int64_t)SYNC_SEND_RATE / 1000;
	ss->budget_ms = now;
}

/* May the session send a frame now? */
static bool budget_ok(session *ss, int64_t now)
{
	budget_refill(ss, now);
	return ss->budget > 0;
}

/* The budget held `what` back: count and log (rate-limited). */
static void budget_held(session *ss, const char *what)
{
	uint64_t n = ++ss->stats.throttled;
	if (util_log_due(n))
		log_warn(ss->ops.log,
			 "send budget spent peer=%s held=%s count=%llu "
			 "rate=%d: the peer asks for more than it may",
			 ss->peer, what, (unsigned long long)n, SYNC_SEND_RATE);
}

/* Does l hold e's origin at e's seq with another record? *agree is set
 * when it holds the same one (then the chains agree up to there). */
static bool frontier_conflict(ledger *l, const Hutong__FrontierEntry *e,
			      bool *agree)
{
	const ledger_origin *o = ledger_origin_find(l, e->origin);
	record *r = NULL;
	bool differ;
	*agree = false;
	if (o == NULL || e->seq > o->seq)
		return false;
	if (e->seq == o->seq) {
		differ = memcmp(o->head, e->head.data, RECORD_ID_BYTES) != 0;
	} else {
		if (ledger_get_seq(l, o->region, e->seq, &r, NULL, NULL) != 0)
			return false;
		differ =
		    memcmp(record_id(r), e->head.data, RECORD_ID_BYTES) != 0;
		record_free(&r);
	}
	*agree = !differ;
	return differ;
}

/* The peer's frontier names another record at a seq we hold. */
static void frontier_fork(session *ss, const char *origin, uint64_t seq,
			  const char *role)
{
	ss->stats.frontier_forks++;
	log_warn(ss->ops.log,
		 "frontier fork peer=%s origin=%s seq=%llu role=%s: the peer "
		 "holds another record at this seq; both are exchanged as "
		 "fork evidence",
		 ss->peer, origin, (unsigned long long)seq, role);
}

/* Milliseconds until the bucket is above zero again. */
static int64_t budget_wait_ms(const session *ss)
{
	if (ss->budget > 0)
		return 0;
	return (1 - ss->budget) * 1000 / SYNC_SEND_RATE + 1;
}

/* Encode m and hand it to the channel. 0, HT_ENOMEM, or HT_EUNAVAIL when
 * the channel cannot take it now. */
static int send_msg(session *ss, const sync_msg *m)
{
	size_t len = protobuf_c_message_get_packed_size(&m->base);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL)
		return HT_ENOMEM;
	protobuf_c_message_pack(&m->base, buf);
	int rc = ss->send(ss->send_ctx, buf, len) == 0 ? 0 : HT_EUNAVAIL;
	free(buf);
	if (rc == 0) {
		ss->stats.bytes_sent += len;
		ss->stats.frames_sent++;
		ss->budget -= (int64_t)len;
	}
	return rc;
}

/* ---- frontiers on the wire ---- */

/* FrontierEntry messages pointing into the ledger's frontier (borrowed:
 * valid until the ledger changes, which it does not while we encode). */
typedef struct wire_frontier {
	Hutong__FrontierEntry *e;
	Hutong__FrontierEntry **p;
	size_t n, cap;
} wire_frontier;

static int wire_frontier_init(wire_frontier *f, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->e = calloc(cap ? cap : 1, sizeof(*f->e));
	f->p = calloc(cap ? cap : 1, sizeof(*f->p));
	f->cap = cap;
	return f->e && f->p ? 0 : HT_ENOMEM;
}

static void wire_frontier_free(wire_frontier *f)
{
	free(f->e);
	free(f->p);
	memset(f, 0, sizeof(*f));
}

static void wire_frontier_add(wire_frontier *f, const ledger_origin *o)
{
	if (f->n == f->cap)
		return;
	Hutong__FrontierEntry *e = &f->e[f->n];
	hutong__frontier_entry__init(e);
	e->origin = (char *)o->region;
	e->seq = o->seq;
	e->head.data = (uint8_t *)o->head;
	e->head.len = RECORD_ID_BYTES;
	f->p[f->n++] = e;
}

/* The whole frontier of l (at most SYNC_MAX_FRONTIER entries). */
static int wire_frontier_all(wire_frontier *f, const ledger *l)
{
	size_t n = ledger_origin_count(l);
	if (n > SYNC_MAX_FRONTIER)
		n = SYNC_MAX_FRONTIER;
	if (wire_frontier_init(f, n) != 0)
		return HT_ENOMEM;
	for (size_t i = 0; i < n; i++)
		wire_frontier_add(f, ledger_origin_at(l, i));
	return 0;
}

/* ---- decoding and checking a frame ---- */

static int check_frontier(Hutong__FrontierEntry *const *e, size_t n, size_t max,
			  const char *field, ht_err *err)
{
	if (n > max)
		return ht_err_set(err, HT_ELIMIT, field,
				  "%zu entries, limit %zu", n, max);
	for (size_t i = 0; i < n; i++) {
		if (e[i]->base.n_unknown_fields > 0)
			return ht_err_set(err, HT_EINVAL, field,
					  "[%zu]: unknown field", i);
		if (!util_is_region_code(e[i]->origin))
			return ht_err_set(err, HT_EINVAL, field,
					  "[%zu].origin: not a region code", i);
		if (e[i]->seq == 0 || e[i]->head.len != RECORD_ID_BYTES)
			return ht_err_set(
			    err, HT_EINVAL, field,
			    "[%zu]: needs seq >= 1 and a %d-byte head", i,
			    RECORD_ID_BYTES);
	}
	return 0;
}

static int check_certs(const ProtobufCBinaryData *c, size_t n,
		       const char *field, ht_err *err)
{
	if (n > RECORD_MAX_CERTS)
		return ht_err_set(err, HT_ELIMIT, field,
				  "%zu certificates, limit %d", n,
				  RECORD_MAX_CERTS);
	for (size_t i = 0; i < n; i++)
		if (c[i].len == 0 || c[i].len > RECORD_MAX_CERT)
			return ht_err_set(err, HT_ELIMIT, field,
					  "[%zu]: %zu bytes, limit %d", i,
					  c[i].len, RECORD_MAX_CERT);
	return 0;
}

static int check_version(uint32_t v, const char *field, ht_err *err)
{
	if (v != SYNC_VERSION)
		return ht_err_set(err, HT_EINVAL, field,
				  "version %u, this node speaks %d", v,
				  SYNC_VERSION);
	return 0;
}

static int check_hello(const sync_msg *m, ht_err *err)
{
	const Hutong__Hello *h = m->hello;
	int rc = check_version(h->version, "hello.version", err);
	if (rc == 0)
		rc = check_certs(h->certificates, h->n_certificates,
				 "hello.certificates", err);
	if (rc == 0)
		rc = check_frontier(h->frontier, h->n_frontier,
				    SYNC_MAX_FRONTIER, "hello.frontier", err);
	return rc;
}

static int check_welcome(const sync_msg *m, ht_err *err)
{
	const Hutong__Welcome *w = m->welcome;
	int rc = check_version(w->version, "welcome.version", err);
	if (rc == 0)
		rc = check_certs(w->certificates, w->n_certificates,
				 "welcome.certificates", err);
	if (rc == 0)
		rc = check_frontier(w->frontier, w->n_frontier,
				    SYNC_MAX_FRONTIER, "welcome.frontier", err);
	return rc;
}

static int check_records(const sync_msg *m, ht_err *err)
{
	size_t n = m->records->n_envelopes;
	if (n == 0)
		return ht_err_set(err, HT_EINVAL, "records", "no envelopes");
	if (n > SYNC_MAX_BATCH)
		return ht_err_set(err, HT_ELIMIT, "records",
				  "%zu envelopes, limit %d", n, SYNC_MAX_BATCH);
	return 0;
}

static int check_ack(const sync_msg *m, ht_err *err)
{
	if (m->ack->count > SYNC_WINDOW)
		return ht_err_set(err, HT_ELIMIT, "ack.count",
				  "%u, window is %d", m->ack->count,
				  SYNC_WINDOW);
	return check_frontier(m->ack->frontier, m->ack->n_frontier,
			      SYNC_MAX_BATCH, "ack.frontier", err);
}

static int check_want(const sync_msg *m, ht_err *err)
{
	if (!util_is_region_code(m->want->origin))
		return ht_err_set(err, HT_EINVAL, "want.origin",
				  "not a region code");
	if (m->want->from_seq == 0)
		return ht_err_set(err, HT_EINVAL, "want.from_seq",
				  "must be >= 1");
	return 0;
}

static int check_ping(const sync_msg *m, ht_err *err) { return 0; }

static int check_fetch(const sync_msg *m, ht_err *err)
{
	const Hutong__Fetch *f = m->fetch;
	if (f->n_ids == 0 || f->n_ids > SYNC_FETCH_MAX)
		return ht_err_set(err, HT_ELIMIT, "fetch.ids",
				  "%zu ids, must be 1 to %d", f->n_ids,
				  SYNC_FETCH_MAX);
	for (size_t i = 0; i < f->n_ids; i++)
		if (f->ids[i].len != RECORD_ID_BYTES)
			return ht_err_set(err, HT_EINVAL, "fetch.ids",
					  "[%zu]: must be %d bytes", i,
					  RECORD_ID_BYTES);
	return 0;
}

/* The oneof member, whichever it is (all are message pointers). */
static const ProtobufCMessage *msg_body(const sync_msg *m)
{
	switch (m->msg_case) {
	case HUTONG__SYNC_MESSAGE__MSG_HELLO:
		return &m->hello->base;
	case HUTONG__SYNC_MESSAGE__MSG_WELCOME:
		return &m->welcome->base;
	case HUTONG__SYNC_MESSAGE__MSG_RECORDS:
		return &m->records->base;
	case HUTONG__SYNC_MESSAGE__MSG_ACK:
		return &m->ack->base;
	case HUTONG__SYNC_MESSAGE__MSG_WANT:
		return &m->want->base;
	case HUTONG__SYNC_MESSAGE__MSG_PING:
		return &m->ping->base;
	case HUTONG__SYNC_MESSAGE__MSG_FETCH:
		return &m->fetch->base;
	default:
		return NULL;
	}
}

static const struct msg_kind {
	Hutong__SyncMessage__MsgCase c;
	const char *name;
	int (*check)(const sync_msg *m, ht_err *err);
} msg_kinds[] = {
    {HUTONG__SYNC_MESSAGE__MSG_HELLO, "hello", check_hello},
    {HUTONG__SYNC_MESSAGE__MSG_WELCOME, "welcome", check_welcome},
    {HUTONG__SYNC_MESSAGE__MSG_RECORDS, "records", check_records},
    {HUTONG__SYNC_MESSAGE__MSG_ACK, "ack", check_ack},
    {HUTONG__SYNC_MESSAGE__MSG_WANT, "want", check_want},
    {HUTONG__SYNC_MESSAGE__MSG_PING, "ping", check_ping},
    {HUTONG__SYNC_MESSAGE__MSG_FETCH, "fetch", check_fetch},
};

static const struct msg_kind *msg_kind_of(const sync_msg *m)
{
	for (size_t i = 0; i < sizeof(msg_kinds) / sizeof(msg_kinds[0]); i++)
		if (msg_kinds[i].c == m->msg_case)
			return &msg_kinds[i];
	return NULL;
}

/* Limits, decoding, unknown fields and the message's own checks. Returns
 * the message (caller frees) or NULL with *rc and err set. */
static sync_msg *frame_decode(const uint8_t *buf, size_t len, int *rc,
			      ht_err *err)
{
	*rc = HT_EINVAL;
	if (len > SYNC_MAX_FRAME) {
		*rc = ht_err_set(err, HT_ELIMIT, "frame", "%zu bytes, limit %d",
				 len, SYNC_MAX_FRAME);
		return NULL;
	}
	sync_msg *m = hutong__sync_message__unpack(NULL, len, buf);
	if (m == NULL) {
		ht_err_set(err, HT_EINVAL, "frame",
			   "not a SyncMessage (%zu bytes)", len);
		return NULL;
	}
	const struct msg_kind *k = msg_kind_of(m);
	const ProtobufCMessage *body = msg_body(m);
	if (k == NULL || body == NULL)
		ht_err_set(err, HT_EINVAL, "frame", "no message in the frame");
	else if (m->base.n_unknown_fields > 0 || body->n_unknown_fields > 0)
		ht_err_set(err, HT_EINVAL, k->name, "unknown field");
	else if ((*rc = k->check(m, err)) == 0)
		return m;
	hutong__sync_message__free_unpacked(m, NULL);
	return NULL;
}

static const char *msg_name(const sync_msg *m)
{
	const struct msg_kind *k = m ? msg_kind_of(m) : NULL;
	return k ? k->name : "frame";
}

/* Count, log once and return the code that tells the shell to drop. */
static int bad_frame(session *ss, int rc, const ht_err *err)
{
	char why[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	ss->stats.bad_frames++;
	log_warn(ss->ops.log, "bad frame peer=%s reason=%s", ss->peer,
		 LOG_Q(ht_err_str(err, why, sizeof(why))));
	return rc;
}

static int out_of_place(const sync_msg *m, const char *why, ht_err *err)
{
	return ht_err_set(err, HT_EINVAL, msg_name(m), "%s", why);
}

/* The peer's certificate chain against the link's authenticated peer. */
static int check_chain(session *ss, const ProtobufCBinaryData *c, size_t n,
		       ht_err *err)
{
	const uint8_t *der[RECORD_MAX_CERTS];
	size_t len[RECORD_MAX_CERTS];
	if (ss->ops.check_peer == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) { /* n <= RECORD_MAX_CERTS, checked */
		der[i] = c[i].data;
		len[i] = c[i].len;
	}
	int rc =
	    ss->ops.check_peer(ss->ops.check_ctx, ss->peer, der, len, n, err);
	return rc == 0 ? 0 : HT_ETRUST;
}

/* ---- sender: cursors ---- */

enum { S_IDLE, S_HELLO, S_OPEN };

typedef struct cursor {
	char origin[HT_REGION_LEN + 1];
	uint64_t known;	       /* the peer holds 1..known */
	uint64_t sent;	       /* sent this session up to here (>= known) */
	uint64_t rewind_known; /* known at the last rewind */
	int64_t rewind_at;     /* no rewind before this */
	int64_t backoff_ms;    /* 0: none yet */
	uint64_t stuck_seq;    /* known + 1 when last sent (refusal watch) */
	uint32_t stuck_sends;  /* times stuck_seq was sent */
	uint64_t refused_seq;  /* stuck_seq once reported as refused */
	int64_t want_at;       /* when a Want was last served */
	uint64_t want_upto;    /* what that Want resends: up to this seq */
	bool want_served;      /* want_at is set */
	uint64_t agreed;       /* our chain and the peer's agree up to here */
	bool fork_seen;	       /* a frontier fork was handled this session */
} cursor;

struct sync_sender {
	session ss;
	int state;
	cursor *cur; /* sorted by origin; only origins our ledger holds */
	size_t n_cur, cap_cur;
	size_t rr; /* origin that starts the next batch */
	uint32_t window;
	uint64_t total_sent, total_acked; /* records, this session */
	uint64_t ping_mark; /* total_sent when the last Ping went out */
	int64_t now, hello_at, ping_at, last_ack_ms;
	bool blocked;	  /* the channel refused Records; retry on tick */
	bool throttled;	  /* the send budget holds Records back */
	uint64_t idle_at; /* ledger_record_count when a pump found nothing */
	int64_t reset_at, reset_backoff; /* window resets without Acks */
	uint64_t acks_in;		 /* Acks since the last window reset */
	sync_receiver *rx; /* the paired receiver (same neighbour) */
	/* sync_sender_watch: one origin whose seq at the peer we report even
	 * when our ledger lacks it (a node catching up its own chain). */
	char watch[HT_REGION_LEN + 1];
	uint64_t watch_seq;
	bool welcomed; /* a Welcome came since sync_sender_new */
};

static void receiver_ask(sync_receiver *r, const char *origin, uint64_t seq);

#define NOT_IDLE UINT64_MAX

_Static_assert(offsetof(cursor, origin) == 0,
	       "util_region_pos needs the region first");

/* Index of origin's cursor, or ~(its place) when it has none. */
static long cursor_pos(const sync_sender *s, const char *origin)
{
	return util_region_pos(s->cur, s->n_cur, sizeof(*s->cur), origin);
}

/* The cursor of origin, created (at zero) if our ledger holds the origin.
 * NULL for an origin we do not hold, or when out of memory. Pointers are
 * valid until the next cursor_get or cursors_align. */
static cursor *cursor_get(sync_sender *s, const char *origin)
{
	long pos = cursor_pos(s, origin);
	if (pos >= 0)
		return &s->cur[pos];
	if (ledger_origin_find(s->ss.ops.ledger, origin) == NULL)
		return NULL;
	if (s->n_cur == s->cap_cur) {
		size_t cap = s->cap_cur ? 2 * s->cap_cur : 64;
		cursor *c = realloc(s->cur, cap * sizeof(*c));
		if (c == NULL)
			return NULL;
		s->cur = c;
		s->cap_cur = cap;
	}
	size_t at = (size_t)~pos;
	memmove(&s->cur[at + 1], &s->cur[at],
		(s->n_cur - at) * sizeof(*s->cur));
	s->n_cur++;
	memset(&s->cur[at], 0, sizeof(s->cur[at]));
	snprintf(s->cur[at].origin, sizeof(s->cur[at].origin), "%s", origin);
	return &s->cur[at];
}

/* Make cur[i] the cursor of ledger_origin_at(i) for every i, so the pump
 * walks both arrays by index. Cursors exist only for origins the ledger
 * has committed (they are made outside the node's transactions), and
 * committed origins never go away; both arrays are sorted by region. So
 * equal counts mean aligned, and otherwise one merge realigns. */
static int cursors_align(sync_sender *s)
{
	const ledger *l = s->ss.ops.ledger;
	size_t n = ledger_origin_count(l), j = 0;
	if (s->n_cur == n)
		return 0;
	cursor *c = calloc(n ? n : 1, sizeof(*c));
	if (c == NULL)
		return HT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *region = ledger_origin_at(l, i)->region;
		while (j < s->n_cur && strcmp(s->cur[j].origin, region) < 0)
			j++;
		if (j < s->n_cur && strcmp(s->cur[j].origin, region) == 0)
			c[i] = s->cur[j++];
		else
			memcpy(c[i].origin, region, sizeof(c[i].origin));
	}
	free(s->cur);
	s->cur = c;
	s->n_cur = s->cap_cur = n;
	return 0;
}

static uint64_t in_flight(const sync_sender *s)
{
	return s->total_sent - s->total_acked;
}

/* The peer holds origin up to seq: never send it those again. */
static void cursor_learn(sync_sender *s, const char *origin, uint64_t seq)
{
	cursor *c = cursor_get(s, origin);
	if (c == NULL)
		return;
	if (seq > c->known)
		c->known = seq;
	if (c->sent < c->known)
		c->sent = c->known;
}

/* How many cursors line up with the ledger's origins (all, after
 * cursors_align; the minimum keeps a broken invariant from reading past
 * the ledger's array). */
static size_t aligned(const sync_sender *s)
{
	size_t n = ledger_origin_count(s->ss.ops.ledger);
	return s->n_cur < n ? s->n_cur : n;
}

/* Records we hold that the peer is not known to hold. */
static void update_behind(sync_sender *s)
{
	const ledger *l = s->ss.ops.ledger;
	uint64_t behind = 0;
	for (size_t i = 0; i < aligned(s); i++) {
		uint64_t seq = ledger_origin_at(l, i)->seq;
		behind += seq > s->cur[i].known ? seq - s->cur[i].known : 0;
	}
	s->ss.stats.peer_behind = behind;
}

/* Resend from what the peer holds, unless the last rewind of this origin
 * made no progress and its back-off has not run out. */
static void cursor_rewind(sync_sender *s, cursor *c)
{
	if (c->sent <= c->known || s->now < c->rewind_at)
		return;
	if (c->backoff_ms == 0 || c->known > c->rewind_known)
		c->backoff_ms = SYNC_PING_MS;
	else if (c->backoff_ms < SYNC_REWIND_MAX_MS)
		c->backoff_ms = 2 * c->backoff_ms < SYNC_REWIND_MAX_MS
				    ? 2 * c->backoff_ms
				    : SYNC_REWIND_MAX_MS;
	c->rewind_known = c->known;
	c->rewind_at = s->now + c->backoff_ms;
	log_debug(s->ss.ops.log, "rewind peer=%s origin=%s from=%llu to=%llu",
		  s->ss.peer, c->origin, (unsigned long long)c->sent,
		  (unsigned long long)c->known);
	c->sent = c->known;
	s->ss.stats.rewinds++;
	s->idle_at = NOT_IDLE;
}

/* ---- sender: records the peer refuses ---- */

/* Count, remember and log once that the peer refuses origin/seq. */
static void report_refused(sync_sender *s, cursor *c)
{
	sync_stats *st = &s->ss.stats;
	record *r = NULL;
	ht_err err = {0};
	char hex[2 * RECORD_ID_BYTES + 1] = "-";
	c->refused_seq = c->stuck_seq;
	st->refused_by_peer++;
	memcpy(st->last_refused_origin, c->origin,
	       sizeof(st->last_refused_origin));
	st->last_refused_seq = c->stuck_seq;
	memset(st->last_refused_id, 0, sizeof(st->last_refused_id));
	if (ledger_get_seq(s->ss.ops.ledger, c->origin, c->stuck_seq, &r, NULL,
			   &err) == 0) {
		memcpy(st->last_refused_id, record_id(r), RECORD_ID_BYTES);
		util_hex(record_id(r), RECORD_ID_BYTES, hex);
	}
	record_free(&r);
	log_warn(s->ss.ops.log,
		 "peer refuses record peer=%s origin=%s seq=%llu id=%s "
		 "sends=%u",
		 s->ss.peer, c->origin, (unsigned long long)c->stuck_seq, hex,
		 c->stuck_sends);
}

/* A batch went out starting at c->known + 1, the first record the peer
 * lacks. The peer's Acks and Welcomes move c->known past a record it
 * takes; one sent SYNC_REFUSE_SENDS times with c->known still below it is
 * refused there, and without this the origin would never learn that its
 * chain stopped spreading. */
static void refusal_watch(sync_sender *s, cursor *c)
{
	uint64_t seq = c->known + 1;
	if (c->stuck_seq != seq) {
		c->stuck_seq = seq;
		c->stuck_sends = 0;
	}
	if (c->stuck_sends < UINT32_MAX)
		c->stuck_sends++;
	if (c->stuck_sends >= SYNC_REFUSE_SENDS && c->refused_seq != seq)
		report_refused(s, c);
}

/* ---- sender: batches ---- */

typedef struct batch {
	ProtobufCBinaryData env[SYNC_MAX_BATCH];
	size_t n, bytes, room;
	struct {
		char origin[HT_REGION_LEN + 1];
		uint64_t upto;
	} mark[SYNC_MAX_BATCH]; /* where each origin's cursor goes on send */
	size_t n_mark;
	bool full; /* SYNC_MAX_BATCH_BYTES reached */
	bool nomem;
} batch;

static void batch_free(batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->env[i].data);
	b->n = 0;
}

/* ledger_range callback: copy one envelope while the batch has room. */
static int batch_add(void *ctx, const uint8_t *env, size_t len, uint64_t seq)
{
	batch *b = ctx;
	if (b->n >= b->room)
		return 1;
	if (b->n > 0 && b->bytes + len > SYNC_MAX_BATCH_BYTES) {
		b->full = true;
		return 1;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (copy == NULL) {
		b->nomem = true;
		return 1;
	}
	memcpy(copy, env, len);
	b->env[b->n].data = copy;
	b->env[b->n].len = len;
	b->n++;
	b->bytes += len;
	b->mark[b->n_mark - 1].upto = seq;
	return 0;
}

/* Take the next records of origin o (cursor c) into b. */
static int batch_origin(sync_sender *s, batch *b, const ledger_origin *o,
			const cursor *c)
{
	if (o->seq <= c->sent)
		return 0;
	size_t at = b->n_mark++;
	memcpy(b->mark[at].origin, o->region, sizeof(b->mark[at].origin));
	b->mark[at].upto = c->sent;
	ht_err err = {0};
	int rc = ledger_range(s->ss.ops.ledger, o->region, c->sent + 1,
			      b->room - b->n, SYNC_MAX_BATCH_BYTES, batch_add,
			      b, &err);
	if (rc < 0)
		log_warn(s->ss.ops.log,
			 "read failed peer=%s origin=%s error=%s", s->ss.peer,
			 o->region, LOG_Q(err.msg));
	if (b->mark[at].upto == c->sent)
		b->n_mark--;
	return rc < 0 ? rc : b->nomem ? HT_ENOMEM : 0;
}

/* The next batch: origins round-robin from s->rr, each oldest first. */
static int batch_fill(sync_sender *s, batch *b)
{
	const ledger *l = s->ss.ops.ledger;
	size_t n = aligned(s);
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < n && b->n < b->room && !b->full;
	     k++) {
		size_t i = (s->rr + k) % n;
		rc = batch_origin(s, b, ledger_origin_at(l, i), &s->cur[i]);
	}
	s->rr = n ? (s->rr + 1) % n : 0;
	return rc;
}

static int batch_send(sync_sender *s, batch *b)
{
	Hutong__Records rec = HUTONG__RECORDS__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	rec.envelopes = b->env;
	rec.n_envelopes = b->n;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_RECORDS;
	m.records = &rec;
	int rc = send_msg(&s->ss, &m);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < b->n_mark; i++) {
		long pos = cursor_pos(s, b->mark[i].origin);
		if (pos >= 0 && s->cur[pos].sent == s->cur[pos].known)
			refusal_watch(s, &s->cur[pos]);
		if (pos >= 0 && b->mark[i].upto > s->cur[pos].sent)
			s->cur[pos].sent = b->mark[i].upto;
	}
	s->total_sent += b->n;
	s->ss.stats.sent += b->n;
	return 0;
}

/* One batch out if there is anything to send. 1 sent, 0 nothing, <0 error
 * or the channel is full. */
static int pump_one(sync_sender *s)
{
	batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return HT_ENOMEM;
	uint64_t room = s->window - in_flight(s);
	b->room = room < SYNC_MAX_BATCH ? (size_t)room : SYNC_MAX_BATCH;
	int rc = batch_fill(s, b);
	if (rc == 0 && b->n > 0) {
		rc = batch_send(s, b);
		rc = rc == 0 ? 1 : rc;
	}
	batch_free(b);
	free(b);
	return rc;
}

void sync_sender_pump(sync_sender *s)
{
	if (s == NULL || s->state != S_OPEN)
		return;
	uint64_t count = ledger_record_count(s->ss.ops.ledger);
	if (s->idle_at == count && !s->blocked)
		return;
	if (cursors_align(s) != 0)
		return;
	int rc = 1;
	bool was = s->throttled;
	s->throttled = false;
	while (rc == 1 && in_flight(s) < s->window) {
		if (!budget_ok(&s->ss, s->now)) {
			s->throttled = true;
			if (!was)
				budget_held(&s->ss, "records");
			break;
		}
		rc = pump_one(s);
	}
	s->blocked = rc == HT_EUNAVAIL;
	s->idle_at = rc == 0 ? count : NOT_IDLE;
	update_behind(s);
}

/* ---- sender: messages out ---- */

static int send_hello(sync_sender *s)
{
	Hutong__Hello h = HUTONG__HELLO__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	ProtobufCBinaryData certs[RECORD_MAX_CERTS];
	wire_frontier f;
	int rc = wire_frontier_all(&f, s->ss.ops.ledger);
	size_t nc = s->ss.ops.n_certs < RECORD_MAX_CERTS ? s->ss.ops.n_certs
							 : RECORD_MAX_CERTS;
	for (size_t i = 0; i < nc; i++)
		certs[i] = (ProtobufCBinaryData){s->ss.ops.cert_lens[i],
						 (uint8_t *)s->ss.ops.certs[i]};
	h.version = SYNC_VERSION;
	h.certificates = certs;
	h.n_certificates = nc;
	h.frontier = f.p;
	h.n_frontier = f.n;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_HELLO;
	m.hello = &h;
	if (rc == 0)
		rc = send_msg(&s->ss, &m);
	wire_frontier_free(&f);
	s->hello_at = s->now + (rc == 0 ? SYNC_HELLO_MS : SYNC_RETRY_MS);
	return rc;
}

static void send_ping(sync_sender *s)
{
	Hutong__Ping p = HUTONG__PING__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_PING;
	m.ping = &p;
	if (send_msg(&s->ss, &m) == 0) {
		s->ping_mark = s->total_sent;
		s->ping_at = s->now + SYNC_PING_MS;
	} else {
		s->ping_at = s->now + SYNC_RETRY_MS;
	}
}

/* ---- sender: messages in ---- */

static void learn_frontier(sync_sender *s, Hutong__FrontierEntry *const *e,
			   size_t n)
{
	for (size_t i = 0; i < n; i++)
		cursor_learn(s, e[i]->origin, e[i]->seq);
}

/* A fork at origin/seq: resend our record at seq (the peer keeps it as
 * evidence), once per origin per session. */
static void sender_fork_at(sync_sender *s, const char *origin, uint64_t seq)
{
	cursor *c = cursor_get(s, origin);
	if (c == NULL || c->fork_seen)
		return;
	c->fork_seen = true;
	if (c->known >= seq)
		c->known = seq - 1;
	if (c->sent >= seq)
		c->sent = seq - 1;
	s->idle_at = NOT_IDLE;
}

/* Compare the peer's heads (Welcome, Ack) with our chains: another record
 * at a seq we hold is fork evidence; we send ours and, through the paired
 * receiver, ask for theirs. */
static void check_heads(sync_sender *s, Hutong__FrontierEntry *const *e,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cursor *c = cursor_get(s, e[i]->origin);
		bool agree;
		if (c == NULL || c->fork_seen || e[i]->seq <= c->agreed)
			continue;
		if (!frontier_conflict(s->ss.ops.ledger, e[i], &agree)) {
			if (agree)
				c->agreed = e[i]->seq;
			continue;
		}
		frontier_fork(&s->ss, e[i]->origin, e[i]->seq, "sender");
		sender_fork_at(s, e[i]->origin, e[i]->seq);
		if (s->rx != NULL)
			receiver_ask(s->rx, e[i]->origin, e[i]->seq);
	}
}

/* The first Welcome of a session: the peer's frontier is the truth. */
static int open_session(sync_sender *s, const Hutong__Welcome *w, ht_err *err)
{
	if (check_chain(&s->ss, w->certificates, w->n_certificates, err) != 0)
		return HT_ETRUST;
	for (size_t i = 0; i < s->n_cur; i++) {
		cursor *c = &s->cur[i];
		c->known = c->sent = c->rewind_known = 0;
		c->rewind_at = c->backoff_ms = 0;
		c->agreed = 0;
		c->fork_seen = false;
	}
	s->state = S_OPEN;
	s->ss.stats.connected = true;
	s->ping_at = s->now + SYNC_PING_MS;
	s->last_ack_ms = s->now;
	log_info(s->ss.ops.log, "sync open peer=%s role=sender window=%u",
		 s->ss.peer, w->window);
	return 0;
}

/* A later Welcome (the answer to a Ping): reconcile. Acks that should
 * have come before it and did not are given up, so the window reopens;
 * with nothing in flight, any origin the peer still lacks is resent. */
static void reconcile(sync_sender *s)
{
	bool stalled = s->total_acked < s->ping_mark &&
		       s->now - s->last_ack_ms >= SYNC_PING_MS &&
		       s->now >= s->reset_at;
	if (stalled) {
		/* a peer that never acks gets one window per back-off */
		if (s->acks_in > 0 || s->reset_backoff == 0)
			s->reset_backoff = SYNC_PING_MS;
		else
			s->reset_backoff =
			    2 * s->reset_backoff < SYNC_REWIND_MAX_MS
				? 2 * s->reset_backoff
				: SYNC_REWIND_MAX_MS;
		s->reset_at = s->now + s->reset_backoff;
		s->acks_in = 0;
		log_info(s->ss.ops.log, "acks missing peer=%s in_flight=%llu",
			 s->ss.peer, (unsigned long long)in_flight(s));
		s->total_acked = s->total_sent;
		s->idle_at = NOT_IDLE;
	}
	if (in_flight(s) > 0)
		return;
	for (size_t i = 0; i < s->n_cur; i++)
		cursor_rewind(s, &s->cur[i]);
}

/* The watched origin's seq in a frontier the peer sent. */
static void watch_frontier(sync_sender *s, Hutong__FrontierEntry *const *e,
			   size_t n)
{
	for (size_t i = 0; s->watch[0] != '\0' && i < n; i++)
		if (strcmp(e[i]->origin, s->watch) == 0 &&
		    e[i]->seq > s->watch_seq)
			s->watch_seq = e[i]->seq;
}

static int on_welcome(sync_sender *s, const sync_msg *m, ht_err *err)
{
	const Hutong__Welcome *w = m->welcome;
	if (s->state == S_HELLO && open_session(s, w, err) != 0)
		return HT_ETRUST;
	watch_frontier(s, w->frontier, w->n_frontier);
	s->welcomed = true;
	uint32_t win = w->window ? w->window : 1;
	s->window = win < SYNC_WINDOW ? win : SYNC_WINDOW;
	learn_frontier(s, w->frontier, w->n_frontier);
	check_heads(s, w->frontier, w->n_frontier);
	reconcile(s);
	s->idle_at = NOT_IDLE;
	return 0;
}

static int on_ack(sync_sender *s, const sync_msg *m, ht_err *err)
{
	const Hutong__Ack *a = m->ack;
	if (s->state != S_OPEN)
		return out_of_place(m, "before welcome", err);
	s->total_acked += a->count;
	if (s->total_acked > s->total_sent) /* duplicated Ack */
		s->total_acked = s->total_sent;
	s->last_ack_ms = s->now;
	s->acks_in++;
	learn_frontier(s, a->frontier, a->n_frontier);
	check_heads(s, a->frontier, a->n_frontier);
	s->idle_at = NOT_IDLE;
	return 0;
}

/* Send env[0..n) (taken over) in one Records message, in flight like any
 * others (the Ack returns them). */
static void send_envs(sync_sender *s, ProtobufCBinaryData *env, size_t n)
{
	Hutong__Records rec = HUTONG__RECORDS__INIT;
	sync_msg out = HUTONG__SYNC_MESSAGE__INIT;
	rec.envelopes = env;
	rec.n_envelopes = n;
	out.msg_case = HUTONG__SYNC_MESSAGE__MSG_RECORDS;
	out.records = &rec;
	if (n > 0 && send_msg(&s->ss, &out) == 0) {
		s->total_sent += n;
		s->ss.stats.sent += n;
	}
	for (size_t i = 0; i < n; i++)
		free(env[i].data);
}

/* A Want at a seq the peer told us it holds (its Welcome or Acks): an
 * honest receiver asks so only for the one record there, as fork evidence
 * (a head that differs from its own), so that one record is what it gets,
 * not the chain from there on again. That bounds what a Want of 12 bytes
 * can make us send to one envelope, Acks or not. */
static void want_held(sync_sender *s, const cursor *c, uint64_t seq)
{
	ProtobufCBinaryData env[1];
	size_t n = 0;
	record *r = NULL;
	size_t len;
	uint64_t k = ++s->ss.stats.wants_limited;
	if (util_log_due(k))
		log_warn(s->ss.ops.log,
			 "want limited peer=%s origin=%s from=%llu known=%llu "
			 "count=%llu reason=\"the peer holds it: one record "
			 "sent\"",
			 s->ss.peer, c->origin, (unsigned long long)seq,
			 (unsigned long long)c->known, (unsigned long long)k);
	if (in_flight(s) >= s->window ||
	    ledger_get_seq(s->ss.ops.ledger, c->origin, seq, &r, NULL, NULL) !=
		0)
		return;
	const uint8_t *b = record_bytes(r, &len);
	if ((env[0].data = malloc(len)) != NULL) {
		memcpy(env[0].data, b, len);
		env[0].len = len;
		n = 1;
	}
	record_free(&r);
	send_envs(s, env, n);
}

/* A Want for records the last Want of this origin is still resending,
 * sooner than SYNC_WANT_SERVE_MS: counted, logged and not served. */
static bool want_limited(sync_sender *s, const cursor *c, uint64_t from)
{
	if (!c->want_served || s->now - c->want_at >= SYNC_WANT_SERVE_MS ||
	    from > c->want_upto)
		return false;
	uint64_t n = ++s->ss.stats.wants_limited;
	if (util_log_due(n))
		log_warn(s->ss.ops.log,
			 "want limited peer=%s origin=%s from=%llu count=%llu: "
			 "asked again for records already being resent",
			 s->ss.peer, c->origin, (unsigned long long)from,
			 (unsigned long long)n);
	return true;
}

static int on_want(sync_sender *s, const sync_msg *m, ht_err *err)
{
	const Hutong__Want *w = m->want;
	if (s->state != S_OPEN)
		return out_of_place(m, "before welcome", err);
	cursor *c = cursor_get(s, w->origin);
	s->ss.stats.gaps++;
	if (c == NULL || want_limited(s, c, w->from_seq))
		return 0;
	if (w->from_seq >= 1 && w->from_seq <= c->known) {
		/* at most one such record per origin per SYNC_WANT_SERVE_MS */
		c->want_served = true;
		c->want_at = s->now;
		c->want_upto = c->known;
		want_held(s, c, w->from_seq);
		return 0;
	}
	const ledger_origin *o =
	    ledger_origin_find(s->ss.ops.ledger, c->origin);
	c->want_served = true;
	c->want_at = s->now;
	c->want_upto = o ? o->seq : 0;
	uint64_t has = w->from_seq - 1;
	log_debug(s->ss.ops.log, "want peer=%s origin=%s from=%llu", s->ss.peer,
		  w->origin, (unsigned long long)w->from_seq);
	if (c->known > has)
		c->known = has;
	if (c->sent > has)
		c->sent = has;
	s->idle_at = NOT_IDLE;
	return 0;
}

/* The envelope of id as held, into env[*n], when it is a chain record
 * with its body (the buffer is the caller's to free). */
static void fetch_one(sync_sender *s, const ProtobufCBinaryData *id,
		      ProtobufCBinaryData *env, size_t *n)
{
	record *r = NULL;
	ledger_meta m;
	size_t len;
	if (ledger_get(s->ss.ops.ledger, id->data, &r, &m, NULL) != 0)
		return;
	const uint8_t *b = record_bytes(r, &len);
	if (!m.fork && record_body(r) != NULL &&
	    (env[*n].data = malloc(len)) != NULL) {
		memcpy(env[*n].data, b, len);
		env[*n].len = len;
		(*n)++;
	}
	record_free(&r);
}

/* A Fetch: the full envelopes of the ids asked for that we hold with
 * their body, in one Records message within the credit window (they are
 * in flight like any others, and the Ack returns them). */
static int on_fetch(sync_sender *s, const sync_msg *m, ht_err *err)
{
	const Hutong__Fetch *f = m->fetch;
	ProtobufCBinaryData env[SYNC_FETCH_MAX];
	size_t n = 0;
	(void)err;
	if (s->state != S_OPEN) /* it crossed our Hello: asked again later */
		return 0;
	uint64_t room = s->window - in_flight(s);
	for (size_t i = 0; i < f->n_ids && n < room; i++)
		fetch_one(s, &f->ids[i], env, &n);
	log_debug(s->ss.ops.log, "fetch peer=%s asked=%zu sent=%zu", s->ss.peer,
		  f->n_ids, n);
	send_envs(s, env, n);
	return 0;
}

typedef int (*sender_fn)(sync_sender *s, const sync_msg *m, ht_err *err);

static const struct {
	Hutong__SyncMessage__MsgCase c;
	sender_fn fn;
} sender_handlers[] = {
    {HUTONG__SYNC_MESSAGE__MSG_WELCOME, on_welcome},
    {HUTONG__SYNC_MESSAGE__MSG_ACK, on_ack},
    {HUTONG__SYNC_MESSAGE__MSG_WANT, on_want},
    {HUTONG__SYNC_MESSAGE__MSG_FETCH, on_fetch},
};

static int sender_dispatch(sync_sender *s, const sync_msg *m, ht_err *err)
{
	if (s->state == S_IDLE)
		return out_of_place(m, "no session (not connected)", err);
	for (size_t i = 0;
	     i < sizeof(sender_handlers) / sizeof(sender_handlers[0]); i++)
		if (sender_handlers[i].c == m->msg_case)
			return sender_handlers[i].fn(s, m, err);
	return out_of_place(m, "not expected from a receiver", err);
}

/* ---- sender: public ---- */

sync_sender *sync_sender_new(const sync_node_ops *ops, const char *peer,
			     sync_send_fn send, void *send_ctx)
{
	sync_sender *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	session_init(&s->ss, ops, peer, send, send_ctx);
	s->state = S_IDLE;
	s->idle_at = NOT_IDLE;
	return s;
}

static void sender_unpair(sync_sender *s);

void sync_sender_free(sync_sender **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	sender_unpair(*sp); /* whichever of the two sessions goes first */
	free((*sp)->cur);
	free(*sp);
	*sp = NULL;
}

void sync_sender_on_connect(sync_sender *s, int64_t now_ms)
{
	s->now = now_ms;
	s->state = S_HELLO;
	s->total_sent = s->total_acked = s->ping_mark = 0;
	s->window = 0;
	s->blocked = s->throttled = false;
	s->reset_at = s->reset_backoff = 0;
	s->acks_in = 0;
	s->idle_at = NOT_IDLE;
	s->ss.stats.connected = false;
	send_hello(s);
}

void sync_sender_on_disconnect(sync_sender *s)
{
	s->state = S_IDLE;
	s->total_sent = s->total_acked = s->ping_mark = 0;
	s->blocked = false;
	s->ss.stats.connected = false;
}

int sync_sender_on_frame(sync_sender *s, const uint8_t *buf, size_t len,
			 int64_t now_ms)
{
	ht_err err = {0};
	int rc;
	s->now = now_ms;
	s->ss.stats.bytes_received += len;
	s->ss.stats.frames_received++;
	sync_msg *m = frame_decode(buf, len, &rc, &err);
	if (m == NULL)
		return bad_frame(&s->ss, rc, &err);
	rc = sender_dispatch(s, m, &err);
	hutong__sync_message__free_unpacked(m, NULL);
	if (rc != 0)
		return bad_frame(&s->ss, rc, &err);
	s->ss.stats.last_seen_ms = now_ms;
	sync_sender_pump(s);
	return 0;
}

void sync_sender_tick(sync_sender *s, int64_t now_ms)
{
	s->now = now_ms;
	if (s->state == S_HELLO && now_ms >= s->hello_at)
		send_hello(s);
	if (s->state != S_OPEN)
		return;
	if (now_ms >= s->ping_at)
		send_ping(s);
	sync_sender_pump(s);
}

int64_t sync_sender_next_ms(const sync_sender *s, int64_t now_ms)
{
	int64_t at;
	if (s->state == S_IDLE)
		return -1;
	if (s->state == S_HELLO)
		at = s->hello_at;
	else if (s->blocked && now_ms + SYNC_RETRY_MS < s->ping_at)
		at = now_ms + SYNC_RETRY_MS;
	else if (s->throttled && now_ms + budget_wait_ms(&s->ss) < s->ping_at)
		at = now_ms + budget_wait_ms(&s->ss);
	else
		at = s->ping_at;
	return at > now_ms ? at - now_ms : 0;
}

const sync_stats *sync_sender_stats(const sync_sender *s)
{
	return &s->ss.stats;
}

void sync_sender_watch(sync_sender *s, const char *origin)
{
	snprintf(s->watch, sizeof(s->watch), "%s", origin);
}

bool sync_sender_watched(const sync_sender *s, uint64_t *seq)
{
	*seq = s->watch_seq;
	return s->welcomed;
}

void sync_sender_peer_holds(sync_sender *s, const char *origin, uint64_t seq)
{
	if (s != NULL && util_is_region_code(origin))
		cursor_learn(s, origin, seq);
}

/* ---- receiver: the gap buffer ---- */

typedef struct gap_rec {
	uint64_t seq;
	uint8_t *env;
	size_t len;
} gap_rec;

/* Records of one origin waiting for the gap before them. */
typedef struct gap_origin {
	char origin[HT_REGION_LEN + 1];
	gap_rec *recs; /* sorted by seq, at most SYNC_GAP_PER_ORIGIN */
	size_t n;
	bool want;   /* a Want is due */
	bool wanted; /* want_at is set */
	int64_t want_at;
} gap_origin;

/* An id this receiver asked its sender for, and when (sync_receiver_fetch). */
typedef struct fetch_memo {
	uint8_t id[RECORD_ID_BYTES];
	int64_t at_ms;
	bool used;
} fetch_memo;

struct sync_receiver {
	session ss;
	bool hello;	  /* Hello accepted this session */
	gap_origin *gaps; /* unsorted; at most SYNC_GAP_TOTAL */
	size_t n_gaps, cap_gaps;
	size_t gap_total, gap_bytes;
	uint32_t unacked; /* processed records whose Ack could not be sent */
	int64_t now;
	size_t stored; /* newly stored during the current frame */
	sync_sender *pair;
	fetch_memo fetched[SYNC_FETCH_MEMO]; /* ids asked for lately */
	size_t fetch_next;
	bool welcomed;	    /* welcome_at is set */
	int64_t welcome_at; /* when the last full frontier went out */
	char asked[SYNC_FORK_ASKS][HT_REGION_LEN + 1]; /* fork fetches */
	size_t n_asked;				       /* this session */
};

static uint64_t head_of(const sync_receiver *r, const char *origin)
{
	const ledger_origin *o = ledger_origin_find(r->ss.ops.ledger, origin);
	return o ? o->seq : 0;
}

static gap_origin *gap_find(sync_receiver *r, const char *origin, bool create)
{
	for (size_t i = 0; i < r->n_gaps; i++)
		if (strcmp(r->gaps[i].origin, origin) == 0)
			return &r->gaps[i];
	if (!create || r->n_gaps >= SYNC_GAP_TOTAL)
		return NULL;
	if (r->n_gaps == r->cap_gaps) {
		size_t cap = r->cap_gaps ? 2 * r->cap_gaps : 16;
		gap_origin *g = realloc(r->gaps, cap * sizeof(*g));
		if (g == NULL)
			return NULL;
		r->gaps = g;
		r->cap_gaps = cap;
	}
	gap_origin *g = &r->gaps[r->n_gaps++];
	memset(g, 0, sizeof(*g));
	memcpy(g->origin, origin, sizeof(g->origin));
	return g;
}

/* A record ahead of a gap that the bounded buffer cannot keep. */
static void gap_drop(sync_receiver *r, const char *origin)
{
	uint64_t n = ++r->ss.stats.dropped;
	if (util_log_due(n))
		log_warn(r->ss.ops.log,
			 "gap buffer full peer=%s origin=%s dropped=%llu: "
			 "records ahead of a gap beyond the bound are asked "
			 "for again later",
			 r->ss.peer, origin, (unsigned long long)n);
}

/* Remove recs[i] from g (freeing it), keeping the buffer's totals. */
static void gap_remove(sync_receiver *r, gap_origin *g, size_t i)
{
	r->gap_total--;
	r->gap_bytes -= g->recs[i].len;
	free(g->recs[i].env);
	memmove(&g->recs[i], &g->recs[i + 1],
		(g->n - i - 1) * sizeof(*g->recs));
	g->n--;
}

/* Where a record goes in g: after those of lower or equal seq. *dup when
 * the same bytes are already there. Different bytes at the same seq are
 * both kept (one may be forged; the node tells them apart when they are
 * fed), so a forgery that arrives first cannot push out the real one. */
static size_t gap_slot(const gap_origin *g, uint64_t seq, const uint8_t *env,
		       size_t len, bool *dup)
{
	size_t i = 0;
	*dup = false;
	while (i < g->n && g->recs[i].seq < seq)
		i++;
	for (; i < g->n && g->recs[i].seq == seq; i++)
		if (g->recs[i].len == len &&
		    memcmp(g->recs[i].env, env, len) == 0)
			*dup = true;
	return i;
}

static int gap_insert(sync_receiver *r, gap_origin *g, size_t at, uint64_t seq,
		      const uint8_t *env, size_t len)
{
	if (r->gap_total >= SYNC_GAP_TOTAL ||
	    r->gap_bytes + len > SYNC_GAP_BYTES)
		return HT_ELIMIT;
	gap_rec *recs = realloc(g->recs, (g->n + 1) * sizeof(*g->recs));
	if (recs == NULL)
		return HT_ENOMEM;
	g->recs = recs;
	uint8_t *copy = malloc(len ? len : 1);
	if (copy == NULL)
		return HT_ENOMEM;
	memcpy(copy, env, len);
	memmove(&g->recs[at + 1], &g->recs[at], (g->n - at) * sizeof(*g->recs));
	g->recs[at] = (gap_rec){seq, copy, len};
	g->n++;
	r->gap_total++;
	r->gap_bytes += len;
	return 0;
}

/* Keep a copy of a record ahead of a gap and ask for the gap. When the
 * origin's buffer is full the highest seq gives way to a lower one (that
 * is needed sooner); beyond any bound the record is dropped and counted:
 * Want and anti-entropy bring it again. */
static void gap_add(sync_receiver *r, const char *origin, uint64_t seq,
		    const uint8_t *env, size_t len)
{
	gap_origin *g = gap_find(r, origin, true);
	bool dup;
	if (g == NULL) {
		gap_drop(r, origin);
		return;
	}
	g->want = true;
	size_t at = gap_slot(g, seq, env, len, &dup);
	if (dup)
		return;
	if (g->n >= SYNC_GAP_PER_ORIGIN) {
		gap_drop(r, origin);
		if (at == g->n)
			return;
		gap_remove(r, g, g->n - 1);
	}
	if (gap_insert(r, g, at, seq, env, len) != 0)
		gap_drop(r, origin);
}

/* ---- receiver: storing ---- */

/* Origins a batch touched, for the Ack's frontier. */
typedef struct touched {
	char origin[SYNC_MAX_BATCH][HT_REGION_LEN + 1];
	size_t n;
} touched;

static void touched_add(touched *t, const char *origin)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->origin[i], origin) == 0)
			return;
	if (t->n < SYNC_MAX_BATCH)
		memcpy(t->origin[t->n++], origin, HT_REGION_LEN + 1);
}

static void tally(sync_receiver *r, sync_result res)
{
	sync_stats *st = &r->ss.stats;
	switch (res) {
	case SYNC_STORED:
		st->stored++;
		r->stored++;
		break;
	case SYNC_DUPLICATE:
		/* normal in small numbers (a record reaches us by two
		 * paths); a peer replaying shows as a growing count */
		if (util_log_due(++st->duplicates) && st->duplicates >= 256)
			log_info(r->ss.ops.log,
				 "duplicates peer=%s count=%llu: records "
				 "already held, ignored",
				 r->ss.peer,
				 (unsigned long long)st->duplicates);
		break;
	case SYNC_FORK:
		st->forks++;
		break;
	case SYNC_REFUSED:
		st->refused++;
		break;
	case SYNC_GAP:
		break;
	}
}

static int store(sync_receiver *r, const uint8_t *const *env, const size_t *len,
		 size_t n, sync_verdict *res)
{
	int rc = r->ss.ops.store(r->ss.ops.ctx, r->ss.peer, env, len, n, res);
	if (rc != 0)
		log_warn(r->ss.ops.log,
			 "store failed peer=%s count=%zu error=%s; not "
			 "acknowledged, the peer resends",
			 r->ss.peer, n, LOG_Q(ht_strerror(rc)));
	return rc;
}

/* Feed g's records that now extend the origin's head (a contiguous run
 * from head+1; lower ones too, as duplicates or fork evidence). Returns 1
 * when some were taken, 0 when none, <0 on a storage error. */
static int gap_feed(sync_receiver *r, gap_origin *g, touched *t)
{
	uint64_t expect = head_of(r, g->origin) + 1;
	const uint8_t *env[SYNC_MAX_BATCH];
	size_t len[SYNC_MAX_BATCH], k = 0;
	sync_verdict res[SYNC_MAX_BATCH];
	for (; k < g->n && k < SYNC_MAX_BATCH && g->recs[k].seq <= expect;
	     k++) {
		env[k] = g->recs[k].env;
		len[k] = g->recs[k].len;
		if (g->recs[k].seq == expect)
			expect++;
	}
	if (k == 0)
		return 0;
	int rc = store(r, env, len, k, res);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < k; i++) {
		tally(r, res[i].result);
		if (res[i].result == SYNC_GAP) { /* still a gap: ask again */
			gap_drop(r, g->origin);
			g->want = true;
		}
	}
	while (k-- > 0)
		gap_remove(r, g, 0);
	touched_add(t, g->origin);
	return 1;
}

/* Retry every buffered origin whose head has reached its records; forget
 * origins with nothing buffered and no Want due. */
static void gap_retry(sync_receiver *r, touched *t)
{
	for (size_t i = 0; i < r->n_gaps;) {
		gap_origin *g = &r->gaps[i];
		int rc;
		while ((rc = gap_feed(r, g, t)) == 1)
			;
		if (rc < 0)
			return;
		if (g->n == 0 && !g->want) {
			free(g->recs);
			r->gaps[i] = r->gaps[--r->n_gaps];
			continue;
		}
		i++;
	}
	r->ss.stats.buffered = r->gap_total;
}

/* ---- receiver: messages out ---- */

static void send_ack(sync_receiver *r, size_t count, const touched *t)
{
	Hutong__Ack a = HUTONG__ACK__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	wire_frontier f;
	uint64_t total = (uint64_t)r->unacked + count;
	if (wire_frontier_init(&f, t->n) != 0)
		goto out;
	for (size_t i = 0; i < t->n; i++) {
		const ledger_origin *o =
		    ledger_origin_find(r->ss.ops.ledger, t->origin[i]);
		if (o != NULL)
			wire_frontier_add(&f, o);
	}
	a.count = (uint32_t)(total < SYNC_WINDOW ? total : SYNC_WINDOW);
	a.frontier = f.p;
	a.n_frontier = f.n;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_ACK;
	m.ack = &a;
	if (send_msg(&r->ss, &m) == 0)
		total = 0;
out:
	wire_frontier_free(&f);
	r->unacked = (uint32_t)(total < SYNC_WINDOW ? total : SYNC_WINDOW);
}

static void send_want(sync_receiver *r, gap_origin *g)
{
	Hutong__Want w = HUTONG__WANT__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	w.origin = g->origin;
	w.from_seq = head_of(r, g->origin) + 1;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_WANT;
	m.want = &w;
	if (send_msg(&r->ss, &m) != 0)
		return;
	log_msg(r->ss.ops.log, g->wanted ? LOG_DEBUG : LOG_INFO,
		"gap peer=%s origin=%s seq=%llu reason=\"records ahead "
		"of this seq wait; asked for them (want)\"",
		r->ss.peer, g->origin, (unsigned long long)w.from_seq);
	r->ss.stats.gaps++;
	g->want = false;
	g->wanted = true;
	g->want_at = r->now;
}

/* Wants that are due and not rate-limited. With `again`, origins that
 * still wait for their gap ask once more (the Want may have been lost). */
static void send_wants(sync_receiver *r, bool again)
{
	for (size_t i = 0; i < r->n_gaps; i++) {
		gap_origin *g = &r->gaps[i];
		if (again && g->n > 0)
			g->want = true;
		if (g->want &&
		    (!g->wanted || r->now - g->want_at >= SYNC_WANT_MS))
			send_want(r, g);
	}
}

static int send_welcome(sync_receiver *r, bool certs)
{
	Hutong__Welcome w = HUTONG__WELCOME__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	ProtobufCBinaryData c[RECORD_MAX_CERTS];
	wire_frontier f;
	int rc = wire_frontier_all(&f, r->ss.ops.ledger);
	size_t nc = certs ? r->ss.ops.n_certs : 0;
	nc = nc < RECORD_MAX_CERTS ? nc : RECORD_MAX_CERTS;
	for (size_t i = 0; i < nc; i++)
		c[i] = (ProtobufCBinaryData){r->ss.ops.cert_lens[i],
					     (uint8_t *)r->ss.ops.certs[i]};
	w.version = SYNC_VERSION;
	w.certificates = c;
	w.n_certificates = nc;
	w.frontier = f.p;
	w.n_frontier = f.n;
	w.window = SYNC_WINDOW;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_WELCOME;
	m.welcome = &w;
	if (rc == 0)
		rc = send_msg(&r->ss, &m);
	wire_frontier_free(&f);
	if (rc == 0) {
		r->welcomed = true;
		r->welcome_at = r->now;
	}
	return rc;
}

/* A Ping that would make us send the full frontier again: refused (counted,
 * logged) within SYNC_FRONTIER_MS of the last one or when the send budget is
 * spent. */
static bool frontier_limited(sync_receiver *r, const char *what)
{
	bool soon = r->welcomed && r->now - r->welcome_at < SYNC_FRONTIER_MS;
	if (!soon && budget_ok(&r->ss, r->now))
		return false;
	if (!soon)
		budget_held(&r->ss, "welcome");
	uint64_t n = ++r->ss.stats.pings_limited;
	if (util_log_due(n))
		log_warn(r->ss.ops.log,
			 "%s limited peer=%s count=%llu reason=%s", what,
			 r->ss.peer, (unsigned long long)n,
			 LOG_Q(soon ? "full frontier sent less than "
				      "SYNC_FRONTIER_MS ago"
				    : "send budget spent"));
	return true;
}

/* Ask the peer's sender for its record of origin at seq (Want), once per
 * origin per session: it is compared with ours (a fork is kept as
 * evidence). */
static void receiver_ask(sync_receiver *r, const char *origin, uint64_t seq)
{
	Hutong__Want w = HUTONG__WANT__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	for (size_t i = 0; i < r->n_asked; i++)
		if (strcmp(r->asked[i], origin) == 0)
			return;
	if (r->n_asked >= SYNC_FORK_ASKS || seq == 0)
		return;
	snprintf(r->asked[r->n_asked++], HT_REGION_LEN + 1, "%s", origin);
	w.origin = (char *)origin;
	w.from_seq = seq;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_WANT;
	m.want = &w;
	if (send_msg(&r->ss, &m) == 0)
		log_info(r->ss.ops.log,
			 "fork check peer=%s origin=%s seq=%llu: asked for "
			 "the peer's record (want)",
			 r->ss.peer, origin, (unsigned long long)seq);
}

/* A record from the peer was refused right after our head of an origin
 * with no fork known: our head may not be theirs (a node that lost its
 * ledger and signed again). Counted, logged, and their record at our head
 * is asked for, so a fork becomes evidence instead of a silent refusal. */
static void chain_mismatch(sync_receiver *r, const sync_verdict *v)
{
	const ledger_origin *o =
	    ledger_origin_find(r->ss.ops.ledger, v->origin);
	if (o == NULL || o->forked || v->seq != o->seq + 1)
		return;
	uint64_t n = ++r->ss.stats.mismatches;
	if (util_log_due(n))
		log_warn(r->ss.ops.log,
			 "chain mismatch peer=%s origin=%s seq=%llu "
			 "count=%llu: refused after our head; asking for the "
			 "peer's record at our head",
			 r->ss.peer, v->origin, (unsigned long long)v->seq,
			 (unsigned long long)n);
	receiver_ask(r, v->origin, o->seq);
}

/* The peer's Hello heads against our chains (see check_heads). */
static void hello_heads(sync_receiver *r, const Hutong__Hello *h)
{
	for (size_t i = 0; i < h->n_frontier; i++) {
		const Hutong__FrontierEntry *e = h->frontier[i];
		bool agree;
		if (!frontier_conflict(r->ss.ops.ledger, e, &agree))
			continue;
		frontier_fork(&r->ss, e->origin, e->seq, "receiver");
		receiver_ask(r, e->origin, e->seq);
		if (r->pair != NULL)
			sender_fork_at(r->pair, e->origin, e->seq);
	}
	sync_sender_pump(r->pair);
}

/* ---- receiver: messages in ---- */

static int on_hello(sync_receiver *r, const sync_msg *m, ht_err *err)
{
	const Hutong__Hello *h = m->hello;
	if (r->hello && !budget_ok(&r->ss, r->now)) {
		/* a Hello starts a session (the peer may have reconnected
		 * unseen), so only the send budget holds it back */
		budget_held(&r->ss, "welcome");
		r->ss.stats.pings_limited++;
		return 0;
	}
	if (check_chain(&r->ss, h->certificates, h->n_certificates, err) != 0)
		return HT_ETRUST;
	if (!r->hello)
		log_info(r->ss.ops.log, "sync open peer=%s role=receiver",
			 r->ss.peer);
	if (!r->hello)
		r->n_asked = 0;
	r->hello = true;
	r->ss.stats.connected = true;
	r->unacked = 0;
	for (size_t i = 0; i < h->n_frontier; i++)
		sync_sender_peer_holds(r->pair, h->frontier[i]->origin,
				       h->frontier[i]->seq);
	send_welcome(r, true); /* if lost, the sender says Hello again */
	hello_heads(r, h);
	return 0;
}

/* Tally one envelope's verdict and learn what it says about the peer:
 * the origin and seq come from the node's parse, none when it did not
 * parse. */
static void take_result(sync_receiver *r, const uint8_t *env, size_t len,
			const sync_verdict *v, touched *t)
{
	tally(r, v->result);
	if (v->origin[0] == '\0')
		return;
	if (v->result != SYNC_REFUSED)
		sync_sender_peer_holds(r->pair, v->origin, v->seq);
	if (v->result == SYNC_GAP)
		gap_add(r, v->origin, v->seq, env, len);
	if (v->result == SYNC_REFUSED)
		chain_mismatch(r, v);
	touched_add(t, v->origin);
}

static int on_records(sync_receiver *r, const sync_msg *m, ht_err *err)
{
	const Hutong__Records *rec = m->records;
	size_t n = rec->n_envelopes;
	const uint8_t *env[SYNC_MAX_BATCH] = {0};
	size_t len[SYNC_MAX_BATCH] = {0};
	sync_verdict res[SYNC_MAX_BATCH];
	touched t = {.n = 0};
	for (size_t i = 0; i < n; i++) {
		env[i] = rec->envelopes[i].data;
		len[i] = rec->envelopes[i].len;
	}
	r->ss.stats.received += n;
	if (store(r, env, len, n, res) == 0) {
		for (size_t i = 0; i < n; i++)
			take_result(r, env[i], len[i], &res[i], &t);
		gap_retry(r, &t);
		send_ack(r, n, &t);
		send_wants(r, false);
	}
	return 0;
}

static int on_ping(sync_receiver *r, const sync_msg *m, ht_err *err)
{
	touched t = {.n = 0};
	if (frontier_limited(r, "ping"))
		return 0;
	gap_retry(r, &t);
	if (r->unacked > 0 || t.n > 0)
		send_ack(r, 0, &t);
	send_wants(r, true);
	send_welcome(r, false);
	return 0;
}

typedef int (*receiver_fn)(sync_receiver *r, const sync_msg *m, ht_err *err);

static const struct {
	Hutong__SyncMessage__MsgCase c;
	receiver_fn fn;
	bool after_hello;
} receiver_handlers[] = {
    {HUTONG__SYNC_MESSAGE__MSG_HELLO, on_hello, false},
    {HUTONG__SYNC_MESSAGE__MSG_RECORDS, on_records, true},
    {HUTONG__SYNC_MESSAGE__MSG_PING, on_ping, true},
};

static int receiver_dispatch(sync_receiver *r, const sync_msg *m, ht_err *err)
{
	for (size_t i = 0;
	     i < sizeof(receiver_handlers) / sizeof(receiver_handlers[0]);
	     i++) {
		if (receiver_handlers[i].c != m->msg_case)
			continue;
		if (receiver_handlers[i].after_hello && !r->hello)
			return out_of_place(m, "before hello", err);
		return receiver_handlers[i].fn(r, m, err);
	}
	return out_of_place(m, "not expected from a sender", err);
}

/* ---- receiver: public ---- */

sync_receiver *sync_receiver_new(const sync_node_ops *ops, const char *peer,
				 sync_send_fn send, void *send_ctx)
{
	sync_receiver *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	session_init(&r->ss, ops, peer, send, send_ctx);
	return r;
}

void sync_receiver_free(sync_receiver **rp)
{
	if (rp == NULL || *rp == NULL)
		return;
	sync_receiver *r = *rp;
	sync_receiver_pair(r, NULL);
	for (size_t i = 0; i < r->n_gaps; i++) {
		for (size_t k = 0; k < r->gaps[i].n; k++)
			free(r->gaps[i].recs[k].env);
		free(r->gaps[i].recs);
	}
	free(r->gaps);
	free(r);
	*rp = NULL;
}

int sync_receiver_on_frame(sync_receiver *r, const uint8_t *buf, size_t len,
			   int64_t now_ms, size_t *stored)
{
	ht_err err = {0};
	int rc;
	r->now = now_ms;
	r->ss.stats.bytes_received += len;
	r->ss.stats.frames_received++;
	r->stored = 0;
	if (stored != NULL)
		*stored = 0;
	sync_msg *m = frame_decode(buf, len, &rc, &err);
	if (m == NULL)
		return bad_frame(&r->ss, rc, &err);
	rc = receiver_dispatch(r, m, &err);
	hutong__sync_message__free_unpacked(m, NULL);
	if (stored != NULL)
		*stored = r->stored;
	if (rc != 0)
		return bad_frame(&r->ss, rc, &err);
	r->ss.stats.last_seen_ms = now_ms;
	return 0;
}

void sync_receiver_on_disconnect(sync_receiver *r)
{
	r->hello = false;
	r->unacked = 0;
	r->n_asked = 0;
	r->ss.stats.connected = false;
}

const sync_stats *sync_receiver_stats(const sync_receiver *r)
{
	return &r->ss.stats;
}

static void sender_unpair(sync_sender *s)
{
	if (s->rx != NULL && s->rx->pair == s)
		s->rx->pair = NULL;
}

void sync_receiver_pair(sync_receiver *r, sync_sender *s)
{
	if (r->pair != NULL && r->pair->rx == r)
		r->pair->rx = NULL;
	r->pair = s;
	if (s != NULL)
		s->rx = r;
}

/* ---- receiver: asking for missing bodies ---- */

/* Was id asked for from this peer within SYNC_FETCH_MS? */
static bool fetched_lately(const sync_receiver *r, const uint8_t *id,
			   int64_t now_ms)
{
	for (size_t i = 0; i < SYNC_FETCH_MEMO; i++)
		if (r->fetched[i].used &&
		    now_ms - r->fetched[i].at_ms < SYNC_FETCH_MS &&
		    memcmp(r->fetched[i].id, id, RECORD_ID_BYTES) == 0)
			return true;
	return false;
}

static void fetched_note(sync_receiver *r, const uint8_t *id, int64_t now_ms)
{
	fetch_memo *f = &r->fetched[r->fetch_next++ % SYNC_FETCH_MEMO];
	memcpy(f->id, id, RECORD_ID_BYTES);
	f->at_ms = now_ms;
	f->used = true;
}

int sync_receiver_fetch(sync_receiver *r, const uint8_t (*ids)[RECORD_ID_BYTES],
			size_t n, int64_t now_ms)
{
	ProtobufCBinaryData want[SYNC_FETCH_MAX];
	size_t k = 0;
	if (r == NULL || !r->hello)
		return 0;
	for (size_t i = 0; i < n && k < SYNC_FETCH_MAX; i++)
		if (!fetched_lately(r, ids[i], now_ms))
			want[k++] = (ProtobufCBinaryData){RECORD_ID_BYTES,
							  (uint8_t *)ids[i]};
	if (k == 0)
		return 0;
	Hutong__Fetch f = HUTONG__FETCH__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	f.ids = want;
	f.n_ids = k;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_FETCH;
	m.fetch = &f;
	if (send_msg(&r->ss, &m) != 0)
		return 0;
	for (size_t i = 0; i < k; i++)
		fetched_note(r, want[i].data, now_ms);
	log_debug(r->ss.ops.log, "fetch peer=%s ids=%zu", r->ss.peer, k);
	return (int)k;
}
