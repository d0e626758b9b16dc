/*
 * bbsandbox: a Blue Button 2.0 (v2) sandbox emulator for bbingest's tests,
 * benchmarks and demo.  See tests/sandbox/README.md and --help.
 *
 *   bbsandbox --listen 127.0.0.1:PORT --seed S --beneficiaries N [options]
 *   bbsandbox truth USERNAME [--seed S --beneficiaries N --profile P]
 *
 * libmicrohttpd with a thread per connection (latency and trickle faults
 * sleep in that thread without holding up other clients).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "log.h"
#include "sb_data.h"
#include "sb_fhir.h"
#include "sb_http.h"
#include "sb_oauth.h"
#include "util.h"

#define MAX_UPLOAD (64 * 1024)
#define MAX_PATHS 256

/* ---------------------------------------------------------------- faults */

/* every fault is an atomic so the admin endpoint can change it at run time */
typedef struct faults {
	atomic_long latency_ms;
	atomic_long every_429;
	atomic_long retry_after;
	atomic_long every_5xx;
	atomic_long status_5xx;
	atomic_long every_truncate;
	atomic_long every_malformed;
	atomic_long every_reset;
	atomic_long trickle_ms;
	atomic_long every_rotate_502;
	atomic_long every_add_claim;
	atomic_long every_revoke_grant;
	atomic_long every_expire_grant;
	atomic_long rate_limit;
	atomic_long token_reply_delay_ms;
} faults;

static const struct {
	const char *name;
	size_t off;
	long min, max;
	const char *help;
} FAULTS[] = {
	{ "latency-ms", offsetof(faults, latency_ms), 0, 600000, "sleep N ms before every answer" },
	{ "429-every", offsetof(faults, every_429), 0, LONG_MAX, "answer every Nth FHIR request 429" },
	{ "retry-after", offsetof(faults, retry_after), 0, 86400, "Retry-After seconds on 429 (default 1)" },
	{ "5xx-every", offsetof(faults, every_5xx), 0, LONG_MAX, "answer every Nth FHIR request with --5xx-status" },
	{ "5xx-status", offsetof(faults, status_5xx), 500, 503, "500, 502 or 503 (default 502)" },
	{ "truncate-every", offsetof(faults, every_truncate), 0, LONG_MAX,
	  "cut every Nth FHIR body in half and drop the connection" },
	{ "malformed-every", offsetof(faults, every_malformed), 0, LONG_MAX,
	  "send every Nth FHIR body as complete but invalid JSON" },
	{ "reset-every", offsetof(faults, every_reset), 0, LONG_MAX, "reset the connection (RST) on every Nth FHIR request" },
	{ "trickle-ms", offsetof(faults, trickle_ms), 0, 60000, "send FHIR bodies in 512-byte pieces, N ms apart" },
	{ "rotate-then-502-every", offsetof(faults, every_rotate_502), 0, LONG_MAX,
	  "every Nth refresh rotates the tokens, then answers 502" },
	{ "add-claim-every", offsetof(faults, every_add_claim), 0, LONG_MAX,
	  "every Nth EOB search first adds a claim to that beneficiary (total changes mid-walk)" },
	{ "revoke-grant-every", offsetof(faults, every_revoke_grant), 0, LONG_MAX,
	  "every Nth FHIR request first deletes that beneficiary's grant (as if revoked at Medicare.gov)" },
	{ "expire-grant-every", offsetof(faults, every_expire_grant), 0, LONG_MAX,
	  "every Nth FHIR request first expires that beneficiary's grant (thirteen-month apps)" },
	{ "rate-limit", offsetof(faults, rate_limit), 0, LONG_MAX, "requests per second per token, then 429 (0: none)" },
	{ "token-reply-delay-ms", offsetof(faults, token_reply_delay_ms), 0, 600000,
	  "hold every token answer N ms after the tokens were issued (a slow way back: widens the window "
	  "between a rotation and the client's commit)" },
};
#define NFAULTS (sizeof(FAULTS) / sizeof(FAULTS[0]))

static atomic_long *fault_slot(faults *f, size_t i)
{
	return (atomic_long *)(void *)((char *)f + FAULTS[i].off);
}

static bool every(long n, unsigned long seq)
{
	return n > 0 && seq % (unsigned long)n == 0;
}

/* ---------------------------------------------------------------- server */

typedef struct server {
	sb_world *w;
	sb_oauth *o;
	faults f;
	const char *admin_token;
	const char *public_url;
	char listen_host[64];
	unsigned port;
	bool tls;
	atomic_ulong fhir_seq, eob_seq, refresh_seq;
	atomic_ulong requests, fhir_requests;
	atomic_uint *user_requests;
	pthread_mutex_t mu;
	struct {
		char *path;
		unsigned long n;
	} paths[MAX_PATHS];
	size_t n_paths;
	unsigned long other_paths;
} server;

typedef struct req {
	sbuf upload;
	bool too_big;
} req;

static void count_path(server *s, const char *path)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_paths; i++) {
		if (strcmp(s->paths[i].path, path) == 0) {
			s->paths[i].n++;
			pthread_mutex_unlock(&s->mu);
			return;
		}
	}
	if (s->n_paths < MAX_PATHS) {
		s->paths[s->n_paths].path = xstrdup(path);
		s->paths[s->n_paths].n = 1;
		s->n_paths++;
	} else {
		s->other_paths++;
	}
	pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	sb_params_add(cls, key, value ? value : "");
	return MHD_YES;
}

