/*
 * conf: hutongd.conf -> struct conf, and back: a normalized dump for
 * --check-config and the golden tests, a commented default for a new node,
 * and peer sections added or removed in place for `hutong peer add/remove`.
 *
 * What a key means lives in one table: its name, its section, the field it
 * fills, the function that checks and stores it, its default and its help
 * line. The parser, the dump and the default file are all driven by that
 * table, so they cannot drift apart.
 *
 * Syntax. The file is UTF-8 text (no NUL, no control character but tab, an
 * optional BOM, LF or CRLF line ends), at most CONF_MAX_LINE bytes a line.
 * A line whose first non-blank character is '#' is a comment. Other lines
 * are "key = value" or a section header "[peer NAME]"; keys before the first
 * header are global, keys after it belong to that peer. A bare value runs to
 * the end of the line, without surrounding blanks; a '#' at its start or
 * after a blank (space or tab) begins a comment, so "a#b" keeps its '#'. A
 * value in double quotes keeps everything, with \" and \\ as the only escapes,
 * and only blanks or a comment may follow the closing quote.
 *
 * Parsing never stops at the first problem: every line is checked and each
 * problem is reported as "FILE:LINE: message" (or "FILE: message" for one
 * that belongs to no line), then the half-built struct is thrown away. A
 * caller gets a conf only when the whole file validated (STYLE.md 10).
 */
#include "conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define HELP_COLUMN 26 /* where help comments start in the default file */
#define REPORT_MAX (PATH_MAX + HT_ERR_MSG_MAX + 64)

enum { SEC_GLOBAL, SEC_PEER, SEC_SKIP };
enum { KEY_REQUIRED = 1, KEY_EMPTY_OK = 2 };

typedef struct conf_key conf_key;

/* Check val (non-empty) and store it in dst; dst is untouched on failure. */
typedef int (*key_set_fn)(const conf_key *k, const char *dir, const char *val,
			  void *dst, ht_err *err);
/* The field at src as the text a config file would hold. */
typedef const char *(*key_show_fn)(const void *src);

struct conf_key {
	const char *name;
	int flags;	  /* KEY_* */
	int section;	  /* SEC_GLOBAL or SEC_PEER */
	size_t off, size; /* the field in conf or conf_peer */
	key_set_fn set;
	key_show_fn show;
	const char *def;     /* value when absent, NULL for none */
	const char *example; /* shown in the default file, NULL for def */
	const char *help;
};

static int set_name(const conf_key *k, const char *dir, const char *val,
		    void *dst, ht_err *err);
static int set_region(const conf_key *k, const char *dir, const char *val,
		      void *dst, ht_err *err);
static int set_path(const conf_key *k, const char *dir, const char *val,
		    void *dst, ht_err *err);
static int set_listen(const conf_key *k, const char *dir, const char *val,
		      void *dst, ht_err *err);
static int set_endpoint(const conf_key *k, const char *dir, const char *val,
			void *dst, ht_err *err);
static int set_level(const conf_key *k, const char *dir, const char *val,
		     void *dst, ht_err *err);
static int set_duration(const conf_key *k, const char *dir, const char *val,
			void *dst, ht_err *err);
static int set_catchup(const conf_key *k, const char *dir, const char *val,
		       void *dst, ht_err *err);
static int set_count(const conf_key *k, const char *dir, const char *val,
		     void *dst, ht_err *err);
static const char *show_str(const void *src);
static const char *show_count(const void *src);
static const char *show_level(const void *src);
static const char *show_duration(const void *src);

#define G(f) SEC_GLOBAL, offsetof(conf, f), sizeof(((conf *)0)->f)
#define P(f) SEC_PEER, offsetof(conf_peer, f), sizeof(((conf_peer *)0)->f)

