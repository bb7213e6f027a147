/*
 * cmd_show: `hutong show ID`, one stored record (chain record or fork
 * evidence) as text, as JSON (the keys of cli_record_json), or with --raw
 * as the exact envelope bytes. Reads the ledger read-only.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

static int write_raw(cli *c, const record *r)
{
	size_t len;
	const uint8_t *b = record_bytes(r, &len);
	if (isatty(STDOUT_FILENO))
		return cli_fail(c, "--raw writes binary; redirect stdout to a file");
	return fwrite(b, 1, len, stdout) == len ? CLI_OK
						: cli_fail(c, "write failed");
}

static void show_text(const record *r, const ledger_meta *m)
{
	json_t *j = cli_record_json(r, m);
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v) {
		if (json_is_string(v))
			printf("%-10s %s\n", k, json_string_value(v));
		else if (json_is_integer(v))
			printf("%-10s %lld\n", k, (long long)json_integer_value(v));
		else if (json_is_null(v))
			printf("%-10s -\n", k);
	}
	json_t *body = json_object_get(j, "body");
	if (json_is_object(body)) {
		char *s = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("body\n%s\n", s ? s : "");
		free(s);
	}
	json_decref(j);
}

int cmd_show(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"raw", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	bool json = false, raw = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'j') json = true;
		else if (opt == 'r') raw = true;
		else if (opt == 'h') {
			printf("usage: hutong -d NODEDIR show ID [--json | --raw]\n\n"
			       "Shows one record (chain or fork evidence) by its "
			       "id (64 hex digits).\n--raw writes the exact "
			       "envelope bytes to stdout.\n");
			return CLI_OK;
		} else return cli_usage(c, "bad option");
	}
	if (optind + 1 != argc)
		return cli_usage(c, "expected one record ID");
	if (json && raw)
		return cli_usage(c, "--json and --raw exclude each other");
	uint8_t id[RECORD_ID_BYTES];
	if (cli_parse_id(c, argv[optind], id) != 0)
		return CLI_USAGE;
	ledger *l = cli_ledger(c);
	if (l == NULL)
		return CLI_FAIL;
	record *r = NULL;
	ledger_meta m;
	ht_err err = {0};
	int rc = ledger_get(l, id, &r, &m, &err);
	ledger_close(&l);
	if (rc != 0)
		return cli_fail_err(c, &err);
	if (raw) {
		rc = write_raw(c, r);
	} else if (json) {
		json_t *j = cli_record_json(r, &m);
		cli_print_json(j, true);
		json_decref(j);
	} else {
		show_text(r, &m);
	}
	record_free(&r);
	return rc;
}

