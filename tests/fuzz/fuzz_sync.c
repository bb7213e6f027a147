/*
 * fuzz_sync: every wire message of the federation protocol (proto/sync.proto:
 * Hello, Welcome, Records, Ack, Want, Ping) against both state machines,
 * backed by a real node (node_receive into an SQLite ledger).
 *
 * The input is a sequence of frames (fuzz_sync.h). Each frame goes, in
 * order, to five sessions created fresh for the input:
 *   rx0  a receiver before Hello (only a Hello in the input opens it),
 *   rx1  a receiver already opened by a valid Hello,
 *   tx0  a sender that said Hello and waits for Welcome,
 *   tx1  a sender opened by a valid Welcome, pushing the fixture's records
 *        (paired with rx1, as the daemon pairs the two sessions of a link),
 *   txi  a sender with no connection (everything is out of place).
 * Between frames the clock moves 700 ms and the senders' timers run (Hello
 * resend, Ping, rewinds). A frame rx0, tx0 or tx1 refuses drops its link
 * as the daemon does (on_disconnect; a sender reconnects); rx1 stays open,
 * so the sender-bound frames of a mixed sequence do not close it before
 * its Records and Pings arrive. Every message the
 * sessions send must decode again and respect SYNC_MAX_FRAME; rx1/tx1's
 * channel refuses every fifth send, so the retry paths run too.
 *
 * The fixture is the one place in hutong with mutable static state: libFuzzer
 * calls LLVMFuzzerTestOneInput millions of times and opening a node (key,
 * SQLite, genesis) for each would dominate, so one node lives for the
 * process, created lazily on the first input, in a temp dir (on /dev/shm
 * when there is one, so commits do not wait for a disk) removed at exit.
 * Its ledger is restored from a pristine copy whenever an input stored a
 * record (the seeds carry validly signed envelopes of another origin), and
 * every 512 inputs (the event log grows), so each input meets the same
 * ledger: the fixture's genesis and three leads. FUZZ_SYNC_LOG=1 in the
 * environment sends the node's and the sessions' log lines to stderr.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_sync.h"
#include "ident.h"
#include "ledger.h"
#include "log.h"
#include "node.h"
#include "sync.h"
#include "sync.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1795939200000 /* 2026-11-29T08:00:00Z */
#define STEP_MS 700
#define RESET_EVERY 512

typedef struct fixture {
	char dir[PATH_MAX];
	char key[PATH_MAX + 16];
	char db[PATH_MAX + 16];
	char pristine[PATH_MAX + 16];
	FILE *devnull;
	ht_log *log;
	node *node;
	uint64_t records; /* in the pristine ledger */
	unsigned runs;
	uint8_t *hello, *welcome; /* valid frames that open rx1 and tx1 */
	size_t hello_len, welcome_len;
} fixture;

static fixture *fx; /* see the top of the file */

static int64_t clock_now(void *ctx) { return T0; }
static int64_t clock_mono(void *ctx) { return 0; }
static const ht_clock fixed_clock = {clock_now, clock_mono, NULL};

/* ---- the fixture ---- */

static node *open_node(fixture *f)
{
	ht_err err = {0};
	node_config cfg = {.name = "nanjing",
			   .region = FUZZ_SYNC_SELF,
			   .key_path = f->key,
			   .ledger_path = f->db,
			   .clock = &fixed_clock,
			   .log = f->log};
	node *n = node_open(&cfg, &err);
	if (n == NULL)
		fprintf(stderr, "fuzz_sync: node_open: %s\n", err.msg);
	return n;
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char buf[65536];
	size_t n;
	int rc = in && out ? 0 : -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

static void remove_ledger(const fixture *f)
{
	char p[PATH_MAX + 32];
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
}

/* Three leads of the fixture's own origin, so tx1 has records to send. */
static int submit_leads(node *n)
{
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	Hutong__Submission *subs[3] = {&sub, &sub, &sub};
	node_result res[3];
	ht_err err = {0};
	in.summary = "a gathering in a rented flat";
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	sub.author = "officer-7";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	return node_submit(n, subs, 3, res, &err);
}

/* Encode a SyncMessage into a malloc'd buffer. */
static uint8_t *pack(const Hutong__SyncMessage *m, size_t *len)
{
	*len = hutong__sync_message__get_packed_size(m);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf != NULL)
		hutong__sync_message__pack(m, buf);
	return buf;
}

