/* bbingest invite ID: a personal, single-use enrolment link */
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "cli.h"
#include "config.h"
#include "consent.h"
#include "log.h"
#include "oauthutil.h"
#include "store.h"
#include "store_cli.h"

static const char usage[] =
	"usage: bbingest invite [-c FILE] [-d CONNINFO] ID\n"
	"\n"
	"Creates participant ID (state invited) unless it exists, and a personal,\n"
	"single-use invitation link valid for enrolment.invite_expiry (default 14 days).\n"
	"Prints the link, <listener.public_url>/enroll?invite=TOKEN, on standard output;\n"
	"send it to the participant only.  Only a hash of the token is stored, so a lost\n"
	"link cannot be shown again: run the command again for a new one.\n"
	"ID: 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit.\n";

int cmd_invite(cli_ctx *ctx, int argc, char **argv)
{
	bb_config *cfg = NULL;
	store *db;
	char err[1024];
	char *link = NULL;
	int rc;

	rc = cli_parse(ctx, argc, argv, NULL, usage);
	if (rc)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc != 1) {
		log_error("invite takes one participant id, got %d arguments", ctx->argc);
		fprintf(stderr, "%s", usage);
		return EX_USAGE;
	}
	if (!consent_id_valid(ctx->argv[0], err, sizeof err)) {
		log_error("%s", err);
		return EX_DATAERR;
	}
	rc = config_for_command(ctx, false, false, &cfg);
	if (rc != EX_OK)
		return rc;
	if (!cfg->public_url || !*cfg->public_url) {
		log_error("%s: listener.public_url is not set; the invitation link is built from it",
			  cfg->path ? cfg->path : ctx->config_path);
		fprintf(stderr, "HINT: set listener.public_url to the address participants reach "
			"the listener at, e.g. https://bb.example.org\n");
		config_free(cfg);
		return EX_CONFIG;
	}
	rc = store_for_config(cfg, STORE_CLI_CURRENT, &db, NULL);
	if (rc != EX_OK) {
		config_free(cfg);
		return rc;
	}
	if (consent_invite(db, cfg, ctx->argv[0], &link, err, sizeof err) < 0) {
		log_error("could not create an invitation for participant %s: %s", ctx->argv[0], err);
		store_close(db);
		config_free(cfg);
		return EX_SOFTWARE;
	}
	printf("%s\n", link);
	fflush(stdout);
	log_info("invitation for participant %s created; it expires in %lld s", ctx->argv[0],
		 (long long)cfg->invite_expiry_s);
	ou_free_secret(link);
	store_close(db);
	config_free(cfg);
	return EX_OK;
}
