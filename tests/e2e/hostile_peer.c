/*
 * hostile_peer: an authorized neighbour that misbehaves, for
 * tests/e2e/test_hostile.sh. It is built from the core library: it holds a
 * real node directory (hutong init + a certificate from the federation's
 * CA, and the target lists it as a peer), so the target's ZAP handler
 * admits it and everything it sends reaches the sync receiver and the
 * node. Each named scenario attacks one thing and prints one line
 * "scenario=NAME key=value ..." saying what it did and saw; the test reads
 * the target's log and status to judge the target's side.
 *
 *   hostile_peer --dir DIR --endpoint EP --server-cert CRT [--origin DIR]
 *                [--count N] [--big] [--frame-bytes N] SCENARIO...
 *   hostile_peer --dir DIR --listen EP slow-receiver [--window W]
 *                [--slow-ms MS] [--expect-digest HEX] [--timeout S]
 *
 * --dir is the harness's own node (link.key, node.crt: the link it
 * authenticates as). --origin is the node whose identity key (node.key) and
 * certificate sign the records it originates, by default --dir. Records
 * continue the origin's chain where the target's Welcome frontier says it
 * is, so runs can follow each other without state on disk. --big makes
 * its leads as big as the field counts allow (~45 KB); --frame-bytes caps the
 * envelope bytes of one Records frame (SYNC_MAX_BATCH_BYTES, as an honest
 * sender does).
 *
 * A bad frame makes the target ignore this peer for LINK_MUTE_MS; scenarios
 * that cause one wait that out before the next starts.
 *
 * Exit: 0 when every scenario ran as intended (connected, sent, saw what
 * it expects to see from a well-behaved target: a disconnection after an
 * oversized frame, its own valid records acknowledged, ...), 1 otherwise,
 * 2 on usage or set-up errors.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ident.h"
#include "links.h"
#include "pki.h"
#include "record.h"
#include "sync.h"
#include "sync.pb-c.h"
#include "util.h"

#define KEY_BYTES 32
#define WAIT_MS 5000 /* for a handshake, a Welcome, an ack */
#define MAX_BUILT 100000

typedef Hutong__SyncMessage sync_msg;

/* The target's frontier as its last Welcome gave it. */
typedef struct frontier {
	size_t n;
	char (*region)[HT_REGION_LEN + 1];
	uint64_t *seq;
	uint8_t (*head)[RECORD_ID_BYTES];
} frontier;

/* An identity the harness originates records for, and what it built. */
typedef struct origin {
	ident *key;
	pki_identity id;
	pki_chain chain;
	record **recs; /* built, seq recs[0]..; owned */
	size_t n, cap;
	uint64_t first_seq; /* seq of recs[0] */
	bool big;	    /* leads near the body size limit (--big) */
} origin;

typedef struct harness {
	const char *dir, *origin_dir, *endpoint, *server_cert, *listen;
	uint8_t pk[KEY_BYTES], *sk, server_pk[KEY_BYTES];
	pki_chain chain; /* ours, for Hello / Welcome */
	void *zctx, *dealer, *mon;
	unsigned mon_seq;
	bool up, down;
	frontier fr;
	uint64_t welcomes, acks, acked, wants;
	char want_origin[HT_REGION_LEN + 1];
	uint64_t want_from;
	origin org;
	size_t count;	    /* --count */
	size_t frame_bytes; /* envelope bytes per Records frame */
	/* slow receiver */
	uint32_t window;
	long slow_ms;
	const char *expect_digest;
	long timeout_s;
} harness;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int set_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v));
}

/* ---- the target's frontier ---- */

static void frontier_clear(frontier *f)
{
	free(f->region);
	free(f->seq);
	free(f->head);
	memset(f, 0, sizeof(*f));
}

static void frontier_set(frontier *f, Hutong__FrontierEntry *const *e, size_t n)
{
	frontier_clear(f);
	f->region = calloc(n ? n : 1, sizeof(*f->region));
	f->seq = calloc(n ? n : 1, sizeof(*f->seq));
	f->head = calloc(n ? n : 1, sizeof(*f->head));
	if (!f->region || !f->seq || !f->head)
		return;
	for (size_t i = 0; i < n; i++) {
		snprintf(f->region[i], sizeof(f->region[i]), "%s",
			 e[i]->origin);
		f->seq[i] = e[i]->seq;
		if (e[i]->head.len == RECORD_ID_BYTES)
			memcpy(f->head[i], e[i]->head.data, RECORD_ID_BYTES);
	}
	f->n = n;
}

/* The target's seq for region (0 if it holds none); head copied if set. */
static uint64_t frontier_seq(const frontier *f, const char *region,
			     uint8_t head[RECORD_ID_BYTES])
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->region[i], region) == 0) {
			if (head != NULL)
				memcpy(head, f->head[i], RECORD_ID_BYTES);
			return f->seq[i];
		}
	return 0;
}

/* ---- messages ---- */

/* Pack m into a fresh buffer (caller frees). */
static uint8_t *pack(const sync_msg *m, size_t *len)
{
	*len = hutong__sync_message__get_packed_size(m);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf != NULL)
		hutong__sync_message__pack(m, buf);
	return buf;
}

static uint8_t *pack_records(ProtobufCBinaryData *env, size_t n, size_t *len)
{
	Hutong__Records r = HUTONG__RECORDS__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	r.envelopes = env;
	r.n_envelopes = n;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_RECORDS;
	m.records = &r;
	return pack(&m, len);
}

static ProtobufCBinaryData env_of(const record *r)
{
	size_t len;
	const uint8_t *b = record_bytes(r, &len);
	return (ProtobufCBinaryData){len, (uint8_t *)b};
}

/* ---- the connection to the target ---- */

static int dealer_send(harness *h, const void *buf, size_t len, int flags)
{
	if (h->dealer == NULL)
		return -1;
	return zmq_send(h->dealer, buf, len, flags) < 0 ? -1 : 0;
}

static int send_msg(harness *h, const sync_msg *m)
{
	size_t len;
	uint8_t *buf = pack(m, &len);
	int rc = buf ? dealer_send(h, buf, len, 0) : -1;
	free(buf);
	return rc;
}

static int send_records(harness *h, ProtobufCBinaryData *env, size_t n)
{
	size_t len;
	uint8_t *buf = pack_records(env, n, &len);
	int rc = buf ? dealer_send(h, buf, len, 0) : -1;
	free(buf);
	return rc;
}

static void on_message(harness *h, const sync_msg *m)
{
	switch (m->msg_case) {
	case HUTONG__SYNC_MESSAGE__MSG_WELCOME:
		h->welcomes++;
		frontier_set(&h->fr, m->welcome->frontier,
			     m->welcome->n_frontier);
		break;
	case HUTONG__SYNC_MESSAGE__MSG_ACK:
		h->acks++;
		h->acked += m->ack->count;
		break;
	case HUTONG__SYNC_MESSAGE__MSG_WANT:
		h->wants++;
		snprintf(h->want_origin, sizeof(h->want_origin), "%s",
			 m->want->origin);
		h->want_from = m->want->from_seq;
		break;
	default:
		break;
	}
}

static void read_monitor(harness *h)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	while (zmq_msg_recv(&m, h->mon, ZMQ_DONTWAIT) >= 0) {
		uint16_t ev = 0;
		if (zmq_msg_more(&m) && zmq_msg_size(&m) >= 2) {
			memcpy(&ev, zmq_msg_data(&m), 2);
			if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
				h->up = true;
			if (ev == ZMQ_EVENT_DISCONNECTED)
				h->down = true;
		}
	}
	zmq_msg_close(&m);
}

