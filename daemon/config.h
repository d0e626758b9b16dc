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

#include "log.h"

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

	/* vault: */
	char *vault_key_file;       /* path, or NULL */
	char *vault_key_credential; /* name in $CREDENTIALS_DIRECTORY, or NULL */

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

/* One problem found while loading; messages are "FILE:LINE:COL: text". */
typedef struct config_report {
	char **messages;
	size_t count;
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

void config_report_free(config_report *report);
void config_free(bb_config *cfg);

struct cli_ctx;

/*
 * The configuration a command runs with: loads ctx->config_path; when
 * file_optional is set and the path is the default one (no -c, no
 * $BBINGEST_CONFIG) and does not exist, uses config_defaults().  Applies -d
 * over database.conninfo.  Prints every problem and returns EX_CONFIG, or
 * EX_OK with *out set (free with config_free).
 */
int config_for_command(struct cli_ctx *ctx, bool require_api, bool file_optional, bb_config **out);

/* "carrier" -> CLAIM_CARRIER; 0 if unknown */
unsigned config_claim_type_bit(const char *name);
const char *config_claim_type_name(unsigned bit);

#endif
