/*
 * config: bbingest.yaml -> bb_config.
 *
 * Three layers:
 *   1. the schema, as data: one key_def per key (type, field, default,
 *      range, reloadable, doc); defaults, parsing, freeing, the reference
 *      table and reload checks are all driven by it;
 *   2. a small reader over libyaml events that carries 1-based positions,
 *      enforces the depth and string caps and deletes every event;
 *   3. the loader, which walks sections and keys, collects every problem as
 *      "FILE:LINE:COL: message", then checks what needs the whole file
 *      (required keys, exclusive pairs, cross-key ranges, secret files).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <yaml.h>

#include "util.h"

/* ------------------------------------------------------------------ */
/* schema                                                              */
/* ------------------------------------------------------------------ */

typedef enum {
	KT_STRING,
	KT_PATH,        /* string; relative paths resolve against the file's directory */
	KT_INT,
	KT_DOUBLE,
	KT_BOOL,
	KT_DURATION,
	KT_SIZE,
	KT_ENUM,        /* stored as a string (enum_values NULL) or an int */
	KT_LIST,        /* list of strings: char ** + size_t count */
	KT_ENUM_LIST,   /* list of enum names, OR-ed into an unsigned */
} key_type;

/*
 * Extra validation of a string value: returns NULL when fine (and may
 * normalise *value), or what the value must be ("an https URL ...").
 */
typedef const char *(*check_fn)(char **value);

typedef struct key_def {
	const char *section;
	const char *name;
	const char *key;            /* "section.name" */
	key_type type;
	size_t off;                 /* field in bb_config */
	size_t width;               /* sizeof the field (integers) */
	size_t off_count;           /* KT_LIST: the size_t count field */
	double min, max;            /* numeric kinds (seconds, bytes) */
	const char *def;            /* default as text (lists: space-separated), NULL = unset */
	const char *const *names;   /* KT_ENUM, KT_ENUM_LIST */
	const int *values;          /* int values of names, NULL = store the name */
	check_fn check;
	const char *tname;          /* type for the reference when not the kind's */
	bool reloadable;
	const char *doc;
} key_def;

static const char *const version_names[] = { "v2", NULL };
static const char *const level_names[] = { "debug", "info", "notice", "warning", "error", NULL };
static const int level_values[] = { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR };
static const char *const format_names[] = { "auto", "plain", "journal", NULL };
static const int format_values[] = { LOG_FORMAT_AUTO, LOG_FORMAT_PLAIN, LOG_FORMAT_JOURNAL };
static const char *const claim_names[] = {
	"carrier", "dme", "hha", "hospice", "inpatient", "outpatient", "pde", "snf", NULL
};
static const int claim_values[] = {
	CLAIM_CARRIER, CLAIM_DME, CLAIM_HHA, CLAIM_HOSPICE, CLAIM_INPATIENT, CLAIM_OUTPATIENT,
	CLAIM_PDE, CLAIM_SNF
};

static const char *check_api_url(char **value);
static const char *check_http_url(char **value);
static const char *check_ip_address(char **value);
static const char *check_credential_name(char **value);
static const char *check_nonempty(char **value);

#define FIELD(f) .off = offsetof(bb_config, f), .width = sizeof(((bb_config *)0)->f)
#define KEY(s, n) .section = s, .name = n, .key = s "." n
#define MIN_S 1.0
#define DAY 86400.0
#define KIB 1024.0
#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * 1024.0 * 1024.0)

static const key_def keys[] = {
	/* api */
	{ KEY("api", "base_url"), .type = KT_STRING, FIELD(api_base_url), .check = check_api_url,
	  .tname = "URL", .def = "https://sandbox.bluebutton.cms.gov",
	  .doc = "Blue Button base URL; production is https://api.bluebutton.cms.gov "
		 "(http only for 127.0.0.1 or localhost, for tests)" },
	{ KEY("api", "version"), .type = KT_ENUM, FIELD(api_version), .names = version_names,
	  .def = "v2", .doc = "API version" },
	{ KEY("api", "client_id"), .type = KT_STRING, FIELD(client_id), .check = check_nonempty,
	  .doc = "OAuth client id of the registered application (required by run)" },
	{ KEY("api", "client_secret_file"), .type = KT_PATH, FIELD(client_secret_file),
	  .reloadable = true,
	  .doc = "file holding the client secret, read at load; this or client_secret_credential "
		 "is required by run (the secret itself never goes in this file)" },
	{ KEY("api", "client_secret_credential"), .type = KT_STRING,
	  FIELD(client_secret_credential), .check = check_credential_name, .tname = "name",
	  .reloadable = true,
	  .doc = "name of a systemd credential (LoadCredential=) holding the client secret" },
	{ KEY("api", "redirect_uri"), .type = KT_STRING, FIELD(redirect_uri), .check = check_http_url,
	  .tname = "URL",
	  .doc = "redirect URI registered for the app, reaching the listener's /callback (required by run)" },
	{ KEY("api", "scopes"), .type = KT_LIST, FIELD(scopes), .off_count = offsetof(bb_config, n_scopes),
	  .def = "launch/patient patient/Patient.rs patient/Coverage.rs patient/ExplanationOfBenefit.rs",
	  .min = 1, .max = CONFIG_MAX_LIST_ITEMS, .reloadable = true,
	  .doc = "scopes requested at enrolment" },
	{ KEY("api", "ca_file"), .type = KT_PATH, FIELD(ca_file), .reloadable = true,
	  .doc = "extra CA bundle to trust (tests); unset = the system store" },
	{ KEY("api", "timeout"), .type = KT_DURATION, FIELD(api_timeout_s), .def = "60s",
	  .min = 1, .max = 600, .reloadable = true, .doc = "timeout of one FHIR request" },
	{ KEY("api", "token_timeout"), .type = KT_DURATION, FIELD(token_timeout_s), .def = "120s",
	  .min = 1, .max = 600, .reloadable = true,
	  .doc = "timeout of a token request (long: a lost refresh response costs a re-consent)" },

	/* database */
	{ KEY("database", "conninfo"), .type = KT_STRING, FIELD(db_conninfo), .def = "",
	  .tname = "conninfo",
	  .doc = "libpq connection string; empty = the PG* environment; -d overrides it" },
	{ KEY("database", "writers"), .type = KT_INT, FIELD(db_writers), .def = "4",
	  .min = 1, .max = 64,
	  .doc = "connections (threads) that store downloaded pages in parallel" },

	/* vault */
	{ KEY("vault", "key_file"), .type = KT_PATH, FIELD(vault_key_file),
	  .doc = "file holding the token-sealing key; this or key_credential is required by run" },
	{ KEY("vault", "key_credential"), .type = KT_STRING, FIELD(vault_key_credential),
	  .check = check_credential_name, .tname = "name",
	  .doc = "name of a systemd credential holding the token-sealing key" },

	/* listener */
	{ KEY("listener", "address"), .type = KT_STRING, FIELD(listen_address), .def = "127.0.0.1",
	  .check = check_ip_address, .tname = "IP address",
	  .doc = "address the HTTP listener (enrolment, callback, health, metrics) binds" },
	{ KEY("listener", "port"), .type = KT_INT, FIELD(listen_port), .def = "8455",
	  .min = 1, .max = 65535, .doc = "TCP port of the listener" },
	{ KEY("listener", "public_url"), .type = KT_STRING, FIELD(public_url), .check = check_http_url,
	  .tname = "URL",
	  .doc = "base URL at which participants reach the listener, for invitation links (required by run)" },

	/* enrolment */
	{ KEY("enrolment", "invite_expiry"), .type = KT_DURATION, FIELD(invite_expiry_s), .def = "14d",
	  .min = 60, .max = 365 * DAY, .reloadable = true,
	  .doc = "how long an invitation link stays valid" },
	{ KEY("enrolment", "state_expiry"), .type = KT_DURATION, FIELD(state_expiry_s), .def = "10m",
	  .min = 60, .max = 600, .reloadable = true,
	  .doc = "how long a started authorization (state, PKCE verifier) stays valid" },

	/* sync */
	{ KEY("sync", "concurrency"), .type = KT_INT, FIELD(concurrency), .def = "16",
	  .min = 1, .max = 1024, .reloadable = true, .doc = "transfers in flight overall" },
	{ KEY("sync", "request_rate"), .type = KT_DOUBLE, FIELD(request_rate), .def = "10",
	  .min = 0.01, .max = 10000, .reloadable = true,
	  .doc = "API requests per second overall (token bucket)" },
	{ KEY("sync", "request_burst"), .type = KT_INT, FIELD(request_burst), .def = "20",
	  .min = 1, .max = 10000, .reloadable = true, .doc = "token bucket size" },
	{ KEY("sync", "interval"), .type = KT_DURATION, FIELD(sync_interval_s), .def = "24h",
	  .min = 60, .max = 365 * DAY, .reloadable = true,
	  .doc = "how often each participant's claims are fetched" },
	{ KEY("sync", "page_size"), .type = KT_INT, FIELD(page_size), .def = "50",
	  .min = 1, .max = 50, .reloadable = true, .doc = "resources per page (_count)" },
	{ KEY("sync", "claim_types"), .type = KT_ENUM_LIST, FIELD(claim_types), .names = claim_names,
	  .values = claim_values, .def = "carrier dme hha hospice inpatient outpatient pde snf",
	  .min = 1, .max = CONFIG_MAX_LIST_ITEMS, .reloadable = true,
	  .doc = "claim types to fetch" },
	{ KEY("sync", "lease_batch"), .type = KT_INT, FIELD(lease_batch), .def = "100",
	  .min = 1, .max = 10000, .reloadable = true,
	  .doc = "due participants leased per database query" },
	{ KEY("sync", "lease"), .type = KT_DURATION, FIELD(lease_s), .def = "10m",
	  .min = 30, .max = DAY, .reloadable = true,
	  .doc = "lease expiry (another instance may take the participant after it)" },
	{ KEY("sync", "retry_base"), .type = KT_DURATION, FIELD(retry_base_s), .def = "30s",
	  .min = 1, .max = DAY, .reloadable = true,
	  .doc = "first backoff after a failed page (doubles, with jitter)" },
	{ KEY("sync", "retry_max"), .type = KT_DURATION, FIELD(retry_max_s), .def = "6h",
	  .min = 1, .max = 30 * DAY, .reloadable = true, .doc = "backoff cap" },
	{ KEY("sync", "error_retention"), .type = KT_DURATION, FIELD(error_retention_s),
	  .def = "365d", .min = 0, .max = 100 * 365 * DAY, .reloadable = true,
	  .doc = "errors (bb.error) older than this are deleted, once an hour; 0 keeps them" },

	/* refresh */
	{ KEY("refresh", "interval"), .type = KT_DURATION, FIELD(refresh_interval_s), .def = "7d",
	  .min = 3600, .max = 365 * DAY, .reloadable = true,
	  .doc = "scheduled token refresh of each grant (besides the refresh before a sync)" },
	{ KEY("refresh", "jitter"), .type = KT_DURATION, FIELD(refresh_jitter_s), .def = "1h",
	  .min = 0, .max = 30 * DAY, .reloadable = true,
	  .doc = "random spread added to the refresh schedule" },
	{ KEY("refresh", "ahead"), .type = KT_DURATION, FIELD(refresh_ahead_s), .def = "5m",
	  .min = 0, .max = 3000, .reloadable = true,
	  .doc = "refresh when the access token has less than this left" },

	/* limits */
	{ KEY("limits", "max_page_bytes"), .type = KT_SIZE, FIELD(max_page_bytes), .def = "64MiB",
	  .min = 64 * KIB, .max = GIB, .reloadable = true, .doc = "largest page (response body)" },
	{ KEY("limits", "max_string_bytes"), .type = KT_SIZE, FIELD(max_string_bytes), .def = "1MiB",
	  .min = KIB, .max = 64 * MIB, .reloadable = true, .doc = "longest JSON string" },
	{ KEY("limits", "max_depth"), .type = KT_INT, FIELD(max_depth), .def = "64",
	  .min = 8, .max = 1024, .reloadable = true, .doc = "deepest JSON nesting" },
	{ KEY("limits", "max_resource_bytes"), .type = KT_SIZE, FIELD(max_resource_bytes),
	  .def = "8MiB", .min = 16 * KIB, .max = GIB, .reloadable = true,
	  .doc = "largest single resource in a page" },

	/* log */
	{ KEY("log", "level"), .type = KT_ENUM, FIELD(log_level), .names = level_names,
	  .values = level_values, .def = "info", .reloadable = true, .doc = "lowest level logged" },
	{ KEY("log", "format"), .type = KT_ENUM, FIELD(log_format), .names = format_names,
	  .values = format_values, .def = "auto", .reloadable = true,
	  .doc = "auto: journal priority prefixes when run by systemd, else plain" },
};

