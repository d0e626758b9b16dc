/*
 * bbingest check-config [-c FILE]: validate the configuration as the daemon
 * would (every key the daemon needs must be there, secret files readable),
 * print every problem as FILE:LINE:COLUMN: message, exit 78 on any.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "config.h"

static const char usage[] =
	"usage: bbingest check-config [-c FILE] [--reference]\n"
	"\n"
	"Validates the configuration file as \"bbingest run\" reads it: unknown keys,\n"
	"types, ranges, required keys, and that the client secret and key files can\n"
	"be read.  Prints every problem as FILE:LINE:COLUMN: message; exits 0 if\n"
	"the file is valid, 78 (EX_CONFIG) otherwise.\n"
	"\n"
	"  -c, --config FILE   file to check (default /etc/bbingest/bbingest.yaml,\n"
	"                      or $BBINGEST_CONFIG)\n"
	"      --reference     print the table of every key (Markdown) and exit\n";

int cmd_check_config(cli_ctx *ctx, int argc, char **argv)
{
	const char *reference = NULL;
	const cli_option opts[] = {
		{ "reference", 0, false, &reference },
		{ NULL, 0, false, NULL },
	};
	config_report rep = { 0 };
	bb_config *cfg = NULL;
	int rc = cli_parse(ctx, argc, argv, opts, usage);

	if (rc != 0)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc > 0) {
		fprintf(stderr, "bbingest: check-config takes no arguments (got \"%s\")\n%s",
			ctx->argv[0], usage);
		return EX_USAGE;
	}
	if (reference) {
		config_write_reference(stdout);
		return EX_OK;
	}
	if (config_load(ctx->config_path, true, &cfg, &rep) < 0) {
		config_report_print(&rep, stderr);
		/* the path as given, cut if absurdly long (it may be hostile) */
		fprintf(stderr, "bbingest: configuration file %.256s%s has %zu problem%s\n",
			ctx->config_path, strlen(ctx->config_path) > 256 ? "..." : "",
			rep.count, rep.count == 1 ? "" : "s");
		config_report_free(&rep);
		return EX_CONFIG;
	}
	config_report_free(&rep);
	config_free(cfg);
	printf("configuration file %s is valid\n", ctx->config_path);
	return EX_OK;
}
