/*
 * hutongd: the node daemon. One thread, one loop (STYLE.md 8): compute the
 * next deadline, zmq_poll, dispatch, run due timers. Signal handlers only set
 * flags. It owns the daemon's state (config, trust store, node, sockets)
 * from start to shutdown, the pid lock and SIGHUP's reload; the shells do
 * the rest: control.c answers the control socket (the hutong CLI submits
 * through it, so that one process writes each ledger), links.c and zap.c
 * the peers, sampler.c and alert.c the timed duties.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "alert.h"
#include "conf.h"
#include "control.h"
#include "ctl.h"
#include "links.h"
#include "log.h"
#include "node.h"
#include "perm.h"
#include "pki.h"
#include "sampler.h"
#include "view.h"

static volatile sig_atomic_t got_stop, got_reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_reload = 1;
	else
		got_stop = 1;
}

typedef struct daemon_state {
	conf *cf;
	pki_store *pki;	 /* CA bundle + CRLs (swapped on SIGHUP) */
	pki_chain chain; /* this node's certificate chain (DER) */
	node *node;
	ht_log *log;
	void *zctx;
	void *ctl;
	links *links;	      /* CurveZMQ links to the peers */
	sampler *audit;	      /* receipts, link counters into the event log */
	alert_runner *alerts; /* on_alert for alerts concerning this region */
	int lock_fd;
	bool stop;
	bool skip_check;	/* --skip-check: no quick_check at start */
	bool new_origin;	/* --new-origin: a genesis without neighbours */
	int64_t metrics_due_ms; /* monotonic: next metrics_file write */
	uint64_t fd_limit;	/* RLIMIT_NOFILE after raising it */
} daemon_state;

/* Descriptors kept out of max_connections=auto: the ledger (db, -wal,
 * -shm, journal), the control socket and its clients, the pid lock, stderr,
 * ZeroMQ's own (a mailbox per socket, the I/O thread, the ZAP socket, the
 * monitors), per peer its DEALER, monitor and connection, alert commands. */
#define FD_RESERVE (128 + 4 * CONF_MAX_PEERS)
/* ZeroMQ sockets: control, link server, ZAP, server monitor (and the PAIR
 * libzmq makes for each monitor), and per peer a DEALER and its monitor. */
#define ZMQ_SOCKETS_MAX (16 + 4 * CONF_MAX_PEERS)

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: hutongd -c FILE [--log-level warn|info|debug] "
	    "[--skip-check]\n"
	    "               [--new-origin]\n"
	    "       hutongd --check-config -c FILE\n"
	    "       hutongd --version | --help\n\n"
	    "Runs a hutong node in the foreground, logging to stderr. It\n"
	    "serves the control socket named in the config (the hutong CLI\n"
	    "talks to it) and stops cleanly on SIGTERM or SIGINT; SIGHUP\n"
	    "re-reads the config (a bad config keeps the old one).\n"
	    "It refuses files that another user could change (StrictModes,\n"
	    "see hutongd(8)) and a damaged ledger.\n\n"
	    "  -c, --config FILE   the node's hutongd.conf\n"
	    "  --check-config      report every problem in FILE, exit 1 if "
	    "any\n"
	    "  --log-level LEVEL   override log_level from the config\n"
	    "  --skip-check        start without checking the ledger file\n"
	    "                      (PRAGMA quick_check); emergencies only\n"
	    "  --new-origin        with no chain of its own in the ledger, "
	    "sign\n"
	    "                      a genesis at once, without asking the\n"
	    "                      neighbours (a bureau's very first start)\n"
	    "  --version           print the version\n");
}