static void read_dealer(harness *h)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	while (h->dealer && zmq_msg_recv(&m, h->dealer, ZMQ_DONTWAIT) >= 0) {
		sync_msg *s = hutong__sync_message__unpack(
		    NULL, zmq_msg_size(&m), zmq_msg_data(&m));
		if (s != NULL) {
			on_message(h, s);
			hutong__sync_message__free_unpacked(s, NULL);
		}
	}
	zmq_msg_close(&m);
}

/* Take what arrives for ms milliseconds, or until done(h) holds. */
static bool pump(harness *h, long ms, bool (*done)(const harness *h))
{
	int64_t end = mono_ms() + ms;
	do {
		if (done != NULL && done(h))
			return true;
		zmq_pollitem_t it[] = {{h->dealer, 0, ZMQ_POLLIN, 0},
				       {h->mon, 0, ZMQ_POLLIN, 0}};
		if (zmq_poll(it, 2, 20) > 0) {
			read_dealer(h);
			read_monitor(h);
		}
	} while (mono_ms() < end);
	return done != NULL && done(h);
}

static bool is_up(const harness *h) { return h->up; }
static bool is_down(const harness *h) { return h->down; }

static void conn_close(harness *h)
{
	if (h->dealer != NULL) {
		zmq_socket_monitor(h->dealer, NULL, 0);
		zmq_close(h->dealer);
	}
	if (h->mon != NULL)
		zmq_close(h->mon);
	h->dealer = h->mon = NULL;
	h->up = h->down = false;
}

/* A CURVE DEALER to the target, handshake done. 0 or -1 (printed). */
static int conn_open(harness *h)
{
	char ep[64];
	snprintf(ep, sizeof(ep), "inproc://hostile-mon-%u", ++h->mon_seq);
	h->dealer = zmq_socket(h->zctx, ZMQ_DEALER);
	h->mon = zmq_socket(h->zctx, ZMQ_PAIR);
	int64_t max = -1; /* we read whatever the target sends */
	if (h->dealer == NULL || h->mon == NULL ||
	    set_int(h->dealer, ZMQ_LINGER, 0) != 0 ||
	    set_int(h->dealer, ZMQ_SNDTIMEO, 20000) != 0 ||
	    zmq_setsockopt(h->dealer, ZMQ_MAXMSGSIZE, &max, sizeof(max)) ||
	    zmq_setsockopt(h->dealer, ZMQ_CURVE_SERVERKEY, h->server_pk,
			   KEY_BYTES) != 0 ||
	    zmq_setsockopt(h->dealer, ZMQ_CURVE_PUBLICKEY, h->pk, KEY_BYTES) ||
	    zmq_setsockopt(h->dealer, ZMQ_CURVE_SECRETKEY, h->sk, KEY_BYTES) ||
	    zmq_socket_monitor(h->dealer, ep,
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
				   ZMQ_EVENT_DISCONNECTED) != 0 ||
	    set_int(h->mon, ZMQ_LINGER, 0) != 0 || zmq_connect(h->mon, ep) ||
	    zmq_connect(h->dealer, h->endpoint) != 0) {
		fprintf(stderr, "hostile_peer: connect %s: %s\n", h->endpoint,
			zmq_strerror(zmq_errno()));
		conn_close(h);
		return -1;
	}
	if (!pump(h, WAIT_MS, is_up)) {
		fprintf(stderr, "hostile_peer: no handshake with %s\n",
			h->endpoint);
		conn_close(h);
		return -1;
	}
	return 0;
}

static bool welcomed(const harness *h) { return h->welcomes > 0; }

/* Hello with our chain and an empty frontier; wait for the Welcome. */
static int hello(harness *h)
{
	Hutong__Hello hl = HUTONG__HELLO__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	ProtobufCBinaryData certs[PKI_MAX_CHAIN];
	for (size_t i = 0; i < h->chain.n; i++)
		certs[i] =
		    (ProtobufCBinaryData){h->chain.len[i], h->chain.der[i]};
	hl.version = SYNC_VERSION;
	hl.certificates = certs;
	hl.n_certificates = h->chain.n;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_HELLO;
	m.hello = &hl;
	h->welcomes = 0;
	if (send_msg(h, &m) != 0 || !pump(h, WAIT_MS, welcomed)) {
		fprintf(stderr, "hostile_peer: no Welcome\n");
		return -1;
	}
	return 0;
}

/* A session: connected, Hello answered. */
static int session(harness *h)
{
	h->acks = h->acked = h->wants = 0;
	h->want_from = 0;
	if (conn_open(h) != 0)
		return -1;
	if (hello(h) != 0) {
		conn_close(h);
		return -1;
	}
	return 0;
}

static void send_ping(harness *h)
{
	Hutong__Ping p = HUTONG__PING__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_PING;
	m.ping = &p;
	send_msg(h, &m);
}

/* Ping until the target's frontier shows region at seq >= want (or the
 * deadline). Returns the last seq seen. */
static uint64_t await_seq(harness *h, const char *region, uint64_t want,
			  long ms)
{
	int64_t end = mono_ms() + ms;
	uint64_t seq = 0;
	while ((seq = frontier_seq(&h->fr, region, NULL)) < want &&
	       mono_ms() < end) {
		h->welcomes = 0;
		send_ping(h);
		pump(h, 300, welcomed);
		pump(h, 100, NULL);
	}
	return seq;
}

/* ---- originating records ---- */

static void origin_clear(origin *o)
{
	for (size_t i = 0; i < o->n; i++)
		record_free(&o->recs[i]);
	free(o->recs);
	o->recs = NULL;
	o->n = o->cap = 0;
}

static int origin_load(origin *o, const char *dir)
{
	char path[PATH_MAX];
	ht_err err = {0};
	snprintf(path, sizeof(path), "%s/node.key", dir);
	if ((o->key = ident_load(path, &err)) == NULL)
		goto fail;
	snprintf(path, sizeof(path), "%s/node.crt", dir);
	if (pki_identity_from_pem_file(path, &o->id, &err) != 0 ||
	    pki_chain_read_pem(path, &o->chain, &err) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "hostile_peer: %s: %s\n", path, err.msg);
	return -1;
}

static int origin_push(origin *o, record *r)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 256;
		record **p = realloc(o->recs, cap * sizeof(*p));
		if (p == NULL)
			return -1;
		o->recs = p;
		o->cap = cap;
	}
	o->recs[o->n++] = r;
	return 0;
}

/* Aliases that bring a lead's body near RECORD_MAX_BODY. */
/* A lead near the body size limit within the field counts: every alias,
 * person name and address at RECORD_MAX_SHORT and a long source (~45 KB). */
static void make_big(Hutong__Intelligence *in)
{
	static char src[RECORD_MAX_TEXT];
	static char buf[RECORD_MAX_PEOPLE][RECORD_MAX_SHORT - 4];
	static char *al[RECORD_MAX_ALIASES];
	static Hutong__Person pe[RECORD_MAX_PEOPLE], *pp[RECORD_MAX_PEOPLE];
	static Hutong__Place pl[RECORD_MAX_PLACES], *plp[RECORD_MAX_PLACES];
	for (size_t i = 0; i < RECORD_MAX_PEOPLE; i++) {
		memset(buf[i], 'a' + (int)(i % 26), sizeof(buf[i]) - 1);
		snprintf(buf[i], 8, "%06zu", i);
		buf[i][6] = '-';
		hutong__person__init(&pe[i]);
		pe[i].name = buf[i];
		pp[i] = &pe[i];
		if (i < RECORD_MAX_ALIASES)
			al[i] = buf[i];
		if (i < RECORD_MAX_PLACES) {
			hutong__place__init(&pl[i]);
			pl[i].region = "320100";
			pl[i].address = buf[i];
			plp[i] = &pl[i];
		}
	}
	memset(src, 's', sizeof(src) - 1);
	in->aliases = al, in->n_aliases = RECORD_MAX_ALIASES;
	in->people = pp, in->n_people = RECORD_MAX_PEOPLE;
	in->places = plp, in->n_places = RECORD_MAX_PLACES;
	in->source = src;
}