/* In dump and default-file order. A key name may appear once per section. */
static const conf_key keys[] = {
    {"name", KEY_REQUIRED, G(name), set_name, show_str, NULL, NULL,
     "node name: 1-64 of [a-z0-9._-], first a letter or digit"},
    {"region", KEY_REQUIRED, G(region), set_region, show_str, NULL, NULL,
     "GB/T 2260 code, six digits"},
    {"key", 0, G(key), set_path, show_str, "node.key", NULL,
     "Ed25519 identity key (PEM, 0600)"},
    {"link_key", 0, G(link_key), set_path, show_str, "link.key", NULL,
     "X25519 link key for CurveZMQ"},
    {"cert", 0, G(cert), set_path, show_str, "node.crt", NULL,
     "node certificate"},
    {"ca_bundle", 0, G(ca_bundle), set_path, show_str, "ca.crt", NULL,
     "root CA (+ intermediates)"},
    {"crl", 0, G(crl), set_path, show_str, "ca.crl", NULL,
     "certificate revocation list(s)"},
    {"ledger", 0, G(ledger), set_path, show_str, "ledger.db", NULL,
     "SQLite ledger"},
    {"control", 0, G(control), set_path, show_str, "control.sock", NULL,
     "owner-only control socket for the hutong CLI"},
    {"listen", KEY_EMPTY_OK, G(listen), set_listen, show_str, "", NULL,
     "tcp://HOST:PORT peers connect to; empty = none"},
    {"log_level", 0, G(log_level), set_level, show_level, "info", NULL,
     "warn | info | debug"},
    {"on_alert", KEY_EMPTY_OK, G(on_alert), set_path, show_str, "", NULL,
     "program run with the record id as argument (no shell)"},
    {"receipt_interval", 0, G(receipt_interval), set_duration, show_duration,
     "30s", NULL, "at most one signed receipt per this (1s-1d)"},
    {"catchup_timeout", 0, G(catchup_timeout), set_catchup, show_duration,
     "60s", NULL, "wait for neighbours before a first genesis (1s-1h)"},
    {"max_connections", 0, G(max_connections), set_count, show_count, "auto",
     NULL, "inbound link connections in all; auto = from the fd limit"},
    {"max_connections_per_peer", 0, G(max_connections_per_peer), set_count,
     show_count, "4", NULL, "authenticated connections per peer (1-64)"},
    {"max_clock_skew", 0, G(max_clock_skew), set_duration, show_duration, "5m",
     NULL, "refuse records created further ahead of our clock (1s-1d)"},
    {"metrics_file", KEY_EMPTY_OK, G(metrics_file), set_path, show_str, "",
     NULL,
     "Prometheus text file rewritten every metrics_interval; empty = none"},
    {"metrics_interval", 0, G(metrics_interval), set_duration, show_duration,
     "15s", NULL, "how often metrics_file is rewritten (1s-1d)"},
    {"endpoint", KEY_REQUIRED, P(endpoint), set_endpoint, show_str, NULL,
     "tcp://127.0.0.1:7402", "the peer's listen address"},
    {"cert", 0, P(cert), set_path, show_str, NULL, "peers/changsha.crt",
     "its node certificate; default peers/NAME.crt"},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const level_names[] = {
    [LOG_WARN] = "warn", [LOG_INFO] = "info", [LOG_DEBUG] = "debug"};

typedef struct parser {
	conf *c;
	const char *file; /* as the caller named it, for messages */
	conf_report_fn fn;
	void *ctx;
	int n_errors;
	int line;
	int sec;	       /* SEC_* of the lines being read */
	conf_peer *peer;       /* the section being filled */
	conf_peer scratch;     /* fills for a section that will be dropped */
	int seen[N_KEYS];      /* line each global key was set on, 0 = not */
	int peer_seen[N_KEYS]; /* the same for the current peer */
	bool too_many_peers;
} parser;

/* Collects the first problem into an ht_err, for the file editors. */
typedef struct first_error {
	ht_err *err;
	int n;
} first_error;

/* ---- small pieces ---------------------------------------------------- */

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

static char *skip_blanks(const char *s)
{
	while (is_blank(*s))
		s++;
	return (char *)s;
}

bool conf_is_node_name(const char *s) { return util_is_node_name(s); }

static int copy_value(const conf_key *k, const char *val, char *dst,
		      ht_err *err)
{
	size_t n = strlen(val);
	if (n >= k->size)
		return ht_err_set(err, HT_EINVAL, k->name,
				  "too long (max %zu bytes)", k->size - 1);
	memcpy(dst, val, n + 1);
	return 0;
}

/* ---- value checks ---------------------------------------------------- */

static int set_name(const conf_key *k, const char *dir, const char *val,
		    void *dst, ht_err *err)
{
	if (!conf_is_node_name(val))
		return ht_err_set(err, HT_EINVAL, k->name,
				  "must be 1-%d of [a-z0-9._-] starting with a "
				  "letter or digit, got '%.80s'",
				  CONF_MAX_NODE_NAME, val);
	return copy_value(k, val, dst, err);
}

static int set_region(const conf_key *k, const char *dir, const char *val,
		      void *dst, ht_err *err)
{
	int rc = util_check_region(val, k->name, err);
	return rc != 0 ? rc : copy_value(k, val, dst, err);
}

static int set_path(const conf_key *k, const char *dir, const char *val,
		    void *dst, ht_err *err)
{
	char full[PATH_MAX];
	if (util_path_join(dir, val, full, sizeof(full)) != 0)
		return ht_err_set(err, HT_EINVAL, k->name, "path too long");
	return copy_value(k, full, dst, err);
}

static bool host_ok(const char *h, size_t n)
{
	if (n >= 3 && h[0] == '[' && h[n - 1] == ']') {
		for (size_t i = 1; i + 1 < n; i++)
			if (!strchr("0123456789abcdefABCDEF:.", h[i]))
				return false;
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return n > 0;
}

/* tcp://HOST:PORT, HOST a name, IPv4 or [IPv6], or '*' when listening. */
static int check_endpoint(const char *field, const char *s, bool listen,
			  ht_err *err)
{
	static const char scheme[] = "tcp://";
	size_t n = strlen(s), sn = sizeof(scheme) - 1;
	const char *colon = strrchr(s, ':');
	uint64_t port;
	if (colon == NULL)
		colon = s;
	if (n >= CONF_MAX_ENDPOINT)
		return ht_err_set(err, HT_EINVAL, field,
				  "too long (max %d bytes)",
				  CONF_MAX_ENDPOINT - 1);
	if (strncmp(s, scheme, sn) != 0 || colon < s + sn)
		return ht_err_set(err, HT_EINVAL, field,
				  "must be tcp://HOST:PORT, got '%s'", s);
	const char *host = s + sn;
	size_t hn = (size_t)(colon - host);
	if (hn == 1 && host[0] == '*') {
		if (!listen)
			return ht_err_set(err, HT_EINVAL, field,
					  "host '*' is only valid for listen");
	} else if (!host_ok(host, hn)) {
		return ht_err_set(err, HT_EINVAL, field, "bad host '%.*s'",
				  (int)hn, host);
	}
	if (util_parse_u64(colon + 1, 1, 65535, &port) != 0)
		return ht_err_set(err, HT_EINVAL, field,
				  "port must be 1-65535, got '%s'", colon + 1);
	return 0;
}

int conf_check_listen(const char *s, ht_err *err)
{
	return check_endpoint("listen", s, true, err);
}

static int set_listen(const conf_key *k, const char *dir, const char *val,
		      void *dst, ht_err *err)
{
	int rc = check_endpoint(k->name, val, true, err);
	return rc != 0 ? rc : copy_value(k, val, dst, err);
}

static int set_endpoint(const conf_key *k, const char *dir, const char *val,
			void *dst, ht_err *err)
{
	int rc = check_endpoint(k->name, val, false, err);
	return rc != 0 ? rc : copy_value(k, val, dst, err);
}

static int set_level(const conf_key *k, const char *dir, const char *val,
		     void *dst, ht_err *err)
{
	for (int i = LOG_WARN; i <= LOG_DEBUG; i++) {
		if (strcmp(val, level_names[i]) == 0) {
			*(int *)dst = i;
			return 0;
		}
	}
	return ht_err_set(err, HT_EINVAL, k->name,
			  "must be warn, info or debug, got '%.80s'", val);
}

/* "30s", "5m", "1h" or plain seconds, from 1s to 1d (the bounds of
 * receipt_interval and of max_clock_skew alike). */
static int set_duration(const conf_key *k, const char *dir, const char *val,
			void *dst, ht_err *err)
{
	conf_duration *d = dst;
	int64_t ms;
	if (util_parse_duration(val, &ms) != 0 || ms < CONF_RECEIPT_MIN_MS ||
	    ms > CONF_RECEIPT_MAX_MS)
		return ht_err_set(err, HT_EINVAL, k->name,
				  "must be a duration from 1s to 1d (30s, 5m, "
				  "1h), got '%.80s'",
				  val);
	snprintf(d->text, sizeof(d->text), "%s", val);
	d->ms = ms;
	return 0;
}

/* catchup_timeout: like set_duration, with its own bounds. */
static int set_catchup(const conf_key *k, const char *dir, const char *val,
		       void *dst, ht_err *err)
{
	conf_duration *d = dst;
	int64_t ms;
	(void)dir;
	if (util_parse_duration(val, &ms) != 0 || ms < CONF_CATCHUP_MIN_MS ||
	    ms > CONF_CATCHUP_MAX_MS)
		return ht_err_set(err, HT_EINVAL, k->name,
				  "must be a duration from 1s to 1h (30s, 5m), "
				  "got '%.80s'",
				  val);
	snprintf(d->text, sizeof(d->text), "%s", val);
	d->ms = ms;
	return 0;
}

/* max_connections ("auto" or 1..CONF_MAX_CONNECTIONS) and
 * max_connections_per_peer (1..CONF_MAX_PER_PEER). */
static int set_count(const conf_key *k, const char *dir, const char *val,
		     void *dst, ht_err *err)
{
	conf_count *c = dst;
	bool per_peer = strcmp(k->name, "max_connections_per_peer") == 0;
	uint64_t max = per_peer ? CONF_MAX_PER_PEER : CONF_MAX_CONNECTIONS;
	uint64_t n = 0;
	(void)dir;
	if ((per_peer || strcmp(val, "auto") != 0) &&
	    util_parse_u64(val, 1, max, &n) != 0)
		return ht_err_set(
		    err, HT_EINVAL, k->name, "must be %s1 to %llu, got '%.80s'",
		    per_peer ? "" : "auto or ", (unsigned long long)max, val);
	snprintf(c->text, sizeof(c->text), "%s", val);
	c->n = n;
	return 0;
}

static const char *show_count(const void *src)
{
	return ((const conf_count *)src)->text;
}

static const char *show_str(const void *src) { return src; }

static const char *show_duration(const void *src)
{
	return ((const conf_duration *)src)->text;
}

static const char *show_level(const void *src)
{
	int level = *(const int *)src;
	if (level < 0 || level > LOG_DEBUG)
		return "?";
	return level_names[level];
}

/* Store val in the key's field of base (a conf or a conf_peer). */
static int key_apply(const conf_key *k, const char *dir, const char *val,
		     void *base, ht_err *err)
{
	char *dst = (char *)base + k->off;
	if (val[0] != '\0')
		return k->set(k, dir, val, dst, err);
	if (!(k->flags & KEY_EMPTY_OK))
		return ht_err_set(err, HT_EINVAL, k->name, "must not be empty");
	dst[0] = '\0';
	return 0;
}

static int key_find(const char *name, int section)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].section == section &&
		    strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- lexical rules shared by the parser and the file editors --------- */

/* Why line [s, s+n) cannot be read, or NULL. n excludes the line end. */
static const char *line_problem(const char *s, size_t n, char *why, size_t size)
{
	if (n > CONF_MAX_LINE) {
		snprintf(why, size, "line too long (max %d bytes)",
			 CONF_MAX_LINE);
		return why;
	}
	if (memchr(s, '\0', n) != NULL)
		return "NUL byte";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			snprintf(why, size, "control character 0x%02x", ch);
			return why;
		}
	}
	return util_is_text(s, n) ? NULL : "invalid UTF-8";
}