#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const sections[] = {
	"api", "database", "vault", "listener", "enrolment", "sync", "refresh", "limits", "log",
};

#define NSECTIONS (sizeof sections / sizeof sections[0])

/* keys that must never be in the file, with why */
static const struct {
	const char *section, *name, *message, *hint;
} forbidden[] = {
	{ "api", "client_secret",
	  "\"api.client_secret\" must not be written in the configuration file",
	  "put the secret in a file only bbingest can read and set \"api.client_secret_file\", "
	  "or pass it as a systemd credential and set \"api.client_secret_credential\"" },
	{ "vault", "key",
	  "\"vault.key\" must not be written in the configuration file",
	  "put the key in a file only bbingest can read and set \"vault.key_file\", "
	  "or pass it as a systemd credential and set \"vault.key_credential\"" },
};

static const key_def *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static size_t key_index(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].key, key) == 0)
			return i;
	abort();        /* a typo in this file */
}

/* ------------------------------------------------------------------ */
/* scalar parsing                                                      */
/* ------------------------------------------------------------------ */

/* digits only, no sign; -1 not a number, -2 overflow */
static int parse_digits(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -2;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_unit(const char *text, const char *const *units, const uint64_t *mult,
		      uint64_t *out)
{
	size_t n = strlen(text), d = 0;
	uint64_t v, m = 1;
	int rc;

	while (d < n && text[d] >= '0' && text[d] <= '9')
		d++;
	if (d < n) {
		size_t i;

		for (i = 0; units[i]; i++)
			if (strcmp(text + d, units[i]) == 0)
				break;
		if (!units[i])
			return -1;
		m = mult[i];
	}
	rc = parse_digits(text, d, &v);
	if (rc < 0)
		return rc;
	if (v > UINT64_MAX / m)
		return -2;
	*out = v * m;
	return 0;
}

/* -1 not a duration, -2 too large */
static int parse_duration(const char *text, int64_t *seconds)
{
	static const char *const units[] = { "s", "m", "h", "d", NULL };
	static const uint64_t mult[] = { 1, 60, 3600, 86400 };
	uint64_t v;
	int rc = parse_unit(text, units, mult, &v);

	if (rc < 0)
		return rc;
	if (v > INT64_MAX)
		return -2;
	*seconds = (int64_t)v;
	return 0;
}

int config_parse_duration(const char *text, int64_t *seconds)
{
	return parse_duration(text, seconds) == 0 ? 0 : -1;
}

void config_format_duration(int64_t s, char *buf, size_t len)
{
	if (s != 0 && s % 86400 == 0)
		snprintf(buf, len, "%" PRId64 "d", s / 86400);
	else if (s != 0 && s % 3600 == 0)
		snprintf(buf, len, "%" PRId64 "h", s / 3600);
	else if (s != 0 && s % 60 == 0)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}

static int parse_size(const char *text, uint64_t *bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", NULL };
	static const uint64_t mult[] = { 1, 1024, 1024 * 1024, 1024 * 1024 * 1024 };

	return parse_unit(text, units, mult, bytes);
}

int config_parse_size(const char *text, uint64_t *bytes)
{
	return parse_size(text, bytes) == 0 ? 0 : -1;
}

static void format_size(uint64_t b, char *buf, size_t len)
{
	if (b != 0 && b % (1024u * 1024u * 1024u) == 0)
		snprintf(buf, len, "%" PRIu64 "GiB", b / (1024u * 1024u * 1024u));
	else if (b != 0 && b % (1024u * 1024u) == 0)
		snprintf(buf, len, "%" PRIu64 "MiB", b / (1024u * 1024u));
	else if (b != 0 && b % 1024u == 0)
		snprintf(buf, len, "%" PRIu64 "KiB", b / 1024u);
	else
		snprintf(buf, len, "%" PRIu64, b);
}

int config_parse_bool(const char *text, bool *value)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };

	for (size_t i = 0; yes[i]; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value = false;
			return 0;
		}
	}
	return -1;
}

