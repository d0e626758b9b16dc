/*
 * enrol: the participant-facing side of consent, served by the daemon's
 * listener (a subsystem of `bbingest run`; it needs the tokens subsystem
 * started before it).
 *
 *   GET /enroll?invite=TOKEN
 *       checks the invitation (unknown, used or expired ones are refused
 *       with a friendly page), marks it used, starts an authorization (a
 *       single-use state of 256 random bits and a PKCE S256 verifier, both
 *       stored: the state hashed, the verifier sealed; 10-minute expiry) and
 *       answers 302 to Blue Button's authorize URL with the configured scopes.
 *
 *   GET /callback?code=..&state=..   (or ?error=access_denied&state=..)
 *       checks the state (single use, unexpired, looked up by hash and
 *       compared in constant time), then exchanges the code at once at the
 *       token endpoint (HTTP Basic client authentication) while the
 *       participant's connection waits suspended (the loop never blocks),
 *       and hands the grant to tokens_install() (sealed, committed with state
 *       active, the first sync queued, an audit row).  The participant sees
 *       a plain page for success and for each failure (denied, expired,
 *       replayed or forged state, Blue Button error) without internal detail.
 *
 * Nothing here logs a code, a state, a verifier, a token or the secret.
 */
#ifndef BB_ENROL_H
#define BB_ENROL_H

#include <stddef.h>

#include "listener.h"
#include "util.h"

struct bb_subsystem;
extern const struct bb_subsystem enrol_subsystem;

/* The listener routes of the subsystem `self` (its start hook's result). */
size_t enrol_routes(void *self, listener_route *out, size_t max);

/*
 * The participant-facing HTML page: a title and one paragraph, both
 * escaped, into `body`.
 */
void enrol_page(sbuf *body, const char *title, const char *message);

#endif
