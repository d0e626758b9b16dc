#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

#define DEFAULT_MAX_BODY (1u << 20)

struct http {
	CURLM *multi;
	char *ca_file;
	bool allow_http;
	size_t inflight;
	struct xfer *xfers;         /* in flight, for http_free */
};

typedef struct xfer {
	http *h;
	struct xfer *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	char *post;
	size_t post_len;
	char *auth;                 /* wiped on free */
	sbuf body;
	bool truncated;
	bool aborted;
	bool streaming_ok;          /* status known 2xx */
	long status;
	int64_t retry_after_s;
	char errbuf[CURL_ERROR_SIZE];
	int (*on_data)(void *, const char *, size_t);
	void (*on_done)(void *, const http_result *);
	void *ud;
} xfer;

http *http_new(const char *ca_file, int max_total, bool allow_http, char *err, size_t errlen)
{
	static bool global_done;
	http *h;

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, errlen, "could not initialise libcurl");
			return NULL;
		}
		global_done = true;
	}
	h = xcalloc(1, sizeof *h);
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		snprintf(err, errlen, "could not create a curl multi handle");
		return NULL;
	}
	if (max_total > 0)
		curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_total);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_total > 0 ? (long)max_total : 0L);
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	h->ca_file = ca_file ? xstrdup(ca_file) : NULL;
	h->allow_http = allow_http;
	return h;
}

static void xfer_free(xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else if (x->h->xfers == x)
		x->h->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (x->easy) {
		curl_multi_remove_handle(x->h->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	if (x->auth) {
		secure_zero(x->auth, strlen(x->auth));
		free(x->auth);
	}
	if (x->post) {
		secure_zero(x->post, x->post_len);
		free(x->post);
	}
	sbuf_free(&x->body);
	free(x);
}

static int64_t parse_retry_after(const char *v, size_t n)
{
	int64_t s = 0;
	size_t i = 0;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i == n || v[i] < '0' || v[i] > '9')
		return -1;  /* HTTP-date form: treat as absent (caller uses its default) */
	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
		s = s * 10 + (v[i] - '0');
		if (s > 86400)
			return 86400;
	}
	return s;
}

static size_t header_cb(char *buf, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		x->retry_after_s = -1;
		sbuf_reset(&x->body);
		x->truncated = false;
	} else if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
		x->retry_after_s = parse_retry_after(buf + 12, len - 12);
	}
	return len;
}

static size_t write_cb(char *data, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;

	if (!x->status)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->on_data && x->status >= 200 && x->status < 300) {
		x->streaming_ok = true;
		if (x->body.len + len > x->body.max) {
			x->truncated = true;
			return 0;   /* abort: stream larger than allowed */
		}
		x->body.len += len;  /* count only; bytes go to the consumer */
		if (x->on_data(x->ud, data, len) < 0) {
			x->aborted = true;
			return 0;   /* CURLE_WRITE_ERROR ends the transfer */
		}
		return len;
	}
	if (sbuf_append(&x->body, data, len) < 0) {
		x->truncated = true;
		return 0;
	}
	return len;
}

int http_start(http *h, const http_request *req, char *err, size_t errlen)
{
	xfer *x;
	CURL *e;

	if (!req->url || (strncmp(req->url, "https://", 8) != 0 &&
			  !(h->allow_http && strncmp(req->url, "http://", 7) == 0))) {
		snprintf(err, errlen, "refusing a request that is not https");
		return -1;
	}
	e = curl_easy_init();
	if (!e) {
		snprintf(err, errlen, "could not create a curl handle");
		return -1;
	}
	x = xcalloc(1, sizeof *x);
	x->h = h;
	x->easy = e;
	x->retry_after_s = -1;
	x->on_data = req->on_data;
	x->on_done = req->on_done;
	x->ud = req->ud;
	sbuf_init(&x->body, req->max_body ? req->max_body : DEFAULT_MAX_BODY);

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, h->allow_http ? "https,http" : "https");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  /* gzip/deflate, decoded by curl */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "bbingest/" BBINGEST_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 60000L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);

	if (req->accept) {
		char *a = xasprintf("Accept: %s", req->accept);

		x->headers = curl_slist_append(x->headers, a);
		free(a);
	}
	if (req->auth_header) {
		x->auth = xstrdup(req->auth_header);
		x->headers = curl_slist_append(x->headers, x->auth);
	}
	if (req->method && strcmp(req->method, "POST") == 0) {
		x->post_len = req->body_len;
		x->post = xmalloc(req->body_len + 1);
		if (req->body_len)
			memcpy(x->post, req->body, req->body_len);
		x->post[req->body_len] = '\0';
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->post);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->post_len);
		if (req->content_type) {
			char *ct = xasprintf("Content-Type: %s", req->content_type);

			x->headers = curl_slist_append(x->headers, ct);
			free(ct);
		}
	}
	x->headers = curl_slist_append(x->headers, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);

	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		snprintf(err, errlen, "could not add a transfer");
		xfer_free(x);
		return -1;
	}
	x->next = h->xfers;
	if (h->xfers)
		h->xfers->prev = x;
	h->xfers = x;
	h->inflight++;
	return 0;
}

CURLMcode http_poll(http *h, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms)
{
	return curl_multi_poll(h->multi, extra, n_extra, timeout_ms, NULL);
}

void http_wakeup(http *h)
{
	curl_multi_wakeup(h->multi);
}

/* metrics of a request that ran its course: latency, and the errors any caller would count */
static void count_request(CURL *e, const http_result *r)
{
	char *url = NULL;

	curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url);
	metrics_observe(METRIC_REQUEST_SECONDS, metrics_endpoint_of_url(url), r->seconds);
	if (r->code == CURLE_OPERATION_TIMEDOUT)
		metrics_inc(METRIC_ERRORS, "timeout");
	else if (r->code != CURLE_OK)
		metrics_inc(METRIC_ERRORS, "network");
	else if (r->status == 429)
		metrics_inc(METRIC_ERRORS, "http_429");
	else if (r->status >= 500)
		metrics_inc(METRIC_ERRORS, "http_5xx");
}

static void complete(http *h, CURL *e, CURLcode code)
{
	xfer *x = NULL;
	http_result r = { 0 };
	char *ct = NULL;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	if (!x)
		return;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &r.seconds);
	curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
	r.code = code;
	r.error = code == CURLE_OK ? NULL : (x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
	r.body = x->streaming_ok ? NULL : (x->body.data ? x->body.data : "");
	r.body_len = x->streaming_ok ? 0 : x->body.len;
	r.body_truncated = x->truncated;
	r.retry_after_s = x->retry_after_s;
	r.aborted = x->aborted;
	r.content_type = ct;
	if (!x->aborted && code != CURLE_ABORTED_BY_CALLBACK)
		count_request(e, &r);
	if (x->on_done)
		x->on_done(x->ud, &r);
	h->inflight--;
	xfer_free(x);
}

void http_perform(http *h)
{
	int running = 0, left = 0;
	CURLMsg *m;

	curl_multi_perform(h->multi, &running);
	while ((m = curl_multi_info_read(h->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			complete(h, m->easy_handle, m->data.result);
}

size_t http_inflight(const http *h)
{
	return h->inflight;
}

void http_free(http *h)
{
	if (!h)
		return;
	while (h->xfers) {
		xfer *x = h->xfers;

		x->aborted = true;
		complete(h, x->easy, CURLE_ABORTED_BY_CALLBACK);
	}
	curl_multi_cleanup(h->multi);
	free(h->ca_file);
	free(h);
}