/* optional '-', digits; -1 not an integer, -2 out of int64 */
static int parse_int(const char *text, int64_t *out)
{
	bool neg = text[0] == '-';
	const char *s = text + (neg || text[0] == '+');
	uint64_t v;
	int rc = parse_digits(s, strlen(s), &v);

	if (rc < 0)
		return rc;
	if (v > (uint64_t)INT64_MAX)
		return -2;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int parse_double(const char *text, double *out)
{
	char *end;
	double v;

	if (!*text || isspace((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (*end || end == text || !isfinite(v))
		return -1;
	/* hex floats and the like: digits, sign, point, exponent only */
	for (const char *p = text; *p; p++)
		if (!strchr("0123456789+-.eE", *p))
			return -1;
	if (errno == ERANGE)
		return -2;
	*out = v;
	return 0;
}

static void format_value(const key_def *k, double v, char *buf, size_t len)
{
	if (k->type == KT_DURATION)
		config_format_duration((int64_t)v, buf, len);
	else if (k->type == KT_SIZE)
		format_size((uint64_t)v, buf, len);
	else
		snprintf(buf, len, "%.15g", v);
}

/* bounded string append at *O of BUF (always NUL-terminated) */
static void append(char *buf, size_t len, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o >= len)
		return;
	if (n > len - *o - 1)
		n = len - *o - 1;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

/* "a, b, c" of K's names */
static void join_names(const key_def *k, char *buf, size_t len, size_t *o)
{
	for (size_t i = 0; k->names[i]; i++) {
		if (i)
			append(buf, len, o, ", ");
		append(buf, len, o, k->names[i]);
	}
}

/* what a value of K must be, for "must be %s" */
static const char *type_what(const key_def *k, char *buf, size_t len)
{
	switch (k->type) {
	case KT_INT:
		return "an integer";
	case KT_DOUBLE:
		return "a number";
	case KT_BOOL:
		return "true or false";
	case KT_DURATION:
		return "a duration such as 30s, 10m, 24h or 14d";
	case KT_SIZE:
		return "a size such as 512KiB, 64MiB or 1GiB";
	case KT_LIST:
		return "a list of strings";
	case KT_ENUM:
	case KT_ENUM_LIST: {
		size_t o = 0;

		buf[0] = '\0';
		append(buf, len, &o, "one of: ");
		join_names(k, buf, len, &o);
		return buf;
	}
	case KT_STRING:
	case KT_PATH:
		break;
	}
	return "a string";
}

/* ------------------------------------------------------------------ */
/* value checks                                                        */
/* ------------------------------------------------------------------ */

static void strip_trailing_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

/*
 * scheme://host[:port][/path], no spaces, userinfo, query or fragment.
 * Sets *host and *host_len to the host.
 */
static bool parse_url(const char *s, const char **scheme_end, const char **host,
		      size_t *host_len)
{
	const char *p = strstr(s, "://"), *h, *e;

	if (!p || p == s)
		return false;
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == '?' || *q == '#' || *q == '@' ||
		    *q == '\\' || (unsigned char)*q >= 0x7f)
			return false;
	h = p + 3;
	if (*h == '[') {
		e = strchr(h, ']');
		if (!e)
			return false;
		e++;
	} else {
		e = h + strcspn(h, ":/");
	}
	if (e == h)
		return false;
	if (*e == ':') {
		const char *d = e + 1;
		size_t n = strspn(d, "0123456789");

		if (n == 0 || n > 5 || (d[n] != '\0' && d[n] != '/') || atoi(d) < 1 || atoi(d) > 65535)
			return false;
	} else if (*e != '\0' && *e != '/') {
		return false;
	}
	*scheme_end = p;
	*host = h;
	*host_len = (size_t)(e - h);
	return true;
}

static bool is_loopback_host(const char *h, size_t n)
{
	return (n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
	       (n == 9 && strncmp(h, "127.0.0.1", 9) == 0) ||
	       (n == 5 && strncmp(h, "[::1]", 5) == 0);
}

static const char *check_api_url(char **value)
{
	const char *se, *h;
	size_t hn;
	static const char what[] =
		"an https URL such as https://api.bluebutton.cms.gov (http only for 127.0.0.1 or localhost)";

	if (!parse_url(*value, &se, &h, &hn))
		return what;
	if (se - *value == 5 && strncasecmp(*value, "https", 5) == 0) {
		/* ok */
	} else if (se - *value == 4 && strncasecmp(*value, "http", 4) == 0) {
		if (!is_loopback_host(h, hn))
			return what;
	} else {
		return what;
	}
	strip_trailing_slashes(*value);
	return NULL;
}

static const char *check_http_url(char **value)
{
	const char *se, *h;
	size_t hn;
	static const char what[] = "an http or https URL such as https://bb.example.org";

	if (!parse_url(*value, &se, &h, &hn))
		return what;
	if (!((se - *value == 5 && strncasecmp(*value, "https", 5) == 0) ||
	      (se - *value == 4 && strncasecmp(*value, "http", 4) == 0)))
		return what;
	return NULL;
}

static const char *check_ip_address(char **value)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, *value, buf) == 1 || inet_pton(AF_INET6, *value, buf) == 1)
		return NULL;
	return "an IP address such as 127.0.0.1, 0.0.0.0 or ::1";
}

static const char *check_credential_name(char **value)
{
	const char *v = *value;

	if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
		return "a credential name (a file name in $CREDENTIALS_DIRECTORY, without \"/\")";
	return NULL;
}

static const char *check_nonempty(char **value)
{
	return **value ? NULL : "a non-empty string";
}

/* ------------------------------------------------------------------ */
/* field access                                                        */
/* ------------------------------------------------------------------ */

static char **str_field(bb_config *c, const key_def *k)
{
	return (char **)(void *)((char *)c + k->off);
}

static const char *str_value(const bb_config *c, const key_def *k)
{
	const char *const *p = (const char *const *)(const void *)((const char *)c + k->off);

	return *p;
}

static void set_number(bb_config *c, const key_def *k, int64_t v)
{
	char *p = (char *)c + k->off;

	if (k->width == sizeof(int)) {
		int i = (int)v;

		memcpy(p, &i, sizeof i);
	} else {
		memcpy(p, &v, sizeof v);
	}
}

static int64_t get_number(const bb_config *c, const key_def *k)
{
	const char *p = (const char *)c + k->off;

	if (k->width == sizeof(int)) {
		int i;

		memcpy(&i, p, sizeof i);
		return i;
	}
	int64_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

static void set_string(bb_config *c, const key_def *k, char *v)
{
	char **p = str_field(c, k);

	free(*p);
	*p = v;
}

static void free_list(bb_config *c, const key_def *k)
{
	char ***lp = (char ***)(void *)((char *)c + k->off);
	size_t *np = (size_t *)(void *)((char *)c + k->off_count);

	for (size_t i = 0; i < *np; i++)
		free((*lp)[i]);
	free(*lp);
	*lp = NULL;
	*np = 0;
}

static void set_list(bb_config *c, const key_def *k, char **items, size_t n)
{
	free_list(c, k);
	*(char ***)(void *)((char *)c + k->off) = items;
	*(size_t *)(void *)((char *)c + k->off_count) = n;
}

/* ------------------------------------------------------------------ */
/* defaults                                                            */
/* ------------------------------------------------------------------ */

static int enum_index(const key_def *k, const char *name)
{
	for (int i = 0; k->names[i]; i++)
		if (strcmp(k->names[i], name) == 0)
			return i;
	return -1;
}

static void apply_default(bb_config *c, const key_def *k)
{
	const char *d = k->def;

	if (!d)
		return;
	switch (k->type) {
	case KT_STRING:
	case KT_PATH:
		set_string(c, k, xstrdup(d));
		break;
	case KT_ENUM:
		if (k->values)
			set_number(c, k, k->values[enum_index(k, d)]);
		else
			set_string(c, k, xstrdup(d));
		break;
	case KT_INT: {
		int64_t v = 0;

		parse_int(d, &v);
		set_number(c, k, v);
		break;
	}
	case KT_DURATION: {
		int64_t v = 0;

		parse_duration(d, &v);
		set_number(c, k, v);
		break;
	}
	case KT_SIZE: {
		uint64_t v = 0;

		parse_size(d, &v);
		set_number(c, k, (int64_t)v);
		break;
	}
	case KT_DOUBLE: {
		double v = 0;

		parse_double(d, &v);
		memcpy((char *)c + k->off, &v, sizeof v);
		break;
	}
	case KT_BOOL: {
		bool v = false;

		config_parse_bool(d, &v);
		memcpy((char *)c + k->off, &v, sizeof v);
		break;
	}
	case KT_LIST: {
		char **items = NULL;
		size_t n = 0;
		const char *p = d;

		while (*p) {
			size_t w = strcspn(p, " ");

			items = xreallocarray(items, n + 1, sizeof *items);
			items[n++] = xstrndup(p, w);
			p += w;
			p += strspn(p, " ");
		}
		set_list(c, k, items, n);
		break;
	}
	case KT_ENUM_LIST: {
		unsigned bits = 0;
		const char *p = d;

		while (*p) {
			size_t w = strcspn(p, " ");
			char *word = xstrndup(p, w);

			bits |= (unsigned)k->values[enum_index(k, word)];
			free(word);
			p += w;
			p += strspn(p, " ");
		}
		set_number(c, k, bits);
		break;
	}
	}
}

bb_config *config_defaults(void)
{
	bb_config *c = xcalloc(1, sizeof *c);

	for (size_t i = 0; i < NKEYS; i++)
		apply_default(c, &keys[i]);
	return c;
}

void config_free(bb_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const key_def *k = &keys[i];

		if (k->type == KT_STRING || k->type == KT_PATH || (k->type == KT_ENUM && !k->values))
			free(*str_field(c, k));
		else if (k->type == KT_LIST)
			free_list(c, k);
	}
	if (c->client_secret) {
		secure_zero(c->client_secret, strlen(c->client_secret));
		free(c->client_secret);
	}
	free(c->vault_key_path);
	free(c->path);
	free(c);
}

unsigned config_claim_type_bit(const char *name)
{
	for (size_t i = 0; name && claim_names[i]; i++)
		if (strcmp(claim_names[i], name) == 0)
			return (unsigned)claim_values[i];
	return 0;
}

const char *config_claim_type_name(unsigned bit)
{
	for (size_t i = 0; claim_names[i]; i++)
		if ((unsigned)claim_values[i] == bit)
			return claim_names[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* report                                                              */
/* ------------------------------------------------------------------ */

void config_report_free(config_report *report)
{
	for (size_t i = 0; i < report->count; i++) {
		free(report->messages[i]);
		if (report->hints)
			free(report->hints[i]);
	}
	free(report->messages);
	free(report->hints);
	report->messages = NULL;
	report->hints = NULL;
	report->count = 0;
}

void config_report_print(const config_report *report, FILE *out)
{
	for (size_t i = 0; i < report->count; i++) {
		fprintf(out, "%s\n", report->messages[i]);
		if (report->hints && report->hints[i])
			fprintf(out, "HINT: %s\n", report->hints[i]);
	}
}

static void report_add(config_report *r, char *msg, const char *hint)
{
	r->messages = xreallocarray(r->messages, r->count + 1, sizeof *r->messages);
	r->hints = xreallocarray(r->hints, r->count + 1, sizeof *r->hints);
	r->messages[r->count] = msg;
	r->hints[r->count] = hint ? xstrdup(hint) : NULL;
	r->count++;
}

/* ------------------------------------------------------------------ */
/* loader state and the event reader                                   */
/* ------------------------------------------------------------------ */

typedef struct ypos {
	unsigned line, col;     /* 1-based; 0 = none */
} ypos;

typedef enum {
	Y_ERROR,
	Y_STREAM_START,
	Y_STREAM_END,
	Y_DOC_START,
	Y_DOC_END,
	Y_MAP,
	Y_MAP_END,
	Y_SEQ,
	Y_SEQ_END,
	Y_SCALAR,
	Y_ALIAS,
} yev_kind;

/* one event, copied out of libyaml (whose event is deleted at once) */
typedef struct yev {
	yev_kind kind;
	ypos pos;
	char *text;             /* Y_SCALAR: NUL-terminated copy; NULL if it broke a cap */
	bool plain;             /* unquoted scalar */
	bool bad;               /* already reported (too long, NUL, alias) */
} yev;

typedef struct loader {
	const char *name;
	const char *data;
	size_t len;
	config_report *rep;
	bb_config *cfg;
	yaml_parser_t parser;
	int depth;
	bool fatal;             /* stop reading: syntax error, depth, too many problems */
	ypos seen[NKEYS];       /* where each key was given (even if invalid) */
	bool valued[NKEYS];     /* ... with a non-null value */
	ypos section_pos[NSECTIONS];
} loader;

static void problem(loader *L, ypos pos, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(loader *L, ypos pos, const char *hint, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (L->fatal)
		return;
	if (L->rep->count >= CONFIG_MAX_PROBLEMS) {
		report_add(L->rep, xasprintf("%s: too many problems (%d); stopping here", L->name,
					     CONFIG_MAX_PROBLEMS), NULL);
		L->fatal = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (pos.line)
		report_add(L->rep, xasprintf("%s:%u:%u: %s", L->name, pos.line, pos.col, text), hint);
	else
		report_add(L->rep, xasprintf("%s: %s", L->name, text), hint);
}

static void fatal_problem(loader *L, ypos pos, const char *text)
{
	problem(L, pos, NULL, "%s", text);
	L->fatal = true;
}

/* 1-based line and column (in characters) of byte OFFSET of the input */
static ypos offset_pos(const loader *L, size_t offset)
{
	ypos p = { 1, 1 };

	for (size_t i = 0; i < offset && i < L->len; i++) {
		unsigned char ch = (unsigned char)L->data[i];

		if (ch == '\n') {
			p.line++;
			p.col = 1;
		} else if ((ch & 0xc0) != 0x80) {
			p.col++;
		}
	}
	return p;
}

static void syntax_error(loader *L)
{
	const yaml_parser_t *p = &L->parser;
	ypos pos;

	if (p->error == YAML_MEMORY_ERROR) {
		fatal_problem(L, (ypos){ 0, 0 }, "out of memory while parsing YAML");
		return;
	}
	/*
	 * libyaml hands out events up to the broken spot; what was said about
	 * them (say, a plain scalar that ran on into the next line) is likely
	 * an echo of the same mistake, so the syntax error stands alone.
	 */
	while (L->rep->count > 0) {
		L->rep->count--;
		free(L->rep->messages[L->rep->count]);
		free(L->rep->hints[L->rep->count]);
	}
	if (p->error == YAML_READER_ERROR)
		pos = offset_pos(L, p->problem_offset);
	else
		pos = (ypos){ (unsigned)p->problem_mark.line + 1, (unsigned)p->problem_mark.column + 1 };
	{
		char *msg = xasprintf("YAML syntax error: %s", p->problem ? p->problem : "unknown problem");

		fatal_problem(L, pos, msg);
		free(msg);
	}
}

static void yev_clear(yev *ev)
{
	free(ev->text);
	memset(ev, 0, sizeof *ev);
}

/* Next event into EV (cleared first).  false (EV is Y_ERROR) once fatal. */
static bool yr_next(loader *L, yev *ev)
{
	yaml_event_t e;

	yev_clear(ev);
	ev->kind = Y_ERROR;
	if (L->fatal)
		return false;
	if (!yaml_parser_parse(&L->parser, &e)) {
		syntax_error(L);
		return false;
	}
	ev->pos = (ypos){ (unsigned)e.start_mark.line + 1, (unsigned)e.start_mark.column + 1 };
	switch (e.type) {
	case YAML_STREAM_START_EVENT:
		ev->kind = Y_STREAM_START;
		break;
	case YAML_STREAM_END_EVENT:
		ev->kind = Y_STREAM_END;
		break;
	case YAML_DOCUMENT_START_EVENT:
		ev->kind = Y_DOC_START;
		break;
	case YAML_DOCUMENT_END_EVENT:
		ev->kind = Y_DOC_END;
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		ev->kind = e.type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ;
		if (++L->depth > CONFIG_MAX_DEPTH) {
			char *msg = xasprintf("nesting deeper than %d levels", CONFIG_MAX_DEPTH);

			fatal_problem(L, ev->pos, msg);
			free(msg);
		}
		break;
	case YAML_MAPPING_END_EVENT:
		ev->kind = Y_MAP_END;
		L->depth--;
		break;
	case YAML_SEQUENCE_END_EVENT:
		ev->kind = Y_SEQ_END;
		L->depth--;
		break;
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)e.data.scalar.value;
		size_t n = e.data.scalar.length;

		ev->kind = Y_SCALAR;
		ev->plain = e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (n > CONFIG_MAX_STRING_BYTES) {
			problem(L, ev->pos, NULL, "string of %zu bytes is longer than the limit of %d bytes",
				n, CONFIG_MAX_STRING_BYTES);
			ev->bad = true;
		} else if (memchr(v, '\0', n)) {
			problem(L, ev->pos, NULL, "string contains a NUL character");
			ev->bad = true;
		} else {
			ev->text = xstrndup(v, n);
		}
		break;
	}
	case YAML_ALIAS_EVENT:
		ev->kind = Y_ALIAS;
		ev->bad = true;
		problem(L, ev->pos, "write the value out in full",
			"YAML aliases (*name) are not supported in the configuration");
		break;
	case YAML_NO_EVENT:
		ev->kind = Y_ERROR;
		break;
	}
	yaml_event_delete(&e);
	if (L->fatal) {
		yev_clear(ev);
		ev->kind = Y_ERROR;
		return false;
	}
	return true;
}

/* Having read the first event of a node, consume the rest of it. */
static void yr_skip(loader *L, yev *ev)
{
	int d;

	if (ev->kind != Y_MAP && ev->kind != Y_SEQ)
		return;
	d = 1;
	while (d > 0 && yr_next(L, ev)) {
		if (ev->kind == Y_MAP || ev->kind == Y_SEQ)
			d++;
		else if (ev->kind == Y_MAP_END || ev->kind == Y_SEQ_END)
			d--;
		else if (ev->kind != Y_SCALAR && ev->kind != Y_ALIAS)
			break;
	}
}

static bool is_null(const yev *ev)
{
	return ev->kind == Y_SCALAR && ev->plain && ev->text &&
	       (ev->text[0] == '\0' || strcmp(ev->text, "~") == 0 || strcmp(ev->text, "null") == 0 ||
		strcmp(ev->text, "Null") == 0 || strcmp(ev->text, "NULL") == 0);
}

/* TEXT quoted, escaped and shortened for a message */
static const char *quote_text(const char *text, char *buf, size_t len)
{
	size_t o = 0;

	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)text; *p && o + 8 < len; p++) {
		if (p - (const unsigned char *)text >= 60) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (*p == '"' || *p == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* "\"abc\"" (escaped, shortened) or "a mapping" / "a list" */
static const char *describe(const yev *ev, char *buf, size_t len)
{
	if (ev->kind == Y_MAP)
		return "a mapping";
	if (ev->kind == Y_SEQ)
		return "a list";
	if (ev->kind != Y_SCALAR || !ev->text)
		return "that";
	return quote_text(ev->text, buf, len);
}

/* ------------------------------------------------------------------ */
/* suggestions                                                         */
/* ------------------------------------------------------------------ */

#define LEV_MAX 64

static size_t levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t prev[LEV_MAX + 1], cur[LEV_MAX + 1];

	if (la > LEV_MAX || lb > LEV_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
						    tolower((unsigned char)b[j - 1]));
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
	}
	return prev[lb];
}

static bool close_enough(const char *a, const char *b, size_t d)
{
	size_t n = strlen(a) > strlen(b) ? strlen(a) : strlen(b);

	return d <= 2 || d * 3 <= n;
}

/* nearest key of SECTION (or nearest section when SECTION is NULL), or NULL */
static const char *suggest(const char *section, const char *name)
{
	const char *best = NULL;
	size_t bd = SIZE_MAX;

	if (!section) {
		for (size_t i = 0; i < NSECTIONS; i++) {
			size_t d = levenshtein(name, sections[i]);

			if (d < bd) {
				bd = d;
				best = sections[i];
			}
		}
		/* a key written at the top level: "concurrency" -> "sync.concurrency" */
		for (size_t i = 0; i < NKEYS; i++) {
			if (strcmp(name, keys[i].name) == 0)
				return keys[i].key;
		}
	} else {
		for (size_t i = 0; i < NKEYS; i++) {
			size_t d;

			if (strcmp(keys[i].section, section) != 0)
				continue;
			d = levenshtein(name, keys[i].name);
			if (d < bd) {
				bd = d;
				best = keys[i].name;
			}
		}
	}
	if (best && bd != SIZE_MAX && strcmp(name, best) != 0 && close_enough(name, best, bd))
		return best;
	return NULL;
}

static char *valid_keys_hint(const char *section)
{
	sbuf b;

	sbuf_init(&b, 0);
	if (!section) {
		sbuf_puts(&b, "the sections are: ");
		for (size_t i = 0; i < NSECTIONS; i++)
			sbuf_printf(&b, "%s%s", i ? ", " : "", sections[i]);
	} else {
		bool first = true;

		sbuf_printf(&b, "the keys of \"%s\" are: ", section);
		for (size_t i = 0; i < NKEYS; i++) {
			if (strcmp(keys[i].section, section) != 0)
				continue;
			sbuf_printf(&b, "%s%s", first ? "" : ", ", keys[i].name);
			first = false;
		}
	}
	return sbuf_steal(&b);
}

static void unknown_key(loader *L, ypos pos, const char *section, const char *name)
{
	const char *s = suggest(section, name);
	char dotted[256];
	char shown[96];
	size_t o = 0;

	/* quote the name escaped and shortened like any value */
	quote_text(name, shown, sizeof shown);
	shown[strlen(shown) - 1] = '\0';      /* the closing quote */
	dotted[0] = '\0';
	if (section) {
		append(dotted, sizeof dotted, &o, section);
		append(dotted, sizeof dotted, &o, ".");
	}
	append(dotted, sizeof dotted, &o, shown + 1);
	if (s) {
		problem(L, pos, NULL, "unknown key \"%s\" (did you mean \"%s\"?)", dotted, s);
	} else {
		char *hint = valid_keys_hint(section);

		problem(L, pos, hint, "unknown key \"%s\"", dotted);
		free(hint);
	}
}

/* ------------------------------------------------------------------ */
/* values                                                              */
/* ------------------------------------------------------------------ */

static void wrong_type(loader *L, const key_def *k, const yev *ev, const char *what)
{
	char buf[128], wb[256];

	if (!what)
		what = type_what(k, wb, sizeof wb);
	problem(L, ev->pos, NULL, "\"%s\" must be %s, not %s", k->key, what, describe(ev, buf, sizeof buf));
}

static void out_of_range(loader *L, const key_def *k, const yev *ev)
{
	char lo[32], hi[32];

	format_value(k, k->min, lo, sizeof lo);
	format_value(k, k->max, hi, sizeof hi);
	problem(L, ev->pos, NULL, "\"%s\" is %s, outside the allowed range %s..%s", k->key, ev->text, lo, hi);
}

static char *resolve_path(const loader *L, const char *p)
{
	const char *slash;

	if (p[0] == '/')
		return xstrdup(p);
	slash = strrchr(L->name, '/');
	if (!slash)
		return xstrdup(p);
	return xasprintf("%.*s/%s", (int)(slash - L->name), L->name, p);
}

/* a scalar value for K at EV: parse, check, store */
static void set_scalar(loader *L, const key_def *k, yev *ev)
{
	const char *t = ev->text;

	switch (k->type) {
	case KT_STRING:
	case KT_PATH: {
		const char *what;
		char *v;

		if (k->type == KT_PATH && !*t) {
			wrong_type(L, k, ev, "a file path");
			return;
		}
		v = k->type == KT_PATH ? resolve_path(L, t) : xstrdup(t);
		what = k->check ? k->check(&v) : NULL;

		if (what) {
			wrong_type(L, k, ev, what);
			free(v);
			return;
		}
		set_string(L->cfg, k, v);
		break;
	}
	case KT_ENUM: {
		int i = enum_index(k, t);

		if (i < 0) {
			wrong_type(L, k, ev, NULL);
			return;
		}
		if (k->values)
			set_number(L->cfg, k, k->values[i]);
		else
			set_string(L->cfg, k, xstrdup(k->names[i]));
		break;
	}
	case KT_BOOL: {
		bool v;

		if (config_parse_bool(t, &v) < 0) {
			wrong_type(L, k, ev, NULL);
			return;
		}
		memcpy((char *)L->cfg + k->off, &v, sizeof v);
		break;
	}
	case KT_INT:
	case KT_DURATION:
	case KT_SIZE: {
		int64_t v = 0;
		int rc;

		if (k->type == KT_INT) {
			rc = parse_int(t, &v);
		} else if (k->type == KT_DURATION) {
			rc = parse_duration(t, &v);
		} else {
			uint64_t u = 0;

			rc = parse_size(t, &u);
			if (rc == 0 && u > (uint64_t)INT64_MAX)
				rc = -2;
			v = (int64_t)u;
		}
		if (rc == -1) {
			wrong_type(L, k, ev, NULL);
			return;
		}
		if (rc == -2 || (double)v < k->min || (double)v > k->max) {
			out_of_range(L, k, ev);
			return;
		}
		set_number(L->cfg, k, v);
		break;
	}
	case KT_DOUBLE: {
		double v = 0;
		int rc = parse_double(t, &v);

		if (rc == -1) {
			wrong_type(L, k, ev, NULL);
			return;
		}
		if (rc == -2 || v < k->min || v > k->max) {
			out_of_range(L, k, ev);
			return;
		}
		memcpy((char *)L->cfg + k->off, &v, sizeof v);
		break;
	}
	case KT_LIST:
	case KT_ENUM_LIST:
		break;
	}
	L->valued[k - keys] = true;
}

/* EV is the Y_SEQ that starts a list for K */
static void set_list_value(loader *L, const key_def *k, yev *ev)
{
	char **items = NULL;
	size_t n = 0, kept = 0;     /* items seen; strings kept in ITEMS */
	unsigned bits = 0;
	bool ok = true;
	ypos start = ev->pos;

	while (yr_next(L, ev) && ev->kind != Y_SEQ_END) {
		char idx[160], buf[128], wb[256];

		n++;
		if (ev->bad) {
			ok = false;
			continue;
		}
		snprintf(idx, sizeof idx, "%s[%zu]", k->key, n);
		if (ev->kind != Y_SCALAR || is_null(ev)) {
			problem(L, ev->pos, NULL, "\"%s\" must be %s, not %s", idx,
				k->type == KT_LIST ? "a string" : type_what(k, wb, sizeof wb),
				is_null(ev) ? "empty" : describe(ev, buf, sizeof buf));
			yr_skip(L, ev);
			ok = false;
			continue;
		}
		if (n > CONFIG_MAX_LIST_ITEMS) {
			if (n == CONFIG_MAX_LIST_ITEMS + 1)
				problem(L, ev->pos, NULL, "\"%s\" has more than %d items", k->key,
					CONFIG_MAX_LIST_ITEMS);
			ok = false;
			continue;
		}
		if (k->type == KT_ENUM_LIST) {
			int i = enum_index(k, ev->text);

			if (i < 0) {
				problem(L, ev->pos, NULL, "\"%s\" must be %s, not %s", idx,
					type_what(k, wb, sizeof wb), describe(ev, buf, sizeof buf));
				ok = false;
			} else {
				bits |= (unsigned)k->values[i];
			}
		} else if (!ev->text[0] || ev->text[strcspn(ev->text, " \t\r\n")]) {
			problem(L, ev->pos, NULL, "\"%s\" must be a single word without spaces, not %s",
				idx, describe(ev, buf, sizeof buf));
			ok = false;
		} else {
			items = xreallocarray(items, kept + 1, sizeof *items);
			items[kept++] = ev->text;
			ev->text = NULL;
		}
	}
	if (ok && !L->fatal && n == 0)
		problem(L, start, NULL, "\"%s\" must not be empty", k->key);
	if (!ok || L->fatal || n == 0 || k->type == KT_ENUM_LIST) {
		for (size_t i = 0; i < kept; i++)
			free(items[i]);
		free(items);
		if (ok && !L->fatal && n > 0) {
			set_number(L->cfg, k, bits);
			L->valued[k - keys] = true;
		}
		return;
	}
	set_list(L->cfg, k, items, kept);
	L->valued[k - keys] = true;
}

/* read the value node of K (key at KPOS) */
static void parse_value(loader *L, const key_def *k, yev *ev)
{
	if (!yr_next(L, ev))
		return;
	if (ev->bad)
		return;
	if (is_null(ev))
		return;         /* "key:" alone keeps the default */
	if (k->type == KT_LIST || k->type == KT_ENUM_LIST) {
		if (ev->kind != Y_SEQ) {
			char buf[128];

			problem(L, ev->pos, NULL, "\"%s\" must be a list of strings, not %s", k->key,
				describe(ev, buf, sizeof buf));
			yr_skip(L, ev);
			return;
		}
		set_list_value(L, k, ev);
		return;
	}
	if (ev->kind != Y_SCALAR) {
		wrong_type(L, k, ev, NULL);
		yr_skip(L, ev);
		return;
	}
	set_scalar(L, k, ev);
}

static int section_index(const char *name)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		if (strcmp(sections[i], name) == 0)
			return (int)i;
	return -1;
}

/* a key that is not a plain scalar: report and skip key and value */
static bool bad_key(loader *L, yev *ev)
{
	if (ev->kind == Y_SCALAR && !ev->bad && ev->text)
		return false;
	if (!ev->bad)
		problem(L, ev->pos, NULL, "keys must be plain names, not %s",
			ev->kind == Y_MAP ? "a mapping" : "a list");
	yr_skip(L, ev);
	if (yr_next(L, ev))
		yr_skip(L, ev);
	return true;
}

/* having read the Y_MAP of section S */
static void parse_section(loader *L, const char *s, yev *ev)
{
	while (yr_next(L, ev) && ev->kind != Y_MAP_END) {
		const key_def *k;
		ypos kpos = ev->pos;
		bool forbid = false;

		if (bad_key(L, ev))
			continue;
		for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
			if (strcmp(forbidden[i].section, s) == 0 && strcmp(forbidden[i].name, ev->text) == 0) {
				problem(L, kpos, forbidden[i].hint, "%s", forbidden[i].message);
				forbid = true;
			}
		}
		k = forbid ? NULL : find_key(s, ev->text);
		if (!k) {
			if (!forbid)
				unknown_key(L, kpos, s, ev->text);
			if (yr_next(L, ev))
				yr_skip(L, ev);
			continue;
		}
		if (L->seen[k - keys].line) {
			problem(L, kpos, NULL, "duplicate key \"%s\" (first defined at line %u)", k->key,
				L->seen[k - keys].line);
			if (yr_next(L, ev))
				yr_skip(L, ev);
			continue;
		}
		L->seen[k - keys] = kpos;
		parse_value(L, k, ev);
	}
}

