/*
 * sb_oauth: see sb_oauth.h.  Messages are Blue Button's own
 * (apps/dot_ext, oauthlib, django-oauth-toolkit), see bluebutton-api.md.
 */
#include "sb_oauth.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define TOKEN_LEN 30
#define MSG_TIMED_OUT "User access has timed out. To refresh Medicare data, end user must re-authenticate and consent to share their data."
#define MSG_NOT_FOUND "User access cannot be found. To refresh Medicare data, end user must re-authenticate and consent to share their data."
#define MSG_ONE_TIME "Your application is not allowed to refresh tokens. To refresh Medicare data, end user must re-authenticate and consent to share their data. If your application needs to refresh tokens, contact us at BlueButtonAPI@cms.hhs.gov."
#define MSG_NO_CREDENTIALS "Authentication credentials were not provided."

static const char *const KNOWN_SCOPES[] = {
	"openid", "profile", "launch/patient",
	"patient/Patient.read", "patient/Patient.rs", "patient/Patient.r", "patient/Patient.s",
	"patient/Coverage.read", "patient/Coverage.rs", "patient/Coverage.r", "patient/Coverage.s",
	"patient/ExplanationOfBenefit.read", "patient/ExplanationOfBenefit.rs",
	"patient/ExplanationOfBenefit.r", "patient/ExplanationOfBenefit.s",
};
#define DEFAULT_SCOPES "openid profile launch/patient patient/Patient.rs patient/Coverage.rs patient/ExplanationOfBenefit.rs"

/* ---------------------------------------------------------------- string map */

typedef struct ment {
	char *key;
	void *val;
	struct ment *next;
} ment;

