#include "enrol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"
#include "daemon.h"
#include "log.h"
#include "oauth.h"
#include "oauthutil.h"
#include "store.h"
#include "tokens.h"

/* Longest authorization code accepted (Blue Button's are 30 characters). */
#define MAX_CODE 1024

typedef struct exchange exchange;

typedef struct enrol {
	bb_daemon *d;
	exchange *pending;          /* code exchanges and commits in flight */
	size_t n_pending;
} enrol;

struct exchange {
	enrol *e;
	exchange *prev, *next;
	listener_deferred *deferred;    /* NULL once the listener is gone */
	char id[CONSENT_MAX_ID + 1];
	bool http_done;
	bool install_pending;
};

/* ---- pages ---- */

static void html_escape(sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': sbuf_puts(b, "&amp;"); break;
		case '<': sbuf_puts(b, "&lt;"); break;
		case '>': sbuf_puts(b, "&gt;"); break;
		case '"': sbuf_puts(b, "&quot;"); break;
		case '\'': sbuf_puts(b, "&#39;"); break;
		default: sbuf_putc(b, *s);
		}
	}
}

void enrol_page(sbuf *body, const char *title, const char *message)
{
	sbuf_puts(body, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
	html_escape(body, title);
	sbuf_puts(body, "</title><style>body{font-family:sans-serif;max-width:36em;margin:3em auto;"
		  "padding:0 1em;line-height:1.5;color:#222}h1{font-size:1.4em}</style></head>"
		  "<body><h1>");
	html_escape(body, title);
	sbuf_puts(body, "</h1><p>");
	html_escape(body, message);
	sbuf_puts(body, "</p></body></html>\n");
}

static void page(listener_response *resp, int status, const char *title, const char *message)
{
	resp->status = status;
	resp->content_type = "text/html; charset=utf-8";
	sbuf_reset(&resp->body);
	enrol_page(&resp->body, title, message);
}

#define ASK_TEAM "Please contact the study team and ask for a new invitation link."

static void page_trouble(listener_response *resp)
{
	page(resp, 500, "Something went wrong",
	     "Something went wrong on our side. Please try again in a few minutes; if it "
	     "keeps happening, contact the study team.");
}

/* ---- audit of failures ---- */

static void audit_failed(enrol *e, const char *id, const char *reason, const char *answer)
{
	const char *k[2] = { "reason", "answer" };
	const char *v[2] = { reason, answer ? answer : "" };
	char err[512];

	if (consent_audit(e->d->db, id, "enrol_failed", answer ? 2 : 1, k, v, err, sizeof err) < 0)
		log_error("could not write the audit row of participant %s: %s", id, err);
}

/* ---- /enroll ---- */

static void handle_enroll(void *arg, const listener_request *req, listener_response *resp)
{
	enrol *e = arg;
	bb_daemon *d = e->d;
	const char *invite = ou_query_get(req->query, "invite");
	char id[CONSENT_MAX_ID + 1], err[512];
	char *url = NULL;
	consent_check c;

	if (!invite || !*invite) {
		page(resp, 400, "This link is incomplete",
		     "The link you followed is missing part of its address. Please open the "
		     "invitation link exactly as you received it.");
		return;
	}
	if (tokens_app_disabled(d->tokens)) {
		page(resp, 503, "Enrolment is paused",
		     "Enrolment is paused for the moment. Please try again later; your invitation "
		     "link stays valid.");
		return;
	}
	if (store_cmd(d->db, "BEGIN", 0, NULL, err, sizeof err) < 0) {
		log_error("enrolment: %s", err);
		page_trouble(resp);
		return;
	}
	c = consent_take_invitation(d->db, invite, id, err, sizeof err);
	if (c == CONSENT_OK && consent_begin(d->db, d->vault, d->cfg, id, &url, err, sizeof err) < 0)
		c = CONSENT_ERROR;
	if (c == CONSENT_OK && store_cmd(d->db, "COMMIT", 0, NULL, err, sizeof err) < 0)
		c = CONSENT_ERROR;
	if (c != CONSENT_OK)
		store_cmd(d->db, "ROLLBACK", 0, NULL, id, sizeof id);
	switch (c) {
	case CONSENT_OK:
		log_info("enrolment started for participant %s (from %s)", id, req->client);
		resp->status = 302;
		listener_set_location(resp, url);
		page(resp, 302, "Continue to Medicare",
		     "You are being sent to Medicare.gov to sign in and choose what to share.");
		resp->status = 302;
		break;
	case CONSENT_UNKNOWN:
		log_info("enrolment refused: unknown invitation (from %s)", req->client);
		page(resp, 404, "This invitation link is not valid",
		     "We could not find this invitation. Please check that you opened the whole "
		     "link. " ASK_TEAM);
		break;
	case CONSENT_USED:
		log_info("enrolment refused: invitation already used (from %s)", req->client);
		page(resp, 410, "This invitation link was already used",
		     "Each invitation link works only once. " ASK_TEAM);
		break;
	case CONSENT_EXPIRED:
		log_info("enrolment refused: invitation expired (from %s)", req->client);
		page(resp, 410, "This invitation link has expired",
		     "Invitation links are valid for a limited time. " ASK_TEAM);
		break;
	case CONSENT_ERROR:
		log_error("enrolment: %s", err);
		page_trouble(resp);
		break;
	}
	ou_free_secret(url);
}

/* ---- /callback ---- */

static void exchange_unlink_free(exchange *x)
{
	enrol *e = x->e;

	if (x->prev)
		x->prev->next = x->next;
	else if (e->pending == x)
		e->pending = x->next;
	if (x->next)
		x->next->prev = x->prev;
	e->n_pending--;
	free(x);
}

static void exchange_cancelled(void *ud)
{
	exchange *x = ud;

	x->deferred = NULL;
}

/* Send the page and forget the exchange once nothing else refers to it. */
static void exchange_answer(exchange *x, int status, const char *title, const char *message)
{
	if (x->deferred) {
		listener_response *resp = listener_deferred_response(x->deferred);

		if (status >= 500)
			page_trouble(resp);
		else
			page(resp, status, title, message);
		listener_finish(x->deferred);
		x->deferred = NULL;
		if (x->e->d->http)
			http_wakeup(x->e->d->http);
	}
	if (x->http_done && !x->install_pending)
		exchange_unlink_free(x);
}

static void install_done(void *ud, bool ok)
{
	exchange *x = ud;

	x->install_pending = false;
	if (ok)
		exchange_answer(x, 200, "Thank you: you are enrolled",
				"Your Medicare claims will now be shared with the study as you "
				"agreed. You can close this page.");
	else
		exchange_answer(x, 500, NULL, NULL);
}

static void exchange_done(void *ud, const http_result *res)
{
	exchange *x = ud;
	enrol *e = x->e;
	oauth_token_response tr;
	char err[256], desc[300];
	bool parsed = false;

	x->http_done = true;
	memset(&tr, 0, sizeof tr);
	if (res->status && res->body)
		parsed = oauth_parse_token_response(res->body, res->body_len, &tr, err, sizeof err) == 0;
	if (!parsed)
		oauth_token_response_clear(&tr);   /* frees what a failed parse kept */
	oauth_describe(res, parsed ? &tr : NULL, desc, sizeof desc);
	if (!res->aborted && oauth_classify(res, parsed ? &tr : NULL) == OAUTH_OK) {
		tokens_grant g = {
			.participant_id = x->id,
			.access_token = tr.access_token,
			.refresh_token = tr.refresh_token,
			.expires_in = tr.expires_in,
			.scope = tr.scope,
			.patient = tr.patient,
			.grant_expiration = tr.grant_expiration,
		};

		if (!e->d->tokens || tokens_install(e->d->tokens, &g, install_done, x) < 0) {
			audit_failed(e, x->id, "store_failed", NULL);
			exchange_answer(x, 500, NULL, NULL);
		} else {
			x->install_pending = true;
		}
	} else {
		log_warning("enrolment of participant %s failed: the code exchange was refused "
			    "or got no answer (%s)", x->id, desc);
		if (!res->aborted)
			audit_failed(e, x->id, "code_exchange", desc);
		exchange_answer(x, 502, "Medicare could not complete the sign-in",
				"Medicare.gov did not confirm your sign-in. " ASK_TEAM);
	}
	oauth_token_response_clear(&tr);
}

static bool code_shape_ok(const char *code)
{
	size_t n = strlen(code);

	if (n == 0 || n > MAX_CODE)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)code[i] <= 0x20 || (unsigned char)code[i] >= 0x7f)
			return false;
	return true;
}

