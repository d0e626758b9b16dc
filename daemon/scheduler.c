#include "scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "util.h"

/* ---- token bucket ---- */

void tbucket_init(tbucket *b, double rate, int burst, int64_t now_us)
{
	b->rate = rate;
	b->burst = burst >= 1 ? burst : 1;
	b->tokens = b->burst;
	b->last_us = now_us;
}

void tbucket_set(tbucket *b, double rate, int burst)
{
	b->rate = rate;
	b->burst = burst >= 1 ? burst : 1;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

static void refill(tbucket *b, int64_t now_us)
{
	if (now_us > b->last_us) {
		b->tokens += (double)(now_us - b->last_us) * b->rate / 1e6;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
	}
	b->last_us = now_us;
}

bool tbucket_take(tbucket *b, int64_t now_us)
{
	if (b->rate <= 0)
		return true;
	refill(b, now_us);
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

int64_t tbucket_ready_at(tbucket *b, int64_t now_us)
{
	if (b->rate <= 0)
		return now_us;
	refill(b, now_us);
	if (b->tokens >= 1.0)
		return now_us;
	return now_us + (int64_t)ceil((1.0 - b->tokens) * 1e6 / b->rate);
}

/* ---- backoff ---- */

int64_t sched_backoff_s(int failures, int64_t base_s, int64_t max_s, double jitter)
{
	int64_t d = base_s > 0 ? base_s : 1;

	if (max_s < d)
		max_s = d;
	for (int i = 1; i < failures && d < max_s; i++)
		d *= 2;
	if (d > max_s)
		d = max_s;
	if (jitter < 0)
		jitter = 0;
	if (jitter > 1)
		jitter = 1;
	d = d / 2 + (int64_t)((double)(d - d / 2) * jitter);
	return d < 1 ? 1 : d;
}

double sched_random(void)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		r = (uint32_t)now_mono_us();
	return (double)r / 4294967296.0;
}

/* ---- leases ---- */

/*
 * The due rows are picked in a CTE (always materialised, so the LIMIT and
 * SKIP LOCKED are evaluated exactly once; an IN (subquery) may be re-run by
 * the planner and lease more than asked).  Expired leases are free.
 */
static const char lease_sql[] =
	"WITH due AS ("
	" SELECT participant_id FROM bb.participant"
	" WHERE state = 'active' AND next_sync_at <= now()"
	"   AND (backoff_until IS NULL OR backoff_until <= now())"
	"   AND (lease_until IS NULL OR lease_until < now())"
	"   AND NOT EXISTS (SELECT 1 FROM bb.app_state WHERE disabled_at IS NOT NULL)"
	" ORDER BY next_sync_at, participant_id"
	" LIMIT $2"
	" FOR UPDATE SKIP LOCKED)"
	" UPDATE bb.participant p"
	" SET lease_owner = $1, lease_until = now() + make_interval(secs => $3::float8),"
	"     updated_at = now()"
	" FROM due WHERE p.participant_id = due.participant_id"
	" RETURNING p.participant_id, p.patient_id, coalesce(p.demographics, true), p.failures,"
	"  p.next_sync_at";

int sched_lease_due(store *db, const char *owner, int limit, int64_t lease_s,
		    sched_lease **out, size_t *n, char *err, size_t errlen)
{
	char lim[24], secs[24];
	const char *params[3] = { owner, lim, secs };
	PGresult *r;
	int rows;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : 1);
	snprintf(secs, sizeof secs, "%lld", (long long)(lease_s > 0 ? lease_s : 1));
	r = store_exec(db, lease_sql, 3, params, err, errlen);
	if (!r)
		return -1;
	rows = PQntuples(r);
	if (rows > 0) {
		sched_lease *l = xcalloc((size_t)rows, sizeof *l);

		for (int i = 0; i < rows; i++) {
			l[i].participant_id = xstrdup(PQgetvalue(r, i, 0));
			l[i].patient_id = PQgetisnull(r, i, 1) ? NULL : xstrdup(PQgetvalue(r, i, 1));
			l[i].demographics = PQgetvalue(r, i, 2)[0] == 't';
			l[i].failures = atoi(PQgetvalue(r, i, 3));
			l[i].due_at = xstrdup(PQgetvalue(r, i, 4));
		}
		*out = l;
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

void sched_leases_free(sched_lease *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].participant_id);
		free(l[i].patient_id);
		free(l[i].due_at);
	}
	free(l);
}