/* Parse "[peer NAME]" at s (which starts with '['); NAME into name (size
 * >= strlen(s)), unchecked. 0, or HT_EINVAL with the reason in err. */
static int section_parse(const char *s, char *name, ht_err *err)
{
	const char *close = strchr(s, ']');
	if (close == NULL)
		return ht_err_set(err, HT_EINVAL, "", "missing ']'");
	const char *rest = skip_blanks(close + 1);
	if (*rest != '\0' && *rest != '#')
		return ht_err_set(err, HT_EINVAL, "", "text after ']'");
	const char *word = skip_blanks(s + 1);
	size_t wn = strcspn(word, " \t]");
	if (wn != 4 || strncmp(word, "peer", 4) != 0)
		return ht_err_set(err, HT_EINVAL, "",
				  "unknown section '[%.*s]'",
				  (int)(close - s - 1), s + 1);
	const char *nm = skip_blanks(word + wn);
	size_t nn = (size_t)(close - nm);
	while (nn > 0 && is_blank(nm[nn - 1]))
		nn--;
	if (nn == 0)
		return ht_err_set(err, HT_EINVAL, "", "[peer] needs a name");
	memcpy(name, nm, nn);
	name[nn] = '\0';
	return 0;
}

static const char *value_quoted(const char *s, char *out)
{
	size_t n = 0;
	for (;;) {
		char ch = *s++;
		if (ch == '\\') {
			ch = *s++;
			if (ch != '"' && ch != '\\')
				return ch == '\0'
					   ? "unterminated quoted value"
					   : "bad escape in quoted value "
					     "(only \\\" and \\\\)";
		} else if (ch == '"') {
			break;
		} else if (ch == '\0') {
			return "unterminated quoted value";
		}
		out[n++] = ch;
	}
	out[n] = '\0';
	s = skip_blanks(s);
	return *s == '\0' || *s == '#' ? NULL : "text after closing quote";
}

