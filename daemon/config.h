/*
 * config: bbingest.yaml, read with libyaml into one validated structure.
 *
 * The schema is data (one table entry per key: type, default, range,
 * reloadable).  Every problem is reported as FILE:LINE:COLUMN: message and
 * loading reports all problems it can find, not only the first.
 */
#ifndef BB_CONFIG_H
#define BB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

/* cli.h defines it; repeated here so config.h does not need cli.h */
typedef struct cli_ctx cli_ctx;

/* Caps on the configuration file itself (hostile input like any other). */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)  /* whole file */
#define CONFIG_MAX_DEPTH 16                  /* nested mappings/lists */
#define CONFIG_MAX_STRING_BYTES 4096         /* one scalar */
#define CONFIG_MAX_LIST_ITEMS 64             /* one list */
#define CONFIG_MAX_SECRET_BYTES 4096         /* client secret file */
#define CONFIG_MAX_PROBLEMS 100              /* messages before giving up */

/* claim types, as bits of bb_config.claim_types */
enum {
	CLAIM_CARRIER = 1u << 0,
	CLAIM_DME = 1u << 1,
	CLAIM_HHA = 1u << 2,
	CLAIM_HOSPICE = 1u << 3,
	CLAIM_INPATIENT = 1u << 4,
	CLAIM_OUTPATIENT = 1u << 5,
	CLAIM_PDE = 1u << 6,
	CLAIM_SNF = 1u << 7,
	CLAIM_ALL = 0xffu,
};

typedef struct bb_config {
	char *path;                 /* file it was read from, or NULL for defaults */

	/* api: */
	char *api_base_url;         /* e.g. https://sandbox.bluebutton.cms.gov */
	char *api_version;          /* "v2" */
	char *client_id;
	char *client_secret_file;   /* path, or NULL */
	char *client_secret_credential; /* name in $CREDENTIALS_DIRECTORY, or NULL */
	char *client_secret;        /* the secret itself, read at load; wiped on free */
	char *redirect_uri;
	char **scopes;
	size_t n_scopes;
	char *ca_file;              /* extra CA bundle (tests), NULL = system store */
	int api_timeout_s;          /* FHIR request timeout */
	int token_timeout_s;        /* token endpoint timeout (long; never retried blindly) */

	/* database: */
	char *db_conninfo;          /* "" means libpq's environment */
	int db_writers;             /* threads storing pages, each with a connection */

	/* vault: */
	char *vault_key_file;       /* path, or NULL */
	char *vault_key_credential; /* name in $CREDENTIALS_DIRECTORY, or NULL */
	char *vault_key_path;       /* resolved: key_file, or the credential's path */

	/* listener: */
	char *listen_address;       /* default 127.0.0.1 */
	int listen_port;            /* default 8455 */
	char *public_url;           /* base URL participants reach the listener at */

	/* enrolment: */
	int64_t invite_expiry_s;    /* default 14 days */
	int64_t state_expiry_s;     /* default 600 */

	/* sync: */
	int concurrency;            /* transfers in flight overall */
	double request_rate;        /* requests per second, token bucket */
	int request_burst;
	int64_t sync_interval_s;    /* how often each participant is walked */
	int page_size;              /* _count, 1..50 */
	unsigned claim_types;       /* CLAIM_* bits */
	int lease_batch;            /* participants leased per query */
	int64_t lease_s;            /* lease expiry */
	int64_t retry_base_s;       /* first backoff */
	int64_t retry_max_s;        /* backoff cap */
	int64_t error_retention_s;  /* bb.error rows older are deleted; 0 keeps them */

	/* refresh: */
	int64_t refresh_interval_s; /* scheduled refresh of each grant */
	int64_t refresh_jitter_s;
	int64_t refresh_ahead_s;    /* refresh when the access token has less left */

	/* limits: */
	size_t max_page_bytes;
	size_t max_string_bytes;
	int max_depth;
	size_t max_resource_bytes;

	/* log: */
	int log_level;              /* LOG_ERR .. LOG_DEBUG */
	log_format log_format;
} bb_config;

/*
 * The problems found while loading; messages are "FILE:LINE:COL: text"
 * (1-based), or "FILE: text" for the file as a whole.  hints[i] is a
 * suggestion for messages[i] (printed as "HINT: ..."), or NULL.
 */
typedef struct config_report {
	char **messages;
	size_t count;
	char **hints;
} config_report;

/* A configuration with every default applied and nothing read. */
bb_config *config_defaults(void);

/*
 * Load and validate FILE.  On success returns 0 and *out; on any problem
 * returns -1, *out is NULL, and report holds every message (the caller frees
 * it with config_report_free).  `require_api` demands the keys `run` and the
 * enrolment commands need (client id, secret, redirect URI, key).
 */
int config_load(const char *path, bool require_api, bb_config **out, config_report *report);

/*
 * The same from memory: NAME is used in messages and as the directory that
 * relative paths in the file are resolved against.  DATA need not be
 * NUL-terminated.  Both functions initialise *report (free it in any case).  Files the configuration names (client secret, key, CA)
 * are read or checked as for config_load.
 */
int config_load_buffer(const char *name, const char *data, size_t len, bool require_api,
		       bb_config **out, config_report *report);

/* Print every message (and its hint) of REPORT to OUT, one per line. */
void config_report_print(const config_report *report, FILE *out);

void config_report_free(config_report *report);
void config_free(bb_config *cfg);

/* "carrier" -> CLAIM_CARRIER; 0 if unknown */
unsigned config_claim_type_bit(const char *name);
const char *config_claim_type_name(unsigned bit);

/*
 * For commands: load ctx->config_path (require_api as for config_load).
 * With FILE_OPTIONAL, a default path (no -c, no $BBINGEST_CONFIG) that does
 * not exist gives config_defaults().  Applies ctx->conninfo (-d) over
 * database.conninfo and the log settings.  Prints every problem to stderr
 * and returns EX_CONFIG; returns 0 and *out on success.
 */
int config_for_command(cli_ctx *ctx, bool require_api, bool file_optional, bb_config **out);

/* Durations: "30s", "10m", "24h", "14d" or plain seconds.  0 or -1. */
int config_parse_duration(const char *text, int64_t *seconds);
/* "30s" style text of SECONDS in its largest exact unit. */
void config_format_duration(int64_t seconds, char *buf, size_t len);
/* Sizes: plain bytes or with KiB, MiB, GiB.  0 or -1. */
int config_parse_size(const char *text, uint64_t *bytes);
/* true/false (also yes/no, on/off, any case).  0 or -1. */
int config_parse_bool(const char *text, bool *value);

/* Write the configuration reference (a Markdown table of every key). */
void config_write_reference(FILE *out);

/*
 * Keys whose value differs between OLD and NEW but that a reload cannot
 * apply (a restart is needed).  Stores up to MAX dotted key names (static
 * strings) in KEYS and returns how many differ.
 */
size_t config_unreloadable_changes(const bb_config *old_cfg, const bb_config *new_cfg,
				   const char **keys, size_t max);

#endif
