/*
 * config: defaults, the memory loader, value parsers, caps on hostile
 * input, reload comparison.  Messages of the command are checked by
 * config_check.sh; this file checks the structure the loader fills.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sysexits.h>

#include "cli.h"
#include "config.h"
#include "util.h"

static int checks, failures;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		checks++;                                                            \
		if (!(cond)) {                                                       \
			failures++;                                                  \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                    \
	} while (0)

static char tmpdir[] = "/tmp/test_config.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");

	if (!f) {
		perror(p);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	free(p);
}

/* load TEXT from memory as TMPDIR/test.yaml; returns the config or NULL */
static bb_config *load(const char *text, bool require_api, config_report *rep)
{
	char *name = xasprintf("%s/test.yaml", tmpdir);
	bb_config *c = NULL;

	config_load_buffer(name, text, strlen(text), require_api, &c, rep);
	free(name);
	return c;
}

/* true if some message of REP contains NEEDLE */
static bool has_message(const config_report *rep, const char *needle)
{
	for (size_t i = 0; i < rep->count; i++)
		if (strstr(rep->messages[i], needle))
			return true;
	return false;
}

static void check_defaults(const bb_config *c)
{
	CHECK(strcmp(c->api_base_url, "https://sandbox.bluebutton.cms.gov") == 0);
	CHECK(strcmp(c->api_version, "v2") == 0);
	CHECK(c->client_id == NULL && c->client_secret == NULL && c->redirect_uri == NULL);
	CHECK(c->n_scopes == 4 && strcmp(c->scopes[3], "patient/ExplanationOfBenefit.rs") == 0);
	CHECK(c->ca_file == NULL);
	CHECK(c->api_timeout_s == 60 && c->token_timeout_s == 120);
	CHECK(strcmp(c->db_conninfo, "") == 0);
	CHECK(c->vault_key_file == NULL && c->vault_key_credential == NULL);
	CHECK(strcmp(c->listen_address, "127.0.0.1") == 0 && c->listen_port == 8455);
	CHECK(c->public_url == NULL);
	CHECK(c->invite_expiry_s == 14 * 86400 && c->state_expiry_s == 600);
	CHECK(c->concurrency == 16 && c->request_rate == 10.0 && c->request_burst == 20);
	CHECK(c->sync_interval_s == 86400 && c->page_size == 50 && c->claim_types == CLAIM_ALL);
	CHECK(c->lease_batch == 100 && c->lease_s == 600);
	CHECK(c->retry_base_s == 30 && c->retry_max_s == 6 * 3600);
	CHECK(c->refresh_interval_s == 7 * 86400 && c->refresh_jitter_s == 3600 &&
	      c->refresh_ahead_s == 300);
	CHECK(c->max_page_bytes == 64u << 20 && c->max_string_bytes == 1u << 20);
	CHECK(c->max_depth == 64 && c->max_resource_bytes == 8u << 20);
	CHECK(c->log_level == LOG_INFO && c->log_format == LOG_FORMAT_AUTO);
}

static void test_defaults(void)
{
	bb_config *c = config_defaults();
	config_report rep;

	check_defaults(c);
	config_free(c);

	/* an empty file, a file of comments, empty sections: all defaults */
	c = load("", false, &rep);
	CHECK(c && rep.count == 0);
	if (c)
		check_defaults(c);
	config_free(c);
	config_report_free(&rep);

	c = load("# nothing\n\nsync:\nlog:\n  level:\n", false, &rep);
	CHECK(c && rep.count == 0);
	if (c)
		check_defaults(c);
	config_free(c);
	config_report_free(&rep);
}

