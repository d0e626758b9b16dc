#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "log.h"

#define DEFAULT_MAX_URL 4096
#define DEFAULT_MAX_PARAMS 32
#define DEFAULT_MAX_CONNECTIONS 64
#define DEFAULT_MAX_PER_IP 16
#define DEFAULT_TIMEOUT_S 15
#define DEFAULT_CONN_MEMORY (32 * 1024)
#define DEFAULT_MAX_BODY (1024 * 1024)

typedef struct route {
	char *method;
	char *path;
	listener_handler handler;
	void *arg;
} route;

struct listener_deferred {
	listener *l;
	struct listener_deferred *prev, *next;
	struct MHD_Connection *conn;
	struct req_ctx *ctx;
	listener_response resp;
	char *method, *path;        /* for the log line */
	bool finished;
	void (*on_cancel)(void *);
	void *ud;
};

struct listener {
	struct MHD_Daemon *mhd;
	struct listener_deferred *deferred;  /* suspended requests */
	size_t n_deferred;
	route *routes;
	size_t n_routes;
	listener_limits lim;
	int port;
	char addr_text[INET6_ADDRSTRLEN];
	char last_mhd_error[256];   /* MHD's last log line, for start-up errors */
};

/* Per request: the raw target captured before MHD unescapes it. */
typedef struct req_ctx {
	char *uri;                  /* NULL when longer than max_url */
	size_t uri_len;
	bool responded;
	bool in_handler;            /* listener_defer is allowed */
	struct listener *l;
	struct listener_deferred *deferred;
} req_ctx;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* MHD's own messages: cut anything from a '?' on, so no query reaches a log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	listener *l = cls;
	char line[256];
	char *q;
	size_t n;

	vsnprintf(line, sizeof line, fmt, ap);
	if ((q = strchr(line, '?')))
		snprintf(q, sizeof line - (size_t)(q - line), "?...");
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == '.'))
		line[--n] = '\0';
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	snprintf(l->last_mhd_error, sizeof l->last_mhd_error, "%s", line);
	log_debug("listener: libmicrohttpd: %s", line);
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	listener *l = cls;
	req_ctx *c = xcalloc(1, sizeof *c);
	size_t n = strlen(uri);

	(void)conn;
	c->l = l;
	c->uri_len = n;
	if (n <= l->lim.max_url)
		c->uri = xstrndup(uri, n);
	return c;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	req_ctx *c = *req_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!c)
		return;
	if (c->deferred)
		c->deferred->ctx = NULL;    /* its owner still finishes or is cancelled */
	if (c->uri) {
		/* the query may hold an invitation token, a code or a state */
		secure_zero(c->uri, c->uri_len);
		free(c->uri);
	}
	free(c);
	*req_cls = NULL;
}

static void response_init(listener *l, listener_response *r)
{
	memset(r, 0, sizeof *r);
	r->status = 200;
	r->content_type = "text/plain; charset=utf-8";
	sbuf_init(&r->body, l->lim.max_body);
}

static void response_clear(listener_response *r)
{
	sbuf_free(&r->body);
	free(r->location);
	for (size_t i = 0; i < r->n_extra; i++) {
		free(r->extra_names[i]);
		free(r->extra_values[i]);
	}
	r->n_extra = 0;
	r->location = NULL;
}

void listener_set_location(listener_response *resp, const char *url)
{
	free(resp->location);
	resp->location = xstrdup(url);
}

int listener_add_header(listener_response *resp, const char *name, const char *value)
{
	if (resp->n_extra >= LISTENER_MAX_EXTRA_HEADERS)
		return -1;
	resp->extra_names[resp->n_extra] = xstrdup(name);
	resp->extra_values[resp->n_extra] = xstrdup(value);
	resp->n_extra++;
	return 0;
}

const char *listener_request_header(const listener_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn_, MHD_HEADER_KIND, name);
}

