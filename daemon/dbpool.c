#include "dbpool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

typedef struct item {
	struct item *next;
	dbpool_work_fn work;
	dbpool_done_fn done;
	void *arg;
} item;

typedef struct writer {
	dbpool *p;
	pthread_t thread;
	bool started;
	store *db;                  /* this thread's own (the first made by dbpool_new); NULL: none now */
	char err[512];              /* why db is NULL */
} writer;

struct dbpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* work queued, or quit */
	item *queue, *queue_tail;   /* under mu */
	item *done, *done_tail;     /* under mu */
	bool quit;                  /* under mu */
	atomic_uint epoch;          /* connections made after the first ones (dbpool_epoch) */
	int pipe_rd, pipe_wr;       /* a byte per finished item wakes the loop */
	unsigned pending;           /* loop thread only */
	char *conninfo;
	unsigned n;
	writer *w;
};

static void append(item **head, item **tail, item *it)
{
	it->next = NULL;
	if (*tail)
		(*tail)->next = it;
	else
		*head = it;
	*tail = it;
}

static void free_list(item *it)
{
	while (it) {
		item *nx = it->next;

		free(it);
		it = nx;
	}
}

/*
 * Whether an idle connection still has its server.  A session the server
 * ended sent its last message (FATAL) and closed the socket: the first read
 * takes the message, a second one meets the end of the stream.
 */
static bool connection_alive(PGconn *c)
{
	for (int i = 0; i < 2; i++)
		if (PQstatus(c) != CONNECTION_OK || !PQconsumeInput(c))
			return false;
	return PQstatus(c) == CONNECTION_OK;
}

/* Connect w->db, or leave it NULL with w->err saying why. */
static bool writer_open(writer *w)
{
	w->db = store_connect(w->p->conninfo, w->err, sizeof w->err);
	if (w->db)
		w->err[0] = '\0';
	return w->db != NULL;
}

/*
 * Make sure w->db is usable, or NULL with w->err saying why.  No backoff of
 * its own: items only come while the loop's connection is up, and each
 * failed page already backs its participant off, so an attempt per item is
 * bounded; waiting here instead would fail pages after the server is back.
 */
static void writer_connect(writer *w)
{
	if (w->db && !connection_alive(store_pg(w->db))) {
		store_close(w->db);
		w->db = NULL;
	}
	if (w->db)
		return;
	/* any connection after the first (dbpool_new's), before an item runs on it */
	if (writer_open(w))
		atomic_fetch_add(&w->p->epoch, 1);
}

static void *writer_main(void *ud)
{
	writer *w = ud;
	dbpool *p = w->p;

	for (;;) {
		item *it;
		ssize_t wr;

		pthread_mutex_lock(&p->mu);
		while (!p->quit && !p->queue)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		it = p->queue;
		p->queue = it->next;
		if (!p->queue)
			p->queue_tail = NULL;
		pthread_mutex_unlock(&p->mu);

		writer_connect(w);
		it->work(it->arg, w->db, w->db ? NULL
			 : (w->err[0] ? w->err : "no database connection yet"));

		pthread_mutex_lock(&p->mu);
		append(&p->done, &p->done_tail, it);
		pthread_mutex_unlock(&p->mu);
		/* a full pipe already wakes the loop, which collects everything */
		do
			wr = write(p->pipe_wr, "", 1);
		while (wr < 0 && errno == EINTR);
	}
	store_close(w->db);
	w->db = NULL;
	return NULL;
}

dbpool *dbpool_new(const char *conninfo, unsigned n, char *err, size_t errlen)
{
	dbpool *p;
	int fds[2];
	sigset_t all, old;

	if (n < 1 || n > DBPOOL_MAX) {
		snprintf(err, errlen, "database writers: %u is out of range (1..%d)", n, DBPOOL_MAX);
		return NULL;
	}
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "database writers: cannot create a pipe: %s", strerror(errno));
		return NULL;
	}
	p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->pipe_rd = fds[0];
	p->pipe_wr = fds[1];
	p->conninfo = xstrdup(conninfo ? conninfo : "");
	p->n = n;
	p->w = xcalloc(n, sizeof *p->w);
	/*
	 * Each writer's first connection now, in this thread: every later
	 * one is a reconnection, which dbpool_epoch counts.  One that fails
	 * here is made by the writer before its first item (and counted).
	 */
	for (unsigned i = 0; i < n; i++) {
		p->w[i].p = p;
		writer_open(&p->w[i]);
	}
	/* signals are the loop's (self-pipe): the writers never take one */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < n; i++) {
		int rc = pthread_create(&p->w[i].thread, NULL, writer_main, &p->w[i]);
		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "database writers: cannot start thread %u of %u: %s",
				 i + 1, n, strerror(rc));
			dbpool_free(p);
			return NULL;
		}
		p->w[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

void dbpool_free(dbpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n; i++) {
		if (p->w[i].started)
			pthread_join(p->w[i].thread, NULL);   /* it closed its connection */
		else
			store_close(p->w[i].db);            /* made by dbpool_new */
	}
	free_list(p->queue);
	free_list(p->done);
	close(p->pipe_rd);
	close(p->pipe_wr);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->conninfo);
	free(p->w);
	free(p);
}

void dbpool_submit(dbpool *p, dbpool_work_fn work, dbpool_done_fn done, void *arg)
{
	item *it = xcalloc(1, sizeof *it);

	it->work = work;
	it->done = done;
	it->arg = arg;
	p->pending++;
	pthread_mutex_lock(&p->mu);
	append(&p->queue, &p->queue_tail, it);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

unsigned dbpool_epoch(dbpool *p)
{
	return atomic_load(&p->epoch);
}

int dbpool_fd(const dbpool *p)
{
	return p->pipe_rd;
}

unsigned dbpool_collect(dbpool *p)
{
	char buf[256];
	item *list;
	unsigned ran = 0;

	while (read(p->pipe_rd, buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&p->mu);
	list = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	while (list) {
		item *it = list;

		list = it->next;
		p->pending--;
		ran++;
		it->done(it->arg);
		free(it);
	}
	return ran;
}

unsigned dbpool_pending(const dbpool *p)
{
	return p->pending;
}

unsigned dbpool_size(const dbpool *p)
{
	return p->n;
}
