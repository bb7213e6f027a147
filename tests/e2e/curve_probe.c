/*
 * curve_probe: a hostile or misconfigured client for the link tests
 * (tests/e2e/test_links.sh). It connects to a hutongd link server, sends a
 * frame, waits, and reports whether the CURVE handshake succeeded and
 * whether any frame came back:
 *
 *   curve_probe curve ENDPOINT SERVER_KEY_HEX [LINK_KEY_PEM]
 *       a CURVE client with a random key pair, or with the X25519 key pair
 *       in LINK_KEY_PEM (a real node's link.key that the server does not
 *       know as a peer)
 *   curve_probe null ENDPOINT
 *       a plain ZMTP client (NULL mechanism)
 *   curve_probe noauth
 *       no hutongd: binds a CURVE server on 127.0.0.1 configured as hutongd
 *       configures its link server (zap_server_configure) but with no ZAP
 *       handler in the context, and connects a CURVE client that knows the
 *       server key. Then the same without ZMQ_ZAP_ENFORCE_DOMAIN, to show
 *       that the option is what makes the difference.
 *
 * Prints "key=FP handshake=ok|no frames=N" (FP: the first 16 hex digits
 * of the client key, as hutongd logs refusals; one line per case) and exits 0
 * when the server admitted nothing (for noauth: when the enforced server
 * refused and the legacy one admitted), 1 otherwise, 2 on usage or set-up
 * errors.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ident.h"
#include "util.h"
#include "zap.h"

#define PROBE_WAIT_MS 2500
#define KEY_BYTES 32

typedef struct probe {
	void *ctx, *dealer, *mon;
	char key[17]; /* first 16 hex of our public key, as hutongd logs it */
	bool handshake;
	int frames;
} probe;

static int usage(void)
{
	fprintf(stderr, "usage: curve_probe curve ENDPOINT SERVER_KEY_HEX "
			"[LINK_KEY_PEM]\n       curve_probe null ENDPOINT\n"
			"       curve_probe noauth\n");
	return 2;
}

static int set_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v));
}

/* A DEALER with a monitor on inproc, not yet connected. */
static int probe_open(probe *p, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	p->dealer = zmq_socket(ctx, ZMQ_DEALER);
	p->mon = zmq_socket(ctx, ZMQ_PAIR);
	if (p->dealer == NULL || p->mon == NULL ||
	    set_int(p->dealer, ZMQ_LINGER, 0) != 0 ||
	    set_int(p->mon, ZMQ_LINGER, 0) != 0 ||
	    zmq_socket_monitor(p->dealer, "inproc://probe-monitor",
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0 ||
	    zmq_connect(p->mon, "inproc://probe-monitor") != 0)
		return -1;
	return 0;
}

static void probe_close(probe *p)
{
	if (p->dealer) {
		zmq_socket_monitor(p->dealer, NULL, 0);
		zmq_close(p->dealer);
	}
	if (p->mon)
		zmq_close(p->mon);
	p->dealer = p->mon = NULL;
}

static int curve_client(void *s, const uint8_t server[KEY_BYTES],
			const uint8_t pk[KEY_BYTES],
			const uint8_t sk[KEY_BYTES])
{
	if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, KEY_BYTES) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, KEY_BYTES) != 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, KEY_BYTES) != 0)
		return -1;
	return 0;
}

static void random_keys(uint8_t pk[KEY_BYTES], uint8_t sk[KEY_BYTES])
{
	char zpk[41], zsk[41];
	zmq_curve_keypair(zpk, zsk);
	zmq_z85_decode(pk, zpk);
	zmq_z85_decode(sk, zsk);
}

/* Read monitor events and frames for wait_ms. */
static void probe_wait(probe *p, int wait_ms)
{
	for (int waited = 0; waited < wait_ms; waited += 50) {
		zmq_pollitem_t it[] = {{p->dealer, 0, ZMQ_POLLIN, 0},
				       {p->mon, 0, ZMQ_POLLIN, 0}};
		if (zmq_poll(it, 2, 50) <= 0)
			continue;
		zmq_msg_t m;
		zmq_msg_init(&m);
		while (zmq_msg_recv(&m, p->dealer, ZMQ_DONTWAIT) >= 0)
			p->frames++;
		while (zmq_msg_recv(&m, p->mon, ZMQ_DONTWAIT) >= 0) {
			uint16_t ev = 0;
			if (zmq_msg_size(&m) >= 2 && zmq_msg_more(&m)) {
				memcpy(&ev, zmq_msg_data(&m), 2);
				if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
					p->handshake = true;
			}
		}
		zmq_msg_close(&m);
	}
}

