/* bbingest load */
#include "cli.h"

int cmd_load(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_not_implemented("load");
}
