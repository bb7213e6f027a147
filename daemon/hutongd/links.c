/*
 * links: CurveZMQ sockets for the sync sessions. Owns the link server
 * (ROUTER + ZAP handler), one DEALER and one monitor per peer, the peer
 * table (configured name, certificate chain, what the certificate says,
 * whether it verifies now), and the two sync sessions per peer.
 *
 * Reentrancy rule: nothing closes or opens a socket while poll entries are
 * being dispatched or while a sync call is on the stack. Handlers only set
 * per-peer flags (drop_out: close and redial our DEALER; reset_in: reset the
 * receiver session) and links->pump_due; settle() applies them afterwards.
 * Socket set changes bump `gen`, which makes stale poll entries harmless.
 *
 * Closing a peer's inbound connection: a ROUTER has no per-connection close,
 * so we remember the file descriptor each peer's frames arrive on
 * (ZMQ_SRCFD) together with the remote address it had then, and on
 * revocation or removal shut that connection down only if the descriptor
 * still has that address. The peer's reconnect then meets the ZAP handler.
 */
#include "links.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ident.h"
#include "sync.h"
#include "util.h"
#include "zap.h"

#define LINK_BURST 64	    /* messages read from one socket per dispatch */
#define LINK_MON_BURST 4096 /* link server monitor events per dispatch */
#define LINK_KEY_BYTES 32
#define LINK_REDIAL_MIN_MS 1000 /* after a dropped link */
#define LINK_MON_EVENTS                                                        \
	(ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |              \
	 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |                                     \
	 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |                                 \
	 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
#define LINK_SERVER_EVENTS                                                     \
	(ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |        \
	 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_ACCEPTED)
#define LINK_REFUSAL_LOG_MS 60000 /* a refused connection: one line per */
#define LINK_APPROVALS 256	  /* ZAP approvals awaiting a first frame */
#define LINK_SILENT_MS (2 * LINK_HANDSHAKE_MS) /* accepted, no frame: shut */

typedef struct lpeer {
	struct links *l;
	conf_peer cfg;	 /* name (our label), endpoint, cert path */
	pki_chain chain; /* its certificate chain as configured */
	pki_identity id; /* what its node certificate says */
	bool parsed;	 /* chain and id were read */
	bool trusted;	 /* verified at the last check: linked */
	char refusal[HT_ERR_MSG_MAX]; /* why not trusted */
	bool warned;		      /* the refusal was logged */
	bool auth_warned;  /* "refused us" logged since the last success */
	sync_sender *tx;   /* our records to it, over dealer */
	sync_receiver *rx; /* its records to us, over the ROUTER */
	void *dealer;
	void *monitor;
	bool up;	    /* dealer handshake succeeded, not dropped */
	unsigned redials;   /* back-off exponent after dropped links */
	int64_t redial_at;  /* when to reopen the dealer; 0 = none */
	bool drop_out;	    /* deferred: close dealer, redial later */
	bool reset_in;	    /* deferred: reset the receiver session */
	int64_t mute_until; /* inbound frames ignored until then */
	uint8_t rid[LINK_MAX_ROUTING_ID]; /* latest routing id: replies */
	size_t rid_len;
	int in_fd;			 /* inbound connection's fd, or -1 */
	struct sockaddr_storage in_addr; /* its remote address then */
	socklen_t in_addr_len;
	uint64_t in_lost;	/* inbound connections that went away */
	uint64_t conn_refused;	/* connections over the per-peer limit */
	int64_t refusal_log_at; /* next "connection refused" line */
} lpeer;

/* An inbound connection of the link server, from its ACCEPTED event to
 * its DISCONNECTED one; p once ZAP admitted it for that peer. */
typedef struct lconn {
	int fd;
	lpeer *p;      /* from its first frame (User-Id, ZMQ_SRCFD) */
	int64_t at_ms; /* accepted */
} lconn;

enum slot_kind {
	SLOT_ROUTER,
	SLOT_ROUTER_MON,
	SLOT_ZAP,
	SLOT_DEALER,
	SLOT_MONITOR
};

typedef struct slot {
	enum slot_kind kind;
	lpeer *p;
} slot;

struct links {
	void *zctx;
	node *node;
	ht_log *log;
	const ht_clock *clock;
	char name[RECORD_MAX_NAME + 1]; /* this node */
	char listen[CONF_MAX_ENDPOINT]; /* as bound; "" = no server */
	bool armed;			/* keys, certificates, ops ready */
	uint8_t pk[LINK_KEY_BYTES];
	uint8_t *sk;		/* sodium_malloc'd link secret */
	const pki_store *pki;	/* the daemon's, current */
	const pki_chain *certs; /* the daemon's */
	sync_node_ops ops;
	void *router;
	zap *zap;
	lpeer *peers[CONF_MAX_PEERS];
	size_t n_peers;
	slot slots[LINKS_MAX_ITEMS];
	size_t n_slots;
	unsigned gen, slots_gen;
	unsigned mon_seq; /* unique monitor endpoints */
	bool pump_due;
	bool closing; /* links_free: no connection surgery */
	int64_t recheck_at;
	uint64_t unknown_frames;
	void *router_mon;	   /* the server's connection events */
	uint64_t handshake_failed; /* inbound, before ZAP: not our protocol */
	uint64_t closed_unlinked;  /* inbound, closed before a first frame */
	int64_t fetch_at;	   /* next ask for missing bodies */
	/* Connection limits (see conn_* below). */
	lconn *conns;
	size_t n_conns, cap_conns;
	struct {
		lpeer *p;
		int64_t at;
	} appr[LINK_APPROVALS]; /* FIFO: admitted, handshake not yet seen */
	size_t appr_head, n_appr;
	uint64_t max_conns, max_per_peer, auto_max;
	uint64_t conn_refused;
	int64_t refusal_log_at;
	int listen_port; /* to recognise our accepted sockets; 0 unknown */
};

static int64_t now_ms(const links *l)
{
	return l->clock->now_ms(l->clock->ctx);
}

/* ---- finding peers ---- */

static lpeer *peer_by_key(const links *l, const uint8_t key[LINK_KEY_BYTES])
{
	for (size_t i = 0; i < l->n_peers; i++) {
		lpeer *p = l->peers[i];
		if (p->parsed &&
		    sodium_memcmp(p->id.link_pk, key, LINK_KEY_BYTES) == 0)
			return p;
	}
	return NULL;
}

/* The peer whose certificate names node `name` (the ZAP User-Id). */
static lpeer *peer_by_node(const links *l, const char *name)
{
	for (size_t i = 0; i < l->n_peers; i++)
		if (l->peers[i]->parsed &&
		    strcmp(l->peers[i]->id.name, name) == 0)
			return l->peers[i];
	return NULL;
}

static lpeer *peer_by_label(const links *l, const char *name)
{
	for (size_t i = 0; i < l->n_peers; i++)
		if (strcmp(l->peers[i]->cfg.name, name) == 0)
			return l->peers[i];
	return NULL;
}

/* Does p's certificate verify now, for a peer we may link with? Pure: the
 * ZAP handler calls it while poll entries are live. */
static int peer_verify(const links *l, const lpeer *p, ht_err *err)
{
	pki_identity id;
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	if (!p->parsed)
		return ht_err_set(err, HT_ETRUST, "", "%s", p->refusal);
	if (strcmp(p->id.name, l->name) == 0)
		return ht_err_set(err, HT_ETRUST, "",
				  "certificate is this node's own");
	for (size_t i = 0; i < l->n_peers && l->peers[i] != p; i++)
		if (l->peers[i]->parsed &&
		    strcmp(l->peers[i]->id.name, p->id.name) == 0)
			return ht_err_set(err, HT_ETRUST, "",
					  "node '%s' is already peer '%s'",
					  p->id.name, l->peers[i]->cfg.name);
	ht_err e = {0};
	if (pki_verify_chain(l->pki, (const uint8_t *const *)p->chain.der,
			     p->chain.len, p->chain.n, now_ms(l), &id, &e) != 0)
		return ht_err_set(err, HT_ETRUST, "", "%s",
				  ht_err_str(&e, msg, sizeof(msg)));
	return 0;
}

/* ---- sync node ops ---- */

/* The certificate chain a peer presents in Hello/Welcome must verify, name
 * the node the link authenticated (ZAP User-Id / our dealer's peer), and
 * certify the CURVE key that link was authenticated with. */
static int op_check_peer(void *ctx, const char *peer, const uint8_t *const *der,
			 const size_t *len, size_t n, ht_err *err)
{
	links *l = ctx;
	lpeer *p = peer_by_node(l, peer);
	pki_identity id;
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	ht_err e = {0};
	if (p == NULL || !p->trusted)
		return ht_err_set(err, HT_ETRUST, "certificates",
				  "node '%s' is not a linked peer", peer);
	if (n == 0)
		return ht_err_set(err, HT_ETRUST, "certificates",
				  "no certificate presented");
	if (pki_verify_chain(l->pki, der, len, n, now_ms(l), &id, &e) != 0)
		return ht_err_set(err, HT_ETRUST, "certificates", "%s",
				  ht_err_str(&e, msg, sizeof(msg)));
	if (strcmp(id.name, peer) != 0)
		return ht_err_set(err, HT_ETRUST, "certificates",
				  "certificate is for node '%s' but the link "
				  "authenticated '%s'",
				  id.name, peer);
	if (sodium_memcmp(id.link_pk, p->id.link_pk, LINK_KEY_BYTES) != 0)
		return ht_err_set(err, HT_ETRUST, "certificates",
				  "certificate's link key is not the key the "
				  "link authenticated");
	return 0;
}

/* ---- connection limits ----
 *
 * libzmq accepts every TCP connection itself, so the limits are kept from
 * the link server's monitor: ACCEPTED adds a connection (by fd),
 * DISCONNECTED removes it. Over max_connections a new connection is shut
 * down at once. ZAP refuses a handshake when the peer already has
 * max_connections_per_peer admitted connections, or the admitted ones in
 * all reach max_connections. Which connection an admission belongs to is
 * learnt from its first frame (ZMQ_SRCFD with the User-Id ZAP set; libzmq's
 * handshake events carry no descriptor); until then the admission counts
 * as pending for its peer. An honest sender says Hello at once, so a
 * connection with no frame LINK_SILENT_MS after it was accepted is shut
 * down (its admission expires then): what is counted is what is open.
 * Each refusal is counted; one line per peer per LINK_REFUSAL_LOG_MS. */

static void conn_refused(links *l, lpeer *p, const char *why, uint64_t lim)
{
	uint64_t *count = p ? &p->conn_refused : &l->conn_refused;
	int64_t *at = p ? &p->refusal_log_at : &l->refusal_log_at;
	int64_t now = now_ms(l);
	if (p != NULL)
		l->conn_refused++;
	(*count)++;
	if (now < *at)
		return;
	*at = now + LINK_REFUSAL_LOG_MS;
	char reason[HT_ERR_MSG_MAX];
	snprintf(reason, sizeof(reason), "%s (limit %llu)", why,
		 (unsigned long long)lim);
	log_warn(l->log, "connection refused peer=%s reason=%s count=%llu",
		 p ? p->cfg.name : "-", LOG_Q(reason),
		 (unsigned long long)*count);
}

/* Drop admissions older than LINK_SILENT_MS. */
static void appr_expire(links *l)
{
	int64_t old = now_ms(l) - LINK_SILENT_MS;
	while (l->n_appr > 0 && (l->appr[l->appr_head].at < old ||
				 l->appr[l->appr_head].p == NULL)) {
		l->appr_head = (l->appr_head + 1) % LINK_APPROVALS;
		l->n_appr--;
	}
}

static void appr_push(links *l, lpeer *p)
{
	appr_expire(l);
	if (l->n_appr == LINK_APPROVALS) { /* full: forget the oldest */
		l->appr_head = (l->appr_head + 1) % LINK_APPROVALS;
		l->n_appr--;
	}
	size_t at = (l->appr_head + l->n_appr++) % LINK_APPROVALS;
	l->appr[at].p = p;
	l->appr[at].at = now_ms(l);
}

/* Admitted connections of p (all peers when p is NULL), live or waiting
 * for their handshake. */
static uint64_t conn_count(const links *l, const lpeer *p)
{
	uint64_t n = 0;
	for (size_t i = 0; i < l->n_conns; i++)
		n += l->conns[i].p != NULL && (p == NULL || l->conns[i].p == p);
	for (size_t i = 0; i < l->n_appr; i++) {
		const lpeer *q = l->appr[(l->appr_head + i) % LINK_APPROVALS].p;
		n += q != NULL && (p == NULL || q == p);
	}
	return n;
}

static bool conn_over_limit(links *l, lpeer *p, ht_err *err)
{
	appr_expire(l);
	if (conn_count(l, p) >= l->max_per_peer) {
		conn_refused(l, p, "too many connections from this peer",
			     l->max_per_peer);
		return ht_err_set(err, HT_ELIMIT, "",
				  "too many connections from this peer") != 0;
	}
	if (conn_count(l, NULL) >= l->max_conns) {
		conn_refused(l, NULL, "too many connections", l->max_conns);
		return ht_err_set(err, HT_ELIMIT, "", "too many connections") !=
		       0;
	}
	return false;
}

static lconn *conn_find(links *l, int fd)
{
	for (size_t i = 0; i < l->n_conns; i++)
		if (l->conns[i].fd == fd)
			return &l->conns[i];
	return NULL;
}

/* Is fd a TCP connection accepted on our listen port? (The event is read
 * later than it happened: the fd may have been closed and reused.) */
static bool is_our_conn(const links *l, int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	if (l->listen_port == 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return false;
	if (a.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&a)->sin_port) ==
		       l->listen_port;
	if (a.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&a)->sin6_port) ==
		       l->listen_port;
	return false;
}

