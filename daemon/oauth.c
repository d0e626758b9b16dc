#include "oauth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <yajl/yajl_parse.h>

#include "oauthutil.h"
#include "util.h"

#define MAX_DEPTH 16
#define MAX_FIELD 8192

char *oauth_endpoint(const bb_config *cfg, const char *what)
{
	const char *base = cfg->api_base_url ? cfg->api_base_url : "";
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	return xasprintf("%.*s/%s/o/%s/", (int)n, base,
			 cfg->api_version ? cfg->api_version : "v2", what);
}

char *oauth_authorize_url(const bb_config *cfg, const char *state, const char *challenge)
{
	char *ep = oauth_endpoint(cfg, "authorize");
	sbuf b, scope;
	char *out;

	sbuf_init(&b, 64 * 1024);
	sbuf_init(&scope, 16 * 1024);
	for (size_t i = 0; i < cfg->n_scopes; i++) {
		if (i)
			sbuf_putc(&scope, ' ');
		sbuf_puts(&scope, cfg->scopes[i]);
	}
	sbuf_puts(&b, ep);
	sbuf_putc(&b, '?');
	ou_form_append(&b, "client_id", cfg->client_id ? cfg->client_id : "");
	ou_form_append(&b, "redirect_uri", cfg->redirect_uri ? cfg->redirect_uri : "");
	ou_form_append(&b, "response_type", "code");
	ou_form_append(&b, "state", state);
	ou_form_append(&b, "code_challenge", challenge);
	ou_form_append(&b, "code_challenge_method", "S256");
	if (scope.len)
		ou_form_append(&b, "scope", scope.data);
	free(ep);
	sbuf_free(&scope);
	out = sbuf_steal(&b);
	return out;
}

static char *form_steal(sbuf *b)
{
	return sbuf_steal(b);
}

char *oauth_code_body(const char *code, const char *redirect_uri, const char *verifier)
{
	sbuf b;

	sbuf_init(&b, 64 * 1024);
	ou_form_append(&b, "grant_type", "authorization_code");
	ou_form_append(&b, "code", code);
	ou_form_append(&b, "redirect_uri", redirect_uri ? redirect_uri : "");
	ou_form_append(&b, "code_verifier", verifier);
	return form_steal(&b);
}

char *oauth_refresh_body(const char *refresh_token)
{
	sbuf b;

	sbuf_init(&b, 64 * 1024);
	ou_form_append(&b, "grant_type", "refresh_token");
	ou_form_append(&b, "refresh_token", refresh_token);
	return form_steal(&b);
}

char *oauth_revoke_body(const char *access_token)
{
	sbuf b;

	sbuf_init(&b, 64 * 1024);
	ou_form_append(&b, "token", access_token);
	return form_steal(&b);
}

/* ---- token response parser ---- */

enum field {
	F_NONE, F_ACCESS, F_REFRESH, F_TYPE, F_SCOPE, F_PATIENT, F_GRANT_EXP,
	F_EXPIRES_IN, F_ERROR, F_ERROR_DESC,
};

typedef struct pstate {
	oauth_token_response *out;
	int depth;                  /* 1 inside the top-level object */
	bool top_is_object;
	enum field pending;         /* key just read at depth 1 */
	const char *fail;           /* static reason */
} pstate;

static char **field_slot(oauth_token_response *r, enum field f)
{
	switch (f) {
	case F_ACCESS: return &r->access_token;
	case F_REFRESH: return &r->refresh_token;
	case F_TYPE: return &r->token_type;
	case F_SCOPE: return &r->scope;
	case F_PATIENT: return &r->patient;
	case F_GRANT_EXP: return &r->grant_expiration;
	case F_ERROR: return &r->error;
	case F_ERROR_DESC: return &r->error_description;
	default: return NULL;
	}
}

static bool is_secret_field(enum field f)
{
	return f == F_ACCESS || f == F_REFRESH;
}

static int64_t parse_seconds(const char *s, size_t n)
{
	int64_t v = 0;
	size_t i = 0;

	if (n == 0 || s[0] < '0' || s[0] > '9')
		return -1;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (s[i] - '0');
		if (v > 100LL * 365 * 86400)
			return -1;
	}
	/* a fractional part (docs show 16768.5) is dropped; anything else is refused */
	if (i < n && s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
	}
	return i == n ? v : -1;
}

static void take_value(pstate *p, const char *s, size_t n, bool is_string)
{
	enum field f = p->pending;
	char **slot;

	p->pending = F_NONE;
	if (p->depth != 1 || f == F_NONE)
		return;
	if (f == F_EXPIRES_IN) {
		p->out->expires_in = parse_seconds(s, n);
		return;
	}
	if (!is_string)
		return;     /* a number where a string belongs: ignore */
	if (n > (is_secret_field(f) ? OAUTH_MAX_TOKEN_LEN : MAX_FIELD)) {
		p->fail = "a field of the answer is too long";
		return;
	}
	slot = field_slot(p->out, f);
	if (!slot)
		return;
	if (*slot) {
		/* duplicate key: keep neither (an ambiguous answer) */
		if (is_secret_field(f))
			ou_free_secret(*slot);
		else
			free(*slot);
		*slot = NULL;
		p->fail = "the answer repeats a field";
		return;
	}
	*slot = xstrndup(s, n);
	if (strlen(*slot) != n) {
		/* embedded NUL */
		if (is_secret_field(f))
			ou_free_secret(*slot);
		else
			free(*slot);
		*slot = NULL;
		p->fail = "a field of the answer holds a NUL character";
	}
}