static void test_values(void)
{
	config_report rep;
	bb_config *c;

	write_file("secret", "s3cr3t \n\n");
	write_file("key", "0123456789abcdef0123456789abcdef");
	c = load("api:\n"
		 "  base_url: https://api.bluebutton.cms.gov/\n"
		 "  client_id: \"abc\"\n"
		 "  client_secret_file: secret\n"
		 "  redirect_uri: http://localhost:8455/callback\n"
		 "  scopes: [openid, patient/ExplanationOfBenefit.rs]\n"
		 "  timeout: 2m\n"
		 "database:\n"
		 "  conninfo: host=/run/postgresql dbname=bb\n"
		 "vault:\n"
		 "  key_file: key\n"
		 "listener:\n"
		 "  address: '::1'\n"
		 "  port: \"9000\"\n"
		 "  public_url: https://bb.example.org\n"
		 "enrolment: {invite_expiry: 86400, state_expiry: 5m}\n"
		 "sync:\n"
		 "  concurrency: 1024\n"
		 "  request_rate: 2.5\n"
		 "  claim_types:\n"
		 "    - pde\n"
		 "    - carrier\n"
		 "    - pde\n"
		 "  retry_max: 30d\n"
		 "limits:\n"
		 "  max_page_bytes: 1GiB\n"
		 "  max_resource_bytes: 65536\n"
		 "  max_string_bytes: 2KiB\n"
		 "log: {level: debug, format: journal}\n",
		 true, &rep);
	config_report_print(&rep, stderr);
	CHECK(c != NULL && rep.count == 0);
	if (c) {
		char *key = xasprintf("%s/key", tmpdir);

		CHECK(strcmp(c->api_base_url, "https://api.bluebutton.cms.gov") == 0);
		CHECK(strcmp(c->client_id, "abc") == 0);
		CHECK(strcmp(c->client_secret, "s3cr3t") == 0);
		CHECK(c->n_scopes == 2 && strcmp(c->scopes[0], "openid") == 0);
		CHECK(c->api_timeout_s == 120);
		CHECK(strcmp(c->db_conninfo, "host=/run/postgresql dbname=bb") == 0);
		CHECK(strcmp(c->vault_key_file, key) == 0 && strcmp(c->vault_key_path, key) == 0);
		CHECK(strcmp(c->listen_address, "::1") == 0 && c->listen_port == 9000);
		CHECK(c->invite_expiry_s == 86400 && c->state_expiry_s == 300);
		CHECK(c->concurrency == 1024 && c->request_rate == 2.5);
		CHECK(c->claim_types == (CLAIM_PDE | CLAIM_CARRIER));
		CHECK(c->retry_max_s == 30 * 86400);
		CHECK(c->max_page_bytes == 1u << 30 && c->max_resource_bytes == 65536 &&
		      c->max_string_bytes == 2048);
		CHECK(c->log_level == LOG_DEBUG && c->log_format == LOG_FORMAT_JOURNAL);
		free(key);
	}
	config_free(c);
	config_report_free(&rep);
}

static void test_credentials(void)
{
	config_report rep;
	bb_config *c;
	char *dir = xasprintf("%s/creds", tmpdir);
	char *p;

	p = xasprintf("mkdir -p %s && printf 'cred-secret' > %s/cs && printf k > %s/vk", dir, dir, dir);
	CHECK(system(p) == 0);
	free(p);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	c = load("api:\n  client_secret_credential: cs\nvault:\n  key_credential: vk\n", false, &rep);
	CHECK(c != NULL);
	if (c) {
		p = xasprintf("%s/vk", dir);
		CHECK(strcmp(c->client_secret, "cred-secret") == 0);
		CHECK(strcmp(c->vault_key_path, p) == 0);
		free(p);
	}
	config_free(c);
	config_report_free(&rep);

	c = load("api:\n  client_secret_credential: ../etc/passwd\n", false, &rep);
	CHECK(c == NULL && has_message(&rep, "must be a credential name"));
	config_free(c);
	config_report_free(&rep);
	unsetenv("CREDENTIALS_DIRECTORY");
	free(dir);
}