static void conn_accepted(links *l, int fd)
{
	lconn *c = conn_find(l, fd);
	if (c == NULL && l->n_conns == l->cap_conns) {
		size_t cap = l->cap_conns ? 2 * l->cap_conns : 64;
		lconn *m = realloc(l->conns, cap * sizeof(*m));
		if (m == NULL)
			return; /* uncounted; ZAP still limits per peer */
		l->conns = m;
		l->cap_conns = cap;
	}
	if (c == NULL)
		c = &l->conns[l->n_conns++];
	*c = (lconn){fd, NULL, now_ms(l)};
	if (l->n_conns > l->max_conns && is_our_conn(l, fd)) {
		conn_refused(l, NULL, "too many connections", l->max_conns);
		shutdown(fd, SHUT_RDWR); /* libzmq closes it: DISCONNECTED */
	}
}

/* A frame from p came on fd: that connection is p's; one of p's pending
 * admissions is now it. */
static void conn_attribute(links *l, lpeer *p, int fd)
{
	lconn *c = fd >= 0 ? conn_find(l, fd) : NULL;
	if (c == NULL || c->p != NULL)
		return;
	c->p = p;
	for (size_t i = 0; i < l->n_appr; i++) {
		size_t at = (l->appr_head + i) % LINK_APPROVALS;
		if (l->appr[at].p == p) {
			l->appr[at].p = NULL; /* appr_expire skips it */
			break;
		}
	}
}