/* One record of region/name at seq after prev: a genesis (key and chain
 * of o) when seq is 1, else a lead whose summary says `tag`. */
static record *build_one(origin *o, const char *region, const char *name,
			 uint64_t seq, const uint8_t *prev, const char *tag)
{
	ProtobufCBinaryData certs[PKI_MAX_CHAIN];
	Hutong__Genesis g = HUTONG__GENESIS__INIT;
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	char summary[160];
	ht_err err = {0};
	record *r = NULL;
	if (seq == 1) {
		for (size_t i = 0; i < o->chain.n; i++)
			certs[i] = (ProtobufCBinaryData){o->chain.len[i],
							 o->chain.der[i]};
		g.public_key = (ProtobufCBinaryData){
		    RECORD_PK_BYTES, (uint8_t *)ident_public(o->key)};
		g.certificates = certs;
		g.n_certificates = o->chain.n;
		body.content_case = HUTONG__BODY__CONTENT_GENESIS;
		body.genesis = &g;
		sub.author = "node";
	} else {
		snprintf(summary, sizeof(summary), "hostile %s seq %llu", tag,
			 (unsigned long long)seq);
		in.summary = summary;
		if (o->big)
			make_big(&in);
		body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
		body.intelligence = &in;
		sub.author = "hostile";
	}
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	record_origin at = {region, name, seq, seq == 1 ? NULL : prev,
			    wall_ms()};
	if (record_build(&sub, &at, ident_sign, o->key, &r, &err) != 0)
		fprintf(stderr, "hostile_peer: build seq %llu: %s\n",
			(unsigned long long)seq, err.msg);
	return r;
}

/* Build n records continuing the origin's chain at the target (from its
 * Welcome frontier; a genesis first if it holds none). 0 or -1. */
static int origin_build(harness *h, size_t n, const char *tag)
{
	origin *o = &h->org;
	uint8_t prev[RECORD_ID_BYTES] = {0};
	uint64_t seq = frontier_seq(&h->fr, o->id.region, prev);
	origin_clear(o);
	o->first_seq = seq + 1;
	for (size_t i = 0; i < n && n <= MAX_BUILT; i++) {
		record *r =
		    build_one(o, o->id.region, o->id.name, seq + 1, prev, tag);
		if (r == NULL || origin_push(o, r) != 0) {
			record_free(&r);
			return -1;
		}
		seq++;
		memcpy(prev, record_id(r), RECORD_ID_BYTES);
	}
	return n <= MAX_BUILT ? 0 : -1;
}

static uint64_t built_last(const origin *o) { return o->first_seq + o->n - 1; }

/* Send built records [from, from+n) in frames of at most SYNC_MAX_BATCH
 * records and h->frame_bytes bytes. */
static int send_built(harness *h, size_t from, size_t n)
{
	ProtobufCBinaryData env[SYNC_MAX_BATCH];
	for (size_t i = from; i < from + n && i < h->org.n;) {
		size_t k = 0, bytes = 0;
		for (; k < SYNC_MAX_BATCH && i < from + n && i < h->org.n;
		     k++, i++) {
			env[k] = env_of(h->org.recs[i]);
			if (k > 0 && bytes + env[k].len > h->frame_bytes)
				break;
			bytes += env[k].len;
		}
		if (send_records(h, env, k) != 0)
			return -1;
		pump(h, 0, NULL);
	}
	return 0;
}

/* Answer the target's Wants for our origin from what we built, until it
 * holds seq `want` or ms pass. */
static uint64_t serve_wants(harness *h, uint64_t want, long ms)
{
	int64_t end = mono_ms() + ms;
	uint64_t seq = 0;
	while (mono_ms() < end &&
	       (seq = frontier_seq(&h->fr, h->org.id.region, NULL)) < want) {
		if (h->want_from >= h->org.first_seq &&
		    strcmp(h->want_origin, h->org.id.region) == 0) {
			size_t at = h->want_from - h->org.first_seq;
			h->want_from = 0;
			send_built(h, at, h->org.n - at);
		}
		h->welcomes = 0;
		send_ping(h);
		pump(h, 300, welcomed);
	}
	return seq;
}

/* ---- scenarios ---- */

static void random_bytes(uint8_t *buf, size_t len)
{
	randombytes_buf(buf, len);
	if (len > 0)
		buf[0] = 0xff; /* wire type 7: never a valid protobuf */
}

static bool got_ack(const harness *h) { return h->acks > 0; }

/* Wait out the target's mute of this peer after a bad frame. */
static void wait_mute(void) { sleep_ms(LINK_MUTE_MS + 400); }

/* Random single-frame garbage after a Hello, and a multipart message. */
static int sc_garbage(harness *h)
{
	uint8_t buf[512];
	int sent = 0;
	if (session(h) != 0)
		return 1;
	dealer_send(h, "part one", 8, ZMQ_SNDMORE);
	dealer_send(h, "part two", 8, 0);
	for (int i = 0; i < 50; i++) {
		size_t len = 1 + randombytes_uniform(sizeof(buf));
		random_bytes(buf, len);
		sent += dealer_send(h, buf, len, 0) == 0;
	}
	pump(h, 300, NULL);
	printf("scenario=garbage multipart=1 frames=%d\n", sent);
	conn_close(h);
	wait_mute();
	return 0;
}

/* A Records frame with a truncated envelope (refused by the node, no bad
 * frame), then a truncated frame (not a SyncMessage). */
static int sc_truncated(harness *h)
{
	if (session(h) != 0 || origin_build(h, 3, "truncated") != 0)
		return 1;
	ProtobufCBinaryData env = env_of(h->org.recs[0]);
	env.len /= 2;
	h->acks = 0;
	send_records(h, &env, 1);
	bool acked = pump(h, WAIT_MS, got_ack);
	ProtobufCBinaryData all[3];
	for (int i = 0; i < 3; i++)
		all[i] = env_of(h->org.recs[i]);
	size_t len;
	uint8_t *buf = pack_records(all, 3, &len);
	dealer_send(h, buf, len - len / 3, 0);
	free(buf);
	pump(h, 300, NULL);
	printf(
	    "scenario=truncated envelope_bytes=%zu acked=%d frame_bytes=%zu\n",
	    env.len, acked, len - len / 3);
	conn_close(h);
	wait_mute();
	return 0;
}

/* An envelope over the record limit (refused), a Records message over the
 * batch limit (bad frame), then a frame over SYNC_MAX_FRAME: libzmq's
 * ZMQ_MAXMSGSIZE drops the connection before it is read. */
