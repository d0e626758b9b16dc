/*
 * libFuzzer target: the strict query-string parser of daemon/oauthutil
 * (what /enroll and /callback receive from anyone on the network).
 *
 * Checks, beyond "no crash, no leak, no undefined behaviour":
 *   - a refusal leaves no result and explains itself in printable ASCII
 *     (raw input bytes never reach the message);
 *   - an accepted query respects the caps, has non-empty names, and
 *     survives re-encoding: every name and value percent-encoded again and
 *     parsed gives the same parameters in the same order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauthutil.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_message(const char *err)
{
	check(err[0] != '\0');
	for (const char *p = err; *p; p++)
		check(*p >= 0x20 && *p <= 0x7e);
}

static void roundtrip(const ou_query *q, bool dups)
{
	ou_query_limits big = { .max_len = 1 << 20, .max_params = 1024, .allow_duplicates = dups };
	char err[256] = "";
	ou_query *q2 = NULL;
	sbuf b;

	sbuf_init(&b, 0);
	for (size_t i = 0; i < ou_query_count(q); i++)
		check(ou_form_append(&b, ou_query_name(q, i), ou_query_value(q, i)) == 0);
	check(ou_query_parse(b.data ? b.data : "", b.len, &big, &q2, err, sizeof err) == OU_QUERY_OK);
	check(ou_query_count(q2) == ou_query_count(q));
	for (size_t i = 0; i < ou_query_count(q); i++) {
		check(strcmp(ou_query_name(q, i), ou_query_name(q2, i)) == 0);
		check(strcmp(ou_query_value(q, i), ou_query_value(q2, i)) == 0);
	}
	ou_query_free(q2);
	sbuf_free(&b);
}

static void one(const char *s, size_t len, const ou_query_limits *lim)
{
	char err[256] = "";
	ou_query *q = (ou_query *)1;
	ou_query_status st = ou_query_parse(s, len, lim, &q, err, sizeof err);
	size_t max_params = lim && lim->max_params ? lim->max_params : OU_QUERY_DEFAULT_MAX_PARAMS;

	if (st != OU_QUERY_OK) {
		check(q == NULL);
		check_message(err);
		return;
	}
	check(q != NULL);
	check(ou_query_count(q) <= max_params);
	for (size_t i = 0; i < ou_query_count(q); i++) {
		const char *name = ou_query_name(q, i);

		check(name && name[0] != '\0' && ou_query_value(q, i) != NULL);
		check(ou_query_get(q, name) != NULL);
		if (!(lim && lim->allow_duplicates))
			for (size_t j = 0; j < i; j++)
				check(strcmp(ou_query_name(q, j), name) != 0);
	}
	roundtrip(q, lim && lim->allow_duplicates);
	ou_query_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	ou_query_limits small = { .max_len = 64, .max_params = 3, .allow_duplicates = false };
	ou_query_limits dups = { .max_len = 8192, .max_params = 100, .allow_duplicates = true };
	size_t n;
	char *d;

	one(s, size, NULL);
	one(s, size, &small);
	one(s, size, &dups);

	/* one component on its own: decoding never grows it, never lets NUL through */
	d = ou_pct_decode(s, size, &n);
	if (d) {
		check(n <= size && strlen(d) == n);
		free(d);
	}
	return 0;
}