/* Shut down connections that sent nothing since LINK_SILENT_MS after
 * they were accepted (see above). */
static void conn_reap_silent(links *l)
{
	int64_t old = now_ms(l) - LINK_SILENT_MS;
	for (size_t i = 0; i < l->n_conns; i++) {
		lconn *c = &l->conns[i];
		if (c->p != NULL || c->at_ms >= old)
			continue;
		c->at_ms = INT64_MAX; /* once; DISCONNECTED removes it */
		if (is_our_conn(l, c->fd))
			shutdown(c->fd, SHUT_RDWR);
	}
}

static void conn_gone(links *l, int fd)
{
	lconn *c = conn_find(l, fd);
	if (c != NULL)
		*c = l->conns[--l->n_conns];
}

/* A peer is going away: no connection or admission may point to it. */
static void conn_forget_peer(links *l, const lpeer *p)
{
	for (size_t i = 0; i < l->n_conns; i++)
		if (l->conns[i].p == p)
			l->conns[i].p = NULL;
	for (size_t i = 0; i < LINK_APPROVALS; i++)
		if (l->appr[i].p == p)
			l->appr[i].p = NULL;
}

/* ---- the ZAP decision ---- */

static int zap_admit(void *ctx, const uint8_t key[ZAP_KEY_BYTES],
		     char user_id[ZAP_USER_ID_MAX + 1], ht_err *err)
{
	links *l = ctx;
	lpeer *p = peer_by_key(l, key);
	ht_err e = {0};
	if (p == NULL)
		return ht_err_set(err, HT_ETRUST, "",
				  "unknown key: no configured peer's "
				  "certificate has this link key");
	if (peer_verify(l, p, &e) != 0)
		return ht_err_set(err, HT_ETRUST, "",
				  "configured peer '%s': %s", p->cfg.name,
				  e.msg);
	if (conn_over_limit(l, p, err))
		return HT_ELIMIT;
	appr_push(l, p);
	snprintf(user_id, ZAP_USER_ID_MAX + 1, "%s", p->id.name);
	return 0;
}

/* ---- socket options ---- */

static int set_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v));
}

/* Options both ends of a link share. 0 or -1 (zmq_errno). */
static int link_opts(void *s)
{
	int64_t max = SYNC_MAX_FRAME;
	if (set_int(s, ZMQ_LINGER, 0) != 0 ||
	    set_int(s, ZMQ_HANDSHAKE_IVL, LINK_HANDSHAKE_MS) != 0 ||
	    set_int(s, ZMQ_HEARTBEAT_IVL, LINK_HEARTBEAT_MS) != 0 ||
	    set_int(s, ZMQ_HEARTBEAT_TIMEOUT, LINK_HEARTBEAT_TIMEOUT_MS) != 0 ||
	    set_int(s, ZMQ_HEARTBEAT_TTL, LINK_HEARTBEAT_TTL_MS) != 0 ||
	    set_int(s, ZMQ_RCVHWM, LINK_RCVHWM) != 0 ||
	    set_int(s, ZMQ_SNDHWM, LINK_SNDHWM) != 0 ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max)) != 0)
		return -1;
	return 0;
}

static int dealer_opts(const links *l, const lpeer *p, void *d)
{
	if (link_opts(d) != 0 || set_int(d, ZMQ_IMMEDIATE, 1) != 0 ||
	    set_int(d, ZMQ_RECONNECT_IVL, LINK_RECONNECT_MS) != 0 ||
	    set_int(d, ZMQ_RECONNECT_IVL_MAX, LINK_RECONNECT_MAX_MS) != 0 ||
	    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, p->id.link_pk,
			   LINK_KEY_BYTES) != 0 ||
	    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, l->pk, LINK_KEY_BYTES) !=
		0 ||
	    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, l->sk, LINK_KEY_BYTES) != 0)
		return -1;
	return 0;
}

/* ---- our DEALER to one peer ---- */

static void dealer_close(links *l, lpeer *p)
{
	if (p->dealer != NULL) {
		zmq_socket_monitor(p->dealer, NULL, 0);
		zmq_close(p->dealer);
		p->dealer = NULL;
		l->gen++;
	}
	if (p->monitor != NULL) {
		zmq_close(p->monitor);
		p->monitor = NULL;
	}
	if (p->up) {
		p->up = false;
		sync_sender_on_disconnect(p->tx);
	}
}

static void schedule_redial(links *l, lpeer *p)
{
	int64_t delay = (int64_t)LINK_REDIAL_MIN_MS
			<< (p->redials < 3 ? p->redials : 3);
	if (delay > LINK_RECONNECT_MAX_MS)
		delay = LINK_RECONNECT_MAX_MS;
	p->redials++;
	p->redial_at = now_ms(l) + delay;
}

/* Open the DEALER and its monitor and start connecting. On failure logs,
 * cleans up and schedules another try. */
static void dealer_open(links *l, lpeer *p)
{
	char ep[64];
	snprintf(ep, sizeof(ep), "inproc://hutong-link-monitor-%u",
		 ++l->mon_seq);
	p->dealer = zmq_socket(l->zctx, ZMQ_DEALER);
	p->monitor = zmq_socket(l->zctx, ZMQ_PAIR);
	l->gen++;
	if (p->dealer == NULL || p->monitor == NULL ||
	    dealer_opts(l, p, p->dealer) != 0 ||
	    zmq_socket_monitor(p->dealer, ep, LINK_MON_EVENTS) != 0 ||
	    set_int(p->monitor, ZMQ_LINGER, 0) != 0 ||
	    zmq_connect(p->monitor, ep) != 0 ||
	    zmq_connect(p->dealer, p->cfg.endpoint) != 0) {
		log_warn(l->log,
			 "link cannot open peer=%s endpoint=%s reason=%s",
			 p->cfg.name, LOG_T(p->cfg.endpoint),
			 LOG_Q(zmq_strerror(zmq_errno())));
		dealer_close(l, p);
		schedule_redial(l, p);
		return;
	}
	log_debug(l->log, "link connecting peer=%s endpoint=%s", p->cfg.name,
		  p->cfg.endpoint);
}

