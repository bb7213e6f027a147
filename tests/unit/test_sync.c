/*
 * test_sync: the federation protocol's state machines, wired by in-memory
 * queues in one process. Each node is a real node (node_open on a temp dir,
 * its own key from ident_generate, records from node_submit, node_receive as
 * the store), so what is checked is what the daemon runs: catch-up after
 * Hello/Welcome, live push, relay over two hops, the credit window, Want on
 * a gap, hostile frames refused and counted, a forged record refused and not
 * relayed, and duplicates from two neighbours stored once.
 *
 * Time is a variable the tests move (the sessions never read a clock).
 */
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ident.h"
#include "ledger.h"
#include "node.h"
#include "sync.h"
#include "sync.pb-c.h"

#define T0 1795939200000 /* 2026-11-29T08:00:00Z */
#define MAX_NODES 4
#define MAX_LINKS 8

static char tmpdir[] = "/tmp/hutong-test-sync-XXXXXX";
static int64_t now_ms; /* the tests' clock */

static int64_t clock_now(void *ctx) { return T0 + now_ms; }

static int64_t clock_mono(void *ctx) { return now_ms; }

static const ht_clock test_clock = {clock_now, clock_mono, NULL};

/* ---- nodes ---- */

typedef struct tnode {
	node *n;
	ht_log *log;
	char *logbuf;
	size_t loglen;
	FILE *logf;
	sync_node_ops ops;
} tnode;

static void tnode_open(tnode *t, const char *name, const char *region)
{
	char dir[PATH_MAX], key[PATH_MAX], db[PATH_MAX];
	ht_err err = {0};
	memset(t, 0, sizeof(*t));
	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	snprintf(key, sizeof(key), "%s/%s/node.key", tmpdir, name);
	snprintf(db, sizeof(db), "%s/%s/ledger.db", tmpdir, name);
	CHECK(mkdir(dir, 0700) == 0);
	CHECK_EQ_INT(ident_generate(key, &err), 0);
	t->logf = open_memstream(&t->logbuf, &t->loglen);
	t->log = log_new(t->logf, LOG_INFO, &test_clock);
	node_config cfg = {.name = name,
			   .region = region,
			   .key_path = key,
			   .ledger_path = db,
			   .clock = &test_clock,
			   .log = t->log};
	t->n = node_open(&cfg, &err);
	CHECK(t->n != NULL);
	if (t->n == NULL)
		fprintf(stderr, "node_open %s: %s\n", name, err.msg);
	t->ops = (sync_node_ops){.store = node_receive,
				 .ctx = t->n,
				 .ledger = node_ledger(t->n),
				 .log = t->log};
}

static void tnode_close(tnode *t)
{
	node_free(&t->n);
	log_free(&t->log);
	if (t->logf)
		fclose(t->logf);
	free(t->logbuf);
	memset(t, 0, sizeof(*t));
}

/* The node's log so far (NUL-terminated). */
static const char *tnode_log(tnode *t)
{
	fflush(t->logf);
	return t->logbuf ? t->logbuf : "";
}

static int count_lines(const char *log, const char *needle)
{
	int n = 0;
	for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static ledger *L(tnode *t) { return node_ledger(t->n); }

static void submit(tnode *t, size_t count)
{
	static char summary[] = "a lead about a gathering";
	while (count > 0) {
		size_t k = count < NODE_MAX_BATCH ? count : NODE_MAX_BATCH;
		Hutong__Intelligence in[NODE_MAX_BATCH];
		Hutong__Body body[NODE_MAX_BATCH];
		Hutong__Submission sub[NODE_MAX_BATCH], *subs[NODE_MAX_BATCH];
		node_result *res = calloc(k, sizeof(*res));
		for (size_t i = 0; i < k; i++) {
			hutong__intelligence__init(&in[i]);
			in[i].summary = summary;
			hutong__body__init(&body[i]);
			body[i].content_case =
			    HUTONG__BODY__CONTENT_INTELLIGENCE;
			body[i].intelligence = &in[i];
			hutong__submission__init(&sub[i]);
			sub[i].author = "officer-7";
			sub[i].scope = HUTONG__SCOPE__SCOPE_NATIONAL;
			sub[i].body = &body[i];
			subs[i] = &sub[i];
		}
		ht_err err = {0};
		CHECK_EQ_INT(node_submit(t->n, subs, k, res, &err), 0);
		for (size_t i = 0; i < k; i++)
			CHECK_EQ_INT(res[i].code, 0);
		free(res);
		count -= k;
	}
}

static bool same_digest(tnode *a, tnode *b)
{
	uint8_t da[RECORD_ID_BYTES], db[RECORD_ID_BYTES];
	ledger_digest(L(a), da);
	ledger_digest(L(b), db);
	return memcmp(da, db, sizeof(da)) == 0;
}

static int verify_problems(tnode *t)
{
	ht_err err = {0};
	return ledger_verify(L(t), NULL, NULL, &err);
}

/* ---- queues and links ---- */

typedef struct frame {
	struct frame *next;
	uint8_t *buf;
	size_t len;
} frame;

typedef struct queue {
	frame *head, *tail;
	size_t n;
	bool drop_acks;	  /* a receiver whose acks never arrive */
	int drop_records; /* lose this many Records frames */
	int busy;	  /* refuse this many sends (channel full) */
} queue;

static Hutong__SyncMessage__MsgCase frame_case(const uint8_t *buf, size_t len)
{
	Hutong__SyncMessage *m = hutong__sync_message__unpack(NULL, len, buf);
	Hutong__SyncMessage__MsgCase c = m ? m->msg_case : 0;
	hutong__sync_message__free_unpacked(m, NULL);
	return c;
}

static int q_send(void *ctx, const uint8_t *buf, size_t len)
{
	queue *q = ctx;
	Hutong__SyncMessage__MsgCase c = frame_case(buf, len);
	if (q->busy > 0) {
		q->busy--;
		return 1;
	}
	if (q->drop_acks && c == HUTONG__SYNC_MESSAGE__MSG_ACK)
		return 0;
	if (q->drop_records > 0 && c == HUTONG__SYNC_MESSAGE__MSG_RECORDS) {
		q->drop_records--;
		return 0;
	}
	frame *f = calloc(1, sizeof(*f));
	f->buf = malloc(len ? len : 1);
	memcpy(f->buf, buf, len);
	f->len = len;
	if (q->tail)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	q->n++;
	return 0;
}

static frame *q_pop(queue *q)
{
	frame *f = q->head;
	if (f) {
		q->head = f->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
	}
	return f;
}

static void frame_free(frame *f)
{
	if (f) {
		free(f->buf);
		free(f);
	}
}

static void q_clear(queue *q)
{
	frame *f;
	while ((f = q_pop(q)) != NULL)
		frame_free(f);
}

/* One session: a's sender pushing to b's receiver. */
typedef struct tlink {
	tnode *a, *b;
	sync_sender *s;
	sync_receiver *r;
	queue to_r, to_s;
} tlink;

typedef struct net {
	tlink *l[MAX_LINKS];
	size_t n;
} net;

static tlink *link_new(net *nt, tnode *a, tnode *b)
{
	tlink *l = calloc(1, sizeof(*l));
	l->a = a;
	l->b = b;
	l->s = sync_sender_new(&a->ops, node_name(b->n), q_send, &l->to_r);
	l->r = sync_receiver_new(&b->ops, node_name(a->n), q_send, &l->to_s);
	nt->l[nt->n++] = l;
	return l;
}

/* Both directions between a and b, paired as a shell pairs them. */
static void neighbours(net *nt, tnode *a, tnode *b, tlink **ab, tlink **ba)
{
	*ab = link_new(nt, a, b);
	*ba = link_new(nt, b, a);
	sync_receiver_pair((*ba)->r, (*ab)->s); /* at a: from b, to b */
	sync_receiver_pair((*ab)->r, (*ba)->s); /* at b: from a, to a */
}

static void net_free(net *nt)
{
	for (size_t i = 0; i < nt->n; i++) {
		tlink *l = nt->l[i];
		sync_receiver_free(&l->r);
		sync_sender_free(&l->s);
		CHECK(l->r == NULL && l->s == NULL);
		q_clear(&l->to_r);
		q_clear(&l->to_s);
		free(l);
	}
	nt->n = 0;
}

static void connect_all(net *nt)
{
	for (size_t i = 0; i < nt->n; i++)
		sync_sender_on_connect(nt->l[i]->s, now_ms);
}

/* A node stored something: every sender of that node may have work. */
static void pump_node(net *nt, tnode *t)
{
	for (size_t i = 0; i < nt->n; i++)
		if (nt->l[i]->a == t)
			sync_sender_pump(nt->l[i]->s);
}

/* Deliver one frame each way on every link, round-robin, until all queues
 * are empty (or a step budget runs out). Returns frames delivered. */
static size_t run(net *nt)
{
	size_t delivered = 0;
	for (int step = 0; step < 1000000; step++) {
		bool any = false;
		for (size_t i = 0; i < nt->n; i++) {
			tlink *l = nt->l[i];
			frame *f = q_pop(&l->to_r);
			size_t stored = 0;
			if (f) {
				int rc = sync_receiver_on_frame(
				    l->r, f->buf, f->len, now_ms, &stored);
				CHECK_EQ_INT(rc, 0);
				if (stored)
					pump_node(nt, l->b);
				any = true;
				delivered++;
			}
			frame_free(f);
			if ((f = q_pop(&l->to_s)) != NULL) {
				CHECK_EQ_INT(sync_sender_on_frame(
						 l->s, f->buf, f->len, now_ms),
					     0);
				any = true;
				delivered++;
			}
			frame_free(f);
		}
		if (!any)
			break;
	}
	return delivered;
}

static void tick_all(net *nt, int64_t advance)
{
	now_ms += advance;
	for (size_t i = 0; i < nt->n; i++)
		sync_sender_tick(nt->l[i]->s, now_ms);
}

/* ---- building frames by hand ---- */

static uint8_t *encode(const Hutong__SyncMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(&m->base);
	uint8_t *buf = malloc(*len ? *len : 1);
	protobuf_c_message_pack(&m->base, buf);
	return buf;
}

static uint8_t *hello_frame(uint32_t version, size_t n_certs, size_t *len)
{
	static uint8_t cert[16] = {0x30};
	ProtobufCBinaryData certs[8];
	for (size_t i = 0; i < n_certs && i < 8; i++)
		certs[i] = (ProtobufCBinaryData){sizeof(cert), cert};
	Hutong__Hello h = HUTONG__HELLO__INIT;
	h.version = version;
	h.certificates = certs;
	h.n_certificates = n_certs;
	Hutong__SyncMessage m = HUTONG__SYNC_MESSAGE__INIT;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_HELLO;
	m.hello = &h;
	return encode(&m, len);
}

typedef struct env_list {
	uint8_t *buf[SYNC_MAX_BATCH + 1];
	size_t len[SYNC_MAX_BATCH + 1];
	size_t n;
} env_list;

static int env_collect(void *ctx, const uint8_t *env, size_t len, uint64_t seq)
{
	env_list *e = ctx;
	e->buf[e->n] = malloc(len);
	memcpy(e->buf[e->n], env, len);
	e->len[e->n++] = len;
	return 0;
}

/* Envelopes of origin's chain, seq from..to, from t's ledger. */
static void envelopes(tnode *t, uint64_t from, uint64_t to, env_list *e)
{
	ht_err err = {0};
	memset(e, 0, sizeof(*e));
	int n =
	    ledger_range(L(t), node_region(t->n), from, (size_t)(to - from + 1),
			 SIZE_MAX, env_collect, e, &err);
	CHECK_EQ_INT(n, (int)(to - from + 1));
}

static void env_list_free(env_list *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->buf[i]);
	e->n = 0;
}

