/* bbingest run */
#include "cli.h"

int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_not_implemented("run");
}
