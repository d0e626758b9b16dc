/* bbingest enroll-url ID: Blue Button's authorize URL for a participant */
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
#include "vault.h"

static const char usage[] =
	"usage: bbingest enroll-url [-c FILE] [-d CONNINFO] ID\n"
	"\n"
	"For programs that enrol participants through their own portal: creates\n"
	"participant ID (state invited) unless it exists, starts an authorization (a\n"
	"single-use state and a PKCE verifier, valid for enrolment.state_expiry, 10\n"
	"minutes by default) and prints Blue Button's authorize URL on standard output.\n"
	"Send the participant's browser there at once; Blue Button returns it to the\n"
	"daemon's /callback, which finishes the enrolment.\n"
	"ID: 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit.\n";

int cmd_enroll_url(cli_ctx *ctx, int argc, char **argv)
{
	bb_config *cfg = NULL;
	store *db = NULL;
	vault *v = NULL;
	char err[1024];
	char *url = NULL;
	int rc, created;

	rc = cli_parse(ctx, argc, argv, NULL, usage);
	if (rc)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc != 1) {
		log_error("enroll-url takes one participant id, got %d arguments", ctx->argc);
		fprintf(stderr, "%s", usage);
		return EX_USAGE;
	}
	if (!consent_id_valid(ctx->argv[0], err, sizeof err)) {
		log_error("%s", err);
		return EX_DATAERR;
	}
	rc = config_for_command(ctx, true, false, &cfg);
	if (rc != EX_OK)
		return rc;
	v = vault_open_key(cfg->vault_key_path, NULL, err, sizeof err);
	if (!v) {
		log_error("%s", err);
		config_free(cfg);
		return EX_CONFIG;
	}
	rc = store_for_config(cfg, STORE_CLI_CURRENT, &db, NULL);
	if (rc != EX_OK)
		goto out;
	rc = EX_SOFTWARE;
	if (store_cmd(db, "BEGIN", 0, NULL, err, sizeof err) < 0)
		goto fail;
	created = consent_ensure_participant(db, ctx->argv[0], err, sizeof err);
	if (created < 0)
		goto fail;
	if (created) {
		const char *k[1] = { "via" };
		const char *val[1] = { "enroll-url" };

		if (consent_audit(db, ctx->argv[0], "invited", 1, k, val, err, sizeof err) < 0)
			goto fail;
	}
	if (consent_begin(db, v, cfg, ctx->argv[0], &url, err, sizeof err) < 0 ||
	    store_cmd(db, "COMMIT", 0, NULL, err, sizeof err) < 0)
		goto fail;
	printf("%s\n", url);
	fflush(stdout);
	log_info("authorization for participant %s started; the URL is valid for %lld s",
		 ctx->argv[0], (long long)cfg->state_expiry_s);
	rc = EX_OK;
	goto out;
fail:
	log_error("could not start an authorization for participant %s: %s", ctx->argv[0], err);
	store_cmd(db, "ROLLBACK", 0, NULL, err, sizeof err);
out:
	ou_free_secret(url);
	store_close(db);
	vault_free(v);
	config_free(cfg);
	return rc;
}
