/*
 * cli: the command line of design.md section 5.
 *
 *   bbingest [-c FILE] [-d CONNINFO] COMMAND [options] [args]
 *
 * Every command accepts -c FILE (default /etc/bbingest/bbingest.yaml, or
 * $BBINGEST_CONFIG) and, where it touches the database, -d CONNINFO which
 * overrides the config's database.conninfo; without either, libpq's own
 * environment (PGHOST, PGDATABASE, ...) applies.  Exit codes are sysexits.h.
 */
#ifndef BB_CLI_H
#define BB_CLI_H

#include <stdbool.h>

#define BB_DEFAULT_CONFIG "/etc/bbingest/bbingest.yaml"

typedef struct cli_ctx {
	const char *config_path;    /* never NULL after cli_parse */
	bool config_explicit;       /* -c or BBINGEST_CONFIG given */
	const char *conninfo;       /* -d, or NULL */
	const char *command;
	int argc;                   /* positional arguments after options */
	char **argv;
} cli_ctx;

/* An extra option a command understands (besides -c, -d, -h). */
typedef struct cli_option {
	const char *name;           /* long name, e.g. "out" */
	char short_name;            /* 0 for none */
	bool has_arg;
	const char **value;         /* set to the argument, or "1" for a flag */
} cli_option;

/*
 * Parse a command's arguments (argv[0] is the command name).  Returns -1 and
 * prints usage on error, 1 when help was printed, 0 otherwise.
 */
int cli_parse(cli_ctx *ctx, int argc, char **argv, const cli_option *opts,
	      const char *usage);

typedef int (*cli_command_fn)(cli_ctx *ctx, int argc, char **argv);

/* Commands; each lives in its own cmd_*.c file. */
int cmd_run(cli_ctx *ctx, int argc, char **argv);
int cmd_migrate(cli_ctx *ctx, int argc, char **argv);
int cmd_check_config(cli_ctx *ctx, int argc, char **argv);
int cmd_invite(cli_ctx *ctx, int argc, char **argv);
int cmd_enroll_url(cli_ctx *ctx, int argc, char **argv);
int cmd_status(cli_ctx *ctx, int argc, char **argv);
int cmd_sync_now(cli_ctx *ctx, int argc, char **argv);
int cmd_withdraw(cli_ctx *ctx, int argc, char **argv);
int cmd_load(cli_ctx *ctx, int argc, char **argv);
int cmd_flatten(cli_ctx *ctx, int argc, char **argv);

/* Shared answer of commands that a later piece of work fills in: exit 70. */
int cli_not_implemented(const char *command);

/* Entry point used by main(). */
int cli_main(int argc, char **argv);

#endif
