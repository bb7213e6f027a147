/*
 * cmd_export: `hutong export --format jsonl|csv`, every matching record to
 * stdout: JSON lines with the keys of cli_record_json, or RFC 4180 CSV with
 * a header row (the body column holds the body's JSON). The filters are
 * list's (cli_query).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The CSV columns: the keys of cli_record_json, in its order. */
static const char *const cols[] = {
    "id",   "origin", "node",	   "seq",    "prev",   "created", "author",
    "kind", "scope",  "body_hash", "stored", "source", "body"};

#define N_COLS (sizeof(cols) / sizeof(cols[0]))

/* A column's text: strings as they are, null as empty, others as JSON. */
static char *col_text(const json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_null(v))
		return strdup("");
	return json_dumps(v,
			  JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

static int export_row(void *ctx, const record *r, const ledger_meta *m)
{
	const cli_query *q = ctx;
	json_t *j = cli_record_json(r, m);
	if (strcmp(q->format, "jsonl") == 0) {
		cli_put_json(j, false);
		return 0;
	}
	char *row[N_COLS];
	for (size_t i = 0; i < N_COLS; i++)
		row[i] = col_text(json_object_get(j, cols[i]));
	cli_csv_row((const char *const *)row, N_COLS);
	for (size_t i = 0; i < N_COLS; i++)
		free(row[i]);
	json_decref(j);
	return 0;
}

static int export_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	cli_query *q = ctx;
	if (strcmp(q->format, "csv") == 0) {
		for (size_t i = 0; i < N_COLS; i++)
			printf("%s%s", i ? "," : "", cols[i]);
		printf("\r\n");
	}
	int rc = ledger_each(l, &q->f, export_row, q, err);
	if (fflush(stdout) != 0)
		return cli_fail(c, "write failed");
	return rc;
}

static const char export_help[] =
    "usage: hutong -d NODEDIR export --format jsonl|csv [--kind K] "
    "[--origin CODE]\n       [--author ID] [--since T] [--until T]\n\n"
    "Writes every matching record to stdout: jsonl, one object per "
    "line (keys as\n'show --json'), or csv (RFC 4180, header row; the"
    " body column holds the\nbody's JSON).\n";

int cmd_export(cli *c, int argc, char **argv)
{
	cli_query q = {0};
	int rc = cli_parse_query(c, argc, argv, &q, export_help);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (q.format == NULL)
		return cli_usage(c, "--format jsonl|csv is required");
	if (strcmp(q.format, "jsonl") != 0 && strcmp(q.format, "csv") != 0)
		return cli_usage(c, "--format: must be jsonl or csv, got '%s'",
				 q.format);
	return cli_read(c, export_run, &q);
}
