/*
 * dbpool: database writer threads, each with its own connection.
 *
 * The daemon's loop is single-threaded and must not wait for PostgreSQL
 * while transfers are in flight.  Work that only needs a connection (storing
 * a downloaded page and its cursor in one transaction) is handed to a small
 * pool of threads; each owns one `store`, so N pages commit in parallel.
 *
 *   dbpool_submit(p, work, done, arg)   loop thread: queue an item
 *   work(arg, db, connect_err)          a writer thread, with its connection
 *                                       (db NULL: no connection now; the
 *                                       reason is in connect_err)
 *   dbpool_collect(p)                   loop thread, when dbpool_fd() is
 *                                       readable: runs done(arg) of every
 *                                       finished item, in the loop thread
 *
 * Ownership: `arg` belongs to the caller throughout; between submit and done
 * only the writer thread may touch what `work` needs, and the loop thread
 * must leave it alone.  `work` must not log through modules that keep
 * unsynchronised state (complain, metrics): it returns its outcome in `arg`
 * and `done` reports it.
 *
 * Before each item a writer checks its connection (a session the server
 * ended while idle is noticed then); a broken one is dropped and a new one
 * made; when that fails the item gets db == NULL and the reason.  Nothing is logged from the writers:
 * the loop's own connection reports outages (store_ensure).
 */
#ifndef BB_DBPOOL_H
#define BB_DBPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

typedef struct dbpool dbpool;

typedef void (*dbpool_work_fn)(void *arg, store *db, const char *connect_err);
typedef void (*dbpool_done_fn)(void *arg);

/*
 * Start n writer threads (1..DBPOOL_MAX) for conninfo (as store_connect;
 * copied).  Each writer's connection is made here; one that fails is tried
 * again before the writer's first item.  NULL with err filled when a thread
 * cannot be created.
 */
#define DBPOOL_MAX 64
dbpool *dbpool_new(const char *conninfo, unsigned n, char *err, size_t errlen);

/*
 * Stop: every writer finishes the item it is running (its transaction ends
 * committed or rolled back, never half), then exits and closes its
 * connection.  Items not started and results not collected are dropped
 * without calling their functions: the caller still owns every arg.
 */
void dbpool_free(dbpool *p);

/* Queue an item (never fails; the queue is bounded by the caller's own jobs). */
void dbpool_submit(dbpool *p, dbpool_work_fn work, dbpool_done_fn done, void *arg);

/*
 * A number that grows each time a writer makes a connection after the one
 * dbpool_new made (its session broke, or that one failed), before it runs
 * anything on it.  The server may have restarted then, and an
 * asynchronous commit (synchronous_commit = off) acknowledged before the
 * crash may be gone: work that builds on earlier commits reads the epoch
 * when it reads their state and checks, on the writer, that it is unchanged
 * before it writes.  Any thread.
 */
unsigned dbpool_epoch(dbpool *p);

/* A descriptor that becomes readable when results wait for dbpool_collect(). */
int dbpool_fd(const dbpool *p);

/* Run the done functions of finished items; returns how many ran. */
unsigned dbpool_collect(dbpool *p);

/* Items submitted and not collected yet. */
unsigned dbpool_pending(const dbpool *p);

unsigned dbpool_size(const dbpool *p);

#endif
