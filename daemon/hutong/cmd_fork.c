/*
 * cmd_fork: `hutong fork resolve CODE --keep ID`, the operator's decision
 * after origin CODE forked (see 'hutong audit forks'). It goes through
 * hutongd when one answers (the daemon holds the frontier in memory);
 * otherwise it takes the daemon's pid lock, so that none starts meanwhile,
 * and writes the ledger itself.
 *
 * Exit codes: 0 resolved, 1 refused or failed (reason on stderr), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "util.h"

/* The daemon holds the ledger's frontier in memory: ask it. */
static int resolve_via_daemon(cli *c, const char *origin,
			      const uint8_t keep[RECORD_ID_BYTES], ht_err *err)
{
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__ForkResolveRequest fr = HUTONG__FORK_RESOLVE_REQUEST__INIT;
	fr.origin = (char *)origin;
	fr.keep = (ProtobufCBinaryData){RECORD_ID_BYTES, (uint8_t *)keep};
	req.op_case = HUTONG__CONTROL_REQUEST__OP_FORK_RESOLVE;
	req.fork_resolve = &fr;
	Hutong__ControlReply *rep = NULL;
	int rc = ctl_call(c->cf->control, &req, CTL_TIMEOUT_MS, &rep, err);
	if (rc == 0 && rep->code != 0)
		rc = ht_err_set(err, rep->code, "", "%s", rep->error);
	cli_reply_free(&rep);
	return rc;
}

/* No daemon: take its lock so none starts meanwhile, and write the
 * ledger directly. */
static int resolve_offline(cli *c, const char *origin,
			   const uint8_t keep[RECORD_ID_BYTES], ht_err *err)
{
	int fd = ctl_lock_node(c->cf->dir, false, err);
	if (fd == HT_EEXIST)
		return ht_err_set(err, HT_EUNAVAIL, "",
				  "hutongd holds %s but does"
				  " not answer on %s; try again",
				  c->cf->dir, c->cf->control);
	if (fd < 0)
		return fd;
	ledger *l = ledger_open(c->cf->ledger, LEDGER_RDWR, NULL, err);
	int rc = l ? ledger_fork_resolve(l, origin, keep, err) : HT_EIO;
	ledger_close(&l);
	close(fd);
	return rc;
}

static const char fork_help[] =
    "usage: hutong -d NODEDIR fork resolve CODE --keep ID [--json]\n"
    "\nAfter a fork of origin CODE (two records it signed with one "
    "seq; see\n'hutong audit forks') this node refuses CODE's later "
    "records. An operator\nwho has settled which branch is genuine "
    "resolves it: ID (or a unique prefix of 8+ hex digits) must be\nthis "
    "node's chain record at the forked "
    "seq (the chain is never rewritten; a\nnode that holds the other "
    "branch cannot keep this one). The evidence\nstays, the decision "
    "is logged (audit peers), and CODE's later records are\ntaken "
    "again. Goes through hutongd when it runs.\n";

/* Flags and arguments of `fork resolve`: 0, -1 after help, or a CLI_*
 * code (printed). */
static int parse_resolve(cli *c, int argc, char **argv, cli_opts *o,
			 uint8_t keep[RECORD_ID_BYTES])
{
	int rc = cli_parse_opts(c, argc - 1, argv + 1, "k", fork_help, o);
	if (rc != 0)
		return rc;
	if (o->n_args != 1 || o->keep == NULL)
		return cli_usage(c, "expected 'fork resolve CODE --keep ID'");
	if (cli_parse_region(c, "CODE", o->args[0]) != 0)
		return CLI_USAGE;
	if ((rc = cli_conf(c)) != 0)
		return rc;
	return cli_resolve_id(c, NULL, "--keep", o->keep, keep);
}

static void resolved(const cli_opts *o, const char *via)
{
	if (o->out == CLI_OUT_JSON)
		cli_put_json(json_pack("{s:s, s:s, s:b, s:s}", "origin",
				       o->args[0], "kept", o->keep, "resolved",
				       1, "via", via),
			     true);
	else
		printf(
		    "origin %s: fork resolved, keeping %s; its later records "
		    "are taken again\n(the evidence stays: hutong audit "
		    "forks)\n",
		    o->args[0], o->keep);
}

int cmd_fork(cli *c, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "resolve") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
				  strcmp(argv[1], "-h") == 0)) {
			printf("%s", fork_help);
			return CLI_OK;
		}
		return cli_usage(c, "expected 'fork resolve CODE --keep ID'");
	}
	cli_opts o;
	uint8_t keep[RECORD_ID_BYTES];
	int rc = parse_resolve(c, argc, argv, &o, keep);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	ht_err err = {0};
	const char *via = "hutongd";
	rc = resolve_via_daemon(c, o.args[0], keep, &err);
	if (rc == HT_EUNAVAIL) {
		via = "ledger";
		rc = resolve_offline(c, o.args[0], keep, &err);
	}
	if (rc != 0)
		return cli_fail_err(c, &err);
	resolved(&o, via);
	return CLI_OK;
}
