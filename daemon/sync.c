#include "sync.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "daemon.h"
#include "dbpool.h"
#include "log.h"
#include "metrics.h"
#include "scheduler.h"
#include "loader.h"
#include "oauthutil.h"
#include "syncurl.h"
#include "tokens.h"
#include "util.h"

/* How often due participants are looked for when none were found. */
#define POLL_US 1000000LL
/* Walk restarts (Bundle.total changed) tolerated in one attempt. */
#define MAX_RESTARTS 8
/* Row buffer bytes (per table) an idle loader in the pool may keep. */
#define IDLE_LOADER_KEEP ((size_t)32 << 10)
/* How often old errors are deleted (sync.error_retention). */
#define PRUNE_EVERY_US (3600 * 1000000LL)
/* Errors deleted per statement, and statements per round at most. */
#define PRUNE_BATCH 10000
#define PRUNE_ROUNDS 100
/* Retry-After when a 429 has none (bluebutton-api.md section 5). */
#define DEFAULT_RETRY_AFTER_S 60

enum { RES_EOB = 0, RES_COVERAGE, RES_PATIENT, RES_COUNT };

static const char *const res_names[RES_COUNT] = {
	"ExplanationOfBenefit", "Coverage", "Patient",
};

typedef enum {
	JS_READY = 0,   /* page URL known, waiting for a slot and the bucket */
	JS_TOKEN,       /* waiting for the access token */
	JS_XFER,        /* transfer in flight */
	JS_COMMIT,      /* the page is with a database writer (dbpool) */
} job_state;

/*
 * A page handed to a writer thread: what the writer needs besides the job's
 * walk fields (which the loop leaves alone while the job is JS_COMMIT), and
 * what it answers.
 */
typedef struct page_commit {
	char *next;                 /* next page URL, NULL on the walk's last page */
	const char *owner;          /* the daemon's instance id */
	int64_t lease_s;
	/* the walk's last page and no resource after it: the transaction also
	 * ends the sync (sched_release_done), with no query on the loop */
	bool final;
	int64_t interval_s;
	int rc;                     /* 1 stored, 0 the lease was lost, -1 failed */
	bool rows_failed;           /* -1 while sending the rows (not the cursor) */
	bool db_failed;             /* the database's fault, not the page's */
	bool stale;                 /* a writer reconnected since the lease (dbpool_epoch) */
	int64_t us;                 /* time in the database */
	char err[1024];
} page_commit;

/* A resource's stored cursor, as the job found it when it was leased. */
typedef struct walk_cursor {
	bool present;
	bool done;                  /* walked completely during the sync in progress */
	char *next_url;             /* a walk in progress: its next page */
	long long walk_total;       /* -1: NULL */
	char *walk_since;
	char *watermark;
} walk_cursor;

typedef struct job {
	sync_engine *s;
	struct job *prev, *next;
	sched_lease lease;
	job_state state;
	int res;                    /* resource being walked */
	char *url;                  /* page to fetch now */
	char *since;                /* _lastUpdated lower bound of this walk, or NULL */
	bool first_page;            /* url is the walk's first page */
	long long walk_total;       /* Bundle.total of the walk's first page, -1 unknown */
	int page_no;                /* pages of this walk seen in this attempt */
	int restarts;
	bool auth_retried;          /* the page was retried after a 401 */
	/*
	 * The access token of this sync attempt (a secret: zeroed when
	 * dropped).  Asked of the token service for the first page and after
	 * a 401, then reused page after page: one database read per attempt,
	 * not per page, and held only while the participant is worked on.
	 */
	char *access;
	char *refused;              /* the token a 401 refused, until a new one comes */
	/* The participant's cursors, read with its batch when leased (only this
	 * job changes them while it holds the lease). */
	walk_cursor cur[RES_COUNT];
	/* dbpool_epoch when leased: a writer reconnection since then means
	 * an asynchronous commit this walk builds on may be lost */
	unsigned epoch;
	loader *ld;                 /* the page being received, from the pool */
	bool feed_failed;           /* the page broke a rule while streaming */
	page_commit commit;         /* JS_COMMIT */
} job;

/*
 * The deletion of errors older than sync.error_retention, on a writer
 * thread (dbpool): owned by the engine, at most one at a time.
 */
typedef struct prune_job {
	bool running;               /* with the writers: the loop leaves the rest alone */
	int64_t retention_s;
	long long deleted;
	char err[512];              /* a failure, or "" */
} prune_job;

struct sync_engine {
	bb_daemon *d;
	tokens *tok;
	job *head, *tail;
	unsigned active;
	unsigned inflight;          /* JS_TOKEN + JS_XFER: the transfer slots taken */
	unsigned committing;        /* JS_COMMIT */
	tbucket bucket;
	int64_t next_poll_us;
	int64_t next_renew_us;
	bool draining;
	bool app_disabled;
	sync_stats stats;
	loader **pool;              /* idle loaders, reused page after page */
	size_t npool;
	dbpool *writers;            /* threads that store pages, own connections */
	prune_job prune;
	int64_t next_prune_us;
	struct unreleased *unreleased; /* lease releases the database did not take yet */
};

/*
 * A lease release that failed (the database was unreachable): kept and tried
 * again once the loop's connection is back, so the participant is not held
 * by a dead job until its lease expires.  At most one per ended job.
 */
typedef struct unreleased {
	struct unreleased *next;
	char *participant_id;
	char *due_at;               /* release_done: the due time leased, else NULL */
	bool done;                  /* the sync completed (sched_release_done) */
	int64_t delay_s;
	bool count_failure;
	char *kind, *msg;
} unreleased;

static void unreleased_add(sync_engine *s, const char *id, bool done, const char *due_at,
			   int64_t delay_s, bool count_failure, const char *kind, const char *msg)
{
	unreleased *u = xcalloc(1, sizeof *u);

	u->participant_id = xstrdup(id);
	u->due_at = due_at ? xstrdup(due_at) : NULL;
	u->done = done;
	u->delay_s = delay_s;
	u->count_failure = count_failure;
	u->kind = kind ? xstrdup(kind) : NULL;
	u->msg = msg ? xstrdup(msg) : NULL;
	u->next = s->unreleased;
	s->unreleased = u;
}

