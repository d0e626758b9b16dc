/* bbingest flatten */
#include "cli.h"

int cmd_flatten(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_not_implemented("flatten");
}