/* Connect, send a SyncMessage{ping} (and a junk frame), wait, report. */
static int probe_run(probe *p, const char *endpoint)
{
	static const uint8_t ping[] = {0x32, 0x00};
	if (zmq_connect(p->dealer, endpoint) != 0) {
		fprintf(stderr, "connect %s: %s\n", endpoint,
			zmq_strerror(zmq_errno()));
		return 2;
	}
	zmq_send(p->dealer, ping, sizeof(ping), ZMQ_DONTWAIT);
	zmq_send(p->dealer, "probe", 5, ZMQ_DONTWAIT);
	probe_wait(p, PROBE_WAIT_MS);
	printf("key=%s handshake=%s frames=%d\n", p->key[0] ? p->key : "-",
	       p->handshake ? "ok" : "no", p->frames);
	return p->handshake || p->frames > 0 ? 1 : 0;
}

static int run_curve(int argc, char **argv)
{
	uint8_t server[KEY_BYTES], pk[KEY_BYTES], sk[KEY_BYTES];
	ht_err err = {0};
	probe p;
	if (argc < 4 || argc > 5 || util_unhex(argv[3], server, KEY_BYTES) != 0)
		return usage();
	if (argc == 5 && ident_link_load(argv[4], pk, sk, &err) != 0) {
		fprintf(stderr, "%s: %s\n", argv[4], err.msg);
		return 2;
	}
	if (argc == 4)
		random_keys(pk, sk);
	void *ctx = zmq_ctx_new();
	int rc = probe_open(&p, ctx);
	util_hex(pk, 8, p.key);
	rc = rc == 0 && curve_client(p.dealer, server, pk, sk) == 0
		 ? probe_run(&p, argv[2])
		 : 2;
	probe_close(&p);
	zmq_ctx_term(ctx);
	return rc;
}

static int run_null(int argc, char **argv)
{
	probe p;
	if (argc != 3)
		return usage();
	void *ctx = zmq_ctx_new();
	int rc = probe_open(&p, ctx) == 0 ? probe_run(&p, argv[2]) : 2;
	probe_close(&p);
	zmq_ctx_term(ctx);
	return rc;
}

/* A CURVE server under ZAP with no handler bound; enforce says whether
 * ZMQ_ZAP_ENFORCE_DOMAIN stays on. Returns frames the server received
 * (>= 0) and sets *handshake from the client's side, or -1. */
static int noauth_case(bool enforce, bool *handshake)
{
	uint8_t spk[KEY_BYTES], ssk[KEY_BYTES], pk[KEY_BYTES], sk[KEY_BYTES];
	char ep[128];
	size_t eplen = sizeof(ep);
	int off = 0, got = 0;
	ht_err err = {0};
	probe p;
	random_keys(spk, ssk);
	random_keys(pk, sk);
	void *ctx = zmq_ctx_new();
	void *srv = zmq_socket(ctx, ZMQ_ROUTER);
	if (set_int(srv, ZMQ_LINGER, 0) != 0 ||
	    set_int(srv, ZMQ_CURVE_SERVER, 1) != 0 ||
	    zmq_setsockopt(srv, ZMQ_CURVE_SECRETKEY, ssk, KEY_BYTES) != 0 ||
	    zap_server_configure(srv, &err) != 0 ||
	    (!enforce && zmq_setsockopt(srv, ZMQ_ZAP_ENFORCE_DOMAIN, &off,
					sizeof(off)) != 0) ||
	    zmq_bind(srv, "tcp://127.0.0.1:*") != 0 ||
	    zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0 ||
	    probe_open(&p, ctx) != 0 || curve_client(p.dealer, spk, pk, sk) ||
	    zmq_connect(p.dealer, ep) != 0) {
		fprintf(stderr, "set-up: %s %s\n", err.msg,
			zmq_strerror(zmq_errno()));
		got = -1;
	}
	if (got == 0) {
		zmq_send(p.dealer, "hello", 5, ZMQ_DONTWAIT);
		probe_wait(&p, PROBE_WAIT_MS);
		zmq_msg_t m;
		zmq_msg_init(&m);
		while (zmq_msg_recv(&m, srv, ZMQ_DONTWAIT) >= 0)
			got++;
		zmq_msg_close(&m);
		*handshake = p.handshake;
	}
	probe_close(&p);
	zmq_close(srv);
	zmq_ctx_term(ctx);
	return got;
}

static int run_noauth(void)
{
	bool hs_enforced = false, hs_legacy = false;
	int enforced = noauth_case(true, &hs_enforced);
	int legacy = noauth_case(false, &hs_legacy);
	if (enforced < 0 || legacy < 0)
		return 2;
	printf("enforced: handshake=%s frames_at_server=%d\n",
	       hs_enforced ? "ok" : "no", enforced);
	printf("legacy (no ZAP_ENFORCE_DOMAIN): handshake=%s "
	       "frames_at_server=%d\n",
	       hs_legacy ? "ok" : "no", legacy);
	return !hs_enforced && enforced == 0 && hs_legacy && legacy > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "curve") == 0)
		return run_curve(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "null") == 0)
		return run_null(argc, argv);
	if (argc == 2 && strcmp(argv[1], "noauth") == 0)
		return run_noauth();
	return usage();
}
