/*
 * sync: the claims sync engine of `bbingest run` (a daemon subsystem).
 *
 * For every participant that is due (bb.participant.next_sync_at <= now,
 * state active, not backing off) and leased by this instance (scheduler.h),
 * it walks the participant's searches one page at a time:
 *
 *   ExplanationOfBenefit  type=<every configured claim type>
 *   Coverage
 *   Patient               only when the participant granted demographics
 *
 * with _count=sync.page_size.  The first walk of a resource is full; later
 * walks ask _lastUpdated=gt<watermark>, the Bundle.meta.lastUpdated of the
 * last complete walk.  Each page streams from curl's write callback into
 * the page pipeline (fhir_stream -> flatten -> loader) and is committed in
 * ONE transaction with the resource's cursor in bb.sync_cursor (the next
 * URL, or the new watermark on the last page), after checking the lease is
 * still ours: a crash resumes at exactly the next page, and no page is
 * stored by two instances.  A walk whose Bundle.total changes starts again
 * from its first page (rows are upserted by id, so that is harmless).
 *
 * Safety and politeness: the bearer token only goes to the configured API
 * host (scheme, host and port); a `next` link anywhere else is refused and
 * recorded.  At most sync.concurrency transfers are in flight, at most one
 * per participant, and a global token bucket (sync.request_rate,
 * sync.request_burst) paces every request.  A 401 invalidates the access
 * token (tokens.h) and retries the page once with a fresh one; a 429 waits
 * Retry-After (60 s when absent) for that participant only; 5xx, network
 * errors, timeouts and malformed or truncated pages store nothing and back
 * off exponentially with jitter (sync.retry_base .. sync.retry_max) for that
 * participant only; a 403 on Patient records that demographics were
 * withheld and the walk goes on.  Errors go to bb.error and
 * bb.participant.last_error without tokens or payloads.
 */
#ifndef BB_SYNC_H
#define BB_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sync_engine sync_engine;

/* Counters since start, for /metrics and the status line. */
typedef struct sync_stats {
	uint64_t requests;          /* FHIR requests sent */
	uint64_t pages;             /* pages committed */
	uint64_t rows;              /* rows committed */
	uint64_t bytes;             /* body bytes received (decoded) */
	uint64_t walks_completed;   /* participant syncs that finished */
	uint64_t walk_restarts;     /* walks restarted because Bundle.total changed */
	uint64_t http_429;          /* rate-limited answers */
	uint64_t http_5xx;          /* server errors */
	uint64_t network_errors;    /* resets, timeouts, TLS failures */
	uint64_t malformed_pages;   /* pages rejected whole (malformed, truncated, caps) */
	uint64_t auth_retries;      /* pages retried after a 401 */
	uint64_t foreign_links;     /* next links to another host, refused */
	uint64_t leases_lost;       /* participants dropped because another instance took them */
	uint64_t db_us;             /* time spent storing pages (rows, cursor, commit) */
	unsigned active;            /* participants leased now */
	unsigned inflight;          /* transfers in flight now */
	unsigned committing;        /* pages downloaded, waiting for or with a writer */
} sync_stats;

/* The engine's counters (valid while the daemon runs). */
const sync_stats *sync_get_stats(const sync_engine *s);

/*
 * The subsystem entry for daemon.c's table; it must come after the token
 * service's.  Its start hook stores the engine in bb_daemon.sync.
 */
struct bb_subsystem;
extern const struct bb_subsystem sync_subsystem;

#endif