/* having read the top-level Y_MAP */
static void parse_top(loader *L, yev *ev)
{
	while (yr_next(L, ev) && ev->kind != Y_MAP_END) {
		ypos kpos = ev->pos;
		int si;
		char *name;

		if (bad_key(L, ev))
			continue;
		si = section_index(ev->text);
		if (si < 0) {
			unknown_key(L, kpos, NULL, ev->text);
			if (yr_next(L, ev))
				yr_skip(L, ev);
			continue;
		}
		if (L->section_pos[si].line) {
			problem(L, kpos, NULL, "duplicate key \"%s\" (first defined at line %u)",
				sections[si], L->section_pos[si].line);
			if (yr_next(L, ev))
				yr_skip(L, ev);
			continue;
		}
		L->section_pos[si] = kpos;
		name = ev->text;
		ev->text = NULL;
		if (yr_next(L, ev)) {
			if (ev->kind == Y_MAP) {
				parse_section(L, name, ev);
			} else if (!is_null(ev) && !ev->bad) {
				char buf[128];

				problem(L, ev->pos, NULL, "\"%s\" must be a mapping, not %s", name,
					describe(ev, buf, sizeof buf));
				yr_skip(L, ev);
			}
		}
		free(name);
	}
}

static void parse_document(loader *L)
{
	yev ev = { 0 };

	if (!yr_next(L, &ev) || ev.kind != Y_STREAM_START)
		goto out;
	if (!yr_next(L, &ev) || ev.kind == Y_STREAM_END)
		goto out;       /* an empty file: all defaults */
	if (!yr_next(L, &ev))
		goto out;
	if (ev.kind == Y_MAP) {
		parse_top(L, &ev);
	} else if (!is_null(&ev) && !ev.bad) {
		char buf[128];

		problem(L, ev.pos, "start with a section name such as \"api:\" at the beginning of a line",
			"the configuration must be a mapping of sections, not %s",
			describe(&ev, buf, sizeof buf));
		yr_skip(L, &ev);
	}
	if (!yr_next(L, &ev))
		goto out;
	/* ev is the document end; then the stream must end */
	if (yr_next(L, &ev) && ev.kind != Y_STREAM_END)
		problem(L, ev.pos, "remove the \"---\" line and everything after it",
			"only one YAML document is allowed in the configuration file");
out:
	yev_clear(&ev);
}

