/*
 * alert: alerts for this node's region, logged and handed to the
 * operator's on_alert command. The decision (does this record concern the
 * region?) is the view's (view_org_concerns: the region itself, its
 * province, or a bordering province named as a suspected destination);
 * this file only runs the command: fork, execv with argv = {command, id},
 * stdin from /dev/null, stdout and stderr the daemon's, and never waits
 * in the loop.
 */
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "view.h"

#define HEX_ID (2 * RECORD_ID_BYTES + 1)

struct alert_runner {
	char region[HT_REGION_LEN + 1];
	char command[PATH_MAX];
	ht_log *log;
	struct {
		pid_t pid;
		char id[HEX_ID];
	} running[ALERT_MAX_RUNNING];
	size_t n_running;
	char (*queue)[HEX_ID];
	size_t q_head, q_len;
};

alert_runner *alert_new(const char *region, const char *command, ht_log *log)
{
	alert_runner *a = calloc(1, sizeof(*a));
	if (a == NULL ||
	    (a->queue = calloc(ALERT_MAX_QUEUED, HEX_ID)) == NULL) {
		free(a);
		return NULL;
	}
	snprintf(a->region, sizeof(a->region), "%s", region);
	alert_set_command(a, command);
	a->log = log;
	return a;
}

void alert_free(alert_runner **ap)
{
	if (ap == NULL || *ap == NULL)
		return;
	alert_tick(*ap); /* reap what has finished; the rest run on */
	free((*ap)->queue);
	free(*ap);
	*ap = NULL;
}

void alert_set_command(alert_runner *a, const char *command)
{
	snprintf(a->command, sizeof(a->command), "%s", command ? command : "");
}

size_t alert_running(const alert_runner *a) { return a->n_running; }

/* The child: argv = {command, id}; no shell, stdin /dev/null. */
static void child_exec(const char *command, const char *id)
{
	char *argv[] = {(char *)command, (char *)id, NULL};
	int fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		if (fd != STDIN_FILENO)
			close(fd);
	}
	execv(command, argv);
	/* only async-signal-safe calls after fork; the parent logs the 127 */
	static const char msg[] = "on_alert: cannot execute the program\n";
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(126);
	_exit(127);
}

static void start(alert_runner *a, const char *id)
{
	pid_t pid = fork();
	if (pid == 0)
		child_exec(a->command, id);
	if (pid < 0) {
		log_warn(a->log, "on_alert fork failed id=%s error=%s", id,
			 LOG_Q(strerror(errno)));
		return;
	}
	a->running[a->n_running].pid = pid;
	snprintf(a->running[a->n_running++].id, HEX_ID, "%s", id);
	log_info(a->log, "on_alert started pid=%ld command=%s id=%s", (long)pid,
		 LOG_T(a->command), id);
}

static void run_or_queue(alert_runner *a, const char *id)
{
	if (a->command[0] == '\0')
		return;
	if (a->n_running < ALERT_MAX_RUNNING && a->q_len == 0) {
		start(a, id);
	} else if (a->q_len < ALERT_MAX_QUEUED) {
		snprintf(a->queue[(a->q_head + a->q_len++) % ALERT_MAX_QUEUED],
			 HEX_ID, "%s", id);
	} else {
		log_warn(a->log,
			 "on_alert queue full, command not run "
			 "id=%s queued=%d",
			 id, ALERT_MAX_QUEUED);
	}
}

void alert_on_stored(void *ctx, const record *r)
{
	alert_runner *a = ctx;
	const Hutong__FleeingOrganization *o = view_record_org(r);
	const char *dest = "";
	char hex[HEX_ID];
	if (o == NULL)
		return;
	view_relation rel = view_org_concerns(o, a->region, &dest);
	if (rel == VIEW_REL_NONE)
		return;
	const Hutong__Header *h = record_header(r);
	util_hex(record_id(r), RECORD_ID_BYTES, hex);
	log_info(a->log,
		 "alert id=%s org=%s name=%s kind=%s level=%d "
		 "origin=%s dest=%s relation=%s",
		 hex, LOG_Q(o->org_id), LOG_Q(o->name),
		 o->sighting ? "sighting" : "alert", (int)o->level,
		 LOG_T(h->origin_region), LOG_T(dest),
		 LOG_Q(view_relation_name(rel)));
	run_or_queue(a, hex);
}

static void reap(alert_runner *a)
{
	for (size_t i = 0; i < a->n_running;) {
		int status;
		pid_t p = waitpid(a->running[i].pid, &status, WNOHANG);
		if (p == 0 || (p < 0 && errno == EINTR)) {
			i++;
			continue;
		}
		if (p > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info(a->log, "on_alert done pid=%ld id=%s", (long)p,
				 a->running[i].id);
		else if (p > 0)
			log_warn(a->log,
				 "on_alert failed pid=%ld id=%s "
				 "status=%d",
				 (long)p, a->running[i].id,
				 WIFEXITED(status) ? WEXITSTATUS(status)
						   : 128 + WTERMSIG(status));
		a->running[i] = a->running[--a->n_running];
	}
}

void alert_tick(alert_runner *a)
{
	if (a == NULL)
		return;
	reap(a);
	while (a->q_len > 0 && a->n_running < ALERT_MAX_RUNNING &&
	       a->command[0] != '\0') {
		start(a, a->queue[a->q_head]);
		a->q_head = (a->q_head + 1) % ALERT_MAX_QUEUED;
		a->q_len--;
	}
}
