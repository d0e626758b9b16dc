/*
 * consent: the database side of enrolment, shared by the commands (invite,
 * enroll-url, withdraw), the listener routes (enrol.h) and the token service
 * (tokens.h).  Every function is a short, blocking exchange on a `store`.
 *
 *   - participant ids (the rule of bb.participant's CHECK),
 *   - invitations: a random token from oauthutil, stored as its SHA-256 hex,
 *     single use, with an expiry,
 *   - pending authorizations: a random `state` (stored as its SHA-256 hex,
 *     single use, 10-minute expiry) and a PKCE S256 verifier sealed with the
 *     vault,
 *   - sealed values as bytea parameters and back,
 *   - audit rows (bb.audit; never a token: the callers pass reasons,
 *     statuses and generations only).
 *
 * Secrets returned (links holding an invitation token or a state, verifiers)
 * are to be freed with ou_free_secret().
 */
#ifndef BB_CONSENT_H
#define BB_CONSENT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "store.h"
#include "vault.h"

#define CONSENT_MAX_ID 128

/*
 * True when `id` is a valid participant id: 1..128 of A-Z a-z 0-9 . _ -,
 * starting with a letter or digit.  Otherwise false and a message in `err`
 * (quoting the id only when it is printable and short).
 */
bool consent_id_valid(const char *id, char *err, size_t errlen);

/*
 * Create the participant row (state invited) unless it exists.  Returns 1
 * when created, 0 when it existed, -1 with `err` on a database error.
 */
int consent_ensure_participant(store *db, const char *id, char *err, size_t errlen);

/*
 * Issue an invitation for `id` (creating the participant when missing),
 * valid for cfg->invite_expiry_s, with an audit row.  *link is
 * "<listener.public_url>/enroll?invite=TOKEN".  0, or -1 with `err`.
 */
int consent_invite(store *db, const bb_config *cfg, const char *id, char **link,
		   char *err, size_t errlen);

typedef enum consent_check {
	CONSENT_OK = 0,
	CONSENT_UNKNOWN,            /* no such invitation or state (or a forged one) */
	CONSENT_USED,               /* already used */
	CONSENT_EXPIRED,
	CONSENT_ERROR,              /* database or vault trouble; err says what */
} consent_check;

/*
 * Take the invitation `token` (single use): on CONSENT_OK it is marked used
 * (atomically: of two requests with one token only one gets OK) and `id`
 * (room for CONSENT_MAX_ID + 1) holds its participant.
 */
consent_check consent_take_invitation(store *db, const char *token, char *id,
				      char *err, size_t errlen);

/*
 * Start an authorization for `id`: a fresh state and PKCE verifier, the
 * state's hash and the sealed verifier stored for cfg->state_expiry_s.
 * *authorize_url is Blue Button's authorize URL with the configured scopes.
 * 0, or -1 with `err`.
 */
int consent_begin(store *db, vault *v, const bb_config *cfg, const char *id,
		  char **authorize_url, char *err, size_t errlen);

/*
 * Take the authorization `state` (single use, unexpired): on CONSENT_OK
 * `id` holds its participant and *verifier the PKCE verifier (free with
 * ou_free_secret).  An unknown, used or expired state is marked nothing.
 */
consent_check consent_take_state(store *db, vault *v, const char *state, char *id,
				 char **verifier, char *err, size_t errlen);

/*
 * Seal `plain` for aad and render it as a bytea parameter ("\x..." hex);
 * free the result.  NULL with `err` on failure.
 */
char *consent_seal_param(vault *v, const char *aad, const char *plain, char *err, size_t errlen);

/*
 * Open a bytea value as a result returns it (text form) sealed for aad.
 * *plain is NUL-terminated: free with ou_free_secret().  0 or -1 with `err`.
 */
int consent_open_value(vault *v, const char *aad, const char *bytea_text, char **plain,
		       char *err, size_t errlen);

/* Associated data of the sealed values of a participant ("ID/access", ...); room 160. */
void consent_aad(char *out, size_t outlen, const char *id, const char *purpose);

/*
 * Append an audit row: detail is a JSON object of the `n` key/value pairs
 * (values as JSON strings; pass only reasons, states, numbers as text).
 * 0 or -1 with `err`.
 */
int consent_audit(store *db, const char *id, const char *event, size_t n,
		  const char *const *keys, const char *const *values, char *err, size_t errlen);

#endif