/* ------------------------------------------------------------------ */
/* checks that need the whole file                                     */
/* ------------------------------------------------------------------ */

static ypos key_pos(const loader *L, const char *key)
{
	size_t i = key_index(key);
	int si;

	if (L->seen[i].line)
		return L->seen[i];
	si = section_index(keys[i].section);
	if (si >= 0 && L->section_pos[si].line)
		return L->section_pos[si];
	return (ypos){ 1, 1 };
}

static bool key_given(const loader *L, const char *key)
{
	return L->valued[key_index(key)];
}

static void require(loader *L, const char *key)
{
	if (str_value(L->cfg, &keys[key_index(key)]))
		return;
	if (L->seen[key_index(key)].line)
		problem(L, key_pos(L, key), NULL, "required key \"%s\" has no value", key);
	else
		problem(L, key_pos(L, key), NULL, "missing required key \"%s\"", key);
}

static void require_one_of(loader *L, const char *a, const char *b, const char *hint)
{
	if (str_value(L->cfg, &keys[key_index(a)]) || str_value(L->cfg, &keys[key_index(b)]))
		return;
	problem(L, key_pos(L, a), hint, "missing required key \"%s\" or \"%s\"", a, b);
}

static void exclusive(loader *L, const char *a, const char *b)
{
	if (key_given(L, a) && key_given(L, b))
		problem(L, key_pos(L, b), NULL, "\"%s\" and \"%s\" are both set; set only one", a, b);
}

