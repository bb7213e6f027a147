/*
 * cmd_stop: `hutong stop`, asks hutongd over the control socket to stop
 * (as SIGTERM does).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"

int cmd_stop(cli *c, int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: hutong -d NODEDIR stop\n\nAsks hutongd to stop "
		       "(as SIGTERM does).\n");
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage(c, "unexpected argument '%s'", argv[1]);
	if (cli_conf(c) != 0)
		return CLI_FAIL;
	Hutong__ControlRequest req = HUTONG__CONTROL_REQUEST__INIT;
	Hutong__StopRequest sr = HUTONG__STOP_REQUEST__INIT;
	req.op_case = HUTONG__CONTROL_REQUEST__OP_STOP;
	req.stop = &sr;
	Hutong__ControlReply *rep = NULL;
	ht_err err = {0};
	int rc = ctl_call(c->cf->control, &req, 5000, &rep, &err);
	cli_reply_free(&rep);
	return rc == 0 ? CLI_OK : cli_fail_err(c, &err);
}
