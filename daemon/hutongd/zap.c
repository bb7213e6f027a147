/*
 * zap: a non-blocking ZAP responder. libzmq's sessions send each
 * request as one multi-part message, so when the REP socket polls readable
 * the whole request is there; we read at most ZAP_MAX_FRAMES frames of it,
 * decide, and always answer (a REP socket must, and libzmq's handshake waits
 * for it). The reply's status text is deliberately uninformative: the
 * client learns "no", the log says why.
 */
#include "zap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "util.h"

#define ZAP_MAX_FRAMES 8 /* version .. mechanism + one credential frame */
#define ZAP_FP_BYTES 8	 /* key bytes shown in logs: 16 hex digits */

struct zap {
	void *sock;
	zap_admit_fn admit;
	void *ctx;
	ht_log *log;
	uint64_t admitted;
	uint64_t refused;
};

/* One request as received: frames 0..n-1 (RFC 27 order: version, request
 * id, domain, address, routing id, mechanism, credentials...). */
typedef struct zap_req {
	zmq_msg_t f[ZAP_MAX_FRAMES];
	size_t n;
	bool overlong; /* more frames than ZAP_MAX_FRAMES (dropped) */
} zap_req;

enum { F_VERSION, F_REQID, F_DOMAIN, F_ADDRESS, F_ROUTING, F_MECH, F_CRED };

zap *zap_new(void *zctx, zap_admit_fn fn, void *ctx, ht_log *log, ht_err *err)
{
	zap *z = calloc(1, sizeof(*z));
	int linger = 0;
	if (z == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		return NULL;
	}
	z->admit = fn;
	z->ctx = ctx;
	z->log = log;
	z->sock = zmq_socket(zctx, ZMQ_REP);
	if (z->sock == NULL ||
	    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_bind(z->sock, ZAP_ENDPOINT) != 0) {
		ht_err_set(err, HT_EIO, "zap", "cannot bind %s: %s",
			   ZAP_ENDPOINT, zmq_strerror(zmq_errno()));
		zap_free(&z);
		return NULL;
	}
	return z;
}

void zap_free(zap **zp)
{
	if (zp == NULL || *zp == NULL)
		return;
	if ((*zp)->sock != NULL)
		zmq_close((*zp)->sock);
	free(*zp);
	*zp = NULL;
}

void *zap_socket(const zap *z) { return z->sock; }

uint64_t zap_admitted(const zap *z) { return z->admitted; }

uint64_t zap_refused(const zap *z) { return z->refused; }

int zap_server_configure(void *sock, ht_err *err)
{
	int one = 1;
	if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN,
			   strlen(ZAP_DOMAIN)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one)) !=
		0)
		return ht_err_set(err, HT_EIO, "zap",
				  "cannot enforce ZAP on the link server "
				  "(libzmq: %s); refusing to listen without "
				  "authentication",
				  zmq_strerror(zmq_errno()));
	return 0;
}

/* ---- one request ---- */

static void req_close(zap_req *r)
{
	for (size_t i = 0; i < r->n; i++)
		zmq_msg_close(&r->f[i]);
	r->n = 0;
}

/* Read one whole request. false when none is waiting. */
static bool req_recv(void *sock, zap_req *r)
{
	int more = 1;
	size_t len = sizeof(more);
	r->n = 0;
	r->overlong = false;
	zmq_msg_init(&r->f[0]);
	if (zmq_msg_recv(&r->f[0], sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&r->f[0]);
		return false;
	}
	r->n = 1;
	while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_t *m = &r->f[r->n < ZAP_MAX_FRAMES ? r->n : 0];
		zmq_msg_t spill;
		if (r->n >= ZAP_MAX_FRAMES) {
			m = &spill;
			r->overlong = true;
		}
		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			break;
		}
		if (m == &spill)
			zmq_msg_close(m);
		else
			r->n++;
	}
	return true;
}

static bool frame_is(const zap_req *r, size_t i, const char *s)
{
	size_t n = strlen(s);
	return i < r->n && zmq_msg_size((zmq_msg_t *)&r->f[i]) == n &&
	       memcmp(zmq_msg_data((zmq_msg_t *)&r->f[i]), s, n) == 0;
}

/* Frame i as printable text for a log line ("-" when absent). */
static const char *frame_text(const zap_req *r, size_t i, char *out, size_t len)
{
	if (i >= r->n) {
		snprintf(out, len, "-");
		return out;
	}
	zmq_msg_t *m = (zmq_msg_t *)&r->f[i];
	size_t n = zmq_msg_size(m);
	const char *p = zmq_msg_data(m);
	if (n > len - 1)
		n = len - 1;
	for (size_t k = 0; k < n; k++)
		out[k] = (p[k] > 0x20 && p[k] < 0x7f) ? p[k] : '?';
	out[n] = '\0';
	return out;
}