/*
 * Open PATH for reading (a regular file); on success returns the fd,
 * otherwise reports "cannot read KEY file PATH: reason" and returns -1.
 */
static int open_checked(loader *L, const char *key, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		problem(L, key_pos(L, key), NULL, "cannot read \"%s\" file \"%s\": %s", key, path,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		problem(L, key_pos(L, key), NULL, "cannot read \"%s\" file \"%s\": %s", key, path,
			"not a regular file");
		close(fd);
		return -1;
	}
	return fd;
}

/* the path of a credential, or NULL (reported) */
static char *credential_path(loader *L, const char *key, const char *name, const char *other)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char hint[256];

	if (!dir || !*dir) {
		snprintf(hint, sizeof hint,
			 "run bbingest under systemd with LoadCredential= or SetCredentialEncrypted=, "
			 "or use \"%s\"", other);
		problem(L, key_pos(L, key), hint, "\"%s\" is set but $CREDENTIALS_DIRECTORY is not", key);
		return NULL;
	}
	return xasprintf("%s/%s", dir, name);
}

static void read_secret(loader *L)
{
	bb_config *c = L->cfg;
	const char *key = c->client_secret_file ? "api.client_secret_file" : "api.client_secret_credential";
	char *path;
	char buf[CONFIG_MAX_SECRET_BYTES + 1];
	size_t n = 0;
	ssize_t r;
	int fd;

	if (c->client_secret_file)
		path = xstrdup(c->client_secret_file);
	else if (c->client_secret_credential)
		path = credential_path(L, key, c->client_secret_credential, "api.client_secret_file");
	else
		return;
	if (!path)
		return;
	fd = open_checked(L, key, path);
	if (fd < 0) {
		free(path);
		return;
	}
	while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			problem(L, key_pos(L, key), NULL, "cannot read \"%s\" file \"%s\": %s", key, path,
				strerror(errno));
			goto out;
		}
		n += (size_t)r;
	}
	if (n > CONFIG_MAX_SECRET_BYTES) {
		problem(L, key_pos(L, key), NULL, "\"%s\" file \"%s\" is longer than %d bytes", key, path,
			CONFIG_MAX_SECRET_BYTES);
		goto out;
	}
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	if (n == 0) {
		problem(L, key_pos(L, key), "write the client secret of the registered app into it",
			"\"%s\" file \"%s\" is empty", key, path);
		goto out;
	}
	if (memchr(buf, '\0', n) || memchr(buf, '\n', n)) {
		problem(L, key_pos(L, key), "the file must hold the client secret alone, on one line",
			"\"%s\" file \"%s\" holds more than one line", key, path);
		goto out;
	}
	c->client_secret = xstrndup(buf, n);
