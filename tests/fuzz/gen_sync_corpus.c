/*
 * gen_sync_corpus: writes the seed corpus of fuzz_sync (tests/fuzz/corpus/
 * sync): one valid encoded SyncMessage of each type, and sequences of them
 * (fuzz_sync.h) that walk both state machines through a session. The
 * Records seeds carry real envelopes: a peer node (changsha, 430100) is
 * opened in a temp dir, writes its genesis and three leads, and its chain is
 * read back with ledger_range. Run by hand when the protocol changes:
 *   build/fuzz/gen_sync_corpus tests/fuzz/corpus/sync
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_sync.h"
#include "ident.h"
#include "ledger.h"
#include "node.h"
#include "sync.h"
#include "sync.pb-c.h"

#define T0 1795939200000 /* 2026-11-29T08:00:00Z */
#define PEER_RECORDS 4	 /* genesis + three leads */

static int64_t clock_now(void *ctx) { return T0; }
static int64_t clock_mono(void *ctx) { return 0; }
static const ht_clock fixed_clock = {clock_now, clock_mono, NULL};

typedef struct chain {
	uint8_t *env[PEER_RECORDS];
	size_t len[PEER_RECORDS];
	uint8_t head[PEER_RECORDS][RECORD_ID_BYTES];
	size_t n;
} chain;

static int take(void *ctx, const uint8_t *env, size_t len, uint64_t seq)
{
	chain *c = ctx;
	ht_err err = {0};
	record *r = record_parse(env, len, &err);
	if (c->n == PEER_RECORDS || r == NULL ||
	    (c->env[c->n] = malloc(len)) == NULL) {
		record_free(&r);
		return -1;
	}
	memcpy(c->env[c->n], env, len);
	memcpy(c->head[c->n], record_id(r), RECORD_ID_BYTES);
	c->len[c->n++] = len;
	record_free(&r);
	return 0;
}

/* The peer's chain: genesis and three leads, signed now. */
static int peer_chain(const char *dir, chain *c)
{
	char key[PATH_MAX], db[PATH_MAX];
	ht_err err = {0};
	snprintf(key, sizeof(key), "%s/node.key", dir);
	snprintf(db, sizeof(db), "%s/ledger.db", dir);
	if (ident_generate(key, &err) != 0)
		return -1;
	node_config cfg = {.name = "changsha",
			   .region = FUZZ_SYNC_PEER,
			   .key_path = key,
			   .ledger_path = db,
			   .clock = &fixed_clock};
	node *n = node_open(&cfg, &err);
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	Hutong__Submission *subs[3] = {&sub, &sub, &sub};
	node_result res[3];
	in.summary = "an organization left Changsha by coach";
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	sub.author = "officer-12";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	int rc = n ? node_submit(n, subs, 3, res, &err) : -1;
	if (rc == 0)
		rc = ledger_range(node_ledger(n), FUZZ_SYNC_PEER, 1,
				  PEER_RECORDS, SYNC_MAX_BATCH_BYTES, take, c,
				  &err);
	node_free(&n);
	char p[PATH_MAX + 8];
	unlink(key);
	unlink(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
	return rc == PEER_RECORDS ? 0 : -1;
}

/* ---- writing seeds ---- */

typedef struct seed {
	uint8_t *buf;
	size_t len;
} seed;

static void seed_add(seed *s, const Hutong__SyncMessage *m)
{
	size_t n = hutong__sync_message__get_packed_size(m);
	size_t sep = s->len ? FUZZ_SYNC_SEP_LEN : 0;
	uint8_t *b = realloc(s->buf, s->len + sep + n + 1);
	if (b == NULL)
		abort();
	memcpy(b + s->len, FUZZ_SYNC_SEP, sep);
	hutong__sync_message__pack(m, b + s->len + sep);
	s->buf = b;
	s->len += sep + n;
}

static int seed_write(seed *s, const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	int rc = f && fwrite(s->buf, 1, s->len, f) == s->len ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, "gen_sync_corpus: cannot write %s\n", path);
	free(s->buf);
	s->buf = NULL;
	s->len = 0;
	return rc;
}

/* ---- the messages ---- */

static uint8_t zero_head[RECORD_ID_BYTES];

static Hutong__FrontierEntry entry(const char *origin, uint64_t seq,
				   const uint8_t *head)
{
	Hutong__FrontierEntry e = HUTONG__FRONTIER_ENTRY__INIT;
	e.origin = (char *)origin;
	e.seq = seq;
	e.head = (ProtobufCBinaryData){RECORD_ID_BYTES, (uint8_t *)head};
	return e;
}

typedef struct msgs {
	Hutong__FrontierEntry fe_peer, fe_self, fe_self2;
	Hutong__FrontierEntry *peer_front[1], *self_front[1], *self_front2[1];
	ProtobufCBinaryData all[PEER_RECORDS], tail[2], head2[2];
	Hutong__Hello hello;
	Hutong__Welcome welcome;
	Hutong__Records records, gap, fill;
	Hutong__Ack ack;
	Hutong__Want want;
	Hutong__Ping ping;
	Hutong__SyncMessage m_hello, m_welcome, m_records, m_gap, m_fill, m_ack,
	    m_want, m_ping;
} msgs;