/* A header value may not carry CR or LF (response splitting). */
static bool header_safe(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

static enum MHD_Result send_response(struct MHD_Connection *conn, listener_response *r,
                                     const char *method, const char *path)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = r->body.len;
	int status = r->status;

	if (status < 100 || status > 599)
		status = 500;
	if (len) {
		char *data = sbuf_steal(&r->body);

		resp = MHD_create_response_from_buffer_with_free_callback(len, data, free);
		if (!resp)
			free(data);
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!resp) {
		response_clear(r);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        header_safe(r->content_type) ? r->content_type : "text/plain");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
	                        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	if (r->location && header_safe(r->location))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	for (size_t i = 0; i < r->n_extra; i++)
		if (header_safe(r->extra_names[i]) && header_safe(r->extra_values[i]))
			MHD_add_response_header(resp, r->extra_names[i], r->extra_values[i]);
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	log_debug("listener: %s %s -> %d", method, path, status);
	response_clear(r);
	return ret;
}

static enum MHD_Result refuse(listener *l, struct MHD_Connection *conn, int status,
                              const char *reason, const char *method, const char *path)
{
	listener_response r;

	response_init(l, &r);
	r.status = status;
	if (l->lim.error_page) {
		l->lim.error_page(l->lim.error_page_arg, status, reason, &r);
		r.status = status;
	} else {
		sbuf_printf(&r.body, "%d %s\n", status, reason);
	}
	if (status == 405) {
		sbuf allow;

		sbuf_init(&allow, 256);
		for (size_t i = 0; i < l->n_routes; i++) {
			if (strcmp(l->routes[i].path, path) != 0)
				continue;
			if (allow.len)
				sbuf_puts(&allow, ", ");
			sbuf_puts(&allow, l->routes[i].method);
			if (strcmp(l->routes[i].method, "GET") == 0)
				sbuf_puts(&allow, ", HEAD");
		}
		if (allow.len)
			listener_add_header(&r, "Allow", allow.data);
		sbuf_free(&allow);
	}
	return send_response(conn, &r, method, path);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **req_cls)
{
	listener *l = cls;
	req_ctx *c = *req_cls;
	const char *qmark, *te, *cl;
	const route *match = NULL;
	bool path_known = false;
	char *path;
	ou_query *q = NULL;
	ou_query_limits ql = { 0 };
	ou_query_status qs;
	char why[256];
	listener_request req;
	listener_response resp;
	enum MHD_Result ret;
	const union MHD_ConnectionInfo *ci;
	char client[INET6_ADDRSTRLEN] = "?";

	(void)url;
	(void)version;
	(void)upload_data;
	if (!c)
		return MHD_NO;  /* not reached: uri_cb gives every request a context */
	if (c->deferred && c->deferred->finished) {
		listener_deferred *d = c->deferred;

		c->deferred = NULL;
		ret = send_response(conn, &d->resp, d->method, d->path);
		free(d->method);
		free(d->path);
		free(d);
		return ret;
	}
	if (c->responded) {
		*upload_data_size = 0;  /* discard a body we already refused */
		return MHD_YES;
	}
	c->responded = true;
	if (!c->uri)
		return refuse(l, conn, 414, "the request URL is too long", method, "(long)");
	qmark = memchr(c->uri, '?', c->uri_len);
	path = xstrndup(c->uri, qmark ? (size_t)(qmark - c->uri) : c->uri_len);

	te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (te || (cl && strcmp(cl, "0") != 0)) {
		ret = refuse(l, conn, 413, "request bodies are not accepted here", method, path);
		free(path);
		return ret;
	}

	for (size_t i = 0; i < l->n_routes; i++) {
		const route *r = &l->routes[i];

		if (strcmp(r->path, path) != 0)
			continue;
		path_known = true;
		if (strcmp(r->method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
			match = r;
			break;
		}
	}
	if (!match) {
		ret = path_known ? refuse(l, conn, 405, "method not allowed", method, path)
		                 : refuse(l, conn, 404, "not found", method, path);
		free(path);
		return ret;
	}

	ql.max_len = l->lim.max_url;
	ql.max_params = l->lim.max_query_params;
	qs = ou_query_parse(qmark ? qmark + 1 : "", qmark ? c->uri_len - (size_t)(qmark + 1 - c->uri) : 0,
	                    &ql, &q, why, sizeof why);
	if (qs != OU_QUERY_OK) {
		log_info("listener: %s %s refused: %s", method, path, why);
		ret = refuse(l, conn, qs == OU_QUERY_TOO_LONG ? 414 : 400, why, method, path);
		free(path);
		return ret;
	}

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			          client, sizeof client);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			          client, sizeof client);
	}
	req.method = method;
	req.path = path;
	req.query = q;
	req.client = client;
	req.conn_ = conn;
	req.ctx_ = c;
	response_init(l, &resp);
	c->in_handler = true;
	match->handler(match->arg, &req, &resp);
	c->in_handler = false;
	ou_query_free(q);
	if (c->deferred) {
		response_clear(&resp);
		c->deferred->path = path;
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	ret = send_response(conn, &resp, method, path);
	free(path);
	return ret;
}