static int sc_oversized(harness *h)
{
	size_t big = RECORD_MAX_ENVELOPE + 1;
	uint8_t *buf = calloc(1, (size_t)SYNC_MAX_FRAME + 1024);
	ProtobufCBinaryData env[SYNC_MAX_BATCH + 1];
	size_t len;
	int rc = 1;
	if (buf == NULL || session(h) != 0)
		goto out;
	env[0] = (ProtobufCBinaryData){big, buf};
	send_records(h, env, 1);
	bool acked = pump(h, WAIT_MS, got_ack);
	for (size_t i = 0; i < SYNC_MAX_BATCH + 1; i++)
		env[i] = (ProtobufCBinaryData){8, buf};
	uint8_t *many = pack_records(env, SYNC_MAX_BATCH + 1, &len);
	dealer_send(h, many, len, 0);
	free(many);
	pump(h, 200, NULL);
	random_bytes(buf, (size_t)SYNC_MAX_FRAME + 1024);
	dealer_send(h, buf, (size_t)SYNC_MAX_FRAME + 1024, 0);
	bool dropped = pump(h, WAIT_MS, is_down);
	printf("scenario=oversized envelope_bytes=%zu acked=%d "
	       "batch=%d frame_bytes=%d disconnected=%d\n",
	       big, acked, SYNC_MAX_BATCH + 1, SYNC_MAX_FRAME + 1024, dropped);
	rc = acked && dropped ? 0 : 1;
	conn_close(h);
	wait_mute();
out:
	free(buf);
	return rc;
}

/* Records on a connection that never said Hello. The target's receiver
 * session for this peer must be closed, as it is after a bad frame: run it
 * right after one of the scenarios above (the target keeps a session
 * across reconnections of the same peer). */
static int sc_before_hello(harness *h)
{
	if (origin_build(h, 1, "early") != 0 || conn_open(h) != 0)
		return 1;
	ProtobufCBinaryData env = env_of(h->org.recs[0]);
	send_records(h, &env, 1);
	pump(h, 500, got_ack);
	printf("scenario=before-hello records=1 acks=%llu\n",
	       (unsigned long long)h->acks);
	if (h->acks > 0)
		fprintf(stderr, "hostile_peer: the target's session was "
				"open; run before-hello after a bad frame\n");
	conn_close(h);
	wait_mute();
	return h->acks == 0 ? 0 : 1;
}

/* A message only a receiver sends (an Ack), from a sender. */
static int sc_misplaced(harness *h)
{
	Hutong__Ack a = HUTONG__ACK__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	if (session(h) != 0)
		return 1;
	a.count = 1;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_ACK;
	m.ack = &a;
	send_msg(h, &m);
	pump(h, 300, NULL);
	printf("scenario=misplaced message=ack\n");
	conn_close(h);
	wait_mute();
	return 0;
}

/* --count copies of the origin's next record, each with a different
 * signature byte flipped (each costs the target a verify), then the real
 * one, which must still be taken. */
static int sc_bad_signature(harness *h)
{
	size_t n = h->count ? h->count : 200;
	if (n > SYNC_MAX_BATCH)
		n = SYNC_MAX_BATCH;
	if (session(h) != 0 || origin_build(h, 1, "signed") != 0)
		return 1;
	size_t len;
	const uint8_t *good = record_bytes(h->org.recs[0], &len);
	const uint8_t *sig = record_signature(h->org.recs[0]);
	const uint8_t *in = memmem(good, len, sig, RECORD_SIG_BYTES);
	uint8_t *copies = malloc(n * len);
	ProtobufCBinaryData env[SYNC_MAX_BATCH];
	if (in == NULL || copies == NULL) {
		free(copies);
		return 1;
	}
	size_t at = (size_t)(in - good); /* the signature inside the bytes */
	for (size_t i = 0; i < n; i++) {
		memcpy(copies + i * len, good, len);
		copies[i * len + at + i % RECORD_SIG_BYTES] ^= 1 + i / 64;
		env[i] = (ProtobufCBinaryData){len, copies + i * len};
	}
	send_records(h, env, n);
	pump(h, WAIT_MS, got_ack);
	free(copies);
	uint64_t want = built_last(&h->org);
	send_built(h, 0, 1);
	uint64_t seq = await_seq(h, h->org.id.region, want, WAIT_MS);
	printf("scenario=bad-signature copies=%zu origin=%s seq=%llu "
	       "then_valid_stored=%d\n",
	       n, h->org.id.region, (unsigned long long)want, seq >= want);
	conn_close(h);
	return seq >= want ? 0 : 1;
}

/* Records signed by our key that claim other origins: the next record of
 * another origin the target holds (the first in its frontier that is not
 * ours), and a genesis for a region nobody holds carrying our real
 * certificate. */
static int sc_forged(harness *h)
{
	uint8_t prev[RECORD_ID_BYTES];
	char victim[HT_REGION_LEN + 1] = "";
	if (session(h) != 0)
		return 1;
	for (size_t i = 0; i < h->fr.n && victim[0] == '\0'; i++)
		if (strcmp(h->fr.region[i], h->org.id.region) != 0 &&
		    strcmp(h->fr.region[i], "110000") != 0)
			memcpy(victim, h->fr.region[i], sizeof(victim));
	if (victim[0] == '\0') {
		fprintf(stderr, "hostile_peer: no other origin to forge\n");
		return 1;
	}
	uint64_t seq = frontier_seq(&h->fr, victim, prev);
	record *r[2];
	r[0] = build_one(&h->org, victim, "forger", seq + 1, prev, "forged");
	r[1] = build_one(&h->org, "110000", h->org.id.name, 1, NULL, "");
	bool acked = false;
	if (r[0] != NULL && r[1] != NULL) {
		ProtobufCBinaryData env[2] = {env_of(r[0]), env_of(r[1])};
		send_records(h, env, 2);
		acked = pump(h, WAIT_MS, got_ack);
	}
	printf("scenario=forged victim=%s seq=%llu genesis_region=110000 "
	       "acked=%d\n",
	       victim, (unsigned long long)seq + 1, acked);
	record_free(&r[0]);
	record_free(&r[1]);
	conn_close(h);
	return acked ? 0 : 1;
}

/* --count valid records of the origin (for a revoked origin: records
 * made after the revocation). Reports whether the target took them. */
static int sc_records(harness *h)
{
	size_t n = h->count ? h->count : 3;
	if (session(h) != 0)
		return 1;
	uint64_t before = frontier_seq(&h->fr, h->org.id.region, NULL);
	if (origin_build(h, n, "records") != 0)
		return 1;
	send_built(h, 0, h->org.n);
	bool acked = pump(h, WAIT_MS, got_ack);
	uint64_t seq =
	    await_seq(h, h->org.id.region, built_last(&h->org), 1500);
	printf("scenario=records origin=%s sent=%zu before=%llu after=%llu "
	       "acked=%d\n",
	       h->org.id.region, h->org.n, (unsigned long long)before,
	       (unsigned long long)seq, acked);
	conn_close(h);
	return acked ? 0 : 1;
}

/* --count records sent once, then the same frame again and again. */
static int sc_replay(harness *h)
{
	size_t n = h->count ? h->count : 32, times = 40;
	if (session(h) != 0 || origin_build(h, n, "replayed") != 0)
		return 1;
	uint64_t want = built_last(&h->org);
	for (size_t t = 0; t <= times; t++)
		if (send_built(h, 0, n) != 0)
			return 1;
	uint64_t seq = await_seq(h, h->org.id.region, want, WAIT_MS);
	pump(h, 500, NULL);
	printf("scenario=replay records=%zu times=%zu stored_to=%llu "
	       "acked=%llu\n",
	       n, times + 1, (unsigned long long)seq,
	       (unsigned long long)h->acked);
	conn_close(h);
	return seq >= want ? 0 : 1;
}

/* Out of order (3, 2, 1), then a gap (6.. without 4, 5) that the target
 * must ask for, then a run beyond its gap buffer (2.. without 1): Wants
 * are answered until the target holds everything. */
