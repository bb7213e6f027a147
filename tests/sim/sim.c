/*
 * hutong-sim: a whole federation in one process, on the socket-free sync
 * state machine, driven by a seeded scheduler. Each node is a real node
 * (node_open on an SQLite ledger under a temp dir, node_submit, node_receive)
 * and each link a pair of sessions whose frames travel as timed events.
 *
 * During the faulty phase (FAULT_MS of virtual time) the seed decides:
 * message delay (so reordering), loss, duplication, a busy channel that
 * refuses a send, forged envelopes slipped into Records frames, link cuts
 * and heals, node crashes (sessions and node freed: what was committed
 * stays in the ledger file, everything in flight and in memory is lost)
 * and restarts, per-node clock skew and drift (the ht_clock each node
 * is given), and on half the seeds one node that strips the bodies of the
 * records it relays (all but genesis bodies, so trust records are refused
 * and ordinary ones stored bodiless, then fetched again and filled in);
 * on half the seeds one node that signs receipts whose entries lie (made-up
 * heads, seqs beyond a head) as records of its own chain; and on some seeds
 * without a stripper one node whose ledger is deleted mid-run, which opens
 * again with the catch-up on (defer_genesis, node_catchup_*) and must take
 * its chain back before it signs. Records are submitted at random nodes
 * throughout. Then the
 * faults stop (links heal, nodes restart, no more loss) and the federation
 * runs until every node holds the same ledger digest, or SETTLE_MS passes.
 *
 * A seed passes when: all digests are equal, every record whose
 * node_submit said stored is present at every node with its body, every
 * node's
 * ledger_verify is clean (so no forged record was stored anywhere), no
 * origin is flagged forked, and no honest session ever saw a bad frame;
 * with a liar, every honest ledger_verify_ex finds disputes against it and
 * none against anyone else; with a lost ledger, that node caught up and
 * every node holds its chain to the seq it caught up to plus what it
 * stored since.
 * A failing seed prints the seed, the command that replays it and the last
 * events; --trace prints every event. Same seed, same run: the only
 * randomness is the seed's (splitmix64), keys are derived from node
 * indices, and time is the scheduler's.
 *
 *   hutong-sim [--topology line|ring|keycities|national] [--nodes N]
 *              [--seeds N] [--from S] [--seed S] [--trace] [--log]
 *              [--data DIR] [--tmp DIR] [-v]
 */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ident.h"
#include "ledger.h"
#include "node.h"
#include "sync.h"
#include "sync.pb-c.h"

#define T0 1795939200000 /* 2026-11-29T08:00:00Z */
#define FAULT_MS 30000	 /* faulty phase */
#ifndef SETTLE_MS /* -DSETTLE_MS=500 makes seeds fail, to see the report */
#define SETTLE_MS 600000 /* after it: converge within this */
#endif
#define TICK_MS 200    /* node timer period */
#define CHECK_MS 1000  /* convergence checks after the faults */
#define TRACE_KEEP 400 /* events printed when a seed fails */
#define TRACE_LINE 200

#ifndef SIM_DATA_DIR
#define SIM_DATA_DIR "tests/sim/data"
#endif

/* ---- options ---- */

typedef struct opts {
	const char *topology;
	int nodes; /* line/ring */
	uint64_t from, seeds;
	bool trace, log, verbose;
	const char *data, *tmp;
} opts;

/* ---- the seed's randomness: splitmix64 ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- topologies ---- */

typedef struct topo {
	char (*region)[HT_REGION_LEN + 1];
	size_t n, cap;
	int (*edge)[2];
	size_t n_edges, cap_edges;
} topo;

static int topo_find(const topo *t, const char *region)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->region[i], region) == 0)
			return (int)i;
	return -1;
}

static int topo_node(topo *t, const char *region)
{
	int i = topo_find(t, region);
	if (i >= 0)
		return i;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->region = realloc(t->region, t->cap * sizeof(*t->region));
		if (t->region == NULL)
			abort();
	}
	snprintf(t->region[t->n], sizeof(t->region[0]), "%s", region);
	return (int)t->n++;
}

static void topo_edge(topo *t, int a, int b)
{
	if (a == b || a < 0 || b < 0)
		return;
	for (size_t i = 0; i < t->n_edges; i++)
		if ((t->edge[i][0] == a && t->edge[i][1] == b) ||
		    (t->edge[i][0] == b && t->edge[i][1] == a))
			return;
	if (t->n_edges == t->cap_edges) {
		t->cap_edges = t->cap_edges ? 2 * t->cap_edges : 64;
		t->edge = realloc(t->edge, t->cap_edges * sizeof(*t->edge));
		if (t->edge == NULL)
			abort();
	}
	t->edge[t->n_edges][0] = a;
	t->edge[t->n_edges][1] = b;
	t->n_edges++;
}

static void topo_free(topo *t)
{
	free(t->region);
	free(t->edge);
	memset(t, 0, sizeof(*t));
}

/* A row of regions.tsv: code, name, level, parent. */
typedef struct region_row {
	char code[HT_REGION_LEN + 1], parent[HT_REGION_LEN + 1];
	char level[16];
} region_row;

typedef struct regions {
	region_row *r;
	size_t n;
	char (*adj)[2][HT_REGION_LEN + 1];
	size_t n_adj;
} regions;

static FILE *open_data(const opts *o, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", o->data, name);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		fprintf(stderr, "hutong-sim: %s: %s\n", path, strerror(errno));
	return f;
}

/* Split a TSV line in place into at most max fields. */
static size_t tsv_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	line[strcspn(line, "\r\n")] = 0;
	while (n < max) {
		f[n++] = line;
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			break;
		*tab = 0;
		line = tab + 1;
	}
	return n;
}

static int regions_load(const opts *o, regions *g)
{
	char line[512], *f[4];
	FILE *fr = open_data(o, "regions.tsv");
	FILE *fa = fr ? open_data(o, "province-adjacency.tsv") : NULL;
	if (fa == NULL) {
		if (fr)
			fclose(fr);
		return -1;
	}
	memset(g, 0, sizeof(*g));
	g->r = calloc(4096, sizeof(*g->r));
	g->adj = calloc(256, sizeof(*g->adj));
	while (g->r && fgets(line, sizeof(line), fr) && g->n < 4096)
		if (line[0] != '#' && tsv_fields(line, f, 4) == 4 &&
		    util_is_region_code(f[0])) {
			region_row *r = &g->r[g->n++];
			snprintf(r->code, sizeof(r->code), "%s", f[0]);
			snprintf(r->level, sizeof(r->level), "%s", f[2]);
			snprintf(r->parent, sizeof(r->parent), "%s", f[3]);
		}
	while (g->adj && fgets(line, sizeof(line), fa) && g->n_adj < 256)
		if (line[0] != '#' && tsv_fields(line, f, 2) == 2 &&
		    util_is_region_code(f[0]) && util_is_region_code(f[1])) {
			snprintf(g->adj[g->n_adj][0], HT_REGION_LEN + 1, "%s",
				 f[0]);
			snprintf(g->adj[g->n_adj][1], HT_REGION_LEN + 1, "%s",
				 f[1]);
			g->n_adj++;
		}
	fclose(fr);
	fclose(fa);
	return g->r && g->adj ? 0 : -1;
}

static void regions_free(regions *g)
{
	free(g->r);
	free(g->adj);
}

/* The 31 provincial hubs, linked as the adjacency file says. */
static void add_hubs(topo *t, const regions *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->r[i].level, "province") == 0)
			topo_node(t, g->r[i].code);
	for (size_t i = 0; i < g->n_adj; i++)
		topo_edge(t, topo_find(t, g->adj[i][0]),
			  topo_find(t, g->adj[i][1]));
}

static const char *const key_cities[] = {"320100", "360100", "430100",
					 "450100", "610100", "210200",
					 "130300", "450600"};

