#include "tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/rand.h>

#include "consent.h"
#include "daemon.h"
#include "log.h"
#include "oauth.h"
#include "oauthutil.h"
#include "util.h"
#include "vault.h"

/* Connections kept for refreshes in flight (each holds a row lock across its call). */
#define POOL 4
/* A busy row (another refresh in flight) is tried again after this. */
#define LOCK_RETRY_US 500000LL
/* How often due refreshes are looked for when nothing else wakes us. */
#define SCAN_EVERY_US 5000000LL
/* How often bb.app_state is read (another instance may have disabled the app). */
#define APP_CHECK_EVERY_US 10000000LL

typedef struct waiter {
	struct waiter *next;
	tokens_cb cb;
	void *ud;
} waiter;

typedef struct answer {
	struct answer *next;
	tokens_cb cb;
	tokens_install_cb icb;
	void *ud;
	tokens_status st;
	bool ok;
	char *token;                /* secret, wiped after delivery */
} answer;

typedef enum { JOB_REFRESH, JOB_INSTALL } job_kind;

typedef struct job {
	struct job *next;
	tokens *t;
	job_kind kind;
	char id[CONSENT_MAX_ID + 1];
	const char *reason;         /* scheduled, on_demand, invalidated, in_doubt_retry */
	waiter *waiters;
	int slot;                   /* pool slot held, -1 none */
	bool inflight;              /* HTTP call running */
	int64_t not_before_us;
	int64_t give_up_us;
	char prev_state[24];
	/* install: sealed values as bytea params and the rest */
	char *access_param, *refresh_param;
	char *scope, *patient, *grant_exp;
	int64_t expires_in;
	tokens_install_cb icb;
	void *iud;
} job;

struct tokens {
	bb_daemon *d;
	bool scheduled;
	store *pool[POOL];
	job *slot_job[POOL];
	job *jobs;
	answer *answers, **answers_tail;
	bool app_disabled;
	bool draining;
	unsigned inflight;
	int64_t next_scan_us;
	int64_t next_app_check_us;
	bool scan_full;             /* the last scan found more than it could start */
};

const char *tokens_status_name(tokens_status st)
{
	switch (st) {
	case TOKENS_OK: return "ok";
	case TOKENS_NO_GRANT: return "no grant";
	case TOKENS_RECONSENT: return "needs re-consent";
	case TOKENS_IN_DOUBT: return "refresh in doubt";
	case TOKENS_RETRY: return "try again later";
	case TOKENS_APP_DISABLED: return "app disabled";
	case TOKENS_ABORTED: return "stopping";
	}
	return "unknown";
}

/* ---- small helpers ---- */

static void rollback(store *s)
{
	char e[256];

	if (s)
		store_cmd(s, "ROLLBACK", 0, NULL, e, sizeof e);
}

static uint32_t random_u32(void)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		r = (uint32_t)now_mono_us();
	return r;
}

/* Seconds until the next scheduled refresh: interval plus random jitter. */
static long long schedule_secs(const bb_config *cfg)
{
	long long s = cfg->refresh_interval_s;

	if (cfg->refresh_jitter_s > 0)
		s += (long long)(random_u32() % (uint64_t)(cfg->refresh_jitter_s + 1));
	return s;
}

/* Backoff after `failures` attempts that could not reach Blue Button. */
static long long backoff_secs(const bb_config *cfg, int failures)
{
	long long base = cfg->retry_base_s > 0 ? cfg->retry_base_s : 30;
	long long max = cfg->retry_max_s > base ? cfg->retry_max_s : base;
	long long s = base;

	for (int i = 1; i < failures && s < max; i++)
		s *= 2;
	if (s > max)
		s = max;
	/* up to 25 % jitter so a fleet does not retry in step */
	return s + (long long)(random_u32() % (uint64_t)(s / 4 + 1));
}

static void queue_answer(tokens *t, tokens_cb cb, tokens_install_cb icb, void *ud,
			 tokens_status st, bool ok, const char *token)
{
	answer *a = xcalloc(1, sizeof *a);

	a->cb = cb;
	a->icb = icb;
	a->ud = ud;
	a->st = st;
	a->ok = ok;
	a->token = token ? xstrdup(token) : NULL;
	*t->answers_tail = a;
	t->answers_tail = &a->next;
	if (t->d->http)
		http_wakeup(t->d->http);
}

static void answer_free(answer *a)
{
	ou_free_secret(a->token);
	free(a);
}

