/*
 * sampler: receipts on the daemon's timer, and the links' counters
 * sampled into the event log. The sampling reads the same per-peer numbers
 * `status` shows (links_peer_info) and writes, through the ledger's event
 * log, one "sent" row per peer per sample when records went out, and a row
 * per connect or disconnect seen between samples. It needs nothing from the
 * link code but those counters; when the links log these events at the
 * source, this part can go.
 */
#include "sampler.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct peer_seen {
	char name[RECORD_MAX_NAME + 1];
	uint64_t sent;
	bool connected;
} peer_seen;

struct sampler {
	int64_t next_sample_ms; /* monotonic */
	peer_seen peers[CONF_MAX_PEERS];
	size_t n_peers;
};

sampler *sampler_new(void) { return calloc(1, sizeof(sampler)); }

void sampler_free(sampler **a)
{
	if (a == NULL || *a == NULL)
		return;
	free(*a);
	*a = NULL;
}

static peer_seen *seen_peer(sampler *a, const char *name)
{
	for (size_t i = 0; i < a->n_peers; i++)
		if (strcmp(a->peers[i].name, name) == 0)
			return &a->peers[i];
	if (a->n_peers == CONF_MAX_PEERS)
		return NULL;
	peer_seen *p = &a->peers[a->n_peers++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	return p;
}

static void log_event(node *n, ht_log *log, const char *peer, int kind,
		      uint64_t count)
{
	ht_err err = {0};
	ledger_event ev = {.peer = peer, .kind = kind, .count = count};
	if (ledger_log_event(node_ledger(n), &ev, NULL, &err) != 0)
		log_warn(log, "event log failed kind=%s peer=%s reason=%s",
			 ledger_event_name(kind), LOG_T(peer), LOG_Q(err.msg));
}

/* One peer's counters against the last sample. The peer is named as
 * node_receive names it: by its certificate's node name. */
static void sample_peer(sampler *a, node *n, ht_log *log, const status_peer *p)
{
	const char *name = p->node[0] != '\0' ? p->node : p->name;
	peer_seen *s = seen_peer(a, name);
	if (s == NULL)
		return;
	uint64_t sent = p->tx.sent;
	bool up = p->connected;
	if (up && !s->connected)
		log_event(n, log, name, LEDGER_EV_CONNECT, 1);
	if (sent < s->sent) /* the session restarted its count */
		s->sent = 0;
	if (sent > s->sent)
		log_event(n, log, name, LEDGER_EV_SENT, sent - s->sent);
	if (!up && s->connected)
		log_event(n, log, name, LEDGER_EV_DISCONNECT, 1);
	s->sent = sent;
	s->connected = up;
}

static void sample_links(sampler *a, node *n, const links *l, ht_log *log)
{
	status_peer p;
	for (size_t i = 0; i < links_peer_count(l); i++) {
		links_peer_info(l, i, &p);
		sample_peer(a, n, log, &p);
	}
}

bool sampler_tick(sampler *a, node *n, const links *l, const conf *cf,
		  ht_log *log)
{
	const ht_clock *clk = util_clock_system();
	uint8_t id[RECORD_ID_BYTES];
	ht_err err = {0};
	int64_t mono = clk->mono_ms(clk->ctx);
	if (a != NULL && l != NULL && mono >= a->next_sample_ms) {
		a->next_sample_ms = mono + SAMPLER_INTERVAL_MS;
		sample_links(a, n, l, log);
	}
	/* node_maybe_receipt logs its own failures */
	return node_maybe_receipt(n, clk->now_ms(clk->ctx),
				  cf->receipt_interval.ms, id, &err) == 1;
}
