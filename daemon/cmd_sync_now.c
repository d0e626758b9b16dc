/* bbingest sync-now */
#include "cli.h"

int cmd_sync_now(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_not_implemented("sync-now");
}