static void unreleased_free(unreleased *u)
{
	free(u->participant_id);
	free(u->due_at);
	free(u->kind);
	free(u->msg);
	free(u);
}

/* Try the kept releases again; those the database refuses stay. */
static void unreleased_retry(sync_engine *s)
{
	unreleased **pp = &s->unreleased;
	unsigned done = 0;
	char err[512];

	while (*pp) {
		unreleased *u = *pp;
		int rc = u->done
			? sched_release_done(s->d->db, s->d->instance_id, u->participant_id, u->due_at,
					     s->d->cfg->sync_interval_s, err, sizeof err)
			: sched_release_later(s->d->db, s->d->instance_id, u->participant_id, u->delay_s,
					      u->count_failure, u->kind, u->msg, err, sizeof err);

		if (rc < 0)
			return;     /* still unreachable: keep them all for the next round */
		*pp = u->next;
		unreleased_free(u);
		done++;
	}
	if (done)
		log_notice("recorded %u sync attempt%s that ended while the database was unreachable",
			   done, done == 1 ? "" : "s");
}

/* ---- job list ---- */

static void list_append(sync_engine *s, job *j)
{
	j->prev = s->tail;
	j->next = NULL;
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
}

static void list_remove(sync_engine *s, job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		s->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		s->tail = j->prev;
	j->prev = j->next = NULL;
}

/* A loader for one page (from the pool: no new COPY buffers per page). */
static loader *loader_get(sync_engine *s, const char *participant_id, const char *name)
{
	const bb_config *c = s->d->cfg;
	loader *l;

	if (s->npool) {
		l = s->pool[--s->npool];
	} else {
		fhir_limits lim;

		fhir_limits_default(&lim);
		if (c->max_string_bytes)
			lim.max_string = c->max_string_bytes;
		if (c->max_depth > 0)
			lim.max_depth = c->max_depth;
		if (c->max_resource_bytes)
			lim.max_resource = c->max_resource_bytes;
		lim.max_input = c->max_page_bytes;
		/*
		 * One batch per page and no connection: nothing is sent while the
		 * page streams in; when it ends, a writer thread sends the rows on
		 * its own connection (page_write).
		 */
		l = loader_new(NULL, &lim,
			       c->max_page_bytes ? 2 * c->max_page_bytes + (1u << 20) : (size_t)1 << 30);
	}
	loader_set_participant(l, participant_id);
	loader_begin(l, name);
	return l;
}

/* Discard whatever the page holds and put its loader back. */
static void page_drop(job *j)
{
	sync_engine *s = j->s;

	if (!j->ld)
		return;
	loader_abort(j->ld);
	if (s->npool < (size_t)(s->d->cfg->concurrency > 0 ? s->d->cfg->concurrency : 1)) {
		/* an idle loader keeps small buffers only: memory follows the pages in flight */
		loader_trim(j->ld, IDLE_LOADER_KEEP);
		s->pool = xreallocarray(s->pool, s->npool + 1, sizeof *s->pool);
		s->pool[s->npool++] = j->ld;
	} else {
		loader_free(j->ld);
	}
	j->ld = NULL;
	j->feed_failed = false;
}

static void job_free(job *j)
{
	page_drop(j);
	free(j->url);
	free(j->since);
	free(j->commit.next);
	ou_free_secret(j->access);
	ou_free_secret(j->refused);
	for (int r = 0; r < RES_COUNT; r++) {
		free(j->cur[r].next_url);
		free(j->cur[r].walk_since);
		free(j->cur[r].watermark);
	}
	free(j->lease.participant_id);
	free(j->lease.patient_id);
	free(j->lease.due_at);
	free(j);
}

static const char *pid(const job *j)
{
	return j->lease.participant_id;
}

/* The job leaves the engine (its lease was released or lost). */
static void job_end(job *j)
{
	sync_engine *s = j->s;

	list_remove(s, j);
	s->active--;
	s->stats.active = s->active;
	job_free(j);
}

/* Release with a wait; count_failure also records the error. */
static void job_release_later(job *j, int64_t delay_s, bool count_failure, const char *kind,
			      const char *msg)
{
	sync_engine *s = j->s;
	char err[512];

	if (sched_release_later(s->d->db, s->d->instance_id, pid(j), delay_s, count_failure, kind,
				msg, err, sizeof err) < 0) {
		log_error("participant %s: could not record the end of the sync attempt: %s; "
			  "it is recorded when the database answers again", pid(j), err);
		unreleased_add(s, pid(j), false, NULL, delay_s, count_failure, kind, msg);
	}
	job_end(j);
}

