/*
 * scheduler: who syncs when, shared safely by several daemon instances.
 *
 * Three small pieces the sync engine combines:
 *
 *  - a token bucket limiting the request rate of the whole daemon
 *    (sync.request_rate per second, bursts of sync.request_burst);
 *  - exponential backoff with jitter for a participant whose walk failed
 *    (sync.retry_base .. sync.retry_max);
 *  - leases on bb.participant rows: due participants are taken from
 *    PostgreSQL a small batch at a time with FOR UPDATE SKIP LOCKED, marked
 *    with this instance's id and an expiry, renewed while they are worked on
 *    and released at the end.  Memory holds only the leased batch, never the
 *    enrolment, and two instances never work on the same participant: one
 *    whose lease expired (a crashed instance) is taken over by the next
 *    lease query.
 */
#ifndef BB_SCHEDULER_H
#define BB_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---- token bucket ---- */

typedef struct tbucket {
	double rate;        /* tokens per second; <= 0 means unlimited */
	double burst;       /* bucket size, >= 1 */
	double tokens;
	int64_t last_us;    /* monotonic time of the last refill */
} tbucket;

/* A full bucket. */
void tbucket_init(tbucket *b, double rate, int burst, int64_t now_us);

/* Change rate and size (reload); the tokens held are kept, capped. */
void tbucket_set(tbucket *b, double rate, int burst);

/* Take one token if there is one: true, else false (nothing taken). */
bool tbucket_take(tbucket *b, int64_t now_us);

/* When the next token is available (now_us if one is there already). */
int64_t tbucket_ready_at(tbucket *b, int64_t now_us);

/* ---- backoff ---- */

/*
 * Delay in seconds after the `failures`-th consecutive failure (1, 2, ...):
 * base * 2^(failures-1) capped at max, then "equal jitter": half of it fixed
 * and the other half scaled by `jitter` in [0, 1].  Never below 1 s.
 */
int64_t sched_backoff_s(int failures, int64_t base_s, int64_t max_s, double jitter);

/* A uniformly random number in [0, 1) (not for secrets). */
double sched_random(void);

/* ---- leases ---- */

/* One leased participant. */
typedef struct sched_lease {
	char *participant_id;
	char *patient_id;       /* may be NULL */
	bool demographics;      /* false: Patient scope withheld */
	int failures;           /* consecutive failures so far */
	char *due_at;           /* next_sync_at when leased (timestamptz text) */
} sched_lease;

/*
 * Lease at most `limit` due participants (state active, next_sync_at <= now,
 * not backing off, lease free or expired) for `lease_s` seconds in the name
 * of `owner`, oldest due first.  *out gets a new array of *n leases (free
 * with sched_leases_free).  0, or -1 with err filled.
 */
int sched_lease_due(store *db, const char *owner, int limit, int64_t lease_s,
		    sched_lease **out, size_t *n, char *err, size_t errlen);

void sched_leases_free(sched_lease *l, size_t n);

/*
 * Extend the leases of `ids` held by `owner` by lease_s seconds.  `still`
 * (n entries) is set true for every id whose lease is still ours; a false
 * one was lost (expired and taken) and must be abandoned.  0, or -1 with
 * err filled (then `still` is untouched).
 */
int sched_renew(store *db, const char *owner, const char *const *ids, size_t n,
		int64_t lease_s, bool *still, char *err, size_t errlen);

/*
 * In an open transaction: take the row lock of the participant and check
 * the lease is ours (and extend it by lease_s).  1 if ours, 0 if not, -1 on
 * a database error (err filled).
 */
int sched_check_lease_in_tx(store *db, const char *owner, const char *participant_id,
			    int64_t lease_s, char *err, size_t errlen);

/*
 * The walk of every resource completed: release the lease, clear failures
 * and backoff, set last_sync_at = now and next_sync_at = now + interval_s,
 * unless next_sync_at is no longer `due_at` (the lease's value): a
 * sync-now during the walk asked for another one, which is kept.
 */
int sched_release_done(store *db, const char *owner, const char *participant_id,
		       const char *due_at, int64_t interval_s, char *err, size_t errlen);

/*
 * The walk stopped early: release the lease and wait `delay_s` before the
 * next attempt.  With `count_failure` the failure count grows and
 * `message` (no token, no payload) becomes last_error and a bb.error row of
 * `kind`; without it (a 429 or a drain) only the wait is recorded.
 */
int sched_release_later(store *db, const char *owner, const char *participant_id,
			int64_t delay_s, bool count_failure, const char *kind,
			const char *message, char *err, size_t errlen);

/* Record an error of `kind` for the participant (bb.error), nothing else. */
int sched_record_error(store *db, const char *participant_id, const char *kind,
		       const char *message, char *err, size_t errlen);

/* Release every lease `owner` still holds (shutdown), keeping the schedule. */
int sched_release_all(store *db, const char *owner, char *err, size_t errlen);

#endif
