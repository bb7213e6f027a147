/*
 * cli: what the hutong commands share (cli.c): the invocation context (node
 * directory, its config), error and usage messages, the read-command
 * prologue (flags, arguments, the ledger opened read-only), the JSON form of
 * a stored record, time text, CSV rows, and submitting records to hutongd.
 * Then the entry point of every command, one cmd_<command>.c each.
 */
#ifndef HT_CLI_H
#define HT_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "conf.h"
#include "control.pb-c.h"
#include "err.h"
#include "ledger.h"
#include "record.h"

/* Exit codes: 0 ok, 1 refused/failed, 2 usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli {
	const char *dir; /* -d NODEDIR (NULL if not given) */
	const char *cmd; /* "submit", "list", ... for messages */
	conf *cf;	 /* loaded by cli_conf */
	bool no_dir;	 /* a command needed -d and had none: exit 2 */
} cli;

typedef struct cli_cmd {
	const char *name;
	int (*fn)(cli *c, int argc, char **argv);
	const char *usage; /* one line */
	const char *help;  /* one line */
} cli_cmd;

/* ---- messages ---- */

/* Print "hutong CMD: msg" to stderr; returns CLI_FAIL. */
int cli_fail(cli *c, const char *fmt, ...) HT_PRINTF(2, 3);
/* Print "hutong CMD: msg" and "try 'hutong CMD --help'"; returns CLI_USAGE. */
int cli_usage(cli *c, const char *fmt, ...) HT_PRINTF(2, 3);
/* Print an ht_err as "hutong CMD: field: msg"; returns CLI_FAIL. */
int cli_fail_err(cli *c, const ht_err *e);

/* ---- the node ---- */

/* Load NODEDIR/hutongd.conf (requires -d). 0 or CLI_* code (printed).
 * Without -d (or HUTONG_DIR) it sets c->no_dir, and main exits 2 (a usage
 * error) whatever code the command returns after it. */
int cli_conf(cli *c);

/* Open the node's ledger read-only; NULL after printing the reason. */
ledger *cli_ledger(cli *c);

/* The body of a read command: l is the node's ledger, open read-only for
 * the call. Returns 0, a negative HT_E* code with err set (cli_read prints
 * it), or a CLI_* code it has printed itself. */
typedef int (*cli_read_fn)(cli *c, ledger *l, void *ctx, ht_err *err);

/* Open the ledger read-only, run fn, close the ledger: the prologue and
 * epilogue of every read command. CLI_OK, or a CLI_* code once the reason
 * is printed. */
int cli_read(cli *c, cli_read_fn fn, void *ctx);

/* ---- arguments ---- */

/* After getopt: 0 when exactly n positional arguments are left at
 * argv[optind..argc), else a usage error (printed): "unexpected argument
 * 'X'" when n is 0, otherwise "expected WHAT". */
int cli_want_args(cli *c, int argc, char **argv, int n, const char *what);

/* A record id argument: 64 hex digits, or a unique prefix of at least
 * LEDGER_PREFIX_MIN (8) hex digits looked up in l (or, when l is NULL, in
 * the node's ledger opened read-only for the call; a full id needs no
 * ledger). what names the argument in messages ("ID", "--keep"). 0 with
 * id set; CLI_USAGE for a malformed argument; CLI_FAIL when the prefix
 * matches no record ("id prefix 'P' matches no record") or several ("id
 * prefix 'P' is ambiguous: ID, ID"), all printed. */
int cli_resolve_id(cli *c, ledger *l, const char *what, const char *arg,
		   uint8_t id[RECORD_ID_BYTES]);

/* Check a six-digit region code argument; what names it in the usage
 * error ("--region: must be six digits, got '32'"). */
int cli_parse_region(cli *c, const char *what, const char *arg);

/* The flags of list, status, verify and export: the record filters, --json,
 * --format (export) and --help. */
typedef struct cli_query {
	ledger_filter f;
	bool json;
	const char *format; /* export: jsonl or csv */
} cli_query;

/* Parse argv into *q (no positional arguments allowed). 0, -1 after
 * printing help, or a CLI_* code (printed). */
int cli_parse_query(cli *c, int argc, char **argv, cli_query *q,
		    const char *help);

/* The output modes of audit and fork. */
typedef enum { CLI_OUT_TEXT, CLI_OUT_JSON, CLI_OUT_CSV } cli_out;

/* The flags of audit and fork: --json, --format text|json|csv, --since,
 * --until, --origin, --keep, --help, then the positional arguments. */
