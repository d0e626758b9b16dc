/*
 * daemon: `bbingest run`, the event loop every long-running piece plugs into.
 *
 * One thread for the loop.  It waits in curl_multi_poll() on curl's sockets,
 * the signal self-pipe and the subsystems' extra descriptors (the listener,
 * the page writers' wake-up pipe), then lets each subsystem do its work.
 * Signal handlers only write a byte to the self-pipe and set a flag;
 * everything else happens in the loop, except storing downloaded pages: the
 * sync engine hands those to its dbpool writer threads (their own
 * connections, no shared state but the page they are given; signals blocked).
 *
 * Subsystems (enrolment, token refresher, sync engine, health, ...) are
 * entries of a table in daemon.c with start/routes/tick/drain/idle/stop
 * hooks, so adding one touches one line there.  The daemon owns the one
 * listener; subsystems hand it their routes.
 *
 * systemd (Type=notify, through notify.h): READY=1 once the database is
 * migrated, every subsystem started and the listener bound; WATCHDOG=1 from
 * the loop at half of $WATCHDOG_USEC; RELOADING=1 + MONOTONIC_USEC ...
 * READY=1 around a reload; STOPPING=1 when shutdown starts.  The health
 * subsystem sends STATUS= with live counts.
 *
 * Shutdown: the first SIGTERM/SIGINT starts draining (no new work; in-flight
 * pages are finished and committed whole, or discarded whole) bounded by
 * DAEMON_DRAIN_TIMEOUT_S; a second one aborts the transfers at once (their pages are
 * discarded whole, as nothing of a page is written before its end).  Both
 * exit 0 (the admin asked for the stop); the log says what was abandoned.
 * SIGHUP reloads the configuration: build, validate, swap; the old one stays
 * on error.
 */
#ifndef BB_DAEMON_H
#define BB_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "config.h"
#include "http.h"
#include "listener.h"
#include "store.h"

struct vault;
struct tokens;
struct sync_engine;

/* How long the first stop signal waits for in-flight work (TimeoutStopSec= is longer). */
#define DAEMON_DRAIN_TIMEOUT_S 30

typedef struct bb_daemon {
	bb_config *cfg;             /* current configuration (swapped on reload) */
	store *db;                  /* the loop's own connection */
	http *http;                 /* every outgoing request */
	struct vault *vault;        /* token sealing */
	struct tokens *tokens;      /* token service (tokens.h), set by its start hook */
	struct sync_engine *sync;   /* sync engine (sync.h), set by its start hook */
	listener *listener;         /* /enroll, /callback, /healthz, /metrics */
	char instance_id[96];       /* host:pid:random, names leases */
	bool draining;              /* stop taking new work */
	int64_t started_us;         /* monotonic */
} bb_daemon;

/* A pluggable piece of the daemon. */
typedef struct bb_subsystem {
	const char *name;
	/* Create; NULL with err filled means the daemon cannot start. */
	void *(*start)(bb_daemon *d, char *err, size_t errlen);
	/*
	 * Do due work.  Returns the monotonic time (us) it next wants to run,
	 * INT64_MAX for "only on activity".
	 */
	int64_t (*tick)(void *self, bb_daemon *d, int64_t now_us);
	/*
	 * Routes this subsystem serves on the daemon's one listener; called once
	 * after every subsystem started, before the listener opens.  Returns how
	 * many it wrote (at most max); may be NULL.
	 */
	size_t (*routes)(void *self, listener_route *out, size_t max);
	/* Extra descriptors to wait on; may be NULL. */
	unsigned (*fds)(void *self, struct curl_waitfd *out, unsigned max);
	/* Take no new work from now on; may be NULL. */
	void (*drain)(void *self, bb_daemon *d);
	/* True when nothing of its work is in flight; NULL means always. */
	bool (*idle)(void *self);
	/* The configuration was swapped (SIGHUP); may be NULL. */
	void (*reloaded)(void *self, bb_daemon *d);
	void (*stop)(void *self, bb_daemon *d);
} bb_subsystem;

/* Run until asked to stop; takes ownership of cfg and v.  Returns an exit code. */
int daemon_run(bb_config *cfg, const char *config_path, struct vault *v);

#endif
