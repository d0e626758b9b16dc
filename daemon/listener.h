/*
 * listener: the small embedded HTTP server (libmicrohttpd) behind
 * /enroll, /callback, /healthz and /metrics.
 *
 * Event loop: the listener runs inside the daemon's own loop, single
 * threaded, with MHD's epoll mode and no MHD thread (MHD_USE_EPOLL without
 * MHD_USE_INTERNAL_POLLING_THREAD).  listener_fd() is MHD's epoll file
 * descriptor (MHD_DAEMON_INFO_EPOLL_FD): add it to poll()/epoll or to
 * curl_multi_poll()'s extra_fds, wait for POLLIN, no longer than
 * listener_timeout_ms(), then call listener_run(), which does all pending
 * work without blocking.  Ask listener_timeout_ms() again after every
 * listener_run(): 0 means more work is already pending (MHD's epoll is edge
 * triggered), -1 means no deadline.  Handlers run inside listener_run() and
 * must not block.
 *
 * Requests: a route is an exact method and path ("GET" also answers HEAD).
 * Before a handler runs, the raw request target is checked against
 * max_url (414) and its query string is parsed with the strict parser of
 * oauthutil (414 too long, 400 too many parameters or malformed); request
 * bodies are refused (413); an unknown path is 404 and a known path with
 * another method 405.  The listener binds to 127.0.0.1 unless told
 * otherwise.  Every response carries Cache-Control: no-store,
 * Referrer-Policy: no-referrer (the callback URL holds the code and state),
 * X-Content-Type-Options: nosniff, X-Frame-Options: DENY and a strict
 * Content-Security-Policy.  Query strings are never logged.
 */
#ifndef BB_LISTENER_H
#define BB_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "oauthutil.h"
#include "util.h"

typedef struct listener listener;

#define LISTENER_MAX_EXTRA_HEADERS 8

typedef struct listener_request {
	const char *method;         /* "GET", "HEAD", ... */
	const char *path;           /* raw path, without the query (e.g. "/callback") */
	const ou_query *query;      /* parsed query parameters; never NULL */
	const char *client;         /* peer address as text, for logs */
	void *conn_;                /* private: the MHD connection */
	void *ctx_;                 /* private: the request's context */
} listener_request;

typedef struct listener_response {
	int status;                 /* HTTP status; 200 unless the handler sets it */
	const char *content_type;   /* a static string; default "text/plain; charset=utf-8" */
	sbuf body;                  /* capped at listener_limits.max_body */
	char *location;             /* set with listener_set_location */
	char *extra_names[LISTENER_MAX_EXTRA_HEADERS];
	char *extra_values[LISTENER_MAX_EXTRA_HEADERS];
	size_t n_extra;
} listener_response;

/* A route handler: fill in `resp` (status, content type, body, Location). */
typedef void (*listener_handler)(void *arg, const listener_request *req, listener_response *resp);

/*
 * Renders the listener's own refusals (400, 404, 405, 413, 414, 500), e.g.
 * as a friendly HTML page; `reason` is a short text that quotes no value.
 * resp->status is already set.  Without one, a plain-text line is sent.
 */
typedef void (*listener_error_page)(void *arg, int status, const char *reason,
                                    listener_response *resp);

typedef struct listener_route {
	const char *method;         /* "GET", "POST", ... (copied) */
	const char *path;           /* exact path, e.g. "/enroll" (copied) */
	listener_handler handler;
	void *arg;
} listener_route;

typedef struct listener_limits {
	size_t max_url;             /* request target with query, bytes; 0 = 4096 */
	size_t max_query_params;    /* 0 = 32 */
	unsigned max_connections;   /* 0 = 64 */
	unsigned max_per_ip;        /* 0 = 16 */
	unsigned timeout_s;         /* idle connection timeout; 0 = 15 */
	size_t conn_memory;         /* MHD per-connection memory (request line and
	                               headers must fit); 0 = 32 KiB */
	size_t max_body;            /* response body cap; 0 = 1 MiB */
	listener_error_page error_page; /* NULL = plain text */
	void *error_page_arg;
} listener_limits;

/*
 * Start listening on `address` (an IPv4 or IPv6 literal, or "localhost";
 * NULL or "" = 127.0.0.1) and `port` (0 = any free port, see
 * listener_port).  `routes` are copied.  NULL with `err` set when the
 * address is bad or cannot be bound.
 */
listener *listener_new(const char *address, int port, const listener_route *routes,
                       size_t n_routes, const listener_limits *lim, char *err, size_t errlen);

/* The port actually bound (useful after port 0). */
int listener_port(const listener *l);

/* The file descriptor to poll for POLLIN (MHD's epoll fd). */
int listener_fd(const listener *l);

/* Longest wait before listener_run() is due, in ms; -1 = none, 0 = now. */
int listener_timeout_ms(listener *l);

/* Do every pending accept, read, handler call and write; never blocks.  0, or -1. */
int listener_run(listener *l);

/* Stop listening, close every connection, free.  NULL is fine. */
void listener_free(listener *l);

/* Set the Location header (a copy of `url`); with status 302/303 it redirects. */
void listener_set_location(listener_response *resp, const char *url);

/* Add a response header (copied); -1 if LISTENER_MAX_EXTRA_HEADERS are already set. */
int listener_add_header(listener_response *resp, const char *name, const char *value);

/* A request header, or NULL. */
const char *listener_request_header(const listener_request *req, const char *name);

/*
 * Answering later, for a handler that must wait for I/O (e.g. an outgoing
 * request) without blocking the loop.
 *
 * Inside a handler, listener_defer() turns the request into a deferred one:
 * the handler returns without filling its `resp` (it is ignored) and the
 * connection is suspended while the loop goes on.  Later, fill
 * listener_deferred_response(d) and call listener_finish(d): the
 * connection is resumed and the response sent; `d` is then gone.  If the
 * listener is freed first, on_cancel(ud) is called (d is gone after it) and
 * the connection is closed without an answer.  Returns NULL (answer now)
 * when called outside a handler or twice for one request.
 */
typedef struct listener_deferred listener_deferred;

listener_deferred *listener_defer(const listener_request *req, void (*on_cancel)(void *ud),
                                  void *ud);
listener_response *listener_deferred_response(listener_deferred *d);
void listener_finish(listener_deferred *d);

/* Requests deferred and not yet finished. */
size_t listener_deferred_count(const listener *l);

#endif
