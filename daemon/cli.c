#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"
#include "util.h"

static const struct {
	const char *name;
	cli_command_fn fn;
	const char *summary;
} commands[] = {
	{ "run",          cmd_run,          "run the daemon (systemd Type=notify)" },
	{ "migrate",      cmd_migrate,      "apply missing database migrations" },
	{ "check-config", cmd_check_config, "validate the configuration file" },
	{ "invite",       cmd_invite,       "create a single-use enrolment link for a participant" },
	{ "enroll-url",   cmd_enroll_url,   "print a Blue Button authorize URL for a participant" },
	{ "status",       cmd_status,       "show participants' sync state" },
	{ "sync-now",     cmd_sync_now,     "make a participant (or all) due for sync now" },
	{ "withdraw",     cmd_withdraw,     "revoke a participant's consent [--purge their claims]" },
	{ "load",         cmd_load,         "load saved FHIR JSON into the database" },
	{ "flatten",      cmd_flatten,      "flatten saved FHIR JSON to one CSV per table" },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bbingest [-c FILE] [-d CONNINFO] COMMAND [options] [args]\n"
		"\n"
		"Collects study participants' Medicare claims through the CMS Blue Button 2.0 API\n"
		"into PostgreSQL.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"options for every command:\n"
		"  -c, --config FILE     configuration file (default %s,\n"
		"                        or $BBINGEST_CONFIG)\n"
		"  -d, --dbname CONNINFO database connection string, overriding the config;\n"
		"                        without it libpq's PG* environment applies\n"
		"  -h, --help            help for the command\n"
		"  -V, --version         print the version\n",
		BB_DEFAULT_CONFIG);
}

int cli_not_implemented(const char *command)
{
	log_error("command \"%s\" is not implemented yet in this version", command);
	return EX_SOFTWARE;
}

int cli_parse(cli_ctx *ctx, int argc, char **argv, const cli_option *opts,
	      const char *usage_text)
{
	struct option longopts[32];
	char shortopts[96];
	size_t nl = 0, ns = 0;
	int c;

	shortopts[ns++] = ':';
	memcpy(shortopts + ns, "c:d:h", 5);
	ns += 5;
	longopts[nl++] = (struct option){ "config", required_argument, NULL, 'c' };
	longopts[nl++] = (struct option){ "dbname", required_argument, NULL, 'd' };
	longopts[nl++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (size_t i = 0; opts && opts[i].name; i++) {
		int val = opts[i].short_name ? opts[i].short_name : 256 + (int)i;

		if (nl >= sizeof longopts / sizeof longopts[0] - 1 || ns >= sizeof shortopts - 3)
			break;
		longopts[nl++] = (struct option){ opts[i].name,
			opts[i].has_arg ? required_argument : no_argument, NULL, val };
		if (opts[i].short_name) {
			shortopts[ns++] = opts[i].short_name;
			if (opts[i].has_arg)
				shortopts[ns++] = ':';
		}
	}
	longopts[nl] = (struct option){ NULL, 0, NULL, 0 };
	shortopts[ns] = '\0';

	optind = 1;
	opterr = 0;
	for (;;) {
		int idx = -1;

		/* GNU getopt permutes: options may follow positionals */
		c = getopt_long(argc, argv, shortopts, longopts, &idx);
		if (c == -1)
			break;
		switch (c) {
		case 'c':
			ctx->config_path = optarg;
			ctx->config_explicit = true;
			break;
		case 'd':
			ctx->conninfo = optarg;
			break;
		case 'h':
			printf("%s", usage_text);
			return 1;
		case ':':
			log_error("option \"%s\" of \"%s\" needs an argument", argv[optind - 1], argv[0]);
			fprintf(stderr, "%s", usage_text);
			return -1;
		case '?':
			/* cut: an argument may be 128 KB long */
			log_error("unknown option \"%.80s%s\" for \"%s\"", argv[optind - 1],
				  strlen(argv[optind - 1]) > 80 ? "..." : "", argv[0]);
			fprintf(stderr, "%s", usage_text);
			return -1;
		default: {
			bool found = false;

			for (size_t i = 0; opts && opts[i].name; i++) {
				int val = opts[i].short_name ? opts[i].short_name : 256 + (int)i;

				if (val == c) {
					*opts[i].value = opts[i].has_arg ? optarg : "1";
					found = true;
				}
			}
			if (!found) {
				fprintf(stderr, "%s", usage_text);
				return -1;
			}
			break;
		}
		}
	}
	ctx->argc = argc - optind;
	ctx->argv = argv + optind;
	return 0;
}

int cli_main(int argc, char **argv)
{
	cli_ctx ctx = { 0 };
	const char *env = getenv("BBINGEST_CONFIG");
	int i = 1;

	log_init("bbingest", LOG_INFO, LOG_FORMAT_AUTO);
	ctx.config_path = BB_DEFAULT_CONFIG;
	if (env && *env) {
		ctx.config_path = env;
		ctx.config_explicit = true;
	}
	/* global options before the command */
	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EX_OK;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("bbingest %s\n", BBINGEST_VERSION);
			return EX_OK;
		} else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
			ctx.config_path = argv[i + 1];
			ctx.config_explicit = true;
			i += 2;
		} else if ((strcmp(a, "-d") == 0 || strcmp(a, "--dbname") == 0) && i + 1 < argc) {
			ctx.conninfo = argv[i + 1];
			i += 2;
		} else {
			log_error("unknown or incomplete option \"%.80s%s\"", a, strlen(a) > 80 ? "..." : "");
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
		if (strcmp(argv[i], commands[k].name) == 0) {
			ctx.command = commands[k].name;
			return commands[k].fn(&ctx, argc - i, argv + i);
		}
	}
	log_error("unknown command \"%.80s%s\"", argv[i], strlen(argv[i]) > 80 ? "..." : "");
	fprintf(stderr, "HINT: run \"bbingest --help\" for the list of commands\n");
	return EX_USAGE;
}
