/*
 * control: the request table and its handlers. A handler fills the reply
 * (code and error, results, json); control_serve frees what they
 * allocated once the reply is sent.
 */
#include "control.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "control.pb-c.h"
#include "metrics.h"
#include "status.h"
#include "util.h"

#define ERR_TEXT (HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4)

typedef void (*handler_fn)(control_ctx *c, const Hutong__ControlRequest *req,
			   Hutong__ControlReply *rep);

static void reply_error(Hutong__ControlReply *rep, int code, const ht_err *err)
{
	char msg[ERR_TEXT];
	rep->code = code;
	rep->error = strdup(ht_err_str(err, msg, sizeof(msg)));
}

/* n empty results in one block (free_reply_parts frees results[0] as the
 * block). 0, or -1 when out of memory (then rep has none). */
static int results_new(Hutong__ControlReply *rep, size_t n)
{
	if (n == 0)
		return 0;
	Hutong__SubmitResult *out = calloc(n, sizeof(*out));
	Hutong__SubmitResult **outp = calloc(n, sizeof(*outp));
	if (out == NULL || outp == NULL) {
		free(out);
		free(outp);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		hutong__submit_result__init(&out[i]);
		outp[i] = &out[i];
	}
	rep->results = outp;
	rep->n_results = n;
	return 0;
}

static void result_set_id(Hutong__SubmitResult *r,
			  const uint8_t id[RECORD_ID_BYTES])
{
	r->id.data = malloc(RECORD_ID_BYTES);
	if (r->id.data != NULL) {
		memcpy(r->id.data, id, RECORD_ID_BYTES);
		r->id.len = RECORD_ID_BYTES;
	}
}

/* ---- the handlers ---- */

static void on_submit(control_ctx *c, const Hutong__ControlRequest *req,
		      Hutong__ControlReply *rep)
{
	const Hutong__SubmitRequest *sr = req->submit;
	size_t n = sr->n_items;
	ht_err err = {0};
	char msg[ERR_TEXT];
	node_result *res = calloc(n ? n : 1, sizeof(*res));
	if (res == NULL || results_new(rep, n) != 0) {
		rep->code = HT_ENOMEM;
		rep->error = strdup("out of memory");
		goto out;
	}
	rep->code = node_submit(c->node, sr->items, n, res, &err);
	if (rep->code != 0)
		rep->error = strdup(ht_err_str(&err, msg, sizeof(msg)));
	for (size_t i = 0; i < n; i++) {
		if (res[i].code == 0) {
			result_set_id(rep->results[i], res[i].id);
			rep->results[i]->existing = res[i].existing;
		} else
			rep->results[i]->error =
			    strdup(ht_err_str(&res[i].err, msg, sizeof(msg)));
	}
out:
	free(res);
}

