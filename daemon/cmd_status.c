/* bbingest status [ID]: participants' consent and sync state */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "consent.h"
#include "log.h"
#include "store.h"
#include "store_cli.h"
#include "util.h"

static const char usage[] =
	"usage: bbingest status [-c FILE] [-d CONNINFO] [ID]\n"
	"\n"
	"Without ID: how many participants are in each state, how many are due,\n"
	"backing off or syncing, and one line per participant (state, last sync,\n"
	"next due, claims stored, last error).  With ID: that participant's state,\n"
	"schedule, per-resource walk and watermark, rows per claims table and the\n"
	"last errors.  Reads the database only; tokens are never shown.\n";

/* The claims tables counted per participant, and how to reach participant_id. */
static const struct {
	const char *table;
	bool via_eob;       /* the row's participant is its EOB's */
} counted[] = {
	{ "eob", false },
	{ "eob_item", true },
	{ "eob_item_adjudication", true },
	{ "eob_item_detail", true },
	{ "eob_diagnosis", true },
	{ "eob_procedure", true },
	{ "eob_care_team", true },
	{ "eob_supporting_info", true },
	{ "eob_total", true },
	{ "eob_extension", true },
	{ "coverage", false },
	{ "patient", false },
};

#define TS(col) "coalesce(to_char(" col ", 'YYYY-MM-DD HH24:MI:SSOF'), '-')"

static const char *val(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "-" : PQgetvalue(r, row, col);
}

static bool table_exists(store *st, const char *table)
{
	char name[96], err[256];
	const char *params[1] = { name };
	PGresult *r;
	bool yes;

	snprintf(name, sizeof name, "claims.%s", table);
	r = store_exec(st, "SELECT to_regclass($1) IS NOT NULL", 1, params, err, sizeof err);
	if (!r)
		return false;
	yes = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return yes;
}

static int show_one(store *st, const char *id)
{
	const char *params[1] = { id };
	char err[1024];
	PGresult *r;

	r = store_exec(st,
		       "SELECT state, coalesce(patient_id, '-'),"
		       " CASE WHEN demographics IS NULL THEN '-' WHEN demographics THEN 'granted'"
		       "      ELSE 'withheld' END,"
		       " " TS("enrolled_at") ", " TS("last_sync_at") ","
		       " CASE WHEN next_sync_at IS NULL THEN 'not scheduled'"
		       "      WHEN next_sync_at <= now() THEN 'now (' || to_char(next_sync_at, 'YYYY-MM-DD HH24:MI:SSOF') || ')'"
		       "      ELSE to_char(next_sync_at, 'YYYY-MM-DD HH24:MI:SSOF') END,"
		       " failures,"
		       " CASE WHEN backoff_until > now() THEN to_char(backoff_until, 'YYYY-MM-DD HH24:MI:SSOF')"
		       "      ELSE '-' END,"
		       " CASE WHEN lease_until > now() THEN lease_owner || ' until ' ||"
		       "      to_char(lease_until, 'HH24:MI:SS') ELSE '-' END,"
		       " coalesce(last_error, '-'), " TS("withdrawn_at")
		       " FROM bb.participant WHERE participant_id = $1",
		       1, params, err, sizeof err);
	if (!r) {
		log_error("could not read participant \"%s\": %s", id, err);
		return EX_SOFTWARE;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		log_error("no participant \"%s\"", id);
		fprintf(stderr, "HINT: bbingest status without an ID lists the participants\n");
		return EX_DATAERR;
	}
	printf("participant   %s\n", id);
	printf("state         %s\n", val(r, 0, 0));
	printf("patient id    %s\n", val(r, 0, 1));
	printf("demographics  %s\n", val(r, 0, 2));
	printf("enrolled      %s\n", val(r, 0, 3));
	if (strcmp(val(r, 0, 10), "-") != 0)
		printf("withdrawn     %s\n", val(r, 0, 10));
	printf("last sync     %s\n", val(r, 0, 4));
	printf("next due      %s\n", val(r, 0, 5));
	printf("failures      %s\n", val(r, 0, 6));
	printf("backing off   %s\n", val(r, 0, 7));
	printf("syncing       %s\n", val(r, 0, 8));
	printf("last error    %s\n", val(r, 0, 9));
	PQclear(r);

	r = store_exec(st,
		       "SELECT resource,"
		       " CASE WHEN next_url IS NOT NULL THEN 'walk in progress'"
		       "      WHEN completed_at IS NOT NULL THEN 'complete' ELSE '-' END,"
		       " " TS("watermark") ", " TS("completed_at") ", pages,"
		       " coalesce(walk_total::text, '-')"
		       " FROM bb.sync_cursor WHERE participant_id = $1 ORDER BY resource",
		       1, params, err, sizeof err);
	if (!r) {
		log_error("could not read the sync cursors of \"%s\": %s", id, err);
		return EX_SOFTWARE;
	}
	printf("\n%-22s %-17s %-24s %-24s %7s %6s\n", "resource", "walk", "watermark",
	       "completed", "pages", "total");
	for (int i = 0; i < PQntuples(r); i++)
		printf("%-22s %-17s %-24s %-24s %7s %6s\n", val(r, i, 0), val(r, i, 1), val(r, i, 2),
		       val(r, i, 3), val(r, i, 4), val(r, i, 5));
	if (PQntuples(r) == 0)
		printf("(no page stored yet)\n");
	PQclear(r);

	printf("\n%-24s %10s\n", "table", "rows");
	for (size_t t = 0; t < sizeof counted / sizeof counted[0]; t++) {
		char *sql;

		if (!table_exists(st, counted[t].table))
			continue;
		sql = counted[t].via_eob
			? xasprintf("SELECT count(*) FROM claims.%s x JOIN claims.eob e USING (eob_id)"
				    " WHERE e.participant_id = $1", counted[t].table)
			: xasprintf("SELECT count(*) FROM claims.%s WHERE participant_id = $1",
				    counted[t].table);
		r = store_exec(st, sql, 1, params, err, sizeof err);
		free(sql);
		if (!r) {
			log_error("could not count claims.%s rows of \"%s\": %s", counted[t].table, id, err);
			return EX_SOFTWARE;
		}
		printf("claims.%-17s %10s\n", counted[t].table, val(r, 0, 0));
		PQclear(r);
	}

	r = store_exec(st,
		       "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SSOF'), kind, message FROM bb.error"
		       " WHERE participant_id = $1 ORDER BY at DESC, error_id DESC LIMIT 5",
		       1, params, err, sizeof err);
	if (!r) {
		log_error("could not read the errors of \"%s\": %s", id, err);
		return EX_SOFTWARE;
	}
	printf("\nrecent errors\n");
	for (int i = 0; i < PQntuples(r); i++)
		printf("  %s  %-18s %s\n", val(r, i, 0), val(r, i, 1), val(r, i, 2));
	if (PQntuples(r) == 0)
		printf("  (none)\n");
	PQclear(r);
	return EX_OK;
}

