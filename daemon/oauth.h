/*
 * oauth: the messages of Blue Button's OAuth 2.0 endpoints, without I/O.
 *
 *   - the authorize URL (authorization code + PKCE S256, bluebutton-api.md §2.2),
 *   - the form bodies of the code exchange, the refresh and the revoke calls,
 *   - the token endpoint's JSON answers (success §2.4 and errors §3.4), read
 *     with yajl under a size and depth cap,
 *   - the classification of a refresh answer into what the daemon must do
 *     (§3.4 "Daemon rule"),
 *   - the granted scopes (demographics withheld, §2.6).
 *
 * One function does I/O: oauth_post() starts a client-authenticated POST to
 * one of the endpoints through the daemon's http module.
 *
 * Strings holding tokens are wiped when freed (oauth_token_response_clear,
 * ou_free_secret).  Nothing here logs anything; error texts quote no value
 * of the answer except the short OAuth error code, cleaned to [a-z_].
 */
#ifndef BB_OAUTH_H
#define BB_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"

/* Largest token endpoint answer read (they are < 2 KiB). */
#define OAUTH_MAX_RESPONSE (64 * 1024)
/* Longest token accepted (Blue Button's are 30 characters). */
#define OAUTH_MAX_TOKEN_LEN 4096

/* {base}/v2/o/token/ and friends; free the result. */
char *oauth_endpoint(const bb_config *cfg, const char *what);

/*
 * POST `body` (a form built by the functions below; taken over and wiped)
 * to {base}/{version}/o/{endpoint}/ with HTTP Basic client authentication,
 * the token timeout of the configuration and OAUTH_MAX_RESPONSE as the body
 * cap.  on_done is called once, later, unless this returns -1 (err filled).
 */
int oauth_post(http *h, const bb_config *cfg, const char *endpoint, char *body,
	       void (*on_done)(void *ud, const http_result *res), void *ud,
	       char *err, size_t errlen);

/*
 * The authorize URL: {base}/{version}/o/authorize/?client_id=..&redirect_uri=..
 * &response_type=code&state=..&code_challenge=..&code_challenge_method=S256
 * &scope=a%20b.  Holds the state: free with ou_free_secret().
 */
char *oauth_authorize_url(const bb_config *cfg, const char *state, const char *challenge);

/* Form bodies (application/x-www-form-urlencoded); free with ou_free_secret(). */
char *oauth_code_body(const char *code, const char *redirect_uri, const char *verifier);
char *oauth_refresh_body(const char *refresh_token);
char *oauth_revoke_body(const char *access_token);

/* A token endpoint answer; every field NULL / -1 when absent. */
typedef struct oauth_token_response {
	char *access_token;         /* secret */
	char *refresh_token;        /* secret */
	char *token_type;
	char *scope;                /* space-separated */
	char *patient;              /* FHIR Patient id */
	char *grant_expiration;     /* access_grant_expiration text, "" for research apps */
	int64_t expires_in;         /* seconds, -1 when absent or unreadable */
	char *error;                /* OAuth error code, cleaned to [a-z_] */
	char *error_description;    /* for classification only; never logged */
} oauth_token_response;

/*
 * Parse a token endpoint body (a JSON object; other top-level values and
 * nested members are ignored).  0, or -1 with `err` set when the body is not
 * JSON, too large, too deep, or a field is too long.  Always clear `out`
 * afterwards with oauth_token_response_clear().
 */
int oauth_parse_token_response(const char *body, size_t len, oauth_token_response *out,
			       char *err, size_t errlen);

/* Wipe the secrets and free every field. */
void oauth_token_response_clear(oauth_token_response *r);

/* What a refresh (or a code exchange) answer means. */
typedef enum oauth_outcome {
	OAUTH_OK,               /* 200 with an access and a refresh token */
	OAUTH_GRANT_DEAD,       /* invalid_grant, "not found", 401/403: the participant must re-consent */
	OAUTH_APP_REFUSED,      /* invalid_client: the app itself is refused; stop all work */
	OAUTH_IN_DOUBT,         /* 5xx, 404, an unreadable 200 or a lost answer: the token may be spent */
	OAUTH_NOT_SENT,         /* no connection was made, or 429: the token was not spent */
} oauth_outcome;

const char *oauth_outcome_name(oauth_outcome o);

/*
 * Classify the answer `res` to a token request; `parsed` is the parsed body
 * (may be NULL when it did not parse).
 */
oauth_outcome oauth_classify(const http_result *res, const oauth_token_response *parsed);

/*
 * A short description of an answer for logs and audit rows: "HTTP 400
 * invalid_grant", "HTTP 502", "no answer: Timeout was reached".  Quotes no
 * token; curl's message is included only for transport errors.
 */
void oauth_describe(const http_result *res, const oauth_token_response *parsed,
		    char *out, size_t outlen);

/* True when the space-separated `scope` grants Patient access (patient/Patient.*). */
bool oauth_scope_has_patient(const char *scope);

/*
 * Check an access_grant_expiration value: "YYYY-MM-DDTHH:MM:SSZ" or with a
 * space instead of T.  Returns true and a Postgres-ready copy in `out`
 * (room for 32) when it is such a value; false for "" and anything else.
 */
bool oauth_grant_expiration(const char *text, char *out, size_t outlen);

#endif