out:
	secure_zero(buf, sizeof buf);
	close(fd);
	free(path);
}

static void check_readable(loader *L, const char *key, const char *path)
{
	int fd;

	if (!path)
		return;
	fd = open_checked(L, key, path);
	if (fd >= 0)
		close(fd);
}

static void resolve_vault_key(loader *L)
{
	bb_config *c = L->cfg;

	if (c->vault_key_file) {
		c->vault_key_path = xstrdup(c->vault_key_file);
		check_readable(L, "vault.key_file", c->vault_key_path);
	} else if (c->vault_key_credential) {
		c->vault_key_path = credential_path(L, "vault.key_credential", c->vault_key_credential,
						    "vault.key_file");
		check_readable(L, "vault.key_credential", c->vault_key_path);
	}
}

/* A <= B for two keys; reported at whichever of them was given last */
static void not_greater(loader *L, const char *a, int64_t va, const char *b, int64_t vb)
{
	const key_def *ka = &keys[key_index(a)];
	char sa[32], sb[32];
	ypos pa = L->seen[key_index(a)], pb = L->seen[key_index(b)];

	if (va <= vb)
		return;
	format_value(ka, (double)va, sa, sizeof sa);
	format_value(&keys[key_index(b)], (double)vb, sb, sizeof sb);
	problem(L, pa.line >= pb.line ? key_pos(L, a) : key_pos(L, b), NULL,
		"\"%s\" (%s) must not be greater than \"%s\" (%s)", a, sa, b, sb);
}

static void check_whole(loader *L, bool require_api)
{
	bb_config *c = L->cfg;

	exclusive(L, "api.client_secret_file", "api.client_secret_credential");
	exclusive(L, "vault.key_file", "vault.key_credential");
	if (require_api) {
		require(L, "api.client_id");
		require_one_of(L, "api.client_secret_file", "api.client_secret_credential",
			       "set \"api.client_secret_file\" to a file holding the client secret");
		require(L, "api.redirect_uri");
		require_one_of(L, "vault.key_file", "vault.key_credential",
			       "set \"vault.key_file\" to a file holding the token-sealing key");
		require(L, "listener.public_url");
	}
	if (!(key_given(L, "api.client_secret_file") && key_given(L, "api.client_secret_credential")))
		read_secret(L);
	if (!(key_given(L, "vault.key_file") && key_given(L, "vault.key_credential")))
		resolve_vault_key(L);
	check_readable(L, "api.ca_file", c->ca_file);
	not_greater(L, "sync.retry_base", c->retry_base_s, "sync.retry_max", c->retry_max_s);
	not_greater(L, "refresh.jitter", c->refresh_jitter_s, "refresh.interval", c->refresh_interval_s);
	not_greater(L, "limits.max_string_bytes", (int64_t)c->max_string_bytes,
		    "limits.max_resource_bytes", (int64_t)c->max_resource_bytes);
	not_greater(L, "limits.max_resource_bytes", (int64_t)c->max_resource_bytes,
		    "limits.max_page_bytes", (int64_t)c->max_page_bytes);
}

