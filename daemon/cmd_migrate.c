/* bbingest migrate: apply the missing schema migrations */
#include <stdio.h>
#include <sysexits.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "store.h"

static const char usage[] =
	"usage: bbingest migrate [-c FILE] [-d CONNINFO]\n"
	"\n"
	"Applies the schema migrations the database lacks, in order, each in its own\n"
	"transaction; safe to run twice or from several machines at once.  Needs no\n"
	"configuration file when -d or the PG* environment names the database.\n";

int cmd_migrate(cli_ctx *ctx, int argc, char **argv)
{
	char err[1024];
	bb_config *cfg = NULL;
	store *st;
	int applied = 0, rc, version;

	rc = cli_parse(ctx, argc, argv, NULL, usage);
	if (rc)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc) {
		log_error("migrate takes no arguments, got \"%.80s\"", ctx->argv[0]);
		return EX_USAGE;
	}
	rc = config_for_command(ctx, false, true, &cfg);
	if (rc != EX_OK)
		return rc;
	st = store_connect(cfg->db_conninfo, err, sizeof err);
	config_free(cfg);
	if (!st) {
		log_error("%s", err);
		fprintf(stderr, "HINT: pass -d CONNINFO, set database.conninfo in the configuration, "
			"or set PGHOST/PGDATABASE/PGUSER\n");
		return EX_UNAVAILABLE;
	}
	if (store_migrate(st, &applied, err, sizeof err) < 0) {
		log_error("%s", err);
		store_close(st);
		return EX_SOFTWARE;
	}
	version = store_schema_version(st, err, sizeof err);
	store_close(st);
	if (applied)
		printf("applied %d migration%s; schema is at version %d\n", applied,
		       applied == 1 ? "" : "s", version);
	else
		printf("schema is up to date at version %d\n", version);
	return EX_OK;
}