typedef struct smap {
	ment **b;
	size_t nb, n;
} smap;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void smap_grow(smap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 1024;
	ment **b = xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < m->nb; i++) {
		for (ment *e = m->b[i], *next; e; e = next) {
			next = e->next;
			size_t j = hash_str(e->key) & (nb - 1);
			e->next = b[j];
			b[j] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

static void smap_put(smap *m, const char *key, void *val)
{
	if (m->n >= m->nb)
		smap_grow(m);
	ment *e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->val = val;
	size_t j = hash_str(key) & (m->nb - 1);
	e->next = m->b[j];
	m->b[j] = e;
	m->n++;
}

static void *smap_get(const smap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	for (ment *e = m->b[hash_str(key) & (m->nb - 1)]; e; e = e->next) {
		if (strcmp(e->key, key) == 0)
			return e->val;
	}
	return NULL;
}

static void *smap_del(smap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	ment **pp = &m->b[hash_str(key) & (m->nb - 1)];
	for (ment *e = *pp; e; pp = &e->next, e = e->next) {
		if (strcmp(e->key, key) == 0) {
			void *v = e->val;
			*pp = e->next;
			free(e->key);
			free(e);
			m->n--;
			return v;
		}
	}
	return NULL;
}

/* call fn on every value; fn may not touch the map */
static void smap_free(smap *m, void (*fn)(void *))
{
	for (size_t i = 0; i < m->nb; i++) {
		for (ment *e = m->b[i], *next; e; e = next) {
			next = e->next;
			if (fn)
				fn(e->val);
			free(e->key);
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- state */

typedef struct pair {
	char access[TOKEN_LEN + 1];
	char refresh[TOKEN_LEN + 1];
	uint32_t bene;
	char *scope;
	int64_t access_exp_us;
	bool in_access, in_refresh;
	bool refresh_revoked;      /* used (rotated) or revoked */
	bool access_revoked;       /* revoked by revoke_token: its refresh is unusable */
	long long requests;
	int64_t window_s;
	long window_n;
	struct pair *next;         /* the beneficiary's pairs */
} pair;

typedef struct bene_auth {
	pair *pairs;
	bool grant;
	int64_t grant_exp_us;      /* 0: never */
	unsigned long pairs_issued; /* token pairs issued (code exchanges and rotations) */
} bene_auth;

typedef struct code {
	uint32_t bene;
	char *scope, *redirect_uri, *challenge;
	bool redirect_given;
	int64_t exp_us;
} code;

typedef struct pending {
	char *client_id, *redirect_uri, *state, *challenge, *scope;
	bool redirect_given;
	int64_t exp_us;
} pending;

/* an authorization request being approved (borrowed strings) */
typedef struct auth_req {
	const char *redirect_uri, *state, *challenge, *scope;
	bool redirect_given;
} auth_req;

struct sb_oauth {
	const sb_oauth_config *cfg;
	sb_world *w;
	pthread_mutex_t mu;
	smap access, refresh, codes, pendings;
	bene_auth **ba;
	uint32_t n;
};

static void random_token(char *out, size_t len)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t o = 0;
	while (o < len) {
		unsigned char b[64];
		if (RAND_bytes(b, sizeof(b)) != 1)
			abort();
		for (size_t i = 0; i < sizeof(b) && o < len; i++) {
			if (b[i] < 248)
				out[o++] = alnum[b[i] % 62];
		}
	}
	out[len] = '\0';
}

static void code_free(void *p)
{
	code *c = p;
	free(c->scope);
	free(c->redirect_uri);
	free(c->challenge);
	free(c);
}

static void pending_free(void *p)
{
	pending *q = p;
	free(q->client_id);
	free(q->redirect_uri);
	free(q->state);
	free(q->challenge);
	free(q->scope);
	free(q);
}

sb_oauth *sb_oauth_new(const sb_oauth_config *cfg, sb_world *w)
{
	sb_oauth *o = xcalloc(1, sizeof(*o));
	o->cfg = cfg;
	o->w = w;
	o->n = sb_world_size(w);
	o->ba = xcalloc(o->n ? o->n : 1, sizeof(*o->ba));
	pthread_mutex_init(&o->mu, NULL);
	return o;
}

void sb_oauth_free(sb_oauth *o)
{
	if (!o)
		return;
	for (uint32_t i = 0; i < o->n; i++) {
		if (!o->ba[i])
			continue;
		for (pair *p = o->ba[i]->pairs, *next; p; p = next) {
			next = p->next;
			free(p->scope);
			free(p);
		}
		free(o->ba[i]);
	}
	free(o->ba);
	smap_free(&o->access, NULL);
	smap_free(&o->refresh, NULL);
	smap_free(&o->codes, code_free);
	smap_free(&o->pendings, pending_free);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

static bene_auth *bene(sb_oauth *o, uint32_t idx)
{
	if (!o->ba[idx])
		o->ba[idx] = xcalloc(1, sizeof(**o->ba));
	return o->ba[idx];
}

static bool grant_expired(const sb_oauth *o, const bene_auth *b)
{
	return o->cfg->grant_type == SB_GRANT_THIRTEEN_MONTH && b->grant_exp_us != 0 &&
	       now_wall_us() >= b->grant_exp_us;
}

static void pair_maybe_free(sb_oauth *o, pair *p)
{
	if (p->in_access || p->in_refresh)
		return;
	bene_auth *b = bene(o, p->bene);
	for (pair **pp = &b->pairs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	free(p->scope);
	free(p);
}

static void drop_access(sb_oauth *o, pair *p)
{
	if (p->in_access) {
		smap_del(&o->access, p->access);
		p->in_access = false;
	}
}

static void drop_refresh(sb_oauth *o, pair *p)
{
	if (p->in_refresh) {
		smap_del(&o->refresh, p->refresh);
		p->in_refresh = false;
	}
}

/* the data access grant is deleted: its signal deletes the access tokens
 * and revokes the refresh tokens; on re-authorization the refresh tokens are
 * deleted too (so they are "not found" afterwards) */
static void delete_grant(sb_oauth *o, uint32_t idx, bool delete_refresh)
{
	bene_auth *b = bene(o, idx);
	b->grant = false;
	b->grant_exp_us = 0;
	pair *p = b->pairs;
	while (p) {
		pair *next = p->next;
		drop_access(o, p);
		p->refresh_revoked = true;
		if (delete_refresh)
			drop_refresh(o, p);
		pair_maybe_free(o, p);
		p = next;
	}
}

static pair *pair_new(sb_oauth *o, uint32_t idx, const char *scope)
{
	pair *p = xcalloc(1, sizeof(*p));
	do
		random_token(p->access, TOKEN_LEN);
	while (smap_get(&o->access, p->access) || smap_get(&o->refresh, p->access));
	do
		random_token(p->refresh, TOKEN_LEN);
	while (smap_get(&o->access, p->refresh) || smap_get(&o->refresh, p->refresh));
	p->bene = idx;
	p->scope = xstrdup(scope);
	p->access_exp_us = now_wall_us() + (int64_t)o->cfg->expires_in * 1000000;
	smap_put(&o->access, p->access, p);
	smap_put(&o->refresh, p->refresh, p);
	p->in_access = p->in_refresh = true;
	bene_auth *b = bene(o, idx);
	p->next = b->pairs;
	b->pairs = p;
	b->pairs_issued++;
	return p;
}

/* ---------------------------------------------------------------- helpers */

/* copy n bytes of p into a NUL-terminated buffer; false if it does not fit */
static bool copy_word(char *dst, size_t dstlen, const char *p, size_t n)
{
	if (n >= dstlen)
		return false;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return true;
}

static bool scope_has(const char *scopes, const char *s)
{
	size_t n = strlen(s);
	for (const char *p = scopes; (p = strstr(p, s)) != NULL; p += n) {
		if ((p == scopes || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	}
	return false;
}

static bool known_scope(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(KNOWN_SCOPES) / sizeof(*KNOWN_SCOPES); i++) {
		if (strlen(KNOWN_SCOPES[i]) == n && strncmp(KNOWN_SCOPES[i], s, n) == 0)
			return true;
	}
	return false;
}

static bool demographic_scope(const char *s, size_t n)
{
	return (n == 7 && strncmp(s, "profile", 7) == 0) || strncmp(s, "patient/Patient.", 16) == 0;
}

/* keep known scopes (and drop demographic ones when asked); NULL when an
 * unknown scope was requested */
static char *filter_scopes(const char *requested, bool no_demographics)
{
	sbuf out;
	sbuf_init(&out, 4096);
	const char *p = requested;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if (e > p) {
			if (!known_scope(p, (size_t)(e - p))) {
				sbuf_free(&out);
				return NULL;
			}
			if (!(no_demographics && demographic_scope(p, (size_t)(e - p)))) {
				char tmp[64];
				copy_word(tmp, sizeof(tmp), p, (size_t)(e - p));
				if (!scope_has(out.data ? out.data : "", tmp)) {
					if (out.len)
						sbuf_putc(&out, ' ');
					sbuf_append(&out, p, (size_t)(e - p));
				}
			}
		}
		p = e;
	}
	return sbuf_steal(&out);
}

typedef struct url_parts {
	char scheme[16];
	char host[256];
	char port[8];
	char path[1024];
	char query[1024];
	bool fragment;
} url_parts;

static bool split_url(const char *u, url_parts *p)
{
	memset(p, 0, sizeof(*p));
	const char *s = strstr(u, "://");
	if (!s || (size_t)(s - u) >= sizeof(p->scheme))
		return false;
	memcpy(p->scheme, u, (size_t)(s - u));
	const char *a = s + 3;
	const char *ae = a + strcspn(a, "/?#");
	const char *colon = NULL;
	if (*a == '[') {
		const char *rb = memchr(a, ']', (size_t)(ae - a));
		if (!rb)
			return false;
		colon = rb + 1 < ae && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(a, ':', (size_t)(ae - a));
	}
	const char *he = colon ? colon : ae;
	if ((size_t)(he - a) >= sizeof(p->host) || he == a)
		return false;
	memcpy(p->host, a, (size_t)(he - a));
	if (colon) {
		if ((size_t)(ae - colon - 1) >= sizeof(p->port))
			return false;
		memcpy(p->port, colon + 1, (size_t)(ae - colon - 1));
	}
	const char *pe = ae + strcspn(ae, "?#");
	if ((size_t)(pe - ae) >= sizeof(p->path))
		return false;
	memcpy(p->path, ae, (size_t)(pe - ae));
	if (*pe == '?') {
		const char *qe = pe + 1 + strcspn(pe + 1, "#");
		if ((size_t)(qe - pe - 1) >= sizeof(p->query))
			return false;
		memcpy(p->query, pe + 1, (size_t)(qe - pe - 1));
		pe = qe;
	}
	p->fragment = *pe == '#';
	return true;
}

/* DOT's rule: scheme, host, port and path equal, registered query params a
 * subset; a registered loopback URI without a port accepts any port */
static bool redirect_allowed(const sb_oauth *o, const char *uri)
{
	url_parts u;
	if (!split_url(uri, &u) || u.fragment)
		return false;
	for (size_t i = 0; i < o->cfg->n_redirect_uris; i++) {
		url_parts r;
		if (!split_url(o->cfg->redirect_uris[i], &r))
			continue;
		if (strcasecmp(r.scheme, u.scheme) != 0 || strcasecmp(r.host, u.host) != 0 || strcmp(r.path, u.path) != 0)
			continue;
		bool loopback = strcmp(r.host, "127.0.0.1") == 0 || strcmp(r.host, "[::1]") == 0;
		if (strcmp(r.port, u.port) != 0 && !(loopback && r.port[0] == '\0'))
			continue;
		sb_params rq = { 0 }, uq = { 0 };
		sb_params_parse_form(&rq, r.query, strlen(r.query));
		sb_params_parse_form(&uq, u.query, strlen(u.query));
		bool ok = true;
		for (size_t k = 0; k < rq.n && ok; k++) {
			const char *v = sb_params_get(&uq, rq.v[k].key);
			ok = v && strcmp(v, rq.v[k].value) == 0;
		}
		sb_params_free(&rq);
		sb_params_free(&uq);
		if (ok)
			return true;
	}
	return false;
}

static void redirect_to(sb_reply *r, const char *uri, const char *query)
{
	sbuf loc;
	sbuf_init(&loc, 0);
	sbuf_puts(&loc, uri);
	sbuf_putc(&loc, strchr(uri, '?') ? '&' : '?');
	sbuf_puts(&loc, query);
	r->status = 302;
	r->content_type = "text/html; charset=utf-8";
	sbuf_reset(&r->body);
	sb_reply_header(r, "Location", loc.data);
	sbuf_free(&loc);
}

static void redirect_error(sb_reply *r, const char *uri, const char *error, const char *state)
{
	sbuf q;
	sbuf_init(&q, 0);
	sbuf_puts(&q, "error=");
	sbuf_puts(&q, error);
	if (state) {
		sbuf_puts(&q, "&state=");
		sb_url_encode(&q, state);
	}
	redirect_to(r, uri, q.data);
	sbuf_free(&q);
}

static void html_escape(sbuf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': sbuf_puts(out, "&lt;"); break;
		case '>': sbuf_puts(out, "&gt;"); break;
		case '&': sbuf_puts(out, "&amp;"); break;
		case '"': sbuf_puts(out, "&quot;"); break;
		case '\'': sbuf_puts(out, "&#39;"); break;
		default: sbuf_putc(out, *s);
		}
	}
}

/* ---------------------------------------------------------------- authorize */

typedef enum { ACT_ALLOW, ACT_DENY, ACT_NO_DEMOGRAPHICS } approve_action;

static void approve(sb_oauth *o, uint32_t idx, const auth_req *q, approve_action act, sb_reply *r)
{
	char *scopes = filter_scopes(q->scope ? q->scope : DEFAULT_SCOPES, act == ACT_NO_DEMOGRAPHICS);
	if (!scopes) {
		/* ApprovalView turns DOT's invalid_scope redirect into this */
		sb_reply_message(r, 400, "Invalid scopes.");
		return;
	}
	pthread_mutex_lock(&o->mu);
	if (act == ACT_DENY || scopes[0] == '\0') {
		if (scopes[0] == '\0')
			delete_grant(o, idx, true);
		pthread_mutex_unlock(&o->mu);
		redirect_error(r, q->redirect_uri, "access_denied", q->state);
		free(scopes);
		return;
	}
	/* BB2-4781: a new authorization deletes the pair's earlier tokens and
	 * grant; then the new grant is recorded */
	delete_grant(o, idx, true);
	bene_auth *b = bene(o, idx);
	b->grant = true;
	if (o->cfg->grant_type == SB_GRANT_THIRTEEN_MONTH) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		tm.tm_mon += 13;
		b->grant_exp_us = (int64_t)timegm(&tm) * 1000000;
	}
	code *c = xcalloc(1, sizeof(*c));
	c->bene = idx;
	c->scope = scopes;
	c->redirect_uri = xstrdup(q->redirect_uri);
	c->redirect_given = q->redirect_given;
	c->challenge = xstrdup(q->challenge);
	c->exp_us = now_wall_us() + (int64_t)o->cfg->code_ttl * 1000000;
	char cv[TOKEN_LEN + 1];
	do
		random_token(cv, TOKEN_LEN);
	while (smap_get(&o->codes, cv));
	smap_put(&o->codes, cv, c);
	pthread_mutex_unlock(&o->mu);

	sbuf qs;
	sbuf_init(&qs, 0);
	sbuf_puts(&qs, "code=");
	sbuf_puts(&qs, cv);
	sbuf_puts(&qs, "&state=");
	sb_url_encode(&qs, q->state);
	redirect_to(r, q->redirect_uri, qs.data);
	sbuf_free(&qs);
}

static void login_page(sb_reply *r, const char *uuid, const char *error)
{
	r->status = error ? 400 : 200;
	r->content_type = "text/html; charset=utf-8";
	sbuf *b = &r->body;
	sbuf_reset(b);
	sbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	             "<title>Medicare.gov sandbox login</title></head><body>\n"
	             "<h1>Log in to the Blue Button sandbox</h1>\n"
	             "<p>Synthetic users are BBUser00000, BBUser00001, ...; the password of BBUser00012 is PW00012!</p>\n");
	if (error) {
		sbuf_puts(b, "<p role=\"alert\">");
		html_escape(b, error);
		sbuf_puts(b, "</p>\n");
	}
	sbuf_printf(b, "<form method=\"post\" action=\"/v2/o/authorize/%s/\">\n", uuid);
	sbuf_puts(b, "<label>Username <input name=\"username\" autocomplete=\"username\"></label><br>\n"
	             "<label>Password <input name=\"password\" type=\"password\"></label><br>\n"
	             "<label><input type=\"radio\" name=\"share_demographic_scopes\" value=\"True\" checked> "
	             "Share all of my information</label><br>\n"
	             "<label><input type=\"radio\" name=\"share_demographic_scopes\" value=\"False\"> "
	             "Share my health data, but not my personal information</label><br>\n"
	             "<button name=\"allow\" value=\"True\">Allow</button>\n"
	             "<button name=\"allow\" value=\"False\">Deny</button>\n"
	             "</form></body></html>\n");
}

static const char *get2(const sb_params *a, const sb_params *b, const char *key)
{
	const char *v = a ? sb_params_get(a, key) : NULL;
	return v ? v : b ? sb_params_get(b, key) : NULL;
}

void sb_oauth_authorize(sb_oauth *o, bool post, const char *uuid, const sb_params *query,
                        const sb_params *form, sb_reply *r)
{
	if (uuid) {
		/* the login form of a pending authorization */
		pthread_mutex_lock(&o->mu);
		pending *q = smap_get(&o->pendings, uuid);
		if (q && q->exp_us < now_wall_us()) {
			smap_del(&o->pendings, uuid);
			pending_free(q);
			q = NULL;
		}
		pthread_mutex_unlock(&o->mu);
		if (!q || !post) {
			if (q && !post) {
				login_page(r, uuid, NULL);
				return;
			}
			sb_reply_message(r, 404, "Not found.");
			return;
		}
		const char *user = form ? sb_params_get(form, "username") : NULL;
		const char *pw = form ? sb_params_get(form, "password") : NULL;
		const char *share = form ? sb_params_get(form, "share_demographic_scopes") : NULL;
		const char *allow = form ? sb_params_get(form, "allow") : NULL;
		int64_t idx = user ? sb_user_index(o->w, user) : -1;
		char expect[32] = "";
		if (idx >= 0)
			snprintf(expect, sizeof(expect), "PW%05" PRId64 "!", idx);
		if (idx < 0 || !pw || strcmp(pw, expect) != 0) {
			login_page(r, uuid, "The username or password is not correct");
			return;
		}
		pthread_mutex_lock(&o->mu);
		q = smap_del(&o->pendings, uuid);
		pthread_mutex_unlock(&o->mu);
		if (!q) {
			sb_reply_message(r, 404, "Not found.");
			return;
		}
		approve_action act = allow && strcasecmp(allow, "false") == 0 ? ACT_DENY
		                     : share && strcasecmp(share, "false") == 0 ? ACT_NO_DEMOGRAPHICS : ACT_ALLOW;
		auth_req ar = { q->redirect_uri, q->state, q->challenge, q->scope, q->redirect_given };
		approve(o, (uint32_t)idx, &ar, act, r);
		pending_free(q);
		return;
	}

	const sb_params *pq = query, *pf = post ? form : NULL;
	if (post && !(pf && sb_params_get(pf, "state"))) {
		sb_reply_message(r, 401, "State required in POST body.");
		return;
	}
	const char *client_id = get2(pq, pf, "client_id");
	if (!client_id || strcmp(client_id, o->cfg->client_id) != 0) {
		sb_reply_text(r, 401, "text/html; charset=utf-8",
		              "<!DOCTYPE html><html><body><h1>Application inactive</h1>"
		              "<p>invalid_client : Application does not exist</p></body></html>\n");
		return;
	}
	if (get2(pq, pf, "client_secret")) {
		sb_reply_text(r, 400, "text/html; charset=utf-8", "Illegal query parameter [client_secret] detected");
		return;
	}
	const char *challenge = get2(pq, pf, "code_challenge");
	const char *method = get2(pq, pf, "code_challenge_method");
	const char *state = get2(pq, pf, "state");
	if (!post) {
		char missing[128] = "";
		if (!challenge || !*challenge)
			strcat(missing, "code_challenge");
		if (!method || !*method)
			strcat(missing, *missing ? ", code_challenge_method" : "code_challenge_method");
		if (!state || !*state) {
			strcat(missing, *missing ? ", state" : "state");
		} else if (strlen(state) < 16 && !*missing) {
			sb_reply_message(r, 400, "State parameter should have a minimum of 16 characters");
			return;
		}
		if (*missing) {
			char msg[200];
			snprintf(msg, sizeof(msg), "Missing Required Parameter(s): %s", missing);
			sb_reply_message(r, 400, msg);
			return;
		}
	}
	if (!method || strcmp(method, "S256") != 0) {
		sb_reply_oauth_error(r, 400, "invalid_request", "code_challenge_method must be S256");
		return;
	}
	if (!challenge || !*challenge) {
		sb_reply_oauth_error(r, 400, "invalid_request", "Code challenge required.");
		return;
	}
	const char *redirect = get2(pq, pf, "redirect_uri");
	bool redirect_given = redirect != NULL;
	if (!redirect)
		redirect = o->cfg->redirect_uris[0];
	if (!redirect_allowed(o, redirect)) {
		sb_reply_oauth_error(r, 400, "invalid_request", "Mismatching redirect URI.");
		return;
	}
	const char *rt = get2(pq, pf, "response_type");
	if (!rt) {
		redirect_error(r, redirect, "invalid_request", state);
		return;
	}
	if (strcmp(rt, "code") != 0) {
		redirect_error(r, redirect, "unsupported_response_type", state);
		return;
	}
	const char *scope = get2(pq, pf, "scope");
	if (scope) {
		char *f = filter_scopes(scope, false);
		if (!f) {
			redirect_error(r, redirect, "invalid_scope", state);
			return;
		}
		free(f);
	}

	auth_req q = { redirect, state ? state : "", challenge, scope, redirect_given };
	const char *hint = get2(pq, pf, "login_hint");
	if (hint) {
		int64_t idx = sb_user_index(o->w, hint);
		if (idx < 0) {
			sb_reply_message(r, 400, "login_hint does not name a synthetic user of this sandbox");
			return;
		}
		const char *action = get2(pq, pf, "bb_action");
		approve_action act = ACT_ALLOW;
		if (action && strcmp(action, "deny") == 0)
			act = ACT_DENY;
		else if (action && strcmp(action, "no_demographics") == 0)
			act = ACT_NO_DEMOGRAPHICS;
		else if (action && strcmp(action, "allow") != 0) {
			sb_reply_message(r, 400, "bb_action must be allow, deny or no_demographics");
			return;
		}
		approve(o, (uint32_t)idx, &q, act, r);
		return;
	}

	/* the interactive way: keep the request and show the login form */
	pending *p = xcalloc(1, sizeof(*p));
	p->client_id = xstrdup(client_id);
	p->redirect_uri = xstrdup(redirect);
	p->redirect_given = redirect_given;
	p->state = xstrdup(q.state);
	p->challenge = xstrdup(challenge);
	p->scope = scope ? xstrdup(scope) : NULL;
	p->exp_us = now_wall_us() + 600 * INT64_C(1000000);
	unsigned char raw[16];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		abort();
	raw[6] = (unsigned char)((raw[6] & 0x0f) | 0x40);
	raw[8] = (unsigned char)((raw[8] & 0x3f) | 0x80);
	char uid[40];
	snprintf(uid, sizeof(uid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8], raw[9], raw[10],
	         raw[11], raw[12], raw[13], raw[14], raw[15]);
	pthread_mutex_lock(&o->mu);
	smap_put(&o->pendings, uid, p);
	pthread_mutex_unlock(&o->mu);
	login_page(r, uid, NULL);
}

/* ---------------------------------------------------------------- client auth */

typedef struct client_creds {
	char id[256];
	char secret[256];
	bool basic, has_id, has_secret;
} client_creds;

static bool b64_decode(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 + 1 > outlen)
		return false;
	int len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return false;
	if (n >= 1 && in[n - 1] == '=')
		len--;
	if (n >= 2 && in[n - 2] == '=')
		len--;
	out[len] = '\0';
	return strlen(out) == (size_t)len;
}

/* RFC 6749 2.3.1: id and secret are form-encoded inside Basic */
static void form_unescape(char *s)
{
	sb_params p = { 0 };
	sbuf tmp;
	sbuf_init(&tmp, 0);
	sbuf_puts(&tmp, "x=");
	sbuf_puts(&tmp, s);
	sb_params_parse_form(&p, tmp.data, tmp.len);
	const char *v = sb_params_get(&p, "x");
	snprintf(s, 256, "%s", v ? v : "");
	sb_params_free(&p);
	sbuf_free(&tmp);
}

/* 0: creds read (possibly none); -1: reply filled */
static int read_client(const char *auth_header, const sb_params *form, client_creds *c, sb_reply *r)
{
	memset(c, 0, sizeof(*c));
	if (auth_header && strncasecmp(auth_header, "Basic ", 6) == 0) {
		char dec[600];
		const char *b = auth_header + 6;
		while (*b == ' ')
			b++;
		char *colon;
		if (strlen(b) < 800 && b64_decode(b, dec, sizeof(dec)) && (colon = strchr(dec, ':')) != NULL) {
			*colon = '\0';
			if (copy_word(c->id, sizeof(c->id), dec, strlen(dec)) &&
			    copy_word(c->secret, sizeof(c->secret), colon + 1, strlen(colon + 1))) {
				form_unescape(c->id);
				form_unescape(c->secret);
				c->basic = c->has_id = c->has_secret = true;
			}
			secure_zero(dec, sizeof(dec));
		}
	}
	const char *bid = form ? sb_params_get(form, "client_id") : NULL;
	const char *bsec = form ? sb_params_get(form, "client_secret") : NULL;
	if (c->basic && bid && strcmp(bid, c->id) != 0) {
		sb_reply_bb_error(r, 400, "invalid_request", "different app in headers than in request data");
		return -1;
	}
	if (!c->basic && bid && copy_word(c->id, sizeof(c->id), bid, strlen(bid))) {
		c->has_id = true;
		if (bsec && copy_word(c->secret, sizeof(c->secret), bsec, strlen(bsec)))
			c->has_secret = true;
	}
	return 0;
}

static bool known_app(const sb_oauth *o, const client_creds *c)
{
	return c->has_id && strcmp(c->id, o->cfg->client_id) == 0;
}

static bool client_ok(const sb_oauth *o, const client_creds *c)
{
	size_t a = strlen(c->secret), b = strlen(o->cfg->client_secret);
	return known_app(o, c) && c->has_secret && a == b && ct_equal(c->secret, o->cfg->client_secret, a);
}

/* ---------------------------------------------------------------- token */

static void token_body(sb_oauth *o, const pair *p, sb_reply *r)
{
	char pid[32], exp[40] = "";
	sb_patient_id(p->bene, pid, sizeof(pid));
	const bene_auth *b = o->ba[p->bene];
	if (o->cfg->grant_type == SB_GRANT_THIRTEEN_MONTH && b && b->grant_exp_us) {
		time_t t = (time_t)(b->grant_exp_us / 1000000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	} else if (o->cfg->grant_type == SB_GRANT_ONE_TIME) {
		time_t t = (time_t)(p->access_exp_us / 1000000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	r->status = 200;
	r->content_type = "application/json";
	sb_reply_header(r, "Cache-Control", "no-store");
	sb_reply_header(r, "Pragma", "no-cache");
	sbuf *s = &r->body;
	sbuf_reset(s);
	sbuf_printf(s, "{\"access_token\": \"%s\", \"expires_in\": %d, \"token_type\": \"Bearer\", \"scope\": ",
	            p->access, o->cfg->expires_in);
	sb_json_str(s, p->scope);
	sbuf_printf(s, ", \"refresh_token\": \"%s\", \"patient\": \"%s\", \"access_grant_expiration\": \"%s\"}",
	            p->refresh, pid, exp);
}

static bool pkce_ok(const char *verifier, const char *challenge, const char **why)
{
	size_t n = strlen(verifier);
	if (n > 128) {
		*why = "code_verifier max length is 128";
		return false;
	}
	if (n < 43) {
		*why = "code_verifier min length is 43";
		return false;
	}
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)verifier, n, md);
	char b64[64];
	EVP_EncodeBlock((unsigned char *)b64, md, sizeof(md));
	for (char *c = b64; *c; c++) {
		if (*c == '+')
			*c = '-';
		else if (*c == '/')
			*c = '_';
	}
	/* the stored challenge is padded to the length of the computed one */
	char ch[80];
	snprintf(ch, sizeof(ch), "%s", challenge);
	while (strlen(ch) < strlen(b64) && strlen(ch) + 1 < sizeof(ch))
		strcat(ch, "=");
	if (strcmp(ch, b64) != 0) {
		*why = "code_challenge does not match";
		return false;
	}
	return true;
}

static void token_code(sb_oauth *o, const sb_params *form, sb_reply *r)
{
	const char *cv = sb_params_get(form, "code");
	if (!cv) {
		sb_reply_oauth_error(r, 400, "invalid_request", "Missing code parameter.");
		return;
	}
	pthread_mutex_lock(&o->mu);
	code *c = smap_get(&o->codes, cv);
	if (c && c->exp_us < now_wall_us()) {
		smap_del(&o->codes, cv);
		code_free(c);
		c = NULL;
	}
	if (!c) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_oauth_error(r, 400, "invalid_grant", NULL);
		return;
	}
	const char *ru = sb_params_get(form, "redirect_uri");
	if ((ru && strcmp(ru, c->redirect_uri) != 0) || (!ru && c->redirect_given)) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_oauth_error(r, 400, "invalid_request", "Mismatching redirect URI.");
		return;
	}
	const char *verifier = sb_params_get(form, "code_verifier");
	const char *why = NULL;
	if (!verifier) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_oauth_error(r, 400, "invalid_request", "Code verifier required.");
		return;
	}
	if (!pkce_ok(verifier, c->challenge, &why)) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_oauth_error(r, 400, "invalid_request", why);
		return;
	}
	bene_auth *b = bene(o, c->bene);
	if (!b->grant) {
		/* the grant went away between authorize and exchange */
		smap_del(&o->codes, cv);
		code_free(c);
		pthread_mutex_unlock(&o->mu);
		sb_reply_oauth_error(r, 400, "invalid_grant", NULL);
		return;
	}
	pair *p = pair_new(o, c->bene, c->scope);
	smap_del(&o->codes, cv);
	code_free(c);
	token_body(o, p, r);
	pthread_mutex_unlock(&o->mu);
}