static int sc_gap(harness *h)
{
	size_t over = SYNC_GAP_PER_ORIGIN + 44;
	if (session(h) != 0 || origin_build(h, 12, "gap") != 0)
		return 1;
	uint64_t want = built_last(&h->org);
	send_built(h, 2, 1);
	send_built(h, 1, 1);
	send_built(h, 0, 1);
	send_built(h, 5, 7);
	uint64_t seq = serve_wants(h, want, 3 * WAIT_MS);
	uint64_t wants = h->wants;
	bool ok = seq >= want;
	if (ok && origin_build(h, over + 1, "overflow") == 0) {
		want = built_last(&h->org);
		send_built(h, 1, over);
		seq = serve_wants(h, want, 4 * WAIT_MS);
		ok = seq >= want;
	}
	printf("scenario=gap wants=%llu overflow=%zu origin=%s "
	       "stored_to=%llu complete=%d\n",
	       (unsigned long long)(wants + h->wants), over, h->org.id.region,
	       (unsigned long long)seq, ok);
	conn_close(h);
	return ok ? 0 : 1;
}

/* Two different records at the same seq, both validly signed by the
 * origin, then one beyond (held back until an operator resolves). */
static int sc_fork(harness *h)
{
	if (session(h) != 0 || origin_build(h, 2, "branch-a") != 0)
		return 1;
	uint8_t prev[RECORD_ID_BYTES];
	uint64_t seq = built_last(&h->org);
	send_built(h, 0, h->org.n);
	if (await_seq(h, h->org.id.region, seq, WAIT_MS) < seq)
		return 1;
	frontier_seq(&h->fr, h->org.id.region, prev);
	/* the other branch: same seq, same prev, different content */
	const uint8_t *pprev =
	    h->org.n >= 2 ? record_id(h->org.recs[h->org.n - 2]) : NULL;
	record *other = build_one(&h->org, h->org.id.region, h->org.id.name,
				  seq, pprev, "branch-b");
	record *beyond = build_one(&h->org, h->org.id.region, h->org.id.name,
				   seq + 1, prev, "beyond");
	if (other == NULL || beyond == NULL) {
		record_free(&other);
		record_free(&beyond);
		return 1;
	}
	ProtobufCBinaryData env[2] = {env_of(other), env_of(beyond)};
	h->acks = 0;
	send_records(h, env, 1);
	pump(h, WAIT_MS, got_ack);
	h->acks = 0;
	send_records(h, env + 1, 1);
	bool acked = pump(h, WAIT_MS, got_ack);
	printf("scenario=fork origin=%s seq=%llu acked=%d\n", h->org.id.region,
	       (unsigned long long)seq, acked);
	record_free(&other);
	record_free(&beyond);
	conn_close(h);
	return acked ? 0 : 1;
}

/* --count valid records of the origin as fast as the socket takes them,
 * ignoring the window and the acks; then wait until the target has them. */
static int sc_flood(harness *h)
{
	size_t n = h->count ? h->count : 10000;
	if (session(h) != 0)
		return 1;
	int64_t t0 = mono_ms();
	if (origin_build(h, n, "flood") != 0)
		return 1;
	int64_t t1 = mono_ms();
	uint64_t want = built_last(&h->org);
	if (send_built(h, 0, n) != 0)
		return 1;
	int64_t t2 = mono_ms();
	uint64_t seq = await_seq(h, h->org.id.region, want, 60000);
	int64_t t3 = mono_ms();
	printf("scenario=flood records=%zu build_ms=%lld send_ms=%lld "
	       "stored_ms=%lld rate=%.0f/s stored_to=%llu\n",
	       n, (long long)(t1 - t0), (long long)(t2 - t1),
	       (long long)(t3 - t1),
	       t3 > t1 ? 1000.0 * (double)n / (double)(t3 - t1) : 0.0,
	       (unsigned long long)seq);
	conn_close(h);
	return seq >= want ? 0 : 1;
}

/* --count frames just under SYNC_MAX_FRAME, each full of envelopes of
 * random bytes at the record size limit, as fast as the socket takes
 * them: the target's memory must stay bounded while it refuses them. */
static int sc_bigflood(harness *h)
{
	size_t frames = h->count ? h->count : 40, per = 120, sent = 0;
	size_t elen = RECORD_MAX_BODY;
	ProtobufCBinaryData env[120];
	uint8_t *junk = malloc(per * elen);
	if (junk == NULL || session(h) != 0) {
		free(junk);
		return 1;
	}
	random_bytes(junk, per * elen);
	for (size_t i = 0; i < per; i++)
		env[i] = (ProtobufCBinaryData){elen, junk + i * elen};
	size_t len;
	uint8_t *buf = pack_records(env, per, &len);
	int64_t t0 = mono_ms();
	for (size_t f = 0; buf != NULL && f < frames; f++) {
		buf[len - 1] ^= (uint8_t)f; /* not all the same bytes */
		if (dealer_send(h, buf, len, 0) != 0)
			break;
		sent++;
		pump(h, 0, NULL);
	}
	int64_t t1 = mono_ms();
	h->acks = 0;
	/* A receiver answers a Ping with its frontier at most once per
	 * SYNC_FRONTIER_MS, and the Hello's Welcome may be that recent. */
	while (mono_ms() - t0 < SYNC_FRONTIER_MS + 200)
		pump(h, 50, NULL);
	send_ping(h);
	h->welcomes = 0;
	bool alive = pump(h, 60000, welcomed); /* after all the frames */
	printf("scenario=bigflood frames=%zu frame_bytes=%zu send_ms=%lld "
	       "drained_ms=%lld acks=%llu answered=%d\n",
	       sent, len, (long long)(t1 - t0), (long long)(mono_ms() - t0),
	       (unsigned long long)h->acks, alive);
	free(buf);
	free(junk);
	conn_close(h);
	return sent == frames && alive ? 0 : 1;
}

/* Hello, then nothing at all: the process stops itself (SIGSTOP), so not
 * even ZMTP heartbeats are answered. The test kills it. */
static int sc_stall(harness *h)
{
	if (session(h) != 0)
		return 1;
	printf("scenario=stall hello=1 stopping=%ld\n", (long)getpid());
	fflush(stdout);
	raise(SIGSTOP);
	conn_close(h);
	return 0;
}

/* host:port of a tcp:// endpoint into sa. */
static int tcp_addr(const char *ep, struct sockaddr_in *sa)
{
	char host[64];
	unsigned port;
	if (sscanf(ep, "tcp://%63[^:]:%u", host, &port) != 2 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* A raw TCP connection: send buf (may be empty), then read until the
 * server closes or ms pass. Returns ms until closed, -1 if it stayed. */
static long raw_tcp(const char *ep, const void *buf, size_t len, long ms,
		    size_t *got)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	long closed = -1;
	*got = 0;
	if (fd < 0 || tcp_addr(ep, &sa) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -2;
	}
	int64_t t0 = mono_ms();
	if (len > 0 && send(fd, buf, len, MSG_NOSIGNAL) < 0)
		closed = 0;
	while (closed < 0 && mono_ms() - t0 < ms) {
		struct pollfd p = {fd, POLLIN, 0};
		uint8_t in[4096];
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t r = recv(fd, in, sizeof(in), 0);
		if (r <= 0)
			closed = (long)(mono_ms() - t0);
		else
			*got += (size_t)r;
	}
	close(fd);
	return closed;
}

/* Plain TCP, no ZMTP: random bytes, an HTTP request; and a connection that
 * sends nothing. The target must close each without reading a record. */
static int sc_tcp(harness *h)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t junk[4096];
	size_t g1, g2, g3;
	random_bytes(junk, sizeof(junk));
	long t1 = raw_tcp(h->endpoint, junk, sizeof(junk), 8000, &g1);
	long t2 = raw_tcp(h->endpoint, http, sizeof(http) - 1, 8000, &g2);
	long t3 = raw_tcp(h->endpoint, NULL, 0, 8000, &g3);
	printf("scenario=plain-tcp garbage_closed_ms=%ld http_closed_ms=%ld "
	       "silent_closed_ms=%ld bytes_back=%zu\n",
	       t1, t2, t3, g1 + g2 + g3);
	return t1 >= 0 && t2 >= 0 && t3 >= 0 ? 0 : 1;
}