typedef struct cli_opts {
	cli_out out;
	int64_t since, until; /* INT64_MIN / INT64_MAX when not given */
	const char *origin;   /* --origin (author) */
	const char *keep;     /* --keep (fork resolve) */
	char **args;	      /* positional arguments */
	int n_args;
} cli_opts;

/* Parse the flags of a subcommand (argv[0] is its name) into *o; allowed
 * says which of s u o k it takes. 0, -1 after printing help, or a CLI_*
 * code (printed). */
int cli_parse_opts(cli *c, int argc, char **argv, const char *allowed,
		   const char *help, cli_opts *o);

/* ---- output ---- */

/* The JSON object for a stored record: id, origin, node, seq, prev,
 * created, author, ref (only when the record has one), kind, scope, body_hash,
 * stored, source, body (the proto3 JSON mapping of Body, or null when
 * withheld). meta may be NULL. */
json_t *cli_record_json(const record *r, const ledger_meta *meta);

/* Room for a record id in hex. */
#define CLI_HEX_ID (2 * RECORD_ID_BYTES + 1)

/* The record's id in hex, in buf. */
const char *cli_hex_id(const record *r, char buf[CLI_HEX_ID]);

/* Print a JSON value to stdout (indented when pretty) with a newline. */
void cli_print_json(const json_t *j, bool pretty);
/* The same, then release j (which may be NULL: nothing is printed). */
void cli_put_json(json_t *j, bool pretty);

/* Room for a time as cli_time writes it. */
#define CLI_TIME_MAX 40

/* ms since the epoch as RFC 3339 text in buf (util_format_time). */
const char *cli_time(int64_t ms, char buf[CLI_TIME_MAX]);
/* The same as a JSON string. */
json_t *cli_time_json(int64_t ms);

/* Room for a region code as cli_region writes it. */
#define CLI_REGION_MAX 32

/* A region code for people to read: the code itself, or "999999 (unknown
 * region)" for six digits the GB/T 2260 table does not hold (accepted with
 * a warning, since the table changes). Returns buf. */
const char *cli_region(const char *code, char buf[CLI_REGION_MAX]);

/* Print "note       region CODE is not in the GB/T 2260 table (unknown
 * region)" once for each such code among j's string values under keys that
 * name regions (region, *_region, origin, suspected_destinations). */
void cli_note_unknown_regions(const json_t *j);

/* One CSV row of n fields to stdout, RFC 4180: every field quoted, quotes
 * doubled, CRLF at the end; a NULL field is empty. */
void cli_csv_row(const char *const *fields, size_t n);

/* CLI_CSV("a", b, ...): one CSV row of the fields given. */
#define CLI_CSV(...)                                                           \
	do {                                                                   \
		const char *row_[] = {__VA_ARGS__};                            \
		cli_csv_row(row_, sizeof(row_) / sizeof(row_[0]));             \
	} while (0)

/* ---- hutongd ---- */

/* Send n checked submissions to hutongd (the node's control socket) to sign
 * and store; the items stay the caller's. 0 with *reply (the caller frees it
 * with cli_reply_free): reply->code, and reply->results[i] for items[i], say
 * what was stored. Otherwise a CLI_* code after printing why no reply came
 * (e.g. no daemon answers). */
int cli_submit(cli *c, Hutong__Submission **items, size_t n,
	       Hutong__ControlReply **reply);

/* When r holds a stored record's id, print it in hex on stdout and return
 * true; false (nothing printed) when the record was refused. */
bool cli_put_result(const Hutong__SubmitResult *r);

/* Free a reply from hutongd; accepts NULL and sets *reply to NULL. */
void cli_reply_free(Hutong__ControlReply **reply);

/* ---- the commands: hutong COMMAND ARGS (argv[0] is COMMAND) ---- */

int cmd_init(cli *c, int argc, char **argv);
int cmd_submit(cli *c, int argc, char **argv);
int cmd_list(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_status(cli *c, int argc, char **argv);
int cmd_metrics(cli *c, int argc, char **argv);
int cmd_verify(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_stop(cli *c, int argc, char **argv);
int cmd_peer(cli *c, int argc, char **argv);
int cmd_certs(cli *c, int argc, char **argv);
int cmd_csr(cli *c, int argc, char **argv);
int cmd_rotate(cli *c, int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_audit(cli *c, int argc, char **argv);
int cmd_fork(cli *c, int argc, char **argv);
/* The reconciled views (helpers in cli_view.c). */
int cmd_case(cli *c, int argc, char **argv);
int cmd_org(cli *c, int argc, char **argv);
int cmd_alerts(cli *c, int argc, char **argv);
int cmd_intel(cli *c, int argc, char **argv);
int cmd_views(cli *c, int argc, char **argv);

#endif