/* ---- the sessions' channels ---- */

static int tx_send(void *ctx, const uint8_t *buf, size_t len)
{
	lpeer *p = ctx;
	if (p->dealer == NULL || !p->up || p->drop_out)
		return -1;
	return zmq_send(p->dealer, buf, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* Replies go to the routing id the peer's last frame came from. With
 * ROUTER_MANDATORY a vanished connection is EHOSTUNREACH, not a silent
 * drop: the receiver session is reset and waits for a new Hello. */
static int rx_send(void *ctx, const uint8_t *buf, size_t len)
{
	lpeer *p = ctx;
	links *l = p->l;
	if (l->router == NULL || p->rid_len == 0 || p->reset_in)
		return -1;
	if (zmq_send(l->router, p->rid, p->rid_len,
		     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
		if (zmq_errno() == EHOSTUNREACH) {
			log_info(l->log,
				 "link inbound connection gone, receiver "
				 "reset peer=%s",
				 p->cfg.name);
			p->reset_in = true;
			p->rid_len = 0;
		}
		return -1;
	}
	return zmq_send(l->router, buf, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* ---- peers: start, stop, add, remove ---- */

static bool same_addr(int fd, const struct sockaddr_storage *a, socklen_t alen)
{
	struct sockaddr_storage now;
	socklen_t len = sizeof(now);
	memset(&now, 0, sizeof(now));
	return getpeername(fd, (struct sockaddr *)&now, &len) == 0 &&
	       len == alen && memcmp(&now, a, len) == 0;
}

/* Shut the peer's inbound TCP connection down (see the file comment). */
static void close_inbound(links *l, lpeer *p)
{
	if (!l->closing && p->in_fd >= 0 &&
	    same_addr(p->in_fd, &p->in_addr, p->in_addr_len)) {
		shutdown(p->in_fd, SHUT_RDWR);
		log_info(l->log, "link inbound connection closed peer=%s",
			 p->cfg.name);
	}
	p->in_fd = -1;
	p->rid_len = 0;
}

static int peer_start(links *l, lpeer *p)
{
	p->tx = sync_sender_new(&l->ops, p->id.name, tx_send, p);
	p->rx = sync_receiver_new(&l->ops, p->id.name, rx_send, p);
	if (p->tx == NULL || p->rx == NULL) {
		sync_receiver_free(&p->rx);
		sync_sender_free(&p->tx);
		return HT_ENOMEM;
	}
	sync_receiver_pair(p->rx, p->tx);
	sync_sender_watch(p->tx, node_region(l->node));
	p->redials = 0;
	p->redial_at = 0;
	dealer_open(l, p);
	return 0;
}

/* Close both links and end both sessions. */
static void peer_stop(links *l, lpeer *p)
{
	dealer_close(l, p);
	close_inbound(l, p);
	sync_receiver_free(&p->rx); /* before its paired sender */
	sync_sender_free(&p->tx);
	p->redial_at = 0;
	p->drop_out = p->reset_in = false;
}

static void peer_free(links *l, lpeer **pp)
{
	if (*pp == NULL)
		return;
	peer_stop(l, *pp);
	pki_chain_clear(&(*pp)->chain);
	free(*pp);
	*pp = NULL;
}

/* Read the peer's certificate file. The peer exists even when it cannot be
 * read: status shows why it is not linked. */
static lpeer *peer_new(links *l, const conf_peer *cp)
{
	lpeer *p = calloc(1, sizeof(*p));
	ht_err e = {0};
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	if (p == NULL)
		return NULL;
	p->l = l;
	p->cfg = *cp;
	p->in_fd = -1;
	if (pki_chain_read_pem(cp->cert, &p->chain, &e) != 0 ||
	    pki_identity_from_pem_file(cp->cert, &p->id, &e) != 0)
		snprintf(p->refusal, sizeof(p->refusal), "%s",
			 ht_err_str(&e, msg, sizeof(msg)));
	else
		p->parsed = true;
	return p;
}

/* Re-check p's certificate and link or unlink accordingly. */
static void peer_recheck(links *l, lpeer *p)
{
	ht_err e = {0};
	bool ok = peer_verify(l, p, &e) == 0;
	bool news = !ok && strcmp(p->refusal, e.msg) != 0;
	if (!ok)
		snprintf(p->refusal, sizeof(p->refusal), "%s", e.msg);
	if (ok && !p->trusted) {
		p->trusted = true;
		p->refusal[0] = '\0';
		log_info(l->log,
			 "peer certificate ok, linking peer=%s node=%s "
			 "region=%s endpoint=%s",
			 p->cfg.name, LOG_T(p->id.name), LOG_T(p->id.region),
			 LOG_T(p->cfg.endpoint));
		if (peer_start(l, p) != 0)
			log_warn(l->log,
				 "peer not linked: out of memory peer=%s",
				 p->cfg.name);
	} else if (!ok && p->trusted) {
		p->trusted = false;
		log_warn(l->log,
			 "peer certificate refused, links closed peer=%s "
			 "reason=%s",
			 p->cfg.name, LOG_Q(p->refusal));
		peer_stop(l, p);
	} else if (!ok && (news || !p->warned)) {
		log_warn(l->log, "peer not linked peer=%s reason=%s",
			 p->cfg.name, LOG_Q(p->refusal));
	}
	p->warned = !ok;
}

static void recheck_all(links *l)
{
	for (size_t i = 0; i < l->n_peers; i++)
		peer_recheck(l, l->peers[i]);
	l->recheck_at = now_ms(l) + LINK_RECHECK_MS;
}

static void peer_add(links *l, const conf_peer *cp)
{
	lpeer *p = peer_new(l, cp);
	if (p == NULL) {
		log_warn(l->log, "peer not added: out of memory peer=%s",
			 cp->name);
		return;
	}
	l->peers[l->n_peers++] = p;
	l->gen++;
}

static void peer_remove_at(links *l, size_t i)
{
	conn_forget_peer(l, l->peers[i]);
	peer_free(l, &l->peers[i]);
	memmove(&l->peers[i], &l->peers[i + 1],
		(l->n_peers - i - 1) * sizeof(l->peers[0]));
	l->n_peers--;
	l->gen++;
}

/* ---- inbound: ROUTER ---- */

static void drain_more(void *sock)
{
	int more = 1;
	size_t len = sizeof(more);
	while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		int rc = zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
		zmq_msg_close(&m);
		if (rc < 0)
			break;
	}
}

/* Remember where replies go and which connection to close if need be. */
static void remember_route(lpeer *p, zmq_msg_t *rid, zmq_msg_t *msg)
{
	size_t n = zmq_msg_size(rid);
	int fd = zmq_msg_get(msg, ZMQ_SRCFD);
	bool same_rid =
	    n == p->rid_len && memcmp(p->rid, zmq_msg_data(rid), n) == 0;
	if (n > 0 && n <= sizeof(p->rid)) {
		memcpy(p->rid, zmq_msg_data(rid), n);
		p->rid_len = n;
	}
	if (fd < 0 || (fd == p->in_fd && same_rid))
		return;
	p->in_fd = fd;
	p->in_addr_len = sizeof(p->in_addr);
	memset(&p->in_addr, 0, sizeof(p->in_addr));
	if (getpeername(fd, (struct sockaddr *)&p->in_addr, &p->in_addr_len) !=
	    0)
		p->in_fd = -1;
}

/* 1st, 2nd, 4th, 8th ...: a flood cannot flood the log. */

static void unknown_frame(links *l, const char *user, const char *why)
{
	l->unknown_frames++;
	if (util_log_due(l->unknown_frames))
		log_warn(l->log,
			 "link frame dropped user=%s reason=%s count=%llu",
			 user ? LOG_T(user) : "-", LOG_Q(why),
			 (unsigned long long)l->unknown_frames);
}

static void router_frame(links *l, zmq_msg_t *rid, zmq_msg_t *msg)
{
	const char *user = zmq_msg_gets(msg, "User-Id");
	lpeer *p = user ? peer_by_node(l, user) : NULL;
	int64_t now = now_ms(l);
	size_t stored = 0;
	if (p == NULL || !p->trusted || p->rx == NULL) {
		unknown_frame(l, user, "not a linked peer");
		return;
	}
	conn_attribute(l, p, zmq_msg_get(msg, ZMQ_SRCFD));
	if (now < p->mute_until)
		return;
	remember_route(p, rid, msg);
	int rc = sync_receiver_on_frame(p->rx, zmq_msg_data(msg),
					zmq_msg_size(msg), now, &stored);
	if (stored > 0)
		l->pump_due = true;
	if (rc != 0) {
		log_warn(l->log,
			 "link inbound session dropped after a bad frame, "
			 "peer ignored for a while peer=%s reason=%s "
			 "mute_ms=%d",
			 p->cfg.name, LOG_Q(ht_strerror(rc)), LINK_MUTE_MS);
		p->reset_in = true;
		p->mute_until = now + LINK_MUTE_MS;
	}
}

static void router_read(links *l)
{
	for (int i = 0; i < LINK_BURST; i++) {
		zmq_msg_t rid, msg;
		zmq_msg_init(&rid);
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&rid, l->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&rid);
			zmq_msg_close(&msg);
			return;
		}
		if (zmq_msg_more(&rid) &&
		    zmq_msg_recv(&msg, l->router, ZMQ_DONTWAIT) >= 0) {
			if (zmq_msg_more(&msg)) {
				drain_more(l->router);
				unknown_frame(l, zmq_msg_gets(&msg, "User-Id"),
					      "a multipart message");
			} else {
				router_frame(l, &rid, &msg);
			}
		}
		zmq_msg_close(&rid);
		zmq_msg_close(&msg);
	}
}

/* An inbound connection closed: a peer's link (the descriptor its frames
 * came on), or one that never became a link. libzmq closes both silently,
 * e.g. after a frame over ZMQ_MAXMSGSIZE, or when a client is not ZMTP 3
 * (an HTTP request: ZAP-enabled sockets drop ZMTP 1.0 without an event). */
static void router_closed(links *l, uint32_t fd)
{
	for (size_t i = 0; i < l->n_peers; i++) {
		lpeer *p = l->peers[i];
		if (p->in_fd < 0 || (uint32_t)p->in_fd != fd)
			continue;
		/* Forget the descriptor unless it still has the remembered
		 * address: then libzmq has not closed it yet, or it is already
		 * this peer's next connection (close_inbound checks again). */
		if (!same_addr(p->in_fd, &p->in_addr, p->in_addr_len))
			p->in_fd = -1;
		p->in_lost++;
		log_info(l->log,
			 "link inbound connection lost peer=%s count=%llu "
			 "reason=\"closed by the peer, heartbeat timeout, or a "
			 "frame over %d bytes\"",
			 p->cfg.name, (unsigned long long)p->in_lost,
			 SYNC_MAX_FRAME);
		return;
	}
	if (util_log_due(++l->closed_unlinked))
		log_warn(l->log,
			 "link server: connection closed before it became a "
			 "link count=%llu reason=\"not a CurveZMQ client, a "
			 "failed handshake, or refused by ZAP\"",
			 (unsigned long long)l->closed_unlinked);
}

/* The link server's connection events: handshakes that failed before ZAP
 * (plain TCP, another protocol, silence until the handshake timeout) and
 * connections closing (router_closed). */
static void router_event(links *l, unsigned ev, uint32_t val)
{
	if (ev == ZMQ_EVENT_ACCEPTED) {
		conn_accepted(l, (int)val);
		return;
	}
	if (ev == ZMQ_EVENT_DISCONNECTED) {
		conn_gone(l, (int)val);
		router_closed(l, val);
		return;
	}
	if (!util_log_due(++l->handshake_failed))
		return;
	if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
		log_warn(l->log,
			 "link server: handshake failed reason=\"protocol "
			 "error 0x%x, not a CurveZMQ client\" count=%llu",
			 (unsigned)val,
			 (unsigned long long)l->handshake_failed);
	else if (val == EAGAIN || val == ETIMEDOUT)
		log_warn(l->log,
			 "link server: handshake failed reason=\"none within "
			 "%d ms\" count=%llu",
			 LINK_HANDSHAKE_MS,
			 (unsigned long long)l->handshake_failed);
	else
		log_warn(l->log,
			 "link server: handshake failed reason=%s "
			 "count=%llu",
			 LOG_Q(zmq_strerror((int)val)),
			 (unsigned long long)l->handshake_failed);
}

/* One monitor event: (event, value) in the first frame, then the
 * endpoint. false when none is waiting. */
static bool monitor_next(void *mon, unsigned *event, uint32_t *value)
{
	zmq_msg_t ev;
	uint16_t e = 0;
	uint32_t v = 0;
	zmq_msg_init(&ev);
	if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&ev);
		return false;
	}
	if (zmq_msg_size(&ev) >= 6) {
		memcpy(&e, zmq_msg_data(&ev), 2);
		memcpy(&v, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
	}
	zmq_msg_close(&ev);
	drain_more(mon); /* the endpoint frame */
	*event = e;
	*value = v;
	return true;
}

static void router_monitor_read(links *l)
{
	unsigned ev;
	uint32_t val;
	/* All of them (bounded): the connection counts must be current
	 * before ZAP decides, and libzmq drops monitor events beyond the
	 * monitor's HWM (1,000). */
	for (int i = 0;
	     i < LINK_MON_BURST && monitor_next(l->router_mon, &ev, &val); i++)
		router_event(l, ev, val);
}

/* ---- inbound: DEALER and its monitor ---- */

static void dealer_frame(links *l, lpeer *p, zmq_msg_t *msg)
{
	if (!p->up || p->drop_out || p->tx == NULL)
		return; /* a late frame of a dropped connection */
	int rc = sync_sender_on_frame(p->tx, zmq_msg_data(msg),
				      zmq_msg_size(msg), now_ms(l));
	if (rc != 0) {
		log_warn(l->log,
			 "link outbound link dropped after a bad frame, "
			 "reconnecting later peer=%s reason=%s",
			 p->cfg.name, LOG_Q(ht_strerror(rc)));
		p->drop_out = true;
	}
}

static void dealer_read(links *l, lpeer *p)
{
	for (int i = 0; i < LINK_BURST && p->dealer != NULL; i++) {
		zmq_msg_t msg;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, p->dealer, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			return;
		}
		if (zmq_msg_more(&msg))
			drain_more(p->dealer); /* not a SyncMessage: ignore */
		else
			dealer_frame(l, p, &msg);
		zmq_msg_close(&msg);
	}
}

