/*
 * store: the PostgreSQL connection and schema migrations.
 *
 * A store owns one PGconn; store_close() finishes it.  Every statement is
 * parameterised.  Error texts returned in `err` never contain a conninfo
 * (it may carry a password) or row data.
 */
#ifndef BB_STORE_H
#define BB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

typedef struct store store;

/*
 * Connect.  conninfo may be NULL or "" (libpq's PG* environment applies), a
 * keyword/value string or a URI.  Returns NULL and fills err on failure.
 */
store *store_connect(const char *conninfo, char *err, size_t errlen);

/* The underlying connection; owned by the store. */
PGconn *store_pg(store *s);

void store_close(store *s);

/* First and largest wait between two reconnection attempts of store_ensure(). */
#define STORE_RECONNECT_FIRST_US 500000LL
#define STORE_RECONNECT_MAX_US 15000000LL

/*
 * Keep a long-lived connection usable (the daemon loop calls it every
 * round).  When libpq reports the connection broken (the server restarted,
 * was stopped, or terminated the session), it is re-established with
 * PQreset() at most once per backoff step (STORE_RECONNECT_FIRST_US doubling
 * to STORE_RECONNECT_MAX_US); the PGconn pointer stays the same, so whoever
 * holds store_pg() keeps a valid handle.  The loss is logged once (with
 * libpq's reason), the recovery once (with the outage's length).  Returns
 * true when the connection is up now.
 */
bool store_ensure(store *s, int64_t now_us);

/* True while store_ensure() has found the connection broken and not yet back. */
bool store_is_down(const store *s);

/*
 * Run one parameterised statement.  Returns the result (caller PQclear()s)
 * when it succeeded (command or tuples), else NULL with err filled from the
 * server's message.
 */
PGresult *store_exec(store *s, const char *sql, int nparams,
		     const char *const *params, char *err, size_t errlen);

/* Run a statement whose result is not needed; 0 or -1 with err filled. */
int store_cmd(store *s, const char *sql, int nparams, const char *const *params,
	      char *err, size_t errlen);

/*
 * A text[] literal of v[0..n-1] for a query parameter ("$1::text[]"): every
 * element quoted and escaped, a NULL element as NULL.  Free it.
 */
char *store_array_literal(const char *const *v, size_t n);

/*
 * Apply the embedded migrations that are missing, each in its own
 * transaction, under an advisory lock so concurrent runs are safe.
 * *applied is set to how many were applied now.  0 or -1 with err.
 */
int store_migrate(store *s, int *applied, char *err, size_t errlen);

/* Highest applied migration version, 0 when none; -1 on error. */
int store_schema_version(store *s, char *err, size_t errlen);

/* Latest version this binary knows. */
int store_latest_version(void);

#endif