static void on_status(control_ctx *c, const Hutong__ControlRequest *req,
		      Hutong__ControlReply *rep)
{
	size_t n = links_peer_count(c->links);
	status_peer *peers = calloc(n ? n : 1, sizeof(*peers));
	status_links sum;
	(void)req;
	if (peers == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		links_peer_info(c->links, i, &peers[i]);
	links_summary(c->links, &sum);
	json_t *j =
	    status_daemon_json(c->cf->name, c->cf->region, node_ledger(c->node),
			       peers, n, &sum, node_get_counters(c->node));
	node_catchup_info cu;
	node_catchup_get(c->node, &cu);
	if (j != NULL)
		json_object_set_new(j, "own_chain", status_own_chain_json(&cu));
	rep->json = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	free(peers);
}

/* One entry per issuer: the latest nextUpdate. Returns how many. */
static size_t crls_get(const pki_store *s, metrics_crl *out, size_t max)
{
	size_t n = 0;
	metrics_crl m;
	for (size_t i = 0; i < pki_store_crl_count(s); i++) {
		if (pki_store_crl_at(s, i, m.issuer, &m.next_update_ms) != 0)
			continue;
		size_t j = 0;
		while (j < n && strcmp(out[j].issuer, m.issuer) != 0)
			j++;
		if (j == n && n < max)
			out[n++] = m;
		else if (j < n && m.next_update_ms > out[j].next_update_ms)
			out[j] = m;
	}
	return n;
}

char *control_metrics_text(control_ctx *c, ht_err *err)
{
	metrics_crl crls[64];
	status_links sum;
	size_t n = links_peer_count(c->links);
	status_peer *peers = calloc(n ? n : 1, sizeof(*peers));
	if (peers == NULL) {
		ht_err_set(err, HT_ENOMEM, "", "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		links_peer_info(c->links, i, &peers[i]);
	links_summary(c->links, &sum);
	metrics_input in = {.name = c->cf->name,
			    .region = c->cf->region,
			    .ledger = node_ledger(c->node),
			    .peers = peers,
			    .n_peers = n,
			    .links = &sum,
			    .counters = node_get_counters(c->node),
			    .crls = crls,
			    .n_crls = crls_get(c->pki, crls, 64),
			    .now_ms = util_clock_system()->now_ms(NULL)};
	if (c->chain != NULL && c->chain->n > 0)
		(void)pki_cert_not_after(c->chain->der[0], c->chain->len[0],
					 &in.cert_not_after_ms);
	char *text = metrics_render(&in, err);
	free(peers);
	return text;
}

static void on_metrics(control_ctx *c, const Hutong__ControlRequest *req,
		       Hutong__ControlReply *rep)
{
	ht_err err = {0};
	(void)req;
	rep->text = control_metrics_text(c, &err);
	if (rep->text == NULL)
		reply_error(rep, HT_EIO, &err);
}

/* Install the rotated key and chain at the configured paths, so a restart
 * signs with them. The new key file is copied, never moved, so the
 * operator keeps the original until satisfied. */
static int install_rotated(const control_ctx *c, const char *key_path,
			   const pki_chain *chain, ht_err *err)
{
	int rc =
	    pki_chain_write_pem(c->cf->cert, (const uint8_t *const *)chain->der,
				chain->len, chain->n, err);
	if (rc != 0 || key_path == NULL)
		return rc;
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = util_read_file(key_path, 65536, &buf, &len, err);
	if (rc == 0)
		rc = util_write_file(c->cf->key, buf, len, 0600, false, err);
	if (buf != NULL)
		sodium_memzero(buf, len);
	free(buf);
	return rc;
}

static void on_rotate(control_ctx *c, const Hutong__ControlRequest *req,
		      Hutong__ControlReply *rep)
{
	const Hutong__RotateRequest *rr = req->rotate;
	pki_chain chain = {0};
	ht_err err = {0};
	uint8_t id[RECORD_ID_BYTES];
	const char *key = rr->key_path && rr->key_path[0] ? rr->key_path : NULL;
	int rc;
	if ((rc = pki_chain_read_pem(rr->cert_path, &chain, &err)) != 0 ||
	    (rc = node_rotate(c->node, key, (const uint8_t *const *)chain.der,
			      chain.len, chain.n, id, &err)) != 0 ||
	    (rc = install_rotated(c, key, &chain, &err)) != 0) {
		reply_error(rep, rc, &err);
		goto out;
	}
	pki_chain_clear(c->chain);
	*c->chain = chain;
	chain = (pki_chain){0};
	if (results_new(rep, 1) == 0)
		result_set_id(rep->results[0], id);
	log_info(c->log, "rotated cert=%s key=%s", LOG_T(rr->cert_path),
		 key ? LOG_T(key) : "(unchanged)");
out:
	pki_chain_clear(&chain);
}

static void on_fork_resolve(control_ctx *c, const Hutong__ControlRequest *req,
			    Hutong__ControlReply *rep)
{
	const Hutong__ForkResolveRequest *fr = req->fork_resolve;
	ht_err err = {0};
	int rc;
	if (!util_is_region_code(fr->origin) || fr->keep.len != RECORD_ID_BYTES)
		rc = ht_err_set(&err, HT_EINVAL, "",
				"fork resolve needs a region code and a "
				"32-byte record id");
	else
		rc =
		    node_fork_resolve(c->node, fr->origin, fr->keep.data, &err);
	if (rc != 0)
		reply_error(rep, rc, &err);
}

static void on_stop(control_ctx *c, const Hutong__ControlRequest *req,
		    Hutong__ControlReply *rep)
{
	(void)req;
	(void)rep;
	log_info(c->log, "stop requested via=control");
	c->stop = true;
}

static const struct handler {
	Hutong__ControlRequest__OpCase op;
	handler_fn fn;
} handlers[] = {
    {HUTONG__CONTROL_REQUEST__OP_SUBMIT, on_submit},
    {HUTONG__CONTROL_REQUEST__OP_STATUS, on_status},
    {HUTONG__CONTROL_REQUEST__OP_ROTATE, on_rotate},
    {HUTONG__CONTROL_REQUEST__OP_FORK_RESOLVE, on_fork_resolve},
    {HUTONG__CONTROL_REQUEST__OP_METRICS, on_metrics},
    {HUTONG__CONTROL_REQUEST__OP_STOP, on_stop},
};

static void dispatch(control_ctx *c, const Hutong__ControlRequest *req,
		     Hutong__ControlReply *rep)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].op == req->op_case) {
			handlers[i].fn(c, req, rep);
			return;
		}
	rep->code = HT_EINVAL;
	rep->error = strdup("unknown control request");
}

/* ---- one request, one reply ---- */

/* Free a string we set; proto3 defaults point at a static empty string. */
static void free_str(char *s)
{
	if (s != protobuf_c_empty_string)
		free(s);
}

static void free_reply_parts(Hutong__ControlReply *rep)
{
	for (size_t i = 0; i < rep->n_results; i++) {
		free(rep->results[i]->id.data);
		free_str(rep->results[i]->error);
	}
	if (rep->n_results > 0)
		free(rep->results[0]); /* the array of results */
	free(rep->results);
	free_str(rep->error);
	free_str(rep->json);
	free_str(rep->text);
}

/* The waiting request: false when there is none; true with *req set, or
 * with *req NULL and rep holding the error when it does not decode. */
static bool recv_request(void *sock, ht_log *log, Hutong__ControlRequest **req,
			 Hutong__ControlReply *rep)
{
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		return false;
	}
	*req = hutong__control_request__unpack(NULL, zmq_msg_size(&msg),
					       zmq_msg_data(&msg));
	zmq_msg_close(&msg);
	if (*req == NULL) {
		log_warn(log, "control request refused reason=\"malformed\"");
		rep->code = HT_EINVAL;
		rep->error = strdup("malformed control request");
	}
	return true;
}

static void send_reply(void *sock, const Hutong__ControlReply *rep)
{
	size_t len = hutong__control_reply__get_packed_size(rep);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf != NULL) {
		hutong__control_reply__pack(rep, buf);
		zmq_send(sock, buf, len, 0);
	}
	free(buf);
}

void control_serve(void *sock, control_ctx *c)
{
	Hutong__ControlReply rep = HUTONG__CONTROL_REPLY__INIT;
	Hutong__ControlRequest *req = NULL;
	if (!recv_request(sock, c->log, &req, &rep))
		return;
	if (req != NULL) {
		dispatch(c, req, &rep);
		hutong__control_request__free_unpacked(req, NULL);
		links_pump(c->links); /* push what a submit stored */
	}
	send_reply(sock, &rep);
	free_reply_parts(&rep);
}
