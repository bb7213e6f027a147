/*
 * hutong: the command line for a bureau's staff, operators and scripts.
 * A table of command groups (wg style); each group parses its own flags.
 * Commands that change the ledger go through hutongd's control socket;
 * commands that read open the ledger read-only, so they work whether or not
 * the daemon runs. The helpers they share are in cli.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static int run_ca(cli *c, int argc, char **argv)
{
	(void)c;
	return cmd_ca(argc, argv);
}

static const cli_cmd commands[] = {
    {"init", cmd_init,
     "init --dir NODEDIR --name NAME --region CODE "
     "[--listen ENDPOINT]",
     "create a node: keys, config, CSR"},
    {"ca", run_ca, "ca init|sign|revoke|crl ...",
     "run a certificate authority (see 'hutong ca --help')"},
    {"submit", cmd_submit,
     "submit intel|repatriation|org|correction "
     "[flags] | submit --json FILE|-",
     "sign and store records"},
    {"list", cmd_list,
     "list [--kind K] [--origin CODE] [--author ID] "
     "[--since T] [--until T] [--limit N] [--json]",
     "list records"},
    {"show", cmd_show, "show ID [--json | --raw]", "show one record"},
    {"status", cmd_status, "status [--json]",
     "node, records, digest, origins, peers"},
    {"metrics", cmd_metrics, "metrics",
     "the daemon's metrics, Prometheus text format"},
    {"verify", cmd_verify, "verify [--json]",
     "re-check every signature and chain link"},
    {"export", cmd_export, "export --format jsonl|csv [filters]",
     "write all records"},
    {"certs", cmd_certs, "certs [--json]",
     "known origins and their certificates"},
    {"rotate", cmd_rotate, "rotate --cert NEW.crt [--key NEW.key]",
     "record a renewed certificate or a new key"},
    {"csr", cmd_csr, "csr --key KEY --out FILE",
     "certificate request for a (new) key"},
    {"peer", cmd_peer, "peer add|remove|list ...",
     "configure neighbours (see 'hutong peer --help')"},
    {"case", cmd_case, "case list|show ... [--json]",
     "repatriation cases (see 'hutong case --help')"},
    {"org", cmd_org, "org list|show|link ... [--json]",
     "fleeing organizations (see 'hutong org --help')"},
    {"alerts", cmd_alerts, "alerts [--json]",
     "alerts concerning this node's region, newest first"},
    {"intel", cmd_intel, "intel list|show ... [--json]",
     "leads with corrections applied (see 'hutong intel --help')"},
    {"views", cmd_views, "views [--json]",
     "digests of the case, organization and lead views"},
    {"audit", cmd_audit,
     "audit record|origin|author|peers|forks ... "
     "[--json | --format csv]",
     "who shared what with whom, and when (see 'hutong audit --help')"},
    {"fork", cmd_fork, "fork resolve CODE --keep ID",
     "an operator's decision after an origin forked"},
    {"stop", cmd_stop, "stop", "ask hutongd to stop"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: hutong [-d NODEDIR] COMMAND [ARGS]\n"
		   "       hutong --version | --help | COMMAND --help\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nUsage of each:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  hutong %s\n", commands[i].usage);
	fprintf(
	    f, "\n  -d, --dir NODEDIR  the node directory (hutong init made it;"
	       " default $HUTONG_DIR)\n"
	       "TIME arguments are RFC 3339 (2026-11-29T08:00:00+08:00 or "
	       "2026-11-29).\nExit status: 0 ok, 1 refused or failed, 2 usage"
	       " error.\n");
}

static const cli_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* The options before COMMAND: -1 to go on with argv[optind], or the exit
 * status. */
static int global_opts(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	int ch;
	/* '+': stop at the command; its flags are its own. */
	while ((ch = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			c->dir = optarg;
			break;
		case 'V':
			printf("hutong %s\n", HUTONG_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	return -1;
}

int main(int argc, char **argv)
{
	cli c = {.dir = getenv("HUTONG_DIR")};
	umask(077); /* keys, configs, exports: this user's only (chmod to share)
		     */
	int rc = global_opts(&c, argc, argv);
	if (rc >= 0)
		return rc;
	const cli_cmd *cmd = find_command(argv[optind]);
	if (cmd == NULL) {
		fprintf(stderr, "hutong: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return CLI_USAGE;
	}
	c.cmd = cmd->name;
	int rest = argc - optind;
	char **args = argv + optind;
	optind = 0; /* reset getopt for the command */
	rc = cmd->fn(&c, rest, args);
	conf_free(&c.cf);
	return c.no_dir ? CLI_USAGE : rc;
}
