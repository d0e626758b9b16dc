/*
 * Chunk independence: every fixture file flattened in one piece and again
 * fed in chunks of 1..64 bytes gives byte-identical CSV for every table; a
 * broken input gives the same error (same byte offset) whatever the chunk
 * size.  Also unit checks of the value parsers (dates, timestamps, decimals).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/minicheck.h"
#include "csvout.h"
#include "fhir_stream.h"
#include "log.h"
#include "util.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	sbuf b;
	char buf[65536];
	size_t n;

	if (!f)
		return NULL;
	sbuf_init(&b, 0);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sbuf_append(&b, buf, n);
	fclose(f);
	*len = b.len;
	return sbuf_steal(&b);
}

/* Flatten data fed in chunks of `chunk` bytes (0 = all at once). */
static char *flatten_all(const char *data, size_t len, size_t chunk, char **err)
{
	csvout *c = csvout_memory();
	fhir_stream *s = fhir_stream_new(csvout_sink(c), NULL);
	sbuf out;
	int rc = 0;

	sbuf_init(&out, 0);
	fhir_stream_begin(s, "fixture");
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && rc == 0; off += chunk)
		rc = fhir_stream_feed(s, data + off, len - off < chunk ? len - off : chunk);
	if (rc == 0)
		rc = fhir_stream_finish(s);
	*err = rc == 0 ? NULL : xstrdup(fhir_stream_error(s));
	for (int t = 0; t < FT_COUNT; t++) {
		size_t n;
		const char *d = csvout_data(c, t, &n);

		sbuf_printf(&out, "== %s\n", flat_tables[t].name);
		sbuf_append(&out, d, n);
	}
	fhir_stream_free(s);
	csvout_free(c);
	return sbuf_steal(&out);
}

static int check_file(const char *path)
{
	size_t len;
	char *data = read_file(path, &len), *err = NULL, *ref;
	int bad = 0;

	if (!data) {
		CHECK(!"fixture readable");
		return 0;
	}
	ref = flatten_all(data, len, 0, &err);
	CHECK(err == NULL);
	if (err)
		fprintf(stderr, "%s: %s\n", path, err);
	free(err);
	for (size_t cs = 1; cs <= 64; cs++) {
		char *e2 = NULL, *got = flatten_all(data, len, cs, &e2);

		if (e2 || strcmp(got, ref) != 0)
			bad++;
		free(e2);
		free(got);
	}
	CHECK(bad == 0);
	if (bad)
		fprintf(stderr, "%s: %d chunk sizes gave different CSV\n", path, bad);
	free(ref);
	free(data);
	return 1;
}

/* A broken document fails with the same message for every chunk size. */
static void check_error_stable(const char *what, const char *data, size_t len, const char *expect)
{
	char *ref = NULL, *out = flatten_all(data, len, 0, &ref);
	int bad = 0;

	free(out);
	CHECK(ref != NULL);
	if (!ref)
		return;
	CHECK_HAS(ref, expect);
	for (size_t cs = 1; cs <= 64; cs++) {
		char *e = NULL;

		out = flatten_all(data, len, cs, &e);
		if (!e || strcmp(e, ref) != 0) {
			bad++;
			fprintf(stderr, "%s, chunk %zu: [%s] vs [%s]\n", what, cs, e ? e : "(none)", ref);
		}
		free(e);
		free(out);
	}
	CHECK(bad == 0);
	printf("  %s: %s\n", what, ref);
	free(ref);
}

