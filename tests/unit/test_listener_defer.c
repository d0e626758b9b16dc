/*
 * Unit tests of the listener's deferred answers: a handler defers, the loop
 * goes on (other requests are answered meanwhile), the answer is sent when
 * listener_finish() is called; freeing the listener cancels what is pending.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "listener.h"
#include "minicheck.h"

typedef struct pending {
	listener_deferred *d;
	int cancelled;
	char tag[32];
} pending;

static pending slots[4];
static int n_slots;

static void on_cancel(void *ud)
{
	pending *p = ud;

	p->cancelled++;
	p->d = NULL;
}

static void handle_slow(void *arg, const listener_request *req, listener_response *resp)
{
	pending *p = &slots[n_slots++];
	const char *tag = ou_query_get(req->query, "tag");

	(void)arg;
	snprintf(p->tag, sizeof p->tag, "%s", tag ? tag : "");
	p->d = listener_defer(req, on_cancel, p);
	/* a second defer of the same request is refused */
	CHECK(listener_defer(req, on_cancel, p) == NULL);
	sbuf_puts(&resp->body, "ignored");
}

static void handle_fast(void *arg, const listener_request *req, listener_response *resp)
{
	(void)arg;
	(void)req;
	sbuf_puts(&resp->body, "fast");
}

typedef struct client {
	CURL *e;
	sbuf body;
	bool done;
	CURLcode code;
	long status;
} client;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	client *c = arg;

	return sbuf_append(&c->body, p, size * n) == 0 ? size * n : 0;
}

static void client_start(CURLM *m, client *c, listener *l, const char *path)
{
	char *url = xasprintf("http://127.0.0.1:%d%s", listener_port(l), path);

	memset(c, 0, sizeof *c);
	sbuf_init(&c->body, 1 << 16);
	c->e = curl_easy_init();
	curl_easy_setopt(c->e, CURLOPT_URL, url);
	curl_easy_setopt(c->e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->e, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c->e, CURLOPT_NOPROXY, "*");
	curl_multi_add_handle(m, c->e);
	free(url);
}

/* One round of the daemon's loop: wait on curl and the listener, run both. */
static void spin(CURLM *m, listener *l, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		struct curl_waitfd wfd = { .fd = listener_fd(l), .events = CURL_WAIT_POLLIN };
		int lt = listener_timeout_ms(l), timeout = 20, running, left;
		CURLMsg *msg;

		if (lt >= 0 && lt < timeout)
			timeout = lt;
		curl_multi_poll(m, &wfd, 1, timeout, NULL);
		listener_run(l);
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			client *c = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			c->done = true;
			c->code = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &c->status);
		}
	}
}

static void client_free(CURLM *m, client *c)
{
	curl_multi_remove_handle(m, c->e);
	curl_easy_cleanup(c->e);
	sbuf_free(&c->body);
}

static listener *make(void)
{
	listener_route routes[] = {
		{ "GET", "/slow", handle_slow, NULL },
		{ "GET", "/fast", handle_fast, NULL },
	};
	char err[256];
	listener *l = listener_new("127.0.0.1", 0, routes, 2, NULL, err, sizeof err);

	CHECK(l != NULL);
	return l;
}

static void test_defer_and_finish(void)
{
	CURLM *m = curl_multi_init();
	listener *l = make();
	client a, b, f;

	mc_section("deferred requests wait while others are answered");
	n_slots = 0;
	client_start(m, &a, l, "/slow?tag=a");
	client_start(m, &b, l, "/slow?tag=b");
	for (int i = 0; i < 200 && listener_deferred_count(l) < 2; i++)
		spin(m, l, 1);
	CHECK(listener_deferred_count(l) == 2);
	client_start(m, &f, l, "/fast");
	for (int i = 0; i < 200 && !f.done; i++)
		spin(m, l, 1);
	CHECK(f.done && f.status == 200);
	CHECK_STR(f.body.data, "fast");
	spin(m, l, 10);
	CHECK(!a.done && !b.done);

	mc_section("finishing in reverse order sends each its own answer");
	for (int i = 0; i < n_slots; i++) {
		if (strcmp(slots[i].tag, "b") == 0) {
			listener_response *r = listener_deferred_response(slots[i].d);

			r->status = 201;
			sbuf_puts(&r->body, "answer b");
			listener_finish(slots[i].d);
			slots[i].d = NULL;
		}
	}
	for (int i = 0; i < 200 && !b.done; i++)
		spin(m, l, 1);
	CHECK(b.done && b.status == 201);
	CHECK_STR(b.body.data, "answer b");
	CHECK(!a.done);
	for (int i = 0; i < n_slots; i++) {
		if (strcmp(slots[i].tag, "a") == 0) {
			listener_response *r = listener_deferred_response(slots[i].d);

			r->status = 302;
			listener_set_location(r, "https://example.org/next");
			sbuf_puts(&r->body, "answer a");
			listener_finish(slots[i].d);
			slots[i].d = NULL;
		}
	}
	for (int i = 0; i < 200 && !a.done; i++)
		spin(m, l, 1);
	CHECK(a.done && a.status == 302);
	CHECK_STR(a.body.data, "answer a");
	CHECK(listener_deferred_count(l) == 0);
	client_free(m, &a);
	client_free(m, &b);
	client_free(m, &f);
	listener_free(l);
	curl_multi_cleanup(m);
}

static void test_cancel_on_free(void)
{
	CURLM *m = curl_multi_init();
	listener *l = make();
	client a;

	mc_section("freeing the listener cancels a deferred request and closes its connection");
	n_slots = 0;
	client_start(m, &a, l, "/slow?tag=c");
	for (int i = 0; i < 200 && listener_deferred_count(l) < 1; i++)
		spin(m, l, 1);
	CHECK(listener_deferred_count(l) == 1);
	listener_free(l);
	CHECK(slots[0].cancelled == 1 && slots[0].d == NULL);
	for (int i = 0; i < 200 && !a.done; i++) {
		int running;

		curl_multi_poll(m, NULL, 0, 20, NULL);
		curl_multi_perform(m, &running);
		{
			int left;
			CURLMsg *msg;

			while ((msg = curl_multi_info_read(m, &left)))
				if (msg->msg == CURLMSG_DONE) {
					a.done = true;
					a.code = msg->data.result;
				}
		}
	}
	CHECK(a.done && a.code != CURLE_OK);
	client_free(m, &a);
	curl_multi_cleanup(m);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_defer_and_finish();
	test_cancel_on_free();
	curl_global_cleanup();
	return mc_done("listener_defer");
}