/* our own unescaper: %XX and '+' -> ' ' (form rules) */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '+') {
			*o++ = ' ';
		} else if (*p == '%' && p[1] && p[2]) {
			char h[3] = { p[1], p[2], 0 };
			char *end;
			long v = strtol(h, &end, 16);
			if (*end == '\0') {
				*o++ = (char)v;
				p += 2;
			} else {
				*o++ = *p;
			}
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return (size_t)(o - s);
}

static bool gzip_body(sbuf *b)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	uLong bound = deflateBound(&z, (uLong)b->len);
	unsigned char *out = xmalloc(bound + 32);
	z.next_in = (Bytef *)b->data;
	z.avail_in = (uInt)b->len;
	z.next_out = out;
	z.avail_out = (uInt)(bound + 32);
	int rc = deflate(&z, Z_FINISH);
	size_t n = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(out);
		return false;
	}
	sbuf_reset(b);
	sbuf_append(b, out, n);
	free(out);
	return true;
}

typedef struct stream {
	char *data;
	size_t len;     /* what Content-Length promises */
	size_t limit;   /* what we actually send */
	long trickle_ms;
} stream;

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream *s = cls;
	if (pos >= s->limit)
		return s->limit < s->len ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = s->limit - (size_t)pos;
	if (n > max)
		n = max;
	if (s->trickle_ms > 0) {
		if (n > 512)
			n = 512;
		struct timespec ts = { s->trickle_ms / 1000, (s->trickle_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	memcpy(buf, s->data + pos, n);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	stream *s = cls;
	free(s->data);
	free(s);
}

typedef enum { SEND_NORMAL, SEND_TRUNCATE, SEND_TRICKLE } send_mode;

static enum MHD_Result send_reply(struct MHD_Connection *conn, sb_reply *r, bool gzip_ok, send_mode mode,
                                  long trickle_ms)
{
	bool gz = false;
	if (r->compressible && gzip_ok && r->body.len >= 1024)
		gz = gzip_body(&r->body);
	size_t len = r->body.len;
	char *data = sbuf_steal(&r->body);
	struct MHD_Response *resp;
	if (mode == SEND_NORMAL) {
		resp = MHD_create_response_from_buffer_with_free_callback(len, data, free);
	} else {
		stream *st = xcalloc(1, sizeof(*st));
		st->data = data;
		st->len = len;
		st->limit = mode == SEND_TRUNCATE ? len / 2 : len;
		st->trickle_ms = mode == SEND_TRICKLE ? trickle_ms : 0;
		resp = MHD_create_response_from_callback(len, 4096, stream_cb, st, stream_free);
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", r->content_type);
	if (gz) {
		MHD_add_response_header(resp, "Content-Encoding", "gzip");
	}
	if (r->compressible)
		MHD_add_response_header(resp, "Vary", "Accept-Encoding");
	for (size_t i = 0; i < r->headers.n; i++)
		MHD_add_response_header(resp, r->headers.v[i].key, r->headers.v[i].value);
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result reset_connection(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci) {
		struct linger lg = { 1, 0 };
		setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	return MHD_NO;
}

static bool host_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 255)
		return false;
	for (const char *p = h; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '-' || *p == ':' || *p == '[' || *p == ']'))
			return false;
	}
	return true;
}

static void base_url(server *s, struct MHD_Connection *conn, char *out, size_t len)
{
	if (s->public_url) {
		snprintf(out, len, "%s", s->public_url);
		return;
	}
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	if (host && host_ok(host))
		snprintf(out, len, "%s://%s", s->tls ? "https" : "http", host);
	else
		snprintf(out, len, "%s://%s:%u", s->tls ? "https" : "http", s->listen_host, s->port);
}

static void sleep_ms(long ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---------------------------------------------------------------- admin */

static void faults_json(server *s, sbuf *out)
{
	sbuf_putc(out, '{');
	for (size_t i = 0; i < NFAULTS; i++)
		sbuf_printf(out, "%s\"%s\": %ld", i ? ", " : "", FAULTS[i].name, atomic_load(fault_slot(&s->f, i)));
	sbuf_putc(out, '}');
}

static int set_fault(faults *f, const char *name, const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < NFAULTS; i++) {
		if (strcmp(FAULTS[i].name, name) != 0)
			continue;
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (end == value || *end || errno || v < FAULTS[i].min || v > FAULTS[i].max) {
			if (v == 0 && end != value && !*end && !errno) {
				atomic_store(fault_slot(f, i), 0);
				return 0;
			}
			snprintf(err, errlen, "invalid value \"%.40s\" for %s: expected an integer from %ld to %ld", value,
			         name, FAULTS[i].min, FAULTS[i].max);
			return -1;
		}
		atomic_store(fault_slot(f, i), v);
		return 0;
	}
	snprintf(err, errlen, "unknown fault \"%.40s\"", name);
	return -1;
}

static int64_t admin_user(server *s, const sb_params *p, sb_reply *r)
{
	const char *u = sb_params_get(p, "user");
	int64_t idx = u ? sb_user_index(s->w, u) : -1;
	if (idx < 0) {
		const char *pid = sb_params_get(p, "patient");
		idx = pid ? sb_patient_index(s->w, pid) : -1;
	}
	if (idx < 0)
		sb_reply_message(r, 404, "no such synthetic user (give user=BBUserNNNNN or patient=-2014...)");
	return idx;
}

