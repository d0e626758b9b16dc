/*
 * The loader as the daemon uses it: a page parsed with no connection, then
 * stored on another one (a writer thread's).  A resource repeated inside the
 * page cuts the batch instead of flushing it, and the later version still
 * replaces the earlier: A, B, A' leaves the same tables as loading A and B
 * once.  The rows sent per table are counted (the rows-loaded metric), and a
 * page whose rows outgrow the batch without a connection is rejected with a
 * clear message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/minicheck.h"
#include "flatten.h"
#include "loader.h"
#include "store.h"

static char err[1024];

static void run(store *s, const char *sql)
{
	if (store_cmd(s, sql, 0, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "setup failed: %s: %s\n", sql, err);
		exit(1);
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f) {
		fprintf(stderr, "cannot open fixture %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read fixture %s\n", path);
		exit(1);
	}
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* "eob=N eob_item=N ..." of every claims table */
static void counts(store *s, char *out, size_t outlen)
{
	size_t off = 0;

	out[0] = '\0';
	for (int t = 0; t < FT_COUNT; t++) {
		char sql[160];
		PGresult *r;

		snprintf(sql, sizeof sql, "SELECT count(*) FROM claims.%s", flat_tables[t].name);
		r = store_exec(s, sql, 0, NULL, err, sizeof err);
		if (!r) {
			fprintf(stderr, "count failed: %s\n", err);
			exit(1);
		}
		off += (size_t)snprintf(out + off, outlen - off, "%s=%s ", flat_tables[t].name,
					PQgetvalue(r, 0, 0));
		PQclear(r);
	}
}

/*
 * One page of three NDJSON documents as the daemon stores it: parsed with no
 * connection, then sent and committed on db's.  0, or -1 (the reason printed).
 */
static int deferred_page(loader *l, const char *name, store *db, const char *const doc[3],
			 const size_t len[3])
{
	int rc = 0;

	loader_begin(l, name);
	for (int i = 0; i < 3 && rc == 0; i++)
		if (loader_feed(l, doc[i], len[i]) < 0 || (i < 2 && loader_feed(l, "\n", 1) < 0))
			rc = -1;
	if (rc == 0)
		rc = loader_end_input(l);
	loader_set_conn(l, store_pg(db));
	if (rc == 0)
		rc = loader_commit(l);
	loader_set_conn(l, NULL);
	if (rc < 0)
		printf("loader: %s\n", loader_error(l));
	return rc;
}

int main(void)
{
	const char *fx = getenv("BB_FIXTURES");
	store *adm = store_connect("", err, sizeof err), *db;
	char dbname[64], sql[160], conninfo[96], path[512], want[1024], got[1024];
	char *a, *b;
	size_t alen, blen;
	loader *l;
	int applied;

	if (!adm || !fx) {
		fprintf(stderr, "needs PostgreSQL and BB_FIXTURES (run through meson test): %s\n",
			adm ? "BB_FIXTURES unset" : err);
		return 1;
	}
	snprintf(dbname, sizeof dbname, "bbtest_deferred_%ld", (long)getpid());
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
	run(adm, sql);
	snprintf(conninfo, sizeof conninfo, "dbname=%s", dbname);
	db = store_connect(conninfo, err, sizeof err);
	if (!db || store_migrate(db, &applied, err, sizeof err) < 0) {
		fprintf(stderr, "setup failed: %s\n", err);
		return 1;
	}
	snprintf(path, sizeof path, "%s/ab2d/EOB-for-Carrier-R4.json", fx);
	a = slurp(path, &alen);
	snprintf(path, sizeof path, "%s/ab2d/EOB-for-DME-R4.json", fx);
	b = slurp(path, &blen);

	mc_section("the reference: A and B loaded once on a connection");
	l = loader_new(store_pg(db), NULL, 0);
	loader_begin(l, "reference");
	CHECK(loader_feed(l, a, alen) == 0);
	CHECK(loader_feed(l, "\n", 1) == 0);
	CHECK(loader_feed(l, b, blen) == 0);
	CHECK(loader_commit(l) == 0);
	loader_free(l);
	counts(db, want, sizeof want);
	printf("reference: %s\n", want);
	CHECK(strstr(want, "eob=2 ") != NULL);
	run(db, "TRUNCATE claims.eob, claims.patient, claims.coverage CASCADE");

	mc_section("A, B, A parsed with no connection, stored on another");
	l = loader_new(NULL, NULL, 0);
	CHECK(deferred_page(l, "page 1", db, (const char *const[]){ a, b, a },
			    (const size_t[]){ alen, blen, alen }) == 0);
	CHECK(loader_rows_sent(l, FT_EOB) == 3);
	counts(db, got, sizeof got);
	printf("deferred:  %s\n", got);
	CHECK_STR(got, want);

	mc_section("the rows sent per table count each version");
	{
		uint64_t items = loader_rows_sent(l, FT_EOB_ITEM);
		PGresult *r = store_exec(db, "SELECT count(*) FROM claims.eob_item e"
					 " JOIN claims.eob USING (eob_id)", 0, NULL, err, sizeof err);

		CHECK(r != NULL);
		if (r) {
			long long stored = atoll(PQgetvalue(r, 0, 0));

			printf("eob_item: %llu sent, %lld stored\n", (unsigned long long)items, stored);
			CHECK(items > (uint64_t)stored);
			PQclear(r);
		}
	}

	mc_section("the same page again replaces everything (idempotent)");
	CHECK(deferred_page(l, "page 1 again", db, (const char *const[]){ b, a, b },
			    (const size_t[]){ blen, alen, blen }) == 0);
	counts(db, got, sizeof got);
	CHECK_STR(got, want);
	loader_free(l);

	mc_section("rows outgrowing the batch with no connection: rejected, clearly");
	l = loader_new(NULL, NULL, 4096);
	loader_begin(l, "page 2");
	{
		int rc = loader_feed(l, a, alen);

		if (rc == 0)
			rc = loader_end_input(l);
		CHECK(rc < 0);
		CHECK_HAS(loader_error(l), "the rows of page 2 exceed 4096 bytes");
	}
	loader_abort(l);
	loader_free(l);
	counts(db, got, sizeof got);
	CHECK_STR(got, want);

	free(a);
	free(b);
	store_close(db);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	run(adm, sql);
	store_close(adm);
	return mc_done("loader_deferred");
}