static void msg_init(Hutong__SyncMessage *m, Hutong__SyncMessage__MsgCase c,
		     void *body)
{
	hutong__sync_message__init(m);
	m->msg_case = c;
	m->hello = body; /* the oneof's members share one pointer */
}

static void build_msgs(msgs *m, const chain *c)
{
	memset(m, 0, sizeof(*m));
	m->fe_peer =
	    entry(FUZZ_SYNC_PEER, PEER_RECORDS, c->head[PEER_RECORDS - 1]);
	m->fe_self = entry(FUZZ_SYNC_SELF, 1, zero_head);
	m->fe_self2 = entry(FUZZ_SYNC_SELF, 3, zero_head);
	m->peer_front[0] = &m->fe_peer;
	m->self_front[0] = &m->fe_self;
	m->self_front2[0] = &m->fe_self2;
	for (size_t i = 0; i < PEER_RECORDS; i++)
		m->all[i] = (ProtobufCBinaryData){c->len[i], c->env[i]};
	m->head2[0] = m->all[0], m->head2[1] = m->all[1];
	m->tail[0] = m->all[2], m->tail[1] = m->all[3];

	hutong__hello__init(&m->hello);
	m->hello.version = SYNC_VERSION;
	m->hello.frontier = m->peer_front;
	m->hello.n_frontier = 1;
	hutong__welcome__init(&m->welcome);
	m->welcome.version = SYNC_VERSION;
	m->welcome.frontier = m->self_front;
	m->welcome.n_frontier = 1;
	m->welcome.window = 2;
	hutong__records__init(&m->records);
	m->records.envelopes = m->all;
	m->records.n_envelopes = PEER_RECORDS;
	hutong__records__init(&m->gap);
	m->gap.envelopes = m->tail;
	m->gap.n_envelopes = 2;
	hutong__records__init(&m->fill);
	m->fill.envelopes = m->head2;
	m->fill.n_envelopes = 2;
	hutong__ack__init(&m->ack);
	m->ack.count = 2;
	m->ack.frontier = m->self_front2;
	m->ack.n_frontier = 1;
	hutong__want__init(&m->want);
	m->want.origin = FUZZ_SYNC_SELF;
	m->want.from_seq = 2;
	hutong__ping__init(&m->ping);

	msg_init(&m->m_hello, HUTONG__SYNC_MESSAGE__MSG_HELLO, &m->hello);
	msg_init(&m->m_welcome, HUTONG__SYNC_MESSAGE__MSG_WELCOME, &m->welcome);
	msg_init(&m->m_records, HUTONG__SYNC_MESSAGE__MSG_RECORDS, &m->records);
	msg_init(&m->m_gap, HUTONG__SYNC_MESSAGE__MSG_RECORDS, &m->gap);
	msg_init(&m->m_fill, HUTONG__SYNC_MESSAGE__MSG_RECORDS, &m->fill);
	msg_init(&m->m_ack, HUTONG__SYNC_MESSAGE__MSG_ACK, &m->ack);
	msg_init(&m->m_want, HUTONG__SYNC_MESSAGE__MSG_WANT, &m->want);
	msg_init(&m->m_ping, HUTONG__SYNC_MESSAGE__MSG_PING, &m->ping);
}

typedef struct seed_def {
	const char *name;
	size_t offs[8]; /* offsetof(msgs, m_*) + 1; 0 ends */
} seed_def;

#define M(x) (offsetof(msgs, x) + 1)

static const seed_def seeds[] = {
    {"hello.bin", {M(m_hello)}},
    {"welcome.bin", {M(m_welcome)}},
    {"records.bin", {M(m_records)}},
    {"ack.bin", {M(m_ack)}},
    {"want.bin", {M(m_want)}},
    {"ping.bin", {M(m_ping)}},
    {"seq-receiver.bin", {M(m_hello), M(m_records), M(m_ping)}},
    {"seq-gap-fill.bin",
     {M(m_hello), M(m_gap), M(m_ping), M(m_fill), M(m_ping)}},
    {"seq-sender.bin",
     {M(m_welcome), M(m_ack), M(m_want), M(m_ping), M(m_welcome)}},
    {"seq-records-before-hello.bin", {M(m_records), M(m_hello), M(m_gap)}},
};

int main(int argc, char **argv)
{
	char dir[] = "/tmp/hutong-gen-sync-XXXXXX";
	chain c = {0};
	msgs *m = calloc(1, sizeof(*m));
	int rc = 0;
	if (argc != 2 || m == NULL) {
		fprintf(stderr, "usage: gen_sync_corpus DIR\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL || peer_chain(dir, &c) != 0) {
		fprintf(stderr,
			"gen_sync_corpus: cannot build the peer chain\n");
		return 1;
	}
	rmdir(dir);
	build_msgs(m, &c);
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		seed s = {0};
		for (size_t k = 0; k < 8 && seeds[i].offs[k]; k++)
			seed_add(
			    &s, (const Hutong__SyncMessage *)((char *)m +
							      seeds[i].offs[k] -
							      1));
		rc |= seed_write(&s, argv[1], seeds[i].name);
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.env[i]);
	free(m);
	printf("gen_sync_corpus: %zu seeds in %s\n",
	       sizeof(seeds) / sizeof(seeds[0]), argv[1]);
	return rc == 0 ? 0 : 1;
}