/* The CURVE key of a well-formed request, or NULL. */
static const uint8_t *curve_key(const zap_req *r)
{
	if (r->n != F_CRED + 1 || !frame_is(r, F_MECH, "CURVE") ||
	    zmq_msg_size((zmq_msg_t *)&r->f[F_CRED]) != ZAP_KEY_BYTES)
		return NULL;
	return zmq_msg_data((zmq_msg_t *)&r->f[F_CRED]);
}

/* Decide: 0 and user_id to admit, else non-zero with err. */
static int decide(zap *z, const zap_req *r, char *user_id, ht_err *err)
{
	char buf[32];
	if (r->overlong || r->n <= F_MECH || !frame_is(r, F_VERSION, "1.0"))
		return ht_err_set(err, HT_EINVAL, "", "malformed ZAP request");
	if (!frame_is(r, F_DOMAIN, ZAP_DOMAIN))
		return ht_err_set(err, HT_ETRUST, "", "domain '%s' is not '%s'",
				  frame_text(r, F_DOMAIN, buf, sizeof(buf)),
				  ZAP_DOMAIN);
	if (!frame_is(r, F_MECH, "CURVE"))
		return ht_err_set(err, HT_ETRUST, "",
				  "mechanism %s is not allowed (CURVE only)",
				  frame_text(r, F_MECH, buf, sizeof(buf)));
	const uint8_t *key = curve_key(r);
	if (key == NULL)
		return ht_err_set(err, HT_EINVAL, "",
				  "malformed CURVE credentials");
	return z->admit(z->ctx, key, user_id, err);
}

static int send_frame(void *sock, const void *data, size_t len, bool more)
{
	return zmq_send(sock, data, len,
			ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0));
}

/* RFC 27 reply: version, request id, status code, text, user id, metadata. */
static void reply(zap *z, const zap_req *r, const char *code,
		  const char *user_id)
{
	zmq_msg_t *id = (zmq_msg_t *)&r->f[F_REQID];
	const char *text = code[0] == '2' ? "OK" : "not admitted";
	bool has_id = r->n > F_REQID;
	if (send_frame(z->sock, "1.0", 3, true) < 0 ||
	    send_frame(z->sock, has_id ? zmq_msg_data(id) : "",
		       has_id ? zmq_msg_size(id) : 0, true) < 0 ||
	    send_frame(z->sock, code, strlen(code), true) < 0 ||
	    send_frame(z->sock, text, strlen(text), true) < 0 ||
	    send_frame(z->sock, user_id, strlen(user_id), true) < 0 ||
	    send_frame(z->sock, "", 0, false) < 0)
		log_warn(z->log, "zap: cannot send reply reason=%s",
			 LOG_Q(zmq_strerror(zmq_errno())));
}

static void serve_one(zap *z, const zap_req *r)
{
	char user_id[ZAP_USER_ID_MAX + 1] = "";
	char fp[2 * ZAP_FP_BYTES + 1] = "-", addr[64];
	ht_err err = {0};
	const uint8_t *key = curve_key(r);
	if (key != NULL)
		util_hex(key, ZAP_FP_BYTES, fp);
	frame_text(r, F_ADDRESS, addr, sizeof(addr));
	int rc = decide(z, r, user_id, &err);
	if (rc == HT_ELIMIT) {
		/* a connection limit: the admit function counted and logged
		 * it (once per interval); 300 is RFC 27's temporary error */
		z->refused++;
		reply(z, r, "300", "");
		return;
	}
	if (rc == 0 && user_id[0] != '\0') {
		z->admitted++;
		log_info(z->log, "zap admitted peer=%s key=%s address=%s",
			 LOG_T(user_id), fp, LOG_T(addr));
		reply(z, r, "200", user_id);
		return;
	}
	z->refused++;
	log_warn(z->log, "zap refused key=%s address=%s reason=%s", fp,
		 LOG_T(addr), LOG_Q(err.msg[0] ? err.msg : "no peer name"));
	reply(z, r, "400", "");
}

void zap_serve(zap *z)
{
	zap_req r;
	/* Bounded so a flood of handshakes cannot starve the rest of the loop;
	 * what is left stays readable for the next turn. */
	for (int i = 0; i < 64 && req_recv(z->sock, &r); i++) {
		serve_one(z, &r);
		req_close(&r);
	}
}