/* ---- the slow receiver ---- */

/* What the receiver holds per origin: contiguous from seq 1. */
typedef struct rx_origin {
	char region[HT_REGION_LEN + 1];
	uint64_t seq;
	uint8_t head[RECORD_ID_BYTES];
} rx_origin;

typedef struct receiver {
	harness *h;
	void *router;
	uint8_t rid[256];
	size_t rid_len;
	rx_origin *o;
	size_t n, cap;
	uint64_t received, dups, out_of_order, bad, acked, max_in_flight;
	uint64_t hellos, pings;
} receiver;

static int rx_cmp(const void *a, const void *b)
{
	return strcmp(((const rx_origin *)a)->region,
		      ((const rx_origin *)b)->region);
}

static rx_origin *rx_find(receiver *r, const char *region)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->o[i].region, region) == 0)
			return &r->o[i];
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		rx_origin *o = realloc(r->o, cap * sizeof(*o));
		if (o == NULL)
			return NULL;
		r->o = o;
		r->cap = cap;
	}
	rx_origin *o = &r->o[r->n++];
	memset(o, 0, sizeof(*o));
	snprintf(o->region, sizeof(o->region), "%s", region);
	return o;
}

/* The ledger digest (ledger_digest) of what the receiver holds. */
static void rx_digest(receiver *r, char hex[2 * RECORD_ID_BYTES + 1])
{
	crypto_hash_sha256_state st;
	uint8_t out[RECORD_ID_BYTES];
	if (r->n > 0)
		qsort(r->o, r->n, sizeof(*r->o), rx_cmp);
	crypto_hash_sha256_init(&st);
	for (size_t i = 0; i < r->n; i++) {
		uint8_t seq[8];
		for (int k = 0; k < 8; k++)
			seq[k] = (uint8_t)(r->o[i].seq >> (56 - 8 * k));
		crypto_hash_sha256_update(&st, (const uint8_t *)r->o[i].region,
					  HT_REGION_LEN);
		crypto_hash_sha256_update(&st, seq, sizeof(seq));
		crypto_hash_sha256_update(&st, r->o[i].head, RECORD_ID_BYTES);
	}
	crypto_hash_sha256_final(&st, out);
	util_hex(out, RECORD_ID_BYTES, hex);
}

/* One envelope: it must extend its origin's chain (seq + 1, prev = head),
 * or be one already held (a resend). */
static void rx_take(receiver *r, const uint8_t *env, size_t len)
{
	ht_err err = {0};
	record *rec = record_parse(env, len, &err);
	r->received++;
	if (rec == NULL) {
		r->bad++;
		return;
	}
	const Hutong__Header *hd = record_header(rec);
	rx_origin *o = rx_find(r, hd->origin_region);
	if (o == NULL) {
		r->bad++;
	} else if (hd->seq <= o->seq) {
		r->dups++;
	} else if (hd->seq == o->seq + 1 &&
		   (hd->seq == 1 || (hd->prev_id.len == RECORD_ID_BYTES &&
				     memcmp(hd->prev_id.data, o->head,
					    RECORD_ID_BYTES) == 0))) {
		o->seq = hd->seq;
		memcpy(o->head, record_id(rec), RECORD_ID_BYTES);
	} else {
		r->out_of_order++;
		fprintf(stderr,
			"hostile_peer: out of order origin=%s seq=%llu "
			"held=%llu\n",
			hd->origin_region, (unsigned long long)hd->seq,
			(unsigned long long)o->seq);
	}
	record_free(&rec);
}

static int rx_send(receiver *r, const sync_msg *m)
{
	size_t len;
	uint8_t *buf = pack(m, &len);
	int rc = -1;
	if (buf != NULL && r->rid_len > 0 &&
	    zmq_send(r->router, r->rid, r->rid_len, ZMQ_SNDMORE) >= 0 &&
	    zmq_send(r->router, buf, len, 0) >= 0)
		rc = 0;
	free(buf);
	return rc;
}

static void rx_welcome(receiver *r, bool certs)
{
	Hutong__Welcome w = HUTONG__WELCOME__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	ProtobufCBinaryData c[PKI_MAX_CHAIN];
	Hutong__FrontierEntry *e = calloc(r->n ? r->n : 1, sizeof(*e));
	Hutong__FrontierEntry **p = calloc(r->n ? r->n : 1, sizeof(*p));
	size_t k = 0;
	for (size_t i = 0; e && p && i < r->n; i++) {
		if (r->o[i].seq == 0)
			continue;
		hutong__frontier_entry__init(&e[k]);
		e[k].origin = r->o[i].region;
		e[k].seq = r->o[i].seq;
		e[k].head =
		    (ProtobufCBinaryData){RECORD_ID_BYTES, r->o[i].head};
		p[k] = &e[k];
		k++;
	}
	for (size_t i = 0; certs && i < r->h->chain.n; i++)
		c[i] = (ProtobufCBinaryData){r->h->chain.len[i],
					     r->h->chain.der[i]};
	w.version = SYNC_VERSION;
	w.certificates = c;
	w.n_certificates = certs ? r->h->chain.n : 0;
	w.frontier = p;
	w.n_frontier = k;
	w.window = r->h->window;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_WELCOME;
	m.welcome = &w;
	rx_send(r, &m);
	free(e);
	free(p);
}

static void rx_ack(receiver *r, uint32_t count)
{
	Hutong__Ack a = HUTONG__ACK__INIT;
	sync_msg m = HUTONG__SYNC_MESSAGE__INIT;
	a.count = count;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_ACK;
	m.ack = &a;
	if (rx_send(r, &m) == 0)
		r->acked += count;
}

static void rx_message(receiver *r, const sync_msg *m)
{
	switch (m->msg_case) {
	case HUTONG__SYNC_MESSAGE__MSG_HELLO:
		r->hellos++;
		r->acked = r->received; /* a new session: nothing in flight */
		rx_welcome(r, true);
		break;
	case HUTONG__SYNC_MESSAGE__MSG_PING:
		r->pings++;
		rx_welcome(r, false);
		break;
	case HUTONG__SYNC_MESSAGE__MSG_RECORDS:
		for (size_t i = 0; i < m->records->n_envelopes; i++)
			rx_take(r, m->records->envelopes[i].data,
				m->records->envelopes[i].len);
		if (r->received - r->acked > r->max_in_flight)
			r->max_in_flight = r->received - r->acked;
		break;
	default:
		r->bad++;
	}
}

static void rx_read(receiver *r)
{
	for (;;) {
		zmq_msg_t id, msg;
		zmq_msg_init(&id);
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&id, r->router, ZMQ_DONTWAIT) < 0 ||
		    zmq_msg_recv(&msg, r->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&id);
			zmq_msg_close(&msg);
			return;
		}
		if (zmq_msg_size(&id) <= sizeof(r->rid)) {
			memcpy(r->rid, zmq_msg_data(&id), zmq_msg_size(&id));
			r->rid_len = zmq_msg_size(&id);
		}
		sync_msg *m = hutong__sync_message__unpack(
		    NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
		if (m != NULL) {
			rx_message(r, m);
			hutong__sync_message__free_unpacked(m, NULL);
		} else {
			r->bad++;
		}
		zmq_msg_close(&id);
		zmq_msg_close(&msg);
	}
}