static int show_all(store *st)
{
	char err[1024];
	PGresult *r;
	bool have_eob = table_exists(st, "eob");
	char *sql;

	r = store_exec(st,
		       "SELECT s.state, count(p.participant_id),"
		       " count(*) FILTER (WHERE p.state = 'active' AND p.next_sync_at <= now()"
		       "   AND coalesce(p.backoff_until <= now(), true)),"
		       " count(*) FILTER (WHERE p.backoff_until > now()),"
		       " count(*) FILTER (WHERE p.lease_until > now())"
		       " FROM unnest(ARRAY['invited','active','needs_reconsent','refresh_in_doubt',"
		       "   'withdrawn']) AS s(state)"
		       " LEFT JOIN bb.participant p ON p.state = s.state"
		       " GROUP BY s.state ORDER BY array_position(ARRAY['invited','active',"
		       "   'needs_reconsent','refresh_in_doubt','withdrawn'], s.state)",
		       0, NULL, err, sizeof err);
	if (!r) {
		log_error("could not read the participants: %s", err);
		return EX_SOFTWARE;
	}
	printf("%-18s %8s %8s %12s %8s\n", "state", "count", "due", "backing off", "syncing");
	for (int i = 0; i < PQntuples(r); i++)
		printf("%-18s %8s %8s %12s %8s\n", val(r, i, 0), val(r, i, 1), val(r, i, 2),
		       val(r, i, 3), val(r, i, 4));
	PQclear(r);

	sql = xasprintf(
		"SELECT p.participant_id, p.state, " TS("p.last_sync_at") ","
		" CASE WHEN p.next_sync_at IS NULL THEN '-'"
		"      WHEN greatest(p.next_sync_at, p.backoff_until) <= now() THEN 'now'"
		"      ELSE to_char(greatest(p.next_sync_at, p.backoff_until), 'YYYY-MM-DD HH24:MI:SSOF') END,"
		" %s, coalesce(left(p.last_error, 60), '-')"
		" FROM bb.participant p ORDER BY p.participant_id",
		have_eob ? "(SELECT count(*) FROM claims.eob e WHERE e.participant_id = p.participant_id)::text"
			 : "'-'");
	r = store_exec(st, sql, 0, NULL, err, sizeof err);
	free(sql);
	if (!r) {
		log_error("could not read the participants: %s", err);
		return EX_SOFTWARE;
	}
	printf("\n%-20s %-16s %-24s %-24s %8s  %s\n", "participant", "state", "last sync", "next due",
	       "claims", "last error");
	for (int i = 0; i < PQntuples(r); i++)
		printf("%-20s %-16s %-24s %-24s %8s  %s\n", val(r, i, 0), val(r, i, 1), val(r, i, 2),
		       val(r, i, 3), val(r, i, 4), val(r, i, 5));
	if (PQntuples(r) == 0)
		printf("(no participants yet: bbingest invite ID enrols one)\n");
	PQclear(r);
	return EX_OK;
}

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
	char err[1024];
	store *st;
	int rc;

	rc = cli_parse(ctx, argc, argv, NULL, usage);
	if (rc)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc > 1) {
		fprintf(stderr, "%s", usage);
		return EX_USAGE;
	}
	rc = store_for_command(ctx, STORE_CLI_FILE_OPTIONAL, NULL, &st, NULL);
	if (rc != EX_OK)
		return rc;
	if (ctx->argc == 1 && !consent_id_valid(ctx->argv[0], err, sizeof err)) {
		/* not echoed: it may be huge or hold control bytes */
		log_error("%s", err);
		store_close(st);
		return EX_DATAERR;
	}
	rc = ctx->argc == 1 ? show_one(st, ctx->argv[0]) : show_all(st);
	store_close(st);
	return rc;
}