static void handle_admin(server *s, struct MHD_Connection *conn, const char *path, bool post, const sb_params *p,
                         sb_reply *r)
{
	const char *tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Admin-Token");
	if (!s->admin_token) {
		sb_reply_message(r, 404, "the admin endpoint is off (start with --admin-token)");
		return;
	}
	if (!tok || strlen(tok) != strlen(s->admin_token) || !ct_equal(tok, s->admin_token, strlen(tok))) {
		sb_reply_message(r, 401, "admin token missing or wrong (header X-Admin-Token)");
		return;
	}
	r->status = 200;
	r->content_type = "application/json";
	sbuf_reset(&r->body);
	if (strcmp(path, "/_admin/faults") == 0) {
		if (post) {
			char err[200];
			for (size_t i = 0; i < p->n; i++) {
				if (set_fault(&s->f, p->v[i].key, p->v[i].value, err, sizeof(err)) < 0) {
					sb_reply_message(r, 400, err);
					return;
				}
			}
		}
		faults_json(s, &r->body);
	} else if (strcmp(path, "/_admin/claims") == 0 && post) {
		int64_t idx = admin_user(s, p, r);
		if (idx < 0)
			return;
		const char *cnt = sb_params_get(p, "count");
		long n = cnt ? strtol(cnt, NULL, 10) : 1;
		if (n < 1 || n > 10000) {
			sb_reply_message(r, 400, "count must be from 1 to 10000");
			return;
		}
		size_t total = sb_add_claims(s->w, (uint32_t)idx, (unsigned)n);
		char lu[40];
		sb_format_instant(sb_last_load_ms(s->w), lu, sizeof(lu));
		sbuf_printf(&r->body, "{\"added\": %ld, \"total\": %zu, \"last_load\": \"%s\"}", n, total, lu);
	} else if (strcmp(path, "/_admin/grant") == 0 && post) {
		int64_t idx = admin_user(s, p, r);
		if (idx < 0)
			return;
		const char *action = sb_params_get(p, "action");
		bool ok;
		if (action && strcmp(action, "revoke") == 0)
			ok = sb_oauth_admin_revoke_grant(s->o, (uint32_t)idx);
		else if (action && strcmp(action, "expire") == 0)
			ok = sb_oauth_admin_expire_grant(s->o, (uint32_t)idx);
		else {
			sb_reply_message(r, 400, "action must be revoke or expire");
			return;
		}
		if (!ok) {
			sb_reply_message(r, 404, "Data Access Grant was Not Found.");
			return;
		}
		sb_oauth_admin_state(s->o, (uint32_t)idx, &r->body);
	} else if (strcmp(path, "/_admin/state") == 0) {
		int64_t idx = admin_user(s, p, r);
		if (idx < 0)
			return;
		sb_oauth_admin_state(s->o, (uint32_t)idx, &r->body);
	} else if (strcmp(path, "/_admin/truth") == 0) {
		int64_t idx = admin_user(s, p, r);
		if (idx < 0)
			return;
		sb_truth_json(s->w, (uint32_t)idx, &r->body);
	} else if (strcmp(path, "/_admin/counters/reset") == 0 && post) {
		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < s->n_paths; i++)
			free(s->paths[i].path);
		s->n_paths = 0;
		s->other_paths = 0;
		pthread_mutex_unlock(&s->mu);
		atomic_store(&s->requests, 0);
		atomic_store(&s->fhir_requests, 0);
		for (uint32_t i = 0; i < sb_world_size(s->w); i++)
			atomic_store(&s->user_requests[i], 0);
		sbuf_puts(&r->body, "{\"reset\": true}");
	} else if (strcmp(path, "/_admin/counters") == 0) {
		const char *token = sb_params_get(p, "token");
		if (token) {
			sbuf_printf(&r->body, "{\"token_requests\": %lld}", sb_oauth_token_requests(s->o, token));
			return;
		}
		sbuf_printf(&r->body, "{\"requests\": %lu, \"fhir_requests\": %lu, \"refresh_requests\": %lu, \"paths\": {",
		            atomic_load(&s->requests), atomic_load(&s->fhir_requests), atomic_load(&s->refresh_seq));
		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < s->n_paths; i++) {
			if (i)
				sbuf_puts(&r->body, ", ");
			sb_json_str(&r->body, s->paths[i].path);
			sbuf_printf(&r->body, ": %lu", s->paths[i].n);
		}
		sbuf_printf(&r->body, "}, \"other_paths\": %lu, \"users\": {", s->other_paths);
		pthread_mutex_unlock(&s->mu);
		bool first = true;
		for (uint32_t i = 0; i < sb_world_size(s->w); i++) {
			unsigned n = atomic_load(&s->user_requests[i]);
			if (!n)
				continue;
			char u[32];
			sb_username(i, u, sizeof(u));
			sbuf_printf(&r->body, "%s\"%s\": %u", first ? "" : ", ", u, n);
			first = false;
		}
		sbuf_puts(&r->body, "}}");
	} else {
		sb_reply_message(r, 404, "unknown admin endpoint (faults, claims, grant, state, truth, counters, counters/reset)");
	}
}

