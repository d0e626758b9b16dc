/* bbingest enroll-url */
#include "cli.h"

int cmd_enroll_url(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	return cli_not_implemented("enroll-url");
}
