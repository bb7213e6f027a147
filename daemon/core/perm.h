/*
 * perm: StrictModes for a node's files, as sshd checks authorized_keys and
 * PostgreSQL its data directory. A file that another local user can change
 * (or, for keys and the ledger, read) is refused before anything uses it:
 * the user who could swap hutongd.conf could make root's hutongd run their
 * on_alert program, and one who could read ledger.db could read every body.
 *
 * The rules, for a path resolved through its symbolic links (realpath):
 *   - it, and every directory above it up to /, is owned by this user or
 *     root, and is not writable by group or others; a directory above it
 *     that is root's and sticky (/tmp) is allowed, since nobody else can
 *     rename or remove what this user owns there;
 *   - the node directory and the ledger's directory themselves get no
 *     sticky exception (others could plant ledger.db-wal there);
 *   - key files and the ledger (ledger.db, -wal, -shm) are also not
 *     readable by group or others;
 *   - on_alert is a regular file; it must exist and be executable only
 *     when PERM_ALERT_REQUIRED is asked (hutongd --check-config).
 * Each problem is one line naming the path, the reason and the fix:
 * "/srv/x/hutongd.conf: writable by group; run chmod g-w /srv/x/hutongd.conf".
 * No sockets, no globals; stat and getpwuid_r only.
 */
#ifndef HT_PERM_H
#define HT_PERM_H

#include <stdbool.h>

#include "conf.h"

typedef enum perm_kind {
	PERM_DIR,     /* node or ledger directory */
	PERM_FILE,    /* the config: not writable by others */
	PERM_SECRET,  /* a key: not readable by others either */
	PERM_LEDGER,  /* ledger.db and its -wal, -shm: like a key */
	PERM_PROGRAM, /* on_alert: a regular file, run as this user */
} perm_kind;

enum { PERM_ALERT_REQUIRED = 1 }; /* on_alert must exist and be executable */

/* Called once per problem with the whole line (no trailing newline). */
typedef void (*perm_report_fn)(void *ctx, const char *problem);

/* Check path (which must exist) as kind, and each directory above it.
 * Returns the number of problems reported through fn (may be NULL); 0 when
 * the path is safe to use. */
int perm_check(const char *path, perm_kind kind, perm_report_fn fn, void *ctx);

/* Check only the directories above path, which itself need not exist
 * (its parent must). For a directory about to be created. Returns the
 * number of problems. */
int perm_check_parents(const char *path, perm_report_fn fn, void *ctx);

/* Every file cf names that another user must not control: the node
 * directory, the config, node.key and link.key, the ledger's directory and
 * the ledger files that exist, and on_alert (skipped when it does not
 * exist, unless flags has PERM_ALERT_REQUIRED). A problem met through
 * several paths (a shared parent directory) is reported once. Returns the
 * number of problems. */
int perm_check_conf(const conf *cf, unsigned flags, perm_report_fn fn,
		    void *ctx);

#endif