static void report_stderr(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

/* One control request, with what the handlers need now (the config is
 * replaced on reload). */
/* The control handlers' view of the daemon, for one call. */
static control_ctx control_of(daemon_state *d)
{
	return (control_ctx){.cf = d->cf,
			     .node = d->node,
			     .links = d->links,
			     .log = d->log,
			     .chain = &d->chain,
			     .pki = d->pki};
}

static void serve_control(daemon_state *d)
{
	control_ctx c = control_of(d);
	control_serve(d->ctl, &c);
	if (c.stop)
		d->stop = true;
}

/* Rewrite metrics_file when due (temp file in its directory, then rename:
 * the collector never reads half a file). The text is a few kilobytes of
 * counts, so the write does not hold the loop up. */
static void metrics_tick(daemon_state *d)
{
	int64_t now = util_clock_system()->mono_ms(NULL);
	if (d->cf->metrics_file[0] == '\0' || now < d->metrics_due_ms)
		return;
	d->metrics_due_ms = now + d->cf->metrics_interval.ms;
	control_ctx c = control_of(d);
	ht_err err = {0};
	char *text = control_metrics_text(&c, &err);
	if (text == NULL ||
	    util_write_file(d->cf->metrics_file, text, strlen(text), 0644,
			    false, &err) != 0)
		log_warn(d->log, "metrics write failed file=%s reason=%s",
			 LOG_T(d->cf->metrics_file), LOG_Q(err.msg));
	free(text);
}

/* ---- start, reload, stop ---- */

static int take_lock(daemon_state *d, ht_err *err)
{
	char msg[HT_ERR_MSG_MAX];
	int fd = ctl_lock_node(d->cf->dir, true, err);
	if (fd == HT_EEXIST) {
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return ht_err_set(err, HT_EEXIST, "",
				  "another hutongd is running for %s (%s)",
				  d->cf->dir, msg);
	}
	if (fd < 0)
		return fd;
	d->lock_fd = fd;
	return 0;
}

/* The CA bundle, CRLs and this node's certificate chain. Fails closed, with
 * a message that says how to get what is missing. */
static int load_trust(daemon_state *d, ht_err *err)
{
	char msg[HT_ERR_MSG_MAX];
	const char *crls[] = {d->cf->crl};
	d->pki = pki_store_load(d->cf->ca_bundle, crls, 1, err);
	if (d->pki == NULL) {
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return ht_err_set(
		    err, HT_ETRUST, "trust",
		    "%s; put your CA's certificates in %s and its "
		    "current CRL in %s (see certs/README.md)",
		    msg, d->cf->ca_bundle, d->cf->crl);
	}
	if (pki_chain_read_pem(d->cf->cert, &d->chain, err) != 0) {
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return ht_err_set(
		    err, HT_ETRUST, "cert",
		    "%s; this node needs a certificate: send %s/"
		    "node.csr to your CA (hutong ca sign --dir CADIR"
		    " %s/node.csr --out %s)",
		    msg, d->cf->dir, d->cf->dir, d->cf->cert);
	}
	return 0;
}

/* The views' hooks on the node: repatriation steps are checked before
 * they are signed; stored alerts for this region are logged and passed to
 * the on_alert command. */
static int hook_views(daemon_state *d, ht_err *err)
{
	d->alerts = alert_new(d->cf->region, d->cf->on_alert, d->log);
	if (d->alerts == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	node_set_check(d->node, view_check_record, NULL);
	node_set_stored_hook(d->node, alert_on_stored, d->alerts);
	return 0;
}

static void report_problem(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "hutongd: %s\n", line);
}

/* StrictModes (perm.h) on every file the config names, before any is
 * used: each problem on stderr, then one refusal. */
static int check_files(daemon_state *d, ht_err *err)
{
	int n = perm_check_conf(d->cf, 0, report_problem, NULL);
	if (n == 0)
		return 0;
	return ht_err_set(err, HT_EINVAL, "",
			  "not starting: %d file permission problem%s above "
			  "(another user could change what this node runs "
			  "or read what it holds; see hutongd(8))",
			  n, n == 1 ? "" : "s");
}

/* PRAGMA quick_check on an existing ledger before the node opens it (and
 * before anything is written to it), unless --skip-check. */
static int check_ledger(daemon_state *d, ht_err *err)
{
	struct stat st;
	if (d->skip_check) {
		log_warn(d->log,
			 "ledger check skipped (--skip-check) ledger=%s",
			 LOG_T(d->cf->ledger));
		return 0;
	}
	if (stat(d->cf->ledger, &st) != 0 || st.st_size == 0)
		return 0; /* ledger_open reports a missing directory */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ledger *l = ledger_open(d->cf->ledger, LEDGER_RDONLY, NULL, err);
	int rc = l == NULL ? HT_ECORRUPT : ledger_check(l, err);
	ledger_close(&l);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 0)
		log_info(d->log, "ledger checked ledger=%s ms=%lld",
			 LOG_T(d->cf->ledger),
			 (long long)((t1.tv_sec - t0.tv_sec) * 1000 +
				     (t1.tv_nsec - t0.tv_nsec) / 1000000));
	return rc;
}