listener_deferred *listener_defer(const listener_request *req, void (*on_cancel)(void *ud),
                                  void *ud)
{
	req_ctx *c = req->ctx_;
	listener_deferred *d;

	if (!c || !c->in_handler || c->deferred)
		return NULL;
	d = xcalloc(1, sizeof *d);
	d->l = c->l;
	d->conn = req->conn_;
	d->ctx = c;
	d->method = xstrdup(req->method);
	d->on_cancel = on_cancel;
	d->ud = ud;
	response_init(d->l, &d->resp);
	d->next = d->l->deferred;
	if (d->next)
		d->next->prev = d;
	d->l->deferred = d;
	d->l->n_deferred++;
	c->deferred = d;
	return d;
}

listener_response *listener_deferred_response(listener_deferred *d)
{
	return &d->resp;
}

static void deferred_unlink(listener_deferred *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		d->l->deferred = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
	d->l->n_deferred--;
}

static void deferred_free(listener_deferred *d)
{
	response_clear(&d->resp);
	free(d->method);
	free(d->path);
	free(d);
}

void listener_finish(listener_deferred *d)
{
	deferred_unlink(d);
	if (!d->ctx) {
		deferred_free(d);   /* the connection is gone */
		return;
	}
	d->finished = true;
	/* access_cb runs again for the resumed request and sends d->resp */
	MHD_resume_connection(d->conn);
}

size_t listener_deferred_count(const listener *l)
{
	return l ? l->n_deferred : 0;
}

static int parse_address(const char *address, int port, struct sockaddr_storage *ss,
                         bool *v6, char *text, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n;

	memset(ss, 0, sizeof *ss);
	if (!address || !*address || strcmp(address, "localhost") == 0)
		address = "127.0.0.1";
	n = strlen(address);
	if (n >= sizeof buf) {
		set_err(err, errlen, "listen address is too long (%zu bytes); hint: use an IP "
		        "address such as 127.0.0.1 or ::1", n);
		return -1;
	}
	memcpy(buf, address, n + 1);
	if (buf[0] == '[' && n > 2 && buf[n - 1] == ']') {
		memmove(buf, buf + 1, n - 2);
		buf[n - 2] = '\0';
	}
	if (port < 0 || port > 65535) {
		set_err(err, errlen, "listen port %d is out of range; hint: use 1..65535, or 0 "
		        "for any free port", port);
		return -1;
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;

		if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)port);
			inet_ntop(AF_INET, &s4->sin_addr, text, INET6_ADDRSTRLEN);
			*v6 = false;
		} else if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			inet_ntop(AF_INET6, &s6->sin6_addr, text, INET6_ADDRSTRLEN);
			*v6 = true;
		} else {
			set_err(err, errlen, "listen address '%s' is not an IP address; hint: use "
			        "127.0.0.1 (the default), ::1, or 0.0.0.0 to listen on every interface",
			        address);
			return -1;
		}
	}
	return 0;
}

