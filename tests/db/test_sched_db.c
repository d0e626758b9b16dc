/*
 * scheduler leases on a real PostgreSQL: batches, SKIP LOCKED between two
 * connections, expiry takeover, renewal, the in-transaction lease check,
 * release after success and after failure, the app-disabled stop, and the
 * text[] literal the batch queries pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/minicheck.h"
#include "scheduler.h"
#include "store.h"

static store *a, *b;
static char err[1024];

static void run(store *s, const char *sql)
{
	if (store_cmd(s, sql, 0, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "setup failed: %s: %s\n", sql, err);
		exit(1);
	}
}

static long long count(store *s, const char *sql)
{
	PGresult *r = store_exec(s, sql, 0, NULL, err, sizeof err);
	long long n;

	if (!r) {
		fprintf(stderr, "query failed: %s: %s\n", sql, err);
		exit(1);
	}
	n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

int main(void)
{
	sched_lease *l = NULL, *l2 = NULL;
	size_t n = 0, n2 = 0;
	int applied;

	store *adm = store_connect("dbname=postgres", err, sizeof err);
	char dbname[64], sql[160], conninfo[96];

	if (!adm) {
		fprintf(stderr, "no database (run the db suite through tests/run-all.sh): %s\n", err);
		return 1;
	}
	/* a database of its own: tests run in parallel */
	snprintf(dbname, sizeof dbname, "bbtest_sched_%ld", (long)getpid());
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
	run(adm, sql);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
	run(adm, sql);
	snprintf(conninfo, sizeof conninfo, "dbname=%s", dbname);
	a = store_connect(conninfo, err, sizeof err);
	b = store_connect(conninfo, err, sizeof err);
	if (!a || !b || store_migrate(a, &applied, err, sizeof err) < 0) {
		fprintf(stderr, "no database: %s\n", err);
		return 1;
	}
	run(a, "INSERT INTO bb.participant (participant_id, state, next_sync_at, demographics)"
	       " SELECT 'P' || lpad(i::text, 4, '0'), 'active', now() - make_interval(secs => 1000 - i),"
	       "        i % 2 = 0"
	       " FROM generate_series(1, 20) i");
	run(a, "INSERT INTO bb.participant (participant_id, state, next_sync_at) VALUES"
	       " ('Q-future', 'active', now() + interval '1 hour'),"
	       " ('Q-invited', 'invited', now() - interval '1 hour'),"
	       " ('Q-reconsent', 'needs_reconsent', now() - interval '1 hour'),"
	       " ('Q-backoff', 'active', now() - interval '1 hour')");
	run(a, "UPDATE bb.participant SET backoff_until = now() + interval '1 hour'"
	       " WHERE participant_id = 'Q-backoff'");

	mc_section("a batch of the oldest due participants, no more than asked");
	CHECK(sched_lease_due(a, "inst-a", 5, 600, &l, &n, err, sizeof err) == 0);
	CHECK(n == 5);
	CHECK(n == 5 && strcmp(l[0].participant_id, "P0001") == 0 && strcmp(l[4].participant_id, "P0005") == 0);
	CHECK(n == 5 && !l[0].demographics && l[1].demographics && l[0].failures == 0 && l[0].due_at);
	CHECK(count(a, "SELECT count(*) FROM bb.participant WHERE lease_owner = 'inst-a'") == 5);

	mc_section("another instance gets other participants, never the leased ones");
	CHECK(sched_lease_due(b, "inst-b", 5, 600, &l2, &n2, err, sizeof err) == 0);
	CHECK(n2 == 5 && strcmp(l2[0].participant_id, "P0006") == 0);
	sched_leases_free(l2, n2);

	mc_section("SKIP LOCKED: a lease in an open transaction does not block the other");
	run(a, "BEGIN");
	CHECK(sched_lease_due(a, "inst-a", 3, 600, &l2, &n2, err, sizeof err) == 0 && n2 == 3);
	sched_leases_free(l2, n2);
	CHECK(sched_lease_due(b, "inst-b", 100, 600, &l2, &n2, err, sizeof err) == 0);
	CHECK(n2 == 20 - 5 - 5 - 3);
	for (size_t i = 0; i < n2; i++)
		CHECK(strncmp(l2[i].participant_id, "P", 1) == 0);
	sched_leases_free(l2, n2);
	run(a, "COMMIT");
	CHECK(count(a, "SELECT count(*) FROM bb.participant WHERE lease_owner IS NOT NULL") == 20);
	CHECK(count(a, "SELECT count(*) FROM bb.participant WHERE participant_id LIKE 'Q%'"
		       " AND lease_owner IS NOT NULL") == 0);

	mc_section("the page commit's lease check");
	run(a, "BEGIN");
	CHECK(sched_check_lease_in_tx(a, "inst-a", "P0001", 600, err, sizeof err) == 1);
	run(a, "COMMIT");
	run(a, "BEGIN");
	CHECK(sched_check_lease_in_tx(a, "inst-b", "P0001", 600, err, sizeof err) == 0);
	run(a, "ROLLBACK");

	mc_section("an expired lease is taken over; renewal tells the loser");
	run(a, "UPDATE bb.participant SET lease_until = now() - interval '1 second'"
	       " WHERE participant_id = 'P0002'");
	CHECK(sched_lease_due(b, "inst-b", 1, 600, &l2, &n2, err, sizeof err) == 0);
	CHECK(n2 == 1 && strcmp(l2[0].participant_id, "P0002") == 0);
	sched_leases_free(l2, n2);
	{
		const char *ids[3] = { "P0001", "P0002", "P0003" };
		bool still[3] = { false, true, false };

		CHECK(sched_renew(a, "inst-a", ids, 3, 600, still, err, sizeof err) == 0);
		CHECK(still[0] && !still[1] && still[2]);
	}
	run(a, "BEGIN");
	CHECK(sched_check_lease_in_tx(a, "inst-a", "P0002", 600, err, sizeof err) == 0);
	run(a, "ROLLBACK");

	mc_section("release after a complete sync: scheduled a day later, failures cleared");
	run(a, "UPDATE bb.participant SET failures = 3, last_error = 'x' WHERE participant_id = 'P0001'");
	CHECK(sched_release_done(a, "inst-a", "P0001", l[0].due_at, 86400, err, sizeof err) == 0);
	CHECK(count(a, "SELECT count(*) FROM bb.participant WHERE participant_id = 'P0001'"
		       " AND lease_owner IS NULL AND failures = 0 AND last_error IS NULL"
		       " AND last_sync_at IS NOT NULL"
		       " AND next_sync_at BETWEEN now() + interval '86390 s' AND now() + interval '86410 s'") == 1);

	mc_section("a sync-now during the walk is kept at release");
	run(a, "UPDATE bb.participant SET next_sync_at = now() WHERE participant_id = 'P0003'");
	CHECK(sched_release_done(a, "inst-a", "P0003", l[2].due_at, 86400, err, sizeof err) == 0);
	CHECK(count(a, "SELECT count(*) FROM bb.participant WHERE participant_id = 'P0003'"
		       " AND next_sync_at <= now()") == 1);

	mc_section("release after a failure: counted, recorded, backing off");
	CHECK(sched_release_later(a, "inst-a", "P0004", 120, true, "http_5xx", "ExplanationOfBenefit page 2: HTTP 503",
				  err, sizeof err) == 0);
	CHECK(count(a, "SELECT count(*) FROM bb.participant WHERE participant_id = 'P0004'"
		       " AND lease_owner IS NULL AND failures = 1 AND last_error LIKE '%HTTP 503'"
		       " AND backoff_until > now() + interval '100 s'") == 1);
	CHECK(count(a, "SELECT count(*) FROM bb.error WHERE participant_id = 'P0004' AND kind = 'http_5xx'") == 1);
	CHECK(sched_release_later(a, "inst-a", "P0005", 30, false, NULL, NULL, err, sizeof err) == 0);
	CHECK(count(a, "SELECT count(*) FROM bb.participant WHERE participant_id = 'P0005'"
		       " AND failures = 0 AND backoff_until > now()") == 1);
	CHECK(count(a, "SELECT count(*) FROM bb.error WHERE participant_id = 'P0005'") == 0);
	/* released rows are not leased again while they back off or are not due;
	   P0003 is, as its sync-now asked */
	CHECK(sched_lease_due(a, "inst-c", 100, 600, &l2, &n2, err, sizeof err) == 0 && n2 == 1);
	CHECK(n2 == 1 && strcmp(l2[0].participant_id, "P0003") == 0);
	sched_leases_free(l2, n2);

	mc_section("release of every lease at shutdown");
	CHECK(sched_release_all(b, "inst-b", err, sizeof err) == 0);
	CHECK(count(a, "SELECT count(*) FROM bb.participant WHERE lease_owner = 'inst-b'") == 0);

	mc_section("a disabled application leases nobody");
	run(a, "UPDATE bb.app_state SET disabled_at = now(), disabled_reason = 'test'");
	CHECK(sched_lease_due(a, "inst-c", 100, 600, &l2, &n2, err, sizeof err) == 0 && n2 == 0);
	sched_leases_free(l2, n2);
	run(a, "UPDATE bb.app_state SET disabled_at = NULL, disabled_reason = NULL");
	CHECK(sched_lease_due(a, "inst-c", 100, 600, &l2, &n2, err, sizeof err) == 0 && n2 > 0);
	sched_leases_free(l2, n2);

	mc_section("a text[] parameter keeps quotes, backslashes, commas, braces and NULLs");
	{
		const char *v[6] = { "P0001", "a\"b", "c\\d", "e,f {g}", NULL, "" };
		char *lit = store_array_literal(v, 6);
		const char *p[1] = { lit };
		PGresult *r = store_exec(a, "SELECT x IS NULL, coalesce(x, '') FROM unnest($1::text[])"
					 " WITH ORDINALITY AS u(x, i) ORDER BY i", 1, p, err, sizeof err);

		CHECK(r && PQntuples(r) == 6);
		for (int i = 0; r && i < PQntuples(r) && i < 6; i++) {
			CHECK((PQgetvalue(r, i, 0)[0] == 't') == (v[i] == NULL));
			CHECK(strcmp(PQgetvalue(r, i, 1), v[i] ? v[i] : "") == 0);
		}
		PQclear(r);
		free(lit);
	}

	sched_leases_free(l, n);
	store_close(a);
	store_close(b);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	run(adm, sql);
	store_close(adm);
	return mc_done("sched_db");
}
