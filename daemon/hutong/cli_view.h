/*
 * cli_view: what the view commands (case, org, alerts, intel, views)
 * share: their flags, a table of subcommands, and the pieces of output
 * every view prints alike (times where 0 means "not known", durations,
 * record versions with their corrections, people). The folds themselves
 * are core's view module.
 */
#ifndef HT_CLI_VIEW_H
#define HT_CLI_VIEW_H

#include <jansson.h>
#include <stdbool.h>

#include "cli.h"
#include "view.h"

/* A subcommand: `hutong GROUP NAME ...` runs fn with argv[0] = NAME. */
typedef struct cli_view_sub {
	const char *name;
	int (*fn)(cli *c, int argc, char **argv);
	const char *usage;
} cli_view_sub;

/* The flags of the view commands; each takes --json and --help and some of
 * the others. */
typedef struct cli_view_opts {
	bool json;
	const char *state, *region, *overdue;	 /* case list */
	const char *org, *person, *idno, *phone; /* intel list */
	const char *author, *reason;		 /* org link */
	char **args; /* the positional arguments, spec->n_args of them */
} cli_view_opts;

/* A view command: its flags, its arguments, its help and its body. */
typedef struct cli_view_spec {
	const char *flags; /* short codes of the flags it takes but --json */
	int n_args;	   /* positional arguments */
	const char *what;  /* what they are ("one CASE id"), for the error */
	const char *help;  /* printed by --help */
	cli_read_fn run;   /* for cli_view_main; ctx: the cli_view_opts */
} cli_view_spec;

/* Parse flags and arguments as s says. Returns 0, -1 after printing help,
 * or a CLI_* code (printed). */
int cli_view_parse(cli *c, int argc, char **argv, const cli_view_spec *s,
		   cli_view_opts *o);

/* A whole view command: parse as s says, then s->run with the ledger open
 * read-only (cli_read). */
int cli_view_main(cli *c, int argc, char **argv, const cli_view_spec *s);

/* Run the subcommand argv[1] of group from subs[n]; with no subcommand or
 * --help print their usage lines. */
int cli_view_run(cli *c, const cli_view_sub *subs, size_t n, const char *group,
		 int argc, char **argv);

/* ms as RFC 3339 in buf, or "-" when 0 (not known). */
const char *cli_view_time(int64_t ms, char buf[CLI_TIME_MAX]);
/* A duration as "3d 4h", "2h 5m", "45s" in buf. */
const char *cli_view_dur(int64_t ms, char *buf, size_t len);
/* The system clock now, in ms. */
int64_t cli_view_now(void);
/* ms as a JSON string, or null when 0. */
json_t *cli_view_jtime(int64_t ms);
/* The record's id as a JSON string, or null when r is NULL. */
json_t *cli_view_jid(const record *r);
/* A protobuf message in its proto3 JSON form (bytes in hex), or null. */
json_t *cli_view_msg(const void *m);
/* People as a JSON array of their proto3 JSON form. */
json_t *cli_view_people(const Hutong__Person *const *p, size_t n);
/* "-", "low", "medium", "high", "critical". */
const char *cli_view_level(int level);

/* Add to j the keys of a version: id, origin, node, seq, created, author,
 * retracted, amended_by and corrections. */
void cli_view_put_version(json_t *j, const view_version *v);
/* Print "LABEL name id phone, ..." on one line. */
void cli_view_print_people(const char *label, const Hutong__Person *const *p,
			   size_t n);
/* Print each correction of v on a line starting with indent. */
void cli_view_print_fixes(const view_version *v, const char *indent);

#endif