static bool scope_subset(const char *want, const char *have)
{
	const char *p = want;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if (e > p) {
			char tmp[64];
			if (!copy_word(tmp, sizeof(tmp), p, (size_t)(e - p)))
				return false;
			if (!scope_has(have, tmp))
				return false;
		}
		p = e;
	}
	return true;
}

static void token_refresh(sb_oauth *o, const client_creds *cc, const sb_params *form, bool rotate_then_502,
                          sb_reply *r)
{
	/* WS validate_app_is_active runs before DOT authenticates the client */
	if (o->cfg->grant_type == SB_GRANT_ONE_TIME) {
		sb_reply_bb_error(r, 403, "invalid_client", MSG_ONE_TIME);
		return;
	}
	const char *rt = sb_params_get(form, "refresh_token");
	if (!rt || !*rt) {
		sb_reply_bb_error(r, 400, "invalid_request", "Missing refresh token parameter");
		return;
	}
	pthread_mutex_lock(&o->mu);
	pair *p = smap_get(&o->refresh, rt);
	if (!p) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_bb_error(r, 400, "invalid_request", "Refresh token not found.");
		return;
	}
	bene_auth *b = bene(o, p->bene);
	if (!b->grant) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_bb_error(r, 403, "invalid_grant", MSG_NOT_FOUND);
		return;
	}
	if (grant_expired(o, b)) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_bb_error(r, 401, "invalid_grant", MSG_TIMED_OUT);
		return;
	}
	if (!client_ok(o, cc)) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_oauth_error(r, 401, "invalid_client", NULL);
		return;
	}
	if (p->refresh_revoked || p->access_revoked) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_oauth_error(r, 400, "invalid_grant", NULL);
		return;
	}
	const char *scope = sb_params_get(form, "scope");
	if (scope && !scope_subset(scope, p->scope)) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_oauth_error(r, 400, "invalid_scope", NULL);
		return;
	}
	char *keep = xstrdup(scope ? scope : p->scope);
	/* DOT save_bearer_token: revoke the presented refresh token, delete
	 * its access token, issue a new pair; no grace period */
	p->refresh_revoked = true;
	drop_access(o, p);
	pair *np = pair_new(o, p->bene, keep);
	free(keep);
	if (rotate_then_502) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_message(r, 502, "Failed to retrieve data from data source.");
		return;
	}
	token_body(o, np, r);
	pthread_mutex_unlock(&o->mu);
}

