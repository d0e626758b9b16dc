/* bbingest status */
#include "cli.h"

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_not_implemented("status");
}
