/*
 * test_conf: the config module's self-test.
 *
 * Golden files first, bgpd-regress style: each tests/data/conf/NAME.conf is
 * parsed as if it were /etc/hutong/hutongd.conf (so resolved paths are the
 * same on every machine) and must give exactly NAME.out, the normalized dump,
 * or NAME.err, the error list, one report a line. A dump must also parse back
 * to itself. HUTONG_REGEN=1 rewrites the expectations from the current code;
 * review the diff before committing it.
 *
 * Then what golden files show badly: limits (long lines, NUL, peer count,
 * error count), the relative config path, the default file written for a new
 * node (compared with tests/data/conf/default.txt), and peer sections added
 * and removed in place.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "util.h"

#define FAKE_PATH "/etc/hutong/hutongd.conf"
#define GOLDEN_DIR TEST_DATA_DIR "/conf"

/* Reports collected one a line. */
typedef struct lines {
	char *s;
	size_t len;
	int n;
} lines;

static void collect(void *ctx, const char *line)
{
	lines *l = ctx;
	size_t n = strlen(line);
	char *s = realloc(l->s, l->len + n + 2);
	if (s == NULL)
		abort(); /* a test harness may */
	memcpy(s + l->len, line, n);
	s[l->len + n] = '\n';
	s[l->len + n + 1] = '\0';
	l->s = s;
	l->len += n + 1;
	l->n++;
}

static void lines_reset(lines *l)
{
	free(l->s);
	*l = (lines){0};
}

/* The file's bytes (NUL-terminated) or NULL when it does not exist. */
static char *slurp(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	if (util_read_file(path, CONF_MAX_FILE, &buf, &n, NULL) != 0)
		return NULL;
	if (len != NULL)
		*len = n;
	return (char *)buf;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	CHECK(fclose(f) == 0);
}