/* Raise the soft descriptor limit to the hard one: 1,000 connections must
 * meet max_connections, not EMFILE. Logged with the figure. */
static void raise_fd_limit(daemon_state *d)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0) {
		d->fd_limit = 1024;
		return;
	}
	rlim_t was = r.rlim_cur;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) != 0)
			r.rlim_cur = was;
	}
	d->fd_limit = r.rlim_cur == RLIM_INFINITY ? 1048576 : r.rlim_cur;
	log_info(d->log, "fd limit soft=%llu hard=%llu was=%llu",
		 (unsigned long long)d->fd_limit,
		 (unsigned long long)r.rlim_max, (unsigned long long)was);
}

/* max_connections=auto: what the descriptors allow beyond the reserve. */
static uint64_t auto_max_connections(const daemon_state *d)
{
	if (d->fd_limit > FD_RESERVE + 16)
		return d->fd_limit - FD_RESERVE;
	return d->fd_limit / 4 > 4 ? d->fd_limit / 4 : 4;
}

static int64_t mono_now(void)
{
	const ht_clock *c = util_clock_system();
	return c->mono_ms(c->ctx);
}

/* After the links: with neighbours, the node waits for their frontiers
 * before it signs, with or without a chain of its own (a restored backup
 * may be behind them): node_catchup_begin. */
static int begin_catchup(daemon_state *d, ht_err *err)
{
	size_t peers = d->new_origin ? 0 : d->cf->n_peers;
	return node_catchup_begin(d->node, peers, mono_now(),
				  d->cf->catchup_timeout.ms, err);
}

static void catchup_tick(daemon_state *d)
{
	ht_err err = {0};
	int rc = node_catchup_tick(d->node, mono_now(), &err);
	if (rc < 0)
		log_warn(d->log, "catching up own chain failed reason=%s",
			 LOG_Q(err.msg));
	else if (rc > 0)
		links_pump(d->links); /* a genesis, or new submits soon */
}