/* ---------------------------------------------------------------- dispatch */

static void discovery(const char *base, bool smart, sb_reply *r)
{
	r->status = 200;
	r->content_type = "application/json";
	sbuf *b = &r->body;
	sbuf_reset(b);
	if (smart) {
		sbuf_printf(b,
		            "{\"authorization_endpoint\": \"%s/v2/o/authorize/\", \"token_endpoint\": \"%s/v2/o/token/\", "
		            "\"revocation_endpoint\": \"%s/v2/o/revoke_token/\", "
		            "\"introspection_endpoint\": \"%s/v2/o/introspect/\", "
		            "\"code_challenge_methods_supported\": [\"S256\"], "
		            "\"grant_types_supported\": [\"authorization_code\", \"refresh_token\"], "
		            "\"token_endpoint_auth_methods_supported\": [\"client_secret_basic\", \"client_secret_post\"], "
		            "\"scopes_supported\": [\"openid\", \"profile\", \"launch/patient\", \"patient/Patient.read\", "
		            "\"patient/ExplanationOfBenefit.read\", \"patient/Coverage.read\", \"patient/Patient.rs\", "
		            "\"patient/ExplanationOfBenefit.rs\", \"patient/Coverage.rs\"], "
		            "\"capabilities\": [\"client-confidential-symmetric\", \"context-standalone-patient\", "
		            "\"launch-standalone\", \"permission-offline\", \"permission-patient\", \"authorize-post\"]}",
		            base, base, base, base);
	} else {
		sbuf_printf(b,
		            "{\"issuer\": \"%s\", \"authorization_endpoint\": \"%s/v2/o/authorize\", "
		            "\"revocation_endpoint\": \"%s/v2/o/revoke_token\", \"token_endpoint\": \"%s/v2/o/token/\", "
		            "\"userinfo_endpoint\": \"%s/v2/connect/userinfo\", "
		            "\"ui_locales_supported\": [\"en-US\"], \"service_documentation\": \"%s/developers\", "
		            "\"op_tos_uri\": \"%s/terms\", "
		            "\"grant_types_supported\": [\"refresh_token\", \"authorization_code\"], "
		            "\"response_types_supported\": [\"code\", \"token\"], "
		            "\"fhir_metadata_uri\": \"%s/v2/fhir/metadata\"}",
		            base, base, base, base, base, base, base, base);
	}
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	server *s = cls;
	(void)version;
	req *rq = *con_cls;
	if (!rq) {
		rq = xcalloc(1, sizeof(*rq));
		sbuf_init(&rq->upload, MAX_UPLOAD);
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (sbuf_append(&rq->upload, upload_data, *upload_size) < 0)
			rq->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}

	atomic_fetch_add(&s->requests, 1);
	count_path(s, url);
	bool post = strcmp(method, "POST") == 0;
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	sb_params q = { 0 }, form = { 0 };
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, &q);
	if (post && rq->upload.len)
		sb_params_parse_form(&form, rq->upload.data, rq->upload.len);
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
	bool gzip_ok = ae && strstr(ae, "gzip");
	char base[320];
	base_url(s, conn, base, sizeof(base));

	sb_reply r;
	sb_reply_init(&r);
	send_mode mode = SEND_NORMAL;
	long trickle = 0;
	enum MHD_Result result;

	if (strncmp(url, "/_admin/", 8) != 0)
		sleep_ms(atomic_load(&s->f.latency_ms));

	if (rq->too_big) {
		sb_reply_message(&r, 413, "request body too large");
	} else if (strncmp(url, "/_admin/", 8) == 0) {
		sb_params all = { 0 };
		for (size_t i = 0; i < q.n; i++)
			sb_params_add(&all, q.v[i].key, q.v[i].value);
		for (size_t i = 0; i < form.n; i++)
			sb_params_add(&all, form.v[i].key, form.v[i].value);
		handle_admin(s, conn, url, post, &all, &r);
		sb_params_free(&all);
	} else if (strcmp(url, "/v2/o/authorize/") == 0 || strcmp(url, "/v2/o/authorize") == 0) {
		if (!get && !post)
			sb_reply_detail(&r, 405, "Method not allowed.");
		else
			sb_oauth_authorize(s->o, post, NULL, &q, &form, &r);
	} else if (strncmp(url, "/v2/o/authorize/", 16) == 0) {
		char uuid[64];
		snprintf(uuid, sizeof(uuid), "%.40s", url + 16);
		char *slash = strchr(uuid, '/');
		if (slash)
			*slash = '\0';
		sb_oauth_authorize(s->o, post, uuid, &q, &form, &r);
	} else if (strcmp(url, "/v2/o/token/") == 0 || strcmp(url, "/v2/o/token") == 0) {
		if (!post) {
			sb_reply_detail(&r, 405, "Method not allowed.");
		} else {
			const char *gt = sb_params_get(&form, "grant_type");
			bool hazard = false;
			if (gt && strcmp(gt, "refresh_token") == 0) {
				unsigned long seq = atomic_fetch_add(&s->refresh_seq, 1) + 1;
				hazard = every(atomic_load(&s->f.every_rotate_502), seq);
			}
			sb_oauth_token(s->o, auth, &form, hazard, &r);
			sleep_ms(atomic_load(&s->f.token_reply_delay_ms));
		}
	} else if (strcmp(url, "/v2/o/revoke_token/") == 0 || strcmp(url, "/v2/o/revoke_token") == 0) {
		sb_oauth_revoke_token(s->o, auth, &form, &r);
	} else if (strcmp(url, "/v2/o/revoke/") == 0 || strcmp(url, "/v2/o/revoke") == 0) {
		sb_oauth_revoke(s->o, auth, &form, &r);
	} else if (strcmp(url, "/v2/o/introspect/") == 0 || strcmp(url, "/v2/o/introspect") == 0) {
		sb_oauth_introspect(s->o, auth, post ? &form : &q, &r);
	} else if (strncmp(url, "/v2/o/expire_authenticated_user/", 32) == 0 && post) {
		char pid[64];
		snprintf(pid, sizeof(pid), "%.40s", url + 32);
		char *slash = strchr(pid, '/');
		if (slash)
			*slash = '\0';
		sb_oauth_expire_hook(s->o, auth, pid, &r);
	} else if (strcmp(url, "/v2/fhir/metadata") == 0 || strcmp(url, "/v2/fhir/metadata/") == 0) {
		sb_fhir_metadata(base, &r);
	} else if (strcmp(url, "/v2/fhir/.well-known/smart-configuration") == 0) {
		discovery(base, true, &r);
	} else if (strcmp(url, "/v2/connect/.well-known/openid-configuration") == 0 ||
	           strcmp(url, "/.well-known/openid-configuration-v2") == 0) {
		discovery(base, false, &r);
	} else if (strncmp(url, "/v2/fhir/", 9) == 0 || strcmp(url, "/v2/connect/userinfo") == 0) {
		sb_access a;
		if (sb_params_get(&q, "access_token")) {
			sb_reply_detail(&r, 400, "Using the access token in the query parameters is not supported. "
			                         "Use the Authorization header instead.");
		} else if (!get) {
			char m[80];
			snprintf(m, sizeof(m), "Method \"%.20s\" not allowed.", method);
			sb_reply_detail(&r, 405, m);
		} else if (sb_oauth_check_bearer(s->o, auth, atomic_load(&s->f.rate_limit), &a, &r) == 0) {
			unsigned long seq = atomic_fetch_add(&s->fhir_seq, 1) + 1;
			atomic_fetch_add(&s->fhir_requests, 1);
			atomic_fetch_add(&s->user_requests[a.bene], 1);
			faults *f = &s->f;
			char num[32];
			if (every(atomic_load(&f->every_reset), seq)) {
				sb_reply_free(&r);
				sb_params_free(&q);
				sb_params_free(&form);
				return reset_connection(conn);
			}
			bool grant_fault = false;
			if (every(atomic_load(&f->every_revoke_grant), seq)) {
				sb_oauth_admin_revoke_grant(s->o, a.bene);
				grant_fault = true;
			} else if (every(atomic_load(&f->every_expire_grant), seq)) {
				sb_oauth_admin_expire_grant(s->o, a.bene);
				grant_fault = true;
			}
			if (grant_fault && sb_oauth_check_bearer(s->o, auth, 0, &a, &r) != 0) {
				/* r holds the 401 */
			} else if (a.throttled || every(atomic_load(&f->every_429), seq)) {
				long ra = atomic_load(&f->retry_after);
				snprintf(num, sizeof(num), "%ld", ra > 0 ? ra : 1);
				char d[120];
				snprintf(d, sizeof(d), "Request was throttled. Expected available in %s second%s.", num,
				         strcmp(num, "1") ? "s" : "");
				sb_reply_detail(&r, 429, d);
				sb_reply_header(&r, "Retry-After", num);
			} else if (every(atomic_load(&f->every_5xx), seq)) {
				long st = atomic_load(&f->status_5xx);
				if (st == 500)
					sb_reply_text(&r, 500, "application/json", "{\"error\": \"Server Error (500)\"}");
				else if (st == 503)
					sb_reply_text(&r, 503, "text/html",
					              "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>\n");
				else
					sb_reply_detail(&r, 502, "A failure occurred contacting the upstream server");
			} else {
				if (strncmp(url + 9, "ExplanationOfBenefit", 20) == 0) {
					unsigned long eseq = atomic_fetch_add(&s->eob_seq, 1) + 1;
					if (every(atomic_load(&f->every_add_claim), eseq))
						sb_add_claims(s->w, a.bene, 1);
				}
				if (url[1] == 'v' && strncmp(url, "/v2/connect/", 12) == 0)
					sb_fhir_userinfo(s->w, &a, &r);
				else
					sb_fhir_handle(s->w, &a, url + 9, &q, base, &r);
				if (r.status == 200) {
					if (accept && strstr(accept, "fhir+json"))
						r.content_type = "application/fhir+json";
					if (every(atomic_load(&f->every_malformed), seq) && r.body.len > 8) {
						/* complete, Content-Length right, but not JSON */
						r.body.len = r.body.len * 3 / 5;
						r.body.data[r.body.len] = '\0';
						sbuf_puts(&r.body, "\"},]");
					} else if (every(atomic_load(&f->every_truncate), seq)) {
						mode = SEND_TRUNCATE;
					}
					trickle = atomic_load(&f->trickle_ms);
					if (trickle > 0 && mode == SEND_NORMAL)
						mode = SEND_TRICKLE;
				}
			}
			snprintf(num, sizeof(num), "%ld", a.limit);
			sb_reply_header(&r, "X-RateLimit-Limit", num);
			snprintf(num, sizeof(num), "%ld", a.remaining);
			sb_reply_header(&r, "X-RateLimit-Remaining", num);
			snprintf(num, sizeof(num), "%ld", a.reset);
			sb_reply_header(&r, "X-RateLimit-Reset", num);
		}
	} else if (strcmp(url, "/") == 0 || strcmp(url, "/healthz") == 0) {
		sb_reply_text(&r, 200, "text/plain; charset=utf-8", "bbsandbox: Blue Button 2.0 sandbox emulator\n");
	} else {
		sb_reply_detail(&r, 404, "Not found.");
	}
	result = send_reply(conn, &r, gzip_ok, mode, trickle);
	sb_reply_free(&r);
	sb_params_free(&q);
	sb_params_free(&form);
	return result;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	req *rq = *con_cls;
	if (rq) {
		sbuf_free(&rq->upload);
		free(rq);
		*con_cls = NULL;
	}
}

