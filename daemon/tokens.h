/*
 * tokens: the token vault service of `bbingest run` (a daemon subsystem).
 *
 * It holds nothing in memory but work in flight: each participant's current
 * token pair lives sealed in bb.token (vault.h, participant id as associated
 * data).  The service
 *
 *   - refreshes every grant on the configured schedule (refresh.interval,
 *     plus up to refresh.jitter of random spread, in bb.token.next_refresh_at),
 *   - answers the sync engine's requests for an access token: from the
 *     sealed store when the access token has more than refresh.ahead left,
 *     else after refreshing it,
 *   - enforces Blue Button's strict rotation rules (bluebutton-api.md §3.3):
 *     one refresh per participant at a time, also across several daemon
 *     instances (a `SELECT ... FOR UPDATE` row lock on bb.token held across
 *     the HTTP call on a dedicated connection of a small pool); the refresh
 *     is marked in flight durably before the call, so a crash mid-call is
 *     recognised at restart; the new pair is committed before anything uses
 *     it; the token call has the long api.token_timeout and is never retried
 *     blindly,
 *   - maps the outcomes: invalid_grant, "Refresh token not found", 401 or 403
 *     on refresh -> that participant needs_reconsent (nobody else); 403
 *     invalid_client -> the app is disabled (bb.app_state.disabled_at) and all
 *     work stops, loudly; 5xx or a lost response -> refresh_in_doubt, retried
 *     once later with backoff, then needs_reconsent if it fails again,
 *   - writes an audit row for every refresh and state change (never a token).
 *
 * No token, code or secret is ever logged or put in an error message.
 */
#ifndef BB_TOKENS_H
#define BB_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tokens tokens;

typedef enum tokens_status {
	TOKENS_OK = 0,          /* access_token is valid for more than refresh.ahead */
	TOKENS_NO_GRANT,        /* no grant held: not enrolled, withdrawn, or needs re-consent */
	TOKENS_RECONSENT,       /* the grant was just found dead: participant now needs_reconsent */
	TOKENS_IN_DOUBT,        /* a refresh got no clear answer; the service retries it later */
	TOKENS_RETRY,           /* transient trouble (network before sending, database); try later */
	TOKENS_APP_DISABLED,    /* Blue Button refused the app itself (invalid_client): stop all work */
	TOKENS_ABORTED,         /* the daemon is stopping */
} tokens_status;

/* Called exactly once per tokens_get_access(). */
typedef void (*tokens_cb)(void *ud, tokens_status st, const char *access_token);

/* Short lower-case name of a status, for log lines ("ok", "no grant", ...). */
const char *tokens_status_name(tokens_status st);

/*
 * Ask for a usable access token of `participant_id`.  `cb` is called exactly
 * once, always later from the daemon loop (never from inside this call), with
 * TOKENS_OK and the token, or another status and NULL.  The token string is
 * valid only during the callback and is wiped after it: copy it into the
 * request's Authorization header (http copies and wipes headers) and keep no
 * other copy.  Requests for the same participant are coalesced into one
 * refresh.  Returns 0, or -1 (cb is not called) when the service cannot
 * accept work (draining or stopped).
 */
int tokens_get_access(tokens *t, const char *participant_id, tokens_cb cb, void *ud);

/*
 * The usable access tokens of several participants in one database read (the
 * sync engine, for a batch it just leased): access[i] gets ids[i]'s token,
 * opened (free it with ou_free_secret), when tokens_get_access() would answer
 * it straight from the store with TOKENS_OK; NULL for anything else (a
 * refresh is due or running, no grant, an error): ask tokens_get_access()
 * for that one, which does the refresh or gives the answer.  0, or -1 when
 * the database could not be read (every access[i] NULL).
 */
int tokens_prefetch(tokens *t, const char *const *ids, size_t n, char **access);

/*
 * A FHIR call with the participant's access token got 401: mark the stored
 * access token expired so the next tokens_get_access() refreshes first.  When
 * the token had itself been obtained by such a refresh less than five minutes
 * ago (the 401 persists), the grant is dead: the participant becomes
 * needs_reconsent and the next tokens_get_access() answers TOKENS_NO_GRANT.
 * Uses the loop's connection (bb_daemon.db) with its own short transaction:
 * call it outside any transaction there.  Likewise the service commits its
 * in-flight marks on that connection from its tick, so the loop's connection
 * must never be left inside a transaction between ticks.
 */
void tokens_invalidate(tokens *t, const char *participant_id);

/* True once Blue Button refused the app (invalid_client); sync must stop. */
bool tokens_app_disabled(const tokens *t);

/* Refreshes in flight (for /metrics and status). */
unsigned tokens_inflight(const tokens *t);

/* ---- for the enrolment (enrol.h) ---- */

/* A grant just obtained by a code exchange. */
typedef struct tokens_grant {
	const char *participant_id;
	const char *access_token;
	const char *refresh_token;
	int64_t expires_in;         /* seconds; <= 0 means Blue Button's 3600 */
	const char *scope;          /* granted scopes, space-separated (may be NULL) */
	const char *patient;        /* FHIR Patient id (may be NULL) */
	const char *grant_expiration; /* access_grant_expiration (may be NULL or "") */
} tokens_grant;

/* ok: the grant is committed (state active, first sync queued). */
typedef void (*tokens_install_cb)(void *ud, bool ok);

/*
 * Seal and commit a new grant for its participant, replacing any earlier
 * one cleanly, in one transaction with state active, patient id, scopes,
 * demographics (false when Patient was not granted), next_sync_at = now()
 * and an audit row.  The tokens are sealed before this returns (no clear
 * copy is kept).  If a refresh of the participant is in flight (here or in
 * another instance) the commit waits for it.  `cb` is called exactly once,
 * later from the loop.  0, or -1 (cb not called) when sealing failed.
 */
int tokens_install(tokens *t, const tokens_grant *g, tokens_install_cb cb, void *ud);

/* ---- life cycle (the subsystem hooks use these; commands may too) ---- */

struct bb_daemon;

/*
 * A token service on d's configuration, loop connection, http and vault.
 * `scheduled`: refresh grants on their schedule and recover refreshes that
 * died mid-call (the daemon); false for a command that only needs
 * tokens_get_access() (withdraw), which may then also be asked for the
 * tokens of a participant already marked withdrawn.  NULL with `err`.
 */
tokens *tokens_new(struct bb_daemon *d, bool scheduled, char *err, size_t errlen);

/* Do due work; returns the monotonic time (us) it next wants to run. */
int64_t tokens_tick(tokens *t, int64_t now_us);

/* Take no new work; refreshes in flight finish. */
void tokens_drain(tokens *t);

/* True when no refresh or commit is in flight. */
bool tokens_idle(const tokens *t);

/* Free; answers not yet delivered are dropped (their callers stop first). */
void tokens_free(tokens *t);

/*
 * The subsystem entry for daemon.c's table.  Its start hook stores the
 * service in bb_daemon.tokens so the sync engine (started after it) finds it.
 */
struct bb_subsystem;
extern const struct bb_subsystem tokens_subsystem;

#endif
