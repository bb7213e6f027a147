/*
 * ledger_impl: what the ledger*.c files share and nobody else sees: the
 * ledger struct (the SQLite handle, its prepared statements and the
 * in-memory frontier) and the few helpers more than one of them needs.
 * Only ledger*.c include this header, and with it sqlite3.h.
 *
 * ledger.c owns the struct (open, close, the frontier, append);
 * ledger_query.c, ledger_event.c, ledger_dispute.c and ledger_verify.c
 * read it.
 */
#ifndef HT_LEDGER_IMPL_H
#define HT_LEDGER_IMPL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"

struct ledger {
	sqlite3 *db;
	const ht_clock *clock;
	bool in_tx;
	bool rdonly;
	ledger_origin *origins; /* sorted by region */
	size_t n_origins, cap_origins;
	uint64_t n_records;
	int64_t last_n; /* highest arrival number */
	uint8_t last_arrival[32];
	uint64_t n_bodiless; /* rows of the bodiless table (ledger_body.c) */
	sqlite3_stmt *ins_record, *ins_fork, *upsert_origin, *get_chain,
	    *get_id, *get_fork_id, *range, *ins_term, *ins_receipt,
	    *max_receipt, *ins_event, *bump_event, *ins_key, *key_at,
	    *created_at; /* prepared on first use (ledger_dispute.c) */
	int schema;	 /* version on disk (1: no event chain) */
	char self[HT_REGION_LEN + 1]; /* ledger_set_self; "" = infer */
};

/* Map SQLite failure rc of action `what` to an HT code, set err (disk full
 * and I/O errors say so first) and return the code. l may be NULL. */
int ledger_db_err(ledger *l, int rc, const char *what, ht_err *err);

/* Run sql (no rows); 0 or the mapped error. */
int ledger_exec(ledger *l, const char *sql, ht_err *err);

/* Prepare sql into *st (persistent); 0 or the mapped error. The caller
 * finalizes *st. */
int ledger_prepare(ledger *l, sqlite3_stmt **st, const char *sql, ht_err *err);

/* Step st once expecting SQLITE_DONE, then reset it and clear its
 * bindings; 0 or the mapped error naming `what`. */
int ledger_step_done(ledger *l, sqlite3_stmt *st, const char *what,
		     ht_err *err);

/* Reload the frontier, the record count and the arrival chain's tail
 * from the tables (after open, a rollback, or to start verify). */
int ledger_load_state(ledger *l, ht_err *err);

/* The entry for region in l's sorted frontier array, inserted zeroed when
 * absent; NULL when out of memory. Works on any struct ledger whose
 * origins/n_origins/cap_origins describe such an array (verify keeps one). */
ledger_origin *ledger_origin_insert(ledger *l, const char *region);

/* Copy blob column col into dst when it is exactly len bytes, else zero
 * dst. */
void ledger_copy_blob(uint8_t *dst, size_t len, sqlite3_stmt *st, int col);

/* The arrival chain: SHA-256(prev || n || id || stored_ms || source), with
 * n and stored_ms big-endian, into out. */
void ledger_arrival_hash(const uint8_t prev[32], int64_t n, const uint8_t *id,
			 int64_t stored_ms, const char *source,
			 uint8_t out[32]);

/* Bring a version 1 ledger to version 2 (the event chain column, its
 * rows sealed as they are), then make sure version 2's indexes exist.
 * RDWR only. */
int ledger_history_migrate(ledger *l, ht_err *err);

/* If r is a genesis or rotation, make its key o's current key (installed
 * by r) and return true; otherwise leave o alone and return false. */
bool ledger_install_key(ledger_origin *o, const record *r);

/* Index r's terms (or its receipt coverage) under arrival number n. */
int ledger_index_record(ledger *l, const record *r, int64_t n, ht_err *err);

/* ---- ledger_body.c ---- */

/* On a writable open: list the bodiless records of a ledger written
 * before the bodiless table (once), and count the list. */
int ledger_body_setup(ledger *l, ht_err *err);
/* Rows of the bodiless table now (0 when it does not exist). */
uint64_t ledger_body_count(ledger *l);
/* The chain record at arrival number n was stored without its body. */
int ledger_body_note(ledger *l, int64_t n, ht_err *err);

/* The dispute that entry e of receipt r is, for reason (all borrowed). */
ledger_dispute ledger_dispute_of(const record *r, const Hutong__ReceiptEntry *e,
				 const char *reason);

#endif