static int build_keycities(topo *t, const regions *g)
{
	add_hubs(t, g);
	for (size_t k = 0; k < sizeof(key_cities) / sizeof(key_cities[0]); k++)
		for (size_t i = 0; i < g->n; i++)
			if (strcmp(g->r[i].code, key_cities[k]) == 0)
				topo_edge(t, topo_node(t, g->r[i].code),
					  topo_find(t, g->r[i].parent));
	return 0;
}

/* Every prefecture-level city on its hub; a province's first two cities
 * also linked to each other, so a hub is not every city's only path. */
static int build_national(topo *t, const regions *g)
{
	add_hubs(t, g);
	char prev_parent[HT_REGION_LEN + 1] = "";
	int first = -1, count = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (strcmp(g->r[i].level, "city") != 0)
			continue;
		int c = topo_node(t, g->r[i].code);
		topo_edge(t, c, topo_find(t, g->r[i].parent));
		if (strcmp(prev_parent, g->r[i].parent) != 0) {
			snprintf(prev_parent, sizeof(prev_parent), "%s",
				 g->r[i].parent);
			first = c;
			count = 0;
		}
		if (++count == 2)
			topo_edge(t, first, c);
	}
	return 0;
}

static int build_chain(topo *t, int n, bool ring)
{
	char code[16];
	for (int i = 0; i < n; i++) {
		snprintf(code, sizeof(code), "%06d", 110100 + 100 * i);
		topo_node(t, code);
		if (i > 0)
			topo_edge(t, i - 1, i);
	}
	if (ring && n > 2)
		topo_edge(t, n - 1, 0);
	return 0;
}

static bool topo_connected(const topo *t)
{
	char *seen = calloc(t->n ? t->n : 1, 1);
	size_t reached = t->n ? 1 : 0;
	bool grew = true;
	if (t->n)
		seen[0] = 1;
	while (grew) {
		grew = false;
		for (size_t i = 0; i < t->n_edges; i++) {
			int a = t->edge[i][0], b = t->edge[i][1];
			if (seen[a] != seen[b]) {
				seen[a] = seen[b] = 1;
				reached++;
				grew = true;
			}
		}
	}
	free(seen);
	return reached == t->n;
}

static int build_topology(const opts *o, topo *t)
{
	memset(t, 0, sizeof(*t));
	if (strcmp(o->topology, "line") == 0)
		return build_chain(t, o->nodes, false);
	if (strcmp(o->topology, "ring") == 0)
		return build_chain(t, o->nodes, true);
	regions g;
	if (regions_load(o, &g) != 0)
		return -1;
	int rc = strcmp(o->topology, "keycities") == 0	? build_keycities(t, &g)
		 : strcmp(o->topology, "national") == 0 ? build_national(t, &g)
							: -1;
	regions_free(&g);
	if (rc == 0 && !topo_connected(t)) {
		fprintf(stderr, "hutong-sim: topology %s is not connected\n",
			o->topology);
		rc = -1;
	}
	return rc;
}

/* ---- the simulated federation ---- */

typedef struct sim sim;

typedef struct snode {
	sim *s;
	int id;
	char name[32], region[HT_REGION_LEN + 1];
	char key[PATH_MAX + 64], db[PATH_MAX + 64];
	node *n; /* NULL while crashed */
	ht_log *log;
	sync_node_ops ops;
	ht_clock clock;
	int64_t skew_ms;
	int64_t drift_ppm;
	int *links;
	size_t n_links;
	bool catchup; /* lost its ledger: opens with defer_genesis */
} snode;

/* One end of a session's channel: frames sent here travel `dir`. */
typedef struct port {
	sim *s;
	int link, chan, dir; /* dir 0: to the receiver, 1: to the sender */
} port;

/* One session: the sender at `from` pushes to the receiver at `to`. */
typedef struct chan {
	int from, to;
	sync_sender *snd;
	sync_receiver *rcv;
	bool up;
	uint32_t epoch;
	port port[2];
} chan;

typedef struct slink {
	int a, b;
	bool cut;
	chan c[2]; /* c[0]: a -> b, c[1]: b -> a */
} slink;

enum {
	EV_DELIVER,
	EV_TICK,
	EV_SUBMIT,
	EV_CRASH,
	EV_RESTART,
	EV_CUT,
	EV_HEAL,
	EV_CALM,
	EV_CHECK,
	EV_LIE,
	EV_AMNESIA
};

typedef struct event {
	int64_t at;
	uint64_t order;
	int kind, a, chan, dir;
	uint32_t epoch;
	uint8_t *buf;
	size_t len;
} event;

typedef struct faults {
	int64_t delay_min, delay_max;
	double loss, dup, busy, forge;
	int crashes, cuts, submits;
	int stripper; /* the node that strips relayed bodies, or -1 */
	int liar;     /* the node that signs lying receipts, or -1 */
	int amnesiac; /* the node that loses its ledger, or -1 */
} faults;

typedef struct counters {
	uint64_t frames, lost, duplicated, busy, forged, stale, bad_frames;
	uint64_t crashes, restarts, cuts, submitted, stripped;
	uint64_t lies, disputes, wrong_disputes;	/* receipts, verdict */
	uint64_t amnesias, forgotten, after_amnesia;	/* records lost, and own
						      submits once caught up */
	uint64_t received, stored, duplicates, refused; /* all receivers */
} counters;

struct sim {
	const opts *o;
	uint64_t seed, rng;
	int64_t now;
	bool calm, done;
	faults f;
	counters c;
	snode *nodes;
	size_t n_nodes;
	slink *links;
	size_t n_links;
	event *heap;
	size_t n_ev, cap_ev;
	uint64_t order;
	uint8_t (*ids)[RECORD_ID_BYTES]; /* records node_submit stored */
	size_t n_ids, cap_ids;
	char dir[PATH_MAX];
	char trace[TRACE_KEEP][TRACE_LINE];
	size_t n_trace;
	char fail[1024];
	int64_t converged_ms;
	uint64_t ready_seq; /* the amnesiac's own seq when it caught up */
};

static uint64_t below(sim *s, uint64_t n)
{
	return n ? splitmix(&s->rng) % n : 0;
}

static int64_t between(sim *s, int64_t lo, int64_t hi)
{
	return lo + (int64_t)below(s, (uint64_t)(hi - lo + 1));
}

static bool chance(sim *s, double p)
{
	return (double)(splitmix(&s->rng) >> 11) * 0x1.0p-53 < p;
}

static void trace(sim *s, const char *fmt, ...) HT_PRINTF(2, 3);
static void trace(sim *s, const char *fmt, ...)
{
	char *line = s->trace[s->n_trace++ % TRACE_KEEP];
	int k = snprintf(line, TRACE_LINE, "t=%lld ", (long long)s->now);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + k, TRACE_LINE - (size_t)k, fmt, ap);
	va_end(ap);
	if (s->o->trace)
		printf("seed=%llu %s\n", (unsigned long long)s->seed, line);
}