static void make_openers(fixture *f)
{
	Hutong__SyncMessage m = HUTONG__SYNC_MESSAGE__INIT;
	Hutong__Hello h = HUTONG__HELLO__INIT;
	Hutong__Welcome w = HUTONG__WELCOME__INIT;
	h.version = w.version = SYNC_VERSION;
	w.window = 64;
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_HELLO;
	m.hello = &h;
	f->hello = pack(&m, &f->hello_len);
	m.msg_case = HUTONG__SYNC_MESSAGE__MSG_WELCOME;
	m.welcome = &w;
	f->welcome = pack(&m, &f->welcome_len);
}

static void fixture_free(void)
{
	if (fx == NULL)
		return;
	node_free(&fx->node);
	remove_ledger(fx);
	unlink(fx->pristine);
	unlink(fx->key);
	rmdir(fx->dir);
	log_free(&fx->log);
	if (fx->devnull)
		fclose(fx->devnull);
	free(fx->hello);
	free(fx->welcome);
	free(fx);
	fx = NULL;
}

/* Key, node, three leads, then the closed ledger kept as the pristine copy. */
static int fixture_build(fixture *f)
{
	ht_err err = {0};
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/hutong-fuzz-sync-XXXXXX", base);
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->key, sizeof(f->key), "%s/node.key", f->dir);
	snprintf(f->db, sizeof(f->db), "%s/ledger.db", f->dir);
	snprintf(f->pristine, sizeof(f->pristine), "%s/pristine.db", f->dir);
	f->devnull = fopen("/dev/null", "w");
	f->log = f->devnull
		     ? log_new(getenv("FUZZ_SYNC_LOG") ? stderr : f->devnull,
			       LOG_DEBUG, &fixed_clock)
		     : NULL;
	if (f->log == NULL || ident_generate(f->key, &err) != 0 ||
	    (f->node = open_node(f)) == NULL || submit_leads(f->node) != 0)
		return -1;
	f->records = ledger_record_count(node_ledger(f->node));
	node_free(&f->node); /* checkpoints the WAL into the file */
	if (copy_file(f->db, f->pristine) != 0 ||
	    (f->node = open_node(f)) == NULL)
		return -1;
	make_openers(f);
	return f->hello && f->welcome ? 0 : -1;
}

static fixture *fixture_get(void)
{
	if (fx != NULL)
		return fx;
	fx = calloc(1, sizeof(*fx));
	if (fx == NULL || fixture_build(fx) != 0) {
		fprintf(stderr, "fuzz_sync: cannot build the fixture\n");
		abort();
	}
	atexit(fixture_free);
	return fx;
}

/* Back to the pristine ledger when an input changed what the node holds. */
static void fixture_settle(fixture *f)
{
	uint64_t n = ledger_record_count(node_ledger(f->node));
	if (n == f->records && ++f->runs % RESET_EVERY != 0)
		return;
	log_debug(f->log, "fuzz_sync: ledger reset records=%llu",
		  (unsigned long long)n);
	node_free(&f->node);
	remove_ledger(f);
	if (copy_file(f->pristine, f->db) != 0 ||
	    (f->node = open_node(f)) == NULL)
		abort();
}

/* ---- channels ---- */

typedef struct channel {
	unsigned sends;
	bool flaky; /* refuse every fifth send */
} channel;

/* What a session sends must be a frame a peer can read. */
static int channel_send(void *ctx, const uint8_t *buf, size_t len)
{
	channel *c = ctx;
	if (len > SYNC_MAX_FRAME)
		abort();
	Hutong__SyncMessage *m = hutong__sync_message__unpack(NULL, len, buf);
	if (m == NULL || m->msg_case == HUTONG__SYNC_MESSAGE__MSG__NOT_SET)
		abort();
	hutong__sync_message__free_unpacked(m, NULL);
	return c->flaky && ++c->sends % 5 == 0 ? -1 : 0;
}

/* Only the rejected peer certificate path needs a rule: a chain whose first
 * certificate starts with 0xff is refused, any other accepted (the real
 * check, pki_verify_chain, has its own tests). */
static int check_peer(void *ctx, const char *peer, const uint8_t *const *der,
		      const size_t *len, size_t n, ht_err *err)
{
	if (n > 0 && len[0] > 0 && der[0][0] == 0xff)
		return ht_err_set(err, HT_ETRUST, "certificates", "refused");
	return 0;
}

/* ---- sessions ---- */

typedef struct sessions {
	sync_receiver *rx0, *rx1;
	sync_sender *tx0, *tx1, *txi;
	channel plain, flaky;
	int64_t now;
} sessions;

