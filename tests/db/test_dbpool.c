/*
 * dbpool on a real PostgreSQL: items run on the writers' own connections, in
 * parallel (four items meet at a barrier that only four concurrent writers can
 * pass), done functions run in the calling thread through the wake-up pipe,
 * a writer whose session was terminated connects again before its next item
 * (no item meets the dead session) and the reconnection is counted
 * (dbpool_epoch), a bad conninfo gives
 * db == NULL with the reason, and freeing the pool drops queued items without
 * calling them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../unit/minicheck.h"
#include "dbpool.h"
#include "store.h"

#define NW 4

static char err[1024];

typedef struct {
	int n;                      /* item number */
	pthread_t worker;           /* thread that ran it */
	int backend_pid;            /* its connection's backend */
	bool had_db;
	char connect_err[256];
	bool barrier_passed;        /* met the other NW-1 items while running */
	bool done;
	pthread_t done_thread;
} rec;

/* A barrier with a timeout: only writers running at the same time pass it. */
static pthread_mutex_t bmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bcv = PTHREAD_COND_INITIALIZER;
static int arrived;

static bool meet(int want)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&bmu);
	arrived++;
	pthread_cond_broadcast(&bcv);
	while (arrived < want && ok)
		ok = pthread_cond_timedwait(&bcv, &bmu, &until) != ETIMEDOUT;
	ok = arrived >= want;
	pthread_mutex_unlock(&bmu);
	return ok;
}

static int backend_pid(store *db)
{
	char e[256];
	PGresult *r = store_exec(db, "SELECT pg_backend_pid()", 0, NULL, e, sizeof e);
	int pid;

	if (!r)
		return -1;
	pid = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return pid;
}

static void work_plain(void *arg, store *db, const char *connect_err)
{
	rec *r = arg;

	r->worker = pthread_self();
	r->had_db = db != NULL;
	snprintf(r->connect_err, sizeof r->connect_err, "%s", connect_err ? connect_err : "");
	r->backend_pid = db ? backend_pid(db) : -1;
}

static void work_barrier(void *arg, store *db, const char *connect_err)
{
	rec *r = arg;

	work_plain(arg, db, connect_err);
	r->barrier_passed = meet(NW);
}

/* Held until open_gate_later opens the gate (after the pool's free began). */
static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gcv = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_reached;

static void work_gate(void *arg, store *db, const char *connect_err)
{
	work_plain(arg, db, connect_err);
	pthread_mutex_lock(&gmu);
	gate_reached = true;
	pthread_cond_broadcast(&gcv);
	while (!gate_open)
		pthread_cond_wait(&gcv, &gmu);
	pthread_mutex_unlock(&gmu);
}

static void *open_gate_later(void *unused)
{
	(void)unused;
	usleep(500000);
	pthread_mutex_lock(&gmu);
	gate_open = true;
	pthread_cond_broadcast(&gcv);
	pthread_mutex_unlock(&gmu);
	return NULL;
}

static void done(void *arg)
{
	rec *r = arg;

	r->done = true;
	r->done_thread = pthread_self();
}

/* Wait on the pool's descriptor and collect until `want` items are done. */
static unsigned collect_all(dbpool *p, unsigned want)
{
	unsigned got = 0;

	for (int i = 0; i < 600 && got < want; i++) {
		struct pollfd pfd = { .fd = dbpool_fd(p), .events = POLLIN };

		if (poll(&pfd, 1, 100) > 0)
			got += dbpool_collect(p);
	}
	return got;
}