/* Compare got with the expectation file, or rewrite it under REGEN. */
static void expect_file(const char *path, const char *got)
{
	if (getenv("HUTONG_REGEN") != NULL) {
		spit(path, got);
		return;
	}
	char *want = slurp(path, NULL);
	CHECK(want != NULL);
	if (want != NULL && strcmp(want, got) != 0) {
		fprintf(stderr, "--- %s expected:\n%s--- got:\n%s---\n", path,
			want, got);
		CHECK(!"golden mismatch");
	}
	free(want);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A dump must read back as the same config. */
static void check_round_trip(const char *dump)
{
	lines errs = {0};
	conf *c = conf_parse(FAKE_PATH, dump, strlen(dump), collect, &errs);
	CHECK(c != NULL);
	char *again = c ? conf_dump(c) : NULL;
	CHECK_STR(again, dump);
	if (errs.s != NULL)
		fprintf(stderr, "round trip:\n%s", errs.s);
	free(again);
	conf_free(&c);
	lines_reset(&errs);
}

static void golden_one(const char *base)
{
	char in[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	size_t len = 0;
	lines errs = {0};
	snprintf(in, sizeof(in), "%s/%s.conf", GOLDEN_DIR, base);
	snprintf(out, sizeof(out), "%s/%s.out", GOLDEN_DIR, base);
	snprintf(err, sizeof(err), "%s/%s.err", GOLDEN_DIR, base);
	char *text = slurp(in, &len);
	CHECK(text != NULL);
	conf *c = conf_parse(FAKE_PATH, text ? text : "", len, collect, &errs);
	bool regen = getenv("HUTONG_REGEN") != NULL;
	if (c != NULL) {
		char *dump = conf_dump(c);
		CHECK(dump != NULL);
		CHECK(regen || access(out, F_OK) == 0);
		expect_file(out, dump ? dump : "");
		if (dump != NULL)
			check_round_trip(dump);
		free(dump);
	} else {
		CHECK(errs.n > 0);
		CHECK(regen || access(err, F_OK) == 0);
		expect_file(err, errs.s ? errs.s : "");
	}
	conf_free(&c);
	lines_reset(&errs);
	free(text);
}

static int is_conf(const struct dirent *d)
{
	return has_suffix(d->d_name, ".conf");
}

static void test_golden(void)
{
	struct dirent **names = NULL;
	int n = scandir(GOLDEN_DIR, &names, is_conf, alphasort);
	CHECK(n >= 10);
	for (int i = 0; i < n; i++) {
		char base[NAME_MAX + 1];
		size_t bn = strlen(names[i]->d_name) - strlen(".conf");
		memcpy(base, names[i]->d_name, bn);
		base[bn] = '\0';
		golden_one(base);
		free(names[i]);
	}
	free(names);
}

static void test_node_names(void)
{
	static const char *good[] = {"nanjing", "a",	   "0",
				     "xian.1",	"a.b_c-d", "320100-node"};
	static const char *bad[] = {"",	   "Nanjing",	   "-a",
				    ".a",  "_a",	   "a b",
				    "a/b", "\xe5\x8d\x97", "a\n"};
	char max[CONF_MAX_NODE_NAME + 2];
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		CHECK(conf_is_node_name(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK(!conf_is_node_name(bad[i]));
	CHECK(!conf_is_node_name(NULL));
	memset(max, 'n', sizeof(max));
	max[CONF_MAX_NODE_NAME] = '\0';
	CHECK(conf_is_node_name(max));
	max[CONF_MAX_NODE_NAME] = 'n';
	max[CONF_MAX_NODE_NAME + 1] = '\0';
	CHECK(!conf_is_node_name(max));
}

/* Parse text as FAKE_PATH; returns the conf and leaves reports in errs. */
static conf *parse_str(const char *text, size_t len, lines *errs)
{
	return conf_parse(FAKE_PATH, text, len, collect, errs);
}

static void test_line_limits(void)
{
	size_t cap = CONF_MAX_LINE + 64;
	char *text = malloc(cap * 2);
	lines errs = {0};
	CHECK(text != NULL);
	if (text == NULL)
		return;
	/* A comment of exactly CONF_MAX_LINE bytes is fine, one more is not. */
	int n = snprintf(text, cap, "name = a\nregion = 320100\n#");
	memset(text + n, 'x', CONF_MAX_LINE - 1);
	n += CONF_MAX_LINE - 1;
	memcpy(text + n, "\r\n#", 3);
	n += 3;
	memset(text + n, 'y', CONF_MAX_LINE);
	n += CONF_MAX_LINE;
	text[n++] = '\n';
	conf *c = parse_str(text, (size_t)n, &errs);
	CHECK(c == NULL);
	CHECK_STR(errs.s, FAKE_PATH ":4: line too long (max 4096 bytes)\n");
	lines_reset(&errs);
	/* NUL inside a value is an error, not an early end of the file. */
	static const char nul[] = "name = nan\0jing\nregion = 320100\nkey = a";
	c = parse_str(nul, sizeof(nul) - 1, &errs);
	CHECK(c == NULL);
	CHECK_STR(errs.s,
		  FAKE_PATH ":1: NUL byte\n" FAKE_PATH ": name: required\n");
	lines_reset(&errs);
	/* The length, not a NUL terminator, bounds the text. */
	c = parse_str("name = a\nregion = 320100\nbogus", 25, &errs);
	CHECK(c != NULL);
	CHECK_EQ_INT(errs.n, 0);
	conf_free(&c);
	lines_reset(&errs);
	free(text);
}

/* name/region and n peers p0..p(n-1). */
static char *peers_text(int n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (f == NULL)
		return NULL;
	fputs("name = hub\nregion = 320100\n", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "[peer p%d]\nendpoint = tcp://127.0.0.1:%d\n", i,
			8000 + i);
	fclose(f);
	return buf;
}

static void test_peer_limits(void)
{
	lines errs = {0};
	char *text = peers_text(CONF_MAX_PEERS);
	conf *c = text ? parse_str(text, strlen(text), &errs) : NULL;
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_EQ_INT(c->n_peers, CONF_MAX_PEERS);
		const conf_peer *p = conf_peer_find(c, "p63");
		CHECK(p != NULL);
		CHECK_STR(p ? p->endpoint : NULL, "tcp://127.0.0.1:8063");
		CHECK_STR(p ? p->cert : NULL, "/etc/hutong/peers/p63.crt");
		CHECK_EQ_INT(p ? p->line : 0, 3 + 2 * 63);
		CHECK(conf_peer_find(c, "p64") == NULL);
	}
	conf_free(&c);
	free(text);
	/* Two too many: one report, at the first section past the limit. */
	text = peers_text(CONF_MAX_PEERS + 2);
	c = text ? parse_str(text, strlen(text), &errs) : NULL;
	CHECK(c == NULL);
	CHECK_STR(errs.s, FAKE_PATH ":131: too many peers (max 64)\n");
	lines_reset(&errs);
	free(text);
}

static void test_error_limit(void)
{
	lines errs = {0};
	size_t n = 2 * CONF_MAX_ERRORS;
	char *text = malloc(n * 4 + 1);
	CHECK(text != NULL);
	if (text == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		memcpy(text + 4 * i, "bad\n", 4);
	conf *c = parse_str(text, n * 4, &errs);
	CHECK(c == NULL);
	CHECK_EQ_INT(errs.n, CONF_MAX_ERRORS + 1);
	CHECK_HAS(errs.s, FAKE_PATH ":100: missing '=' after 'bad'\n" FAKE_PATH
				    ": more than 100 errors; stopping here\n");
	lines_reset(&errs);
	free(text);
}

static void test_relative_path(void)
{
	char cwd[PATH_MAX], want[PATH_MAX + 32];
	lines errs = {0};
	static const char text[] = "name = a\nregion = 320100\n";
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	conf *c = conf_parse("sub/hutongd.conf", text, sizeof(text) - 1,
			     collect, &errs);
	CHECK(c != NULL);
	snprintf(want, sizeof(want), "%s/sub/node.key", cwd);
	CHECK_STR(c ? c->key : NULL, want);
	snprintf(want, sizeof(want), "%s/sub/hutongd.conf", cwd);
	CHECK_STR(c ? c->path : NULL, want);
	conf_free(&c);
	c = conf_parse("/hutongd.conf", text, sizeof(text) - 1, collect, &errs);
	CHECK_STR(c ? c->dir : NULL, "/");
	conf_free(&c);
	CHECK_EQ_INT(errs.n, 0);
	lines_reset(&errs);
	/* Nothing to report to is allowed. */
	CHECK(conf_parse(FAKE_PATH, "x", 1, NULL, NULL) == NULL);
	conf_free(&c); /* NULL is fine */
	conf_free(NULL);
}

static void test_write_default(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	ht_err err;
	lines errs = {0};
	snprintf(path, sizeof(path), "%s/hutongd.conf", dir);
	CHECK_EQ_INT(conf_write_default(path, "nanjing", "320100",
					"tcp://127.0.0.1:7401", &err),
		     0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);
	char *text = slurp(path, NULL);
	if (text != NULL)
		expect_file(GOLDEN_DIR "/default.txt", text);
	free(text);
	conf *c = conf_load(path, collect, &errs);
	CHECK(c != NULL);
	CHECK_STR(c ? c->name : NULL, "nanjing");
	CHECK_STR(c ? c->region : NULL, "320100");
	CHECK_STR(c ? c->listen : NULL, "tcp://127.0.0.1:7401");
	CHECK_EQ_INT(c ? c->n_peers : 1, 0);
	CHECK_EQ_INT(c ? c->log_level : -1, LOG_INFO);
	conf_free(&c);
	CHECK_EQ_INT(conf_write_default(path, "nanjing", "320100", NULL, &err),
		     HT_EEXIST);
	snprintf(path, sizeof(path), "%s/other.conf", dir);
	CHECK_EQ_INT(conf_write_default(path, "Nanjing", "320100", NULL, &err),
		     HT_EINVAL);
	CHECK_STR(err.field, "name");
	CHECK_EQ_INT(conf_write_default(path, "nanjing", "32", NULL, &err),
		     HT_EINVAL);
	CHECK_STR(err.field, "region");
	CHECK_STR(err.msg, "must be six digits, got '32'");
	CHECK_EQ_INT(
	    conf_write_default(path, "nanjing", "320100", "tcp://x", &err),
	    HT_EINVAL);
	CHECK_STR(err.field, "listen");
	CHECK(access(path, F_OK) != 0);
	CHECK_EQ_INT(conf_write_default(path, "xian", "610100", NULL, &err), 0);
	c = conf_load(path, collect, &errs);
	CHECK_STR(c ? c->listen : NULL, "");
	conf_free(&c);
	CHECK_EQ_INT(errs.n, 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	CHECK(conf_load(path, collect, &errs) == NULL);
	CHECK_EQ_INT(errs.n, 1);
	CHECK_HAS(errs.s, "missing.conf: No such file or directory");
	lines_reset(&errs);
}

static const char edit_base[] = "# header comment\n"
				"name = nanjing\n"
				"region = 320100   # keep me\n"
				"\n"
				"# Changsha bureau, duty desk 0731\n"
				"[peer changsha]\n"
				"endpoint = tcp://127.0.0.1:7402\n"
				"# an old endpoint: tcp://127.0.0.1:7000\n"
				"cert = peers/changsha.crt\n"
				"\n"
				"# Nanchang, on trial\n"
				"[peer nanchang]\n"
				"endpoint = tcp://127.0.0.1:7403\n";

/* edit_base with changsha removed, as conf_file_remove_peer must give. */
static const char edit_without_changsha[] = "# header comment\n"
					    "name = nanjing\n"
					    "region = 320100   # keep me\n"
					    "\n"
					    "# Nanchang, on trial\n"
					    "[peer nanchang]\n"
					    "endpoint = tcp://127.0.0.1:7403\n";

static void check_file(const char *path, const char *want)
{
	char *got = slurp(path, NULL);
	CHECK_STR(got, want);
	free(got);
}

static void test_peer_edit_errors(const char *path)
{
	ht_err err;
	char *before = slurp(path, NULL);
	CHECK_EQ_INT(
	    conf_file_add_peer(path, "changsha", "tcp://h:1", NULL, &err),
	    HT_EEXIST);
	CHECK_EQ_INT(conf_file_add_peer(path, "xian", "ipc:///x", NULL, &err),
		     HT_EINVAL);
	CHECK_STR(err.field, "endpoint");
	CHECK_EQ_INT(conf_file_add_peer(path, "Xian", "tcp://h:1", NULL, &err),
		     HT_EINVAL);
	CHECK_STR(err.field, "name");
	CHECK_EQ_INT(
	    conf_file_add_peer(path, "xian", "tcp://h:1", "a\nb", &err),
	    HT_EINVAL);
	CHECK_STR(err.field, "cert");
	/* Valid arguments, invalid result: the file is left alone. */
	CHECK_EQ_INT(
	    conf_file_add_peer(path, "nanjing", "tcp://h:1", NULL, &err),
	    HT_EINVAL);
	CHECK_HAS(err.msg, "peer 'nanjing' is this node's own name");
	CHECK_EQ_INT(conf_file_remove_peer(path, "xian", &err), HT_ENOTFOUND);
	check_file(path, before);
	free(before);
}

static void test_peer_edit(const char *dir)
{
	char path[PATH_MAX], want[sizeof(edit_base) + 256];
	struct stat st;
	ht_err err;
	snprintf(path, sizeof(path), "%s/edit.conf", dir);
	spit(path, edit_base);
	CHECK(chmod(path, 0640) == 0);
	test_peer_edit_errors(path);
	CHECK_EQ_INT(conf_file_add_peer(path, "xian", "tcp://[::1]:7404",
					"certs/xian #2.crt", &err),
		     0);
	snprintf(want, sizeof(want),
		 "%s\n[peer xian]\n"
		 "endpoint = tcp://[::1]:7404\n"
		 "cert = \"certs/xian #2.crt\"\n",
		 edit_base);
	check_file(path, want);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
	lines errs = {0};
	conf *c = conf_load(path, collect, &errs);
	const conf_peer *p = c ? conf_peer_find(c, "xian") : NULL;
	char cert[PATH_MAX + 32];
	snprintf(cert, sizeof(cert), "%s/certs/xian #2.crt", dir);
	CHECK_STR(p ? p->cert : NULL, cert);
	conf_free(&c);
	lines_reset(&errs);
	/* Removing what was added gives back the original bytes. */
	CHECK_EQ_INT(conf_file_remove_peer(path, "xian", &err), 0);
	check_file(path, edit_base);
	CHECK_EQ_INT(conf_file_remove_peer(path, "changsha", &err), 0);
	check_file(path, edit_without_changsha);
	CHECK_EQ_INT(conf_file_remove_peer(path, "nanchang", &err), 0);
	check_file(path, "# header comment\nname = nanjing\n"
			 "region = 320100   # keep me\n");
	CHECK_EQ_INT(conf_file_add_peer(path, "a", "tcp://h:1", NULL, &err), 0);
	check_file(path, "# header comment\nname = nanjing\n"
			 "region = 320100   # keep me\n\n[peer a]\n"
			 "endpoint = tcp://h:1\n");
	unlink(path);
	CHECK_EQ_INT(conf_file_remove_peer(path, "a", &err), HT_ENOTFOUND);
}

/* Removing a peer that the default file's example comment precedes. */
static void test_peer_edit_default(const char *dir)
{
	char path[PATH_MAX];
	ht_err err;
	snprintf(path, sizeof(path), "%s/default.conf", dir);
	CHECK_EQ_INT(conf_write_default(path, "nanjing", "320100", NULL, &err),
		     0);
	char *orig = slurp(path, NULL);
	CHECK_EQ_INT(conf_file_add_peer(path, "changsha",
					"tcp://127.0.0.1:7402", NULL, &err),
		     0);
	CHECK_EQ_INT(conf_file_add_peer(path, "nanchang",
					"tcp://127.0.0.1:7403", NULL, &err),
		     0);
	CHECK_EQ_INT(conf_file_remove_peer(path, "nanchang", &err), 0);
	CHECK_EQ_INT(conf_file_remove_peer(path, "changsha", &err), 0);
	check_file(path, orig ? orig : "");
	free(orig);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/test_conf.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	test_golden();
	test_node_names();
	test_line_limits();
	test_peer_limits();
	test_error_limit();
	test_relative_path();
	test_write_default(dir);
	test_peer_edit(dir);
	test_peer_edit_default(dir);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/hutongd.conf", dir);
	unlink(path);
	CHECK(rmdir(dir) == 0);
	return check_done("test_conf");
}