static job *job_find(tokens *t, const char *id, job_kind kind)
{
	for (job *j = t->jobs; j; j = j->next)
		if (j->kind == kind && strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

static bool job_busy_for(tokens *t, const char *id, const job *self)
{
	for (job *j = t->jobs; j; j = j->next)
		if (j != self && j->slot >= 0 && strcmp(j->id, id) == 0)
			return true;
	return false;
}

static void job_add_waiter(job *j, tokens_cb cb, void *ud)
{
	waiter *w = xcalloc(1, sizeof *w), **pp = &j->waiters;

	w->cb = cb;
	w->ud = ud;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
}

static job *job_new(tokens *t, job_kind kind, const char *id, const char *reason)
{
	job *j = xcalloc(1, sizeof *j), **pp = &t->jobs;

	j->t = t;
	j->kind = kind;
	j->slot = -1;
	j->reason = reason;
	snprintf(j->id, sizeof j->id, "%s", id);
	while (*pp)
		pp = &(*pp)->next;
	*pp = j;
	return j;
}

static void release_slot(job *j)
{
	if (j->slot >= 0) {
		j->t->slot_job[j->slot] = NULL;
		j->slot = -1;
	}
}

/* Finish a job: answer every waiter with st (and token), unlink, free. */
static void job_finish(job *j, tokens_status st, const char *token)
{
	tokens *t = j->t;
	job **pp = &t->jobs;

	release_slot(j);
	while (j->waiters) {
		waiter *w = j->waiters;

		j->waiters = w->next;
		queue_answer(t, w->cb, NULL, w->ud, st, false, st == TOKENS_OK ? token : NULL);
		free(w);
	}
	if (j->kind == JOB_INSTALL && j->icb)
		queue_answer(t, NULL, j->icb, j->iud, TOKENS_OK, st == TOKENS_OK, NULL);
	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
	free(j->access_param);
	free(j->refresh_param);
	free(j->scope);
	free(j->patient);
	free(j->grant_exp);
	free(j);
	/* a slot is free: look for more due work at once */
	if (t->scan_full)
		t->next_scan_us = 0;
}

static int take_slot(tokens *t, job *j, char *err, size_t errlen)
{
	for (int i = 0; i < POOL; i++) {
		if (t->slot_job[i])
			continue;
		if (t->pool[i] && PQstatus(store_pg(t->pool[i])) != CONNECTION_OK) {
			store_close(t->pool[i]);
			t->pool[i] = NULL;
		}
		if (!t->pool[i]) {
			t->pool[i] = store_connect(t->d->cfg->db_conninfo, err, errlen);
			if (!t->pool[i])
				return -2;
		}
		t->slot_job[i] = j;
		j->slot = i;
		return i;
	}
	return -1;
}

static store *job_conn(job *j)
{
	return j->t->pool[j->slot];
}

static void audit(store *s, const char *id, const char *event, size_t n,
		  const char *const *k, const char *const *v)
{
	char err[512];

	if (consent_audit(s, id, event, n, k, v, err, sizeof err) < 0)
		log_error("could not write the audit row (%s) of participant %s: %s", event,
			  id ? id : "(none)", err);
}

static void error_row(store *s, const char *id, const char *kind, const char *message)
{
	const char *p[3] = { id, kind, message };
	char err[512];

	if (store_cmd(s, "INSERT INTO bb.error (participant_id, kind, message) "
		      "VALUES ($1, $2, left($3, 2000))", 3, p, err, sizeof err) < 0)
		log_error("could not record an error of participant %s: %s", id, err);
}

static void audit_state(store *s, const char *id, const char *from, const char *to,
			const char *why)
{
	const char *k[3] = { "from", "to", "reason" };
	const char *v[3] = { from, to, why };

	audit(s, id, "state_changed", 3, k, v);
}

/* Clear the in-flight mark with the loop's connection (no lock is involved). */
static void clear_mark_loop(tokens *t, const char *id)
{
	const char *p[1] = { id };
	char err[512];

	if (store_cmd(t->d->db, "UPDATE bb.participant SET refresh_started_at = NULL, "
		      "refresh_owner = NULL WHERE participant_id = $1", 1, p, err, sizeof err) < 0)
		log_error("could not clear the refresh mark of participant %s: %s", id, err);
}

/* ---- answering from the store ---- */

/* A participant's state and stored access token, as lookup() judges them. */
#define TOKEN_ROW_SQL \
	"SELECT p.state, t.participant_id IS NOT NULL, t.access_sealed, " \
	"  coalesce(extract(epoch FROM t.access_expires_at - now())::bigint, 0), " \
	"  t.invalidated_at IS NOT NULL, " \
	"  (SELECT disabled_at IS NOT NULL FROM bb.app_state LIMIT 1), p.participant_id " \
	"FROM bb.participant p LEFT JOIN bb.token t USING (participant_id) "

typedef enum { ROW_USE, ROW_REFRESH, ROW_ANSWER } row_verdict;

/*
 * Judge one TOKEN_ROW_SQL row: ROW_USE when its access token is good for
 * more than refresh.ahead, ROW_REFRESH when a refresh is needed first,
 * ROW_ANSWER with *st the answer otherwise.
 */
static row_verdict judge_row(tokens *t, PGresult *r, int row, tokens_status *st)
{
	const char *state = PQgetvalue(r, row, 0);
	bool has_token = PQgetvalue(r, row, 1)[0] == 't';
	long long left = atoll(PQgetvalue(r, row, 3));
	bool invalidated = PQgetvalue(r, row, 4)[0] == 't';

	if (PQgetvalue(r, row, 5)[0] == 't') {
		t->app_disabled = true;
		*st = TOKENS_APP_DISABLED;
		return ROW_ANSWER;
	}
	if (strcmp(state, "refresh_in_doubt") == 0) {
		*st = TOKENS_IN_DOUBT;
		return ROW_ANSWER;
	}
	if (!has_token || !(strcmp(state, "active") == 0 ||
			    (!t->scheduled && strcmp(state, "withdrawn") == 0))) {
		*st = TOKENS_NO_GRANT;
		return ROW_ANSWER;
	}
	if (invalidated || left <= t->d->cfg->refresh_ahead_s)
		return ROW_REFRESH;
	*st = TOKENS_OK;
	return ROW_USE;
}

/* Open the sealed access token of a ROW_USE row; NULL with err filled. */
static char *open_row(tokens *t, PGresult *r, int row, const char *id, char *err, size_t errlen)
{
	char aad[CONSENT_MAX_ID + 32];
	char *tok = NULL;

	consent_aad(aad, sizeof aad, id, "access");
	if (consent_open_value(t->d->vault, aad, PQgetvalue(r, row, 2), &tok, err, errlen) < 0)
		return NULL;
	return tok;
}

/*
 * Answer a request from the sealed store when the access token is good for
 * more than refresh.ahead; returns false when a refresh is needed.
 */
static bool lookup(tokens *t, const char *id, tokens_cb cb, void *ud)
{
	const char *p[1] = { id };
	char err[512];
	tokens_status st = TOKENS_NO_GRANT;
	PGresult *r;
	char *tok;

	r = store_exec(t->d->db, TOKEN_ROW_SQL "WHERE p.participant_id = $1", 1, p, err, sizeof err);
	if (!r) {
		log_error("could not read the tokens of participant %s: %s", id, err);
		queue_answer(t, cb, NULL, ud, TOKENS_RETRY, false, NULL);
		return true;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		queue_answer(t, cb, NULL, ud, TOKENS_NO_GRANT, false, NULL);
		return true;
	}
	switch (judge_row(t, r, 0, &st)) {
	case ROW_REFRESH:
		PQclear(r);
		return false;
	case ROW_ANSWER:
		PQclear(r);
		queue_answer(t, cb, NULL, ud, st, false, NULL);
		return true;
	case ROW_USE:
		break;
	}
	tok = open_row(t, r, 0, id, err, sizeof err);
	if (!tok) {
		log_error("could not open the sealed access token of participant %s: %s", id, err);
		queue_answer(t, cb, NULL, ud, TOKENS_RETRY, false, NULL);
	} else {
		queue_answer(t, cb, NULL, ud, TOKENS_OK, false, tok);
		ou_free_secret(tok);
	}
	PQclear(r);
	return true;
}

int tokens_prefetch(tokens *t, const char *const *ids, size_t n, char **access)
{
	char err[512];
	const char *p[1];
	char *arr;
	PGresult *r;

	for (size_t i = 0; i < n; i++)
		access[i] = NULL;
	if (!t || t->draining || t->app_disabled || n == 0)
		return 0;
	arr = store_array_literal(ids, n);
	p[0] = arr;
	r = store_exec(t->d->db, TOKEN_ROW_SQL "WHERE p.participant_id = ANY($1::text[])",
		       1, p, err, sizeof err);
	free(arr);
	if (!r)
		return -1;      /* each asks tokens_get_access, which reports it */
	for (int row = 0; row < PQntuples(r); row++) {
		const char *id = PQgetvalue(r, row, 6);
		tokens_status st;
		size_t i;

		for (i = 0; i < n && strcmp(ids[i], id) != 0; i++)
			;
		if (i == n || access[i] || job_find(t, id, JOB_REFRESH))
			continue;
		if (judge_row(t, r, row, &st) == ROW_USE)
			access[i] = open_row(t, r, row, id, err, sizeof err);
	}
	PQclear(r);
	return 0;
}

int tokens_get_access(tokens *t, const char *participant_id, tokens_cb cb, void *ud)
{
	job *j;

	if (!t || t->draining)
		return -1;
	if (t->app_disabled) {
		queue_answer(t, cb, NULL, ud, TOKENS_APP_DISABLED, false, NULL);
		return 0;
	}
	j = job_find(t, participant_id, JOB_REFRESH);
	if (j) {
		job_add_waiter(j, cb, ud);
		return 0;
	}
	if (lookup(t, participant_id, cb, ud))
		return 0;
	j = job_new(t, JOB_REFRESH, participant_id, "on_demand");
	j->give_up_us = now_mono_us() + (int64_t)(t->d->cfg->token_timeout_s + 60) * 1000000;
	job_add_waiter(j, cb, ud);
	if (t->d->http)
		http_wakeup(t->d->http);
	return 0;
}

/* ---- the refresh ---- */

static void refresh_done(void *ud, const http_result *res);

/*
 * Record a refresh that died mid-call (mark left, row unlocked): in doubt.
 * An interrupted call got no answer, so even an interrupted retry proves
 * nothing: the participant stays in doubt and the retry is tried again (a
 * spent refresh token only earns a clear invalid_grant), up to
 * MAX_INTERRUPTED_RETRIES times in a row before giving up.
 */
#define MAX_INTERRUPTED_RETRIES 5

static void recover_in_doubt(job *j, const char *state)
{
	store *s = job_conn(j);
	const char *to = "refresh_in_doubt";
	const char *p[2] = { j->id, NULL };
	char err[512], secs[32];
	bool active = strcmp(state, "active") == 0 || strcmp(state, "refresh_in_doubt") == 0;

	if (active && strcmp(state, "refresh_in_doubt") == 0) {
		PGresult *r = store_exec(s, "UPDATE bb.token SET refresh_failures = refresh_failures + 1 "
					 "WHERE participant_id = $1 RETURNING refresh_failures", 1, p,
					 err, sizeof err);

		if (!r || PQntuples(r) != 1 || atoi(PQgetvalue(r, 0, 0)) > MAX_INTERRUPTED_RETRIES)
			to = "needs_reconsent";
		PQclear(r);
	}

	if (!active) {
		store_cmd(s, "UPDATE bb.participant SET refresh_started_at = NULL, refresh_owner = NULL "
			  "WHERE participant_id = $1", 1, p, err, sizeof err);
		store_cmd(s, "COMMIT", 0, NULL, err, sizeof err);
		job_finish(j, TOKENS_NO_GRANT, NULL);
		return;
	}
	if (strcmp(to, "needs_reconsent") == 0) {
		store_cmd(s, "DELETE FROM bb.token WHERE participant_id = $1", 1, p, err, sizeof err);
		store_cmd(s, "UPDATE bb.participant SET state = 'needs_reconsent', refresh_started_at = NULL, "
			  "refresh_owner = NULL, next_sync_at = NULL, updated_at = now(), "
			  "last_error = 'token refreshes kept dying mid-call; the grant is given up' "
			  "WHERE participant_id = $1", 1, p, err, sizeof err);
	} else {
		snprintf(secs, sizeof secs, "%lld", backoff_secs(j->t->d->cfg, 1));
		p[1] = secs;
		store_cmd(s, "UPDATE bb.token SET next_refresh_at = now() + make_interval(secs => $2::double precision) "
			  "WHERE participant_id = $1", 2, p, err, sizeof err);
		store_cmd(s, "UPDATE bb.participant SET state = 'refresh_in_doubt', refresh_started_at = NULL, "
			  "refresh_owner = NULL, updated_at = now(), "
			  "last_error = 'a token refresh died mid-call; it is retried' "
			  "WHERE participant_id = $1", 1, p, err, sizeof err);
	}
	error_row(s, j->id, "refresh_in_doubt", "a token refresh was interrupted mid-call "
		  "(the daemon stopped or lost its database); its outcome is unknown");
	{
		const char *k[2] = { "outcome", "answer" };
		const char *v[2] = { "in_doubt", "none: interrupted mid-call" };

		audit(s, j->id, "refresh_failed", 2, k, v);
	}
	audit_state(s, j->id, state, to, "refresh interrupted mid-call");
	if (store_cmd(s, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		log_error("could not record the interrupted refresh of participant %s: %s", j->id, err);
		rollback(s);
		job_finish(j, TOKENS_RETRY, NULL);
		return;
	}
	if (strcmp(to, "needs_reconsent") == 0)
		log_error("participant %s needs to enrol again: its token refresh was interrupted "
			  "mid-call %d times in a row", j->id, MAX_INTERRUPTED_RETRIES + 1);
	else
		log_warning("participant %s: a refresh was interrupted mid-call (outcome unknown); "
			    "it is retried", j->id);
	job_finish(j, strcmp(to, "needs_reconsent") == 0 ? TOKENS_RECONSENT : TOKENS_IN_DOUBT, NULL);
}

static void start_refresh(job *j)
{
	tokens *t = j->t;
	const bb_config *cfg = t->d->cfg;
	store *s = job_conn(j);
	const char *p[2] = { j->id, t->d->instance_id };
	char err[512], aad[CONSENT_MAX_ID + 32];
	char *refresh = NULL, *body = NULL;
	const char *state, *sqlstate;
	bool marked, due, invalidated;
	long long left;
	PGresult *r;

	if (store_cmd(s, "BEGIN", 0, NULL, err, sizeof err) < 0) {
		log_error("token refresh of participant %s: %s", j->id, err);
		job_finish(j, TOKENS_RETRY, NULL);
		return;
	}
	r = PQexecParams(store_pg(s),
		"SELECT p.state, p.refresh_started_at IS NOT NULL, t.refresh_sealed, "
		"  extract(epoch FROM t.access_expires_at - now())::bigint, "
		"  t.invalidated_at IS NOT NULL, t.next_refresh_at <= now(), t.access_sealed "
		"FROM bb.token t JOIN bb.participant p USING (participant_id) "
		"WHERE t.participant_id = $1 FOR UPDATE OF t NOWAIT", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (sqlstate && strcmp(sqlstate, "55P03") == 0) {
			/* another refresh holds the row: wait for it, then read its result */
			PQclear(r);
			rollback(s);
			release_slot(j);
			if (!j->waiters) {
				job_finish(j, TOKENS_RETRY, NULL);
			} else if (now_mono_us() > j->give_up_us) {
				log_warning("participant %s: gave up waiting for another refresh", j->id);
				job_finish(j, TOKENS_RETRY, NULL);
			} else {
				j->not_before_us = now_mono_us() + LOCK_RETRY_US;
			}
			return;
		}
		log_error("token refresh of participant %s: could not lock its tokens: %s", j->id,
			  PQresultErrorMessage(r));
		PQclear(r);
		rollback(s);
		job_finish(j, TOKENS_RETRY, NULL);
		return;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		rollback(s);
		job_finish(j, TOKENS_NO_GRANT, NULL);
		return;
	}
	state = PQgetvalue(r, 0, 0);
	snprintf(j->prev_state, sizeof j->prev_state, "%s", state);
	marked = PQgetvalue(r, 0, 1)[0] == 't';
	left = atoll(PQgetvalue(r, 0, 3));
	invalidated = PQgetvalue(r, 0, 4)[0] == 't';
	due = PQgetvalue(r, 0, 5)[0] == 't';

	if (marked) {
		/* we hold the lock, so whoever marked it is gone: it died mid-call */
		PQclear(r);
		recover_in_doubt(j, j->prev_state);
		return;
	}
	if (!(strcmp(state, "active") == 0 || strcmp(state, "refresh_in_doubt") == 0 ||
	      (!t->scheduled && strcmp(state, "withdrawn") == 0))) {
		PQclear(r);
		rollback(s);
		job_finish(j, TOKENS_NO_GRANT, NULL);
		return;
	}
	if (strcmp(state, "refresh_in_doubt") == 0 && !due) {
		/* the one retry happens on its schedule, not on demand */
		PQclear(r);
		rollback(s);
		job_finish(j, TOKENS_IN_DOUBT, NULL);
		return;
	}
	if (strcmp(j->reason, "scheduled") == 0 && !due) {
		/* another instance refreshed it meanwhile */
		PQclear(r);
		rollback(s);
		job_finish(j, TOKENS_RETRY, NULL);
		return;
	}
	if (strcmp(j->reason, "on_demand") == 0 && !invalidated && left > cfg->refresh_ahead_s &&
	    strcmp(state, "refresh_in_doubt") != 0) {
		/* refreshed by someone else while we waited: use theirs */
		char *tok = NULL;

		consent_aad(aad, sizeof aad, j->id, "access");
		if (consent_open_value(t->d->vault, aad, PQgetvalue(r, 0, 6), &tok, err, sizeof err) < 0) {
			log_error("could not open the sealed access token of participant %s: %s", j->id, err);
			PQclear(r);
			rollback(s);
			job_finish(j, TOKENS_RETRY, NULL);
			return;
		}
		PQclear(r);
		rollback(s);
		job_finish(j, TOKENS_OK, tok);
		ou_free_secret(tok);
		return;
	}
	if (strcmp(state, "refresh_in_doubt") == 0)
		j->reason = "in_doubt_retry";
	else if (invalidated)
		j->reason = "invalidated";

	consent_aad(aad, sizeof aad, j->id, "refresh");
	if (consent_open_value(t->d->vault, aad, PQgetvalue(r, 0, 2), &refresh, err, sizeof err) < 0) {
		log_error("could not open the sealed refresh token of participant %s: %s", j->id, err);
		PQclear(r);
		rollback(s);
		job_finish(j, TOKENS_RETRY, NULL);
		return;
	}
	PQclear(r);

	/* the mark, committed before the call (the row lock stays held on s) */
	if (PQtransactionStatus(store_pg(t->d->db)) != PQTRANS_IDLE) {
		log_error("token refresh of participant %s: the loop's database connection is inside "
			  "a transaction, so the in-flight mark could not be committed; not refreshing", j->id);
		ou_free_secret(refresh);
		rollback(s);
		job_finish(j, TOKENS_RETRY, NULL);
		return;
	}
	if (store_cmd(t->d->db, "UPDATE bb.participant SET refresh_started_at = now(), "
		      "refresh_owner = $2 WHERE participant_id = $1", 2, p, err, sizeof err) < 0) {
		log_error("token refresh of participant %s: could not mark it in flight: %s", j->id, err);
		ou_free_secret(refresh);
		rollback(s);
		job_finish(j, TOKENS_RETRY, NULL);
		return;
	}
	body = oauth_refresh_body(refresh);
	ou_free_secret(refresh);
	if (oauth_post(t->d->http, cfg, "token", body, refresh_done, j, err, sizeof err) < 0) {
		log_error("token refresh of participant %s: %s", j->id, err);
		clear_mark_loop(t, j->id);
		rollback(s);
		job_finish(j, TOKENS_RETRY, NULL);
	} else {
		j->inflight = true;
		t->inflight++;
		log_debug("refreshing the tokens of participant %s (%s)", j->id, j->reason);
	}
}

/* Commit the new pair; false when it could not be committed. */
static bool commit_new_pair(job *j, const oauth_token_response *tr, char *gen_out, size_t gen_len)
{
	tokens *t = j->t;
	const bb_config *cfg = t->d->cfg;
	store *s = job_conn(j);
	char aad[CONSENT_MAX_ID + 32], err[512], exp_s[32], next_s[32], grant[32];
	char *acc = NULL, *ref = NULL;
	const char *p[8];
	PGresult *r;
	bool ok = false;

	consent_aad(aad, sizeof aad, j->id, "access");
	acc = consent_seal_param(t->d->vault, aad, tr->access_token, err, sizeof err);
	consent_aad(aad, sizeof aad, j->id, "refresh");
	if (acc)
		ref = consent_seal_param(t->d->vault, aad, tr->refresh_token, err, sizeof err);
	if (!acc || !ref) {
		log_error("could not seal the new tokens of participant %s: %s", j->id, err);
		goto out;
	}
	snprintf(exp_s, sizeof exp_s, "%lld", (long long)(tr->expires_in > 0 ? tr->expires_in : 3600));
	snprintf(next_s, sizeof next_s, "%lld", schedule_secs(cfg));
	p[0] = j->id;
	p[1] = vault_key_id(t->d->vault);
	p[2] = acc;
	p[3] = ref;
	p[4] = exp_s;
	p[5] = oauth_grant_expiration(tr->grant_expiration, grant, sizeof grant) ? grant : NULL;
	p[6] = next_s;
	p[7] = j->reason;
	r = store_exec(s, "UPDATE bb.token SET key_id = $2, access_sealed = $3::bytea, "
		       "refresh_sealed = $4::bytea, "
		       "access_expires_at = now() + make_interval(secs => $5::double precision), "
		       "grant_expires_at = $6::timestamptz, generation = generation + 1, obtained_at = now(), "
		       "next_refresh_at = now() + make_interval(secs => $7::double precision), "
		       "refresh_reason = $8, invalidated_at = NULL, refresh_failures = 0 "
		       "WHERE participant_id = $1 RETURNING generation", 8, p, err, sizeof err);
	if (!r || PQntuples(r) != 1) {
		log_error("could not store the new tokens of participant %s: %s", j->id,
			  r ? "the token row is gone" : err);
		PQclear(r);
		goto out;
	}
	snprintf(gen_out, gen_len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	p[1] = tr->patient && *tr->patient && strlen(tr->patient) <= 128 ? tr->patient : NULL;
	if (store_cmd(s, "UPDATE bb.participant SET "
		      "state = CASE WHEN state = 'refresh_in_doubt' THEN 'active' ELSE state END, "
		      "patient_id = coalesce($2, patient_id), refresh_started_at = NULL, "
		      "refresh_owner = NULL, updated_at = now() WHERE participant_id = $1",
		      2, p, err, sizeof err) < 0) {
		log_error("could not store the new tokens of participant %s: %s", j->id, err);
		goto out;
	}
	{
		const char *k[2] = { "generation", "reason" };
		const char *v[2] = { gen_out, j->reason };

		audit(s, j->id, "refreshed", 2, k, v);
	}
	if (strcmp(j->prev_state, "refresh_in_doubt") == 0)
		audit_state(s, j->id, "refresh_in_doubt", "active", "the retried refresh succeeded");
	if (store_cmd(s, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		log_error("could not commit the new tokens of participant %s: %s", j->id, err);
		goto out;
	}
	ok = true;
out:
	free(acc);
	free(ref);
	if (!ok)
		rollback(s);
	return ok;
}

static void refresh_failed(job *j, oauth_outcome o, const char *desc)
{
	tokens *t = j->t;
	const bb_config *cfg = t->d->cfg;
	store *s = job_conn(j);
	const char *p[3] = { j->id, NULL, NULL };
	char err[512], secs[32], msg[600];
	const char *to = NULL;
	tokens_status st = TOKENS_RETRY;
	bool was_retry = strcmp(j->prev_state, "refresh_in_doubt") == 0;
	bool grant_state = strcmp(j->prev_state, "active") == 0 || was_retry;

	if (o == OAUTH_APP_REFUSED) {
		snprintf(msg, sizeof msg, "Blue Button refused the application itself on a token "
			 "refresh (%s)", desc);
		p[1] = msg;
		store_cmd(s, "UPDATE bb.participant SET refresh_started_at = NULL, refresh_owner = NULL "
			  "WHERE participant_id = $1", 1, p, err, sizeof err);
		store_cmd(s, "UPDATE bb.app_state SET disabled_at = now(), disabled_reason = $1",
			  1, p + 1, err, sizeof err);
		{
			const char *k[2] = { "outcome", "answer" };
			const char *v[2] = { "app_refused", desc };

			audit(s, j->id, "refresh_failed", 2, k, v);
			audit(s, NULL, "app_disabled", 2, k, v);
		}
		error_row(s, j->id, "app_disabled", msg);
		if (store_cmd(s, "COMMIT", 0, NULL, err, sizeof err) < 0)
			rollback(s);
		t->app_disabled = true;
		log_msg(LOG_CRIT, "Blue Button refused this application (%s): all refreshes and syncs "
			"stop now.  HINT: check api.client_id and the client secret, and the app's "
			"status with Blue Button; then clear the mark with "
			"\"UPDATE bb.app_state SET disabled_at = NULL\"", desc);
		job_finish(j, TOKENS_APP_DISABLED, NULL);
		return;
	}
	if (o == OAUTH_NOT_SENT) {
		PGresult *r;
		int failures = 1;

		r = store_exec(s, "UPDATE bb.token SET refresh_failures = refresh_failures + 1 "
			       "WHERE participant_id = $1 RETURNING refresh_failures", 1, p, err, sizeof err);
		if (r && PQntuples(r) == 1)
			failures = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		snprintf(secs, sizeof secs, "%lld", backoff_secs(cfg, failures));
		p[1] = secs;
		store_cmd(s, "UPDATE bb.token SET next_refresh_at = now() + make_interval(secs => $2::double precision) "
			  "WHERE participant_id = $1", 2, p, err, sizeof err);
		store_cmd(s, "UPDATE bb.participant SET refresh_started_at = NULL, refresh_owner = NULL "
			  "WHERE participant_id = $1", 1, p, err, sizeof err);
		{
			const char *k[3] = { "outcome", "answer", "reason" };
			const char *v[3] = { "not_sent", desc, j->reason };

			audit(s, j->id, "refresh_failed", 3, k, v);
		}
		if (store_cmd(s, "COMMIT", 0, NULL, err, sizeof err) < 0)
			rollback(s);
		log_warning("token refresh of participant %s did not reach Blue Button (%s); "
			    "the token is unspent, next try in %s s", j->id, desc, secs);
		job_finish(j, TOKENS_RETRY, NULL);
		return;
	}
	/* grant dead, or in doubt */
	if (o == OAUTH_GRANT_DEAD || was_retry) {
		to = grant_state ? "needs_reconsent" : NULL;
		st = TOKENS_RECONSENT;
		snprintf(msg, sizeof msg, o == OAUTH_GRANT_DEAD
			 ? "Blue Button refused the refresh (%s): the participant must enrol again"
			 : "the retried refresh got no clear answer either (%s): the participant must enrol again",
			 desc);
		p[1] = msg;
		store_cmd(s, "DELETE FROM bb.token WHERE participant_id = $1", 1, p, err, sizeof err);
		store_cmd(s, "UPDATE bb.participant SET "
			  "state = CASE WHEN state IN ('active', 'refresh_in_doubt') THEN 'needs_reconsent' ELSE state END, "
			  "refresh_started_at = NULL, refresh_owner = NULL, next_sync_at = NULL, "
			  "last_error = left($2, 2000), updated_at = now() WHERE participant_id = $1",
			  2, p, err, sizeof err);
	} else {
		to = grant_state ? "refresh_in_doubt" : NULL;
		st = TOKENS_IN_DOUBT;
		snprintf(secs, sizeof secs, "%lld", backoff_secs(cfg, 1));
		snprintf(msg, sizeof msg, "a token refresh got no clear answer (%s): the refresh token "
			 "may be spent; it is retried once", desc);
		p[1] = secs;
		p[2] = msg;
		store_cmd(s, "UPDATE bb.token SET next_refresh_at = now() + make_interval(secs => $2::double precision) "
			  "WHERE participant_id = $1", 2, p, err, sizeof err);
		store_cmd(s, "UPDATE bb.participant SET "
			  "state = CASE WHEN state = 'active' THEN 'refresh_in_doubt' ELSE state END, "
			  "refresh_started_at = NULL, refresh_owner = NULL, last_error = left($3, 2000), "
			  "updated_at = now() WHERE participant_id = $1", 3, p, err, sizeof err);
	}
	error_row(s, j->id, o == OAUTH_GRANT_DEAD ? "refresh_refused" : "refresh_in_doubt", msg);
	{
		const char *k[3] = { "outcome", "answer", "reason" };
		const char *v[3] = { oauth_outcome_name(o), desc, j->reason };

		audit(s, j->id, "refresh_failed", 3, k, v);
	}
	if (to)
		audit_state(s, j->id, j->prev_state, to, oauth_outcome_name(o));
	if (store_cmd(s, "COMMIT", 0, NULL, err, sizeof err) < 0) {
		log_error("could not record the failed refresh of participant %s: %s", j->id, err);
		rollback(s);
	}
	if (st == TOKENS_RECONSENT)
		log_error("participant %s needs to enrol again: %s", j->id, msg);
	else
		log_error("participant %s: %s; next try in %s s", j->id, msg, secs);
	job_finish(j, st, NULL);
}

static void refresh_done(void *ud, const http_result *res)
{
	job *j = ud;
	tokens *t = j->t;
	oauth_token_response tr;
	char err[256], desc[300], gen[32];
	bool parsed = false;
	oauth_outcome o;

	j->inflight = false;
	t->inflight--;
	memset(&tr, 0, sizeof tr);
	if (res->status && res->body)
		parsed = oauth_parse_token_response(res->body, res->body_len, &tr, err, sizeof err) == 0;
	if (!parsed)
		oauth_token_response_clear(&tr);   /* frees what a failed parse kept */
	o = oauth_classify(res, parsed ? &tr : NULL);
	oauth_describe(res, parsed ? &tr : NULL, desc, sizeof desc);
	if (o == OAUTH_OK) {
		if (commit_new_pair(j, &tr, gen, sizeof gen)) {
			log_info("refreshed the tokens of participant %s (generation %s, %s)", j->id, gen,
				 j->reason);
			job_finish(j, TOKENS_OK, tr.access_token);
		} else {
			/* the mark stays: the next look at this row records it in doubt */
			log_error("participant %s: the new tokens were received but not committed; "
				  "the refresh is in doubt", j->id);
			job_finish(j, TOKENS_IN_DOUBT, NULL);
		}
	} else {
		refresh_failed(j, o, desc);
	}
	oauth_token_response_clear(&tr);
}

/* ---- installing a new grant ---- */

int tokens_install(tokens *t, const tokens_grant *g, tokens_install_cb cb, void *ud)
{
	char aad[CONSENT_MAX_ID + 32], err[512];
	job *j = job_new(t, JOB_INSTALL, g->participant_id, "enrolled");

	consent_aad(aad, sizeof aad, g->participant_id, "access");
	j->access_param = consent_seal_param(t->d->vault, aad, g->access_token, err, sizeof err);
	consent_aad(aad, sizeof aad, g->participant_id, "refresh");
	if (j->access_param)
		j->refresh_param = consent_seal_param(t->d->vault, aad, g->refresh_token, err, sizeof err);
	if (!j->access_param || !j->refresh_param) {
		log_error("could not seal the tokens of participant %s: %s", g->participant_id, err);
		job_finish(j, TOKENS_RETRY, NULL);
		return -1;
	}
	j->scope = g->scope ? xstrdup(g->scope) : NULL;
	j->patient = g->patient ? xstrdup(g->patient) : NULL;
	j->grant_exp = g->grant_expiration ? xstrdup(g->grant_expiration) : NULL;
	j->expires_in = g->expires_in;
	j->icb = cb;
	j->iud = ud;
	j->give_up_us = now_mono_us() + (int64_t)(t->d->cfg->token_timeout_s + 60) * 1000000;
	if (t->d->http)
		http_wakeup(t->d->http);
	return 0;
}

static void start_install(job *j)
{
	tokens *t = j->t;
	const bb_config *cfg = t->d->cfg;
	store *s = job_conn(j);
	char err[512], exp_s[32], next_s[32], grant[32];
	const char *p[10];
	const char *sqlstate, *prev_state = "invited";
	bool patient_changed = false, demographics;
	PGresult *r;

	p[0] = j->id;
	if (store_cmd(s, "BEGIN", 0, NULL, err, sizeof err) < 0)
		goto fail;
	r = PQexecParams(store_pg(s), "SELECT 1 FROM bb.token WHERE participant_id = $1 FOR UPDATE NOWAIT",
			 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		r = PQexecParams(store_pg(s), "SELECT state, patient_id FROM bb.participant "
				 "WHERE participant_id = $1 FOR UPDATE NOWAIT", 1, NULL, p, NULL, NULL, 0);
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (sqlstate && strcmp(sqlstate, "55P03") == 0 && now_mono_us() < j->give_up_us) {
			PQclear(r);
			rollback(s);
			release_slot(j);
			j->not_before_us = now_mono_us() + LOCK_RETRY_US;
			return;
		}
		snprintf(err, sizeof err, "%s", PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, sizeof err, "the participant does not exist");
		goto fail;
	}
	snprintf(j->prev_state, sizeof j->prev_state, "%s", PQgetvalue(r, 0, 0));
	prev_state = j->prev_state;
	if (!PQgetisnull(r, 0, 1) && j->patient && strcmp(PQgetvalue(r, 0, 1), j->patient) != 0)
		patient_changed = true;
	PQclear(r);

	demographics = oauth_scope_has_patient(j->scope);
	snprintf(exp_s, sizeof exp_s, "%lld", (long long)(j->expires_in > 0 ? j->expires_in : 3600));
	snprintf(next_s, sizeof next_s, "%lld", schedule_secs(cfg));
	p[1] = vault_key_id(t->d->vault);
	p[2] = j->access_param;
	p[3] = j->refresh_param;
	p[4] = exp_s;
	p[5] = oauth_grant_expiration(j->grant_exp, grant, sizeof grant) ? grant : NULL;
	p[6] = next_s;
	if (store_cmd(s, "INSERT INTO bb.token (participant_id, key_id, access_sealed, refresh_sealed, "
		      "access_expires_at, grant_expires_at, generation, obtained_at, next_refresh_at, "
		      "refresh_reason, invalidated_at, refresh_failures) "
		      "VALUES ($1, $2, $3::bytea, $4::bytea, now() + make_interval(secs => $5::double precision), "
		      "$6::timestamptz, 1, now(), now() + make_interval(secs => $7::double precision), "
		      "'enrolled', NULL, 0) "
		      "ON CONFLICT (participant_id) DO UPDATE SET key_id = EXCLUDED.key_id, "
		      "access_sealed = EXCLUDED.access_sealed, refresh_sealed = EXCLUDED.refresh_sealed, "
		      "access_expires_at = EXCLUDED.access_expires_at, "
		      "grant_expires_at = EXCLUDED.grant_expires_at, generation = 1, obtained_at = now(), "
		      "next_refresh_at = EXCLUDED.next_refresh_at, refresh_reason = 'enrolled', "
		      "invalidated_at = NULL, refresh_failures = 0", 7, p, err, sizeof err) < 0)
		goto fail;
	p[1] = j->patient && *j->patient && strlen(j->patient) <= 128 ? j->patient : NULL;
	p[2] = j->scope ? j->scope : "";
	p[3] = demographics ? "true" : "false";
	if (store_cmd(s, "UPDATE bb.participant SET state = 'active', patient_id = $2, "
		      "scopes = array_remove(string_to_array($3, ' '), ''), demographics = $4::boolean, "
		      "enrolled_at = now(), withdrawn_at = NULL, next_sync_at = now(), failures = 0, "
		      "backoff_until = NULL, last_error = NULL, refresh_started_at = NULL, "
		      "refresh_owner = NULL, updated_at = now() WHERE participant_id = $1",
		      4, p, err, sizeof err) < 0)
		goto fail;
	if (patient_changed &&
	    store_cmd(s, "DELETE FROM bb.sync_cursor WHERE participant_id = $1", 1, p, err, sizeof err) < 0)
		goto fail;
	{
		const char *k[3] = { "demographics", "patient_changed", "previous_state" };
		const char *v[3] = { p[3], patient_changed ? "true" : "false", prev_state };

		audit(s, j->id, "enrolled", 3, k, v);
	}
	if (strcmp(prev_state, "active") != 0)
		audit_state(s, j->id, prev_state, "active", "enrolled");
	if (store_cmd(s, "COMMIT", 0, NULL, err, sizeof err) < 0)
		goto fail;
	if (patient_changed)
		log_warning("participant %s enrolled with another Medicare beneficiary than before; "
			    "the sync starts over", j->id);
	log_notice("participant %s enrolled (%s)", j->id,
		   demographics ? "with demographics" : "demographics withheld");
	job_finish(j, TOKENS_OK, NULL);
	return;
fail:
	rollback(s);
	log_error("could not store the new grant of participant %s: %s", j->id, err);
	job_finish(j, TOKENS_RETRY, NULL);
}

/* ---- invalidation ---- */

void tokens_invalidate(tokens *t, const char *participant_id)
{
	const char *p[1] = { participant_id };
	char err[512];
	PGresult *r;
	bool persists;

	if (!t)
		return;
	if (job_find(t, participant_id, JOB_REFRESH))
		return;     /* a refresh is already on its way */
	if (PQtransactionStatus(store_pg(t->d->db)) != PQTRANS_IDLE) {
		log_error("tokens_invalidate called inside a transaction of the loop's connection; "
			  "participant %s is not marked", participant_id);
		return;
	}
	/* never wait on a row lock from the loop: a refresh may hold it for minutes */
	if (store_cmd(t->d->db, "BEGIN", 0, NULL, err, sizeof err) < 0 ||
	    store_cmd(t->d->db, "SET LOCAL lock_timeout = '2s'", 0, NULL, err, sizeof err) < 0)
		goto fail;
	r = store_exec(t->d->db,
		"UPDATE bb.token SET invalidated_at = now() WHERE participant_id = $1 "
		"RETURNING refresh_reason = 'invalidated' AND obtained_at > now() - interval '5 minutes'",
		1, p, err, sizeof err);
	if (!r)
		goto fail;
	persists = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (persists) {
		const char *why = "FHIR calls got 401 again right after a refresh: the grant is gone";
		const char *p2[2] = { participant_id, why };
		const char *k[2] = { "outcome", "answer" };
		const char *v[2] = { "grant_dead", "HTTP 401 on FHIR calls after a fresh refresh" };

		if (store_cmd(t->d->db, "DELETE FROM bb.token WHERE participant_id = $1", 1, p, err, sizeof err) < 0 ||
		    store_cmd(t->d->db, "UPDATE bb.participant SET state = 'needs_reconsent', next_sync_at = NULL, "
			      "last_error = $2, updated_at = now() WHERE participant_id = $1 AND state = 'active'",
			      2, p2, err, sizeof err) < 0)
			goto fail;
		audit(t->d->db, participant_id, "refresh_failed", 2, k, v);
		audit_state(t->d->db, participant_id, "active", "needs_reconsent", "401 persists");
		error_row(t->d->db, participant_id, "grant_dead", why);
	}
	if (store_cmd(t->d->db, "COMMIT", 0, NULL, err, sizeof err) < 0)
		goto fail;
	if (persists)
		log_error("participant %s needs to enrol again: FHIR calls got 401 again right "
			  "after a refresh", participant_id);
	return;
fail:
	rollback(t->d->db);
	log_warning("could not mark the access token of participant %s expired: %s",
		    participant_id, err);
}

/* ---- scheduling ---- */

static void check_app_state(tokens *t)
{
	char err[512];
	PGresult *r = store_exec(t->d->db, "SELECT disabled_at IS NOT NULL, "
				 "coalesce(disabled_reason, '') FROM bb.app_state LIMIT 1",
				 0, NULL, err, sizeof err);
	bool disabled;

	if (!r)
		return;
	disabled = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	if (disabled && !t->app_disabled)
		log_msg(LOG_CRIT, "this application is disabled (bb.app_state.disabled_at is set: %s); "
			"no refresh or sync runs.  HINT: once the cause is fixed, run "
			"\"UPDATE bb.app_state SET disabled_at = NULL\"", PQgetvalue(r, 0, 1));
	else if (!disabled && t->app_disabled)
		log_notice("the application is enabled again; refreshes resume");
	t->app_disabled = disabled;
	PQclear(r);
}

static unsigned free_slots(const tokens *t)
{
	unsigned n = 0;

	for (int i = 0; i < POOL; i++)
		if (!t->slot_job[i])
			n++;
	return n;
}

static void scan_due(tokens *t)
{
	char err[512], lim[16];
	const char *p[1] = { lim };
	unsigned want = free_slots(t);
	unsigned queued = 0;
	PGresult *r;

	for (job *j = t->jobs; j; j = j->next)
		queued++;
	if (want == 0 || queued >= 4 * POOL) {
		t->scan_full = true;
		return;
	}
	/* rows locked by a refresh in flight (ours or another instance's) are skipped */
	snprintf(lim, sizeof lim, "%u", want + 4);
	r = store_exec(t->d->db,
		"SELECT t.participant_id FROM bb.token t JOIN bb.participant p USING (participant_id) "
		"WHERE p.state IN ('active', 'refresh_in_doubt') "
		"  AND (t.next_refresh_at <= now() OR p.refresh_started_at IS NOT NULL) "
		"ORDER BY t.next_refresh_at LIMIT $1::int FOR UPDATE OF t SKIP LOCKED",
		1, p, err, sizeof err);
	if (!r) {
		log_error("could not look for due token refreshes: %s", err);
		return;
	}
	t->scan_full = PQntuples(r) > 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, 0);

		if (job_find(t, id, JOB_REFRESH) || job_find(t, id, JOB_INSTALL))
			continue;
		job_new(t, JOB_REFRESH, id, "scheduled");
	}
	PQclear(r);
}

static void deliver_answers(tokens *t)
{
	answer *list = t->answers;

	t->answers = NULL;
	t->answers_tail = &t->answers;
	while (list) {
		answer *a = list;

		list = a->next;
		if (a->cb)
			a->cb(a->ud, a->st, a->st == TOKENS_OK ? a->token : NULL);
		else if (a->icb)
			a->icb(a->ud, a->ok);
		answer_free(a);
	}
}

int64_t tokens_tick(tokens *t, int64_t now)
{
	int64_t wake = INT64_MAX;
	job *j, *next;

	deliver_answers(t);
	if (store_is_down(t->d->db)) {
		/* the loop's connection is being re-established: no scans meanwhile */
		if (t->scheduled && t->next_app_check_us <= now)
			t->next_app_check_us = now + 1000000;
		if (t->scheduled && t->next_scan_us <= now)
			t->next_scan_us = now + 1000000;
	}
	if (t->scheduled && now >= t->next_app_check_us) {
		check_app_state(t);
		t->next_app_check_us = now + APP_CHECK_EVERY_US;
	}
	if (t->scheduled && !t->draining && !t->app_disabled && now >= t->next_scan_us) {
		scan_due(t);
		t->next_scan_us = now + SCAN_EVERY_US;
	}
	for (j = t->jobs; j; j = next) {
		char err[512];
		int slot;

		next = j->next;
		if (j->slot >= 0)
			continue;
		if (j->kind == JOB_REFRESH && (t->app_disabled || t->draining)) {
			job_finish(j, t->app_disabled ? TOKENS_APP_DISABLED : TOKENS_ABORTED, NULL);
			continue;
		}
		if (j->not_before_us > now) {
			if (j->not_before_us < wake)
				wake = j->not_before_us;
			continue;
		}
		if (job_busy_for(t, j->id, j))
			continue;   /* one job per participant at a time */
		slot = take_slot(t, j, err, sizeof err);
		if (slot == -1)
			break;      /* pool busy: wait for a job to end */
		if (slot == -2) {
			log_error("token service: %s", err);
			job_finish(j, TOKENS_RETRY, NULL);
			continue;
		}
		if (j->kind == JOB_REFRESH)
			start_refresh(j);
		else
			start_install(j);
		/*
		 * The list may have changed (finished jobs are gone): start over.
		 * This ends: started jobs hold a slot, waiting ones have a
		 * not_before in the future, and the others left the list.
		 */
		next = t->jobs;
	}
	if (t->answers)
		return now;
	if (t->scheduled && !t->draining && t->next_scan_us < wake)
		wake = t->next_scan_us;
	if (t->scheduled && t->next_app_check_us < wake)
		wake = t->next_app_check_us;
	return wake;
}

/* ---- life cycle ---- */

tokens *tokens_new(bb_daemon *d, bool scheduled, char *err, size_t errlen)
{
	tokens *t;

	if (!d->vault) {
		snprintf(err, errlen, "no token-sealing key is loaded");
		return NULL;
	}
	t = xcalloc(1, sizeof *t);
	t->d = d;
	t->scheduled = scheduled;
	t->answers_tail = &t->answers;
	return t;
}

void tokens_drain(tokens *t)
{
	t->draining = true;
}

bool tokens_idle(const tokens *t)
{
	if (t->inflight || t->answers)
		return false;
	for (const job *j = t->jobs; j; j = j->next)
		if (j->kind == JOB_INSTALL || j->slot >= 0)
			return false;
	return true;
}

bool tokens_app_disabled(const tokens *t)
{
	return t && t->app_disabled;
}

unsigned tokens_inflight(const tokens *t)
{
	return t ? t->inflight : 0;
}

void tokens_free(tokens *t)
{
	if (!t)
		return;
	while (t->jobs) {
		job *j = t->jobs;

		while (j->waiters) {
			waiter *w = j->waiters;

			j->waiters = w->next;
			free(w);
		}
		j->icb = NULL;
		if (j->slot >= 0)
			rollback(t->pool[j->slot]);
		job_finish(j, TOKENS_ABORTED, NULL);
	}
	while (t->answers) {
		answer *a = t->answers;

		t->answers = a->next;
		answer_free(a);
	}
	for (int i = 0; i < POOL; i++)
		store_close(t->pool[i]);
	free(t);
}

/* ---- subsystem hooks ---- */

/*
 * The key must open what the database holds: a daemon started with another
 * key (a wrong vault.key_file, a credential from another machine) could use
 * no grant at all, so it refuses to start.  The newest sealed token is tried.
 */
static int check_key(tokens *t, char *err, size_t errlen)
{
	char e[512], aad[CONSENT_MAX_ID + 32], *tok = NULL;
	PGresult *r = store_exec(t->d->db, "SELECT participant_id, access_sealed FROM bb.token "
				 "ORDER BY obtained_at DESC LIMIT 1", 0, NULL, e, sizeof e);
	int rc = 0;

	if (!r) {
		snprintf(err, errlen, "could not read the stored tokens: %s", e);
		return -1;
	}
	if (PQntuples(r) == 1) {
		consent_aad(aad, sizeof aad, PQgetvalue(r, 0, 0), "access");
		if (consent_open_value(t->d->vault, aad, PQgetvalue(r, 0, 1), &tok, e, sizeof e) < 0) {
			snprintf(err, errlen, "the token-sealing key (id %s) does not open the tokens stored "
				 "in the database (%s); HINT: start with the key they were sealed with "
				 "(vault.key_file or vault.key_credential)", vault_key_id(t->d->vault), e);
			rc = -1;
		}
		ou_free_secret(tok);
	}
	PQclear(r);
	return rc;
}

static void *sub_start(bb_daemon *d, char *err, size_t errlen)
{
	tokens *t = tokens_new(d, true, err, errlen);

	if (t && check_key(t, err, errlen) < 0) {
		tokens_free(t);
		return NULL;
	}
	if (t) {
		d->tokens = t;
		check_app_state(t);
		t->next_app_check_us = now_mono_us() + APP_CHECK_EVERY_US;
	}
	return t;
}

static int64_t sub_tick(void *self, bb_daemon *d, int64_t now)
{
	(void)d;
	return tokens_tick(self, now);
}

static void sub_drain(void *self, bb_daemon *d)
{
	(void)d;
	tokens_drain(self);
}

static bool sub_idle(void *self)
{
	return tokens_idle(self);
}

static void sub_stop(void *self, bb_daemon *d)
{
	if (d->tokens == self)
		d->tokens = NULL;
	tokens_free(self);
}

const bb_subsystem tokens_subsystem = {
	.name = "tokens",
	.start = sub_start,
	.tick = sub_tick,
	.drain = sub_drain,
	.idle = sub_idle,
	.stop = sub_stop,
};