static uint8_t *records_frame(const env_list *e, size_t *len)
{
	ProtobufCBinaryData env[SYNC_MAX_BATCH + 1];
	for (size_t i = 0; i < e->n; i++)
		env[i] = (ProtobufCBinaryData){e->len[i], e->buf[i]};
	Hutong__Records r = HUTONG__RECORDS__INIT;
	r.envelopes = env;
	r.n_envelopes = e->n;
	Hutong__SyncMessage m = HUTONG__SYNC_MESSAGE__INIT;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_RECORDS;
	m.records = &r;
	return encode(&m, len);
}

static uint8_t *want_frame(const char *origin, uint64_t from, size_t *len)
{
	Hutong__Want w = HUTONG__WANT__INIT;
	w.origin = (char *)origin;
	w.from_seq = from;
	Hutong__SyncMessage m = HUTONG__SYNC_MESSAGE__INIT;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_WANT;
	m.want = &w;
	return encode(&m, len);
}

static int feed_r(sync_receiver *r, uint8_t *buf, size_t len, size_t *stored)
{
	int rc = sync_receiver_on_frame(r, buf, len, now_ms, stored);
	free(buf);
	return rc;
}

static int feed_s(sync_sender *s, uint8_t *buf, size_t len)
{
	int rc = sync_sender_on_frame(s, buf, len, now_ms);
	free(buf);
	return rc;
}

/* Pop frames from q until one of kind c; NULL if none. */
static Hutong__SyncMessage *q_find(queue *q, Hutong__SyncMessage__MsgCase c)
{
	frame *f;
	while ((f = q_pop(q)) != NULL) {
		Hutong__SyncMessage *m =
		    hutong__sync_message__unpack(NULL, f->len, f->buf);
		frame_free(f);
		if (m && m->msg_case == c)
			return m;
		hutong__sync_message__free_unpacked(m, NULL);
	}
	return NULL;
}

/* ---- tests ---- */