static void monitor_event(links *l, lpeer *p, unsigned ev, uint32_t val)
{
	switch (ev) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		if (p->up || p->tx == NULL)
			break;
		p->up = true;
		p->redials = 0;
		p->auth_warned = false;
		log_info(l->log, "link up peer=%s endpoint=%s", p->cfg.name,
			 p->cfg.endpoint);
		sync_sender_on_connect(p->tx, now_ms(l));
		break;
	case ZMQ_EVENT_DISCONNECTED:
		/* libzmq 4.3 ends a connect session for good after a
		 * protocol error (a ZAP refusal, a bad handshake, a frame
		 * over ZMQ_MAXMSGSIZE): its own reconnect would never come.
		 * So every disconnection closes the DEALER and we redial a
		 * fresh one on our back-off (settle, schedule_redial). */
		p->drop_out = true;
		if (!p->up)
			break;
		p->up = false;
		log_info(l->log, "link down peer=%s endpoint=%s", p->cfg.name,
			 p->cfg.endpoint);
		sync_sender_on_disconnect(p->tx);
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		/* once per outage; we redial with back-off (above) */
		log_msg(l->log, p->auth_warned ? LOG_DEBUG : LOG_WARN,
			"link refused by the peer, redialling with back-off "
			"peer=%s endpoint=%s zap_status=%u hint=\"does it list "
			"this node, and is our certificate current there?\"",
			p->cfg.name, p->cfg.endpoint, (unsigned)val);
		p->auth_warned = true;
		p->drop_out = true;
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		log_warn(l->log,
			 "link handshake failed peer=%s endpoint=%s "
			 "reason=\"protocol error 0x%x (wrong server key, or "
			 "not a hutong link?)\"",
			 p->cfg.name, p->cfg.endpoint, (unsigned)val);
		p->drop_out = true;
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		log_warn(l->log,
			 "link handshake failed peer=%s endpoint=%s "
			 "reason=%s",
			 p->cfg.name, LOG_T(p->cfg.endpoint),
			 LOG_Q(zmq_strerror((int)val)));
		break;
	}
}

