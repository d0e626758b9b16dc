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
