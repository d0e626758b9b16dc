/* Placeholder: defaults only; the YAML loader replaces this file. */
#include "config.h"

#include <stdlib.h>

#include "util.h"

bb_config *config_defaults(void)
{
	bb_config *c = xcalloc(1, sizeof *c);

	c->api_base_url = xstrdup("https://sandbox.bluebutton.cms.gov");
	c->api_version = xstrdup("v2");
	c->db_conninfo = xstrdup("");
	c->listen_address = xstrdup("127.0.0.1");
	c->listen_port = 8455;
	c->log_level = LOG_INFO;
	return c;
}

int config_load(const char *path, bool require_api, bb_config **out, config_report *report)
{
	(void)path;
	(void)require_api;
	report->messages = NULL;
	report->count = 0;
	*out = NULL;
	return -1;
}

void config_report_free(config_report *report)
{
	for (size_t i = 0; i < report->count; i++)
		free(report->messages[i]);
	free(report->messages);
	report->messages = NULL;
	report->count = 0;
}

void config_free(bb_config *c)
{
	if (!c)
		return;
	free(c->api_base_url);
	free(c->api_version);
	free(c->db_conninfo);
	free(c->listen_address);
	free(c);
}

unsigned config_claim_type_bit(const char *name)
{
	(void)name;
	return 0;
}

const char *config_claim_type_name(unsigned bit)
{
	(void)bit;
	return NULL;
}

#include <sysexits.h>
#include <unistd.h>

#include "cli.h"

int config_for_command(struct cli_ctx *ctx, bool require_api, bool file_optional, bb_config **out)
{
	(void)require_api;
	if (file_optional && !ctx->config_explicit && access(ctx->config_path, F_OK) != 0) {
		*out = config_defaults();
	} else {
		log_error("%s: the configuration loader is not implemented yet", ctx->config_path);
		return EX_CONFIG;
	}
	if (ctx->conninfo) {
		free((*out)->db_conninfo);
		(*out)->db_conninfo = xstrdup(ctx->conninfo);
	}
	return EX_OK;
}
