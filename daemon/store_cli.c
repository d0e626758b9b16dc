/* store_for_command: the database connection as every command opens it. */
#include "store_cli.h"

#include <stdio.h>
#include <sysexits.h>

#include "log.h"

int store_for_config(const bb_config *cfg, unsigned flags, store **out, int *applied)
{
	char err[1024];
	store *st;
	int n = 0, version;

	*out = NULL;
	if (applied)
		*applied = 0;
	st = store_connect(cfg->db_conninfo, err, sizeof err);
	if (!st) {
		log_error("%s", err);
		if (flags & STORE_CLI_HINT)
			fprintf(stderr, "HINT: pass -d CONNINFO, set database.conninfo in the "
				"configuration, or set PGHOST/PGDATABASE/PGUSER\n");
		return EX_UNAVAILABLE;
	}
	if (flags & STORE_CLI_MIGRATE) {
		if (store_migrate(st, &n, err, sizeof err) < 0) {
			log_error("%s", err);
			store_close(st);
			return EX_SOFTWARE;
		}
		if (applied)
			*applied = n;
	}
	if (flags & STORE_CLI_CURRENT) {
		version = store_schema_version(st, err, sizeof err);
		if (version < store_latest_version()) {
			if (version >= 0)       /* else err says why it is unreadable */
				snprintf(err, sizeof err, "the database schema is at version %d but "
					 "this bbingest needs version %d; HINT: run \"bbingest migrate\" "
					 "first", version, store_latest_version());
			log_error("%s", err);
			store_close(st);
			return EX_UNAVAILABLE;
		}
	}
	*out = st;
	return EX_OK;
}

int store_for_command(cli_ctx *ctx, unsigned flags, bb_config **cfg_out, store **out,
		      int *applied)
{
	bb_config *cfg = NULL;
	int rc;

	*out = NULL;
	if (cfg_out)
		*cfg_out = NULL;
	if (applied)
		*applied = 0;
	rc = config_for_command(ctx, flags & STORE_CLI_REQUIRE_API,
				flags & STORE_CLI_FILE_OPTIONAL, &cfg);
	if (rc != EX_OK)
		return rc;
	rc = store_for_config(cfg, flags, out, applied);
	if (rc != EX_OK || !cfg_out)
		config_free(cfg);
	else
		*cfg_out = cfg;
	return rc;
}
