/*
 * cmd_show: `hutong show ID`, one stored record (chain record or fork
 * evidence) as text, as JSON (the keys of cli_record_json), or with --raw
 * as the exact envelope bytes. Reads the ledger read-only.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int write_raw(cli *c, const record *r)
{
	size_t len;
	const uint8_t *b = record_bytes(r, &len);
	if (isatty(STDOUT_FILENO))
		return cli_fail(
		    c, "--raw writes binary; redirect stdout to a file");
	return fwrite(b, 1, len, stdout) == len ? CLI_OK
						: cli_fail(c, "write failed");
}

static void show_text(const record *r, const ledger_meta *m)
{
	json_t *j = cli_record_json(r, m);
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v)
	{
		char reg[CLI_REGION_MAX];
		if (json_is_string(v) && strcmp(k, "origin") == 0)
			printf("%-10s %s\n", k,
			       cli_region(json_string_value(v), reg));
		else if (json_is_string(v))
			printf("%-10s %s\n", k, json_string_value(v));
		else if (json_is_integer(v))
			printf("%-10s %lld\n", k,
			       (long long)json_integer_value(v));
		else if (json_is_null(v))
			printf("%-10s -\n", k);
	}
	json_t *body = json_object_get(j, "body");
	if (json_is_object(body)) {
		char *s =
		    json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("body\n%s\n", s ? s : "");
		free(s);
		cli_note_unknown_regions(body);
	}
	json_decref(j);
}

typedef struct show_args {
	bool json, raw;
	uint8_t id[RECORD_ID_BYTES];
} show_args;

static int show_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const show_args *a = ctx;
	record *r = NULL;
	ledger_meta m;
	int rc = ledger_get(l, a->id, &r, &m, err);
	if (rc != 0)
		return rc;
	if (a->raw)
		rc = write_raw(c, r);
	else if (a->json)
		cli_put_json(cli_record_json(r, &m), true);
	else
		show_text(r, &m);
	record_free(&r);
	return rc;
}

static const char show_help[] =
    "usage: hutong -d NODEDIR show ID [--json | --raw]\n\n"
    "Shows one record (chain or fork evidence) by its "
    "id (64 hex digits,\nor any unique prefix of at least 8)."
    " --raw writes the exact envelope\nbytes to stdout.\n";

/* 0, -1 after printing help, or a CLI_* code. */
static int parse_show(cli *c, int argc, char **argv, show_args *a)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"raw", no_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s", show_help);
			return -1;
		}
		if (opt != 'j' && opt != 'r')
			return cli_usage(c, "bad option");
		*(opt == 'j' ? &a->json : &a->raw) = true;
	}
	if (cli_want_args(c, argc, argv, 1, "one record ID") != 0)
		return CLI_USAGE;
	if (a->json && a->raw)
		return cli_usage(c, "--json and --raw exclude each other");
	return cli_resolve_id(c, NULL, "ID", argv[optind], a->id);
}

int cmd_show(cli *c, int argc, char **argv)
{
	show_args a = {0};
	int rc = parse_show(c, argc, argv, &a);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return cli_read(c, show_run, &a);
}