static int start(daemon_state *d, ht_err *err)
{
	char msg[HT_ERR_MSG_MAX];
	if (check_files(d, err) != 0)
		return HT_EINVAL;
	raise_fd_limit(d);
	if (take_lock(d, err) != 0)
		return HT_EEXIST;
	if (load_trust(d, err) != 0)
		return HT_ETRUST;
	if (check_ledger(d, err) != 0)
		return HT_ECORRUPT;
	node_config nc = {.name = d->cf->name,
			  .region = d->cf->region,
			  .key_path = d->cf->key,
			  .ledger_path = d->cf->ledger,
			  .log = d->log,
			  .pki = d->pki,
			  .max_clock_skew_ms = d->cf->max_clock_skew.ms,
			  .certs = (const uint8_t *const *)d->chain.der,
			  .cert_lens = d->chain.len,
			  .n_certs = d->chain.n,
			  .defer_genesis =
			      d->cf->n_peers > 0 && !d->new_origin};
	if ((d->node = node_open(&nc, err)) == NULL) {
		if (strcmp(err->field, "certificate") != 0)
			return HT_EIO;
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return ht_err_set(
		    err, HT_ETRUST, "cert",
		    "%s is not valid for this node: %s; get a new "
		    "one: hutong ca sign --dir CADIR %s/node.csr "
		    "--out %s",
		    d->cf->cert, msg, d->cf->dir, d->cf->cert);
	}
	if (hook_views(d, err) != 0)
		return HT_ENOMEM;
	d->zctx = zmq_ctx_new();
	if (d->zctx != NULL)
		zmq_ctx_set(d->zctx, ZMQ_MAX_SOCKETS, ZMQ_SOCKETS_MAX);
	if ((d->ctl = ctl_server_bind(d->zctx, d->cf->control, err)) == NULL)
		return HT_EIO;
	links_config lc = {.zctx = d->zctx,
			   .cf = d->cf,
			   .node = d->node,
			   .log = d->log,
			   .pki = d->pki,
			   .certs = &d->chain,
			   .auto_max_connections = auto_max_connections(d)};
	if ((d->links = links_new(&lc, err)) == NULL)
		return HT_EIO;
	if (begin_catchup(d, err) != 0)
		return HT_EIO;
	if ((d->audit = sampler_new()) == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	return 0;
}

static void log_problem(void *ctx, const char *line)
{
	const daemon_state *d = ctx;
	log_warn(d->log, "reload: unsafe file problem=%s", LOG_Q(line));
}

/* Does fresh name a file another user could change? (logged) */
static bool reload_files_bad(const daemon_state *d, const conf *fresh)
{
	if (perm_check_conf(fresh, 0, log_problem, (void *)d) == 0)
		return false;
	log_warn(d->log,
		 "reload: file permission problems, running config "
		 "kept config=%s",
		 LOG_T(fresh->path));
	return true;
}

/* The config file again, or NULL (logged) when it has errors or changes
 * what cannot change while running. */
static conf *reload_conf(const daemon_state *d)
{
	conf *fresh = conf_load(d->cf->path, NULL, NULL);
	if (fresh == NULL) {
		char hint[PATH_MAX + 32];
		snprintf(hint, sizeof(hint), "hutongd --check-config -c %s",
			 d->cf->path);
		log_warn(d->log,
			 "reload: config has errors, running config kept "
			 "config=%s hint=%s",
			 LOG_T(d->cf->path), LOG_Q(hint));
		return NULL;
	}
	if (strcmp(fresh->region, d->cf->region) != 0 ||
	    strcmp(fresh->name, d->cf->name) != 0 ||
	    strcmp(fresh->ledger, d->cf->ledger) != 0) {
		log_warn(d->log,
			 "reload: name, region and ledger cannot change "
			 "while running, running config kept config=%s",
			 LOG_T(d->cf->path));
		conf_free(&fresh);
	}
	if (fresh != NULL && reload_files_bad(d, fresh))
		conf_free(&fresh);
	return fresh;
}

/* Re-read the CRLs; a refused one keeps the running trust store. */
static void reload_trust(daemon_state *d, const conf *fresh)
{
	const char *crls[] = {fresh->crl};
	ht_err err = {0};
	pki_store *pki = pki_store_reload_crls(d->pki, crls, 1, &err);
	if (pki == NULL) {
		log_warn(d->log,
			 "reload: CRL refused, running trust store kept "
			 "crl=%s reason=%s",
			 LOG_T(fresh->crl), LOG_Q(err.msg));
		return;
	}
	node_set_pki(d->node, pki);
	pki_store_free(&d->pki);
	d->pki = pki;
	log_info(d->log, "reload: CRLs reloaded crl=%s", LOG_T(fresh->crl));
}

static void reload(daemon_state *d)
{
	ht_err err = {0};
	conf *fresh = reload_conf(d);
	if (fresh == NULL)
		return;
	reload_trust(d, fresh);
	log_set_level(d->log, fresh->log_level);
	conf_free(&d->cf);
	d->cf = fresh;
	alert_set_command(d->alerts, d->cf->on_alert);
	node_set_clock_skew(d->node, d->cf->max_clock_skew.ms);
	node_catchup_set_timeout(d->node, d->cf->catchup_timeout.ms);
	log_info(d->log, "reload: config applied config=%s",
		 LOG_T(d->cf->path));
	if (links_reload(d->links, d->cf, d->pki, &err) != 0)
		log_warn(d->log, "reload: links unchanged reason=%s",
			 LOG_Q(err.msg));
}

static void run(daemon_state *d)
{
	char hex[2 * RECORD_ID_BYTES + 1];
	uint8_t digest[RECORD_ID_BYTES];
	ledger_digest(node_ledger(d->node), digest);
	log_info(d->log,
		 "started node=%s region=%s records=%llu digest=%s "
		 "control=%s",
		 d->cf->name, d->cf->region,
		 (unsigned long long)ledger_record_count(node_ledger(d->node)),
		 util_hex(digest, RECORD_ID_BYTES, hex), LOG_T(d->cf->control));
	while (!got_stop && !d->stop) {
		zmq_pollitem_t items[1 + LINKS_MAX_ITEMS] = {
		    {d->ctl, 0, ZMQ_POLLIN, 0}};
		size_t nl =
		    links_poll_items(d->links, items + 1, LINKS_MAX_ITEMS);
		int n = zmq_poll(items, (int)(1 + nl),
				 links_next_ms(d->links, 1000));
		if (n < 0 && zmq_errno() != EINTR) {
			log_warn(d->log, "poll failed reason=%s",
				 LOG_Q(zmq_strerror(zmq_errno())));
			break;
		}
		if (n > 0)
			links_dispatch(d->links, items + 1, nl);
		links_tick(d->links);
		catchup_tick(d);
		if (sampler_tick(d->audit, d->node, d->links, d->cf, d->log))
			links_pump(d->links); /* a receipt to send */
		alert_tick(d->alerts);
		metrics_tick(d);
		if (got_reload) {
			got_reload = 0;
			reload(d);
		}
		if (n > 0 && (items[0].revents & ZMQ_POLLIN))
			serve_control(d);
	}
	log_info(d->log, "stopping node=%s", d->cf->name);
}

static void shutdown_all(daemon_state *d)
{
	links_free(&d->links); /* its sockets, before the context ends */
	sampler_free(&d->audit);
	if (d->ctl) {
		zmq_close(d->ctl);
		unlink(d->cf->control);
	}
	if (d->zctx)
		zmq_ctx_term(d->zctx);
	node_free(&d->node);
	alert_free(&d->alerts);
	pki_store_free(&d->pki);
	pki_chain_clear(&d->chain);
	if (d->lock_fd > 0)
		close(d->lock_fd);
	conf_free(&d->cf);
	log_free(&d->log);
}

/* --check-config's file checks: StrictModes, and an on_alert that must
 * exist and be executable. Each problem as "FILE: ..." on stderr. */
static int check_config_files(const conf *c)
{
	return perm_check_conf(c, PERM_ALERT_REQUIRED, report_stderr, NULL);
}

static int check_config(const char *path)
{
	conf *c = conf_load(path, report_stderr, NULL);
	if (c == NULL)
		return 1;
	if (check_config_files(c) != 0) {
		conf_free(&c);
		return 1;
	}
	char *dump = conf_dump(c);
	printf("%s: OK\n%s", path, dump ? dump : "");
	free(dump);
	conf_free(&c);
	return 0;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Past RLIMIT_FSIZE a write fails with EFBIG (logged, submit refused
	 * as disk full) instead of killing the daemon. */
	signal(SIGXFSZ, SIG_IGN);
}

typedef struct args {
	const char *path;  /* -c FILE */
	const char *level; /* --log-level, or NULL */
	bool check;	   /* --check-config */
	bool skip_check;   /* --skip-check */
	bool new_origin;   /* --new-origin */
} args;

/* The command line into *a: -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, args *a)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"skip-check", no_argument, NULL, 's'},
	    {"new-origin", no_argument, NULL, 'n'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->path = optarg;
			break;
		case 'k':
			a->check = true;
			break;
		case 'l':
			a->level = optarg;
			break;
		case 's':
			a->skip_check = true;
			break;
		case 'n':
			a->new_origin = true;
			break;
		case 'V':
			printf("hutongd %s\n", HUTONG_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (a->path == NULL || optind != argc) {
		fprintf(stderr, "hutongd: %s\n",
			a->path ? "unexpected argument"
				: "-c FILE is required");
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The config and the log for d: -1 to go on, else the exit status. */
static int load_config(daemon_state *d, const args *a)
{
	if ((d->cf = conf_load(a->path, report_stderr, NULL)) == NULL) {
		fprintf(stderr, "hutongd: %s has errors; not starting\n",
			a->path);
		return 1;
	}
	int lv = a->level ? log_level_parse(a->level) : d->cf->log_level;
	if (lv < 0) {
		fprintf(stderr,
			"hutongd: --log-level: must be warn, info or "
			"debug, got '%s'\n",
			a->level);
		conf_free(&d->cf);
		return 2;
	}
	d->log = log_new(stderr, lv, NULL);
	return -1;
}

int main(int argc, char **argv)
{
	args a = {0};
	daemon_state d = {.lock_fd = -1};
	umask(077); /* keys, ledger, pid and socket: this user's only */
	ht_err err = {0};
	char msg[HT_ERR_MSG_MAX + HT_ERR_FIELD_MAX + 4];
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	if (a.check)
		return check_config(a.path);
	if ((rc = load_config(&d, &a)) >= 0)
		return rc;
	d.skip_check = a.skip_check;
	install_signals();
	d.new_origin = a.new_origin;
	rc = start(&d, &err);
	if (rc != 0)
		fprintf(stderr, "hutongd: %s\n",
			ht_err_str(&err, msg, sizeof(msg)));
	else
		run(&d);
	shutdown_all(&d);
	return rc == 0 ? 0 : 1;
}