/* ------------------------------------------------------------------ */
/* entry points                                                        */
/* ------------------------------------------------------------------ */

/* Tabs in indentation: libyaml's message for them is obscure. */
static void check_tabs(loader *L)
{
	size_t i = 0;
	unsigned line = 1;

	while (i < L->len) {
		size_t start = i, tab = SIZE_MAX;

		while (i < L->len && (L->data[i] == ' ' || L->data[i] == '\t')) {
			if (L->data[i] == '\t' && tab == SIZE_MAX)
				tab = i;
			i++;
		}
		if (tab != SIZE_MAX && i < L->len && L->data[i] != '\n' && L->data[i] != '\r' &&
		    L->data[i] != '#')
			problem(L, (ypos){ line, (unsigned)(tab - start) + 1 },
				"indent with spaces (most editors can be told to insert spaces for tabs)",
				"tab character in indentation; YAML allows only spaces");
		while (i < L->len && L->data[i] != '\n')
			i++;
		i++;
		line++;
	}
}

int config_load_buffer(const char *name, const char *data, size_t len, bool require_api,
		       bb_config **out, config_report *report)
{
	loader *L = xcalloc(1, sizeof *L);
	size_t before;
	int rc;

	*out = NULL;
	report->messages = NULL;
	report->hints = NULL;
	report->count = 0;
	before = 0;
	L->name = name;
	L->data = data;
	L->len = len;
	L->rep = report;
	L->cfg = config_defaults();
	L->cfg->path = xstrdup(name);

	if (len > CONFIG_MAX_FILE_BYTES) {
		problem(L, (ypos){ 0, 0 }, "a configuration file is a few kilobytes; check the path",
			"configuration file is larger than the limit of %d bytes (1 MiB)",
			CONFIG_MAX_FILE_BYTES);
		L->fatal = true;
	}
	if (!L->fatal) {
		check_tabs(L);
		if (report->count > before)
			L->fatal = true;
	}
	if (!L->fatal) {
		if (!yaml_parser_initialize(&L->parser)) {
			problem(L, (ypos){ 0, 0 }, NULL, "out of memory while parsing YAML");
			L->fatal = true;
		} else {
			yaml_parser_set_input_string(&L->parser, (const unsigned char *)data, len);
			parse_document(L);
			yaml_parser_delete(&L->parser);
		}
	}
	if (!L->fatal)
		check_whole(L, require_api);

	rc = report->count > before ? -1 : 0;
	if (rc == 0)
		*out = L->cfg;
	else
		config_free(L->cfg);
	free(L);
	return rc;
}

int config_load(const char *path, bool require_api, bb_config **out, config_report *report)
{
	sbuf b;
	char chunk[8192];
	bool too_big = false;
	int fd, rc;
	ssize_t r;

	*out = NULL;
	report->messages = NULL;
	report->hints = NULL;
	report->count = 0;
	if (strlen(path) >= PATH_MAX) {
		/* no file has such a name; the path is not echoed (it may be huge) */
		report_add(report, xasprintf("the configuration path is %zu bytes long, longer than any "
					     "file name (%d)", strlen(path), PATH_MAX - 1),
			   "check -c and $BBINGEST_CONFIG");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		report_add(report, xasprintf("%s: cannot open configuration file: %s", path, strerror(e)),
			   e == ENOENT ? "create it from the documented sample bbingest.yaml, or name "
					 "another file with -c FILE or $BBINGEST_CONFIG"
				       : "check the file's permissions and that bbingest runs as the "
					 "right user");
		return -1;
	}
	sbuf_init(&b, CONFIG_MAX_FILE_BYTES);
	for (;;) {
		r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			report_add(report, xasprintf("%s: cannot read configuration file: %s", path,
						     strerror(errno)), NULL);
			close(fd);
			sbuf_free(&b);
			return -1;
		}
		if (r == 0)
			break;
		if (sbuf_append(&b, chunk, (size_t)r) < 0) {
			too_big = true;
			break;
		}
	}
	close(fd);
	if (too_big) {
		report_add(report, xasprintf("%s: configuration file is larger than the limit of %d "
					     "bytes (1 MiB)", path, CONFIG_MAX_FILE_BYTES),
			   "a configuration file is a few kilobytes; check the path");
		sbuf_free(&b);
		return -1;
	}
	rc = config_load_buffer(path, b.data ? b.data : "", b.len, require_api, out, report);
	sbuf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* reference and reload                                                */
/* ------------------------------------------------------------------ */

static const char *type_name(const key_def *k)
{
	if (k->tname)
		return k->tname;
	switch (k->type) {
	case KT_STRING:
		return "string";
	case KT_PATH:
		return "path";
	case KT_INT:
		return "integer";
	case KT_DOUBLE:
		return "number";
	case KT_BOOL:
		return "boolean";
	case KT_DURATION:
		return "duration";
	case KT_SIZE:
		return "size";
	case KT_ENUM:
		return "enum";
	case KT_LIST:
		return "list of strings";
	case KT_ENUM_LIST:
		return "list of names";
	}
	return "?";
}

void config_write_reference(FILE *out)
{
	fprintf(out, "| key | type | default | range | reloadable | meaning |\n");
	fprintf(out, "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const key_def *k = &keys[i];
		char range[256] = "";
		char def[256];

		switch (k->type) {
		case KT_INT:
		case KT_DOUBLE:
		case KT_DURATION:
		case KT_SIZE: {
			char lo[32], hi[32];

			format_value(k, k->min, lo, sizeof lo);
			format_value(k, k->max, hi, sizeof hi);
			snprintf(range, sizeof range, "%s..%s", lo, hi);
			break;
		}
		case KT_ENUM:
		case KT_ENUM_LIST: {
			size_t o = 0;

			join_names(k, range, sizeof range, &o);
			break;
		}
		case KT_LIST:
			snprintf(range, sizeof range, "1..%d items", CONFIG_MAX_LIST_ITEMS);
			break;
		case KT_STRING:
		case KT_PATH:
		case KT_BOOL:
			break;
		}
		if (!k->def)
			snprintf(def, sizeof def, "%s", "(unset)");
		else if (!*k->def)
			snprintf(def, sizeof def, "%s", "\"\"");
		else if (k->type == KT_LIST || k->type == KT_ENUM_LIST)
			snprintf(def, sizeof def, "`%s`", k->type == KT_ENUM_LIST ? "all" : k->def);
		else
			snprintf(def, sizeof def, "`%s`", k->def);
		fprintf(out, "| `%s` | %s | %s | %s | %s | %s |\n", k->key, type_name(k), def, range,
			k->reloadable ? "yes" : "no", k->doc);
	}
}

static bool same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_list(const bb_config *a, const bb_config *b, const key_def *k)
{
	const char *const *la = *(const char *const *const *)(const void *)((const char *)a + k->off);
	const char *const *lb = *(const char *const *const *)(const void *)((const char *)b + k->off);
	size_t na = *(const size_t *)(const void *)((const char *)a + k->off_count);
	size_t nb = *(const size_t *)(const void *)((const char *)b + k->off_count);

	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(la[i], lb[i]) != 0)
			return false;
	return true;
}

size_t config_unreloadable_changes(const bb_config *a, const bb_config *b, const char **out,
				   size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		const key_def *k = &keys[i];
		bool same = true;

		if (k->reloadable)
			continue;
		switch (k->type) {
		case KT_STRING:
		case KT_PATH:
			same = same_string(str_value(a, k), str_value(b, k));
			break;
		case KT_ENUM:
			same = k->values ? get_number(a, k) == get_number(b, k)
					 : same_string(str_value(a, k), str_value(b, k));
			break;
		case KT_INT:
		case KT_DURATION:
		case KT_SIZE:
		case KT_ENUM_LIST:
			same = get_number(a, k) == get_number(b, k);
			break;
		case KT_DOUBLE:
		case KT_BOOL:
			same = memcmp((const char *)a + k->off, (const char *)b + k->off, k->width) == 0;
			break;
		case KT_LIST:
			same = same_list(a, b, k);
			break;
		}
		if (!same) {
			if (n < max)
				out[n] = k->key;
			n++;
		}
	}
	return n;
}
