/* bbingest sync-now ID|--all: make participants due at once */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "consent.h"
#include "log.h"
#include "store.h"
#include "store_cli.h"

static const char usage[] =
	"usage: bbingest sync-now [-c FILE] [-d CONNINFO] ID|--all\n"
	"\n"
	"Makes the participant ID (or, with --all, every active participant) due for\n"
	"a sync now, clearing any backoff after failures.  A running daemon starts\n"
	"within about a second; a sync already in progress is followed by another.\n";

int cmd_sync_now(cli_ctx *ctx, int argc, char **argv)
{
	const char *all = NULL;
	const cli_option opts[] = {
		{ "all", 0, false, &all },
		{ NULL, 0, false, NULL },
	};
	char err[1024];
	store *st;
	PGresult *r;
	int rc;

	rc = cli_parse(ctx, argc, argv, opts, usage);
	if (rc)
		return rc > 0 ? EX_OK : EX_USAGE;
	if ((all && ctx->argc != 0) || (!all && ctx->argc != 1)) {
		fprintf(stderr, "%s", usage);
		return EX_USAGE;
	}
	if (!all && !consent_id_valid(ctx->argv[0], err, sizeof err)) {
		/* not echoed: it may be huge or hold control bytes */
		log_error("%s", err);
		return EX_DATAERR;
	}
	rc = store_for_command(ctx, STORE_CLI_FILE_OPTIONAL, NULL, &st, NULL);
	if (rc != EX_OK)
		return rc;
	if (all) {
		r = store_exec(st,
			       "UPDATE bb.participant SET next_sync_at = now(), backoff_until = NULL,"
			       " failures = 0, updated_at = now() WHERE state = 'active'"
			       " RETURNING lease_until > now()",
			       0, NULL, err, sizeof err);
		if (!r) {
			log_error("could not queue the participants: %s", err);
			store_close(st);
			return EX_SOFTWARE;
		}
		{
			int n = PQntuples(r), busy = 0;

			for (int i = 0; i < n; i++)
				busy += PQgetvalue(r, i, 0)[0] == 't';
			printf("queued %d active participant%s for a sync now", n, n == 1 ? "" : "s");
			if (busy)
				printf(" (%d already syncing: another sync follows)", busy);
			printf("\n");
		}
		PQclear(r);
		store_close(st);
		return EX_OK;
	} else {
		const char *params[1] = { ctx->argv[0] };
		const char *state;

		r = store_exec(st,
			       "UPDATE bb.participant p SET"
			       "  next_sync_at = CASE WHEN p.state = 'active' THEN now() ELSE p.next_sync_at END,"
			       "  backoff_until = CASE WHEN p.state = 'active' THEN NULL ELSE p.backoff_until END,"
			       "  failures = CASE WHEN p.state = 'active' THEN 0 ELSE p.failures END,"
			       "  updated_at = now()"
			       " WHERE p.participant_id = $1"
			       " RETURNING p.state, coalesce(p.lease_until > now(), false)",
			       1, params, err, sizeof err);
		if (!r) {
			log_error("could not queue participant \"%s\": %s", ctx->argv[0], err);
			store_close(st);
			return EX_SOFTWARE;
		}
		if (PQntuples(r) != 1) {
			log_error("no participant \"%s\"", ctx->argv[0]);
			fprintf(stderr, "HINT: bbingest status lists the participants\n");
			PQclear(r);
			store_close(st);
			return EX_DATAERR;
		}
		state = PQgetvalue(r, 0, 0);
		if (strcmp(state, "active") != 0) {
			log_error("participant \"%s\" is %s; only active participants sync",
				  ctx->argv[0], state);
			if (strcmp(state, "needs_reconsent") == 0 || strcmp(state, "invited") == 0)
				fprintf(stderr, "HINT: send a new invitation with bbingest invite %s\n",
					ctx->argv[0]);
			PQclear(r);
			store_close(st);
			return EX_DATAERR;
		}
		printf("participant %s queued for a sync now%s\n", ctx->argv[0],
		       PQgetvalue(r, 0, 1)[0] == 't' ? " (a sync is in progress: another follows)" : "");
		PQclear(r);
		store_close(st);
		return EX_OK;
	}
}