void sb_oauth_token(sb_oauth *o, const char *auth_header, const sb_params *form, bool rotate_then_502,
                    sb_reply *r)
{
	client_creds cc;
	if (read_client(auth_header, form, &cc, r) < 0)
		return;
	if (!known_app(o, &cc)) {
		if (!cc.has_id)
			sb_reply_oauth_error(r, 401, "invalid_client", NULL);
		else
			sb_reply_bb_error(r, 401, "invalid_client", "Application does not exist");
		return;
	}
	const char *gt = sb_params_get(form, "grant_type");
	if (gt && strcmp(gt, "refresh_token") == 0) {
		token_refresh(o, &cc, form, rotate_then_502, r);
		return;
	}
	if (!client_ok(o, &cc)) {
		sb_reply_oauth_error(r, 401, "invalid_client", NULL);
		return;
	}
	if (!gt || strcmp(gt, "authorization_code") != 0) {
		sb_reply_oauth_error(r, 400, "unsupported_grant_type", NULL);
		return;
	}
	token_code(o, form, r);
}

/* ---------------------------------------------------------------- revoke, introspect */

static void revoke_one(sb_oauth *o, const char *tok)
{
	pair *p = smap_get(&o->access, tok);
	if (p) {
		p->access_revoked = true;
		drop_access(o, p);
		pair_maybe_free(o, p);
		return;
	}
	p = smap_get(&o->refresh, tok);
	if (p) {
		p->refresh_revoked = true;
		drop_access(o, p);
	}
}

