/* bbingest migrate: apply the missing schema migrations */
#include <stdio.h>
#include <sysexits.h>

#include "cli.h"
#include "log.h"
#include "store.h"
#include "store_cli.h"

static const char usage[] =
	"usage: bbingest migrate [-c FILE] [-d CONNINFO]\n"
	"\n"
	"Applies the schema migrations the database lacks, in order, each in its own\n"
	"transaction; safe to run twice or from several machines at once.  Needs no\n"
	"configuration file when -d or the PG* environment names the database.\n";

int cmd_migrate(cli_ctx *ctx, int argc, char **argv)
{
	char err[1024];
	store *st;
	int applied = 0, rc, version;

	rc = cli_parse(ctx, argc, argv, NULL, usage);
	if (rc)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc) {
		log_error("migrate takes no arguments, got \"%.80s\"", ctx->argv[0]);
		return EX_USAGE;
	}
	rc = store_for_command(ctx, STORE_CLI_FILE_OPTIONAL | STORE_CLI_HINT | STORE_CLI_MIGRATE,
			       NULL, &st, &applied);
	if (rc != EX_OK)
		return rc;
	version = store_schema_version(st, err, sizeof err);
	store_close(st);
	if (applied)
		printf("applied %d migration%s; schema is at version %d\n", applied,
		       applied == 1 ? "" : "s", version);
	else
		printf("schema is up to date at version %d\n", version);
	return EX_OK;
}
