/*
 * perm: the StrictModes checks of perm.h. One stat per path and per
 * directory above it; the messages name the path and the command that fixes
 * it. Reports go through the caller's function, so the daemon can print
 * them at start, log them on SIGHUP, and --check-config list them.
 */
#include "perm.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PERM_LINE_MAX (2 * PATH_MAX + 128)
#define PERM_SEEN_MAX 32

static int report(perm_report_fn fn, void *ctx, const char *fmt, ...)
    HT_PRINTF(3, 4);

static int report(perm_report_fn fn, void *ctx, const char *fmt, ...)
{
	char line[PERM_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (fn != NULL)
		fn(ctx, line);
	return 1;
}

/* The login name of uid into buf, or "unknown". */
static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || res == NULL)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%s", pw.pw_name);
	return buf;
}

static int check_owner(const char *path, const struct stat *st,
		       perm_report_fn fn, void *ctx)
{
	uid_t me = geteuid();
	if (st->st_uid == 0 || st->st_uid == me)
		return 0;
	char who[64], self[64];
	return report(fn, ctx,
		      "%s: owned by uid %u (%s), not by this user or root; "
		      "check what it holds, then run chown %s %s",
		      path, (unsigned)st->st_uid,
		      user_name(st->st_uid, who, sizeof(who)),
		      user_name(me, self, sizeof(self)), path);
}

/* "group", "others" or "group and others" for the bits of mask in mode,
 * with the chmod letters for them in *who; NULL when none is set. */
static const char *classes(mode_t mode, mode_t g, mode_t o, const char **who)
{
	bool bg = (mode & g) != 0, bo = (mode & o) != 0;
	*who = bg && bo ? "go" : bg ? "g" : "o";
	return bg && bo ? "group and others"
	       : bg	? "group"
	       : bo	? "others"
			: NULL;
}

static int check_writable(const char *path, const struct stat *st,
			  bool sticky_ok, perm_report_fn fn, void *ctx)
{
	const char *who, *by = classes(st->st_mode, S_IWGRP, S_IWOTH, &who);
	if (by == NULL)
		return 0;
	if (sticky_ok && (st->st_mode & S_ISVTX) && st->st_uid == 0)
		return 0;
	return report(fn, ctx, "%s: writable by %s; run chmod %s-w %s", path,
		      by, who, path);
}

static int check_readable(const char *path, const struct stat *st,
			  perm_report_fn fn, void *ctx)
{
	const char *who, *by = classes(st->st_mode, S_IRGRP, S_IROTH, &who);
	if (by == NULL)
		return 0;
	return report(fn, ctx, "%s: readable by %s; run chmod %s-r %s", path,
		      by, who, path);
}

/* Each directory above the resolved path real, up to /. */
static int check_above(const char *real, perm_report_fn fn, void *ctx)
{
	char dir[PATH_MAX];
	int n = 0;
	snprintf(dir, sizeof(dir), "%s", real);
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (slash == NULL || (slash == dir && dir[1] == '\0'))
			break;
		slash[slash == dir ? 1 : 0] = '\0';
		struct stat st;
		if (stat(dir, &st) != 0)
			return n +
			       report(fn, ctx, "%s: %s", dir, strerror(errno));
		n += check_owner(dir, &st, fn, ctx);
		n += check_writable(dir, &st, true, fn, ctx);
	}
	return n;
}

static int check_type(const char *path, const struct stat *st, perm_kind kind,
		      perm_report_fn fn, void *ctx)
{
	if (kind == PERM_DIR)
		return S_ISDIR(st->st_mode)
			   ? 0
			   : report(fn, ctx, "%s: not a directory", path);
	return S_ISREG(st->st_mode)
		   ? 0
		   : report(fn, ctx, "%s: not a regular file", path);
}

/* path as kind; sticky_ok lets a root-owned sticky path itself pass. */
static int check_path(const char *path, perm_kind kind, bool sticky_ok,
		      perm_report_fn fn, void *ctx)
{
	char real[PATH_MAX];
	struct stat st;
	if (realpath(path, real) == NULL || stat(real, &st) != 0)
		return report(fn, ctx, "%s: %s", path,
			      errno == ENOENT ? "does not exist"
					      : strerror(errno));
	int n = check_type(path, &st, kind, fn, ctx);
	n += check_owner(real, &st, fn, ctx);
	n += check_writable(real, &st, sticky_ok, fn, ctx);
	if (kind == PERM_SECRET || kind == PERM_LEDGER)
		n += check_readable(real, &st, fn, ctx);
	return n + check_above(real, fn, ctx);
}

int perm_check(const char *path, perm_kind kind, perm_report_fn fn, void *ctx)
{
	return check_path(path, kind, false, fn, ctx);
}

/* The directory part of path into out ("." when none). */
static void dir_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	char *slash = strrchr(out, '/');
	if (slash == NULL)
		snprintf(out, len, ".");
	else
		slash[slash == out ? 1 : 0] = '\0';
}

int perm_check_parents(const char *path, perm_report_fn fn, void *ctx)
{
	char parent[PATH_MAX];
	dir_of(path, parent, sizeof(parent));
	return check_path(parent, PERM_DIR, true, fn, ctx);
}

/* Reports once each: the same parent directory is above many files. */
typedef struct seen {
	perm_report_fn fn;
	void *ctx;
	size_t n;  /* lines kept */
	int count; /* distinct problems reported */
	char lines[PERM_SEEN_MAX][PATH_MAX / 4];
} seen;

static void report_once(void *ctx, const char *line)
{
	seen *s = ctx;
	for (size_t i = 0; i < s->n; i++)
		if (strncmp(s->lines[i], line, sizeof(s->lines[i]) - 1) == 0)
			return;
	s->count++;
	if (s->n < PERM_SEEN_MAX)
		snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s", line);
	if (s->fn != NULL)
		s->fn(s->ctx, line);
}

/* ledger.db and its -wal and -shm where they exist; the directory always. */
static int check_ledger(const char *ledger, seen *s)
{
	char dir[PATH_MAX], side[PATH_MAX + 8];
	dir_of(ledger, dir, sizeof(dir));
	int n = perm_check(dir, PERM_DIR, report_once, s);
	static const char *const ext[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(side, sizeof(side), "%s%s", ledger, ext[i]);
		if (access(side, F_OK) == 0)
			n += perm_check(side, PERM_LEDGER, report_once, s);
	}
	return n;
}

static int check_alert(const char *prog, unsigned flags, seen *s)
{
	if (prog[0] == '\0')
		return 0;
	bool required = (flags & PERM_ALERT_REQUIRED) != 0;
	if (access(prog, F_OK) != 0) {
		if (!required)
			return 0;
		return report(report_once, s, "%s: on_alert does not exist",
			      prog);
	}
	int n = perm_check(prog, PERM_PROGRAM, report_once, s);
	if (required && access(prog, X_OK) != 0)
		n += report(report_once, s,
			    "%s: on_alert is not executable; run chmod u+x %s",
			    prog, prog);
	return n;
}

int perm_check_conf(const conf *cf, unsigned flags, perm_report_fn fn,
		    void *ctx)
{
	seen *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return report(fn, ctx, "out of memory");
	s->fn = fn;
	s->ctx = ctx;
	perm_check(cf->dir, PERM_DIR, report_once, s);
	perm_check(cf->path, PERM_FILE, report_once, s);
	perm_check(cf->key, PERM_SECRET, report_once, s);
	perm_check(cf->link_key, PERM_SECRET, report_once, s);
	check_ledger(cf->ledger, s);
	check_alert(cf->on_alert, flags, s);
	int n = s->count;
	free(s);
	return n;
}