listener *listener_new(const char *address, int port, const listener_route *routes,
                       size_t n_routes, const listener_limits *lim, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	bool v6 = false;
	unsigned flags;
	listener *l;

	if (!MHD_is_feature_supported(MHD_FEATURE_EPOLL)) {
		set_err(err, errlen, "this libmicrohttpd was built without epoll support, "
		        "which the listener needs");
		return NULL;
	}
	l = xcalloc(1, sizeof *l);
	if (lim)
		l->lim = *lim;
	if (!l->lim.max_url)
		l->lim.max_url = DEFAULT_MAX_URL;
	if (!l->lim.max_query_params)
		l->lim.max_query_params = DEFAULT_MAX_PARAMS;
	if (!l->lim.max_connections)
		l->lim.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (!l->lim.max_per_ip)
		l->lim.max_per_ip = DEFAULT_MAX_PER_IP;
	if (!l->lim.timeout_s)
		l->lim.timeout_s = DEFAULT_TIMEOUT_S;
	if (!l->lim.conn_memory)
		l->lim.conn_memory = DEFAULT_CONN_MEMORY;
	if (!l->lim.max_body)
		l->lim.max_body = DEFAULT_MAX_BODY;
	if (parse_address(address, port, &ss, &v6, l->addr_text, err, errlen) < 0) {
		free(l);
		return NULL;
	}
	for (size_t i = 0; i < n_routes; i++) {
		if (!routes[i].method || !routes[i].path || routes[i].path[0] != '/' ||
		    !routes[i].handler) {
			set_err(err, errlen, "listener route %zu is incomplete (method, path "
			        "starting with '/', handler)", i + 1);
			listener_free(l);
			return NULL;
		}
		l->routes = xreallocarray(l->routes, l->n_routes + 1, sizeof *l->routes);
		l->routes[l->n_routes].method = xstrdup(routes[i].method);
		l->routes[l->n_routes].path = xstrdup(routes[i].path);
		l->routes[l->n_routes].handler = routes[i].handler;
		l->routes[l->n_routes].arg = routes[i].arg;
		l->n_routes++;
	}

	flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | (v6 ? MHD_USE_IPv6 : 0);
	l->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, access_cb, l,
	                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                          MHD_OPTION_URI_LOG_CALLBACK, uri_cb, l,
	                          MHD_OPTION_NOTIFY_COMPLETED, completed_cb, l,
	                          MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, l,
	                          MHD_OPTION_CONNECTION_LIMIT, l->lim.max_connections,
	                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, l->lim.max_per_ip,
	                          MHD_OPTION_CONNECTION_TIMEOUT, l->lim.timeout_s,
	                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, l->lim.conn_memory,
	                          MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	                          MHD_OPTION_END);
	if (!l->mhd) {
		set_err(err, errlen, "cannot listen on %s%s%s port %d: %s; hint: is another "
		        "program (or another bbingest) using that port? choose another listen port",
		        v6 ? "[" : "", l->addr_text, v6 ? "]" : "", port,
		        l->last_mhd_error[0] ? l->last_mhd_error : "libmicrohttpd could not start");
		listener_free(l);
		return NULL;
	}
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
	l->port = info ? info->port : port;
	log_info("listener: listening on %s%s%s:%d", v6 ? "[" : "", l->addr_text, v6 ? "]" : "",
	         l->port);
	return l;
}

int listener_port(const listener *l)
{
	return l->port;
}

int listener_fd(const listener *l)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);

	return info ? info->epoll_fd : -1;
}

int listener_timeout_ms(listener *l)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (MHD_get_timeout(l->mhd, &t) != MHD_YES)
		return -1;
	return t > INT_MAX ? INT_MAX : (int)t;
}

int listener_run(listener *l)
{
	return MHD_run(l->mhd) == MHD_YES ? 0 : -1;
}

void listener_free(listener *l)
{
	if (!l)
		return;
	/* deferred requests: their owners forget them, the connections close */
	while (l->deferred) {
		listener_deferred *d = l->deferred;

		deferred_unlink(d);
		if (d->on_cancel)
			d->on_cancel(d->ud);
		if (d->ctx) {
			d->ctx->deferred = NULL;
			MHD_resume_connection(d->conn);
		}
		deferred_free(d);
	}
	if (l->mhd)
		MHD_stop_daemon(l->mhd);
	for (size_t i = 0; i < l->n_routes; i++) {
		free(l->routes[i].method);
		free(l->routes[i].path);
	}
	free(l->routes);
	free(l);
}
