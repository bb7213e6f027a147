/*
 * ctl: control socket plumbing over ZeroMQ ipc. One frame each way,
 * protobuf-encoded, size-limited before decoding; and the node lock
 * (hutongd.pid) that keeps one writer per ledger.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "util.h"

static int endpoint(const char *path, char *out, size_t len, ht_err *err)
{
	if (strlen(path) > 100) /* sun_path is 108 bytes */
		return ht_err_set(err, HT_ELIMIT, "control",
				  "socket path too long for ipc (%zu bytes): "
				  "use a shorter node directory",
				  strlen(path));
	snprintf(out, len, "ipc://%s", path);
	return 0;
}

void *ctl_server_bind(void *zctx, const char *path, ht_err *err)
{
	char ep[160];
	if (endpoint(path, ep, sizeof(ep), err) != 0)
		return NULL;
	if (ctl_is_running(path)) {
		ht_err_set(err, HT_EEXIST, "control",
			   "another hutongd is serving %s", path);
		return NULL;
	}
	unlink(path); /* stale socket from a crashed daemon */
	void *s = zmq_socket(zctx, ZMQ_REP);
	int64_t max = CTL_MAX_MSG;
	int linger = 0;
	mode_t old = umask(077);
	int rc = s ? zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max)) : -1;
	if (rc == 0)
		rc = zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (rc == 0)
		rc = zmq_bind(s, ep);
	umask(old);
	if (rc == 0)
		rc = chmod(path, 0600);
	if (rc != 0) {
		ht_err_set(err, HT_EIO, "control", "cannot bind %s: %s", ep,
			   zmq_strerror(zmq_errno()));
		if (s)
			zmq_close(s);
		return NULL;
	}
	return s;
}

static int send_request(void *s, const Hutong__ControlRequest *req, ht_err *err)
{
	size_t len = hutong__control_request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	hutong__control_request__pack(req, buf);
	int rc = zmq_send(s, buf, len, 0);
	free(buf);
	if (rc < 0)
		return ht_err_set(err, HT_EUNAVAIL, "control", "send: %s",
				  zmq_strerror(zmq_errno()));
	return 0;
}

static int recv_reply(void *s, Hutong__ControlReply **reply, ht_err *err)
{
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, s, 0) < 0) {
		zmq_msg_close(&msg);
		return ht_err_set(err, HT_EUNAVAIL, "control",
				  "hutongd did not answer (is it running?)");
	}
	*reply = hutong__control_reply__unpack(NULL, zmq_msg_size(&msg),
					       zmq_msg_data(&msg));
	zmq_msg_close(&msg);
	if (*reply == NULL)
		return ht_err_set(err, HT_EINVAL, "control",
				  "malformed reply from hutongd");
	return 0;
}

int ctl_call(const char *path, const Hutong__ControlRequest *req,
	     int timeout_ms, Hutong__ControlReply **reply, ht_err *err)
{
	char ep[160];
	struct stat st;
	if (endpoint(path, ep, sizeof(ep), err) != 0)
		return HT_ELIMIT;
	if (stat(path, &st) != 0)
		return ht_err_set(err, HT_EUNAVAIL, "control",
				  "hutongd is not running (no control socket "
				  "at %s)",
				  path);
	void *zctx = zmq_ctx_new();
	void *s = zmq_socket(zctx, ZMQ_REQ);
	int linger = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
	int rc = zmq_connect(s, ep) == 0
		     ? 0
		     : ht_err_set(err, HT_EUNAVAIL, "control", "%s: %s", ep,
				  zmq_strerror(zmq_errno()));
	if (rc == 0)
		rc = send_request(s, req, err);
	if (rc == 0)
		rc = recv_reply(s, reply, err);
	zmq_close(s);
	zmq_ctx_term(zctx);
	return rc;
}

bool ctl_is_running(const char *path)
{
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__StatusRequest status = HUTONG__STATUS_REQUEST__INIT;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_STATUS;
	req.status = &status;
	Hutong__ControlReply *reply = NULL;
	int rc = ctl_call(path, &req, 1000, &reply, NULL);
	if (reply)
		hutong__control_reply__free_unpacked(reply, NULL);
	return rc == 0;
}

int ctl_lock_node(const char *dir, bool write_pid, ht_err *err)
{
	char path[PATH_MAX], pid[32];
	if (util_path_join(dir, "hutongd.pid", path, sizeof(path)) != 0)
		return ht_err_set(err, HT_ELIMIT, "", "path too long");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return ht_err_set(err, HT_EIO, "", "%s: %s", path,
				  strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return ht_err_set(err, HT_EEXIST, "", "lock %s is held", path);
	}
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (write_pid &&
	    (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n)) {
		close(fd);
		return ht_err_set(err, HT_EIO, "", "%s: cannot write pid",
				  path);
	}
	return fd;
}
