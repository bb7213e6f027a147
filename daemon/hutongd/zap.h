/*
 * zap: the ZAP handler (ZeroMQ RFC 27) that decides which CurveZMQ
 * clients the node's link server admits. It is a REP socket bound at
 * inproc://zeromq.zap.01 in the daemon's context and served from the
 * daemon's one poll loop: libzmq hands it each CURVE client's public key,
 * the admission callback (links.c: "is this a configured neighbour whose
 * certificate is valid now, chains to the root and is not revoked?") says
 * yes with the peer's node name or no with a reason. An admitted client's
 * messages carry that name as their ZAP User-Id, which is how the link
 * layer attributes every frame; a refusal is one log line
 *   zap refused key=<first 16 hex of the key> address=<ip> reason="..."
 * and a counter. Anything but CURVE in our domain is refused.
 *
 * Fail closed: libzmq 4.3 admits any client that knows the server key when
 * no handler is bound, unless ZMQ_ZAP_ENFORCE_DOMAIN is set on the server
 * socket; zap_server_configure sets it and refuses to go on without it.
 */
#ifndef HT_ZAP_H
#define HT_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "hutong"
#define ZAP_KEY_BYTES 32   /* a CURVE public key */
#define ZAP_USER_ID_MAX 64 /* bytes of a User-Id (a node name) */

/* libzmq 4.3 ships ZMQ_ZAP_ENFORCE_DOMAIN behind its draft API flag, but the
 * library accepts it; the value is fixed by the ABI. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

/* The admission decision for one CURVE client key. Returns 0 and writes the
 * peer's node name (NUL-terminated, at most ZAP_USER_ID_MAX bytes) into
 * user_id to admit; otherwise non-zero with err saying why (logged), or
 * HT_ELIMIT for a connection limit, which the function counted and logged
 * itself (a flood of them must not flood the log): answered 300. */
typedef int (*zap_admit_fn)(void *ctx, const uint8_t key[ZAP_KEY_BYTES],
			    char user_id[ZAP_USER_ID_MAX + 1], ht_err *err);

typedef struct zap zap;

/* Bind the handler in zctx (there can be one per context). fn and ctx must
 * outlive it; log is borrowed. NULL with err set when the endpoint is taken
 * or on allocation failure. */
zap *zap_new(void *zctx, zap_admit_fn fn, void *ctx, ht_log *log, ht_err *err);

/* Close the socket and free. Accepts NULL and *z == NULL. */
void zap_free(zap **z);

/* The REP socket, for the caller's poll set (ZMQ_POLLIN). */
void *zap_socket(const zap *z);

/* Answer every request waiting on the socket, never blocking. */
void zap_serve(zap *z);

/* Counters since start. */
uint64_t zap_admitted(const zap *z);
uint64_t zap_refused(const zap *z);

/* Put a CURVE server socket under ZAP: domain ZAP_DOMAIN and
 * ZMQ_ZAP_ENFORCE_DOMAIN, so that without a running handler every client is
 * refused. 0, or HT_EIO with err set (do not bind the socket then). */
int zap_server_configure(void *sock, ht_err *err);

#endif