static void failf(sim *s, const char *fmt, ...) HT_PRINTF(2, 3);
static void failf(sim *s, const char *fmt, ...)
{
	if (s->fail[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->fail, sizeof(s->fail), fmt, ap);
	va_end(ap);
	s->done = true;
}

/* ---- the event queue: a binary heap on (time, order) ---- */

static bool ev_before(const event *a, const event *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void ev_push(sim *s, event e)
{
	if (s->n_ev == s->cap_ev) {
		s->cap_ev = s->cap_ev ? 2 * s->cap_ev : 1024;
		s->heap = realloc(s->heap, s->cap_ev * sizeof(*s->heap));
		if (s->heap == NULL)
			abort();
	}
	e.order = s->order++;
	size_t i = s->n_ev++;
	while (i > 0 && ev_before(&e, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = e;
}

static event ev_pop(sim *s)
{
	event top = s->heap[0], last = s->heap[--s->n_ev];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->n_ev)
			break;
		if (c + 1 < s->n_ev && ev_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->n_ev > 0)
		s->heap[i] = last;
	return top;
}

static void at(sim *s, int64_t when, int kind, int a)
{
	ev_push(s, (event){.at = when, .kind = kind, .a = a});
}

/* ---- node clocks: skewed and drifting, from the scheduler's time ---- */

#define SIM_MAX_SKEW_MS (30 * 60000) /* >= the widest skew apart, +drift */

static int64_t node_mono(void *ctx)
{
	snode *nd = ctx;
	return nd->s->now + nd->s->now * nd->drift_ppm / 1000000;
}

static int64_t node_wall(void *ctx)
{
	snode *nd = ctx;
	return T0 + nd->skew_ms + node_mono(ctx);
}

static int64_t wall(sim *s, int i) { return node_wall(&s->nodes[i]); }

/* ---- keys: fixed per node index, written once per process ---- */

static int write_key(const char *path, uint64_t index)
{
	static const uint8_t prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
					   0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
					   0x04, 0x22, 0x04, 0x20};
	uint8_t der[48];
	char b64[sodium_base64_ENCODED_LEN(48, sodium_base64_VARIANT_ORIGINAL)];
	uint64_t st = 0x68757479ULL ^ (index * 0x2545f4914f6cdd1dULL);
	memcpy(der, prefix, sizeof(prefix));
	for (size_t i = 0; i < 32; i += 8) {
		uint64_t v = splitmix(&st);
		memcpy(der + 16 + i, &v, 8);
	}
	sodium_bin2base64(b64, sizeof(b64), der, sizeof(der),
			  sodium_base64_VARIANT_ORIGINAL);
	FILE *f = fopen(path, "w");
	if (f == NULL || chmod(path, 0600) != 0)
		return -1;
	fprintf(f,
		"-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n",
		b64);
	return fclose(f) == 0 ? 0 : -1;
}

/* ---- channels ---- */

static chan *chan_of(sim *s, int link, int c) { return &s->links[link].c[c]; }

/* Forge e: either flip a signature bit (same header, so the same record
 * id: the node must not take it for the real one), or change the author
 * in the signed header (a new, well-formed record whose signature fails). */
static void forge_envelope(sim *s, Hutong__Envelope *e)
{
	static const char author[] = "officer";
	size_t n = sizeof(author) - 1;
	bool header = below(s, 2) == 0;
	for (size_t i = 0; header && i + n <= e->header.len; i++)
		if (memcmp(e->header.data + i, author, n) == 0) {
			e->header.data[i] = 'p';
			return;
		}
	e->signature.data[below(s, e->signature.len)] ^= 0x10;
}

/* Slip a forged copy of one envelope into a Records frame. Returns a new
 * frame or NULL to send the original. */
static uint8_t *forge_frame(sim *s, const uint8_t *buf, size_t len,
			    size_t *out_len)
{
	Hutong__SyncMessage *m = hutong__sync_message__unpack(NULL, len, buf);
	uint8_t *out = NULL;
	if (m == NULL || m->msg_case != HUTONG__SYNC_MESSAGE__MSG_RECORDS ||
	    m->records->n_envelopes >= SYNC_MAX_BATCH)
		goto done;
	Hutong__Records *r = m->records;
	ProtobufCBinaryData *src = &r->envelopes[below(s, r->n_envelopes)];
	Hutong__Envelope *e =
	    hutong__envelope__unpack(NULL, src->len, src->data);
	if (e == NULL || e->signature.len == 0)
		goto done_env;
	forge_envelope(s, e);
	ProtobufCBinaryData forged = {hutong__envelope__get_packed_size(e),
				      NULL};
	forged.data = malloc(forged.len);
	hutong__envelope__pack(e, forged.data);
	ProtobufCBinaryData *env =
	    realloc(r->envelopes, (r->n_envelopes + 1) * sizeof(*env));
	if (env == NULL) {
		free(forged.data);
		goto done_env;
	}
	r->envelopes = env;
	r->envelopes[r->n_envelopes++] = forged; /* freed with m */
	*out_len = protobuf_c_message_get_packed_size(&m->base);
	out = malloc(*out_len);
	protobuf_c_message_pack(&m->base, out);
	s->c.forged++;
done_env:
	hutong__envelope__free_unpacked(e, NULL);
done:
	hutong__sync_message__free_unpacked(m, NULL);
	return out;
}

static const char *frame_kind(const uint8_t *buf, size_t len)
{
	static const char *const names[] = {
	    "?", "hello", "welcome", "records", "ack", "want", "ping"};
	unsigned f = len > 0 ? buf[0] >> 3 : 0;
	return f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

static void post(sim *s, const port *p, const uint8_t *buf, size_t len)
{
	chan *c = chan_of(s, p->link, p->chan);
	event e = {.at = s->now + between(s, s->f.delay_min, s->f.delay_max),
		   .kind = EV_DELIVER,
		   .a = p->link,
		   .chan = p->chan,
		   .dir = p->dir,
		   .epoch = c->epoch,
		   .len = len};
	e.buf = malloc(len ? len : 1);
	memcpy(e.buf, buf, len);
	ev_push(s, e);
	s->c.frames++;
}

/* The fault "a relay strips bodies": the Records frame buf as the
 * stripping node sends it, each relayed record (another origin's, not a
 * genesis) without its body. NULL when nothing was stripped. */
static uint8_t *strip_frame(sim *s, const uint8_t *buf, size_t len,
			    const char *own, size_t *out_len)
{
	Hutong__SyncMessage *m = hutong__sync_message__unpack(NULL, len, buf);
	uint8_t *out = NULL;
	size_t n = 0;
	for (size_t i = 0;
	     m && m->msg_case == HUTONG__SYNC_MESSAGE__MSG_RECORDS &&
	     i < m->records->n_envelopes;
	     i++) {
		ProtobufCBinaryData *src = &m->records->envelopes[i];
		Hutong__Envelope *e =
		    hutong__envelope__unpack(NULL, src->len, src->data);
		Hutong__Header *h = e ? hutong__header__unpack(
					    NULL, e->header.len, e->header.data)
				      : NULL;
		if (h && e->body.len > 0 &&
		    strcmp(h->origin_region, own) != 0 &&
		    h->kind != HUTONG__KIND__KIND_GENESIS) {
			e->body.len = 0;
			src->len = hutong__envelope__pack(e, src->data);
			n++; /* shorter: fits where it was; freed with m */
		}
		if (h)
			hutong__header__free_unpacked(h, NULL);
		if (e)
			hutong__envelope__free_unpacked(e, NULL);
	}
	if (n > 0) {
		*out_len = protobuf_c_message_get_packed_size(&m->base);
		out = malloc(*out_len);
		protobuf_c_message_pack(&m->base, out);
		s->c.stripped += n;
	}
	if (m)
		hutong__sync_message__free_unpacked(m, NULL);
	return out;
}

/* sync_send_fn: the channel, with the seed's faults. */
static int sim_send(void *ctx, const uint8_t *buf, size_t len)
{
	port *p = ctx;
	sim *s = p->s;
	chan *c = chan_of(s, p->link, p->chan);
	if (!c->up)
		return 0;
	if (!s->calm && chance(s, s->f.busy)) {
		s->c.busy++;
		return 1;
	}
	if (!s->calm && chance(s, s->f.loss)) {
		s->c.lost++;
		return 0;
	}
	size_t flen = 0;
	uint8_t *forged = p->dir == 0 && !s->calm && chance(s, s->f.forge)
			      ? forge_frame(s, buf, len, &flen)
			      : NULL;
	if (forged == NULL && p->dir == 0 && !s->calm &&
	    c->from == s->f.stripper)
		forged =
		    strip_frame(s, buf, len, s->nodes[c->from].region, &flen);
	post(s, p, forged ? forged : buf, forged ? flen : len);
	if (!s->calm && chance(s, s->f.dup)) {
		post(s, p, forged ? forged : buf, forged ? flen : len);
		s->c.duplicated++;
	}
	free(forged);
	return 0;
}

/* Bring a channel up or down to match its nodes and its link. */
static void chan_update(sim *s, int link, int ci)
{
	slink *l = &s->links[link];
	chan *c = &l->c[ci];
	bool want = !l->cut && s->nodes[c->from].n && s->nodes[c->to].n;
	if (want == c->up)
		return;
	c->up = want;
	c->epoch++;
	if (want) {
		sync_sender_on_connect(c->snd, wall(s, c->from));
		return;
	}
	if (c->snd)
		sync_sender_on_disconnect(c->snd);
	if (c->rcv)
		sync_receiver_on_disconnect(c->rcv);
}

static void link_update(sim *s, int link)
{
	chan_update(s, link, 0);
	chan_update(s, link, 1);
}

/* The chan of `link` whose sender is node i (and whose receiver is the
 * other end), or the reverse. */
static int chan_from(const slink *l, int i) { return l->a == i ? 0 : 1; }

static void pump_node(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	for (size_t k = 0; nd->n && k < nd->n_links; k++) {
		slink *l = &s->links[nd->links[k]];
		sync_sender_pump(l->c[chan_from(l, i)].snd);
	}
}

/* ---- nodes: open, sessions, crash, restart ---- */

static void sessions_new(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	for (size_t k = 0; k < nd->n_links; k++) {
		slink *l = &s->links[nd->links[k]];
		int out = chan_from(l, i), in = 1 - out;
		const char *peer = s->nodes[l->c[out].to].name;
		l->c[out].snd = sync_sender_new(&nd->ops, peer, sim_send,
						&l->c[out].port[0]);
		l->c[in].rcv = sync_receiver_new(&nd->ops, peer, sim_send,
						 &l->c[in].port[1]);
		if (l->c[out].snd == NULL || l->c[in].rcv == NULL)
			abort();
		sync_receiver_pair(l->c[in].rcv, l->c[out].snd);
	}
}

static void count_receiver(sim *s, const sync_receiver *r)
{
	const sync_stats *st = r ? sync_receiver_stats(r) : NULL;
	if (st == NULL)
		return;
	s->c.received += st->received;
	s->c.stored += st->stored;
	s->c.duplicates += st->duplicates;
	s->c.refused += st->refused;
}

static void sessions_free(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	for (size_t k = 0; k < nd->n_links; k++) {
		slink *l = &s->links[nd->links[k]];
		int out = chan_from(l, i);
		count_receiver(s, l->c[1 - out].rcv);
		sync_receiver_free(&l->c[1 - out].rcv);
		sync_sender_free(&l->c[out].snd);
	}
}

static int node_start(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	ht_err err = {0};
	node_config cfg = {
	    .name = nd->name,
	    .region = nd->region,
	    .key_path = nd->key,
	    .ledger_path = nd->db,
	    .clock = &nd->clock,
	    /* clocks here differ by up to 20 min (skews of
	     * +-10 min): within max_clock_skew, as a federation's
	     * configuration must cover its nodes' clocks */
	    .max_clock_skew_ms = SIM_MAX_SKEW_MS,
	    .log = nd->log,
	    .defer_genesis = nd->catchup};
	nd->n = node_open(&cfg, &err);
	if (nd->n == NULL) {
		failf(s, "node_open %s: %s", nd->name, err.msg);
		return -1;
	}
	/* as hutongd does; the timeout is past the run, so every neighbour
	 * answers first (a crashed one may hold more of the chain) */
	if (nd->catchup &&
	    node_catchup_begin(nd->n, nd->n_links, node_mono(nd),
			       (int64_t)FAULT_MS + SETTLE_MS, &err) != 0) {
		failf(s, "node_catchup_begin %s: %s", nd->name, err.msg);
		return -1;
	}
	nd->ops = (sync_node_ops){.store = node_receive,
				  .ctx = nd->n,
				  .ledger = node_ledger(nd->n),
				  .log = nd->log};
	sessions_new(s, i);
	for (size_t k = 0; k < nd->n_links; k++) {
		slink *l = &s->links[nd->links[k]];
		sync_sender_watch(l->c[chan_from(l, i)].snd, nd->region);
		link_update(s, nd->links[k]);
	}
	return 0;
}

static void node_crash(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	if (nd->n == NULL)
		return;
	sessions_free(s, i);
	node_free(&nd->n);
	for (size_t k = 0; k < nd->n_links; k++)
		link_update(s, nd->links[k]);
}

/* ---- setting up and tearing down a seed ---- */

static void draw_faults(sim *s)
{
	faults *f = &s->f;
	size_t n = s->n_nodes;
	f->delay_min = between(s, 1, 5);
	f->delay_max = f->delay_min + between(s, 5, 300);
	f->loss = (double)below(s, 51) / 1000.0;  /* 0-5% */
	f->dup = (double)below(s, 31) / 1000.0;	  /* 0-3% */
	f->busy = (double)below(s, 21) / 1000.0;  /* 0-2% */
	f->forge = (double)below(s, 21) / 1000.0; /* 0-2% of Records */
	f->crashes = (int)below(s, n / 4 + 3);
	f->cuts = (int)below(s, s->n_links / 3 + 3);
	f->submits = (int)(n < 40 ? 40 : n / 3) + (int)below(s, 20);
	f->stripper = chance(s, 0.5) ? (int)below(s, n) : -1;
	f->liar = chance(s, 0.5) ? (int)below(s, n) : -1;
	f->amnesiac = -1; /* not with a stripper: a body only it held and a
			     relay stripped elsewhere would be lost for good */
	if (f->stripper < 0 && n > 1 && chance(s, 0.5))
		f->amnesiac = (f->liar + 1 + (int)below(s, n - 1)) % (int)n;
}

static void node_setup(sim *s, const topo *t, int i, const char *keys)
{
	snode *nd = &s->nodes[i];
	nd->s = s;
	nd->id = i;
	snprintf(nd->region, sizeof(nd->region), "%s", t->region[i]);
	snprintf(nd->name, sizeof(nd->name), "n%s", t->region[i]);
	snprintf(nd->key, sizeof(nd->key), "%s/%s.key", keys, nd->name);
	snprintf(nd->db, sizeof(nd->db), "%s/%s.db", s->dir, nd->name);
	nd->skew_ms = between(s, -600000, 600000);
	nd->drift_ppm = between(s, -1000, 1000);
	nd->clock = (ht_clock){node_wall, node_mono, nd};
	if (s->o->log)
		nd->log = log_new(stderr, LOG_DEBUG, &nd->clock);
}

static void links_setup(sim *s, const topo *t)
{
	s->n_links = t->n_edges;
	s->links = calloc(s->n_links ? s->n_links : 1, sizeof(*s->links));
	for (size_t k = 0; k < t->n_edges; k++) {
		slink *l = &s->links[k];
		l->a = t->edge[k][0];
		l->b = t->edge[k][1];
		for (int c = 0; c < 2; c++) {
			l->c[c].from = c == 0 ? l->a : l->b;
			l->c[c].to = c == 0 ? l->b : l->a;
			for (int d = 0; d < 2; d++)
				l->c[c].port[d] = (port){s, (int)k, c, d};
		}
		for (int e = 0; e < 2; e++) {
			snode *nd = &s->nodes[e == 0 ? l->a : l->b];
			nd->links =
			    realloc(nd->links, (nd->n_links + 1) * sizeof(int));
			nd->links[nd->n_links++] = (int)k;
		}
	}
}

static void schedule_faults(sim *s)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		at(s, between(s, 0, TICK_MS), EV_TICK, (int)i);
	for (int k = 0; k < s->f.submits; k++)
		at(s, between(s, 0, FAULT_MS), EV_SUBMIT,
		   (int)below(s, s->n_nodes));
	for (int k = 0; k < s->f.crashes; k++)
		at(s, between(s, 0, FAULT_MS), EV_CRASH,
		   (int)below(s, s->n_nodes));
	for (int k = 0; s->n_links && k < s->f.cuts; k++)
		at(s, between(s, 0, FAULT_MS), EV_CUT,
		   (int)below(s, s->n_links));
	for (int k = 0; s->f.liar >= 0 && k < 3; k++)
		at(s, between(s, FAULT_MS / 10, FAULT_MS), EV_LIE, s->f.liar);
	if (s->f.amnesiac >= 0)
		at(s, between(s, FAULT_MS / 4, FAULT_MS), EV_AMNESIA,
		   s->f.amnesiac);
	at(s, FAULT_MS, EV_CALM, 0);
}

static int sim_setup(sim *s, const topo *t, const char *keys)
{
	s->n_nodes = t->n;
	s->nodes = calloc(t->n, sizeof(*s->nodes));
	for (size_t i = 0; i < t->n; i++)
		node_setup(s, t, (int)i, keys);
	links_setup(s, t);
	draw_faults(s);
	trace(s,
	      "seed %llu: %zu nodes %zu links delay=%lld-%lldms loss=%.3f "
	      "dup=%.3f busy=%.3f forge=%.3f crashes=%d cuts=%d submits=%d "
	      "stripper=%d liar=%d amnesiac=%d",
	      (unsigned long long)s->seed, s->n_nodes, s->n_links,
	      (long long)s->f.delay_min, (long long)s->f.delay_max, s->f.loss,
	      s->f.dup, s->f.busy, s->f.forge, s->f.crashes, s->f.cuts,
	      s->f.submits, s->f.stripper, s->f.liar, s->f.amnesiac);
	for (size_t i = 0; i < s->n_nodes; i++)
		if (node_start(s, (int)i) != 0)
			return -1;
	schedule_faults(s);
	return 0;
}

static void unlink_db(const char *db)
{
	char p[PATH_MAX + 80];
	unlink(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", db);
	unlink(p);
}

static void sim_teardown(sim *s)
{
	for (size_t i = 0; i < s->n_nodes; i++) {
		node_crash(s, (int)i);
		log_free(&s->nodes[i].log);
		unlink_db(s->nodes[i].db);
		free(s->nodes[i].links);
	}
	while (s->n_ev > 0)
		free(ev_pop(s).buf);
	free(s->heap);
	free(s->nodes);
	free(s->links);
	free(s->ids);
	rmdir(s->dir);
}

/* ---- the fault "a peer lies in receipts" ---- */

/* The liar's frontier as node_receipt.c puts it in a receipt, with lies:
 * for each other origin (not the amnesiac's), in turn, a made-up head at
 * the seq it holds (a dispute wherever that record is held) or a seq
 * beyond its head with a made-up head (one once that record arrives).
 * fake has room for every origin. Returns how many entries lie. */
static size_t lie_entries(sim *s, ledger *l, const char *own,
			  Hutong__ReceiptEntry *ents,
			  Hutong__ReceiptEntry **ptrs,
			  uint8_t (*fake)[RECORD_ID_BYTES], Hutong__Receipt *rc)
{
	size_t k = ledger_origin_count(l), lies = 0;
	const char *lost =
	    s->f.amnesiac >= 0 ? s->nodes[s->f.amnesiac].region : "";
	for (size_t i = 0; i < k; i++) {
		const ledger_origin *o = ledger_origin_at(l, i);
		hutong__receipt_entry__init(&ents[i]);
		ents[i].origin = (char *)o->region;
		ents[i].seq = o->seq;
		ents[i].head =
		    (ProtobufCBinaryData){RECORD_ID_BYTES, (uint8_t *)o->head};
		ptrs[i] = &ents[i];
		if (strcmp(o->region, own) == 0 || strcmp(o->region, lost) == 0)
			continue;
		for (size_t b = 0; b < RECORD_ID_BYTES; b++)
			fake[i][b] = (uint8_t)below(s, 256);
		ents[i].head.data = fake[i];
		if (lies++ % 2 == 1)
			ents[i].seq += (uint64_t)between(s, 1, 3);
	}
	hutong__receipt__init(rc);
	rc->entries = ptrs;
	rc->n_entries = k;
	return lies;
}

/* Sign body as the next record of nd's own chain (seq, prev, a creation
 * time not before its head's), with the key file nd was opened with. */
static record *sign_own(sim *s, snode *nd, Hutong__Body *body, ht_err *err)
{
	ledger *l = node_ledger(nd->n);
	const ledger_origin *own = ledger_origin_find(l, nd->region);
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	record *head = NULL, *r = NULL;
	ident *id = ident_load(nd->key, err);
	if (id == NULL || own == NULL ||
	    ledger_get(l, own->head, &head, NULL, err) != 0) {
		ident_free(&id);
		return NULL;
	}
	int64_t created = wall(s, nd->id);
	if (record_header(head)->created_ms > created)
		created = record_header(head)->created_ms;
	sub.author = "node";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = body;
	record_origin at = {nd->region, nd->name, own->seq + 1, own->head,
			    created};
	if (record_build(&sub, &at, ident_sign, id, &r, err) != 0)
		r = NULL;
	record_free(&head);
	ident_free(&id);
	return r;
}

/* The liar signs a receipt that lies and stores it as its own (through
 * node_receive, source "local"): its sessions send it on like any record
 * of its chain. */
static void on_lie(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	size_t k = nd->n ? ledger_origin_count(node_ledger(nd->n)) : 0;
	if (s->calm || k < 2)
		return;
	Hutong__ReceiptEntry *ents = calloc(k, sizeof(*ents));
	Hutong__ReceiptEntry **ptrs = calloc(k, sizeof(*ptrs));
	uint8_t(*fake)[RECORD_ID_BYTES] = calloc(k, sizeof(*fake));
	Hutong__Receipt rc;
	Hutong__Body body = HUTONG__BODY__INIT;
	ledger_heads heads;
	ht_err err = {0};
	record *r = NULL;
	size_t lies = lie_entries(s, node_ledger(nd->n), nd->region, ents, ptrs,
				  fake, &rc);
	body.content_case = HUTONG__BODY__CONTENT_RECEIPT;
	body.receipt = &rc;
	if (lies > 0 &&
	    ledger_receipt_heads(node_ledger(nd->n), &heads, &rc, &err) == 0)
		r = sign_own(s, nd, &body, &err);
	sync_verdict v = {.result = SYNC_REFUSED};
	if (r != NULL) {
		size_t len = 0;
		const uint8_t *env = record_bytes(r, &len);
		node_receive(nd->n, "local", &env, &len, 1, &v);
	}
	if (v.result == SYNC_STORED)
		s->c.lies++;
	else if (lies > 0)
		failf(s, "lying receipt at %s not stored: %s", nd->name,
		      r ? "refused" : err.msg);
	trace(s, "lie at %s: receipt seq=%llu lies=%zu result=%d", nd->name,
	      (unsigned long long)v.seq, lies, (int)v.result);
	record_free(&r);
	free(ents);
	free(ptrs);
	free(fake);
	pump_node(s, i);
}

/* ---- the fault "a node loses its ledger" ---- */

/* Drop from the stored ids the records of node i's chain that no open
 * node other than i holds: they go with its ledger. */
static void forget_lost(sim *s, int i)
{
	ledger *l = node_ledger(s->nodes[i].n);
	size_t keep = 0;
	for (size_t k = 0; k < s->n_ids; k++) {
		record *r = NULL;
		ht_err err = {0};
		bool lost = ledger_get(l, s->ids[k], &r, NULL, &err) == 0 &&
			    strcmp(record_header(r)->origin_region,
				   s->nodes[i].region) == 0;
		record_free(&r);
		for (size_t j = 0; lost && j < s->n_nodes; j++)
			if ((int)j != i &&
			    ledger_get(node_ledger(s->nodes[j].n), s->ids[k],
				       &r, NULL, &err) == 0)
				lost = false;
		record_free(&r);
		if (lost)
			s->c.forgotten++;
		else
			memcpy(s->ids[keep++], s->ids[k], RECORD_ID_BYTES);
	}
	s->c.submitted -= s->n_ids - keep;
	s->n_ids = keep;
}

/* Node i is closed, its ledger file deleted, and opened again with the
 * catch-up on (defer_genesis, node_catchup_begin): it must take its chain
 * back from its neighbours before it signs. Waits while any node is down,
 * so forget_lost sees every other copy. */
static void on_amnesia(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	for (size_t j = 0; j < s->n_nodes; j++)
		if (s->nodes[j].n == NULL) {
			at(s, s->now + 1000, EV_AMNESIA, i);
			return;
		}
	forget_lost(s, i);
	trace(s, "amnesia %s: ledger deleted, lost=%llu", nd->name,
	      (unsigned long long)s->c.forgotten);
	s->c.amnesias++;
	node_crash(s, i);
	unlink_db(nd->db);
	nd->catchup = true;
	node_start(s, i);
}

/* The daemon's catch-up loop (links_tick, catchup_tick) for node i. */
static void catchup_tick(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	node_catchup_info info;
	ht_err err = {0};
	for (size_t k = 0; k < nd->n_links; k++) {
		slink *l = &s->links[nd->links[k]];
		chan *c = &l->c[chan_from(l, i)];
		uint64_t own = 0;
		if (sync_sender_watched(c->snd, &own))
			node_catchup_answer(nd->n, s->nodes[c->to].name, own);
	}
	int rc = node_catchup_tick(nd->n, node_mono(nd), &err);
	if (rc < 0)
		failf(s, "node_catchup_tick %s: %s", nd->name, err.msg);
	if (rc <= 0)
		return;
	node_catchup_get(nd->n, &info);
	if (s->ready_seq == 0)
		s->ready_seq = info.seq;
	trace(s, "caught up %s: own seq=%llu", nd->name,
	      (unsigned long long)info.seq);
	pump_node(s, i);
}

static bool caught_up(sim *s)
{
	node_catchup_info info;
	int i = s->f.amnesiac;
	if (i < 0 || !s->nodes[i].catchup)
		return true;
	node_catchup_get(s->nodes[i].n, &info);
	return info.ready;
}

/* ---- events ---- */

static void on_deliver(sim *s, event *e)
{
	chan *c = chan_of(s, e->a, e->chan);
	if (!c->up || c->epoch != e->epoch) {
		s->c.stale++;
		return;
	}
	int to = e->dir == 0 ? c->to : c->from;
	size_t stored = 0;
	int rc = e->dir == 0 ? sync_receiver_on_frame(c->rcv, e->buf, e->len,
						      wall(s, to), &stored)
			     : sync_sender_on_frame(c->snd, e->buf, e->len,
						    wall(s, to));
	trace(s, "deliver %s -> %s %s len=%zu stored=%zu rc=%d",
	      s->nodes[e->dir == 0 ? c->from : c->to].name, s->nodes[to].name,
	      frame_kind(e->buf, e->len), e->len, stored, rc);
	if (rc != 0) { /* the shell drops the link; it comes back */
		s->c.bad_frames++;
		trace(s, "bad frame at %s rc=%d: link reset", s->nodes[to].name,
		      rc);
		c->up = false;
		c->epoch++;
		sync_sender_on_disconnect(c->snd);
		sync_receiver_on_disconnect(c->rcv);
		chan_update(s, e->a, e->chan);
	}
	if (stored > 0)
		pump_node(s, to);
}

/* Node i asks each neighbour for the bodies it lacks (as links.c does). */
static void fetch_bodies(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	node_missing m[SYNC_FETCH_MAX];
	uint8_t ids[SYNC_FETCH_MAX][RECORD_ID_BYTES];
	int n = nd->n ? node_missing_bodies(nd->n, m, SYNC_FETCH_MAX, NULL) : 0;
	for (int k = 0; k < n; k++)
		memcpy(ids[k], m[k].id, RECORD_ID_BYTES);
	for (size_t k = 0; n > 0 && k < nd->n_links; k++) {
		slink *l = &s->links[nd->links[k]];
		chan *c = &l->c[1 - chan_from(l, i)]; /* its receiver is i */
		if (c->up)
			sync_receiver_fetch(
			    c->rcv, (const uint8_t(*)[RECORD_ID_BYTES])ids,
			    (size_t)n, wall(s, i));
	}
}

static void on_tick(sim *s, int i)
{
	snode *nd = &s->nodes[i];
	if (nd->n && nd->catchup)
		catchup_tick(s, i);
	fetch_bodies(s, i);
	for (size_t k = 0; nd->n && k < nd->n_links; k++) {
		slink *l = &s->links[nd->links[k]];
		chan *c = &l->c[chan_from(l, i)];
		if (c->up)
			sync_sender_tick(c->snd, wall(s, i));
	}
	at(s, s->now + TICK_MS, EV_TICK, i);
}

static void on_submit(sim *s, int i)
{
	static char summary[] = "simulated lead";
	snode *nd = &s->nodes[i];
	if (nd->n == NULL) {
		trace(s, "submit at %s: down", nd->name);
		return;
	}
	size_t k = (size_t)between(s, 1, 3);
	Hutong__Intelligence in = HUTONG__INTELLIGENCE__INIT;
	Hutong__Body body = HUTONG__BODY__INIT;
	Hutong__Submission sub = HUTONG__SUBMISSION__INIT;
	Hutong__Submission *subs[3] = {&sub, &sub, &sub};
	node_result res[3];
	ht_err err = {0};
	in.summary = summary;
	body.content_case = HUTONG__BODY__CONTENT_INTELLIGENCE;
	body.intelligence = &in;
	sub.author = "officer";
	sub.scope = HUTONG__SCOPE__SCOPE_NATIONAL;
	sub.body = &body;
	int rc = node_submit(nd->n, subs, k, res, &err);
	for (size_t j = 0; rc == 0 && j < k; j++) {
		if (res[j].code != 0)
			continue;
		if (s->n_ids == s->cap_ids) {
			s->cap_ids = s->cap_ids ? 2 * s->cap_ids : 256;
			s->ids = realloc(s->ids, s->cap_ids * sizeof(*s->ids));
		}
		memcpy(s->ids[s->n_ids++], res[j].id, RECORD_ID_BYTES);
		s->c.submitted++;
		s->c.after_amnesia += nd->catchup;
	}
	trace(s, "submit at %s: %zu records rc=%d", nd->name, k, rc);
	pump_node(s, i);
}

static void on_crash(sim *s, int i)
{
	if (s->calm || s->nodes[i].n == NULL)
		return;
	trace(s, "crash %s", s->nodes[i].name);
	s->c.crashes++;
	node_crash(s, i);
	at(s, s->now + between(s, 500, FAULT_MS / 2), EV_RESTART, i);
}

static void on_restart(sim *s, int i)
{
	if (s->nodes[i].n != NULL)
		return;
	trace(s, "restart %s", s->nodes[i].name);
	s->c.restarts++;
	node_start(s, i);
}

static void on_cut(sim *s, int k)
{
	slink *l = &s->links[k];
	if (s->calm || l->cut)
		return;
	trace(s, "cut %s-%s", s->nodes[l->a].name, s->nodes[l->b].name);
	s->c.cuts++;
	l->cut = true;
	link_update(s, k);
	at(s, s->now + between(s, 200, FAULT_MS / 2), EV_HEAL, k);
}

static void on_heal(sim *s, int k)
{
	slink *l = &s->links[k];
	if (!l->cut)
		return;
	trace(s, "heal %s-%s", s->nodes[l->a].name, s->nodes[l->b].name);
	l->cut = false;
	link_update(s, k);
}

/* The faults stop: every link heals, every node comes back. */
static void on_calm(sim *s)
{
	trace(s, "calm: faults stop");
	s->calm = true;
	for (size_t k = 0; k < s->n_links; k++)
		on_heal(s, (int)k);
	for (size_t i = 0; i < s->n_nodes; i++)
		on_restart(s, (int)i);
	at(s, s->now + CHECK_MS, EV_CHECK, 0);
}

static bool converged(sim *s)
{
	uint8_t d0[RECORD_ID_BYTES], d[RECORD_ID_BYTES];
	uint64_t want = s->n_nodes + s->c.submitted + s->c.lies;
	if (!caught_up(s))
		return false;
	ledger_digest(node_ledger(s->nodes[0].n), d0);
	for (size_t i = 0; i < s->n_nodes; i++) {
		ledger *l = node_ledger(s->nodes[i].n);
		ledger_digest(l, d);
		if (memcmp(d, d0, sizeof(d)) != 0 ||
		    ledger_record_count(l) != want ||
		    ledger_bodiless_count(l) != 0) /* every due body arrived */
			return false;
	}
	return true;
}

static void on_check(sim *s)
{
	if (converged(s) && s->f.amnesiac >= 0 && s->c.after_amnesia == 0) {
		on_submit(s, s->f.amnesiac); /* it must continue its chain */
		at(s, s->now + CHECK_MS, EV_CHECK, 0);
		return;
	}
	if (converged(s)) {
		s->converged_ms = s->now - FAULT_MS;
		trace(s, "converged");
		s->done = true;
		return;
	}
	if (s->now - FAULT_MS >= SETTLE_MS) {
		failf(s, "no convergence %d s after the faults stopped",
		      SETTLE_MS / 1000);
		return;
	}
	at(s, s->now + CHECK_MS, EV_CHECK, 0);
}

static void dispatch(sim *s, event *e)
{
	switch (e->kind) {
	case EV_DELIVER:
		on_deliver(s, e);
		break;
	case EV_TICK:
		on_tick(s, e->a);
		break;
	case EV_SUBMIT:
		on_submit(s, e->a);
		break;
	case EV_CRASH:
		on_crash(s, e->a);
		break;
	case EV_RESTART:
		on_restart(s, e->a);
		break;
	case EV_CUT:
		on_cut(s, e->a);
		break;
	case EV_HEAL:
		on_heal(s, e->a);
		break;
	case EV_CALM:
		on_calm(s);
		break;
	case EV_CHECK:
		on_check(s);
		break;
	case EV_LIE:
		on_lie(s, e->a);
		break;
	case EV_AMNESIA:
		on_amnesia(s, e->a);
		break;
	}
}

/* ---- the verdict ---- */

static void problem(void *ctx, const uint8_t *id, const char *region,
		    uint64_t seq, const char *reason)
{
	sim *s = ctx;
	failf(s, "ledger_verify: origin %s seq %llu: %s", region ? region : "-",
	      (unsigned long long)seq, reason);
}

/* A dispute: only ever against the liar. */
static void dispute(void *ctx, const ledger_dispute *d)
{
	sim *s = ctx;
	if (s->f.liar >= 0 &&
	    strcmp(d->signer, s->nodes[s->f.liar].region) == 0)
		s->c.disputes++;
	else
		s->c.wrong_disputes++;
}

/* ledger_verify_ex's problem callback for the liar: its own receipts do
 * not match what it holds, and that is the fault, not a finding. */
static void ignore_problem(void *ctx, const uint8_t *id, const char *region,
			   uint64_t seq, const char *reason)
{
	(void)ctx, (void)id, (void)region, (void)seq, (void)reason;
}

/* The amnesiac's chain came back and went on: every node holds it up to
 * the seq it caught up to plus the records it stored since. */
static void check_amnesiac(sim *s, snode *nd)
{
	const ledger_origin *o = ledger_origin_find(
	    node_ledger(nd->n), s->nodes[s->f.amnesiac].region);
	uint64_t want = s->ready_seq + s->c.after_amnesia;
	if (s->ready_seq == 0 || s->c.after_amnesia == 0)
		failf(s, "%s never caught up or never submitted again",
		      s->nodes[s->f.amnesiac].name);
	else if (o == NULL || o->seq != want)
		failf(s, "%s holds the lost chain of %s to seq %llu, not %llu",
		      nd->name, s->nodes[s->f.amnesiac].name,
		      (unsigned long long)(o ? o->seq : 0),
		      (unsigned long long)want);
}

static void check_node(sim *s, snode *nd)
{
	ledger *l = node_ledger(nd->n);
	ht_err err = {0};
	for (size_t k = 0; k < s->n_ids; k++) {
		record *r = NULL;
		char hex[2 * RECORD_ID_BYTES + 1];
		if (ledger_get(l, s->ids[k], &r, NULL, &err) != 0)
			failf(s, "%s lacks stored record %s", nd->name,
			      util_hex(s->ids[k], RECORD_ID_BYTES, hex));
		record_free(&r);
	}
	bool liar = nd->id == s->f.liar;
	int n = ledger_verify_ex(l, SIM_MAX_SKEW_MS, false,
				 liar ? ignore_problem : problem,
				 liar ? NULL : dispute, s, &err);
	if (!liar && n != 0)
		failf(s, "%s: ledger_verify found %d problems (%s)", nd->name,
		      n, err.msg);
	for (size_t i = 0; i < ledger_origin_count(l); i++)
		if (ledger_origin_at(l, i)->forked)
			failf(s, "%s: origin %s flagged forked", nd->name,
			      ledger_origin_at(l, i)->region);
	if (s->c.amnesias > 0)
		check_amnesiac(s, nd);
}

static void verdict(sim *s)
{
	for (size_t i = 0; !s->fail[0] && i < s->n_nodes; i++)
		check_node(s, &s->nodes[i]);
	if (!s->fail[0] && s->c.bad_frames > 0)
		failf(s, "%llu bad frames between honest nodes",
		      (unsigned long long)s->c.bad_frames);
	if (!s->fail[0] && s->c.wrong_disputes > 0)
		failf(s, "%llu disputes against honest nodes",
		      (unsigned long long)s->c.wrong_disputes);
	if (!s->fail[0] && s->c.lies > 0 && s->c.disputes == 0)
		failf(s, "%llu lying receipts, no dispute found",
		      (unsigned long long)s->c.lies);
}

/* What a lagging node holds, for the failure report. */
static void report_lag(sim *s)
{
	uint64_t want = s->n_nodes + s->c.submitted + s->c.lies;
	int shown = 0;
	for (size_t i = 0; i < s->n_nodes && shown < 8; i++) {
		snode *nd = &s->nodes[i];
		if (nd->n == NULL ||
		    ledger_record_count(node_ledger(nd->n)) == want)
			continue;
		shown++;
		fprintf(
		    stderr, "  %s holds %llu of %llu records\n", nd->name,
		    (unsigned long long)ledger_record_count(node_ledger(nd->n)),
		    (unsigned long long)want);
		for (size_t k = 0; k < nd->n_links; k++) {
			slink *l = &s->links[nd->links[k]];
			chan *in = &l->c[1 - chan_from(l, (int)i)];
			const sync_stats *st = sync_sender_stats(in->snd);
			fprintf(stderr,
				"    from %s: up=%d connected=%d behind=%llu "
				"sent=%llu rewinds=%llu\n",
				s->nodes[in->from].name, in->up, st->connected,
				(unsigned long long)st->peer_behind,
				(unsigned long long)st->sent,
				(unsigned long long)st->rewinds);
		}
	}
}

static bool is_chain(const opts *o)
{
	return strcmp(o->topology, "line") == 0 ||
	       strcmp(o->topology, "ring") == 0;
}

static void report_failure(sim *s)
{
	const opts *o = s->o;
	char nodes[32] = "";
	if (is_chain(o))
		snprintf(nodes, sizeof(nodes), " --nodes %d", o->nodes);
	fprintf(stderr, "seed %llu FAILED (%s): %s\n",
		(unsigned long long)s->seed, o->topology, s->fail);
	fprintf(stderr,
		"  replay: tests/sim/run --topology %s%s --seed %llu --trace\n",
		o->topology, nodes, (unsigned long long)s->seed);
	report_lag(s);
	size_t n = s->n_trace < TRACE_KEEP ? s->n_trace : TRACE_KEEP;
	fprintf(stderr, "  last %zu events:\n", n);
	for (size_t k = s->n_trace - n; k < s->n_trace; k++)
		fprintf(stderr, "    %s\n", s->trace[k % TRACE_KEEP]);
}

static void report_seed(const sim *s)
{
	const counters *c = &s->c;
	printf("seed %llu ok: %zu nodes, %llu records, converged %.1f s after "
	       "the faults; frames=%llu lost=%llu dup=%llu busy=%llu "
	       "forged=%llu stripped=%llu lies=%llu disputes=%llu "
	       "amnesias=%llu lost=%llu crashes=%llu cuts=%llu; records "
	       "received=%llu stored=%llu duplicates=%llu refused=%llu\n",
	       (unsigned long long)s->seed, s->n_nodes,
	       (unsigned long long)(s->n_nodes + c->submitted),
	       (double)s->converged_ms / 1000.0, (unsigned long long)c->frames,
	       (unsigned long long)c->lost, (unsigned long long)c->duplicated,
	       (unsigned long long)c->busy, (unsigned long long)c->forged,
	       (unsigned long long)c->stripped, (unsigned long long)c->lies,
	       (unsigned long long)c->disputes, (unsigned long long)c->amnesias,
	       (unsigned long long)c->forgotten, (unsigned long long)c->crashes,
	       (unsigned long long)c->cuts, (unsigned long long)c->received,
	       (unsigned long long)c->stored, (unsigned long long)c->duplicates,
	       (unsigned long long)c->refused);
}

/* ---- one seed ---- */

static bool run_seed(const opts *o, const topo *t, const char *keys,
		     uint64_t seed)
{
	sim *s = calloc(1, sizeof(*s));
	s->o = o;
	s->seed = seed;
	s->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	snprintf(s->dir, sizeof(s->dir), "%s/seed-%llu", o->tmp,
		 (unsigned long long)seed);
	if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
		failf(s, "mkdir %s: %s", s->dir, strerror(errno));
	} else if (sim_setup(s, t, keys) == 0) {
		while (!s->done && s->n_ev > 0) {
			event e = ev_pop(s);
			s->now = e.at;
			dispatch(s, &e);
			free(e.buf);
		}
	}
	if (!s->fail[0])
		verdict(s);
	bool ok = !s->fail[0];
	if (!ok)
		report_failure(s);
	sim_teardown(s); /* counts the receivers' stats */
	if (ok && o->verbose)
		report_seed(s);
	free(s);
	return ok;
}

/* ---- main ---- */

static int usage(void)
{
	fprintf(stderr,
		"usage: hutong-sim [--topology line|ring|keycities|national] "
		"[--nodes N]\n                  [--seeds N] [--from S] [--seed "
		"S] [--trace] [--log] [-v]\n                  [--data DIR] "
		"[--tmp DIR]\n");
	return 2;
}

static int parse_u64(const char *s, uint64_t *v)
{
	return s && util_parse_u64(s, 1, UINT64_MAX / 2, v) == 0 ? 0 : -1;
}

static int parse_opts(int argc, char **argv, opts *o)
{
	uint64_t v;
	*o = (opts){.topology = "keycities",
		    .nodes = 8,
		    .from = 1,
		    .seeds = 1,
		    .data = SIM_DATA_DIR};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i],
			   *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--trace") == 0)
			o->trace = true;
		else if (strcmp(a, "--log") == 0)
			o->log = true;
		else if (strcmp(a, "-v") == 0)
			o->verbose = true;
		else if (strcmp(a, "--topology") == 0 && next)
			o->topology = argv[++i];
		else if (strcmp(a, "--data") == 0 && next)
			o->data = argv[++i];
		else if (strcmp(a, "--tmp") == 0 && next)
			o->tmp = argv[++i];
		else if (strcmp(a, "--nodes") == 0 &&
			 parse_u64(next, &v) == 0 && v >= 2 && v <= 1000)
			o->nodes = (int)v, i++;
		else if (strcmp(a, "--seeds") == 0 && parse_u64(next, &v) == 0)
			o->seeds = v, i++;
		else if (strcmp(a, "--from") == 0 && parse_u64(next, &v) == 0)
			o->from = v, i++;
		else if (strcmp(a, "--seed") == 0 && parse_u64(next, &v) == 0)
			o->from = v, o->seeds = 1, i++;
		else
			return usage();
	}
	return 0;
}

