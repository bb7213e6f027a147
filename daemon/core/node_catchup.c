/*
 * node_catchup: a node's own chain before it signs anything. A node that
 * lost its ledger (or never had one) and signed a fresh genesis would fork
 * its own region for every neighbour that knows it; so, given neighbours,
 * it first asks them (their frontiers) and takes its chain back through
 * the ordinary sync sessions, and only then signs. This file owns that
 * decision (see node.h), the check of the ledger file before it is opened,
 * and the gate every signing path (submit, rotation) passes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node_impl.h"

#define SQLITE_MAGIC "SQLite format 3"

/* ---- the ledger file ---- */

/* Does the file at fd start with SQLite's header? */
static bool is_sqlite(int fd)
{
	char head[sizeof(SQLITE_MAGIC)];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	return n == (ssize_t)sizeof(head) &&
	       memcmp(head, SQLITE_MAGIC, sizeof(head)) == 0;
}

static const char *lost_next(bool defer)
{
	return defer ? "catching up own chain from neighbours"
		     : "no neighbours configured, signing a new genesis";
}

int node_ledger_file_check(node *n, const char *path, bool defer, ht_err *err)
{
	struct stat st;
	char aside[PATH_MAX];
	if (stat(path, &st) != 0)
		return errno == ENOENT
			   ? 0
			   : ht_err_set(err, HT_EIO, "ledger", "%s: %s", path,
					strerror(errno));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ht_err_set(err, HT_EIO, "ledger", "%s: %s", path,
				  strerror(errno));
	bool db = st.st_size == 0 || is_sqlite(fd);
	close(fd);
	if (st.st_size == 0) {
		log_warn(n->log, "ledger.db is empty path=%s next=%s",
			 LOG_T(path), LOG_Q(lost_next(defer)));
		return 0;
	}
	if (db)
		return 0;
	if (snprintf(aside, sizeof(aside), "%s.unreadable", path) >=
		(int)sizeof(aside) ||
	    rename(path, aside) != 0)
		return ht_err_set(err, HT_ECORRUPT, "ledger",
				  "%s is not a SQLite database and cannot be "
				  "moved aside",
				  path);
	log_warn(n->log,
		 "ledger.db is not a database, moved aside path=%s "
		 "moved_to=%s next=%s",
		 LOG_T(path), LOG_T(aside), LOG_Q(lost_next(defer)));
	return 0;
}

/* ---- the gate ---- */

int node_check_ready(const node *n, ht_err *err)
{
	if (n->own_ready)
		return 0;
	if (n->cu_error[0] != '\0')
		return ht_err_set(err, HT_ESTATE, "", "%s", n->cu_error);
	return ht_err_set(err, HT_ESTATE, "",
			  "hutongd is catching up its own chain from its "
			  "neighbours (%zu of %zu answered); try again "
			  "shortly",
			  n->cu_n, n->cu_peers);
}

/* ---- the decision ---- */

static uint64_t own_seq(const node *n)
{
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	return o ? o->seq : 0;
}

int node_catchup_begin(node *n, size_t peers, int64_t now_ms,
		       int64_t timeout_ms, ht_err *err)
{
	n->cu_peers = peers;
	n->cu_start = now_ms;
	n->cu_deadline = now_ms + timeout_ms;
	n->cu_warn_at = n->cu_deadline;
	if (peers == 0)
		return n->own_ready ? 0 : node_write_genesis(n, err);
	n->cu_active = true;
	if (n->own_ready) {
		/* A restart, maybe from an old backup: neighbours may hold
		 * more of this chain than we do; signing first would fork
		 * it. */
		n->own_ready = false;
		n->cu_had_chain = true;
		log_info(n->log,
			 "confirming own chain origin=%s seq=%llu from=peers "
			 "peers=%zu timeout_ms=%lld",
			 n->region, (unsigned long long)own_seq(n), peers,
			 (long long)timeout_ms);
		return 0;
	}
	log_info(n->log,
		 "catching up own chain origin=%s from=peers peers=%zu "
		 "timeout_ms=%lld",
		 n->region, peers, (long long)timeout_ms);
	return 0;
}

void node_catchup_set_timeout(node *n, int64_t timeout_ms)
{
	bool warned = n->cu_warn_at > n->cu_deadline;
	n->cu_deadline = n->cu_start + timeout_ms;
	if (!warned)
		n->cu_warn_at = n->cu_deadline;
}

static bool answered_by(const node *n, const char *peer)
{
	for (size_t i = 0; i < n->cu_n; i++)
		if (strcmp(n->cu_answered[i], peer) == 0)
			return true;
	return false;
}