/* The value after '=' into out (as large as the line). NULL or a reason. */
static const char *value_parse(const char *s, char *out)
{
	s = skip_blanks(s);
	if (*s == '"')
		return value_quoted(s + 1, out);
	size_t n = 0;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '#' && (i == 0 || is_blank(s[i - 1])))
			break;
		out[n++] = s[i];
	}
	while (n > 0 && is_blank(out[n - 1]))
		n--;
	out[n] = '\0';
	return NULL;
}

/* True if val must be quoted to read back as itself. */
static bool needs_quotes(const char *val)
{
	size_t n = strlen(val);
	if (n == 0)
		return false;
	if (val[0] == '"' || val[0] == '#' || is_blank(val[0]) ||
	    is_blank(val[n - 1]))
		return true;
	for (size_t i = 1; i < n; i++)
		if (val[i] == '#' && is_blank(val[i - 1]))
			return true;
	return false;
}

/* Write "key = value" (or "key =" when empty), quoting when needed. */
static void put_kv(FILE *f, const char *key, const char *val)
{
	if (val[0] == '\0') {
		fprintf(f, "%s =", key);
		return;
	}
	if (!needs_quotes(val)) {
		fprintf(f, "%s = %s", key, val);
		return;
	}
	fprintf(f, "%s = \"", key);
	for (; *val != '\0'; val++) {
		if (*val == '"' || *val == '\\')
			fputc('\\', f);
		fputc(*val, f);
	}
	fputc('"', f);
}

/* ---- the parser ------------------------------------------------------ */

static void report(parser *p, int line, const char *fmt, ...) HT_PRINTF(3, 4);

/* Pass one problem to the caller, as "FILE:LINE: msg" or "FILE: msg". After
 * CONF_MAX_ERRORS, say so once and count the rest silently. */
