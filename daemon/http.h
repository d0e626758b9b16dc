/*
 * http: every outgoing request of the daemon, in one curl multi handle.
 *
 * The owner of an `http` drives it from its event loop: http_poll() waits
 * on curl's sockets plus the caller's extra descriptors, http_perform() runs
 * transfers and calls each request's on_done exactly once.  Requests are
 * fire-and-forget from the caller's view: they live until on_done returns.
 *
 * Safety: redirects are never followed (a bearer token must not travel to a
 * host it was not meant for), TLS verification is always on (an extra CA
 * file may be given for tests), only https (and http when allowed for
 * loopback test servers), bodies are capped.
 */
#ifndef BB_HTTP_H
#define BB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

typedef struct http http;

typedef struct http_result {
	CURLcode code;              /* CURLE_OK when a response arrived */
	long status;                /* HTTP status, 0 if none */
	const char *error;          /* curl's message when code != CURLE_OK */
	const char *body;           /* buffered body (non-streamed or error) */
	size_t body_len;
	bool body_truncated;        /* the body passed max_body */
	int64_t retry_after_s;      /* Retry-After in seconds, -1 if absent */
	bool aborted;               /* on_data asked to stop */
	double seconds;             /* total transfer time */
	const char *content_type;
} http_result;

typedef struct http_request {
	const char *method;         /* "GET" (default) or "POST" */
	const char *url;
	const char *body;           /* POST body (copied), or NULL */
	size_t body_len;
	const char *content_type;   /* of the body */
	const char *auth_header;    /* e.g. "Authorization: Bearer ..."; copied, wiped after */
	const char *accept;         /* Accept header, NULL for none */
	long timeout_ms;            /* whole transfer */
	long connect_timeout_ms;
	size_t max_body;            /* cap of the buffered or streamed body */

	/*
	 * Streaming: when set and the status is 2xx, body bytes go here instead
	 * of the buffer.  Return 0 to go on, -1 to abort the transfer.
	 */
	int (*on_data)(void *ud, const char *data, size_t len);
	/* Called once when the transfer ends, whatever happened. */
	void (*on_done)(void *ud, const http_result *res);
	void *ud;
} http_request;

/*
 * max_total: transfers in flight at most (more wait in curl's queue);
 * allow_http: accept plain http URLs (tests on loopback only).
 */
http *http_new(const char *ca_file, int max_total, bool allow_http, char *err, size_t errlen);

/* Start a request; 0 or -1 with err filled (nothing is called then). */
int http_start(http *h, const http_request *req, char *err, size_t errlen);

/*
 * Wait for activity on curl's sockets or on the extra descriptors, at most
 * timeout_ms.  Returns curl_multi_poll's code.
 */
CURLMcode http_poll(http *h, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms);

/* Wake a blocked http_poll (e.g. from a signal-safe context: no). */
void http_wakeup(http *h);

/* Run transfers and complete the finished ones (calls on_done). */
void http_perform(http *h);

/* Requests not yet completed. */
size_t http_inflight(const http *h);

/* Abort every transfer (on_done is called with aborted=true) and free. */
void http_free(http *h);

#endif
