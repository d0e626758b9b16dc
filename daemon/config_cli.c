/* config_for_command: the configuration as every command loads it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "util.h"

int config_for_command(cli_ctx *ctx, bool require_api, bool file_optional, bb_config **out)
{
	config_report rep = { 0 };
	bb_config *cfg = NULL;

	*out = NULL;
	if (file_optional && !ctx->config_explicit && access(ctx->config_path, F_OK) < 0 &&
	    errno == ENOENT) {
		log_debug("configuration file %s does not exist; using the defaults", ctx->config_path);
		cfg = config_defaults();
	} else if (config_load(ctx->config_path, require_api, &cfg, &rep) < 0) {
		config_report_print(&rep, stderr);
		config_report_free(&rep);
		return EX_CONFIG;
	}
	config_report_free(&rep);
	if (ctx->conninfo) {
		free(cfg->db_conninfo);
		cfg->db_conninfo = xstrdup(ctx->conninfo);
	}
	log_init("bbingest", cfg->log_level, cfg->log_format);
	*out = cfg;
	return 0;
}