void sb_oauth_revoke_token(sb_oauth *o, const char *auth_header, const sb_params *form, sb_reply *r)
{
	client_creds cc;
	if (read_client(auth_header, form, &cc, r) < 0)
		return;
	if (!client_ok(o, &cc)) {
		sb_reply_oauth_error(r, 401, "invalid_client", NULL);
		return;
	}
	const char *tok = sb_params_get(form, "token");
	if (!tok) {
		sb_reply_oauth_error(r, 400, "invalid_request", "Missing token parameter.");
		return;
	}
	pthread_mutex_lock(&o->mu);
	revoke_one(o, tok);
	pthread_mutex_unlock(&o->mu);
	sb_reply_text(r, 200, "text/html; charset=utf-8", "");
}

void sb_oauth_revoke(sb_oauth *o, const char *auth_header, const sb_params *form, sb_reply *r)
{
	client_creds cc;
	if (read_client(auth_header, form, &cc, r) < 0)
		return;
	if (!client_ok(o, &cc)) {
		sb_reply_oauth_error(r, 401, "invalid_client", NULL);
		return;
	}
	const char *tok = sb_params_get(form, "token");
	pthread_mutex_lock(&o->mu);
	pair *p = tok ? smap_get(&o->access, tok) : NULL;
	if (p) {
		uint32_t idx = p->bene;
		revoke_one(o, tok);
		delete_grant(o, idx, false);
	} else if (tok) {
		revoke_one(o, tok);
	}
	pthread_mutex_unlock(&o->mu);
	sb_reply_text(r, 200, "text/html; charset=utf-8", "");
}