static int cb_null(void *ctx)
{
	pstate *p = ctx;

	p->pending = F_NONE;
	return 1;
}

static int cb_bool(void *ctx, int b)
{
	(void)b;
	return cb_null(ctx);
}

static int cb_number(void *ctx, const char *s, size_t n)
{
	pstate *p = ctx;

	take_value(p, s, n, false);
	return p->fail ? 0 : 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
	pstate *p = ctx;

	take_value(p, (const char *)s, n, true);
	return p->fail ? 0 : 1;
}

static int cb_start_map(void *ctx)
{
	pstate *p = ctx;

	if (p->depth == 0)
		p->top_is_object = true;
	p->pending = F_NONE;
	if (++p->depth > MAX_DEPTH) {
		p->fail = "the answer is nested too deeply";
		return 0;
	}
	return 1;
}

static int cb_end(void *ctx)
{
	pstate *p = ctx;

	p->depth--;
	return 1;
}

static int cb_start_array(void *ctx)
{
	pstate *p = ctx;

	p->pending = F_NONE;
	if (++p->depth > MAX_DEPTH) {
		p->fail = "the answer is nested too deeply";
		return 0;
	}
	return 1;
}

static int cb_key(void *ctx, const unsigned char *k, size_t n)
{
	static const struct { const char *name; enum field f; } keys[] = {
		{ "access_token", F_ACCESS }, { "refresh_token", F_REFRESH },
		{ "token_type", F_TYPE }, { "scope", F_SCOPE }, { "patient", F_PATIENT },
		{ "access_grant_expiration", F_GRANT_EXP }, { "expires_in", F_EXPIRES_IN },
		{ "error", F_ERROR }, { "error_description", F_ERROR_DESC },
	};
	pstate *p = ctx;

	p->pending = F_NONE;
	if (p->depth != 1)
		return 1;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strlen(keys[i].name) == n && memcmp(keys[i].name, k, n) == 0)
			p->pending = keys[i].f;
	return 1;
}

static const yajl_callbacks parse_cbs = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

/* Reduce an OAuth error code to [a-z_] (at most 64), or "other". */
static void clean_error_code(oauth_token_response *r)
{
	char *e = r->error;
	size_t n;

	if (!e)
		return;
	n = strlen(e);
	for (size_t i = 0; i < n; i++)
		if (!((e[i] >= 'a' && e[i] <= 'z') || e[i] == '_'))
			n = 0;
	if (n == 0 || n > 64) {
		free(r->error);
		r->error = xstrdup("other");
	}
}

int oauth_parse_token_response(const char *body, size_t len, oauth_token_response *out,
			       char *err, size_t errlen)
{
	pstate p = { .out = out };
	yajl_handle y;
	yajl_status st;

	memset(out, 0, sizeof *out);
	out->expires_in = -1;
	if (len > OAUTH_MAX_RESPONSE) {
		snprintf(err, errlen, "the answer is larger than %d bytes", OAUTH_MAX_RESPONSE);
		return -1;
	}
	y = yajl_alloc(&parse_cbs, NULL, &p);
	if (!y) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st = yajl_parse(y, (const unsigned char *)body, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(y);
	yajl_free(y);
	clean_error_code(out);
	if (p.fail) {
		snprintf(err, errlen, "%s", p.fail);
		return -1;
	}
	if (st != yajl_status_ok) {
		snprintf(err, errlen, "the answer is not valid JSON");
		return -1;
	}
	if (!p.top_is_object) {
		snprintf(err, errlen, "the answer is not a JSON object");
		return -1;
	}
	return 0;
}

void oauth_token_response_clear(oauth_token_response *r)
{
	ou_free_secret(r->access_token);
	ou_free_secret(r->refresh_token);
	free(r->token_type);
	free(r->scope);
	free(r->patient);
	free(r->grant_expiration);
	free(r->error);
	free(r->error_description);
	memset(r, 0, sizeof *r);
	r->expires_in = -1;
}

const char *oauth_outcome_name(oauth_outcome o)
{
	switch (o) {
	case OAUTH_OK: return "ok";
	case OAUTH_GRANT_DEAD: return "grant_dead";
	case OAUTH_APP_REFUSED: return "app_refused";
	case OAUTH_IN_DOUBT: return "in_doubt";
	case OAUTH_NOT_SENT: return "not_sent";
	}
	return "unknown";
}

static bool not_sent_code(CURLcode c)
{
	switch (c) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return true;
	default:
		return false;
	}
}

static bool has_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; hay && *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

