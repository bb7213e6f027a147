/*
 * cmd_status: `hutong status`, the node at a glance: name, region, whether
 * hutongd runs, record count, ledger digest, origins and peers. It asks a
 * running daemon (which adds link state); when none answers it builds the
 * same document from the ledger, opened read-only.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "status.h"

static json_t *status_from_daemon(cli *c)
{
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__StatusRequest sr = HUTONG__STATUS_REQUEST__INIT;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_STATUS;
	req.status = &sr;
	Hutong__ControlReply *rep = NULL;
	json_t *j = NULL;
	if (ctl_call(c->cf->control, &req, 5000, &rep, NULL) == 0 &&
	    rep->code == 0 && rep->json != NULL)
		j = json_loads(rep->json, 0, NULL);
	cli_reply_free(&rep);
	return j;
}

static void origins_text(const json_t *origins)
{
	const char *k;
	json_t *o;
	json_object_foreach((json_t *)origins, k, o)
	{
		printf("  %s  %-16s seq %-8lld head %.16s%s\n", k,
		       json_string_value(json_object_get(o, "node")),
		       (long long)json_integer_value(json_object_get(o, "seq")),
		       json_string_value(json_object_get(o, "head")),
		       json_is_true(json_object_get(o, "forked")) ? "  FORKED"
								  : "");
	}
}

static long long int_of(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* A record the peer keeps refusing: the origin's chain stops there. */
static void refused_text(const json_t *p)
{
	const json_t *last = json_object_get(p, "last_refused");
	if (int_of(p, "refused_by_peer") == 0 || !json_is_object(last))
		return;
	const char *id = json_string_value(json_object_get(last, "id"));
	printf("    refuses %lld record(s); last: origin %s seq %lld id %s\n",
	       int_of(p, "refused_by_peer"),
	       json_string_value(json_object_get(last, "origin")),
	       int_of(last, "seq"), id ? id : "-");
}

static void peer_text(const json_t *p)
{
	const char *seen = json_string_value(json_object_get(p, "last_seen"));
	const char *cert = json_string_value(json_object_get(p, "certificate"));
	bool bad = cert && strcmp(cert, "ok") != 0;
	printf("  %-14s %-6s %-12s last seen %-24s sent %-6lld received "
	       "%-6lld behind %lld%s%s\n",
	       json_string_value(json_object_get(p, "name")),
	       json_string_value(json_object_get(p, "region")) ?: "",
	       json_is_true(json_object_get(p, "connected")) ? "connected"
							     : "disconnected",
	       seen ? seen : "never", int_of(p, "sent"), int_of(p, "received"),
	       int_of(p, "behind"), bad ? "  certificate: " : "",
	       bad ? cert : "");
	refused_text(p);
}

static void status_text(const json_t *j)
{
	printf("node      %s\nregion    %s\nrunning   %s\nrecords   %lld\n"
	       "digest    %s\norigins\n",
	       json_string_value(json_object_get(j, "node")),
	       json_string_value(json_object_get(j, "region")),
	       json_is_true(json_object_get(j, "running")) ? "yes" : "no",
	       int_of(j, "records"),
	       json_string_value(json_object_get(j, "digest")));
	origins_text(json_object_get(j, "origins"));
	size_t i;
	json_t *p;
	printf("peers\n");
	json_array_foreach(json_object_get(j, "peers"), i, p) peer_text(p);
}

static void status_put(json_t *j, bool json)
{
	if (json)
		cli_print_json(j, true);
	else
		status_text(j);
	json_decref(j);
}

/* The daemon is down: the same document from the ledger. */
static int status_run(cli *c, ledger *l, void *ctx, ht_err *err)
{
	const cli_query *q = ctx;
	(void)err;
	status_put(status_json(c->cf->name, c->cf->region, l, false), q->json);
	return 0;
}

static const char status_help[] =
    "usage: hutong -d NODEDIR status [--json]\n\nThe node's name, "
    "region, whether hutongd runs, record count, ledger digest,\n"
    "origins (per region code: seq and head id) and peers. JSON keys:"
    " node, region,\nrunning, records, digest, origins, peers, and "
    "from a running daemon links\nand refusals.\n";

int cmd_status(cli *c, int argc, char **argv)
{
	cli_query q = {0};
	int rc = cli_parse_query(c, argc, argv, &q, status_help);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	json_t *j = status_from_daemon(c);
	if (j == NULL)
		return cli_read(c, status_run, &q);
	status_put(j, q.json);
	return CLI_OK;
}
