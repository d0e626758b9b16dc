/* bbingest withdraw */
#include "cli.h"

int cmd_withdraw(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_not_implemented("withdraw");
}