int main(void)
{
	store *adm = store_connect("", err, sizeof err);
	dbpool *p;
	rec recs[NW * 3];
	int pids[NW], npids = 0;
	bool all_done = true, in_main = true, all_db = true;

	if (!adm) {
		fprintf(stderr, "no database (run the db suite through tests/run-all.sh): %s\n", err);
		return 1;
	}

	mc_section("items run on the writers' own connections, in parallel");
	p = dbpool_new("", NW, err, sizeof err);
	CHECK(p != NULL);
	if (!p)
		return mc_done("dbpool");
	CHECK(dbpool_size(p) == NW);
	memset(recs, 0, sizeof recs);
	for (int i = 0; i < NW; i++) {
		recs[i].n = i;
		dbpool_submit(p, work_barrier, done, &recs[i]);
	}
	CHECK(dbpool_pending(p) == NW);
	CHECK(collect_all(p, NW) == NW);
	CHECK(dbpool_pending(p) == 0);
	for (int i = 0; i < NW; i++) {
		bool seen = false;

		all_done &= recs[i].done;
		in_main &= pthread_equal(recs[i].done_thread, pthread_self()) != 0;
		all_db &= recs[i].had_db;
		CHECK(recs[i].barrier_passed);
		CHECK(!pthread_equal(recs[i].worker, pthread_self()));
		for (int k = 0; k < npids; k++)
			seen |= pids[k] == recs[i].backend_pid;
		if (!seen && npids < NW)
			pids[npids++] = recs[i].backend_pid;
	}
	CHECK(all_done);
	CHECK(in_main);
	CHECK(all_db);
	printf("%d items met at the barrier on %d distinct backends\n", NW, npids);
	CHECK(npids == NW);

	mc_section("a writer whose session was terminated connects again");
	/* the writers' first connections (dbpool_new's) are not reconnections */
	CHECK(dbpool_epoch(p) == 0);
	{
		char sql[160];

		for (int k = 0; k < npids; k++) {
			snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pids[k]);
			CHECK(store_cmd(adm, sql, 0, NULL, err, sizeof err) == 0);
		}
		usleep(300000);
		/* a writer notices its ended session before running an item on it */
		for (int i = NW; i < NW * 3; i++) {
			recs[i].n = i;
			dbpool_submit(p, work_plain, done, &recs[i]);
		}
		CHECK(collect_all(p, NW * 2) == NW * 2);
		/* each reconnection is counted before an item runs on it */
		CHECK(dbpool_epoch(p) >= 1);
		CHECK(dbpool_epoch(p) <= NW);
		{
			int fresh = 0;

			for (int i = NW; i < NW * 3; i++) {
				bool old = false;

				for (int k = 0; k < npids; k++)
					old |= recs[i].backend_pid == pids[k];
				if (recs[i].had_db && recs[i].backend_pid > 0 && !old)
					fresh++;
			}
			printf("%d of %d items after the termination ran on new sessions\n", fresh, NW * 2);
			CHECK(fresh == NW * 2);
		}
	}
	dbpool_free(p);

	mc_section("a conninfo that cannot connect gives db == NULL and the reason");
	p = dbpool_new("host=/nonexistent-bbingest-dir port=1", 1, err, sizeof err);
	CHECK(p != NULL);
	if (p) {
		rec r = { 0 };

		dbpool_submit(p, work_plain, done, &r);
		CHECK(collect_all(p, 1) == 1);
		CHECK(!r.had_db);
		CHECK_HAS(r.connect_err, "could not connect to the database");
		dbpool_free(p);
	}

	mc_section("freeing the pool drops queued items without calling them");
	p = dbpool_new("", 1, err, sizeof err);
	CHECK(p != NULL);
	if (p) {
		rec blocker = { 0 }, queued[5];
		pthread_t opener;
		int ran = 0;

		memset(queued, 0, sizeof queued);
		/* the one writer is held by the blocker while the pool is freed */
		dbpool_submit(p, work_gate, done, &blocker);
		for (int i = 0; i < 5; i++)
			dbpool_submit(p, work_plain, done, &queued[i]);
		pthread_mutex_lock(&gmu);
		while (!gate_reached)
			pthread_cond_wait(&gcv, &gmu);
		pthread_mutex_unlock(&gmu);
		CHECK(pthread_create(&opener, NULL, open_gate_later, NULL) == 0);
		dbpool_free(p);
		pthread_join(opener, NULL);
		for (int i = 0; i < 5; i++)
			ran += queued[i].worker != 0 ? 1 : 0;
		printf("the running item finished; %d of 5 queued items ran\n", ran);
		CHECK(blocker.worker != 0 && blocker.had_db);
		CHECK(!blocker.done);
		CHECK(ran == 0);
		for (int i = 0; i < 5; i++)
			CHECK(!queued[i].done);
	}

	mc_section("a pool size out of range is refused");
	CHECK(dbpool_new("", 0, err, sizeof err) == NULL);
	CHECK_HAS(err, "out of range");
	CHECK(dbpool_new("", DBPOOL_MAX + 1, err, sizeof err) == NULL);

	store_close(adm);
	return mc_done("dbpool");
}
