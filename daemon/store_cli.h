/*
 * store_cli: the database connection as the commands open it.
 *
 * The preamble every database command shares: load the configuration
 * (config_for_command(), which applies -d CONNINFO), connect to
 * database.conninfo (or libpq's PG* environment), then, as the command asks,
 * apply the missing migrations or refuse a schema older than this binary's.
 * Every failure is logged here, with the sysexits code the command returns:
 *
 *   EX_CONFIG       the configuration (config_for_command() printed why)
 *   EX_UNAVAILABLE  no connection, the schema version unreadable, or (with
 *                   STORE_CLI_CURRENT) a schema that needs "bbingest migrate"
 *   EX_SOFTWARE     a migration failed (STORE_CLI_MIGRATE)
 *
 * Ownership: on success the caller owns the returned store (store_close())
 * and, when it asked for it, the configuration (config_free()); on failure
 * nothing is returned and nothing is left to free.
 */
#ifndef BB_STORE_CLI_H
#define BB_STORE_CLI_H

#include "cli.h"
#include "config.h"
#include "store.h"

/* What to do besides connecting; or'ed together. */
enum {
	/* config_for_command()'s require_api and file_optional */
	STORE_CLI_REQUIRE_API = 1u << 0,
	STORE_CLI_FILE_OPTIONAL = 1u << 1,
	/* apply the missing migrations (migrate, load) */
	STORE_CLI_MIGRATE = 1u << 2,
	/* refuse a schema older than store_latest_version() (invite, enroll-url, withdraw) */
	STORE_CLI_CURRENT = 1u << 3,
	/* after a failed connection, a HINT line naming -d, database.conninfo and PG* */
	STORE_CLI_HINT = 1u << 4,
};

/*
 * Connect to CFG's database (CFG stays the caller's) and do what FLAGS ask
 * (STORE_CLI_MIGRATE, STORE_CLI_CURRENT, STORE_CLI_HINT; the config flags are
 * ignored).  For commands that check more of the configuration before they
 * connect.  Returns EX_OK and *out, or one of the codes above with *out NULL.
 * With STORE_CLI_MIGRATE and APPLIED not NULL, *applied is the number of
 * migrations applied (0 when the schema was up to date).
 */
int store_for_config(const bb_config *cfg, unsigned flags, store **out, int *applied);

/*
 * config_for_command() then store_for_config().  With CFG_OUT NULL the
 * configuration is freed once connected; otherwise *cfg_out is the caller's.
 * Returns EX_OK with *out (and *cfg_out), or one of the codes above with
 * *out (and *cfg_out) NULL.
 */
int store_for_command(cli_ctx *ctx, unsigned flags, bb_config **cfg_out, store **out,
		      int *applied);

#endif
