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

static int export_row(void *ctx, const record *r, const ledger_meta *m)
{
	cli_query *q = ctx;
	json_t *j = cli_record_json(r, m);
	if (strcmp(q->format, "jsonl") == 0) {
		cli_print_json(j, false);
		json_decref(j);
		return 0;
	}
	static const char *cols[] = {"id", "origin", "node", "seq", "prev",
				     "created", "author", "kind", "scope",
				     "body_hash", "stored", "source", "body"};
	enum { N_COLS = sizeof(cols) / sizeof(cols[0]) };
	char *row[N_COLS];
	for (size_t i = 0; i < N_COLS; i++) {
		json_t *v = json_object_get(j, cols[i]);
		row[i] = json_is_string(v) ? strdup(json_string_value(v))
			 : json_is_null(v) ? strdup("")
			 : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
						 JSON_PRESERVE_ORDER);
	}
	cli_csv_row((const char *const *)row, N_COLS);
	for (size_t i = 0; i < N_COLS; i++)
		free(row[i]);
	json_decref(j);
	return 0;
}

int cmd_export(cli *c, int argc, char **argv)
{
	cli_query q = {0};
	int rc = cli_parse_query(c, argc, argv, &q,
		"usage: hutong -d NODEDIR export --format jsonl|csv [--kind K] "
		"[--origin CODE]\n       [--author ID] [--since T] [--until T]\n\n"
		"Writes every matching record to stdout: jsonl, one object per "
		"line (keys as\n'show --json'), or csv (RFC 4180, header row; the"
		" body column holds the\nbody's JSON).\n");
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (q.format == NULL)
		return cli_usage(c, "--format jsonl|csv is required");
	if (strcmp(q.format, "jsonl") != 0 && strcmp(q.format, "csv") != 0)
		return cli_usage(c, "--format: must be jsonl or csv, got '%s'",
				 q.format);
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	if (strcmp(q.format, "csv") == 0)
		printf("id,origin,node,seq,prev,created,author,kind,scope,"
		       "body_hash,stored,source,body\r\n");
	ht_err err = {0};
	rc = ledger_each(l, &q.f, export_row, &q, &err);
	ledger_close(&l);
	if (fflush(stdout) != 0)
		return cli_fail(c, "write failed");
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}

