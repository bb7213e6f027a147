/*
 * cmd_metrics: `hutong metrics`, the running daemon's metrics in the
 * Prometheus text exposition format (docs/metrics.md). Only a running
 * daemon has link state and counters, so there is no offline form.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"

static const char metrics_help[] =
    "usage: hutong -d NODEDIR metrics\n\nThe running daemon's metrics in "
    "the Prometheus text format (0.0.4):\nrecords held by origin and kind, "
    "per peer link state, bytes and records\neach way, refusals, commit "
    "and verify latency histograms, certificate\nand CRL expiry. "
    "docs/metrics.md lists every metric. For node_exporter's\ntextfile "
    "collector set metrics_file in hutongd.conf instead.\n";

int cmd_metrics(cli *c, int argc, char **argv)
{
	if (argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(metrics_help, stdout);
		return CLI_OK;
	}
	if (argc > 1) {
		fprintf(stderr, "hutong: metrics: unexpected argument '%s'\n%s",
			argv[1], metrics_help);
		return CLI_USAGE;
	}
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__MetricsRequest mr = HUTONG__METRICS_REQUEST__INIT;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_METRICS;
	req.metrics = &mr;
	Hutong__ControlReply *rep = NULL;
	ht_err err = {0};
	int rc = ctl_call(c->cf->control, &req, 5000, &rep, &err);
	if (rc != 0)
		fprintf(stderr, "hutong: metrics: %s (is hutongd running?)\n",
			err.msg);
	else if (rep->code != 0)
		fprintf(stderr, "hutong: metrics: %s\n", rep->error);
	else
		fputs(rep->text, stdout);
	int out = rc == 0 && rep->code == 0 ? CLI_OK : CLI_FAIL;
	cli_reply_free(&rep);
	return out;
}