void sb_oauth_introspect(sb_oauth *o, const char *auth_header, const sb_params *params, sb_reply *r)
{
	client_creds cc;
	if (read_client(auth_header, params, &cc, r) < 0)
		return;
	if (!client_ok(o, &cc)) {
		sb_reply_oauth_error(r, 401, "invalid_client", NULL);
		return;
	}
	const char *tok = sb_params_get(params, "token");
	if (!tok) {
		sb_reply_oauth_error(r, 400, "invalid_request", "Missing token parameter.");
		return;
	}
	pthread_mutex_lock(&o->mu);
	pair *p = smap_get(&o->access, tok);
	r->status = 200;
	r->content_type = "application/json";
	sbuf_reset(&r->body);
	if (p && p->access_exp_us > now_wall_us()) {
		char user[32];
		sb_username(p->bene, user, sizeof(user));
		sbuf_puts(&r->body, "{\"active\": true, \"scope\": ");
		sb_json_str(&r->body, p->scope);
		sbuf_printf(&r->body, ", \"exp\": %" PRId64 ", \"client_id\": ", p->access_exp_us / 1000000);
		sb_json_str(&r->body, o->cfg->client_id);
		sbuf_printf(&r->body, ", \"username\": \"%s\"}", user);
	} else {
		sbuf_puts(&r->body, "{\"active\": false}");
	}
	pthread_mutex_unlock(&o->mu);
}

