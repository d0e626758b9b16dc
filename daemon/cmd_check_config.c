/* bbingest check-config */
#include "cli.h"

int cmd_check_config(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_not_implemented("check-config");
}