static void test_parsers(void)
{
	int64_t s = -1;
	uint64_t b = 0;
	bool v = false;
	char buf[32];

	CHECK(config_parse_duration("30s", &s) == 0 && s == 30);
	CHECK(config_parse_duration("10m", &s) == 0 && s == 600);
	CHECK(config_parse_duration("24h", &s) == 0 && s == 86400);
	CHECK(config_parse_duration("14d", &s) == 0 && s == 14 * 86400);
	CHECK(config_parse_duration("90", &s) == 0 && s == 90);
	CHECK(config_parse_duration("", &s) < 0);
	CHECK(config_parse_duration("-5s", &s) < 0);
	CHECK(config_parse_duration("5 s", &s) < 0);
	CHECK(config_parse_duration("1w", &s) < 0);
	CHECK(config_parse_duration("99999999999999999999d", &s) < 0);
	CHECK(config_parse_duration("9999999999999999999d", &s) < 0);
	config_format_duration(600, buf, sizeof buf);
	CHECK(strcmp(buf, "10m") == 0);
	config_format_duration(90, buf, sizeof buf);
	CHECK(strcmp(buf, "90s") == 0);
	config_format_duration(0, buf, sizeof buf);
	CHECK(strcmp(buf, "0s") == 0);
	config_format_duration(14 * 86400, buf, sizeof buf);
	CHECK(strcmp(buf, "14d") == 0);

	CHECK(config_parse_size("64MiB", &b) == 0 && b == 64u << 20);
	CHECK(config_parse_size("512KiB", &b) == 0 && b == 512u << 10);
	CHECK(config_parse_size("1GiB", &b) == 0 && b == 1u << 30);
	CHECK(config_parse_size("1000", &b) == 0 && b == 1000);
	CHECK(config_parse_size("1MB", &b) < 0);
	CHECK(config_parse_size("MiB", &b) < 0);

	CHECK(config_parse_bool("true", &v) == 0 && v);
	CHECK(config_parse_bool("Off", &v) == 0 && !v);
	CHECK(config_parse_bool("maybe", &v) < 0);

	CHECK(config_claim_type_bit("hospice") == CLAIM_HOSPICE);
	CHECK(config_claim_type_bit("HOSPICE") == 0);
	CHECK(strcmp(config_claim_type_name(CLAIM_SNF), "snf") == 0);
	CHECK(config_claim_type_name(CLAIM_ALL) == NULL);
}

/* hostile shapes: every one is refused with a message, none crashes or leaks */
static void test_hostile(void)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "[1, 2]\n", "must be a mapping of sections" },
		{ "just text\n", "must be a mapping of sections" },
		{ "sync: &a {concurrency: 2}\nlog: *a\n", "aliases" },
		{ "sync: {}\n---\nsync: {}\n", "only one YAML document" },
		{ "? [a, b]\n: c\n", "keys must be plain names" },
		{ "sync:\n  concurrency: 99999999999999999999999\n", "outside the allowed range" },
		{ "sync:\n  request_rate: 1e999\n", "must be a number" },
		{ "sync:\n  request_rate: nan\n", "must be a number" },
		{ "sync:\n  request_rate: 0x10\n", "must be a number" },
		{ "sync:\n  claim_types: []\n", "must not be empty" },
		{ "sync:\n  claim_types: [[carrier]]\n", "\"sync.claim_types[1]\" must be one of" },
		{ "api:\n  client_id: \"a\\0b\"\n", "NUL character" },
		{ "api:\n  client_id: \"\"\n", "must be a non-empty string" },
		{ "api:\n  ca_file: ''\n", "\"api.ca_file\" must be a file path, not \"\"" },
		{ "api:\n  base_url: https://user@host/\n", "must be an https URL" },
		{ "api:\n  base_url: https://host:99999\n", "must be an https URL" },
		{ "api:\n  redirect_uri: ftp://x/cb\n", "must be an http or https URL" },
		{ "api:\n  ca_file: /nonexistent/ca.pem\n", "cannot read \"api.ca_file\"" },
		{ "api:\n  client_secret_file: /dev/null\n", "not a regular file" },
		{ "vault:\n  key_file: /nonexistent\n  key_credential: x\n", "both set" },
		{ "limits:\n  max_string_bytes: 64MiB\n", "must not be greater than" },
		{ "sync:\n  retry_base: 1d\n  retry_max: 1h\n", "must not be greater than" },
		{ "a: \xc3\x28\n", "YAML syntax error: invalid trailing UTF-8 octet" },
		{ "a: \"unterminated\n", "YAML syntax error" },
	};
	config_report rep;
	bb_config *c;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c = load(cases[i].text, false, &rep);
		CHECK(c == NULL && rep.count > 0);
		if (!has_message(&rep, cases[i].needle)) {
			failures++;
			fprintf(stderr, "case %zu: no message with \"%s\":\n", i, cases[i].needle);
			config_report_print(&rep, stderr);
		}
		checks++;
		config_free(c);
		config_report_free(&rep);
	}

	/* caps: depth, string length, list length, problem count */
	{
		sbuf b;

		sbuf_init(&b, 0);
		sbuf_puts(&b, "sync: ");
		for (int i = 0; i < 40; i++)
			sbuf_putc(&b, '[');
		c = load(b.data, false, &rep);
		CHECK(c == NULL && has_message(&rep, "nesting deeper than 16 levels"));
		config_report_free(&rep);
		sbuf_free(&b);

		sbuf_init(&b, 0);
		sbuf_puts(&b, "api:\n  client_id: ");
		for (int i = 0; i < CONFIG_MAX_STRING_BYTES + 1; i++)
			sbuf_putc(&b, 'x');
		sbuf_putc(&b, '\n');
		c = load(b.data, false, &rep);
		CHECK(c == NULL && has_message(&rep, "longer than the limit of 4096 bytes"));
		config_report_free(&rep);
		sbuf_free(&b);

		sbuf_init(&b, 0);
		sbuf_puts(&b, "api:\n  scopes:\n");
		for (int i = 0; i < CONFIG_MAX_LIST_ITEMS + 5; i++)
			sbuf_printf(&b, "    - s%d\n", i);
		c = load(b.data, false, &rep);
		CHECK(c == NULL && has_message(&rep, "\"api.scopes\" has more than 64 items") &&
		      rep.count == 1);
		config_report_free(&rep);
		sbuf_free(&b);

		sbuf_init(&b, 0);
		for (int i = 0; i < 500; i++)
			sbuf_printf(&b, "k%d: 1\n", i);
		c = load(b.data, false, &rep);
		CHECK(c == NULL && rep.count == CONFIG_MAX_PROBLEMS + 1 &&
		      has_message(&rep, "too many problems"));
		config_report_free(&rep);
		sbuf_free(&b);
	}
}