void sb_oauth_expire_hook(sb_oauth *o, const char *auth_header, const char *patient, sb_reply *r)
{
	client_creds cc;
	if (read_client(auth_header, NULL, &cc, r) < 0)
		return;
	if (!cc.basic || !client_ok(o, &cc)) {
		sb_reply_oauth_error(r, 401, "invalid_client", NULL);
		return;
	}
	int64_t idx = sb_patient_index(o->w, patient);
	pthread_mutex_lock(&o->mu);
	bene_auth *b = idx >= 0 ? bene(o, (uint32_t)idx) : NULL;
	bool found = b && b->grant;
	if (found)
		b->grant_exp_us = now_wall_us() - 1000000;
	pthread_mutex_unlock(&o->mu);
	if (!found)
		sb_reply_text(r, 404, "text/html; charset=utf-8", "Data Access Grant was Not Found.");
	else
		sb_reply_text(r, 200, "text/html; charset=utf-8", "Data Access Grant has been expired.");
}

/* ---------------------------------------------------------------- bearer */

int sb_oauth_check_bearer(sb_oauth *o, const char *auth_header, long rate_limit, sb_access *a, sb_reply *r)
{
	memset(a, 0, sizeof(*a));
	const char *tok = NULL;
	if (auth_header && strncasecmp(auth_header, "Bearer ", 7) == 0) {
		tok = auth_header + 7;
		while (*tok == ' ')
			tok++;
	}
	const char *detail = MSG_NO_CREDENTIALS;
	pthread_mutex_lock(&o->mu);
	pair *p = tok ? smap_get(&o->access, tok) : NULL;
	int64_t now = now_wall_us();
	if (p && p->access_exp_us > now) {
		bene_auth *b = bene(o, p->bene);
		if (!b->grant) {
			p = NULL;
		} else if (grant_expired(o, b)) {
			p = NULL;
			detail = MSG_TIMED_OUT;
		}
	} else {
		p = NULL;
	}
	if (!p) {
		pthread_mutex_unlock(&o->mu);
		sb_reply_detail(r, 401, detail);
		sb_reply_header(r, "WWW-Authenticate", "Bearer realm=\"api\"");
		return -1;
	}
	a->bene = p->bene;
	a->scope_patient = scope_has(p->scope, "patient/Patient.read") || scope_has(p->scope, "patient/Patient.rs") ||
	                   scope_has(p->scope, "patient/Patient.s") || scope_has(p->scope, "patient/Patient.r");
	a->scope_eob = scope_has(p->scope, "patient/ExplanationOfBenefit.read") ||
	               scope_has(p->scope, "patient/ExplanationOfBenefit.rs") ||
	               scope_has(p->scope, "patient/ExplanationOfBenefit.s") ||
	               scope_has(p->scope, "patient/ExplanationOfBenefit.r");
	a->scope_coverage = scope_has(p->scope, "patient/Coverage.read") || scope_has(p->scope, "patient/Coverage.rs") ||
	                    scope_has(p->scope, "patient/Coverage.s") || scope_has(p->scope, "patient/Coverage.r");
	a->scope_profile = scope_has(p->scope, "profile");
	p->requests++;
	int64_t sec = now / 1000000;
	if (p->window_s != sec) {
		p->window_s = sec;
		p->window_n = 0;
	}
	p->window_n++;
	a->limit = rate_limit > 0 ? rate_limit : 100000;
	a->remaining = a->limit - p->window_n;
	if (a->remaining < 0)
		a->remaining = 0;
	a->reset = 1;
	a->throttled = rate_limit > 0 && p->window_n > rate_limit;
	pthread_mutex_unlock(&o->mu);
	return 0;
}

