#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "migrations.h"
#include "util.h"

/* pg_advisory_lock key for migrations: "bbingest" as an int8 */
#define MIGRATE_LOCK_KEY "7089548713527571316"

struct store {
	PGconn *conn;
	bool down;                  /* broken, being re-established */
	int64_t down_since_us;
	int64_t next_try_us;
	int64_t backoff_us;
	unsigned attempts;
};

static void copy_pg_error(const char *what, const char *msg, char *err, size_t errlen)
{
	size_t n;

	if (!err || !errlen)
		return;
	snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
	/* libpq messages end with a newline and may have several lines */
	n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	for (char *p = err; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void notice_to_log(void *arg, const char *message)
{
	size_t n = strlen(message);

	(void)arg;
	while (n && message[n - 1] == '\n')
		n--;
	log_debug("database: %.*s", (int)n, message);
}

store *store_connect(const char *conninfo, char *err, size_t errlen)
{
	const char *keys[] = { "dbname", "application_name", "connect_timeout", "client_encoding", NULL };
	const char *vals[] = { conninfo && *conninfo ? conninfo : NULL, "bbingest", "10", "UTF8", NULL };
	PGconn *conn;
	store *s;

	/* expand_dbname=1: dbname may be a full conninfo string or URI */
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn) {
		snprintf(err, errlen, "could not connect to the database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		copy_pg_error("could not connect to the database", PQerrorMessage(conn), err, errlen);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	s = xcalloc(1, sizeof *s);
	s->conn = conn;
	return s;
}

static void one_line(const char *msg, char *out, size_t outlen)
{
	copy_pg_error("", msg, out, outlen);
	/* drop the ": " copy_pg_error put first */
	memmove(out, out + 2, strlen(out + 2) + 1);
}

bool store_ensure(store *s, int64_t now_us)
{
	char why[512];

	if (!s->down) {
		if (PQstatus(s->conn) == CONNECTION_OK)
			return true;
		one_line(PQerrorMessage(s->conn), why, sizeof why);
		log_error("lost the database connection (%s); reconnecting in the background, "
			  "work that needs the database waits", why);
		s->down = true;
		s->down_since_us = now_us;
		s->backoff_us = STORE_RECONNECT_FIRST_US;
		s->next_try_us = now_us;
		s->attempts = 0;
	}
	if (now_us < s->next_try_us)
		return false;
	s->attempts++;
	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		if (s->attempts == 1 || s->attempts % 20 == 0) {
			one_line(PQerrorMessage(s->conn), why, sizeof why);
			log_warning("database still unreachable after %u attempt%s (%s); trying again",
				    s->attempts, s->attempts == 1 ? "" : "s", why);
		}
		s->next_try_us = now_us + s->backoff_us;
		s->backoff_us = s->backoff_us * 2 > STORE_RECONNECT_MAX_US ? STORE_RECONNECT_MAX_US
									  : s->backoff_us * 2;
		return false;
	}
	PQsetClientEncoding(s->conn, "UTF8");
	log_notice("database connection re-established after %.1f s (%u attempt%s)",
		   (double)(now_us - s->down_since_us) / 1e6, s->attempts, s->attempts == 1 ? "" : "s");
	s->down = false;
	return true;
}

bool store_is_down(const store *s)
{
	return s && s->down;
}

PGconn *store_pg(store *s)
{
	return s->conn;
}

void store_close(store *s)
{
	if (!s)
		return;
	PQfinish(s->conn);
	free(s);
}

PGresult *store_exec(store *s, const char *sql, int nparams,
		     const char *const *params, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	copy_pg_error("database error", r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn),
		      err, errlen);
	PQclear(r);
	return NULL;
}

int store_cmd(store *s, const char *sql, int nparams, const char *const *params,
	      char *err, size_t errlen)
{
	PGresult *r = store_exec(s, sql, nparams, params, err, errlen);

	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

/* Simple-protocol execution: a migration is a script of many statements. */
static int exec_script(store *s, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(s->conn, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		copy_pg_error(what, r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn), err, errlen);
		rc = -1;
	}
	PQclear(r);
	return rc;
}

static char *migration_text(const bb_migration *m)
{
	sbuf b;

	sbuf_init(&b, 0);
	for (size_t i = 0; m->lines[i]; i++)
		sbuf_puts(&b, m->lines[i]);
	return sbuf_steal(&b);
}

static void sha256_hex(const char *text, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int store_latest_version(void)
{
	return bb_migrations_count ? bb_migrations[bb_migrations_count - 1].version : 0;
}

int store_schema_version(store *s, char *err, size_t errlen)
{
	/* two statements: a query naming a missing table fails when parsed,
	 * whatever a CASE around it says */
	PGresult *r = store_exec(s, "SELECT to_regclass('bb.schema_version') IS NOT NULL", 0, NULL,
				 err, errlen);
	int v;

	if (!r)
		return -1;
	v = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!v)
		return 0;       /* never migrated */
	r = store_exec(s, "SELECT coalesce(max(version), 0) FROM bb.schema_version", 0, NULL,
		       err, errlen);
	if (!r)
		return -1;
	v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

int store_migrate(store *s, int *applied, char *err, size_t errlen)
{
	int rc = -1;

	*applied = 0;
	if (store_cmd(s, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL, err, errlen) < 0)
		return -1;
	if (exec_script(s,
		"SET client_min_messages = warning;"
		"CREATE SCHEMA IF NOT EXISTS bb;"
		"CREATE TABLE IF NOT EXISTS bb.schema_version ("
		"  version integer PRIMARY KEY,"
		"  name text NOT NULL,"
		"  checksum text NOT NULL,"
		"  applied_at timestamptz NOT NULL DEFAULT now());"
		"COMMENT ON TABLE bb.schema_version IS 'Migrations applied by bbingest migrate';",
		"could not prepare the migration table", err, errlen) < 0)
		goto out;

	for (size_t i = 0; i < bb_migrations_count; i++) {
		const bb_migration *m = &bb_migrations[i];
		char version[16], sum[65];
		const char *p[3];
		char *text = migration_text(m);
		PGresult *r;

		sha256_hex(text, sum);
		snprintf(version, sizeof version, "%d", m->version);
		p[0] = version;
		r = store_exec(s, "SELECT checksum FROM bb.schema_version WHERE version = $1",
			       1, p, err, errlen);
		if (!r) {
			free(text);
			goto out;
		}
		if (PQntuples(r) == 1) {
			if (strcmp(PQgetvalue(r, 0, 0), sum) != 0)
				log_warning("migration %s has changed since it was applied; "
					    "the database keeps the applied version", m->name);
			PQclear(r);
			free(text);
			continue;
		}
		PQclear(r);
		log_info("applying migration %s", m->name);
		if (exec_script(s, "BEGIN", "could not start a transaction", err, errlen) < 0) {
			free(text);
			goto out;
		}
		{
			char what[128];

			snprintf(what, sizeof what, "migration %s failed", m->name);
			if (exec_script(s, text, what, err, errlen) < 0) {
				free(text);
				exec_script(s, "ROLLBACK", "rollback", NULL, 0);
				goto out;
			}
		}
		free(text);
		p[1] = m->name;
		p[2] = sum;
		if (store_cmd(s, "INSERT INTO bb.schema_version (version, name, checksum) "
			      "VALUES ($1, $2, $3)", 3, p, err, errlen) < 0 ||
		    exec_script(s, "COMMIT", "could not commit the migration", err, errlen) < 0) {
			exec_script(s, "ROLLBACK", "rollback", NULL, 0);
			goto out;
		}
		(*applied)++;
	}
	rc = 0;
out:
	{
		char e2[256];

		if (store_cmd(s, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", 0, NULL,
			      e2, sizeof e2) < 0 && rc == 0) {
			snprintf(err, errlen, "%s", e2);
			rc = -1;
		}
	}
	return rc;
}

char *store_array_literal(const char *const *v, size_t n)
{
	sbuf b;

	sbuf_init(&b, 0);
	sbuf_putc(&b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sbuf_putc(&b, ',');
		if (!v[i]) {
			sbuf_puts(&b, "NULL");
			continue;
		}
		sbuf_putc(&b, '"');
		for (const char *p = v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				sbuf_putc(&b, '\\');
			sbuf_putc(&b, *p);
		}
		sbuf_putc(&b, '"');
	}
	sbuf_putc(&b, '}');
	return sbuf_steal(&b);
}
