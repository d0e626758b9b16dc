/*
 * Unit tests of daemon/listener, driven the way the daemon drives it: one
 * thread, one loop, curl_multi_poll() waiting on curl's sockets and on
 * listener_fd() together, then listener_run() and curl_multi_perform().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "listener.h"
#include "minicheck.h"

typedef struct result {
	long status;
	CURLcode code;
	sbuf body;
	sbuf headers;
} result;

static long fetch_timeout_ms = 10000;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	result *r = arg;

	return sbuf_append(&r->body, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	result *r = arg;

	return sbuf_append(&r->headers, p, size * n) == 0 ? size * n : 0;
}

/* Run one request through curl multi and the listener in one loop. */
static void fetch(listener *l, const char *method, const char *path, const char *body, result *r)
{
	CURLM *m = curl_multi_init();
	CURL *e = curl_easy_init();
	char *url = xasprintf("http://127.0.0.1:%d%s", listener_port(l), path);
	int running = 1, loops = 0;
	CURLMsg *msg;
	int left;

	memset(r, 0, sizeof *r);
	sbuf_init(&r->body, 1 << 20);
	sbuf_init(&r->headers, 1 << 16);
	r->code = CURLE_OK;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, fetch_timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_multi_add_handle(m, e);
	while (running && loops++ < 10000) {
		struct curl_waitfd wfd = { .fd = listener_fd(l), .events = CURL_WAIT_POLLIN };
		int lt = listener_timeout_ms(l), timeout = 100, nfds;

		if (lt >= 0 && lt < timeout)
			timeout = lt;
		curl_multi_poll(m, &wfd, 1, timeout, &nfds);
		listener_run(l);
		curl_multi_perform(m, &running);
	}
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE)
			r->code = msg->data.result;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	curl_multi_remove_handle(m, e);
	curl_easy_cleanup(e);
	curl_multi_cleanup(m);
	free(url);
}

static void result_free(result *r)
{
	sbuf_free(&r->body);
	sbuf_free(&r->headers);
}

static int handler_calls;

static void hello(void *arg, const listener_request *req, listener_response *resp)
{
	const char *name = ou_query_get(req->query, "name");

	handler_calls++;
	CHECK_STR((const char *)arg, "hello-arg");
	CHECK_STR(req->client, "127.0.0.1");
	CHECK(listener_request_header(req, "Host") != NULL);
	sbuf_printf(&resp->body, "hello %s (%zu params, path %s)", name ? name : "nobody",
	            ou_query_count(req->query), req->path);
}

static void redirect(void *arg, const listener_request *req, listener_response *resp)
{
	(void)arg;
	(void)req;
	resp->status = 302;
	resp->content_type = "text/html; charset=utf-8";
	listener_set_location(resp, "https://sandbox.bluebutton.cms.gov/v2/o/authorize/?state=abc");
	CHECK(listener_add_header(resp, "X-Test", "yes") == 0);
	CHECK(listener_add_header(resp, "X-Bad", "a\r\nSet-Cookie: evil=1") == 0);
	sbuf_puts(&resp->body, "<a href=\"...\">continue</a>");
}

static void post_only(void *arg, const listener_request *req, listener_response *resp)
{
	(void)arg;
	(void)req;
	resp->status = 204;
}

static void friendly(void *arg, int status, const char *reason, listener_response *resp)
{
	(void)arg;
	resp->content_type = "text/html; charset=utf-8";
	sbuf_printf(&resp->body, "<p>sorry (%d): %s</p>", status, reason);
}

static const listener_route routes[] = {
	{ "GET", "/hello", hello, (void *)(uintptr_t)"hello-arg" },
	{ "GET", "/go", redirect, NULL },
	{ "POST", "/hello", post_only, NULL },
	{ "DELETE", "/only-delete", post_only, NULL },
};