/* Hello/Welcome, then each side streams what the other lacks, once. */
static void test_catch_up(void)
{
	tnode a, b;
	net nt = {0};
	tlink *ab, *ba;
	tnode_open(&a, "nanjing", "320100");
	tnode_open(&b, "nanchang", "360100");
	submit(&a, 300);
	submit(&b, 5);
	neighbours(&nt, &a, &b, &ab, &ba);
	CHECK(!sync_sender_stats(ab->s)->connected);
	CHECK_EQ_INT(sync_sender_next_ms(ab->s, now_ms), -1);
	connect_all(&nt);
	CHECK_EQ_INT(sync_sender_next_ms(ab->s, now_ms), SYNC_HELLO_MS);
	run(&nt);
	CHECK(same_digest(&a, &b));
	CHECK_EQ_INT(ledger_record_count(L(&a)), 307);
	CHECK_EQ_INT(ledger_record_count(L(&b)), 307);
	const sync_stats *sa = sync_sender_stats(ab->s);
	const sync_stats *rb = sync_receiver_stats(ab->r);
	CHECK(sa->connected && rb->connected);
	CHECK_EQ_INT(sa->sent, 301); /* exactly what b lacked: no echo */
	CHECK_EQ_INT(sync_sender_stats(ba->s)->sent, 6);
	CHECK_EQ_INT(rb->received, 301);
	CHECK_EQ_INT(rb->stored, 301);
	CHECK_EQ_INT(rb->duplicates + rb->refused + rb->bad_frames, 0);
	CHECK_EQ_INT(sa->peer_behind, 0);
	/* bytes on the link, both ways: Hello, 2 Records / Welcome, 2 Acks */
	CHECK_EQ_INT(sa->frames_sent, 3);
	CHECK_EQ_INT(rb->frames_received, 3);
	CHECK_EQ_INT(rb->frames_sent, 3);
	CHECK_EQ_INT(sa->frames_received, 3);
	CHECK_EQ_INT(sa->bytes_sent, rb->bytes_received);
	CHECK_EQ_INT(rb->bytes_sent, sa->bytes_received);
	CHECK(sa->bytes_sent > 301 * 100);
	CHECK_EQ_INT(sync_sender_next_ms(ab->s, now_ms), SYNC_PING_MS);
	CHECK_EQ_INT(verify_problems(&a), 0);
	CHECK_EQ_INT(verify_problems(&b), 0);
	CHECK_HAS(tnode_log(&a), "sync open peer=nanchang role=sender");
	CHECK_HAS(tnode_log(&b), "sync open peer=nanjing role=receiver");

	/* anti-entropy: a ping round trip changes nothing and resends nothing
	 */
	tick_all(&nt, SYNC_PING_MS);
	run(&nt);
	CHECK_EQ_INT(sa->sent, 301);
	CHECK_EQ_INT(sa->rewinds, 0);

	/* live push: a new record goes out as soon as the sender is pumped */
	submit(&a, 1);
	pump_node(&nt, &a);
	CHECK_EQ_INT(ab->to_r.n, 1);
	run(&nt);
	CHECK_EQ_INT(sa->sent, 302);
	CHECK(same_digest(&a, &b));

	/* disconnect and reconnect: Welcome says b has it all, nothing resent
	 */
	sync_sender_on_disconnect(ab->s);
	sync_receiver_on_disconnect(ab->r);
	CHECK(!sa->connected && !rb->connected);
	submit(&a, 2);
	sync_sender_on_connect(ab->s, now_ms);
	run(&nt);
	CHECK_EQ_INT(sa->sent, 304);
	CHECK(same_digest(&a, &b));
	net_free(&nt);
	tnode_close(&a);
	tnode_close(&b);
}

/* A record from a reaches c through b, and only after b stored it. */
static void test_relay(void)
{
	tnode a, b, c;
	net nt = {0};
	tlink *ab, *ba, *bc, *cb;
	tnode_open(&a, "dalian", "210200");
	tnode_open(&b, "liaoning", "210000");
	tnode_open(&c, "hebei", "130000");
	neighbours(&nt, &a, &b, &ab, &ba);
	neighbours(&nt, &b, &c, &bc, &cb);
	connect_all(&nt);
	run(&nt);
	CHECK(same_digest(&a, &c));
	submit(&a, 10);
	pump_node(&nt, &a);
	run(&nt);
	CHECK(same_digest(&a, &b));
	CHECK(same_digest(&a, &c));
	CHECK_EQ_INT(ledger_record_count(L(&c)), 13);
	ledger_meta meta;
	record *r = NULL;
	ht_err err = {0};
	CHECK_EQ_INT(ledger_get_seq(L(&c), "210200", 5, &r, &meta, &err), 0);
	CHECK_STR(meta.source, "liaoning");
	record_free(&r);
	/* at most once per link: b->c carried a's 11 and b's genesis */
	CHECK_EQ_INT(sync_sender_stats(bc->s)->sent, 12);
	CHECK_EQ_INT(sync_sender_stats(cb->s)->sent, 1);
	CHECK_EQ_INT(sync_sender_stats(ba->s)->sent, 2);
	net_free(&nt);
	tnode_close(&a);
	tnode_close(&b);
	tnode_close(&c);
}

/* The sender stops at the window while acks do not come; a Ping answer
 * that shows the acks are lost reopens it, and nothing is lost. */
static void test_window(void)
{
	tnode a, b;
	net nt = {0};
	tlink *ab, *ba;
	tnode_open(&a, "changsha", "430100");
	tnode_open(&b, "hunan", "430000");
	submit(&a, 3000);
	neighbours(&nt, &a, &b, &ab, &ba);
	ab->to_s.drop_acks = true;
	connect_all(&nt);
	run(&nt);
	const sync_stats *sa = sync_sender_stats(ab->s);
	CHECK_EQ_INT(sa->sent, SYNC_WINDOW);
	CHECK_EQ_INT(sync_receiver_stats(ab->r)->stored, SYNC_WINDOW);
	CHECK_EQ_INT(sa->peer_behind, 3001); /* no acks: nothing known */
	CHECK(!same_digest(&a, &b));
	/* pumping again sends nothing: the window is full */
	sync_sender_pump(ab->s);
	CHECK_EQ_INT(ab->to_r.n, 0);

	/* a Ping answered with a Welcome while acks are missing */
	tick_all(&nt, SYNC_PING_MS);
	run(&nt);
	CHECK_EQ_INT(sa->sent, 3001);
	CHECK(same_digest(&a, &b));
	CHECK_HAS(tnode_log(&a), "acks missing peer=hunan");
	CHECK_EQ_INT(sa->rewinds, 0); /* nothing needed resending */
	net_free(&nt);
	tnode_close(&a);
	tnode_close(&b);
}

/* Records lost on the way: the Ping answer shows the peer lacks them and
 * nothing is in flight any more, so the sender rewinds and resends. A
 * channel that refuses a send is retried on the next tick. */
static void test_loss(void)
{
	tnode a, b;
	net nt = {0};
	tlink *ab, *ba;
	tnode_open(&a, "guangzhou", "440100");
	tnode_open(&b, "guangdong", "440000");
	submit(&a, 20);
	neighbours(&nt, &a, &b, &ab, &ba);
	ab->to_r.drop_records = 1;
	connect_all(&nt);
	run(&nt);
	const sync_stats *sa = sync_sender_stats(ab->s);
	CHECK_EQ_INT(sa->sent, 21);
	CHECK(ledger_origin_find(L(&b), "440100") == NULL);
	CHECK_EQ_INT(sa->peer_behind, 21);
	tick_all(&nt, SYNC_PING_MS);
	run(&nt);
	CHECK_EQ_INT(sa->rewinds, 1);
	CHECK_EQ_INT(sa->sent, 42);
	CHECK(same_digest(&a, &b));
	CHECK_EQ_INT(sa->peer_behind, 0);

	/* the channel is full: nothing is lost, the tick retries */
	ab->to_r.busy = 1;
	submit(&a, 1);
	pump_node(&nt, &a);
	CHECK_EQ_INT(ab->to_r.n, 0);
	CHECK_EQ_INT(sync_sender_next_ms(ab->s, now_ms), SYNC_RETRY_MS);
	tick_all(&nt, SYNC_RETRY_MS);
	CHECK_EQ_INT(ab->to_r.n, 1);
	run(&nt);
	CHECK(same_digest(&a, &b));
	CHECK_EQ_INT(sa->sent, 43);
	net_free(&nt);
	tnode_close(&a);
	tnode_close(&b);
}

/* Records ahead of a gap wait and ask for the gap; the sender honours a
 * Want by resending from there. */
