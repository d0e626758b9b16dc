/*
 * http: against a small libmicrohttpd server on loopback: buffered and
 * streamed bodies, POST, Retry-After, no redirects followed, body caps,
 * plain http refused unless allowed, connection refused.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "util.h"

static int checks, failures;

#define CHECK(cond, what) do { \
	checks++; \
	if (cond) printf("ok %d - %s\n", checks, what); \
	else { printf("not ok %d - %s (%s:%d)\n", checks, what, __FILE__, __LINE__); failures++; } \
} while (0)

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **state)
{
	static int marker;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned status = 200;
	char body[256];

	(void)cls; (void)version;
	if (*state == NULL) {
		*state = &marker;
		return MHD_YES;
	}
	if (strcmp(method, "POST") == 0 && *upload_size) {
		*upload_size = 0;   /* echo below needs the body: keep it simple */
		(void)upload;
		return MHD_YES;
	}
	if (strcmp(url, "/big") == 0) {
		char *big = xmalloc(200000);

		memset(big, 'x', 200000);
		r = MHD_create_response_from_buffer(200000, big, MHD_RESPMEM_MUST_FREE);
	} else {
		if (strcmp(url, "/429") == 0) {
			status = 429;
			snprintf(body, sizeof body, "{\"detail\":\"slow down\"}");
		} else if (strcmp(url, "/redirect") == 0) {
			status = 302;
			snprintf(body, sizeof body, "moved");
		} else if (strcmp(url, "/auth") == 0) {
			const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

			snprintf(body, sizeof body, "%s", a ? a : "none");
		} else {
			snprintf(body, sizeof body, "%s %s", method, url);
		}
		r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	}
	if (status == 429)
		MHD_add_response_header(r, "Retry-After", "7");
	if (status == 302)
		MHD_add_response_header(r, "Location", "http://127.0.0.2:1/elsewhere");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

typedef struct result {
	int done;
	long status;
	CURLcode code;
	char body[512];
	size_t streamed;
	int64_t retry_after;
	bool truncated;
} result;

static void on_done(void *ud, const http_result *r)
{
	result *res = ud;

	res->done++;
	res->status = r->status;
	res->code = r->code;
	res->retry_after = r->retry_after_s;
	res->truncated = r->body_truncated;
	if (r->body)
		snprintf(res->body, sizeof res->body, "%.*s", (int)r->body_len, r->body);
}

static int on_data(void *ud, const char *d, size_t n)
{
	result *res = ud;

	(void)d;
	res->streamed += n;
	return 0;
}

static void run(http *h, result *res, int n)
{
	for (int i = 0; i < 500; i++) {
		int done = 0;

		for (int k = 0; k < n; k++)
			done += res[k].done;
		if (done == n)
			return;
		http_poll(h, NULL, 0, 100);
		http_perform(h);
	}
}

int main(void)
{
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
						0, NULL, NULL, handler, NULL,
						MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
	char err[256], url[128];
	const union MHD_DaemonInfo *info;
	unsigned port;
	http *h, *strict;
	result r[8];

	if (!d) {
		printf("not ok - could not start the test server\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = info->port;
	h = http_new(NULL, 4, true, err, sizeof err);
	CHECK(h != NULL, "http_new");
	memset(r, 0, sizeof r);

	snprintf(url, sizeof url, "http://127.0.0.1:%u/hello", port);
	CHECK(http_start(h, &(http_request){ .url = url, .on_done = on_done, .ud = &r[0] }, err, sizeof err) == 0, "start GET");
	snprintf(url, sizeof url, "http://127.0.0.1:%u/429", port);
	http_start(h, &(http_request){ .url = url, .on_done = on_done, .ud = &r[1] }, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/redirect", port);
	http_start(h, &(http_request){ .url = url, .on_done = on_done, .ud = &r[2] }, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/big", port);
	http_start(h, &(http_request){ .url = url, .on_done = on_done, .on_data = on_data, .ud = &r[3], .max_body = 1000000 }, err, sizeof err);
	http_start(h, &(http_request){ .url = url, .on_done = on_done, .ud = &r[4], .max_body = 1000 }, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/auth", port);
	http_start(h, &(http_request){ .url = url, .on_done = on_done, .ud = &r[5],
		.auth_header = "Authorization: Bearer abc" }, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/form", port);
	http_start(h, &(http_request){ .url = url, .method = "POST", .body = "a=1", .body_len = 3,
		.content_type = "application/x-www-form-urlencoded", .on_done = on_done, .ud = &r[6] }, err, sizeof err);
	http_start(h, &(http_request){ .url = "http://127.0.0.1:1/closed", .on_done = on_done, .ud = &r[7] }, err, sizeof err);
	CHECK(http_inflight(h) == 8, "eight transfers in flight");
	run(h, r, 8);

	CHECK(r[0].done == 1 && r[0].status == 200 && strcmp(r[0].body, "GET /hello") == 0, "buffered GET body");
	CHECK(r[1].status == 429 && r[1].retry_after == 7, "429 carries Retry-After");
	CHECK(r[2].status == 302 && strcmp(r[2].body, "moved") == 0, "a redirect is not followed");
	CHECK(r[3].status == 200 && r[3].streamed == 200000 && r[3].body[0] == '\0', "streamed body goes to on_data only");
	CHECK(r[4].truncated && r[4].code != CURLE_OK, "a body past max_body ends the transfer");
	CHECK(strcmp(r[5].body, "Bearer abc") == 0, "authorization header sent");
	CHECK(r[6].status == 200 && strcmp(r[6].body, "POST /form") == 0, "POST");
	CHECK(r[7].code == CURLE_COULDNT_CONNECT && r[7].status == 0, "connection refused reported");
	CHECK(http_inflight(h) == 0, "nothing left in flight");

	strict = http_new(NULL, 4, false, err, sizeof err);
	CHECK(http_start(strict, &(http_request){ .url = url, .on_done = on_done, .ud = &r[0] }, err, sizeof err) == -1,
	      "plain http refused when not allowed");
	CHECK(http_start(strict, &(http_request){ .url = "ftp://x/", .on_done = on_done }, err, sizeof err) == -1,
	      "other schemes refused");
	/* a transfer still in flight at free is completed as aborted */
	memset(&r[0], 0, sizeof r[0]);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/hello", port);
	http_start(h, &(http_request){ .url = url, .on_done = on_done, .ud = &r[0] }, err, sizeof err);
	http_free(h);
	CHECK(r[0].done == 1, "http_free completes what is in flight");
	http_free(strict);
	MHD_stop_daemon(d);
	curl_global_cleanup();
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}
