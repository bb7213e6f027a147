/*
 * ctl: the control socket, both ends. hutongd serves ControlRequest
 * messages (proto/control.proto) on a ZeroMQ REP socket bound to
 * ipc://NODEDIR/control.sock (mode 0600 inside a 0700 directory); the hutong
 * CLI sends one request and waits for one reply. The status document both
 * ends build is status.h's.
 */
#ifndef HT_CTL_H
#define HT_CTL_H

#include <stdbool.h>

#include "control.pb-c.h"
#include "err.h"

#define CTL_MAX_MSG (80 * 1024 * 1024) /* one request: a batch of records */
#define CTL_TIMEOUT_MS 30000

/* Bind the REP socket at path with owner-only permissions. Returns the
 * socket or NULL with err set (e.g. another daemon is serving it). */
void *ctl_server_bind(void *zctx, const char *path, ht_err *err);

/* Send req to the daemon at path and wait up to timeout_ms for the reply
 * (*reply is the caller's: hutong__control_reply__free_unpacked). HT_EUNAVAIL
 * when no daemon answers. */
int ctl_call(const char *path, const Hutong__ControlRequest *req,
	     int timeout_ms, Hutong__ControlReply **reply, ht_err *err);

/* True if a daemon answers a status request at path. */
bool ctl_is_running(const char *path);

/* Take the node directory's lock, DIR/hutongd.pid (created 0600, kept
 * open): one process at a time writes the node's ledger. Returns the
 * descriptor (the caller closes it to release the lock), HT_EEXIST when
 * another process holds it (err names the lock), or HT_EIO/HT_ELIMIT.
 * With write_pid the file then holds this process's pid. */
int ctl_lock_node(const char *dir, bool write_pid, ht_err *err);

#endif