/* ---------------------------------------------------------------- command line */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: bbsandbox [options]                 run the Blue Button 2.0 sandbox emulator\n"
	        "       bbsandbox truth USERNAME [options]  print a beneficiary's ground truth (JSON)\n"
	        "\n"
	        "data (same values give the same bytes):\n"
	        "  --seed S                   data seed (default 1)\n"
	        "  --beneficiaries N          synthetic users BBUser00000.. (default 10000)\n"
	        "  --profile normal|heavy     claims per user: median ~32 up to 80, or thousands (default normal)\n"
	        "\n"
	        "server:\n"
	        "  --listen HOST:PORT         address (default 127.0.0.1:0; port 0 picks a free port);\n"
	        "                             prints \"listening on HOST:PORT\" on stdout when ready\n"
	        "  --tls-cert FILE --tls-key FILE   serve HTTPS (PEM); plain HTTP without them\n"
	        "  --public-url URL           base of the links in bundles (default from the Host header)\n"
	        "  --admin-token T            enable /_admin/* (header X-Admin-Token: T)\n"
	        "\n"
	        "registered app:\n"
	        "  --client-id ID             (default bbsandbox00000000000000000000000000000000)\n"
	        "  --client-secret S          (default bbsandbox-secret)\n"
	        "  --redirect-uri URI         repeatable; first is the default (default http://127.0.0.1/callback,\n"
	        "                             any port, as DOT allows for loopback URIs without a port)\n"
	        "  --grant-type research|thirteen-month|one-time   data access type (default research)\n"
	        "  --expires-in SECS          access token lifetime (default 3600)\n"
	        "  --code-ttl SECS            authorization code lifetime (default 60)\n"
	        "\n"
	        "faults (0 = off; \"every N\" counts FHIR requests after authentication):\n");
	for (size_t i = 0; i < NFAULTS; i++)
		fprintf(f, "  --%-24s %s\n", FAULTS[i].name, FAULTS[i].help);
	fprintf(f,
	        "\n"
	        "authorize for scripts: /v2/o/authorize/?...&login_hint=BBUser00012 approves at once;\n"
	        "add bb_action=deny (access_denied) or bb_action=no_demographics (no Patient/profile scopes).\n"
	        "Without login_hint a login form is shown (password of BBUser00012 is PW00012!).\n"
	        "\n"
	        "admin (POST form or query; header X-Admin-Token):\n"
	        "  GET|POST /_admin/faults [NAME=VALUE...]     read or change faults\n"
	        "  POST /_admin/claims user=U [count=N]        add claims now (a weekly load)\n"
	        "  POST /_admin/grant user=U action=revoke|expire\n"
	        "  GET  /_admin/state user=U                   grant and live token counts\n"
	        "  GET  /_admin/truth user=U                   ground truth including added claims\n"
	        "  GET  /_admin/counters [token=T]             requests per path, per user (or one token)\n"
	        "  POST /_admin/counters/reset\n");
}