static void test_want(void)
{
	tnode a, b;
	queue toa = {0}, tob = {0};
	size_t len, stored = 0;
	uint8_t *buf;
	tnode_open(&a, "nanning", "450100");
	tnode_open(&b, "guangxi", "450000");
	submit(&a, 9); /* seq 1..10 */
	sync_receiver *r = sync_receiver_new(&b.ops, "nanning", q_send, &toa);
	buf = hello_frame(SYNC_VERSION, 0, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, NULL), 0);
	Hutong__SyncMessage *m =
	    q_find(&toa, HUTONG__SYNC_MESSAGE__MSG_WELCOME);
	CHECK(m != NULL && m->welcome->window == SYNC_WINDOW);
	CHECK(m != NULL && m->welcome->n_frontier == 1); /* b's own genesis */
	hutong__sync_message__free_unpacked(m, NULL);

	env_list e;
	envelopes(&a, 4, 6, &e); /* origin 450100 is unknown to b: a gap */
	buf = records_frame(&e, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, &stored), 0);
	env_list_free(&e);
	CHECK_EQ_INT(stored, 0);
	const sync_stats *st = sync_receiver_stats(r);
	CHECK_EQ_INT(st->buffered, 3);
	CHECK_EQ_INT(st->gaps, 1);
	m = q_find(&toa, HUTONG__SYNC_MESSAGE__MSG_ACK);
	CHECK(m != NULL && m->ack->count == 3 && m->ack->n_frontier == 0);
	hutong__sync_message__free_unpacked(m, NULL);
	m = q_find(&toa, HUTONG__SYNC_MESSAGE__MSG_WANT);
	CHECK(m != NULL && strcmp(m->want->origin, "450100") == 0 &&
	      m->want->from_seq == 1);
	hutong__sync_message__free_unpacked(m, NULL);

	/* the gap arrives: it and the buffered records are stored */
	envelopes(&a, 1, 3, &e);
	buf = records_frame(&e, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, &stored), 0);
	env_list_free(&e);
	CHECK_EQ_INT(stored, 6);
	CHECK_EQ_INT(st->buffered, 0);
	CHECK_EQ_INT(ledger_origin_find(L(&b), "450100")->seq, 6);
	m = q_find(&toa, HUTONG__SYNC_MESSAGE__MSG_ACK);
	CHECK(m != NULL && m->ack->n_frontier == 1 &&
	      m->ack->frontier[0]->seq == 6);
	hutong__sync_message__free_unpacked(m, NULL);

	/* a second gap: one Want, then none until SYNC_WANT_MS has passed */
	envelopes(&a, 8, 8, &e);
	buf = records_frame(&e, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, &stored), 0);
	buf = records_frame(&e, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, &stored), 0);
	env_list_free(&e);
	CHECK_EQ_INT(st->gaps, 2);
	CHECK_EQ_INT(st->buffered, 1);
	now_ms += SYNC_WANT_MS;
	Hutong__Ping p = HUTONG__PING__INIT;
	Hutong__SyncMessage pm = HUTONG__SYNC_MESSAGE__INIT;
	pm.msg_case = HUTONG__SYNC_MESSAGE__MSG_PING;
	pm.ping = &p;
	buf = encode(&pm, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, &stored), 0);
	CHECK_EQ_INT(st->gaps, 3);
	m = q_find(&toa, HUTONG__SYNC_MESSAGE__MSG_WANT);
	CHECK(m != NULL && m->want->from_seq == 7);
	hutong__sync_message__free_unpacked(m, NULL);
	q_clear(&toa);

	/* the sender side: a Want rewinds the cursor of that origin */
	sync_sender *s = sync_sender_new(&a.ops, "guangxi", q_send, &tob);
	sync_sender_on_connect(s, now_ms);
	m = q_find(&tob, HUTONG__SYNC_MESSAGE__MSG_HELLO);
	CHECK(m != NULL && m->hello->n_frontier == 1 &&
	      m->hello->frontier[0]->seq == 10);
	hutong__sync_message__free_unpacked(m, NULL);
	Hutong__Welcome w = HUTONG__WELCOME__INIT;
	Hutong__SyncMessage wm = HUTONG__SYNC_MESSAGE__INIT;
	w.version = SYNC_VERSION;
	w.window = SYNC_WINDOW;
	wm.msg_case = HUTONG__SYNC_MESSAGE__MSG_WELCOME;
	wm.welcome = &w;
	buf = encode(&wm, &len);
	CHECK_EQ_INT(feed_s(s, buf, len), 0);
	CHECK_EQ_INT(sync_sender_stats(s)->sent, 10);
	q_clear(&tob);
	buf = want_frame("450100", 5, &len);
	CHECK_EQ_INT(feed_s(s, buf, len), 0);
	m = q_find(&tob, HUTONG__SYNC_MESSAGE__MSG_RECORDS);
	CHECK(m != NULL && m->records->n_envelopes == 6); /* seq 5..10 */
	hutong__sync_message__free_unpacked(m, NULL);
	CHECK_EQ_INT(sync_sender_stats(s)->gaps, 1);
	/* a Want for an origin we do not hold is harmless */
	buf = want_frame("110000", 1, &len);
	CHECK_EQ_INT(feed_s(s, buf, len), 0);
	CHECK_EQ_INT(tob.n, 0);

	sync_sender_free(&s);
	sync_receiver_free(&r);
	q_clear(&toa);
	q_clear(&tob);
	tnode_close(&a);
	tnode_close(&b);
}

/* The gap buffer is bounded per origin; what falls out is counted. */
static void test_gap_bound(void)
{
	tnode a, b;
	queue toa = {0};
	size_t len, stored;
	uint8_t *buf;
	tnode_open(&a, "xian", "610100");
	tnode_open(&b, "shaanxi", "610000");
	submit(&a, SYNC_GAP_PER_ORIGIN + 20);
	sync_receiver *r = sync_receiver_new(&b.ops, "xian", q_send, &toa);
	buf = hello_frame(SYNC_VERSION, 0, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, NULL), 0);
	env_list e;
	for (uint64_t from = 2; from <= SYNC_GAP_PER_ORIGIN + 21; from += 64) {
		uint64_t to = from + 63 < SYNC_GAP_PER_ORIGIN + 21
				  ? from + 63
				  : SYNC_GAP_PER_ORIGIN + 21;
		envelopes(&a, from, to, &e);
		buf = records_frame(&e, &len);
		CHECK_EQ_INT(feed_r(r, buf, len, &stored), 0);
		env_list_free(&e);
	}
	const sync_stats *st = sync_receiver_stats(r);
	CHECK_EQ_INT(st->buffered, SYNC_GAP_PER_ORIGIN);
	CHECK_EQ_INT(st->dropped, 20);
	CHECK_EQ_INT(st->gaps, 1); /* rate-limited */
	envelopes(&a, 1, 1, &e);
	buf = records_frame(&e, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, &stored), 0);
	env_list_free(&e);
	CHECK_EQ_INT(stored, SYNC_GAP_PER_ORIGIN + 1);
	CHECK_EQ_INT(st->buffered, 0);
	sync_receiver_free(&r);
	q_clear(&toa);
	tnode_close(&a);
	tnode_close(&b);
}

/* Hostile frames: each refused with a code, counted, logged once. */
typedef struct bad_case {
	const char *name;
	const uint8_t *buf;
	size_t len;
	int rc;
	const char *reason;
} bad_case;

static uint8_t *cat(const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen, size_t *len)
{
	uint8_t *out = malloc(alen + blen);
	memcpy(out, a, alen);
	memcpy(out + alen, b, blen);
	*len = alen + blen;
	return out;
}