static void report(parser *p, int line, const char *fmt, ...)
{
	char msg[HT_ERR_MSG_MAX], out[REPORT_MAX];
	va_list ap;
	if (++p->n_errors > CONF_MAX_ERRORS + 1 || p->fn == NULL)
		return;
	if (p->n_errors > CONF_MAX_ERRORS) {
		snprintf(out, sizeof(out),
			 "%s: more than %d errors; stopping here", p->file,
			 CONF_MAX_ERRORS);
		p->fn(p->ctx, out);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(out, sizeof(out), "%s:%d: %s", p->file, line, msg);
	else
		snprintf(out, sizeof(out), "%s: %s", p->file, msg);
	p->fn(p->ctx, out);
}

static void report_err(parser *p, int line, const ht_err *e)
{
	char buf[HT_ERR_FIELD_MAX + HT_ERR_MSG_MAX + 2];
	report(p, line, "%s", ht_err_str(e, buf, sizeof(buf)));
}

/* Finish the peer section being read: required keys and defaults. */
static void end_peer(parser *p)
{
	conf_peer *cp = p->peer;
	if (p->sec != SEC_PEER || cp == &p->scratch)
		return;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].section != SEC_PEER || p->peer_seen[i])
			continue;
		if (keys[i].flags & KEY_REQUIRED)
			report(p, cp->line, "peer '%s': %s required", cp->name,
			       keys[i].name);
	}
	int cert = key_find("cert", SEC_PEER);
	if (!p->peer_seen[cert]) {
		char def[PATH_MAX];
		ht_err e;
		snprintf(def, sizeof(def), "peers/%s.crt", cp->name);
		if (key_apply(&keys[cert], p->c->dir, def, cp, &e) != 0)
			report_err(p, cp->line, &e);
	}
}

/* True if a "[peer name]" section can join the conf; else reported. */
static bool peer_admissible(parser *p, const char *name)
{
	const conf_peer *dup = conf_peer_find(p->c, name);
	if (!conf_is_node_name(name))
		report(p, p->line,
		       "peer name: must be 1-%d of [a-z0-9._-] "
		       "starting with a letter or digit, got '%.80s'",
		       CONF_MAX_NODE_NAME, name);
	else if (dup != NULL)
		report(p, p->line, "duplicate peer '%s' (first on line %d)",
		       name, dup->line);
	else if (strcmp(name, p->c->name) == 0)
		report(p, p->line, "peer '%s' is this node's own name", name);
	else if (p->c->n_peers < CONF_MAX_PEERS)
		return true;
	else if (!p->too_many_peers) {
		report(p, p->line, "too many peers (max %d)", CONF_MAX_PEERS);
		p->too_many_peers = true;
	}
	return false;
}

/* The slot a new "[peer name]" section fills: the next one in the conf, or
 * the scratch peer when the section cannot be kept, so its keys are still
 * checked. */
static conf_peer *peer_open(parser *p, const char *name)
{
	if (!peer_admissible(p, name)) {
		memset(&p->scratch, 0, sizeof(p->scratch));
		return &p->scratch;
	}
	conf_peer *cp = &p->c->peers[p->c->n_peers++];
	memset(cp, 0, sizeof(*cp));
	memcpy(cp->name, name, strlen(name) + 1); /* checked: <= 64 bytes */
	cp->line = p->line;
	return cp;
}

static void on_section(parser *p, const char *s)
{
	char name[CONF_MAX_LINE + 1];
	ht_err e;
	end_peer(p);
	memset(p->peer_seen, 0, sizeof(p->peer_seen));
	if (section_parse(s, name, &e) != 0) {
		report_err(p, p->line, &e);
		p->sec = SEC_SKIP;
		return;
	}
	p->sec = SEC_PEER;
	p->peer = peer_open(p, name);
}

/* The table index of key in the current section, or -1 (reported). */
static int key_lookup(parser *p, const char *key)
{
	int sec = p->sec == SEC_GLOBAL ? SEC_GLOBAL : SEC_PEER;
	int i = key_find(key, sec);
	if (i >= 0)
		return i;
	if (sec == SEC_GLOBAL && key_find(key, SEC_PEER) >= 0)
		report(p, p->line, "'%s' belongs in a [peer] section", key);
	else if (sec == SEC_PEER && key_find(key, SEC_GLOBAL) >= 0)
		report(p, p->line,
		       "'%s' is a global key; set it before the first [peer]",
		       key);
	else
		report(p, p->line, "unknown key '%.80s'", key);
	return -1;
}

static void on_assignment(parser *p, char *s)
{
	char val[CONF_MAX_LINE + 1];
	char *kend = s + strcspn(s, " \t="), *eq = skip_blanks(kend);
	if (kend == s) {
		report(p, p->line, "missing key before '='");
		return;
	}
	bool has_eq = *eq == '=';
	*kend = '\0'; /* may be the '=' itself */
	if (!has_eq) {
		report(p, p->line, "missing '=' after '%.80s'", s);
		return;
	}
	int i = p->sec == SEC_SKIP ? -1 : key_lookup(p, s);
	if (i < 0)
		return;
	const char *why = value_parse(eq + 1, val);
	int *seen = p->sec == SEC_GLOBAL ? p->seen : p->peer_seen;
	void *base = p->sec == SEC_GLOBAL ? (void *)p->c : (void *)p->peer;
	ht_err e;
	if (why != NULL)
		report(p, p->line, "%s: %s", s, why);
	else if (seen[i] != 0)
		report(p, p->line, "duplicate key '%s' (first set on line %d)",
		       s, seen[i]);
	else if (key_apply(&keys[i], p->c->dir, val, base, &e) != 0)
		report_err(p, p->line, &e);
	if (seen[i] == 0)
		seen[i] = p->line;
}

static void parse_line(parser *p, char *s)
{
	s = skip_blanks(s);
	if (*s == '\0' || *s == '#')
		return;
	if (*s == '[')
		on_section(p, s);
	else
		on_assignment(p, s);
}