static void monitor_read(links *l, lpeer *p)
{
	unsigned ev;
	uint32_t val;
	for (int i = 0; i < LINK_BURST && p->monitor != NULL &&
			monitor_next(p->monitor, &ev, &val);
	     i++)
		monitor_event(l, p, ev, val);
}

/* ---- deferred work ---- */

static void pump_all(links *l)
{
	for (size_t i = 0; i < l->n_peers; i++)
		if (l->peers[i]->tx != NULL)
			sync_sender_pump(l->peers[i]->tx);
}

/* Apply what handlers asked for (see the file comment). */
static void settle(links *l)
{
	if (l->pump_due) {
		l->pump_due = false;
		pump_all(l);
	}
	for (size_t i = 0; i < l->n_peers; i++) {
		lpeer *p = l->peers[i];
		if (p->drop_out) {
			p->drop_out = false;
			dealer_close(l, p);
			schedule_redial(l, p);
		}
		if (p->reset_in) {
			p->reset_in = false;
			if (p->rx != NULL)
				sync_receiver_on_disconnect(p->rx);
		}
	}
}

/* ---- set-up ---- */

static int load_keys(links *l, const conf *cf, ht_err *err)
{
	if (l->sk == NULL && (l->sk = sodium_malloc(LINK_KEY_BYTES)) == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	return ident_link_load(cf->link_key, l->pk, l->sk, err);
}

/* Our certificate must verify and certify our link key and name, or every
 * peer would refuse us: better to say so at start. */
static int check_own_cert(links *l, const conf *cf, ht_err *err)
{
	pki_identity id;
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	if (pki_verify_chain(l->pki, (const uint8_t *const *)l->certs->der,
			     l->certs->len, l->certs->n, now_ms(l), &id,
			     err) != 0)
		return ht_err_set(err, HT_ETRUST, "cert", "%s: %s", cf->cert,
				  ht_err_str(err, msg, sizeof(msg)));
	if (sodium_memcmp(id.link_pk, l->pk, LINK_KEY_BYTES) != 0)
		return ht_err_set(err, HT_ETRUST, "cert",
				  "%s certifies a different link key than %s",
				  cf->cert, cf->link_key);
	if (strcmp(id.name, cf->name) != 0)
		return ht_err_set(err, HT_ETRUST, "cert",
				  "%s is for node '%s', but this node is '%s'",
				  cf->cert, id.name, cf->name);
	return 0;
}

static int arm(links *l, const conf *cf, ht_err *err)
{
	if (l->pki == NULL || l->certs == NULL)
		return ht_err_set(err, HT_ETRUST, "",
				  "links need the trust "
				  "store and this node's certificate chain");
	int rc = load_keys(l, cf, err);
	if (rc == 0)
		rc = check_own_cert(l, cf, err);
	if (rc != 0)
		return rc;
	l->ops = (sync_node_ops){
	    .store = node_receive,
	    .ctx = l->node,
	    .check_peer = op_check_peer,
	    .check_ctx = l,
	    .ledger = node_ledger(l->node),
	    .certs = (const uint8_t *const *)l->certs->der,
	    .cert_lens = l->certs->len,
	    .n_certs = l->certs->n,
	    .log = l->log,
	};
	l->armed = true;
	return 0;
}

/* Watch the server's connections (router_event). Without it links work;
 * only those log lines and counters are missing, so a failure is logged. */
static void router_monitor_open(links *l)
{
	char ep[64];
	snprintf(ep, sizeof(ep), "inproc://hutong-link-server-monitor-%u",
		 ++l->mon_seq);
	l->router_mon = zmq_socket(l->zctx, ZMQ_PAIR);
	if (l->router_mon == NULL ||
	    zmq_socket_monitor(l->router, ep, LINK_SERVER_EVENTS) != 0 ||
	    set_int(l->router_mon, ZMQ_LINGER, 0) != 0 ||
	    zmq_connect(l->router_mon, ep) != 0) {
		log_warn(l->log,
			 "link server: no connection monitor "
			 "reason=%s",
			 LOG_Q(zmq_strerror(zmq_errno())));
		if (l->router_mon != NULL)
			zmq_close(l->router_mon);
		l->router_mon = NULL;
	}
	l->gen++;
}

/* The TCP port s is bound to (ZMQ_LAST_ENDPOINT), 0 when unknown. */
static int bound_port(void *s)
{
	char ep[CONF_MAX_ENDPOINT + 16] = "";
	size_t len = sizeof(ep);
	const char *colon;
	if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) != 0 ||
	    (colon = strrchr(ep, ':')) == NULL)
		return 0;
	return atoi(colon + 1);
}