/* A failure: back off exponentially with jitter, record it, stop the attempt. */
static void job_fail(job *j, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void job_fail(job *j, const char *kind, const char *fmt, ...)
{
	sync_engine *s = j->s;
	const bb_config *c = s->d->cfg;
	char msg[1024];
	int64_t delay;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* http.c counts network, timeout, 429 and 5xx itself */
	if (strcmp(kind, "database") == 0 || strcmp(kind, "malformed_page") == 0)
		metrics_inc(METRIC_ERRORS, kind);
	else if (strncmp(kind, "http_4", 6) == 0 || strcmp(kind, "foreign_next_link") == 0)
		metrics_inc(METRIC_ERRORS, "http_4xx");
	delay = sched_backoff_s(j->lease.failures + 1, c->retry_base_s, c->retry_max_s, sched_random());
	log_warning("participant %s: %s; next attempt in %lld s", pid(j), msg, (long long)delay);
	job_release_later(j, delay, true, kind, msg);
}

/* ---- cursors ---- */

#define ISO_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/*
 * The cursors of a batch of jobs just leased, in one query.  The column
 * done: the walk completed during the sync in progress (after the
 * participant's last complete sync and after this sync became due), e.g.
 * before a crash or a failure of a later resource; it is not walked again
 * now.  A sync that became due later (sync-now, a new enrolment after the
 * grant died) walks it again: claims may have landed.  ids[i] is
 * pid(jobs[i]).  0, or -1 with err.
 */
static int load_cursors(sync_engine *s, job **jobs, const char *const *ids, size_t n,
			char *err, size_t errlen)
{
	const char **due = xcalloc(n, sizeof *due);
	const char *params[2];
	char *a_ids, *a_due;
	PGresult *r;

	for (size_t i = 0; i < n; i++)
		due[i] = jobs[i]->lease.due_at;
	a_ids = store_array_literal(ids, n);
	a_due = store_array_literal(due, n);
	params[0] = a_ids;
	params[1] = a_due;
	r = store_exec(s->d->db,
		       "SELECT c.participant_id, c.resource, c.next_url, c.walk_total, "
		       ISO_UTC("c.walk_since") ", " ISO_UTC("c.watermark") ","
		       " c.next_url IS NULL AND c.completed_at >"
		       "   coalesce(p.last_sync_at, '-infinity'::timestamptz)"
		       " AND c.completed_at > coalesce(l.due::timestamptz, 'infinity'::timestamptz)"
		       " FROM unnest($1::text[], $2::text[]) AS l(id, due)"
		       " JOIN bb.sync_cursor c ON c.participant_id = l.id"
		       " JOIN bb.participant p ON p.participant_id = l.id",
		       2, params, err, errlen);
	free(a_ids);
	free(a_due);
	free(due);
	if (!r)
		return -1;
	for (int row = 0; row < PQntuples(r); row++) {
		const char *id = PQgetvalue(r, row, 0), *res = PQgetvalue(r, row, 1);
		walk_cursor *c = NULL;

		for (size_t i = 0; i < n && !c; i++)
			if (strcmp(ids[i], id) == 0)
				for (int k = 0; k < RES_COUNT; k++)
					if (strcmp(res_names[k], res) == 0)
						c = &jobs[i]->cur[k];
		if (!c || c->present)
			continue;
		c->present = true;
		c->next_url = PQgetisnull(r, row, 2) ? NULL : xstrdup(PQgetvalue(r, row, 2));
		c->walk_total = PQgetisnull(r, row, 3) ? -1 : atoll(PQgetvalue(r, row, 3));
		c->walk_since = PQgetisnull(r, row, 4) ? NULL : xstrdup(PQgetvalue(r, row, 4));
		c->watermark = PQgetisnull(r, row, 5) ? NULL : xstrdup(PQgetvalue(r, row, 5));
		c->done = PQgetvalue(r, row, 6)[0] == 't';
	}
	PQclear(r);
	return 0;
}

/* Whether this attempt walks resource res. */
static bool resource_due(const job *j, int res)
{
	if (res == RES_PATIENT && !j->lease.demographics)
		return false;
	return !j->cur[res].done;
}

/*
 * Set the job up for the resource j->res or the next one that applies.
 * Returns 1 when a page is ready to fetch, 0 when every resource is done.
 */
static int job_setup_resource(job *j)
{
	const bb_config *c = j->s->d->cfg;

	for (; j->res < RES_COUNT; j->res++) {
		const walk_cursor *cur = &j->cur[j->res];

		if (!resource_due(j, j->res))
			continue;
		free(j->url);
		free(j->since);
		j->url = j->since = NULL;
		j->walk_total = -1;
		j->page_no = 0;
		j->restarts = 0;
		j->auth_retried = false;
		if (cur->next_url && syncurl_same_origin(c->api_base_url, cur->next_url)) {
			/* a walk in progress: resume at its next page */
			j->url = xstrdup(cur->next_url);
			j->walk_total = cur->walk_total;
			j->since = cur->walk_since ? xstrdup(cur->walk_since) : NULL;
			j->first_page = false;
		} else {
			if (cur->watermark)
				j->since = xstrdup(cur->watermark);
			j->url = syncurl_search(c->api_base_url, c->api_version, res_names[j->res],
						 c->page_size, c->claim_types, j->since);
			j->first_page = true;
		}
		j->state = JS_READY;
		return 1;
	}
	return 0;
}

/* Restart the walk of the current resource from its first page. */
static void job_restart_walk(job *j)
{
	const bb_config *c = j->s->d->cfg;

	free(j->url);
	j->url = syncurl_search(c->api_base_url, c->api_version, res_names[j->res], c->page_size,
				 c->claim_types, j->since);
	j->first_page = true;
	j->walk_total = -1;
	j->page_no = 0;
	j->state = JS_READY;
}

/* Every resource is done: the participant is synced. */
static void job_complete(job *j)
{
	sync_engine *s = j->s;
	char err[512];

	if (sched_release_done(s->d->db, s->d->instance_id, pid(j), j->lease.due_at,
			       s->d->cfg->sync_interval_s, err, sizeof err) < 0) {
		log_error("participant %s: could not record the completed sync: %s; "
			  "it is recorded when the database answers again", pid(j), err);
		unreleased_add(s, pid(j), true, j->lease.due_at, 0, false, NULL, NULL);
	} else
		log_info("participant %s: sync complete", pid(j));
	s->stats.walks_completed++;
	job_end(j);
}

/* After a page or a skipped resource: go on with the walk or the next resource. */
static void job_continue(job *j)
{
	sync_engine *s = j->s;
	int rc;

	if (s->draining) {
		/* the cursor is stored; the next lease resumes exactly here */
		job_release_later(j, 0, false, NULL, NULL);
		return;
	}
	if (j->url) {
		j->state = JS_READY;
	} else {
		j->res++;
		rc = job_setup_resource(j);
		if (rc == 0) {
			job_complete(j);
			return;
		}
	}
	/* to the back of the queue: participants take turns */
	list_remove(s, j);
	list_append(s, j);
}

/*
 * A writer thread, on its own connection db, in the transaction
 * loader_finish opened (the page's rows are sent): check the lease, write the
 * cursor, commit.  Returns 1 when committed, 0 when the lease was lost, -1 on
 * error (err filled); nothing is stored unless 1.  Reads only the job's walk
 * fields and j->commit: nothing the loop changes while the job is JS_COMMIT.
 */
static int commit_page(job *j, store *db, const flat_bundle_info *info, const char *next,
		       char *err, size_t errlen)
{
	char total[24];
	int ours;

	snprintf(total, sizeof total, "%lld", info->total);
	/*
	 * The page and its cursor commit together, so losing the newest pages
	 * in a server crash only means fetching them again: no need to wait
	 * for the WAL flush of every page.  A walk goes on from its cursor in
	 * memory, so it stops at a reconnection (page_write: dbpool_epoch) and
	 * goes on from the stored one.  The last page, which also releases the
	 * lease, waits for the flush: that makes every earlier page of the
	 * participant durable too, and a lease can never stay taken by a lost
	 * commit.
	 */
	if (!j->commit.final &&
	    store_cmd(db, "SET LOCAL synchronous_commit = off", 0, NULL, err, errlen) < 0)
		return -1;
	ours = sched_check_lease_in_tx(db, j->commit.owner, pid(j), j->commit.lease_s, err, errlen);
	if (ours <= 0)
		return ours;
	if (next) {
		const char *params[7] = {
			pid(j), res_names[j->res], next, info->total >= 0 ? total : NULL, j->since,
			info->last_updated, j->first_page ? "t" : "f",
		};

		if (store_cmd(db,
			      "INSERT INTO bb.sync_cursor AS c (participant_id, resource, next_url,"
			      "  walk_total, walk_since, walk_last_updated, walk_started_at, pages)"
			      " VALUES ($1, $2, $3, $4::int, $5::timestamptz, $6::timestamptz, now(), 1)"
			      " ON CONFLICT (participant_id, resource) DO UPDATE SET"
			      "  next_url = EXCLUDED.next_url, walk_total = EXCLUDED.walk_total,"
			      "  walk_since = EXCLUDED.walk_since,"
			      "  walk_last_updated = CASE WHEN $7::bool THEN EXCLUDED.walk_last_updated"
			      "                      ELSE c.walk_last_updated END,"
			      "  walk_started_at = CASE WHEN $7::bool THEN now() ELSE c.walk_started_at END,"
			      "  pages = c.pages + 1",
			      7, params, err, errlen) < 0)
			return -1;
	} else {
		/* the last page: the walk is complete and its lastUpdated becomes the watermark */
		const char *params[4] = {
			pid(j), res_names[j->res], info->last_updated, j->first_page ? "t" : "f",
		};

		if (store_cmd(db,
			      "INSERT INTO bb.sync_cursor AS c (participant_id, resource, watermark,"
			      "  pages, completed_at)"
			      " VALUES ($1, $2, $3::timestamptz, 1, now())"
			      " ON CONFLICT (participant_id, resource) DO UPDATE SET"
			      "  watermark = coalesce(CASE WHEN $4::bool THEN $3::timestamptz"
			      "                       ELSE c.walk_last_updated END, c.watermark),"
			      "  next_url = NULL, walk_total = NULL, walk_since = NULL,"
			      "  walk_last_updated = NULL, walk_started_at = NULL,"
			      "  pages = c.pages + 1, completed_at = now()",
			      4, params, err, errlen) < 0)
			return -1;
		if (j->commit.final &&
		    sched_release_done(db, j->commit.owner, pid(j), j->lease.due_at,
				       j->commit.interval_s, err, errlen) < 0)
			return -1;
	}
	if (loader_commit(j->ld) < 0) {
		snprintf(err, errlen, "%s", loader_error(j->ld));
		return -1;
	}
	return 1;
}

/* dbpool work, on a writer thread: the page's rows and cursor, one transaction. */
static void page_write(void *arg, store *db, const char *connect_err)
{
	job *j = arg;
	page_commit *pc = &j->commit;
	int64_t t0 = now_mono_us();

	pc->rows_failed = pc->db_failed = pc->stale = false;
	pc->err[0] = '\0';
	if (!db) {
		pc->rc = -1;
		pc->db_failed = true;
		snprintf(pc->err, sizeof pc->err, "%s", connect_err);
		return;
	}
	if (dbpool_epoch(j->s->writers) != j->epoch) {
		pc->rc = -1;
		pc->stale = true;
		return;
	}
	loader_set_conn(j->ld, store_pg(db));
	if (loader_finish(j->ld) < 0) {
		pc->rc = -1;
		pc->rows_failed = true;
		pc->db_failed = loader_db_failed(j->ld);
		snprintf(pc->err, sizeof pc->err, "%s", loader_error(j->ld));
	} else {
		pc->rc = commit_page(j, db, fhir_stream_bundle(loader_stream(j->ld)), pc->next,
				     pc->err, sizeof pc->err);
		pc->db_failed = pc->rc < 0;
	}
	if (pc->rc != 1)
		loader_abort(j->ld);    /* rolls back on this thread's connection */
	loader_set_conn(j->ld, NULL);
	pc->us = now_mono_us() - t0;
}

/* ---- transfers ---- */

static int on_data(void *ud, const char *data, size_t len)
{
	job *j = ud;

	j->s->stats.bytes += len;
	if (loader_feed(j->ld, data, len) < 0) {
		j->feed_failed = true;
		return -1;
	}
	return 0;
}

static void page_written(void *arg);

/* A page arrived whole: check it, then hand it to a writer thread. */
static void page_done_ok(job *j)
{
	sync_engine *s = j->s;
	const bb_config *c = s->d->cfg;
	const flat_bundle_info *info;
	char err[1024];
	char *next = NULL;
	bool final;

	if (loader_end_input(j->ld) < 0) {
		snprintf(err, sizeof err, "%s", loader_error(j->ld));
		page_drop(j);
		s->stats.malformed_pages++;
		metrics_inc(METRIC_PAGES, "rejected");
		job_fail(j, "malformed_page", "%s (the page was rejected whole)", err);
		return;
	}
	info = fhir_stream_bundle(loader_stream(j->ld));
	if (!info->is_bundle) {
		page_drop(j);
		s->stats.malformed_pages++;
		metrics_inc(METRIC_PAGES, "rejected");
		job_fail(j, "malformed_page", "%s page %d was rejected whole: the answer is not a "
			 "search Bundle", res_names[j->res], j->page_no);
		return;
	}
	if (!j->first_page && j->walk_total >= 0 && info->total >= 0 && info->total != j->walk_total) {
		/* the data changed mid-walk: offsets shifted, start again */
		long long was = j->walk_total, now_total = info->total;

		s->stats.walk_restarts++;
		metrics_inc(METRIC_PAGES, "discarded");
		page_drop(j);
		if (++j->restarts > MAX_RESTARTS) {
			job_fail(j, "walk_unstable", "%s total kept changing during the walk (%d restarts)",
				 res_names[j->res], j->restarts - 1);
			return;
		}
		log_info("participant %s: %s total changed from %lld to %lld during the walk; "
			 "starting it again", pid(j), res_names[j->res], was, now_total);
		job_restart_walk(j);
		job_continue(j);
		return;
	}
	if (info->next_url && *info->next_url) {
		if (!syncurl_same_origin(c->api_base_url, info->next_url)) {
			char *o = syncurl_origin(info->next_url), *b = syncurl_origin(c->api_base_url);

			page_drop(j);
			s->stats.foreign_links++;
			job_fail(j, "foreign_next_link",
				 "%s page %d links its next page to %s, not the configured API host %s; "
				 "refused (the bearer token is only sent to the API host)",
				 res_names[j->res], j->page_no, o, b);
			free(o);
			free(b);
			return;
		}
		if (info->total >= 0 &&
		    j->page_no > info->total / (c->page_size > 0 ? c->page_size : 1) + 2) {
			long long t = info->total;

			page_drop(j);
			job_fail(j, "walk_unstable", "%s walk passed %d pages for a total of %lld; stopped",
				 res_names[j->res], j->page_no, t);
			return;
		}
		next = xstrdup(info->next_url);
	}
	if (j->first_page)
		j->walk_total = info->total;
	final = !next;
	for (int r = j->res + 1; r < RES_COUNT && final; r++)
		if (resource_due(j, r))
			final = false;
	/*
	 * To a writer: the loop goes on with other transfers meanwhile, and
	 * the page's transfer slot is free already (on_done), so the time a
	 * page waits for a writer is not taken from the network.  Pages held
	 * this way are bounded apart (memory_room).
	 */
	free(j->commit.next);
	j->commit = (page_commit){
		.next = next,
		.owner = s->d->instance_id,
		.lease_s = c->lease_s,
		.final = final,
		.interval_s = c->sync_interval_s,
	};
	j->state = JS_COMMIT;
	s->committing++;
	s->stats.committing = s->committing;
	dbpool_submit(s->writers, page_write, page_written, j);
}

/* dbpool done, in the loop: the writer stored the page or said why not. */
static void page_written(void *arg)
{
	job *j = arg;
	sync_engine *s = j->s;
	page_commit *pc = &j->commit;
	uint64_t rows = fhir_stream_stats(loader_stream(j->ld))->rows;
	char *next = pc->next;

	pc->next = NULL;
	s->committing--;
	s->stats.committing = s->committing;
	if (pc->rc == 1)
		for (int t = 0; t < FT_COUNT; t++) {
			uint64_t n = loader_rows_sent(j->ld, t);

			if (n)
				metrics_add(METRIC_ROWS_LOADED, flat_tables[t].name, n);
		}
	s->stats.db_us += (uint64_t)pc->us;
	page_drop(j);
	if (pc->rc == 0) {
		free(next);
		s->stats.leases_lost++;
		log_warning("participant %s: the lease was lost (another instance took over); "
			    "the page was not stored", pid(j));
		job_end(j);
		return;
	}
	if (pc->rc < 0) {
		free(next);
		if (pc->stale) {
			/* not a failure: the walk resumes from the stored cursor */
			metrics_inc(METRIC_PAGES, "discarded");
			log_info("participant %s: a database connection was re-established during the "
				 "walk; it goes on from the stored cursor (the page is fetched again)", pid(j));
			job_release_later(j, 0, false, NULL, NULL);
			return;
		}
		if (pc->rows_failed && !pc->db_failed) {
			/* the database refused the page's data (e.g. a number too large) */
			s->stats.malformed_pages++;
			metrics_inc(METRIC_PAGES, "rejected");
			job_fail(j, "malformed_page", "%s (the page was rejected whole)", pc->err);
			return;
		}
		job_fail(j, "database", "could not store %s page %d: %s", res_names[j->res], j->page_no,
			 pc->err);
		return;
	}
	s->stats.pages++;
	s->stats.rows += rows;
	metrics_inc(METRIC_PAGES, "stored");
	j->auth_retried = false;
	j->first_page = false;
	free(j->url);
	j->url = next;
	if (pc->final) {
		/* the page's transaction also recorded the completed sync */
		log_info("participant %s: sync complete", pid(j));
		s->stats.walks_completed++;
		job_end(j);
		return;
	}
	job_continue(j);
}

static void on_done(void *ud, const http_result *res)
{
	job *j = ud;
	sync_engine *s = j->s;
	const char *rn = res_names[j->res];

	s->inflight--;
	s->stats.inflight = s->inflight;
	if (res->aborted && !j->feed_failed) {
		/* the daemon is stopping: nothing of the page was stored */
		page_drop(j);
		metrics_inc(METRIC_PAGES, "discarded");
		job_release_later(j, 0, false, NULL, NULL);
		return;
	}
	if (res->code != CURLE_OK) {
		if (j->feed_failed || res->body_truncated) {
			char why[1024];

			snprintf(why, sizeof why, "%s", j->feed_failed ? loader_error(j->ld)
				 : "the page is larger than limits.max_page_bytes");
			page_drop(j);
			s->stats.malformed_pages++;
			metrics_inc(METRIC_PAGES, "rejected");
			if (j->feed_failed)
				job_fail(j, "malformed_page", "%s (the page was rejected whole)", why);
			else
				job_fail(j, "malformed_page", "%s page %d: %s (the page was rejected whole)",
					 rn, j->page_no, why);
		} else {
			page_drop(j);
			s->stats.network_errors++;
			metrics_inc(METRIC_PAGES, "failed");
			job_fail(j, "network", "%s page %d failed: %s", rn, j->page_no,
				 res->error ? res->error : curl_easy_strerror(res->code));
		}
		return;
	}
	if (res->status >= 200 && res->status < 300) {
		page_done_ok(j);
		return;
	}
	page_drop(j);
	if (!(res->status == 403 && j->res == RES_PATIENT))
		metrics_inc(METRIC_PAGES, "failed");
	if (res->status == 401) {
		/*
		 * The token may have been rotated since this walk took it (a
		 * scheduled refresh): ask the token service again, and only if it
		 * answers with the very token refused is it invalidated (on_token),
		 * so a stale copy never costs a refresh.
		 */
		ou_free_secret(j->refused);
		j->refused = j->access;
		j->access = NULL;
		if (!j->auth_retried) {
			j->auth_retried = true;
			j->page_no--;
			s->stats.auth_retries++;
			log_info("participant %s: access token refused (401); retrying %s page %d "
				 "with a fresh one", pid(j), rn, j->page_no);
			j->state = JS_READY;
			return;
		}
		job_fail(j, "http_401", "%s page %d: the API refused a fresh access token (401)",
			 rn, j->page_no);
		return;
	}
	if (res->status == 403 && j->res == RES_PATIENT) {
		const char *params[1] = { pid(j) };
		char err[512];

		log_info("participant %s: Patient refused (403): demographics withheld; "
			 "continuing without them", pid(j));
		if (store_cmd(s->d->db, "UPDATE bb.participant SET demographics = false,"
			      " updated_at = now() WHERE participant_id = $1", 1, params,
			      err, sizeof err) < 0)
			log_error("participant %s: could not record withheld demographics: %s", pid(j), err);
		j->lease.demographics = false;
		free(j->url);
		j->url = NULL;
		job_continue(j);
		return;
	}
	if (res->status == 429) {
		int64_t wait = res->retry_after_s >= 0 ? res->retry_after_s : DEFAULT_RETRY_AFTER_S;

		s->stats.http_429++;
		log_info("participant %s: rate limited (429); waiting %lld s", pid(j), (long long)wait);
		job_release_later(j, wait, false, NULL, NULL);
		return;
	}
	if (res->status >= 500) {
		s->stats.http_5xx++;
		job_fail(j, "http_5xx", "%s page %d: HTTP %ld from the API", rn, j->page_no, res->status);
		return;
	}
	if (res->status == 400 && !j->first_page) {
		/* a stale next link (e.g. startIndex past a shrunk total): start the walk again */
		const char *params[2] = { pid(j), rn };
		char err[512];

		store_cmd(s->d->db, "UPDATE bb.sync_cursor SET next_url = NULL, walk_total = NULL"
			  " WHERE participant_id = $1 AND resource = $2", 2, params, err, sizeof err);
	}
	job_fail(j, res->status == 403 ? "http_403" : "http_4xx", "%s page %d: HTTP %ld from the API",
		 rn, j->page_no, res->status);
}

static void start_page(job *j, const char *access_token);

static void on_token(void *ud, tokens_status st, const char *access_token)
{
	job *j = ud;
	sync_engine *s = j->s;

	if (st != TOKENS_OK || s->draining) {
		s->inflight--;
		s->stats.inflight = s->inflight;
		switch (st) {
		case TOKENS_OK:
		case TOKENS_ABORTED:
			job_release_later(j, 0, false, NULL, NULL);
			break;
		case TOKENS_APP_DISABLED:
			if (!s->app_disabled)
				log_error("Blue Button refused the application (invalid_client); "
					  "the sync stops for everyone until an admin clears bb.app_state");
			s->app_disabled = true;
			job_release_later(j, 0, false, NULL, NULL);
			break;
		case TOKENS_NO_GRANT:
		case TOKENS_RECONSENT:
			job_fail(j, "no_grant", "no usable grant (%s): the participant must enrol again",
				 tokens_status_name(st));
			break;
		case TOKENS_IN_DOUBT:
		case TOKENS_RETRY:
		default:
			job_fail(j, "token", "no access token now (%s)", tokens_status_name(st));
			break;
		}
		return;
	}
	if (j->refused) {
		size_t n = strlen(access_token);
		bool same = strlen(j->refused) == n && ct_equal(j->refused, access_token, n);

		ou_free_secret(j->refused);
		j->refused = NULL;
		if (same) {
			/* the token service's current token is the refused one */
			tokens_invalidate(s->tok, pid(j));
			if (tokens_get_access(s->tok, pid(j), on_token, j) < 0) {
				s->inflight--;
				s->stats.inflight = s->inflight;
				job_release_later(j, 0, false, NULL, NULL);
			}
			return;
		}
	}
	ou_free_secret(j->access);
	j->access = xstrdup(access_token);
	start_page(j, j->access);
}

/* The slot is held (inflight counted): send the page's request. */
static void start_page(job *j, const char *access_token)
{
	sync_engine *s = j->s;
	const bb_config *c = s->d->cfg;
	char err[512], name[160];
	char *auth;
	int rc;

	j->page_no++;
	snprintf(name, sizeof name, "%s page %d", res_names[j->res], j->page_no);
	page_drop(j);
	j->ld = loader_get(s, pid(j), name);
	auth = xasprintf("Authorization: Bearer %s", access_token);
	rc = http_start(s->d->http, &(http_request){
		.url = j->url,
		.auth_header = auth,
		.accept = "application/fhir+json",
		.timeout_ms = (long)(c->api_timeout_s > 0 ? c->api_timeout_s : 60) * 1000L,
		.max_body = c->max_page_bytes,
		.on_data = on_data,
		.on_done = on_done,
		.ud = j,
	}, err, sizeof err);
	secure_zero(auth, strlen(auth));
	free(auth);
	if (rc < 0) {
		s->inflight--;
		s->stats.inflight = s->inflight;
		job_fail(j, "internal", "could not start a request: %s", err);
		return;
	}
	s->stats.requests++;
	j->state = JS_XFER;
}

/* A slot and a bucket token are held: ask for the access token, then send. */
static void job_send(job *j)
{
	sync_engine *s = j->s;

	j->state = JS_TOKEN;
	s->inflight++;
	s->stats.inflight = s->inflight;
	if (j->access) {
		/* the token of the pages before: a 401 brings a fresh one */
		start_page(j, j->access);
		return;
	}
	if (tokens_get_access(s->tok, pid(j), on_token, j) < 0) {
		s->inflight--;
		s->stats.inflight = s->inflight;
		job_release_later(j, 0, false, NULL, NULL);
	}
}

/* ---- leases ---- */

static unsigned max_jobs(const sync_engine *s)
{
	int c = s->d->cfg->concurrency > 0 ? s->d->cfg->concurrency : 1;

	return (unsigned)c * 2;
}

/* Participants leased per query (sync.lease_batch). */
static unsigned lease_batch(const bb_config *c)
{
	return (unsigned)(c->lease_batch > 0 ? c->lease_batch : 16);
}

/*
 * How many participants to lease now: none until a batch's worth of job
 * slots is free (at least a quarter of them, or sync.lease_batch if
 * smaller), so the loop reads leases, cursors and tokens a batch at a time,
 * not participant by participant as jobs end.  The jobs kept meanwhile
 * (at least 3/4 of max_jobs, 1.5 x sync.concurrency) still fill every
 * transfer slot.
 */
static unsigned lease_room(const sync_engine *s)
{
	unsigned room = max_jobs(s) - s->active;
	unsigned batch = lease_batch(s->d->cfg);
	unsigned least = max_jobs(s) / 4;

	if (least > batch)
		least = batch;
	if (least < 1)
		least = 1;
	return room >= least ? room : 0;
}

static void lease_more(sync_engine *s, int64_t now)
{
	const bb_config *c = s->d->cfg;
	unsigned room = lease_room(s);
	int limit = (int)lease_batch(c);
	sched_lease *l = NULL;
	size_t n = 0;
	job **jobs;
	const char **ids;
	char **access;
	unsigned epoch;
	char err[512];

	if ((unsigned)limit > room)
		limit = (int)room;
	epoch = dbpool_epoch(s->writers);   /* before anything is read */
	if (sched_lease_due(s->d->db, s->d->instance_id, limit, c->lease_s, &l, &n, err, sizeof err) < 0) {
		log_error("could not lease due participants: %s", err);
		s->next_poll_us = now + POLL_US;
		return;
	}
	s->next_poll_us = n < (size_t)limit ? now + POLL_US : now;
	if (n == 0) {
		free(l);
		return;
	}
	jobs = xcalloc(n, sizeof *jobs);
	ids = xcalloc(n, sizeof *ids);
	access = xcalloc(n, sizeof *access);
	for (size_t i = 0; i < n; i++) {
		job *j = xcalloc(1, sizeof *j);

		j->s = s;
		j->lease = l[i];        /* takes the strings */
		j->walk_total = -1;
		j->epoch = epoch;
		list_append(s, j);
		s->active++;
		s->stats.active = s->active;
		log_debug("participant %s: leased for sync", pid(j));
		jobs[i] = j;
		ids[i] = pid(j);
	}
	free(l);
	/*
	 * The batch's cursors and access tokens in two queries, not two per
	 * participant: the loop waits for the database once per batch.
	 */
	if (load_cursors(s, jobs, ids, n, err, sizeof err) < 0) {
		for (size_t i = 0; i < n; i++)
			job_fail(jobs[i], "database", "could not read the cursors: %s", err);
	} else {
		tokens_prefetch(s->tok, ids, n, access);
		for (size_t i = 0; i < n; i++) {
			jobs[i]->access = access[i];
			if (job_setup_resource(jobs[i]) == 0)
				job_complete(jobs[i]);
		}
	}
	free(access);
	free(ids);
	free(jobs);
}

static void renew_leases(sync_engine *s, int64_t now)
{
	const bb_config *c = s->d->cfg;
	const char **ids;
	bool *still;
	size_t n = 0, i = 0;
	char err[512];

	s->next_renew_us = now + (c->lease_s > 3 ? c->lease_s / 3 : 1) * 1000000LL;
	if (!s->active)
		return;
	ids = xcalloc(s->active, sizeof *ids);
	still = xcalloc(s->active, sizeof *still);
	for (job *j = s->head; j; j = j->next)
		ids[n++] = pid(j);
	if (sched_renew(s->d->db, s->d->instance_id, ids, n, c->lease_s, still, err, sizeof err) < 0) {
		log_error("could not renew sync leases: %s", err);
	} else {
		for (job *j = s->head, *nx; j; j = nx, i++) {
			nx = j->next;
			if (!still[i] && j->state == JS_READY) {
				s->stats.leases_lost++;
				log_warning("participant %s: lease lost; leaving it to the instance that holds it",
					    pid(j));
				job_end(j);
			}
			/* jobs with a transfer or token request find out when they commit */
		}
	}
	free(ids);
	free(still);
}

/* ---- subsystem ---- */

static void *sync_start(bb_daemon *d, char *err, size_t errlen)
{
	sync_engine *s;

	if (!d->tokens) {
		snprintf(err, errlen, "the sync engine needs the token service, which is not running");
		return NULL;
	}
	s = xcalloc(1, sizeof *s);
	s->d = d;
	s->tok = d->tokens;
	s->writers = dbpool_new(d->cfg->db_conninfo,
				(unsigned)(d->cfg->db_writers > 0 ? d->cfg->db_writers : 1), err, errlen);
	if (!s->writers) {
		free(s);
		return NULL;
	}
	tbucket_init(&s->bucket, d->cfg->request_rate, d->cfg->request_burst, now_mono_us());
	d->sync = s;
	return s;
}

/* dbpool work, on a writer thread: delete old errors, a batch per statement. */
static void prune_work(void *arg, store *db, const char *connect_err)
{
	prune_job *p = arg;
	char secs[24], batch[16];
	const char *params[2] = { secs, batch };

	p->deleted = 0;
	p->err[0] = '\0';
	if (!db) {
		snprintf(p->err, sizeof p->err, "%s", connect_err);
		return;
	}
	snprintf(secs, sizeof secs, "%lld", (long long)p->retention_s);
	snprintf(batch, sizeof batch, "%d", PRUNE_BATCH);
	for (int round = 0; round < PRUNE_ROUNDS; round++) {
		PGresult *r = store_exec(db,
			"WITH d AS (DELETE FROM bb.error WHERE error_id IN"
			"  (SELECT error_id FROM bb.error"
			"   WHERE at < now() - make_interval(secs => $1::float8)"
			"   LIMIT $2::int) RETURNING 1)"
			" SELECT count(*) FROM d", 2, params, p->err, sizeof p->err);
		long long n;

		if (!r)
			return;
		n = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		p->deleted += n;
		if (n < PRUNE_BATCH)
			return;
	}
}

/* dbpool done, in the loop. */
static void prune_done(void *arg)
{
	prune_job *p = arg;

	p->running = false;
	if (p->err[0])
		log_warning("could not delete the errors older than sync.error_retention: %s; "
			    "trying again in an hour", p->err);
	else if (p->deleted)
		log_info("deleted %lld error record%s older than sync.error_retention (%lld days)",
			 p->deleted, p->deleted == 1 ? "" : "s", (long long)(p->retention_s / 86400));
}

/* Once an hour (and at start), when sync.error_retention is set. */
static void prune_maybe(sync_engine *s, int64_t now)
{
	int64_t keep = s->d->cfg->error_retention_s;

	if (now < s->next_prune_us || s->prune.running)
		return;
	s->next_prune_us = now + PRUNE_EVERY_US;
	if (keep <= 0)
		return;
	s->prune.retention_s = keep;
	s->prune.running = true;
	dbpool_submit(s->writers, prune_work, prune_done, &s->prune);
}

/*
 * Whether another page may be fetched now, by the pages held in memory: those
 * in transfer (parsed as they arrive) and those received and waiting for a
 * writer, together fewer than sync.concurrency + 2 per writer.  A page
 * waiting for a writer does not hold a transfer slot, so while the writers
 * catch up with a burst of pages the network goes on; when the database is
 * the bottleneck, pages do not pile up (the network is not the limit then
 * anyway).  The same bound is what a crash can cost: pages in memory are
 * fetched again from the cursor.
 */
static bool memory_room(const sync_engine *s, unsigned conc)
{
	return s->inflight + s->committing < conc + 2 * dbpool_size(s->writers);
}

static int64_t sync_tick(void *self, bb_daemon *d, int64_t now)
{
	sync_engine *s = self;
	int64_t wake = INT64_MAX;
	unsigned conc = (unsigned)(d->cfg->concurrency > 0 ? d->cfg->concurrency : 1);

	if (!s->app_disabled && d->tokens && tokens_app_disabled(s->tok))
		s->app_disabled = true;
	/* pages the writers stored (or could not): their jobs go on */
	dbpool_collect(s->writers);
	if (store_is_down(d->db)) {
		/*
		 * The loop's connection is being re-established (daemon.c): start
		 * nothing that needs it; transfers in flight end as they do, and
		 * pages that cannot be committed are fetched again later.
		 */
		return now + POLL_US;
	}
	if (s->unreleased)
		unreleased_retry(s);
	prune_maybe(s, now);
	if (now >= s->next_renew_us)
		renew_leases(s, now);
	if (!s->draining && !s->app_disabled) {
		while (lease_room(s) > 0 && now >= s->next_poll_us) {
			unsigned before = s->active;

			lease_more(s, now);
			if (s->active == before)
				break;
		}
		/*
		 * With every job slot taken, a job's end (a callback) brings the
		 * loop back here anyway: waking for the poll time then would only
		 * spin the loop (and take a core from PostgreSQL).
		 */
		if (lease_room(s) > 0 && s->next_poll_us < wake)
			wake = s->next_poll_us;
	}
	for (job *j = s->head, *nx; j; j = nx) {
		nx = j->next;
		if (j->state != JS_READY)
			continue;
		if (s->draining || s->app_disabled) {
			job_release_later(j, 0, false, NULL, NULL);
			continue;
		}
		if (s->inflight >= conc)
			break;
		if (!memory_room(s, conc))
			break;
		if (!tbucket_take(&s->bucket, now)) {
			int64_t at = tbucket_ready_at(&s->bucket, now);

			if (at < wake)
				wake = at;
			break;
		}
		job_send(j);
	}
	if (s->next_renew_us < wake)
		wake = s->next_renew_us;
	return wake;
}

static unsigned sync_fds(void *self, struct curl_waitfd *out, unsigned max)
{
	sync_engine *s = self;

	if (max < 1)
		return 0;
	out[0] = (struct curl_waitfd){ .fd = dbpool_fd(s->writers), .events = CURL_WAIT_POLLIN };
	return 1;
}

static void sync_drain(void *self, bb_daemon *d)
{
	sync_engine *s = self;

	(void)d;
	s->draining = true;
}

static bool sync_idle(void *self)
{
	const sync_engine *s = self;

	return s->active == 0;
}

static void sync_reloaded(void *self, bb_daemon *d)
{
	sync_engine *s = self;

	tbucket_set(&s->bucket, d->cfg->request_rate, d->cfg->request_burst);
}

static void sync_stop(void *self, bb_daemon *d)
{
	sync_engine *s = self;
	char err[512];

	/*
	 * The loop has ended and http is gone; the token service (stopped after
	 * us) drops the answers it still owes, so every job can go.
	 */
	s->draining = true;
	/*
	 * The writers finish the pages they are storing (each commits whole or
	 * not at all) and stop; pages still queued were not stored and are
	 * fetched again from the cursor.
	 */
	dbpool_free(s->writers);
	s->writers = NULL;
	while (s->head)
		job_end(s->head);
	log_notice("sync: %llu requests, %llu pages and %llu rows stored (%.1f s in the database), "
		 "%llu participant syncs completed",
		 (unsigned long long)s->stats.requests, (unsigned long long)s->stats.pages,
		 (unsigned long long)s->stats.rows, (double)s->stats.db_us / 1e6,
		 (unsigned long long)s->stats.walks_completed);
	if (s->unreleased)
		unreleased_retry(s);
	while (s->unreleased) {
		unreleased *u = s->unreleased;

		s->unreleased = u->next;
		unreleased_free(u);
	}
	if (sched_release_all(d->db, d->instance_id, err, sizeof err) < 0)
		log_error("could not release the sync leases: %s", err);
	for (size_t i = 0; i < s->npool; i++)
		loader_free(s->pool[i]);
	free(s->pool);
	if (d->sync == s)
		d->sync = NULL;
	free(s);
}

const sync_stats *sync_get_stats(const sync_engine *s)
{
	return &s->stats;
}

const bb_subsystem sync_subsystem = {
	.name = "sync",
	.start = sync_start,
	.tick = sync_tick,
	.fds = sync_fds,
	.drain = sync_drain,
	.idle = sync_idle,
	.reloaded = sync_reloaded,
	.stop = sync_stop,
};