static void handle_callback(void *arg, const listener_request *req, listener_response *resp)
{
	enrol *e = arg;
	bb_daemon *d = e->d;
	const bb_config *cfg = d->cfg;
	const char *state = ou_query_get(req->query, "state");
	const char *code = ou_query_get(req->query, "code");
	const char *error = ou_query_get(req->query, "error");
	char id[CONSENT_MAX_ID + 1], err[512];
	char *verifier = NULL, *body = NULL;
	consent_check c;
	exchange *x;

	if (!state || !*state) {
		log_info("enrolment callback refused: no state (from %s)", req->client);
		page(resp, 400, "This sign-in link is incomplete",
		     "The page you reached is missing part of its address. " ASK_TEAM);
		return;
	}
	c = consent_take_state(d->db, d->vault, state, id, &verifier, err, sizeof err);
	switch (c) {
	case CONSENT_OK:
		break;
	case CONSENT_UNKNOWN:
		log_info("enrolment callback refused: unknown state (from %s)", req->client);
		page(resp, 400, "This sign-in link is not valid",
		     "This sign-in was not started from a study invitation, or its address was "
		     "changed. " ASK_TEAM);
		return;
	case CONSENT_USED:
		log_info("enrolment callback refused: state already used (from %s)", req->client);
		page(resp, 400, "This sign-in was already used",
		     "This sign-in page can be used only once. If you already finished enrolling, "
		     "there is nothing more to do. Otherwise: " ASK_TEAM);
		return;
	case CONSENT_EXPIRED:
		log_info("enrolment callback refused: state expired (from %s)", req->client);
		page(resp, 400, "This sign-in took too long",
		     "For your security, the sign-in must be finished within a few minutes. " ASK_TEAM);
		return;
	case CONSENT_ERROR:
		log_error("enrolment callback: %s", err);
		page_trouble(resp);
		return;
	}
	if (error) {
		bool denied = strcmp(error, "access_denied") == 0;

		ou_free_secret(verifier);
		log_info("enrolment of participant %s ended at Medicare.gov: %s", id,
			 denied ? "the participant declined" : "an error was returned");
		audit_failed(e, id, denied ? "denied" : "authorize_error", NULL);
		if (denied)
			page(resp, 200, "You chose not to share your data",
			     "You did not allow the study to receive your Medicare claims, so nothing "
			     "is shared. If this was a mistake or you change your mind, contact the "
			     "study team for a new invitation link.");
		else
			page(resp, 502, "Medicare could not complete the sign-in",
			     "Medicare.gov reported a problem with this sign-in. " ASK_TEAM);
		return;
	}
	if (!code || !code_shape_ok(code)) {
		ou_free_secret(verifier);
		audit_failed(e, id, "no_code", NULL);
		page(resp, 400, "This sign-in link is incomplete",
		     "Medicare.gov did not send the expected answer. " ASK_TEAM);
		return;
	}
	x = xcalloc(1, sizeof *x);
	x->e = e;
	snprintf(x->id, sizeof x->id, "%s", id);
	x->deferred = listener_defer(req, exchange_cancelled, x);
	if (!x->deferred) {
		free(x);
		ou_free_secret(verifier);
		page_trouble(resp);
		return;
	}
	x->next = e->pending;
	if (x->next)
		x->next->prev = x;
	e->pending = x;
	e->n_pending++;

	/* the code lives 60 s: exchange it now */
	body = oauth_code_body(code, cfg->redirect_uri, verifier);
	ou_free_secret(verifier);
	if (oauth_post(d->http, cfg, "token", body, exchange_done, x, err, sizeof err) < 0) {
		log_error("enrolment of participant %s: %s", id, err);
		audit_failed(e, id, "code_exchange", "not started");
		x->http_done = true;
		exchange_answer(x, 500, NULL, NULL);
	} else {
		log_info("enrolment: participant %s signed in at Medicare.gov; exchanging the code", id);
	}
}

