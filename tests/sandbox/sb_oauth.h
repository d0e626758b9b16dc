/*
 * sb_oauth: the sandbox's authorization server, modelled on Blue Button's
 * (django-oauth-toolkit 2.2 + the BB2 overrides): authorize with PKCE S256,
 * codes that live 60 s and work once, strict refresh-token rotation without
 * grace, data access grants (research study, thirteen month, one time),
 * revoke, revoke_token, introspect and the sandbox expire hook, with the
 * real status codes and error bodies (bluebutton-api.md §2, §3).
 *
 * All state is in memory behind one mutex; tokens are random (RAND_bytes).
 */
#ifndef BB_SB_OAUTH_H
#define BB_SB_OAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "sb_data.h"
#include "sb_http.h"

typedef enum {
	SB_GRANT_RESEARCH = 0,
	SB_GRANT_THIRTEEN_MONTH,
	SB_GRANT_ONE_TIME,
} sb_grant_type;

typedef struct sb_oauth_config {
	const char *client_id;
	const char *client_secret;
	const char *const *redirect_uris;   /* first is the default */
	size_t n_redirect_uris;
	sb_grant_type grant_type;
	int expires_in;                     /* access token lifetime, s */
	int code_ttl;                       /* authorization code lifetime, s */
	const char *app_name;
} sb_oauth_config;

typedef struct sb_oauth sb_oauth;

/* cfg strings must outlive the returned object */
sb_oauth *sb_oauth_new(const sb_oauth_config *cfg, sb_world *w);
void sb_oauth_free(sb_oauth *o);

/* GET/POST /v2/o/authorize/ (uuid NULL) and the login form's POST to
 * /v2/o/authorize/<uuid>/.  auth_header may be NULL. */
void sb_oauth_authorize(sb_oauth *o, bool post, const char *uuid, const sb_params *query,
                        const sb_params *form, sb_reply *r);

/* POST /v2/o/token/.  rotate_then_502: when this is a successful refresh,
 * commit the rotation, then answer 502 as BB2 does when its BFD lookup
 * fails after rotating. */
void sb_oauth_token(sb_oauth *o, const char *auth_header, const sb_params *form, bool rotate_then_502,
                    sb_reply *r);

void sb_oauth_revoke_token(sb_oauth *o, const char *auth_header, const sb_params *form, sb_reply *r);
void sb_oauth_revoke(sb_oauth *o, const char *auth_header, const sb_params *form, sb_reply *r);
void sb_oauth_introspect(sb_oauth *o, const char *auth_header, const sb_params *params, sb_reply *r);
void sb_oauth_expire_hook(sb_oauth *o, const char *auth_header, const char *patient, sb_reply *r);

/* Result of checking a bearer token on a FHIR call. */
typedef struct sb_access {
	uint32_t bene;
	bool scope_patient, scope_eob, scope_coverage, scope_profile;
	/* rate limiting: this token's requests in the current second */
	long limit, remaining, reset;
	bool throttled;
} sb_access;

/* Authenticate "Authorization: Bearer ..." and count the request against
 * the token (rate_limit per second, 0 = unlimited).  Returns 0 when the
 * token is alive; otherwise fills r with the 401 and returns -1. */
int sb_oauth_check_bearer(sb_oauth *o, const char *auth_header, long rate_limit, sb_access *a, sb_reply *r);

/* Admin: delete a beneficiary's grant (like Medicare.gov "connected apps"),
 * or make it expire now.  Return false if there was no grant. */
bool sb_oauth_admin_revoke_grant(sb_oauth *o, uint32_t bene);
bool sb_oauth_admin_expire_grant(sb_oauth *o, uint32_t bene);
/* Admin: requests made with this token (access or refresh); -1 unknown */
long long sb_oauth_token_requests(sb_oauth *o, const char *token);
/* Admin: JSON object with the beneficiary's grant and live tokens */
void sb_oauth_admin_state(sb_oauth *o, uint32_t bene, sbuf *out);

#endif