static void test_bad_frames(void)
{
	tnode a, b;
	queue toa = {0}, tob = {0};
	tnode_open(&a, "qinhuangdao", "130300");
	tnode_open(&b, "hebei-hub", "130000");
	sync_receiver *r =
	    sync_receiver_new(&b.ops, "qinhuangdao", q_send, &toa);
	sync_sender *s = sync_sender_new(&a.ops, "hebei-hub", q_send, &tob);
	size_t n_hello, n_v2, n_certs, n_unk, n_unk_in, n_rec, n_big, n_want0;
	size_t n_want_bad, n_front, n_ping, n_welcome, n_ack;
	uint8_t *hello = hello_frame(SYNC_VERSION, 0, &n_hello);
	uint8_t *v2 = hello_frame(2, 0, &n_v2);
	uint8_t *certs5 =
	    hello_frame(SYNC_VERSION, RECORD_MAX_CERTS + 1, &n_certs);
	static const uint8_t unknown_field[] = {0x78, 0x01}; /* field 15 */
	uint8_t *unk = cat(hello, n_hello, unknown_field, 2, &n_unk);
	/* Hello{version 1, field 9 = 1} inside the oneof */
	static const uint8_t unk_in[] = {0x0a, 0x04, 0x08, 0x01, 0x48, 0x01};
	n_unk_in = sizeof(unk_in);
	uint8_t *want0 = want_frame("130300", 0, &n_want0);
	uint8_t *want_bad = want_frame("1303", 1, &n_want_bad);
	/* Hello with a frontier entry whose head is not 32 bytes */
	Hutong__FrontierEntry fe = HUTONG__FRONTIER_ENTRY__INIT, *fep = &fe;
	fe.origin = "130300";
	fe.seq = 1;
	Hutong__Hello fh = HUTONG__HELLO__INIT;
	fh.version = SYNC_VERSION;
	fh.frontier = &fep;
	fh.n_frontier = 1;
	Hutong__SyncMessage fm = HUTONG__SYNC_MESSAGE__INIT;
	fm.msg_case = HUTONG__SYNC_MESSAGE__MSG_HELLO;
	fm.hello = &fh;
	uint8_t *front = encode(&fm, &n_front);
	/* Records with one envelope too many */
	env_list e = {.n = SYNC_MAX_BATCH + 1};
	static uint8_t junk[4] = {1, 2, 3, 4};
	for (size_t i = 0; i < e.n; i++) {
		e.buf[i] = junk;
		e.len[i] = sizeof(junk);
	}
	uint8_t *big = records_frame(&e, &n_big);
	e.n = 1;
	uint8_t *rec = records_frame(&e, &n_rec);
	Hutong__Ping p = HUTONG__PING__INIT;
	Hutong__SyncMessage pm = HUTONG__SYNC_MESSAGE__INIT;
	pm.msg_case = HUTONG__SYNC_MESSAGE__MSG_PING;
	pm.ping = &p;
	uint8_t *ping = encode(&pm, &n_ping);
	Hutong__Welcome w = HUTONG__WELCOME__INIT;
	w.version = SYNC_VERSION;
	Hutong__SyncMessage wm = HUTONG__SYNC_MESSAGE__INIT;
	wm.msg_case = HUTONG__SYNC_MESSAGE__MSG_WELCOME;
	wm.welcome = &w;
	uint8_t *welcome = encode(&wm, &n_welcome);
	Hutong__Ack ack = HUTONG__ACK__INIT;
	Hutong__SyncMessage am = HUTONG__SYNC_MESSAGE__INIT;
	am.msg_case = HUTONG__SYNC_MESSAGE__MSG_ACK;
	am.ack = &ack;
	uint8_t *ackb = encode(&am, &n_ack);
	uint8_t *huge = calloc(1, SYNC_MAX_FRAME + 1);
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};

	const bad_case to_receiver[] = {
	    {"garbage", garbage, sizeof(garbage), HT_EINVAL,
	     "not a SyncMessage"},
	    {"empty", garbage, 0, HT_EINVAL, "no message"},
	    {"oversized", huge, SYNC_MAX_FRAME + 1, HT_ELIMIT, "limit"},
	    {"records before hello", rec, n_rec, HT_EINVAL, "before hello"},
	    {"ping before hello", ping, n_ping, HT_EINVAL, "before hello"},
	    {"welcome to a receiver", welcome, n_welcome, HT_EINVAL,
	     "not expected from a sender"},
	    {"ack to a receiver", ackb, n_ack, HT_EINVAL, "not expected"},
	    {"version 2", v2, n_v2, HT_EINVAL, "version 2"},
	    {"five certificates", certs5, n_certs, HT_ELIMIT, "certificates"},
	    {"unknown field", unk, n_unk, HT_EINVAL, "unknown field"},
	    {"unknown field inside", unk_in, n_unk_in, HT_EINVAL,
	     "unknown field"},
	    {"short head", front, n_front, HT_EINVAL, "hello.frontier"},
	    {"257 envelopes", big, n_big, HT_ELIMIT, "257 envelopes"},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof(to_receiver) / sizeof(to_receiver[0]);
	     i++) {
		const bad_case *c = &to_receiver[i];
		int rc =
		    sync_receiver_on_frame(r, c->buf, c->len, now_ms, NULL);
		if (rc != c->rc)
			fprintf(stderr, "  case '%s'\n", c->name);
		CHECK_EQ_INT(rc, c->rc);
		CHECK_EQ_INT(sync_receiver_stats(r)->bad_frames, ++bad);
		CHECK_HAS(tnode_log(&b), c->reason);
	}
	CHECK_EQ_INT(count_lines(tnode_log(&b), "bad frame peer=qinhuangdao"),
		     bad);
	CHECK(!sync_receiver_stats(r)->connected);
	CHECK_EQ_INT(toa.n, 0); /* nothing answered */
	/* after all that, a proper Hello still works */
	CHECK_EQ_INT(sync_receiver_on_frame(r, hello, n_hello, now_ms, NULL),
		     0);
	CHECK(sync_receiver_stats(r)->connected);
	/* a Records whose envelope is junk: the node refuses it, not a frame */
	CHECK_EQ_INT(sync_receiver_on_frame(r, rec, n_rec, now_ms, NULL), 0);
	CHECK_EQ_INT(sync_receiver_stats(r)->refused, 1);
	CHECK_EQ_INT(sync_receiver_stats(r)->bad_frames, bad);

	const bad_case to_sender[] = {
	    {"welcome when not connected", welcome, n_welcome, HT_EINVAL,
	     "not connected"},
	    {"hello to a sender", hello, n_hello, HT_EINVAL, "no session"},
	};
	const bad_case to_sender_open[] = {
	    {"hello to a sender", hello, n_hello, HT_EINVAL,
	     "not expected from a receiver"},
	    {"records to a sender", rec, n_rec, HT_EINVAL, "not expected"},
	    {"ack before welcome", ackb, n_ack, HT_EINVAL, "before welcome"},
	    {"want from 0", want0, n_want0, HT_EINVAL, "want.from_seq"},
	    {"want for a bad origin", want_bad, n_want_bad, HT_EINVAL,
	     "want.origin"},
	};
	bad = 0;
	for (size_t i = 0; i < 2; i++) {
		int rc = sync_sender_on_frame(s, to_sender[i].buf,
					      to_sender[i].len, now_ms);
		CHECK_EQ_INT(rc, to_sender[i].rc);
		CHECK_EQ_INT(sync_sender_stats(s)->bad_frames, ++bad);
	}
	sync_sender_on_connect(s, now_ms);
	for (size_t i = 0;
	     i < sizeof(to_sender_open) / sizeof(to_sender_open[0]); i++) {
		const bad_case *c = &to_sender_open[i];
		int rc = sync_sender_on_frame(s, c->buf, c->len, now_ms);
		if (rc != c->rc)
			fprintf(stderr, "  case '%s'\n", c->name);
		CHECK_EQ_INT(rc, c->rc);
		CHECK_EQ_INT(sync_sender_stats(s)->bad_frames, ++bad);
		CHECK_HAS(tnode_log(&a), c->reason);
	}
	CHECK_EQ_INT(count_lines(tnode_log(&a), "bad frame peer=hebei-hub"),
		     bad);
	CHECK(!sync_sender_stats(s)->connected);

	free(hello);
	free(v2);
	free(certs5);
	free(unk);
	free(want0);
	free(want_bad);
	free(front);
	free(big);
	free(rec);
	free(ping);
	free(welcome);
	free(ackb);
	free(huge);
	sync_sender_free(&s);
	sync_receiver_free(&r);
	sync_sender_free(&s); /* NULL is fine */
	q_clear(&toa);
	q_clear(&tob);
	tnode_close(&a);
	tnode_close(&b);
}