/* ---- subsystem ---- */

size_t enrol_routes(void *self, listener_route *out, size_t max)
{
	size_t n = 0;

	if (n < max)
		out[n++] = (listener_route){ "GET", "/enroll", handle_enroll, self };
	if (n < max)
		out[n++] = (listener_route){ "GET", "/callback", handle_callback, self };
	return n;
}

static void *sub_start(bb_daemon *d, char *err, size_t errlen)
{
	enrol *e;

	if (!d->tokens) {
		snprintf(err, errlen, "the token service must start before enrolment");
		return NULL;
	}
	e = xcalloc(1, sizeof *e);
	e->d = d;
	return e;
}

static int64_t sub_tick(void *self, bb_daemon *d, int64_t now)
{
	(void)self;
	(void)d;
	(void)now;
	return INT64_MAX;
}

static bool sub_idle(void *self)
{
	enrol *e = self;

	return e->n_pending == 0;
}

static void sub_stop(void *self, bb_daemon *d)
{
	enrol *e = self;

	(void)d;
	/* the listener and http are gone by now: nothing calls back into these */
	while (e->pending) {
		exchange *x = e->pending;

		e->pending = x->next;
		free(x);
	}
	free(e);
}

const bb_subsystem enrol_subsystem = {
	.name = "enrol",
	.start = sub_start,
	.tick = sub_tick,
	.idle = sub_idle,
	.stop = sub_stop,
	.routes = enrol_routes,
};