oauth_outcome oauth_classify(const http_result *res, const oauth_token_response *parsed)
{
	const char *e = parsed ? parsed->error : NULL;

	if (res->code != CURLE_OK || res->status == 0) {
		if (!res->aborted && not_sent_code(res->code))
			return OAUTH_NOT_SENT;
		return OAUTH_IN_DOUBT;      /* the request may have reached the server */
	}
	if (res->status == 200) {
		if (parsed && parsed->access_token && parsed->refresh_token &&
		    parsed->access_token[0] && parsed->refresh_token[0] && !res->body_truncated)
			return OAUTH_OK;
		return OAUTH_IN_DOUBT;      /* a 200 we cannot use: the old token is spent */
	}
	if (e && strcmp(e, "invalid_client") == 0)
		return OAUTH_APP_REFUSED;
	if (res->status == 429)
		return OAUTH_NOT_SENT;      /* throttled before the grant was looked at */
	if (e && strcmp(e, "invalid_grant") == 0 && (res->status == 400 || res->status == 401 ||
						     res->status == 403))
		return OAUTH_GRANT_DEAD;
	if (res->status == 400 && e && strcmp(e, "invalid_request") == 0 &&
	    has_ci(parsed->error_description, "not found"))
		return OAUTH_GRANT_DEAD;
	if (res->status == 401 || res->status == 403)
		return OAUTH_GRANT_DEAD;
	/* 5xx, 404 (the rotate-then-fail hazard), other 4xx: retried once */
	return OAUTH_IN_DOUBT;
}

void oauth_describe(const http_result *res, const oauth_token_response *parsed,
		    char *out, size_t outlen)
{
	if (res->aborted && res->status == 0)
		snprintf(out, outlen, "no answer: the daemon stopped during the call");
	else if (res->code != CURLE_OK && res->status == 0)
		snprintf(out, outlen, "no answer: %s", res->error ? res->error : "transfer failed");
	else if (res->code != CURLE_OK)
		snprintf(out, outlen, "HTTP %ld, then the transfer failed: %s", res->status,
			 res->error ? res->error : "unknown");
	else if (parsed && parsed->error)
		snprintf(out, outlen, "HTTP %ld %s", res->status, parsed->error);
	else
		snprintf(out, outlen, "HTTP %ld", res->status);
}

bool oauth_scope_has_patient(const char *scope)
{
	const char *s = scope;

	while (s && *s) {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		if (n > 16 && strncmp(s, "patient/Patient.", 16) == 0)
			return true;
		s += n;
	}
	return false;
}

bool oauth_grant_expiration(const char *text, char *out, size_t outlen)
{
	/* YYYY-MM-DDTHH:MM:SSZ */
	static const char pat[] = "dddd-dd-ddXdd:dd:ddZ";

	if (!text || strlen(text) != sizeof pat - 1 || outlen < sizeof pat)
		return false;
	for (size_t i = 0; i < sizeof pat - 1; i++) {
		char c = text[i];

		if (pat[i] == 'd' && !isdigit((unsigned char)c))
			return false;
		if (pat[i] == 'X' && c != 'T' && c != ' ')
			return false;
		if (pat[i] != 'd' && pat[i] != 'X' && c != pat[i])
			return false;
	}
	{
		/* a real calendar time: timegm round trip (timegm normalises its argument) */
		struct tm tm = { 0 }, back;
		int y = atoi(text), mo = atoi(text + 5), dd = atoi(text + 8);
		int hh = atoi(text + 11), mi = atoi(text + 14), ss = atoi(text + 17);
		time_t t;

		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = dd;
		tm.tm_hour = hh;
		tm.tm_min = mi;
		tm.tm_sec = ss;
		t = timegm(&tm);
		if (!gmtime_r(&t, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
		    back.tm_mday != dd || back.tm_hour != hh || back.tm_min != mi || back.tm_sec != ss)
			return false;
	}
	memcpy(out, text, sizeof pat);
	out[10] = 'T';
	return true;
}

int oauth_post(http *h, const bb_config *cfg, const char *endpoint, char *body,
	       void (*on_done)(void *ud, const http_result *res), void *ud,
	       char *err, size_t errlen)
{
	char *auth = ou_basic_auth_header(cfg->client_id ? cfg->client_id : "",
					  cfg->client_secret ? cfg->client_secret : "");
	char *url = oauth_endpoint(cfg, endpoint);
	http_request req = {
		.method = "POST",
		.url = url,
		.body = body,
		.body_len = strlen(body),
		.content_type = "application/x-www-form-urlencoded",
		.auth_header = auth,
		.accept = "application/json",
		.timeout_ms = (long)cfg->token_timeout_s * 1000L,
		.connect_timeout_ms = 10000,
		.max_body = OAUTH_MAX_RESPONSE,
		.on_done = on_done,
		.ud = ud,
	};
	int rc = http_start(h, &req, err, errlen);

	/* http_start copied what it needs */
	ou_free_secret(body);
	ou_free_secret(auth);
	free(url);
	return rc;
}