/* The trust hook refuses a peer's chain: the frame says drop the link. */
static int refuse_peer(void *ctx, const char *peer, const uint8_t *const *der,
		       const size_t *len, size_t n, ht_err *err)
{
	return ht_err_set(err, HT_ETRUST, "certificates", "%s: not ours", peer);
}

static void test_trust(void)
{
	tnode b;
	queue toa = {0};
	size_t len;
	tnode_open(&b, "fangchenggang", "450600");
	sync_node_ops ops = b.ops;
	ops.check_peer = refuse_peer;
	sync_receiver *r = sync_receiver_new(&ops, "mallory", q_send, &toa);
	uint8_t *buf = hello_frame(SYNC_VERSION, 1, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, NULL), HT_ETRUST);
	CHECK_EQ_INT(sync_receiver_stats(r)->bad_frames, 1);
	CHECK(!sync_receiver_stats(r)->connected);
	CHECK_HAS(tnode_log(&b), "peer=mallory reason=\"certificates: mallory");
	CHECK_EQ_INT(toa.n, 0);
	sync_receiver_free(&r);
	tnode_close(&b);
}

/* A Hello that gets no Welcome is sent again. */
static void test_hello_retry(void)
{
	tnode a;
	queue q = {0};
	tnode_open(&a, "jiangsu", "320000");
	sync_sender *s = sync_sender_new(&a.ops, "anhui", q_send, &q);
	sync_sender_on_connect(s, now_ms);
	CHECK_EQ_INT(q.n, 1);
	sync_sender_tick(s, now_ms + SYNC_HELLO_MS - 1);
	CHECK_EQ_INT(q.n, 1);
	sync_sender_tick(s, now_ms + SYNC_HELLO_MS);
	CHECK_EQ_INT(q.n, 2);
	CHECK_EQ_INT(sync_sender_next_ms(s, now_ms + SYNC_HELLO_MS),
		     SYNC_HELLO_MS);
	sync_sender_free(&s);
	q_clear(&q);
	tnode_close(&a);
}

/* Flip the last byte of an envelope's signature. */
static uint8_t *forge(const uint8_t *env, size_t len, size_t *out_len)
{
	Hutong__Envelope *e = hutong__envelope__unpack(NULL, len, env);
	CHECK(e != NULL && e->signature.len == RECORD_SIG_BYTES);
	e->signature.data[RECORD_SIG_BYTES - 1] ^= 1;
	*out_len = hutong__envelope__get_packed_size(e);
	uint8_t *out = malloc(*out_len);
	hutong__envelope__pack(e, out);
	hutong__envelope__free_unpacked(e, NULL);
	return out;
}

/* A record with a bad signature is refused by b, never stored, never
 * relayed to c; the genuine record then flows as usual. */
static void test_forged(void)
{
	tnode a, b, c;
	net nt = {0};
	tlink *ab, *ba, *bc, *cb;
	tnode_open(&a, "jiangxi", "360000");
	tnode_open(&b, "hubei", "420000");
	tnode_open(&c, "henan", "410000");
	neighbours(&nt, &a, &b, &ab, &ba);
	neighbours(&nt, &b, &c, &bc, &cb);
	connect_all(&nt);
	run(&nt);
	submit(&a, 1); /* seq 2, not yet pumped */
	env_list e;
	envelopes(&a, 2, 2, &e);
	size_t flen, len;
	uint8_t *forged = forge(e.buf[0], e.len[0], &flen);
	free(e.buf[0]);
	e.buf[0] = forged;
	e.len[0] = flen;
	uint8_t *buf = records_frame(&e, &len);
	env_list_free(&e);
	size_t stored = 9;
	CHECK_EQ_INT(sync_receiver_on_frame(ab->r, buf, len, now_ms, &stored),
		     0);
	free(buf);
	CHECK_EQ_INT(stored, 0);
	CHECK_EQ_INT(sync_receiver_stats(ab->r)->refused, 1);
	CHECK_EQ_INT(node_get_counters(b.n)->signature, 1);
	CHECK_EQ_INT(ledger_origin_find(L(&b), "360000")->seq, 1);
	CHECK_HAS(tnode_log(&b), "refused peer=jiangxi origin=360000 seq=2");
	pump_node(&nt, &b);
	CHECK_EQ_INT(bc->to_r.n, 0); /* nothing to relay */
	/* the genuine record follows (a's sender pumps on b's Ack) */
	run(&nt);
	CHECK_EQ_INT(sync_receiver_stats(bc->r)->refused, 0);
	CHECK_EQ_INT(sync_receiver_stats(ab->r)->stored, 2);
	CHECK_EQ_INT(ledger_origin_find(L(&c), "360000")->seq, 2);
	CHECK(same_digest(&a, &c));
	CHECK_EQ_INT(verify_problems(&b), 0);
	CHECK_EQ_INT(verify_problems(&c), 0);
	net_free(&nt);
	tnode_close(&a);
	tnode_close(&b);
	tnode_close(&c);
}

/* b hears a's records from a and from c at once: each stored once. */
static void test_duplicates(void)
{
	tnode a, b, c;
	net first = {0}, nt = {0};
	tlink *x, *y;
	tnode_open(&a, "beijing", "110000");
	tnode_open(&b, "tianjin", "120000");
	tnode_open(&c, "shandong", "370000");
	submit(&a, 40);
	neighbours(&first, &a, &c, &x, &y);
	connect_all(&first);
	run(&first);
	CHECK(same_digest(&a, &c));
	net_free(&first);
	tlink *ab, *ba, *cb, *bc;
	neighbours(&nt, &a, &b, &ab, &ba);
	neighbours(&nt, &c, &b, &cb, &bc);
	connect_all(&nt);
	run(&nt);
	CHECK(same_digest(&a, &b));
	CHECK(same_digest(&c, &b));
	CHECK_EQ_INT(ledger_record_count(L(&b)), 43);
	const sync_stats *r1 = sync_receiver_stats(ab->r);
	const sync_stats *r2 = sync_receiver_stats(cb->r);
	CHECK_EQ_INT(r1->stored + r2->stored, 42); /* a's 41 and c's 1 */
	CHECK(r1->duplicates + r2->duplicates > 0);
	CHECK_EQ_INT(r1->received + r2->received,
		     42 + r1->duplicates + r2->duplicates);
	CHECK_EQ_INT(verify_problems(&b), 0);
	net_free(&nt);
	tnode_close(&a);
	tnode_close(&b);
	tnode_close(&c);
}