static void test_routes(listener *l)
{
	result r;

	mc_section("GET with a parsed query: status, body, headers");
	fetch(l, "GET", "/hello?name=World%21&x=1", NULL, &r);
	CHECK(r.code == CURLE_OK);
	CHECK(r.status == 200);
	CHECK_STR(r.body.data, "hello World! (2 params, path /hello)");
	CHECK_HAS(r.headers.data, "Content-Type: text/plain; charset=utf-8");
	CHECK_HAS(r.headers.data, "Cache-Control: no-store");
	CHECK_HAS(r.headers.data, "Referrer-Policy: no-referrer");
	CHECK_HAS(r.headers.data, "X-Content-Type-Options: nosniff");
	CHECK_HAS(r.headers.data, "Content-Security-Policy: default-src 'none'");
	result_free(&r);
	fetch(l, "GET", "/hello", NULL, &r);
	CHECK(r.status == 200);
	CHECK_STR(r.body.data, "hello nobody (0 params, path /hello)");
	result_free(&r);

	mc_section("HEAD answers like GET without a body");
	fetch(l, "HEAD", "/hello?name=x", NULL, &r);
	CHECK(r.status == 200 && r.body.len == 0);
	result_free(&r);

	mc_section("a redirect carries Location; unsafe header values are dropped");
	fetch(l, "GET", "/go", NULL, &r);
	CHECK(r.status == 302);
	CHECK_HAS(r.headers.data, "Location: https://sandbox.bluebutton.cms.gov/v2/o/authorize/?state=abc");
	CHECK_HAS(r.headers.data, "Content-Type: text/html; charset=utf-8");
	CHECK_HAS(r.headers.data, "X-Test: yes");
	CHECK(strstr(r.headers.data, "evil") == NULL);
	result_free(&r);

	mc_section("unknown path 404, wrong method 405 with Allow");
	fetch(l, "GET", "/nope?x=1", NULL, &r);
	CHECK(r.status == 404);
	result_free(&r);
	fetch(l, "GET", "/hello/", NULL, &r);
	CHECK(r.status == 404);
	result_free(&r);
	fetch(l, "GET", "/%68ello", NULL, &r);     /* paths match raw, not decoded */
	CHECK(r.status == 404);
	result_free(&r);
	fetch(l, "PUT", "/hello", NULL, &r);
	CHECK(r.status == 405);
	CHECK_HAS(r.headers.data, "Allow: GET, HEAD, POST");
	result_free(&r);
	fetch(l, "GET", "/only-delete", NULL, &r);
	CHECK(r.status == 405);
	CHECK_HAS(r.headers.data, "Allow: DELETE");
	result_free(&r);

	mc_section("request bodies are refused with 413");
	fetch(l, "POST", "/hello", "a=1", &r);
	CHECK(r.status == 413);
	result_free(&r);
	fetch(l, "DELETE", "/only-delete", NULL, &r);
	CHECK(r.status == 204);
	result_free(&r);
}

static void test_query_caps(listener *l)
{
	result r;
	sbuf u;
	int before;

	mc_section("a query over the URL cap is refused with 414 and the handler never runs");
	before = handler_calls;
	sbuf_init(&u, 0);
	sbuf_puts(&u, "/hello?name=");
	for (int i = 0; i < 5000; i++)
		sbuf_putc(&u, 'a');
	fetch(l, "GET", u.data, NULL, &r);
	CHECK(r.status == 414);
	CHECK_HAS(r.body.data, "sorry (414)");
	result_free(&r);

	mc_section("a request line far over MHD's memory is refused too (414/431/400)");
	for (int i = 0; i < 60000; i++)
		sbuf_putc(&u, 'b');
	fetch(l, "GET", u.data, NULL, &r);
	CHECK(r.status == 414 || r.status == 431 || r.status == 400);
	printf("  (answered %ld)\n", r.status);
	result_free(&r);
	sbuf_free(&u);

	mc_section("too many parameters, bad escapes, NUL and duplicates give 400");
	sbuf_init(&u, 0);
	sbuf_puts(&u, "/hello?");
	for (int i = 0; i < 40; i++)
		sbuf_printf(&u, "p%d=1&", i);
	fetch(l, "GET", u.data, NULL, &r);
	CHECK(r.status == 400);
	CHECK_HAS(r.body.data, "more than 32 parameters");
	result_free(&r);
	sbuf_free(&u);
	fetch(l, "GET", "/hello?name=SECRETTOKEN%zz", NULL, &r);
	CHECK(r.status == 400);
	CHECK(strstr(r.body.data, "SECRETTOKEN") == NULL);
	CHECK_HAS(r.body.data, "'name' has a malformed value");
	result_free(&r);
	fetch(l, "GET", "/hello?name=a%00b", NULL, &r);
	CHECK(r.status == 400);
	result_free(&r);
	fetch(l, "GET", "/hello?state=a&state=b", NULL, &r);
	CHECK(r.status == 400);
	CHECK_HAS(r.body.data, "more than once");
	result_free(&r);
	CHECK(handler_calls == before);

	mc_section("the listener still serves after all that");
	fetch(l, "GET", "/hello?name=again", NULL, &r);
	CHECK(r.status == 200);
	CHECK_HAS(r.body.data, "hello again");
	result_free(&r);
}