enum {
	OPT_SEED = 1000, OPT_BENES, OPT_PROFILE, OPT_LISTEN, OPT_CERT, OPT_KEY, OPT_PUBLIC, OPT_ADMIN,
	OPT_CLIENT_ID, OPT_CLIENT_SECRET, OPT_REDIRECT, OPT_GRANT, OPT_EXPIRES, OPT_CODE_TTL, OPT_HELP,
	OPT_FAULT0 = 2000,
};

typedef struct opts {
	uint64_t seed;
	uint32_t benes;
	sb_profile profile;
	const char *listen, *cert, *key, *public_url, *admin;
	sb_oauth_config oc;
	const char *redirects[32];
	size_t n_redirects;
} opts;

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || errno || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_opts(int argc, char **argv, opts *o, faults *f)
{
	struct option lo[64];
	size_t n = 0;
	lo[n++] = (struct option){ "seed", required_argument, NULL, OPT_SEED };
	lo[n++] = (struct option){ "beneficiaries", required_argument, NULL, OPT_BENES };
	lo[n++] = (struct option){ "profile", required_argument, NULL, OPT_PROFILE };
	lo[n++] = (struct option){ "listen", required_argument, NULL, OPT_LISTEN };
	lo[n++] = (struct option){ "tls-cert", required_argument, NULL, OPT_CERT };
	lo[n++] = (struct option){ "tls-key", required_argument, NULL, OPT_KEY };
	lo[n++] = (struct option){ "public-url", required_argument, NULL, OPT_PUBLIC };
	lo[n++] = (struct option){ "admin-token", required_argument, NULL, OPT_ADMIN };
	lo[n++] = (struct option){ "client-id", required_argument, NULL, OPT_CLIENT_ID };
	lo[n++] = (struct option){ "client-secret", required_argument, NULL, OPT_CLIENT_SECRET };
	lo[n++] = (struct option){ "redirect-uri", required_argument, NULL, OPT_REDIRECT };
	lo[n++] = (struct option){ "grant-type", required_argument, NULL, OPT_GRANT };
	lo[n++] = (struct option){ "expires-in", required_argument, NULL, OPT_EXPIRES };
	lo[n++] = (struct option){ "code-ttl", required_argument, NULL, OPT_CODE_TTL };
	lo[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	for (size_t i = 0; i < NFAULTS; i++)
		lo[n++] = (struct option){ FAULTS[i].name, required_argument, NULL, OPT_FAULT0 + (int)i };
	lo[n] = (struct option){ 0 };

	int c;
	uint64_t v;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_SEED:
			if (!parse_u64(optarg, UINT64_MAX, &o->seed)) {
				log_error("invalid --seed \"%s\": expected a non-negative integer", optarg);
				return -1;
			}
			break;
		case OPT_BENES:
			if (!parse_u64(optarg, 9000000, &v) || v == 0) {
				log_error("invalid --beneficiaries \"%s\": expected 1 to 9000000", optarg);
				return -1;
			}
			o->benes = (uint32_t)v;
			break;
		case OPT_PROFILE:
			if (strcmp(optarg, "normal") == 0)
				o->profile = SB_PROFILE_NORMAL;
			else if (strcmp(optarg, "heavy") == 0)
				o->profile = SB_PROFILE_HEAVY;
			else {
				log_error("invalid --profile \"%s\": expected normal or heavy", optarg);
				return -1;
			}
			break;
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_CERT: o->cert = optarg; break;
		case OPT_KEY: o->key = optarg; break;
		case OPT_PUBLIC: o->public_url = optarg; break;
		case OPT_ADMIN: o->admin = optarg; break;
		case OPT_CLIENT_ID: o->oc.client_id = optarg; break;
		case OPT_CLIENT_SECRET: o->oc.client_secret = optarg; break;
		case OPT_REDIRECT:
			if (o->n_redirects == sizeof(o->redirects) / sizeof(o->redirects[0])) {
				log_error("too many --redirect-uri options (at most 32)");
				return -1;
			}
			if (!strstr(optarg, "://") || strchr(optarg, '#')) {
				log_error("invalid --redirect-uri \"%s\": expected an absolute URI without a fragment", optarg);
				return -1;
			}
			o->redirects[o->n_redirects++] = optarg;
			break;
		case OPT_GRANT:
			if (strcmp(optarg, "research") == 0)
				o->oc.grant_type = SB_GRANT_RESEARCH;
			else if (strcmp(optarg, "thirteen-month") == 0)
				o->oc.grant_type = SB_GRANT_THIRTEEN_MONTH;
			else if (strcmp(optarg, "one-time") == 0)
				o->oc.grant_type = SB_GRANT_ONE_TIME;
			else {
				log_error("invalid --grant-type \"%s\": expected research, thirteen-month or one-time", optarg);
				return -1;
			}
			break;
		case OPT_EXPIRES:
			if (!parse_u64(optarg, 100000000, &v) || v == 0) {
				log_error("invalid --expires-in \"%s\": expected seconds, at least 1", optarg);
				return -1;
			}
			o->oc.expires_in = (int)v;
			break;
		case OPT_CODE_TTL:
			if (!parse_u64(optarg, 86400, &v) || v == 0) {
				log_error("invalid --code-ttl \"%s\": expected seconds from 1 to 86400", optarg);
				return -1;
			}
			o->oc.code_ttl = (int)v;
			break;
		case OPT_HELP:
		case 'h':
			usage(stdout);
			exit(0);
		default:
			if (c >= OPT_FAULT0 && c < OPT_FAULT0 + (int)NFAULTS) {
				char err[200];
				if (set_fault(f, FAULTS[c - OPT_FAULT0].name, optarg, err, sizeof(err)) < 0) {
					log_error("%s", err);
					return -1;
				}
				break;
			}
			log_error("unknown or incomplete option \"%s\"; see bbsandbox --help", argv[optind - 1]);
			return -1;
		}
	}
	return 0;
}