static void check_values(void)
{
	char d[10];

	mc_section("date, timestamp and number parsing");
	CHECK(flat_parse_date("2024-02-29", 10, d) && memcmp(d, "2024-02-29", 10) == 0);
	CHECK(!flat_parse_date("2023-02-29", 10, d));
	CHECK(!flat_parse_date("IGNORED_FIELD", 13, d));
	CHECK(!flat_parse_date("2020-13-01", 10, d));
	CHECK(!flat_parse_date("2018", 4, d));
	CHECK(flat_parse_date("2016-01-16T00:00:00+00:00", 25, d) && memcmp(d, "2016-01-16", 10) == 0);
	CHECK(!flat_parse_date("2016-01-16T00:00", 16, d));
	CHECK(flat_valid_timestamp("2020-01-07T03:02:28Z", 20));
	CHECK(flat_valid_timestamp("2020-01-07T03:02:28.000000Z", 27));
	CHECK(flat_valid_timestamp("2020-01-07T03:02:28.123456789-04:00", 35));
	CHECK(flat_valid_timestamp("2023-03-03T20:37:56.945+00:00", 29));
	CHECK(!flat_valid_timestamp("2020-01-07T03:02:28.1234567890Z", 31));
	CHECK(!flat_valid_timestamp("2020-01-07T03:02:28", 19));
	CHECK(!flat_valid_timestamp("2020-01-07", 10));
	CHECK(!flat_valid_timestamp("IGNORED_FIELD", 13));
	CHECK(!flat_valid_timestamp("2020-01-07T24:00:00Z", 20));
	CHECK(flat_valid_decimal("424627.40625", 12));
	CHECK(flat_valid_decimal("-91.0", 5));
	CHECK(flat_valid_decimal("0", 1));
	CHECK(flat_valid_decimal("1.5e2", 5));
	CHECK(flat_valid_decimal("123456789012345678.25", 21));
	CHECK(!flat_valid_decimal("1234567890123456789", 19));
	CHECK(!flat_valid_decimal("1e400", 5));
	CHECK(!flat_valid_decimal("1e19", 4));
	CHECK(!flat_valid_decimal("1e-50", 5));
	CHECK(flat_valid_decimal("0e999", 5) == 1);
	CHECK(flat_valid_int4("2147483647", 10));
	CHECK(flat_valid_int4("-2147483648", 11));
	CHECK(!flat_valid_int4("2147483648", 10));
	CHECK(!flat_valid_int4("1.0", 3));
	CHECK(!flat_valid_int4("1234567890123456789012345678901234567890", 40));
}

int main(void)
{
	const char *root = getenv("BB_FIXTURES");
	static const char *const dirs[] = { "ab2d", "bfd-v2", "bfd-v3-examples", "sample-client" };
	int files = 0;

	log_init("test_chunks", LOG_ERR, LOG_FORMAT_PLAIN);
	check_values();
	if (!root) {
		fprintf(stderr, "BB_FIXTURES is not set (run under meson test)\n");
		return 1;
	}
	mc_section("every fixture, chunk sizes 1..64, byte-identical CSV");
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		char *dir = xasprintf("%s/%s", root, dirs[i]);
		struct dirent **names = NULL;
		int n = scandir(dir, &names, NULL, alphasort);

		CHECK(n > 0);
		for (int k = 0; k < n; k++) {
			size_t l = strlen(names[k]->d_name);

			if (l > 5 && strcmp(names[k]->d_name + l - 5, ".json") == 0) {
				char *path = xasprintf("%s/%s", dir, names[k]->d_name);

				files += check_file(path);
				free(path);
			}
			free(names[k]);
		}
		free(names);
		free(dir);
	}
	printf("  %d files\n", files);
	CHECK(files >= 75);

	mc_section("errors do not depend on chunk boundaries");
	{
		char *path = xasprintf("%s/sample-client/eobData.json", root);
		size_t len;
		char *data = read_file(path, &len);

		CHECK(data != NULL);
		if (data) {
			check_error_stable("truncated", data, len / 2, "premature EOF");
			/* an invalid byte inside a string value */
			char *q = strstr(data + len / 3, "\"system\": \"");

			CHECK(q != NULL);
			if (q) {
				q[11] = '\xff';
				check_error_stable("invalid UTF-8", data, len, "UTF8");
			}
			free(data);
		}
		free(path);
		check_error_stable("number too large",
			"{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"x\",\"item\":[{\"sequence\":1,"
			"\"adjudication\":[{\"amount\":{\"value\":1e400}}]}]}", 116, "out of range");
		check_error_stable("object for array",
			"{\"item\":{\"sequence\":1},\"id\":\"x\",\"resourceType\":\"ExplanationOfBenefit\"}",
			70, "ExplanationOfBenefit.item: expected an array, found an object");
	}
	return mc_done("test_chunks");
}
