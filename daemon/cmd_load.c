/*
 * bbingest load [--participant ID] FILE...|-
 *
 * Loads saved FHIR JSON (Bundle, single resource, NDJSON; gzip accepted)
 * through the daemon's stream, flattener and loader: one transaction per
 * input.  A bad input stores nothing and makes the exit status 65; the other
 * inputs are still loaded.  Applies missing migrations first.
 */
#include <stdio.h>
#include <sysexits.h>

#include "cli.h"
#include "config.h"
#include "loader.h"
#include "log.h"
#include "store.h"
#include "store_cli.h"

static const char usage[] =
	"usage: bbingest load [-c FILE] [-d CONNINFO] [--participant ID] FILE...|-\n"
	"\n"
	"Load saved FHIR JSON (a searchset Bundle, a single resource or NDJSON;\n"
	"gzip-compressed files too) into the claims tables, one transaction per\n"
	"file.  A claim, Patient or Coverage already stored is replaced with all of\n"
	"its rows.  \"-\" reads standard input.  Needs no configuration file when -d\n"
	"or the PG* environment names the database.\n"
	"\n"
	"options:\n"
	"  -p, --participant ID   the study participant the data belongs to\n";

static int load_begin(void *ud, const char *name)
{
	loader_begin(ud, name);
	return EX_OK;
}

static int load_abort(void *ud)
{
	loader *l = ud;
	bool db = loader_db_failed(l);

	loader_abort(l);
	return db ? EX_UNAVAILABLE : EX_DATAERR;
}

static int load_commit(void *ud)
{
	loader *l = ud;

	if (loader_commit(l) < 0) {
		log_error("%s", loader_error(l));
		return load_abort(l);
	}
	return EX_OK;
}

int cmd_load(cli_ctx *ctx, int argc, char **argv)
{
	const char *participant = NULL;
	const cli_option opts[] = {
		{ "participant", 'p', true, &participant },
		{ NULL, 0, false, NULL },
	};
	bb_config *cfg = NULL;
	fhir_limits lim;
	store *st;
	loader *l;
	int rc;

	rc = cli_parse(ctx, argc, argv, opts, usage);
	if (rc != 0)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc < 1) {
		log_error("load needs at least one input FILE (or - for stdin)");
		fputs(usage, stderr);
		return EX_USAGE;
	}
	if (participant && !*participant) {
		log_error("--participant needs a non-empty id");
		return EX_USAGE;
	}
	rc = store_for_command(ctx, STORE_CLI_FILE_OPTIONAL | STORE_CLI_HINT | STORE_CLI_MIGRATE,
			       &cfg, &st, NULL);
	if (rc != EX_OK)
		return rc;
	fhir_limits_default(&lim);
	if (cfg->max_string_bytes)
		lim.max_string = cfg->max_string_bytes;
	if (cfg->max_depth)
		lim.max_depth = cfg->max_depth;
	if (cfg->max_resource_bytes)
		lim.max_resource = cfg->max_resource_bytes;
	config_free(cfg);
	l = loader_new(store_pg(st), &lim, 0);
	loader_set_participant(l, participant);
	rc = fhir_run_inputs(loader_stream(l), ctx->argc, ctx->argv, load_begin, load_commit,
		load_abort, l);
	loader_free(l);
	store_close(st);
	return rc;
}