static void parse_text(parser *p, const char *text, size_t len)
{
	char line[CONF_MAX_LINE + 1], why[64];
	size_t pos = 0;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - pos;
		const char *bad;
		pos += n + (nl != NULL);
		p->line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		bad = line_problem(s, n, why, sizeof(why));
		if (bad != NULL) {
			report(p, p->line, "%s", bad);
			continue;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		parse_line(p, line);
	}
}

/* End of file: the last peer, then required keys and defaults. */
static void parse_finish(parser *p)
{
	ht_err e;
	end_peer(p);
	for (size_t i = 0; i < N_KEYS; i++) {
		const conf_key *k = &keys[i];
		if (k->section != SEC_GLOBAL || p->seen[i])
			continue;
		if (k->flags & KEY_REQUIRED)
			report(p, 0, "%s: required", k->name);
		else if (k->def != NULL &&
			 key_apply(k, p->c->dir, k->def, p->c, &e) != 0)
			report_err(p, 0, &e);
	}
}

/* Absolute path of the file and its directory, from the caller's name. */
static int conf_set_path(conf *c, const char *path)
{
	char cwd[PATH_MAX];
	if (path[0] == '\0')
		return HT_EINVAL;
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
		return HT_EIO;
	if (util_path_join(path[0] == '/' ? NULL : cwd, path, c->path,
			   sizeof(c->path)) != 0)
		return HT_ELIMIT;
	char *slash = strrchr(c->path, '/');
	size_t dn = slash == c->path ? 1 : (size_t)(slash - c->path);
	memcpy(c->dir, c->path, dn);
	c->dir[dn] = '\0';
	return 0;
}

conf *conf_parse(const char *path, const char *text, size_t len,
		 conf_report_fn fn, void *ctx)
{
	parser *p = calloc(1, sizeof(*p));
	conf *c = calloc(1, sizeof(*c)), *result = NULL;
	if (p == NULL || c == NULL) {
		char msg[PATH_MAX + 32];
		snprintf(msg, sizeof(msg), "%s: out of memory", path);
		if (fn != NULL)
			fn(ctx, msg);
		goto out;
	}
	*p = (parser){.c = c, .file = path, .fn = fn, .ctx = ctx};
	if (conf_set_path(c, path) != 0) {
		report(p, 0, "cannot resolve the config path");
		goto out;
	}
	parse_text(p, text, len);
	parse_finish(p);
	if (p->n_errors == 0) {
		result = c;
		c = NULL;
	}
out:
	free(p);
	conf_free(&c);
	return result;
}

conf *conf_load(const char *path, conf_report_fn fn, void *ctx)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	ht_err e;
	char msg[HT_ERR_FIELD_MAX + HT_ERR_MSG_MAX + 2];
	if (util_read_file(path, CONF_MAX_FILE, &buf, &len, &e) != 0) {
		if (fn != NULL)
			fn(ctx, ht_err_str(&e, msg, sizeof(msg)));
		return NULL;
	}
	conf *c = conf_parse(path, (const char *)buf, len, fn, ctx);
	free(buf);
	return c;
}

void conf_free(conf **c)
{
	if (c == NULL || *c == NULL)
		return;
	free(*c);
	*c = NULL;
}

const conf_peer *conf_peer_find(const conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_peers; i++)
		if (strcmp(c->peers[i].name, name) == 0)
			return &c->peers[i];
	return NULL;
}

/* ---- output ---------------------------------------------------------- */

static void dump_section(FILE *f, int section, const void *base)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].section != section)
			continue;
		put_kv(f, keys[i].name,
		       keys[i].show((const char *)base + keys[i].off));
		fputc('\n', f);
	}
}

/* Close a memory stream, returning its buffer (which only fclose makes
 * final) or NULL on any failure. */
static char *memstream_done(FILE *f, char **buf)
{
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad) {
		free(*buf);
		*buf = NULL;
	}
	return *buf;
}

char *conf_dump(const conf *c)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (f == NULL)
		return NULL;
	dump_section(f, SEC_GLOBAL, c);
	for (size_t i = 0; i < c->n_peers; i++) {
		fprintf(f, "\n[peer %s]\n", c->peers[i].name);
		dump_section(f, SEC_PEER, &c->peers[i]);
	}
	return memstream_done(f, &buf);
}

/* "key = value" padded to HELP_COLUMN, then "# help". */
static void put_documented(FILE *f, const char *prefix, const conf_key *k,
			   const char *val)
{
	long start = ftell(f);
	fputs(prefix, f);
	put_kv(f, k->name, val);
	long width = ftell(f) - start;
	fprintf(f, "%*s# %s\n",
		width < HELP_COLUMN ? (int)(HELP_COLUMN - width) : 1, "",
		k->help);
}

static const char default_intro[] =
    "#\n"
    "# \"key = value\" lines, then a \"[peer NAME]\" section per neighbour.\n"
    "# A line whose first non-blank is '#' is a comment; in a value, a\n"
    "# '#' at its start or after a blank starts one. To keep a '#', quote\n"
    "# the value: \"a # b\" (escapes: \\\" and \\\\). Relative paths are\n"
    "# relative to this file's directory.\n\n";