static void rx_frame(sync_receiver *r, sync_sender *pair, const uint8_t *buf,
		     size_t len, int64_t now, bool drop)
{
	size_t stored = 0;
	if (sync_receiver_on_frame(r, buf, len, now, &stored) != 0 && drop)
		sync_receiver_on_disconnect(r);
	if (stored > 0 && pair != NULL)
		sync_sender_pump(pair);
}

static void tx_frame(sync_sender *s, const uint8_t *buf, size_t len,
		     int64_t now, bool reconnect)
{
	if (sync_sender_on_frame(s, buf, len, now) != 0 && reconnect) {
		sync_sender_on_disconnect(s);
		sync_sender_on_connect(s, now);
	}
}

static void one_frame(sessions *ss, const uint8_t *buf, size_t len)
{
	ss->now += STEP_MS;
	rx_frame(ss->rx0, NULL, buf, len, ss->now, true);
	rx_frame(ss->rx1, ss->tx1, buf, len, ss->now, false);
	tx_frame(ss->tx0, buf, len, ss->now, true);
	tx_frame(ss->tx1, buf, len, ss->now, true);
	tx_frame(ss->txi, buf, len, ss->now, false);
	sync_sender_tick(ss->tx0, ss->now);
	sync_sender_tick(ss->tx1, ss->now);
	(void)sync_sender_next_ms(ss->tx1, ss->now);
	(void)sync_sender_stats(ss->tx1);
	(void)sync_receiver_stats(ss->rx1);
}

static int sessions_open(sessions *ss, fixture *f)
{
	sync_node_ops ops = {.store = node_receive,
			     .check_peer = check_peer,
			     .ctx = f->node,
			     .ledger = node_ledger(f->node),
			     .log = f->log};
	memset(ss, 0, sizeof(*ss));
	ss->flaky.flaky = true;
	ss->now = 1000;
	ss->rx0 = sync_receiver_new(&ops, "changsha", channel_send, &ss->plain);
	ss->rx1 = sync_receiver_new(&ops, "changsha", channel_send, &ss->flaky);
	ss->tx0 = sync_sender_new(&ops, "changsha", channel_send, &ss->plain);
	ss->tx1 = sync_sender_new(&ops, "changsha", channel_send, &ss->flaky);
	ss->txi = sync_sender_new(&ops, "changsha", channel_send, &ss->plain);
	if (!ss->rx0 || !ss->rx1 || !ss->tx0 || !ss->tx1 || !ss->txi)
		return -1;
	sync_receiver_pair(ss->rx1, ss->tx1);
	sync_sender_on_connect(ss->tx0, ss->now);
	sync_sender_on_connect(ss->tx1, ss->now);
	if (sync_receiver_on_frame(ss->rx1, f->hello, f->hello_len, ss->now,
				   NULL) != 0 ||
	    sync_sender_on_frame(ss->tx1, f->welcome, f->welcome_len,
				 ss->now) != 0)
		abort(); /* the fixture's own frames must open the sessions */
	return 0;
}

static void sessions_close(sessions *ss)
{
	if (ss->rx1 != NULL)
		sync_receiver_pair(ss->rx1, NULL);
	sync_receiver_free(&ss->rx0);
	sync_receiver_free(&ss->rx1);
	sync_sender_free(&ss->tx0);
	sync_sender_free(&ss->tx1);
	sync_sender_free(&ss->txi);
}

/* The next frame of data[*at..size): up to the separator or the end. */
static size_t next_frame(const uint8_t *data, size_t size, size_t *at,
			 const uint8_t **frame)
{
	const uint8_t *p = data + *at, *end = data + size, *sep = NULL;
	for (const uint8_t *q = p; q + FUZZ_SYNC_SEP_LEN <= end; q++)
		if (memcmp(q, FUZZ_SYNC_SEP, FUZZ_SYNC_SEP_LEN) == 0) {
			sep = q;
			break;
		}
	*frame = p;
	size_t len = (size_t)((sep ? sep : end) - p);
	*at += len + (sep ? FUZZ_SYNC_SEP_LEN : 0);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fixture *f = fixture_get();
	sessions ss;
	if (sessions_open(&ss, f) == 0) {
		size_t at = 0;
		const uint8_t *frame;
		do {
			size_t len = next_frame(data, size, &at, &frame);
			one_frame(&ss, frame, len);
		} while (at < size);
	}
	sessions_close(&ss);
	fixture_settle(f);
	return 0;
}