static int router_open(links *l, const char *listen, ht_err *err)
{
	if ((l->zap = zap_new(l->zctx, zap_admit, l, l->log, err)) == NULL)
		return HT_EIO;
	void *s = zmq_socket(l->zctx, ZMQ_ROUTER);
	if (s == NULL || link_opts(s) != 0 ||
	    set_int(s, ZMQ_CURVE_SERVER, 1) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, l->sk, LINK_KEY_BYTES) !=
		0 ||
	    set_int(s, ZMQ_ROUTER_MANDATORY, 1) != 0) {
		ht_err_set(err, HT_EIO, "listen", "link server: %s",
			   zmq_strerror(zmq_errno()));
		goto fail;
	}
	if (zap_server_configure(s, err) != 0)
		goto fail;
	if (zmq_bind(s, listen) != 0) {
		ht_err_set(err, HT_EIO, "listen", "cannot listen on %s: %s",
			   listen, zmq_strerror(zmq_errno()));
		goto fail;
	}
	l->router = s;
	snprintf(l->listen, sizeof(l->listen), "%s", listen);
	l->listen_port = bound_port(s);
	router_monitor_open(l);
	return 0;
fail:
	if (s != NULL)
		zmq_close(s);
	zap_free(&l->zap);
	return HT_EIO;
}

static void set_limits(links *l, const conf *cf)
{
	l->max_conns =
	    cf->max_connections.n ? cf->max_connections.n : l->auto_max;
	l->max_per_peer =
	    cf->max_connections_per_peer.n ? cf->max_connections_per_peer.n : 4;
}

static bool wants_links(const conf *cf)
{
	return cf->listen[0] != '\0' || cf->n_peers > 0;
}

links *links_new(const links_config *cfg, ht_err *err)
{
	const conf *cf = cfg->cf;
	links *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		return NULL;
	}
	*l = (links){.zctx = cfg->zctx,
		     .node = cfg->node,
		     .log = cfg->log,
		     .clock = util_clock_system(),
		     .pki = cfg->pki,
		     .certs = cfg->certs,
		     .gen = 1};
	snprintf(l->name, sizeof(l->name), "%s", cf->name);
	l->auto_max = cfg->auto_max_connections ? cfg->auto_max_connections
						: LINK_AUTO_MAX_DEFAULT;
	set_limits(l, cf);
	if (!wants_links(cf)) {
		log_info(l->log,
			 "links idle reason=\"no listen and no peers\"");
		return l;
	}
	if (arm(l, cf, err) != 0 ||
	    (cf->listen[0] != '\0' && router_open(l, cf->listen, err) != 0)) {
		links_free(&l);
		return NULL;
	}
	for (size_t i = 0; i < cf->n_peers; i++)
		peer_add(l, &cf->peers[i]);
	recheck_all(l);
	log_info(l->log, "links: listen=%s peers=%zu",
		 l->listen[0] ? LOG_T(l->listen) : "-", l->n_peers);
	return l;
}

void links_free(links **lp)
{
	links *l = lp ? *lp : NULL;
	if (l == NULL)
		return;
	l->closing = true;
	while (l->n_peers > 0)
		peer_remove_at(l, l->n_peers - 1);
	if (l->router != NULL) {
		zmq_socket_monitor(l->router, NULL, 0);
		zmq_close(l->router);
	}
	if (l->router_mon != NULL)
		zmq_close(l->router_mon);
	zap_free(&l->zap);
	if (l->sk != NULL)
		sodium_free(l->sk);
	free(l->conns);
	free(l);
	*lp = NULL;
}

/* ---- the loop's interface ---- */

static size_t add_item(links *l, zmq_pollitem_t *items, size_t n, size_t max,
		       void *sock, enum slot_kind kind, lpeer *p)
{
	if (sock == NULL || n >= max)
		return n;
	items[n] = (zmq_pollitem_t){sock, 0, ZMQ_POLLIN, 0};
	l->slots[n] = (slot){kind, p};
	return n + 1;
}

size_t links_poll_items(links *l, zmq_pollitem_t *items, size_t max)
{
	size_t n = 0;
	if (max > LINKS_MAX_ITEMS)
		max = LINKS_MAX_ITEMS;
	n = add_item(l, items, n, max, l->router, SLOT_ROUTER, NULL);
	n = add_item(l, items, n, max, l->router_mon, SLOT_ROUTER_MON, NULL);
	n = add_item(l, items, n, max, l->zap ? zap_socket(l->zap) : NULL,
		     SLOT_ZAP, NULL);
	for (size_t i = 0; i < l->n_peers; i++) {
		lpeer *p = l->peers[i];
		n = add_item(l, items, n, max, p->dealer, SLOT_DEALER, p);
		n = add_item(l, items, n, max, p->monitor, SLOT_MONITOR, p);
	}
	l->n_slots = n;
	l->slots_gen = l->gen;
	return n;
}

void links_dispatch(links *l, const zmq_pollitem_t *items, size_t n)
{
	/* Stale entries (the socket set changed since they were made) are
	 * skipped: whatever is readable stays so for the next turn. */
	if (l->slots_gen != l->gen || n != l->n_slots)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!(items[i].revents & ZMQ_POLLIN))
			continue;
		switch (l->slots[i].kind) {
		case SLOT_ROUTER:
			router_read(l);
			break;
		case SLOT_ROUTER_MON:
			router_monitor_read(l);
			break;
		case SLOT_ZAP:
			zap_serve(l->zap);
			break;
		case SLOT_DEALER:
			dealer_read(l, l->slots[i].p);
			break;
		case SLOT_MONITOR:
			monitor_read(l, l->slots[i].p);
			break;
		}
	}
	settle(l);
}

static long clamp_due(int64_t due, int64_t now, long cap)
{
	if (due <= now)
		return 0;
	return due - now < cap ? (long)(due - now) : cap;
}