/* A private directory for this run, on tmpfs when there is one. */
static int make_run_dir(opts *o, char *dir, size_t len)
{
	const char *base = o->tmp			   ? o->tmp
			   : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
							   : "/tmp";
	snprintf(dir, len, "%s/hutong-sim-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "hutong-sim: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	o->tmp = dir;
	return 0;
}

static int make_keys(const topo *t, const char *dir, char *keys, size_t len)
{
	snprintf(keys, len, "%s/keys", dir);
	if (mkdir(keys, 0700) != 0)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/n%s.key", keys, t->region[i]);
		if (write_key(path, i) != 0)
			return -1;
	}
	return 0;
}

static void remove_keys(const topo *t, const char *keys)
{
	for (size_t i = 0; i < t->n; i++) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/n%s.key", keys, t->region[i]);
		unlink(path);
	}
	rmdir(keys);
}

int main(int argc, char **argv)
{
	opts o;
	topo t;
	char dir[PATH_MAX], keys[PATH_MAX + 16];
	if (parse_opts(argc, argv, &o) != 0)
		return 2;
	if (sodium_init() < 0 || build_topology(&o, &t) != 0)
		return usage();
	if (make_run_dir(&o, dir, sizeof(dir)) != 0 ||
	    make_keys(&t, dir, keys, sizeof(keys)) != 0) {
		fprintf(stderr, "hutong-sim: cannot set up %s\n", dir);
		return 1;
	}
	printf(
	    "hutong-sim: topology %s, %zu nodes, %zu links, seeds %llu-%llu\n",
	    o.topology, t.n, t.n_edges, (unsigned long long)o.from,
	    (unsigned long long)(o.from + o.seeds - 1));
	fflush(stdout);
	uint64_t passed = 0, failed = 0;
	for (uint64_t seed = o.from; seed < o.from + o.seeds; seed++) {
		if (run_seed(&o, &t, keys, seed))
			passed++;
		else
			failed++;
		fflush(stdout);
	}
	remove_keys(&t, keys);
	rmdir(dir);
	topo_free(&t);
	printf("%llu passed, %llu failed\n", (unsigned long long)passed,
	       (unsigned long long)failed);
	return failed == 0 ? 0 : 1;
}