/* Bind where the target's [peer] section points, answer its Hello with a
 * small window, ack a few records at a time for --slow-ms, then promptly;
 * every record must arrive in chain order, none lost, and never more than
 * the window unacknowledged. Done when the digest of what arrived equals
 * --expect-digest. */
static int slow_receiver(harness *h)
{
	receiver r = {.h = h};
	char hex[2 * RECORD_ID_BYTES + 1] = "";
	r.router = zmq_socket(h->zctx, ZMQ_ROUTER);
	if (r.router == NULL || set_int(r.router, ZMQ_LINGER, 0) != 0 ||
	    set_int(r.router, ZMQ_CURVE_SERVER, 1) != 0 ||
	    zmq_setsockopt(r.router, ZMQ_CURVE_SECRETKEY, h->sk, KEY_BYTES) ||
	    zmq_bind(r.router, h->listen) != 0) {
		fprintf(stderr, "hostile_peer: bind %s: %s\n", h->listen,
			zmq_strerror(zmq_errno()));
		return 2;
	}
	int64_t t0 = mono_ms(), first = 0, tick = 0;
	uint64_t slow_max = 0;
	while (mono_ms() - t0 < h->timeout_s * 1000) {
		zmq_pollitem_t it = {r.router, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 20) > 0)
			rx_read(&r);
		int64_t now = mono_ms();
		if (first == 0 && r.received > 0)
			first = now;
		bool slow = first == 0 || now - first < h->slow_ms;
		uint64_t pending = r.received - r.acked;
		if (slow && now - tick >= 250 && pending > 0) {
			rx_ack(&r, pending < 8 ? (uint32_t)pending : 8);
			tick = now;
			slow_max = r.max_in_flight;
		} else if (!slow && pending > 0) {
			rx_ack(&r, pending < SYNC_WINDOW ? (uint32_t)pending
							 : SYNC_WINDOW);
		}
		rx_digest(&r, hex);
		if (!slow && h->expect_digest != NULL &&
		    strcmp(hex, h->expect_digest) == 0)
			break;
	}
	bool done = h->expect_digest && strcmp(hex, h->expect_digest) == 0;
	printf("scenario=slow-receiver window=%u slow_ms=%ld received=%llu "
	       "duplicates=%llu out_of_order=%llu bad=%llu max_in_flight=%llu "
	       "slow_max_in_flight=%llu hellos=%llu origins=%zu ms=%lld "
	       "digest=%s complete=%d\n",
	       h->window, h->slow_ms, (unsigned long long)r.received,
	       (unsigned long long)r.dups, (unsigned long long)r.out_of_order,
	       (unsigned long long)r.bad, (unsigned long long)r.max_in_flight,
	       (unsigned long long)slow_max, (unsigned long long)r.hellos, r.n,
	       (long long)(mono_ms() - t0), hex, done);
	free(r.o);
	zmq_close(r.router);
	return done && r.out_of_order == 0 && r.bad == 0 &&
		       r.max_in_flight <= h->window
		   ? 0
		   : 1;
}

/* A receipt of our origin at seq after prev, created now, with one entry
 * (origin, eseq, head). */
static record *build_receipt(origin *o, uint64_t seq, const uint8_t *prev,
			     const char *eorigin, uint64_t eseq,
			     const uint8_t *head)
{
	Hutong__ReceiptEntry en = HUTONG__RECEIPT_ENTRY__INIT, *pe = &en;
	Hutong__Receipt rc = HUTONG__RECEIPT__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	ht_err err = {0};
	record *r = NULL;
	en.origin = (char *)eorigin;
	en.seq = eseq;
	en.head = (ProtobufCBinaryData){RECORD_ID_BYTES, (uint8_t *)head};
	rc.entries = &pe;
	rc.n_entries = 1;
	body.content_case = HUTONG__BODY__CONTENT_RECEIPT;
	body.receipt = &rc;
	sub.author = "node";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	record_origin at = {o->id.region, o->id.name, seq, prev, wall_ms()};
	if (record_build(&sub, &at, ident_sign, o->key, &r, &err) != 0)
		fprintf(stderr, "hostile_peer: build receipt: %s\n", err.msg);
	return r;
}

/* Time and receipts are claims: a record of ours dated 300 days ahead
 * (refused, nothing stored), then at that seq a receipt that names a head
 * the target's own chain contradicts at its seq 1 (stored: a dispute
 * against us). */
static int sc_claims(harness *h)
{
	uint8_t prev[RECORD_ID_BYTES] = {0}, bogus[RECORD_ID_BYTES];
	if (session(h) != 0)
		return 1;
	uint64_t seq = frontier_seq(&h->fr, h->org.id.region, prev);
	if (seq == 0) { /* the target holds no genesis of ours yet */
		if (origin_build(h, 1, "claims") != 0)
			return 1;
		send_built(h, 0, 1);
		if ((seq = await_seq(h, h->org.id.region, 1, WAIT_MS)) < 1)
			return 1;
		frontier_seq(&h->fr, h->org.id.region, prev);
	}
	int64_t future = 300LL * 86400000;
	record *r = NULL;
	{ /* build_one dates records now: this one is 300 days ahead */
		Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
		Hutong__Body body = HUTONG__BODY__INIT;
		Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
		ht_err err = {0};
		in.summary = "hostile from the future";
		body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
		body.intelligence = &in;
		sub.author = "hostile";
		sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
		sub.body = &body;
		record_origin at = {h->org.id.region, h->org.id.name, seq + 1,
				    prev, wall_ms() + future};
		if (record_build(&sub, &at, ident_sign, h->org.key, &r, &err))
			return 1;
	}
	/* another origin the target holds (copied: pumping replaces h->fr) */
	char victim_buf[HT_REGION_LEN + 1] = "";
	const char *victim = NULL;
	for (size_t i = 0; i < h->fr.n && victim == NULL; i++)
		if (strcmp(h->fr.region[i], h->org.id.region) != 0) {
			snprintf(victim_buf, sizeof(victim_buf), "%s",
				 h->fr.region[i]);
			victim = victim_buf;
		}
	memset(bogus, 0xee, sizeof(bogus));
	record *lie =
	    victim ? build_receipt(&h->org, seq + 1, prev, victim, 1, bogus)
		   : NULL;
	if (r == NULL || lie == NULL) {
		record_free(&r);
		record_free(&lie);
		return 1;
	}
	ProtobufCBinaryData env[2] = {env_of(r), env_of(lie)};
	send_records(h, env, 1);
	pump(h, WAIT_MS, got_ack);
	send_records(h, env + 1, 1);
	uint64_t got = await_seq(h, h->org.id.region, seq + 1, WAIT_MS);
	printf("scenario=claims origin=%s future_seq=%llu victim=%s "
	       "receipt_stored=%d\n",
	       h->org.id.region, (unsigned long long)(seq + 1), victim,
	       got > seq);
	record_free(&r);
	record_free(&lie);
	conn_close(h);
	return got > seq ? 0 : 1;
}

/* ---- main ---- */

/* --count (default 1,100) authorized CURVE connections at once, all held
 * open for a while: the target must refuse those over its per-peer and
 * total limits (ZAP) without running out of file descriptors. Prints how
 * many are linked after the handshakes (ZMQ_IMMEDIATE: POLLOUT only on a
 * live connection); passes when a few are, no more than the limit. */