long links_next_ms(links *l, long cap)
{
	int64_t now = now_ms(l);
	long t = cap;
	if (!l->armed)
		return cap;
	t = clamp_due(l->recheck_at, now, t);
	for (size_t i = 0; i < l->n_peers; i++) {
		lpeer *p = l->peers[i];
		if (p->redial_at != 0)
			t = clamp_due(p->redial_at, now, t);
		int64_t due = p->tx ? sync_sender_next_ms(p->tx, now) : -1;
		if (due >= 0) /* -1: no session timer */
			t = clamp_due(now + due, now, t);
	}
	return t;
}

/* ---- missing bodies (docs/bodies.md) ---- */

#define LINK_FETCH_MS 5000	   /* how often missing bodies are asked for */
#define LINK_FETCH_SOURCE_MS 60000 /* the peer a body came without: later */

/* Ask peer p for the missing bodies in m[0..n): not the one it came from
 * bodiless until LINK_FETCH_SOURCE_MS have passed (it may ask again). The
 * receiver rate-limits each id per peer (SYNC_FETCH_MS). */
static void fetch_from(lpeer *p, const node_missing *m, size_t n, int64_t now)
{
	uint8_t ids[SYNC_FETCH_MAX][RECORD_ID_BYTES];
	size_t k = 0;
	for (size_t i = 0; i < n && k < SYNC_FETCH_MAX; i++)
		if (strcmp(m[i].source, p->id.name) != 0 ||
		    now - m[i].stored_ms >= LINK_FETCH_SOURCE_MS)
			memcpy(ids[k++], m[i].id, RECORD_ID_BYTES);
	if (k > 0)
		sync_receiver_fetch(
		    p->rx, (const uint8_t(*)[RECORD_ID_BYTES])ids, k, now);
}

static void fetch_bodies(links *l, int64_t now)
{
	node_missing m[SYNC_FETCH_MAX];
	ht_err err = {0};
	int n = node_missing_bodies(l->node, m, SYNC_FETCH_MAX, &err);
	if (n < 0)
		log_warn(l->log, "missing bodies: read failed error=%s",
			 LOG_Q(err.msg));
	for (size_t i = 0; n > 0 && i < l->n_peers; i++)
		if (l->peers[i]->rx != NULL)
			fetch_from(l->peers[i], m, (size_t)n, now);
}

void links_tick(links *l)
{
	int64_t now = now_ms(l);
	if (!l->armed)
		return;
	for (size_t i = 0; i < l->n_peers; i++) {
		lpeer *p = l->peers[i];
		uint64_t own = 0;
		if (p->tx != NULL && sync_sender_watched(p->tx, &own))
			node_catchup_answer(l->node, p->cfg.name, own);
		if (p->tx != NULL)
			sync_sender_tick(p->tx, now);
		if (p->redial_at != 0 && now >= p->redial_at && p->trusted &&
		    p->dealer == NULL) {
			p->redial_at = 0;
			dealer_open(l, p);
		}
	}
	if (now >= l->fetch_at) {
		fetch_bodies(l, now);
		l->fetch_at = now + LINK_FETCH_MS;
	}
	settle(l);
	conn_reap_silent(l);
	if (now >= l->recheck_at)
		recheck_all(l);
}

void links_pump(links *l)
{
	if (!l->armed)
		return;
	pump_all(l);
	settle(l);
}

/* ---- reload ---- */

static bool same_chain(const pki_chain *a, const pki_chain *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->len[i] != b->len[i] ||
		    memcmp(a->der[i], b->der[i], a->len[i]) != 0)
			return false;
	return true;
}

/* Is the configured peer cp what p already links to? */
static bool peer_unchanged(const lpeer *p, const conf_peer *cp)
{
	pki_chain c = {0};
	bool same = strcmp(p->cfg.endpoint, cp->endpoint) == 0 &&
		    strcmp(p->cfg.cert, cp->cert) == 0 &&
		    pki_chain_read_pem(cp->cert, &c, NULL) == 0 && p->parsed &&
		    same_chain(&p->chain, &c);
	pki_chain_clear(&c);
	return same;
}

static void reload_peers(links *l, const conf *cf)
{
	for (size_t i = l->n_peers; i-- > 0;) {
		const conf_peer *cp = conf_peer_find(cf, l->peers[i]->cfg.name);
		if (cp != NULL && peer_unchanged(l->peers[i], cp))
			continue;
		if (cp != NULL)
			log_info(l->log,
				 "reload: peer changed, relinking peer=%s",
				 l->peers[i]->cfg.name);
		else
			log_info(l->log,
				 "reload: peer removed, links closed peer=%s",
				 l->peers[i]->cfg.name);
		peer_remove_at(l, i);
	}
	for (size_t i = 0; i < cf->n_peers; i++)
		if (peer_by_label(l, cf->peers[i].name) == NULL) {
			log_info(l->log, "reload: peer added peer=%s",
				 cf->peers[i].name);
			peer_add(l, &cf->peers[i]);
		}
}

int links_reload(links *l, const conf *cf, const pki_store *pki, ht_err *err)
{
	if (pki != NULL)
		l->pki = pki;
	if (strcmp(cf->listen, l->listen) != 0)
		log_warn(l->log,
			 "reload: listen cannot change while running, still "
			 "listening listen=%s",
			 l->listen[0] ? LOG_T(l->listen) : "nothing");
	if (!l->armed && wants_links(cf) && arm(l, cf, err) != 0)
		return HT_ETRUST;
	if (!l->armed)
		return 0;
	l->ops.n_certs = l->certs->n; /* a rotated chain */
	set_limits(l, cf);
	reload_peers(l, cf);
	recheck_all(l);
	settle(l);
	return 0;
}

/* ---- status ---- */

size_t links_peer_count(const links *l) { return l->n_peers; }

void links_peer_info(const links *l, size_t i, status_peer *out)
{
	static const sync_stats none;
	const lpeer *p = l->peers[i];
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", p->cfg.name);
	snprintf(out->node, sizeof(out->node), "%s",
		 p->parsed ? p->id.name : "");
	snprintf(out->region, sizeof(out->region), "%s",
		 p->parsed ? p->id.region : "");
	snprintf(out->endpoint, sizeof(out->endpoint), "%s", p->cfg.endpoint);
	snprintf(out->refusal, sizeof(out->refusal), "%s", p->refusal);
	out->tx = p->tx ? *sync_sender_stats(p->tx) : none;
	out->rx = p->rx ? *sync_receiver_stats(p->rx) : none;
	out->connected = p->up && out->tx.connected;
	out->trusted = p->trusted;
	out->inbound_lost = p->in_lost;
}

void links_summary(const links *l, status_links *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->listen, sizeof(out->listen), "%s", l->listen);
	out->zap_admitted = l->zap ? zap_admitted(l->zap) : 0;
	out->zap_refused = l->zap ? zap_refused(l->zap) : 0;
	out->unknown_frames = l->unknown_frames;
	out->handshake_failed = l->handshake_failed;
	out->closed_unlinked = l->closed_unlinked;
	out->connections = l->n_conns;
	out->connections_refused = l->conn_refused;
	out->max_connections = l->max_conns;
	out->max_per_peer = l->max_per_peer;
}