void node_catchup_answer(node *n, const char *peer, uint64_t seq)
{
	if (!answered_by(n, peer) && n->cu_n < NODE_CATCHUP_PEERS)
		snprintf(n->cu_answered[n->cu_n++], RECORD_MAX_NAME + 1, "%s",
			 peer);
	if (seq > n->cu_target)
		n->cu_target = seq;
	if (!n->own_ready || seq <= own_seq(n))
		return;
	/* We hold our chain, a neighbour holds more of it: a restored
	 * backup. Signing now would fork it. */
	n->own_ready = false;
	n->cu_active = true;
	log_warn(n->log,
		 "own chain behind a neighbour, catching up origin=%s seq=%llu "
		 "peer=%s peer_seq=%llu",
		 n->region, (unsigned long long)own_seq(n), peer,
		 (unsigned long long)seq);
}

/* The chain the neighbours gave back must be this node's: its key and
 * name (as check_origin demands at open). */
static int check_caught_up(node *n)
{
	const ledger_origin *o = ledger_origin_find(n->ledger, n->region);
	if (sodium_memcmp(o->key, ident_public(n->id), RECORD_PK_BYTES) != 0 ||
	    strcmp(o->node, n->name) != 0) {
		snprintf(n->cu_error, sizeof(n->cu_error),
			 "the neighbours' chain of origin %s is signed by "
			 "another key or node ('%s'); this node will not sign "
			 "for it",
			 n->region, o->node);
		log_warn(n->log, "own chain refused origin=%s reason=%s",
			 n->region, LOG_Q(n->cu_error));
		n->cu_active = false;
		return 0;
	}
	n->own_ready = true;
	n->cu_active = false;
	log_info(n->log, "own chain caught up origin=%s seq=%llu answered=%zu",
		 n->region, (unsigned long long)o->seq, n->cu_n);
	return 1;
}

/* Past the timeout, no neighbour answered, and the node held its chain at
 * start: sign from what it holds (availability over certainty), and say
 * so. A later answer that holds more stops signing (node_catchup_answer). */
static int sign_unconfirmed(node *n)
{
	n->own_ready = true;
	n->cu_active = false;
	log_warn(n->log,
		 "own chain unconfirmed: no neighbour answered within "
		 "catchup_timeout, signing from the chain held origin=%s "
		 "seq=%llu peers=%zu",
		 n->region, (unsigned long long)own_seq(n), n->cu_peers);
	return 1;
}

static void warn_unconfirmed(node *n, int64_t now_ms)
{
	if (now_ms < n->cu_warn_at)
		return;
	n->cu_warn_at = now_ms + NODE_CATCHUP_WARN_MS;
	log_warn(n->log,
		 "cannot confirm own chain: no neighbour answered; start with "
		 "--new-origin to sign a genesis without one origin=%s "
		 "peers=%zu",
		 n->region, n->cu_peers);
}

int node_catchup_tick(node *n, int64_t now_ms, ht_err *err)
{
	bool all = n->cu_n >= n->cu_peers, late = now_ms >= n->cu_deadline;
	if (!n->cu_active)
		return 0;
	if (n->cu_n == 0) {
		if (late && n->cu_had_chain)
			return sign_unconfirmed(n);
		if (late)
			warn_unconfirmed(n, now_ms);
		return 0;
	}
	if (!all && !late)
		return 0;
	if (n->cu_target == 0 && own_seq(n) == 0) {
		log_info(n->log,
			 "own chain unknown to neighbours, signing a genesis "
			 "origin=%s answered=%zu peers=%zu",
			 n->region, n->cu_n, n->cu_peers);
		int rc = node_write_genesis(n, err);
		if (rc == 0)
			n->cu_active = false;
		return rc == 0 ? 1 : rc;
	}
	if (own_seq(n) < n->cu_target)
		return 0; /* the sessions are still bringing it */
	return check_caught_up(n);
}

void node_catchup_get(const node *n, node_catchup_info *out)
{
	memset(out, 0, sizeof(*out));
	out->ready = n->own_ready;
	out->active = n->cu_active;
	out->unconfirmed =
	    n->cu_active && n->cu_n == 0 && n->cu_warn_at > n->cu_deadline;
	out->confirmed = n->cu_n > 0 || n->cu_peers == 0;
	out->answered = n->cu_n;
	out->peers = n->cu_peers;
	out->seq = own_seq(n);
	out->target = n->cu_target;
	snprintf(out->error, sizeof(out->error), "%s", n->cu_error);
}