static int sc_connections(harness *h)
{
	size_t n = h->count ? h->count : 1100, up = 0, made = 0;
	void **socks = calloc(n, sizeof(*socks));
	struct rlimit r;
	if (socks == NULL)
		return -1;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
	zmq_ctx_set(h->zctx, ZMQ_MAX_SOCKETS, (int)n + 64);
	for (size_t i = 0; i < n; i++) {
		void *d = zmq_socket(h->zctx, ZMQ_DEALER);
		if (d == NULL || set_int(d, ZMQ_LINGER, 0) != 0 ||
		    set_int(d, ZMQ_RECONNECT_IVL, -1) != 0 ||
		    set_int(d, ZMQ_IMMEDIATE, 1) != 0 || /* POLLOUT: linked */
		    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, h->server_pk,
				   KEY_BYTES) != 0 ||
		    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, h->pk, KEY_BYTES) ||
		    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, h->sk, KEY_BYTES) ||
		    zmq_connect(d, h->endpoint) != 0) {
			if (d != NULL)
				zmq_close(d);
			break;
		}
		socks[made++] = d;
	}
	sleep_ms(4000); /* handshakes (and refusals) done; held open */
	for (size_t i = 0; i < made; i++) {
		zmq_pollitem_t it = {socks[i], 0, ZMQ_POLLOUT, 0};
		if (zmq_poll(&it, 1, 0) == 1 && (it.revents & ZMQ_POLLOUT))
			up++;
	}
	for (size_t i = 0; i < made; i++)
		zmq_close(socks[i]);
	free(socks);
	printf("scenario=connections opened=%zu up=%zu\n", made, up);
	/* the target's per-peer limit (4) and the harness's other link */
	return made == n && up >= 1 && up <= 8 ? 0 : -1;
}

static const struct scenario {
	const char *name;
	int (*fn)(harness *h);
	const char *help;
} scenarios[] = {
    {"garbage", sc_garbage, "random frames and a multipart message"},
    {"truncated", sc_truncated, "a cut envelope, then a cut frame"},
    {"oversized", sc_oversized, "envelope, batch and frame over their limits"},
    {"before-hello", sc_before_hello, "records before Hello"},
    {"misplaced", sc_misplaced, "an Ack from a sender"},
    {"bad-signature", sc_bad_signature, "flipped signatures, then valid"},
    {"forged", sc_forged, "records of other origins signed by us"},
    {"records", sc_records, "--count valid records of --origin"},
    {"replay", sc_replay, "the same records 41 times"},
    {"gap", sc_gap, "out of order, a gap, beyond the gap buffer"},
    {"fork", sc_fork, "two records at one seq, then one beyond"},
    {"claims", sc_claims, "a record 300 days ahead, then a lying receipt"},
    {"flood", sc_flood, "--count records, ignoring the window"},
    {"bigflood", sc_bigflood, "--count 8 MiB frames of junk envelopes"},
    {"stall", sc_stall, "Hello, then freeze (SIGSTOP)"},
    {"plain-tcp", sc_tcp, "raw TCP: garbage, HTTP, silence"},
    {"connections", sc_connections, "--count (1,100) authorized connections"},
};

static int usage(void)
{
	fprintf(stderr,
		"usage: hostile_peer --dir DIR --endpoint EP --server-cert CRT "
		"[--origin DIR] [--count N] [--big] [--frame-bytes N] "
		"SCENARIO...\n"
		"       hostile_peer --dir DIR --listen EP slow-receiver "
		"[--window W] [--slow-ms MS] [--expect-digest HEX] "
		"[--timeout S]\nscenarios:\n");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(stderr, "  %-14s %s\n", scenarios[i].name,
			scenarios[i].help);
	return 2;
}

static const struct scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

/* Keys, certificates and the origin. */
static int setup(harness *h)
{
	char path[PATH_MAX];
	ht_err err = {0};
	pki_identity server;
	snprintf(path, sizeof(path), "%s/link.key", h->dir);
	if ((h->sk = sodium_malloc(KEY_BYTES)) == NULL ||
	    ident_link_load(path, h->pk, h->sk, &err) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/node.crt", h->dir);
	if (pki_chain_read_pem(path, &h->chain, &err) != 0)
		goto fail;
	if (h->server_cert != NULL) {
		snprintf(path, sizeof(path), "%s", h->server_cert);
		if (pki_identity_from_pem_file(path, &server, &err) != 0)
			goto fail;
		memcpy(h->server_pk, server.link_pk, KEY_BYTES);
	}
	if (h->endpoint != NULL &&
	    origin_load(&h->org, h->origin_dir ? h->origin_dir : h->dir) != 0)
		return -1;
	return 0;
fail:
	fprintf(stderr, "hostile_peer: %s: %s\n", path, err.msg);
	return -1;
}

/* Options with a value; a number is at most SYNC_MAX_FRAME. */
static int parse_opt(harness *h, int argc, char **argv, int *i)
{
	const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	const char **str[] = {&h->dir,	    &h->origin_dir,
			      &h->endpoint, &h->server_cert,
			      &h->listen,   &h->expect_digest};
	static const char *const str_names[] = {
	    "--dir",	     "--origin", "--endpoint",
	    "--server-cert", "--listen", "--expect-digest"};
	uint64_t n;
	if (strcmp(o, "--big") == 0) {
		h->org.big = true;
		return 0;
	}
	if (v == NULL)
		return -1;
	(*i)++;
	for (size_t k = 0; k < sizeof(str) / sizeof(str[0]); k++)
		if (strcmp(o, str_names[k]) == 0) {
			*str[k] = v;
			return 0;
		}
	if (util_parse_u64(v, 0, SYNC_MAX_FRAME, &n) != 0)
		return -1;
	if (strcmp(o, "--count") == 0)
		h->count = (size_t)n;
	else if (strcmp(o, "--window") == 0)
		h->window = (uint32_t)n;
	else if (strcmp(o, "--slow-ms") == 0)
		h->slow_ms = (long)n;
	else if (strcmp(o, "--timeout") == 0)
		h->timeout_s = (long)n;
	else if (strcmp(o, "--frame-bytes") == 0)
		h->frame_bytes = (size_t)n;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	harness h = {.window = 64,
		     .slow_ms = 3000,
		     .timeout_s = 60,
		     .frame_bytes = SYNC_MAX_BATCH_BYTES};
	const char *names[32];
	int n = 0, rc = 0;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			if (parse_opt(&h, argc, argv, &i) != 0)
				return usage();
		} else if (n < 32) {
			names[n++] = argv[i];
		}
	}
	if (n == 0 || h.dir == NULL || sodium_init() < 0)
		return usage();
	bool rx = strcmp(names[0], "slow-receiver") == 0;
	if (rx ? h.listen == NULL || n != 1
	       : h.endpoint == NULL || h.server_cert == NULL)
		return usage();
	for (int i = 0; !rx && i < n; i++)
		if (find_scenario(names[i]) == NULL)
			return usage();
	if (setup(&h) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	h.zctx = zmq_ctx_new();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (rx)
		rc = slow_receiver(&h);
	for (int i = 0; !rx && i < n; i++)
		if (find_scenario(names[i])->fn(&h) != 0) {
			printf("scenario=%s FAILED\n", names[i]);
			rc = 1;
		}
	conn_close(&h);
	zmq_ctx_term(h.zctx);
	origin_clear(&h.org);
	ident_free(&h.org.key);
	pki_chain_clear(&h.org.chain);
	pki_chain_clear(&h.chain);
	frontier_clear(&h.fr);
	sodium_free(h.sk);
	return rc;
}