/* node_receive's verdicts carry the origin and seq it parsed (the
 * receiver buffers gaps and builds Acks from them), and none for an
 * envelope that does not parse. */
static void test_verdicts(void)
{
	tnode a, b;
	tnode_open(&a, "verdict-a", "450000");
	tnode_open(&b, "verdict-b", "530000");
	submit(&a, 2);
	env_list e;
	envelopes(&a, 1, 3, &e);
	static const uint8_t junk[] = {0x0a, 0x02, 0xff};
	const uint8_t *env[4] = {e.buf[0], e.buf[2], junk, e.buf[0]};
	size_t len[4] = {e.len[0], e.len[2], sizeof(junk), e.len[0]};
	sync_verdict v[4];
	memset(v, 0x55, sizeof(v));
	CHECK_EQ_INT(node_receive(b.n, "verdict-a", env, len, 4, v), 0);
	CHECK_EQ_INT(v[0].result, SYNC_STORED);
	CHECK_STR(v[0].origin, "450000");
	CHECK_EQ_INT(v[0].seq, 1);
	CHECK_EQ_INT(v[1].result, SYNC_GAP);
	CHECK_STR(v[1].origin, "450000");
	CHECK_EQ_INT(v[1].seq, 3);
	CHECK_EQ_INT(v[2].result, SYNC_REFUSED);
	CHECK_STR(v[2].origin, "");
	CHECK_EQ_INT(v[2].seq, 0);
	CHECK_EQ_INT(v[3].result, SYNC_DUPLICATE);
	CHECK_STR(v[3].origin, "450000");
	CHECK_EQ_INT(v[3].seq, 1);
	env_list_free(&e);
	tnode_close(&a);
	tnode_close(&b);
}

