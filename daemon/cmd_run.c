/* bbingest run: the daemon */
#include <stdio.h>
#include <sysexits.h>

#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "vault.h"

static const char usage[] =
	"usage: bbingest run [-c FILE] [-d CONNINFO]\n"
	"\n"
	"Runs the daemon: the enrolment listener, scheduled token refresh and the\n"
	"claims sync.  Meant for systemd (Type=notify); logs go to stderr.\n"
	"SIGTERM drains and exits 0, SIGHUP reloads the configuration.\n";

int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
	bb_config *cfg = NULL;
	int rc;

	rc = cli_parse(ctx, argc, argv, NULL, usage);
	if (rc)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc) {
		log_error("run takes no arguments, got \"%.80s\"", ctx->argv[0]);
		return EX_USAGE;
	}
	rc = config_for_command(ctx, true, false, &cfg);
	if (rc != EX_OK)
		return rc;
	log_init("bbingest", cfg->log_level, cfg->log_format);
	{
		char err[1024];
		vault *v = vault_open_key(cfg->vault_key_file, cfg->vault_key_credential,
					  err, sizeof err);

		if (!v) {
			log_error("%s", err);
			config_free(cfg);
			return EX_CONFIG;
		}
		return daemon_run(cfg, ctx->config_path, v);
	}
}