int sched_renew(store *db, const char *owner, const char *const *ids, size_t n,
		int64_t lease_s, bool *still, char *err, size_t errlen)
{
	char secs[24];
	char *arr;
	const char *params[3];
	PGresult *r;

	if (n == 0)
		return 0;
	arr = store_array_literal(ids, n);
	snprintf(secs, sizeof secs, "%lld", (long long)(lease_s > 0 ? lease_s : 1));
	params[0] = owner;
	params[1] = arr;
	params[2] = secs;
	r = store_exec(db,
		       "UPDATE bb.participant"
		       " SET lease_until = now() + make_interval(secs => $3::float8)"
		       " WHERE lease_owner = $1 AND participant_id = ANY($2::text[])"
		       "   AND lease_until > now()"
		       " RETURNING participant_id",
		       3, params, err, errlen);
	free(arr);
	if (!r)
		return -1;
	for (size_t i = 0; i < n; i++)
		still[i] = false;
	for (int row = 0; row < PQntuples(r); row++) {
		const char *id = PQgetvalue(r, row, 0);

		for (size_t i = 0; i < n; i++)
			if (strcmp(ids[i], id) == 0)
				still[i] = true;
	}
	PQclear(r);
	return 0;
}

int sched_check_lease_in_tx(store *db, const char *owner, const char *participant_id,
			    int64_t lease_s, char *err, size_t errlen)
{
	char secs[24];
	const char *params[3] = { participant_id, owner, secs };
	PGresult *r;
	int ours;

	snprintf(secs, sizeof secs, "%lld", (long long)(lease_s > 0 ? lease_s : 1));
	r = store_exec(db,
		       "UPDATE bb.participant"
		       " SET lease_until = greatest(lease_until, now() + make_interval(secs => $3::float8))"
		       " WHERE participant_id = $1 AND lease_owner = $2 AND lease_until > now()"
		       "   AND state = 'active'"
		       " RETURNING 1",
		       3, params, err, errlen);
	if (!r)
		return -1;
	ours = PQntuples(r) == 1;
	PQclear(r);
	return ours;
}

int sched_release_done(store *db, const char *owner, const char *participant_id,
		       const char *due_at, int64_t interval_s, char *err, size_t errlen)
{
	char secs[24];
	const char *params[4] = { participant_id, owner, secs, due_at };

	snprintf(secs, sizeof secs, "%lld", (long long)(interval_s > 0 ? interval_s : 1));
	/* a sync-now that arrived during the walk moved next_sync_at: keep it */
	return store_cmd(db,
			 "UPDATE bb.participant"
			 " SET lease_owner = NULL, lease_until = NULL, failures = 0,"
			 "     backoff_until = NULL, last_error = NULL, last_sync_at = now(),"
			 "     next_sync_at = CASE WHEN next_sync_at IS DISTINCT FROM $4::timestamptz"
			 "                         THEN next_sync_at"
			 "                         ELSE now() + make_interval(secs => $3::float8) END,"
			 "     updated_at = now()"
			 " WHERE participant_id = $1 AND lease_owner = $2",
			 4, params, err, errlen);
}

int sched_record_error(store *db, const char *participant_id, const char *kind,
		       const char *message, char *err, size_t errlen)
{
	const char *params[3] = { participant_id, kind, message };

	return store_cmd(db,
			 "INSERT INTO bb.error (participant_id, kind, message)"
			 " VALUES ($1, $2, left($3, 2000))",
			 3, params, err, errlen);
}

int sched_release_later(store *db, const char *owner, const char *participant_id,
			int64_t delay_s, bool count_failure, const char *kind,
			const char *message, char *err, size_t errlen)
{
	char secs[24];
	const char *params[5] = { participant_id, owner, secs, count_failure ? "t" : "f",
				  message ? message : "" };

	snprintf(secs, sizeof secs, "%lld", (long long)(delay_s > 0 ? delay_s : 0));
	if (store_cmd(db,
		      "UPDATE bb.participant"
		      " SET lease_owner = NULL, lease_until = NULL,"
		      "     failures = failures + CASE WHEN $4::bool THEN 1 ELSE 0 END,"
		      "     backoff_until = now() + make_interval(secs => $3::float8),"
		      "     last_error = CASE WHEN $4::bool THEN left($5, 2000) ELSE last_error END,"
		      "     updated_at = now()"
		      " WHERE participant_id = $1 AND lease_owner = $2",
		      5, params, err, errlen) < 0)
		return -1;
	if (count_failure && kind)
		return sched_record_error(db, participant_id, kind, message ? message : "", err, errlen);
	return 0;
}

int sched_release_all(store *db, const char *owner, char *err, size_t errlen)
{
	const char *params[1] = { owner };

	return store_cmd(db,
			 "UPDATE bb.participant SET lease_owner = NULL, lease_until = NULL,"
			 " updated_at = now() WHERE lease_owner = $1",
			 1, params, err, errlen);
}