/* A store that refuses seq 5 of every origin and takes the rest. */
static int refuse_seq5(void *ctx, const char *peer, const uint8_t *const *env,
		       const size_t *len, size_t n, sync_verdict *results)
{
	for (size_t i = 0; i < n; i++) {
		ht_err err = {0};
		record *r = record_parse(env[i], len[i], &err);
		bool refuse = r != NULL && record_header(r)->seq == 5;
		if (refuse) {
			results[i] = (sync_verdict){.result = SYNC_REFUSED};
			snprintf(results[i].origin, sizeof(results[i].origin),
				 "%s", record_header(r)->origin_region);
			results[i].seq = 5;
		}
		record_free(&r);
		int rc = refuse ? 0
				: node_receive(ctx, peer, &env[i], &len[i], 1,
					       &results[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* A record every resend of which the peer refuses is counted once, named
 * in the stats and logged at warn once, while the peer's frontier stays
 * below it; the origin learns that its chain stopped spreading. */
static void test_refused_by_peer(void)
{
	tnode a, b;
	net nt = {0};
	tnode_open(&a, "refused-a", "610100");
	tnode_open(&b, "refused-b", "610000");
	b.ops.store = refuse_seq5;
	submit(&a, 8);
	tlink *ab = link_new(&nt, &a, &b);
	connect_all(&nt);
	run(&nt);
	const sync_stats *st = sync_sender_stats(ab->s);
	CHECK_EQ_INT(ledger_origin_find(L(&b), "610100")->seq, 4);
	CHECK_EQ_INT(st->refused_by_peer, 0);
	for (int i = 0; i < 8; i++) {
		tick_all(&nt, SYNC_REWIND_MAX_MS);
		run(&nt);
	}
	CHECK_EQ_INT(ledger_origin_find(L(&b), "610100")->seq, 4);
	CHECK_EQ_INT(st->refused_by_peer, 1);
	CHECK_STR(st->last_refused_origin, "610100");
	CHECK_EQ_INT(st->last_refused_seq, 5);
	record *r = NULL;
	ht_err err = {0};
	CHECK_EQ_INT(ledger_get_seq(L(&a), "610100", 5, &r, NULL, &err), 0);
	if (r != NULL) {
		CHECK(memcmp(st->last_refused_id, record_id(r),
			     RECORD_ID_BYTES) == 0);
		char hex[2 * RECORD_ID_BYTES + 1], line[200];
		snprintf(line, sizeof(line),
			 "peer refuses record peer=refused-b origin=610100 "
			 "seq=5 id=%s",
			 util_hex(record_id(r), RECORD_ID_BYTES, hex));
		CHECK_EQ_INT(count_lines(tnode_log(&a), line), 1);
		CHECK(strstr(tnode_log(&a), "warn") != NULL);
	}
	record_free(&r);
	net_free(&nt);
	tnode_close(&a);
	tnode_close(&b);
}

/* ---- amplification and head comparison ---- */

static uint8_t *welcome_frame(uint32_t window, size_t *len)
{
	Hutong__Welcome w = HUTONG__WELCOME__INIT;
	Hutong__SyncMessage m = HUTONG__SYNC_MESSAGE__INIT;
	w.version = SYNC_VERSION;
	w.window = window;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_WELCOME;
	m.welcome = &w;
	return encode(&m, len);
}

static uint8_t *ping_frame(size_t *len)
{
	Hutong__Ping p = HUTONG__PING__INIT;
	Hutong__SyncMessage m = HUTONG__SYNC_MESSAGE__INIT;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_PING;
	m.ping = &p;
	return encode(&m, len);
}

/* Ack every Records frame in q (a hostile receiver that acks all); returns
 * the bytes of the Acks fed to s. */
static size_t ack_all(queue *q, sync_sender *s)
{
	size_t bytes = 0;
	frame *f;
	while ((f = q_pop(q)) != NULL) {
		Hutong__SyncMessage *m =
		    hutong__sync_message__unpack(NULL, f->len, f->buf);
		frame_free(f);
		if (m && m->msg_case == HUTONG__SYNC_MESSAGE__MSG_RECORDS) {
			Hutong__Ack a = HUTONG__ACK__INIT;
			Hutong__SyncMessage am = HUTONG__SYNC_MESSAGE__INIT;
			size_t len;
			a.count = (uint32_t)m->records->n_envelopes;
			am.msg_case = HUTONG__SYNC_MESSAGE__MSG_ACK;
			am.ack = &a;
			uint8_t *buf = encode(&am, &len);
			bytes += len;
			CHECK_EQ_INT(feed_s(s, buf, len), 0);
		}
		hutong__sync_message__free_unpacked(m, NULL);
	}
	return bytes;
}

/* Want(origin, 1) every 250 ms with Acks: served at most once per
 * SYNC_WANT_SERVE_MS, the rest counted; bytes out stay within the bound. */
static void test_want_flood(void)
{
	tnode a;
	queue tob = {0};
	size_t len, in = 0;
	uint8_t *buf;
	tnode_open(&a, "kunming", "530100");
	submit(&a, 99); /* seq 1..100 */
	sync_sender *s = sync_sender_new(&a.ops, "hostile", q_send, &tob);
	int64_t t0 = now_ms;
	sync_sender_on_connect(s, now_ms);
	buf = welcome_frame(SYNC_WINDOW, &len);
	in += len;
	CHECK_EQ_INT(feed_s(s, buf, len), 0);
	in += ack_all(&tob, s);
	const sync_stats *st = sync_sender_stats(s);
	CHECK_EQ_INT(st->sent, 100);
	for (int i = 0; i < 40; i++) { /* 10 s */
		now_ms += 250;
		buf = want_frame("530100", 1, &len);
		in += len;
		CHECK_EQ_INT(feed_s(s, buf, len), 0);
		in += ack_all(&tob, s);
		sync_sender_tick(s, now_ms);
		in += ack_all(&tob, s);
	}
	/* one serve per second at most: 10 of 40, the chain each time */
	CHECK(st->wants_limited >= 29);
	CHECK(st->sent <= 100 + 11 * 100);
	CHECK(count_lines(tnode_log(&a), "want limited peer=hostile") >= 1);
	uint64_t secs = (uint64_t)(now_ms - t0) / 1000 + 1;
	CHECK(st->bytes_sent <= (uint64_t)SYNC_SEND_BURST +
				    secs * SYNC_SEND_RATE + SYNC_MAX_FRAME);
	fprintf(stderr, "want flood: in=%zu out=%llu limited=%llu\n", in,
		(unsigned long long)st->bytes_sent,
		(unsigned long long)st->wants_limited);
	sync_sender_free(&s);
	q_clear(&tob);
	tnode_close(&a);
}

/* A receiver that never acks, Wants from 1 and sends Welcomes to reopen the
 * window: one window, then one per growing back-off. */
static void test_want_no_acks(void)
{
	tnode a;
	queue tob = {0};
	size_t len;
	uint8_t *buf;
	tnode_open(&a, "guiyang", "520100");
	submit(&a, 299); /* seq 1..300 */
	sync_sender *s = sync_sender_new(&a.ops, "hostile", q_send, &tob);
	sync_sender_on_connect(s, now_ms);
	buf = welcome_frame(50, &len);
	CHECK_EQ_INT(feed_s(s, buf, len), 0);
	const sync_stats *st = sync_sender_stats(s);
	CHECK_EQ_INT(st->sent, 50);
	buf = want_frame("520100", 1, &len);
	CHECK_EQ_INT(feed_s(s, buf, len), 0);
	CHECK_EQ_INT(st->sent, 50);	/* a Want does not enlarge the window */
	for (int i = 0; i < 240; i++) { /* 60 s */
		now_ms += 250;
		sync_sender_tick(s, now_ms);
		buf = welcome_frame(50, &len);
		CHECK_EQ_INT(feed_s(s, buf, len), 0);
		buf = want_frame("520100", 1, &len);
		CHECK_EQ_INT(feed_s(s, buf, len), 0);
		q_clear(&tob);
	}
	/* resets after 3, 6, 12, 24, 30 s of back-off: at most 6 windows */
	CHECK(st->sent <= 7 * 50);
	sync_sender_free(&s);
	q_clear(&tob);
	tnode_close(&a);
}

/* A Ping flood: one full frontier per SYNC_FRONTIER_MS, the rest counted. */
static void test_ping_flood(void)
{
	tnode b;
	queue toa = {0};
	size_t len, in = 0;
	uint8_t *buf;
	tnode_open(&b, "lhasa", "540100");
	sync_receiver *r = sync_receiver_new(&b.ops, "hostile", q_send, &toa);
	buf = hello_frame(SYNC_VERSION, 0, &len);
	CHECK_EQ_INT(feed_r(r, buf, len, NULL), 0);
	for (int i = 0; i < 500; i++) { /* 5 s */
		now_ms += 10;
		buf = ping_frame(&len);
		in += len;
		CHECK_EQ_INT(feed_r(r, buf, len, NULL), 0);
	}
	size_t welcomes = 0;
	Hutong__SyncMessage *m;
	while ((m = q_find(&toa, HUTONG__SYNC_MESSAGE__MSG_WELCOME)) != NULL) {
		welcomes++;
		hutong__sync_message__free_unpacked(m, NULL);
	}
	const sync_stats *st = sync_receiver_stats(r);
	CHECK(welcomes >= 2 && welcomes <= 6);
	CHECK_EQ_INT(st->pings_limited, 500 - (welcomes - 1));
	CHECK(count_lines(tnode_log(&b), "ping limited peer=hostile") >= 1);
	fprintf(stderr, "ping flood: in=%zu out=%llu welcomes=%zu\n", in,
		(unsigned long long)st->bytes_sent, welcomes);
	sync_receiver_free(&r);
	q_clear(&toa);
	tnode_close(&b);
}

/* tnode_open with another node's key: the same origin signed again (a node
 * that lost its ledger and started over). */
static void tnode_reopen_key(tnode *t, const char *name, const char *dir,
			     const char *region, const char *keyfrom)
{
	char d[PATH_MAX / 2], key[PATH_MAX], db[PATH_MAX], cmd[3 * PATH_MAX];
	ht_err err = {0};
	memset(t, 0, sizeof(*t));
	snprintf(d, sizeof(d), "%s/%s", tmpdir, dir);
	snprintf(key, sizeof(key), "%s/node.key", d);
	snprintf(db, sizeof(db), "%s/ledger.db", d);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s/%s/node.key' '%s'",
		 d, tmpdir, keyfrom, key);
	CHECK(system(cmd) == 0);
	t->logf = open_memstream(&t->logbuf, &t->loglen);
	t->log = log_new(t->logf, LOG_INFO, &test_clock);
	node_config cfg = {.name = name,
			   .region = region,
			   .key_path = key,
			   .ledger_path = db,
			   .clock = &test_clock,
			   .log = t->log};
	t->n = node_open(&cfg, &err);
	CHECK(t->n != NULL);
	t->ops = (sync_node_ops){.store = node_receive,
				 .ctx = t->n,
				 .ledger = node_ledger(t->n),
				 .log = t->log};
}

/* Same origin, same seq, different records: after a session both sides
 * hold fork evidence, found from the frontier heads. */
static void test_head_fork(void)
{
	tnode a, a2, b;
	net nt = {0};
	tlink *ab, *ba;
	tnode_open(&a, "hefei", "340100");
	tnode_open(&b, "wuhu", "340200");
	submit(&a, 20); /* seq 1..21 */
	neighbours(&nt, &a, &b, &ab, &ba);
	connect_all(&nt);
	run(&nt);
	CHECK_EQ_INT(ledger_origin_find(L(&b), "340100")->seq, 21);
	net_free(&nt);
	tnode_close(&a);

	now_ms += 60000; /* hefei lost its ledger and signed seq 1..5 again */
	tnode_reopen_key(&a2, "hefei", "hefei2", "340100", "hefei");
	submit(&a2, 4);
	CHECK_EQ_INT(ledger_origin_find(L(&a2), "340100")->seq, 5);
	neighbours(&nt, &a2, &b, &ab, &ba);
	connect_all(&nt);
	run(&nt);
	for (int i = 0; i < 4; i++) {
		tick_all(&nt, SYNC_PING_MS);
		run(&nt);
	}
	CHECK(ledger_origin_find(L(&b), "340100")->forked);
	CHECK(ledger_origin_find(L(&a2), "340100")->forked);
	CHECK(sync_receiver_stats(ab->r)->frontier_forks +
		  sync_sender_stats(ba->s)->frontier_forks >=
	      1);
	CHECK(count_lines(tnode_log(&b), "frontier fork peer=hefei "
					 "origin=340100") >= 1);
	net_free(&nt);
	tnode_close(&a2);
	tnode_close(&b);
}

int main(void)
{
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
		perror("setup");
		return 1;
	}
	test_catch_up();
	test_relay();
	test_window();
	test_loss();
	test_want();
	test_gap_bound();
	test_bad_frames();
	test_trust();
	test_hello_retry();
	test_forged();
	test_duplicates();
	test_verdicts();
	test_refused_by_peer();
	test_want_flood();
	test_want_no_acks();
	test_ping_flood();
	test_head_fork();
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done("test_sync");
}