static char *default_text(const char *name, const char *region,
			  const char *listen)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (f == NULL)
		return NULL;
	fprintf(f, "# hutongd configuration for node %s\n", name);
	fputs(default_intro, f);
	for (size_t i = 0; i < N_KEYS; i++) {
		const conf_key *k = &keys[i];
		const char *v = k->example ? k->example : k->def;
		if (k->section != SEC_GLOBAL)
			continue;
		if (strcmp(k->name, "name") == 0)
			v = name;
		else if (strcmp(k->name, "region") == 0)
			v = region;
		else if (strcmp(k->name, "listen") == 0)
			v = listen;
		put_documented(f, "", k, v);
	}
	fputs(
	    "\n# One section per neighbour (`hutong peer add` writes them):\n",
	    f);
	fputs("# [peer changsha]\n", f);
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].section == SEC_PEER)
			put_documented(f, "# ", &keys[i], keys[i].example);
	return memstream_done(f, &buf);
}

static void first_error_fn(void *ctx, const char *line)
{
	first_error *fe = ctx;
	if (fe->n++ == 0)
		ht_err_set(fe->err, HT_EINVAL, "", "%s", line);
}

/* 0 if text parses as the config at path; else HT_EINVAL with the first
 * problem (and how many more) in err. */
static int check_text(const char *path, const char *text, size_t len,
		      ht_err *err)
{
	ht_err first;
	first_error fe = {&first, 0};
	conf *c = conf_parse(path, text, len, first_error_fn, &fe);
	if (c != NULL) {
		conf_free(&c);
		return 0;
	}
	if (fe.n > 1)
		return ht_err_set(err, HT_EINVAL, "", "%.400s (and %d more)",
				  first.msg, fe.n - 1);
	return ht_err_set(err, HT_EINVAL, "", "%s",
			  fe.n ? first.msg : "does not parse");
}