static char *read_file(const char *path, size_t max)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		log_error("cannot open \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	sbuf b;
	sbuf_init(&b, max);
	char tmp[4096];
	size_t n;
	bool ok = true;
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0) {
		if (sbuf_append(&b, tmp, n) < 0) {
			log_error("\"%s\" is larger than %zu bytes; is it really a PEM file?", path, max);
			ok = false;
			break;
		}
	}
	fclose(fp);
	if (!ok) {
		sbuf_free(&b);
		return NULL;
	}
	return sbuf_steal(&b);
}

static int cmd_truth(int argc, char **argv)
{
	opts o = { .seed = 1, .benes = 10000 };
	faults f;
	memset(&f, 0, sizeof(f));
	if (argc < 2 || argv[1][0] == '-') {
		log_error("truth needs a username, e.g. bbsandbox truth BBUser00012 --seed 1 --beneficiaries 10000");
		return EX_USAGE;
	}
	const char *user = argv[1];
	if (parse_opts(argc - 1, argv + 1, &o, &f) < 0)
		return EX_USAGE;
	sb_world *w = sb_world_new(o.seed, o.benes, o.profile);
	int64_t idx = sb_user_index(w, user);
	if (idx < 0) {
		log_error("no synthetic user \"%s\" among %" PRIu32 " beneficiaries; hint: names run BBUser00000 to BBUser%05" PRIu32,
		          user, o.benes, o.benes - 1);
		sb_world_free(w);
		return EX_DATAERR;
	}
	sbuf out;
	sbuf_init(&out, 0);
	sb_truth_json(w, (uint32_t)idx, &out);
	fwrite(out.data, 1, out.len, stdout);
	sbuf_free(&out);
	sb_world_free(w);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("bbsandbox", LOG_INFO, LOG_FORMAT_PLAIN);
	if (argc >= 2 && strcmp(argv[1], "truth") == 0)
		return cmd_truth(argc - 1, argv + 1);

	static server s;
	opts o = { .seed = 1, .benes = 10000, .listen = "127.0.0.1:0" };
	o.oc.client_id = "bbsandbox00000000000000000000000000000000";
	o.oc.client_secret = "bbsandbox-secret";
	o.oc.expires_in = 3600;
	o.oc.code_ttl = 60;
	o.oc.app_name = "bbsandbox research app";
	atomic_store(&s.f.status_5xx, 502);
	atomic_store(&s.f.retry_after, 1);
	if (parse_opts(argc, argv, &o, &s.f) < 0)
		return EX_USAGE;
	if (optind < argc) {
		log_error("unexpected argument \"%s\"; see bbsandbox --help", argv[optind]);
		return EX_USAGE;
	}
	if (o.n_redirects == 0)
		o.redirects[o.n_redirects++] = "http://127.0.0.1/callback";
	o.oc.redirect_uris = o.redirects;
	o.oc.n_redirect_uris = o.n_redirects;
	if ((o.cert == NULL) != (o.key == NULL)) {
		log_error("--tls-cert and --tls-key go together");
		return EX_USAGE;
	}

	/* listen address */
	const char *colon = strrchr(o.listen, ':');
	uint64_t port;
	if (!colon || (size_t)(colon - o.listen) >= sizeof(s.listen_host) || !parse_u64(colon + 1, 65535, &port)) {
		log_error("invalid --listen \"%s\": expected IPv4 HOST:PORT such as 127.0.0.1:8443", o.listen);
		return EX_USAGE;
	}
	memcpy(s.listen_host, o.listen, (size_t)(colon - o.listen));
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, s.listen_host, &sa.sin_addr) != 1) {
		log_error("invalid --listen host \"%s\": expected an IPv4 address", s.listen_host);
		return EX_USAGE;
	}

	char *cert = NULL, *key = NULL;
	if (o.cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			log_error("this libmicrohttpd was built without TLS; run without --tls-cert/--tls-key");
			return EX_UNAVAILABLE;
		}
		cert = read_file(o.cert, 1 << 20);
		key = cert ? read_file(o.key, 1 << 20) : NULL;
		if (!cert || !key) {
			free(cert);
			free(key);
			return EX_NOINPUT;
		}
		s.tls = true;
	}

	s.w = sb_world_new(o.seed, o.benes, o.profile);
	s.o = sb_oauth_new(&o.oc, s.w);
	s.admin_token = o.admin;
	s.public_url = o.public_url;
	s.user_requests = xcalloc(o.benes, sizeof(*s.user_requests));
	pthread_mutex_init(&s.mu, NULL);

	/* signals go to sigwait below, not to a handler */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	if (s.tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, key },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, cert },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, &s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)2000,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		MHD_OPTION_NOTIFY_COMPLETED, completed, &s,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
		MHD_OPTION_ARRAY, s.tls ? tls_opts : &tls_opts[2],
		MHD_OPTION_END);
	int rc = 0;
	if (!d) {
		log_error("cannot listen on %s (in use, or not an address of this machine?)", o.listen);
		rc = EX_UNAVAILABLE;
	} else {
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
		s.port = di ? di->port : (unsigned)port;
		printf("listening on %s:%u\n", s.listen_host, s.port);
		fflush(stdout);
		log_info("%s on %s:%u, seed %" PRIu64 ", %" PRIu32 " beneficiaries, profile %s", s.tls ? "https" : "http",
		         s.listen_host, s.port, o.seed, o.benes, o.profile == SB_PROFILE_HEAVY ? "heavy" : "normal");
		int sig;
		sigwait(&set, &sig);
		log_info("signal %d, stopping", sig);
		MHD_stop_daemon(d);
	}
	sb_oauth_free(s.o);
	sb_world_free(s.w);
	for (size_t i = 0; i < s.n_paths; i++)
		free(s.paths[i].path);
	free(s.user_requests);
	pthread_mutex_destroy(&s.mu);
	free(cert);
	free(key);
	return rc;
}