static void test_connection_limit(void)
{
	listener_limits lim = { .max_connections = 2, .max_per_ip = 2 };
	char err[512];
	listener *l = listener_new(NULL, 0, routes, 4, &lim, err, sizeof err);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int idle[2];
	result r;

	mc_section("connection cap: with 2 idle connections open a third request is not served");
	CHECK(l != NULL);
	if (!l)
		return;
	sa.sin_port = htons((uint16_t)listener_port(l));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 2; i++) {
		idle[i] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(connect(idle[i], (struct sockaddr *)&sa, sizeof sa) == 0);
	}
	for (int i = 0; i < 20; i++)
		listener_run(l);     /* accept them */
	/* MHD stops accepting: the request waits in the kernel's backlog */
	fetch_timeout_ms = 1000;
	fetch(l, "GET", "/hello", NULL, &r);
	fetch_timeout_ms = 10000;
	CHECK(r.code == CURLE_OPERATION_TIMEDOUT);
	CHECK(r.status == 0);
	result_free(&r);
	close(idle[0]);
	close(idle[1]);
	for (int i = 0; i < 20; i++)
		listener_run(l);
	mc_section("once they close, requests are served again");
	fetch(l, "GET", "/hello", NULL, &r);
	CHECK(r.status == 200);
	result_free(&r);
	listener_free(l);
}

static void test_errors(void)
{
	char err[512];
	listener *a, *b;
	listener_route bad = { "GET", "relative", post_only, NULL };

	mc_section("bad address, bad port, bad route, port in use: clear errors");
	CHECK(listener_new("example.org", 0, routes, 1, NULL, err, sizeof err) == NULL);
	CHECK_HAS(err, "listen address 'example.org' is not an IP address");
	CHECK(listener_new("127.0.0.1", 70000, routes, 1, NULL, err, sizeof err) == NULL);
	CHECK_HAS(err, "listen port 70000 is out of range");
	CHECK(listener_new(NULL, 0, &bad, 1, NULL, err, sizeof err) == NULL);
	CHECK_HAS(err, "route 1 is incomplete");
	a = listener_new("127.0.0.1", 0, routes, 1, NULL, err, sizeof err);
	CHECK(a != NULL);
	if (a) {
		b = listener_new("127.0.0.1", listener_port(a), routes, 1, NULL, err, sizeof err);
		CHECK(b == NULL);
		CHECK_HAS(err, "cannot listen on 127.0.0.1 port");
		CHECK_HAS(err, "hint:");
		listener_free(b);
	}
	listener_free(a);
	listener_free(NULL);

	mc_section("IPv6 loopback in brackets, and localhost");
	a = listener_new("[::1]", 0, routes, 1, NULL, err, sizeof err);
	if (a) {
		CHECK(listener_port(a) > 0);
		listener_free(a);
	} else {
		printf("  (no IPv6 loopback here: %s)\n", err);
		CHECK_HAS(err, "cannot listen on [::1]");
	}
	a = listener_new("localhost", 0, routes, 1, NULL, err, sizeof err);
	CHECK(a != NULL && listener_port(a) > 0);
	listener_free(a);
}

int main(void)
{
	char err[512];
	listener_limits lim = { .error_page = friendly };
	listener *l;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	mc_section("start on port 0 (loopback by default) and learn the port");
	l = listener_new(NULL, 0, routes, sizeof routes / sizeof routes[0], &lim, err, sizeof err);
	CHECK(l != NULL);
	if (!l) {
		fprintf(stderr, "%s\n", err);
		return mc_done("test_listener");
	}
	CHECK(listener_port(l) > 0 && listener_port(l) < 65536);
	CHECK(listener_fd(l) >= 0);
	test_routes(l);
	test_query_caps(l);
	listener_free(l);
	test_connection_limit();
	test_errors();
	curl_global_cleanup();
	return mc_done("test_listener");
}