static void test_reload(void)
{
	config_report rep;
	bb_config *a = config_defaults(), *b;
	const char *keys[8];
	size_t n;

	b = load("listener:\n  port: 9000\nsync:\n  concurrency: 3\ndatabase:\n  conninfo: x=y\n",
		 false, &rep);
	CHECK(b != NULL);
	if (b) {
		n = config_unreloadable_changes(a, b, keys, 8);
		CHECK(n == 2);
		CHECK(n == 2 && strcmp(keys[0], "database.conninfo") == 0 &&
		      strcmp(keys[1], "listener.port") == 0);
		CHECK(config_unreloadable_changes(a, a, keys, 8) == 0);
	}
	config_free(a);
	config_free(b);
	config_report_free(&rep);
}

static void test_reference(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	config_write_reference(f);
	fclose(f);
	CHECK(strstr(buf, "| `sync.page_size` | integer | `50` | 1..50 | yes |") != NULL);
	CHECK(strstr(buf, "| `listener.port` | integer | `8455` | 1..65535 | no |") != NULL);
	free(buf);
}

/* config_for_command: optional default file, explicit file, -d override */
static void test_for_command(void)
{
	cli_ctx ctx = { 0 };
	bb_config *c = NULL;
	char *missing = xasprintf("%s/absent.yaml", tmpdir);
	char *present = xasprintf("%s/present.yaml", tmpdir);

	ctx.config_path = missing;
	CHECK(config_for_command(&ctx, false, true, &c) == 0 && c != NULL);
	if (c)
		check_defaults(c);
	config_free(c);
	c = NULL;

	/* not optional, or named explicitly: a missing file is an error */
	CHECK(config_for_command(&ctx, false, false, &c) == EX_CONFIG && c == NULL);
	ctx.config_explicit = true;
	CHECK(config_for_command(&ctx, false, true, &c) == EX_CONFIG && c == NULL);

	write_file("present.yaml", "database:\n  conninfo: dbname=a\nsync:\n  page_size: 10\n");
	ctx.config_path = present;
	CHECK(config_for_command(&ctx, false, true, &c) == 0 && c &&
	      strcmp(c->db_conninfo, "dbname=a") == 0 && c->page_size == 10);
	config_free(c);
	c = NULL;
	ctx.conninfo = "dbname=b";
	CHECK(config_for_command(&ctx, false, true, &c) == 0 && c &&
	      strcmp(c->db_conninfo, "dbname=b") == 0);
	config_free(c);
	c = NULL;
	/* the daemon's needs are not met by this file */
	CHECK(config_for_command(&ctx, true, true, &c) == EX_CONFIG && c == NULL);
	free(missing);
	free(present);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	unsetenv("CREDENTIALS_DIRECTORY");
	test_defaults();
	test_values();
	test_credentials();
	test_parsers();
	test_hostile();
	test_reload();
	test_reference();
	test_for_command();
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);

		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
		free(cmd);
	}
	printf("test_config: %d passed, %d failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}