bool sb_oauth_admin_revoke_grant(sb_oauth *o, uint32_t idx)
{
	if (idx >= o->n)
		return false;
	pthread_mutex_lock(&o->mu);
	bool had = o->ba[idx] && o->ba[idx]->grant;
	if (had)
		delete_grant(o, idx, false);
	pthread_mutex_unlock(&o->mu);
	return had;
}

bool sb_oauth_admin_expire_grant(sb_oauth *o, uint32_t idx)
{
	if (idx >= o->n)
		return false;
	pthread_mutex_lock(&o->mu);
	bool had = o->ba[idx] && o->ba[idx]->grant;
	if (had)
		o->ba[idx]->grant_exp_us = now_wall_us() - 1000000;
	pthread_mutex_unlock(&o->mu);
	return had;
}

long long sb_oauth_token_requests(sb_oauth *o, const char *token)
{
	pthread_mutex_lock(&o->mu);
	pair *p = smap_get(&o->access, token);
	if (!p)
		p = smap_get(&o->refresh, token);
	long long n = p ? p->requests : -1;
	pthread_mutex_unlock(&o->mu);
	return n;
}

void sb_oauth_admin_state(sb_oauth *o, uint32_t idx, sbuf *out)
{
	pthread_mutex_lock(&o->mu);
	bene_auth *b = idx < o->n ? o->ba[idx] : NULL;
	size_t live_access = 0, live_refresh = 0;
	for (pair *p = b ? b->pairs : NULL; p; p = p->next) {
		live_access += p->in_access && p->access_exp_us > now_wall_us();
		live_refresh += p->in_refresh && !p->refresh_revoked;
	}
	sbuf_printf(out, "{\"grant\": %s, \"grant_expired\": %s, \"live_access_tokens\": %zu, \"live_refresh_tokens\": %zu, "
	            "\"pairs_issued\": %lu}",
	            b && b->grant ? "true" : "false", b && b->grant && grant_expired(o, b) ? "true" : "false",
	            live_access, live_refresh, b ? b->pairs_issued : 0UL);
	pthread_mutex_unlock(&o->mu);
}