int conf_write_default(const char *path, const char *name, const char *region,
		       const char *listen, ht_err *err)
{
	int rc;
	char *text = NULL;
	if (listen == NULL)
		listen = "";
	if (!conf_is_node_name(name))
		return ht_err_set(err, HT_EINVAL, "name",
				  "must be 1-%d of [a-z0-9._-] starting with a "
				  "letter or digit, got '%.80s'",
				  CONF_MAX_NODE_NAME, name);
	if ((rc = util_check_region(region, "region", err)) != 0)
		return rc;
	if (listen[0] != '\0' &&
	    (rc = check_endpoint("listen", listen, true, err)) != 0)
		return rc;
	if ((text = default_text(name, region, listen)) == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	if ((rc = check_text(path, text, strlen(text), err)) != 0)
		goto out;
	rc = util_write_file(path, text, strlen(text), 0644, true, err);
out:
	free(text);
	return rc;
}

/* ---- editing peer sections in place ---------------------------------- */

enum { LK_BLANK, LK_COMMENT, LK_SECTION, LK_OTHER };

typedef struct tline {
	size_t off, len; /* len includes the line end */
	int kind;
	bool match; /* a "[peer NAME]" header for the name sought */
} tline;

static void line_classify(tline *t, const char *s, const char *name)
{
	char buf[CONF_MAX_LINE + 1], found[CONF_MAX_LINE + 1];
	size_t n = t->len;
	ht_err e;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n > CONF_MAX_LINE || memchr(s, '\0', n) != NULL) {
		t->kind = LK_OTHER;
		return;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	const char *p = skip_blanks(buf);
	t->kind = *p == '\0'  ? LK_BLANK
		  : *p == '#' ? LK_COMMENT
		  : *p == '[' ? LK_SECTION
			      : LK_OTHER;
	t->match = t->kind == LK_SECTION && section_parse(p, found, &e) == 0 &&
		   strcmp(found, name) == 0;
}

/* Split text into classified lines (caller frees); NULL on no memory. */
static tline *lines_split(const char *text, size_t len, const char *name,
			  size_t *count)
{
	size_t n = 0, cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	tline *L = calloc(cap, sizeof(*L));
	for (size_t pos = 0; L != NULL && pos < len; n++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		L[n].off = pos;
		L[n].len = nl ? (size_t)(nl - (text + pos)) + 1 : len - pos;
		line_classify(&L[n], text + pos, name);
		pos += L[n].len;
	}
	*count = n;
	return L;
}

/* The lines [*start, *end) that make up the section headed at h. */
static void peer_block(const tline *L, size_t n, size_t h, size_t *start,
		       size_t *end)
{
	size_t s = h, e, next, j;
	while (s > 0 && L[s - 1].kind == LK_COMMENT)
		s--;
	if (s > 0 && L[s - 1].kind != LK_BLANK)
		s = h; /* those comments end the section above */
	for (next = h + 1; next < n && L[next].kind != LK_SECTION; next++)
		;
	for (j = next; j > h + 1 && L[j - 1].kind == LK_COMMENT; j--)
		;
	e = (next < n && j < next && L[j - 1].kind == LK_BLANK) ? j : next;
	while (e > h + 1 && L[e - 1].kind == LK_BLANK)
		e--;
	for (j = e; j < n && L[j].kind == LK_BLANK; j++)
		;
	if (j == n) { /* last in the file: take the blanks before it too */
		while (s > 0 && L[s - 1].kind == LK_BLANK)
			s--;
		e = n;
	} else if (s == 0 || L[s - 1].kind == LK_BLANK) {
		e = j; /* no double blank where the block was */
	}
	*start = s;
	*end = e;
}

/* Read path; with name, its lines and the index of its header (n if
 * absent). */
static int edit_begin(const char *path, const char *name, char **text,
		      size_t *len, tline **L, size_t *n, size_t *h, ht_err *err)
{
	uint8_t *buf = NULL;
	int rc = util_read_file(path, CONF_MAX_FILE, &buf, len, err);
	if (rc != 0)
		return rc;
	*text = (char *)buf;
	*L = lines_split(*text, *len, name, n);
	if (*L == NULL)
		return ht_err_set(err, HT_ENOMEM, "", "out of memory");
	for (*h = 0; *h < *n && !(*L)[*h].match; (*h)++)
		;
	return 0;
}

/* Check new text, then replace path with it, keeping the file's mode. */
static int edit_commit(const char *path, const char *text, size_t len,
		       ht_err *err)
{
	struct stat st;
	int rc = check_text(path, text, len, err);
	if (rc != 0)
		return rc;
	if (stat(path, &st) != 0)
		return ht_err_set(err, HT_EIO, "", "%s: cannot stat", path);
	return util_write_file(path, text, len, (int)(st.st_mode & 07777),
			       false, err);
}

static int check_peer_args(const char *name, const char *endpoint,
			   const char *cert, ht_err *err)
{
	if (!conf_is_node_name(name))
		return ht_err_set(err, HT_EINVAL, "name",
				  "must be 1-%d of [a-z0-9._-] starting with a "
				  "letter or digit, got '%.80s'",
				  CONF_MAX_NODE_NAME, name);
	int rc = check_endpoint("endpoint", endpoint, false, err);
	if (rc != 0)
		return rc;
	char why[64];
	if (cert != NULL &&
	    (cert[0] == '\0' ||
	     line_problem(cert, strlen(cert), why, sizeof(why)) != NULL))
		return ht_err_set(err, HT_EINVAL, "cert",
				  "must be a non-empty line of text");
	return 0;
}

/* text, a blank line, and a "[peer name]" section; its length in *out_len.
 * NULL on no memory. */
static char *append_peer(const char *text, size_t len, const char *name,
			 const char *endpoint, const char *cert,
			 size_t *out_len)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	if (f == NULL)
		return NULL;
	fwrite(text, 1, len, f);
	if (len > 0 && text[len - 1] != '\n')
		fputc('\n', f);
	if (len > 0 && !(len >= 2 && memcmp(text + len - 2, "\n\n", 2) == 0))
		fputc('\n', f);
	fprintf(f, "[peer %s]\n", name);
	put_kv(f, "endpoint", endpoint);
	fputc('\n', f);
	if (cert != NULL) {
		put_kv(f, "cert", cert);
		fputc('\n', f);
	}
	if (memstream_done(f, &out) != NULL)
		*out_len = size;
	return out;
}

int conf_file_add_peer(const char *path, const char *name, const char *endpoint,
		       const char *cert, ht_err *err)
{
	char *text = NULL, *out = NULL;
	size_t len = 0, n = 0, h = 0, size = 0;
	tline *L = NULL;
	int rc = check_peer_args(name, endpoint, cert, err);
	if (rc != 0 ||
	    (rc = edit_begin(path, name, &text, &len, &L, &n, &h, err)) != 0)
		goto out;
	if (h < n) {
		rc = ht_err_set(err, HT_EEXIST, "name",
				"peer '%s' is already in %s (line %zu)", name,
				path, h + 1);
		goto out;
	}
	if ((out = append_peer(text, len, name, endpoint, cert, &size)) == NULL)
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
	else
		rc = edit_commit(path, out, size, err);
out:
	free(L);
	free(text);
	free(out);
	return rc;
}

int conf_file_remove_peer(const char *path, const char *name, ht_err *err)
{
	char *text = NULL, *out = NULL;
	size_t len = 0, n = 0, h = 0, s, e;
	tline *L = NULL;
	int rc = edit_begin(path, name, &text, &len, &L, &n, &h, err);
	if (rc != 0)
		goto out;
	if (h == n) {
		rc = ht_err_set(err, HT_ENOTFOUND, "name", "no [peer %s] in %s",
				name, path);
		goto out;
	}
	peer_block(L, n, h, &s, &e);
	size_t cut = L[s].off, resume = e < n ? L[e].off : len;
	if ((out = malloc(len - (resume - cut) + 1)) == NULL) {
		rc = ht_err_set(err, HT_ENOMEM, "", "out of memory");
		goto out;
	}
	memcpy(out, text, cut);
	memcpy(out + cut, text + resume, len - resume);
	rc = edit_commit(path, out, cut + len - resume, err);
out:
	free(L);
	free(text);
	free(out);
	return rc;
}
