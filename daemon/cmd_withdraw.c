/* bbingest withdraw ID [--purge]: end a participant's consent */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cli.h"
#include "config.h"
#include "consent.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "oauth.h"
#include "oauthutil.h"
#include "store.h"
#include "store_cli.h"
#include "tokens.h"
#include "util.h"
#include "vault.h"

static const char usage[] =
	"usage: bbingest withdraw [-c FILE] [-d CONNINFO] [--purge] ID\n"
	"\n"
	"Withdraws participant ID: stops syncing at once (state withdrawn), ends the\n"
	"grant at Blue Button (POST /v2/o/revoke/ with a current access token, refreshed\n"
	"first if needed; a grant that is already dead is fine), deletes the stored\n"
	"tokens, pending authorizations and unused invitations, and writes audit rows.\n"
	"  --purge   also delete the participant's claims (claims.eob and its child\n"
	"            tables, claims.patient, claims.coverage), sync cursors and errors;\n"
	"            the audit log is kept\n"
	"Safe to repeat.  Exits 75 (EX_TEMPFAIL) when Blue Button could not be reached:\n"
	"the participant is withdrawn and no longer synced, the tokens are kept so that\n"
	"running the command again can still revoke the grant.\n";

/* The claims tables holding a participant_id column; children of eob cascade. */
static const char *const purge_tables[] = { "claims.eob", "claims.patient", "claims.coverage" };

typedef struct wait_access {
	bool done;
	tokens_status st;
	char *token;
} wait_access;

static void got_access(void *ud, tokens_status st, const char *access_token)
{
	wait_access *w = ud;

	w->done = true;
	w->st = st;
	w->token = access_token ? xstrdup(access_token) : NULL;
}

typedef struct wait_http {
	bool done;
	long status;
	CURLcode code;
	char desc[300];
} wait_http;

static void revoke_done(void *ud, const http_result *res)
{
	wait_http *w = ud;
	oauth_token_response tr;
	char err[128];
	bool parsed = false;

	w->done = true;
	w->status = res->status;
	w->code = res->code;
	memset(&tr, 0, sizeof tr);
	if (res->status && res->body)
		parsed = oauth_parse_token_response(res->body, res->body_len, &tr, err, sizeof err) == 0;
	oauth_describe(res, parsed ? &tr : NULL, w->desc, sizeof w->desc);
	oauth_token_response_clear(&tr);
}

/* A small synchronous loop around the http module (and the token service). */
static void run_until(bb_daemon *d, tokens *t, const bool *done, int64_t deadline_us)
{
	while (!*done && now_mono_us() < deadline_us) {
		int64_t now = now_mono_us(), wake = now + 200000;
		int64_t w = t ? tokens_tick(t, now) : INT64_MAX;

		if (*done)
			break;
		if (w < wake)
			wake = w;
		http_poll(d->http, NULL, 0, wake <= now ? 0 : (int)((wake - now + 999) / 1000));
		http_perform(d->http);
	}
}

typedef enum { REVOKE_DONE, REVOKE_NOTHING, REVOKE_LATER } revoke_result;

/* Get a current access token and revoke the grant with it. */
static revoke_result revoke_grant(bb_daemon *d, const char *id, char *why, size_t whylen)
{
	const bb_config *cfg = d->cfg;
	char err[512];
	tokens *t = tokens_new(d, false, err, sizeof err);
	wait_access wa = { 0 };
	wait_http wh = { 0 };
	int64_t deadline = now_mono_us() + (int64_t)(cfg->token_timeout_s + 60) * 1000000;
	revoke_result rr;

	if (!t) {
		snprintf(why, whylen, "%s", err);
		return REVOKE_LATER;
	}
	if (tokens_get_access(t, id, got_access, &wa) < 0) {
		snprintf(why, whylen, "the token service refused the request");
		tokens_free(t);
		return REVOKE_LATER;
	}
	run_until(d, t, &wa.done, deadline);
	if (!wa.done) {
		tokens_free(t);
		snprintf(why, whylen, "no access token within %d s", cfg->token_timeout_s + 60);
		return REVOKE_LATER;
	}
	switch (wa.st) {
	case TOKENS_OK:
		break;
	case TOKENS_NO_GRANT:
	case TOKENS_RECONSENT:
		tokens_free(t);
		snprintf(why, whylen, "the grant was already dead at Blue Button");
		return REVOKE_NOTHING;
	case TOKENS_IN_DOUBT:
		tokens_free(t);
		snprintf(why, whylen, "the last refresh got no clear answer, so the grant is "
			 "probably dead already");
		return REVOKE_NOTHING;
	default:
		tokens_free(t);
		snprintf(why, whylen, "no access token: %s", tokens_status_name(wa.st));
		return REVOKE_LATER;
	}
	{
		char *body = oauth_revoke_body(wa.token);

		ou_free_secret(wa.token);
		wa.token = NULL;
		if (oauth_post(d->http, cfg, "revoke", body, revoke_done, &wh, err, sizeof err) < 0) {
			snprintf(wh.desc, sizeof wh.desc, "%.200s", err);
			wh.done = true;
			wh.code = CURLE_FAILED_INIT;
		}
	}
	run_until(d, NULL, &wh.done, now_mono_us() + (int64_t)(cfg->token_timeout_s + 5) * 1000000);
	tokens_free(t);
	if (wh.done && wh.code == CURLE_OK && wh.status >= 200 && wh.status < 300) {
		snprintf(why, whylen, "revoked (%s)", wh.desc);
		rr = REVOKE_DONE;
	} else if (wh.done && wh.code == CURLE_OK && wh.status >= 400 && wh.status < 500 &&
		   wh.status != 429) {
		/* Blue Button no longer knows the token or the grant: nothing left to end */
		snprintf(why, whylen, "the grant was already dead at Blue Button (%s)", wh.desc);
		rr = REVOKE_NOTHING;
	} else {
		snprintf(why, whylen, "Blue Button did not confirm the revocation (%s)",
			 wh.done ? wh.desc : "no answer");
		rr = REVOKE_LATER;
	}
	return rr;
}

static int purge(store *db, const char *id, long long *rows, char *err, size_t errlen)
{
	const char *p[1] = { id };

	*rows = 0;
	for (size_t i = 0; i < sizeof purge_tables / sizeof purge_tables[0]; i++) {
		const char *tp[1] = { purge_tables[i] };
		PGresult *r = store_exec(db, "SELECT to_regclass($1) IS NOT NULL", 1, tp, err, errlen);
		bool exists;
		char *sql;

		if (!r)
			return -1;
		exists = PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (!exists)
			continue;
		/* table names come from the constant list above */
		sql = xasprintf("DELETE FROM %s WHERE participant_id = $1", purge_tables[i]);
		r = store_exec(db, sql, 1, p, err, errlen);
		free(sql);
		if (!r)
			return -1;
		*rows += atoll(PQcmdTuples(r));
		PQclear(r);
	}
	if (store_cmd(db, "DELETE FROM bb.sync_cursor WHERE participant_id = $1", 1, p, err, errlen) < 0 ||
	    store_cmd(db, "DELETE FROM bb.error WHERE participant_id = $1", 1, p, err, errlen) < 0 ||
	    store_cmd(db, "DELETE FROM bb.invitation WHERE participant_id = $1", 1, p, err, errlen) < 0 ||
	    store_cmd(db, "DELETE FROM bb.pending_authorization WHERE participant_id = $1", 1, p, err, errlen) < 0 ||
	    store_cmd(db, "UPDATE bb.participant SET patient_id = NULL, scopes = NULL, demographics = NULL, "
		      "last_error = NULL, last_sync_at = NULL, updated_at = now() WHERE participant_id = $1",
		      1, p, err, errlen) < 0)
		return -1;
	return 0;
}

int cmd_withdraw(cli_ctx *ctx, int argc, char **argv)
{
	const char *purge_opt = NULL;
	const cli_option opts[] = {
		{ "purge", 0, false, &purge_opt },
		{ NULL, 0, false, NULL },
	};
	bb_config *cfg = NULL;
	bb_daemon d = { 0 };
	char err[1024], why[512] = "", host[64] = "localhost";
	const char *id, *p[1];
	PGresult *r;
	bool has_token, was_withdrawn;
	char prev_state[24];
	revoke_result rr = REVOKE_NOTHING;
	int rc;

	rc = cli_parse(ctx, argc, argv, opts, usage);
	if (rc)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (ctx->argc != 1) {
		log_error("withdraw takes one participant id, got %d arguments", ctx->argc);
		fprintf(stderr, "%s", usage);
		return EX_USAGE;
	}
	id = ctx->argv[0];
	p[0] = id;
	if (!consent_id_valid(id, err, sizeof err)) {
		log_error("%s", err);
		return EX_DATAERR;
	}
	rc = config_for_command(ctx, true, false, &cfg);
	if (rc != EX_OK)
		return rc;
	d.cfg = cfg;
	d.vault = vault_open_key(cfg->vault_key_path, NULL, err, sizeof err);
	if (!d.vault) {
		log_error("%s", err);
		config_free(cfg);
		return EX_CONFIG;
	}
	gethostname(host, sizeof host - 1);
	snprintf(d.instance_id, sizeof d.instance_id, "withdraw:%s:%ld", host, (long)getpid());
	rc = store_for_config(cfg, STORE_CLI_CURRENT, &d.db, NULL);
	if (rc != EX_OK)
		goto out;

	/* 1. stop syncing at once */
	rc = EX_SOFTWARE;
	if (store_cmd(d.db, "BEGIN", 0, NULL, err, sizeof err) < 0)
		goto dberr;
	r = store_exec(d.db, "SELECT p.state, EXISTS (SELECT 1 FROM bb.token t WHERE "
		       "t.participant_id = p.participant_id) FROM bb.participant p "
		       "WHERE p.participant_id = $1 FOR UPDATE OF p", 1, p, err, sizeof err);
	if (!r)
		goto dberr;
	if (PQntuples(r) != 1) {
		PQclear(r);
		store_cmd(d.db, "ROLLBACK", 0, NULL, err, sizeof err);
		log_error("participant %s does not exist", id);
		fprintf(stderr, "HINT: \"bbingest status\" lists the participants\n");
		rc = EX_DATAERR;
		goto out;
	}
	snprintf(prev_state, sizeof prev_state, "%s", PQgetvalue(r, 0, 0));
	has_token = PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	was_withdrawn = strcmp(prev_state, "withdrawn") == 0;
	if (!was_withdrawn) {
		const char *k[3] = { "from", "to", "reason" };
		const char *v[3] = { prev_state, "withdrawn", "withdraw command" };

		if (store_cmd(d.db, "UPDATE bb.participant SET state = 'withdrawn', withdrawn_at = now(), "
			      "next_sync_at = NULL, lease_owner = NULL, lease_until = NULL, "
			      "updated_at = now() WHERE participant_id = $1", 1, p, err, sizeof err) < 0 ||
		    consent_audit(d.db, id, "state_changed", 3, k, v, err, sizeof err) < 0)
			goto dberr;
	}
	if (store_cmd(d.db, "COMMIT", 0, NULL, err, sizeof err) < 0)
		goto dberr;

	/* 2. end the grant at Blue Button */
	if (has_token) {
		d.http = http_new(cfg->ca_file, 4, false, err, sizeof err);
		if (!d.http) {
			snprintf(why, sizeof why, "%.400s", err);
			rr = REVOKE_LATER;
		} else {
			rr = revoke_grant(&d, id, why, sizeof why);
			http_free(d.http);
			d.http = NULL;
		}
	}

	/* 3. forget the grant (unless it must be revoked later), purge */
	if (store_cmd(d.db, "BEGIN", 0, NULL, err, sizeof err) < 0)
		goto dberr;
	if (rr != REVOKE_LATER) {
		if (store_cmd(d.db, "DELETE FROM bb.token WHERE participant_id = $1", 1, p, err, sizeof err) < 0 ||
		    store_cmd(d.db, "DELETE FROM bb.pending_authorization WHERE participant_id = $1",
			      1, p, err, sizeof err) < 0 ||
		    store_cmd(d.db, "DELETE FROM bb.invitation WHERE participant_id = $1 AND used_at IS NULL",
			      1, p, err, sizeof err) < 0 ||
		    store_cmd(d.db, "UPDATE bb.participant SET refresh_started_at = NULL, "
			      "refresh_owner = NULL, updated_at = now() WHERE participant_id = $1",
			      1, p, err, sizeof err) < 0)
			goto dberr;
		if (rr == REVOKE_DONE) {
			const char *k[1] = { "answer" };
			const char *v[1] = { why };

			if (consent_audit(d.db, id, "revoked", 1, k, v, err, sizeof err) < 0)
				goto dberr;
		}
	}
	if (!was_withdrawn || has_token) {
		const char *k[3] = { "previous_state", "grant", "tokens_deleted" };
		const char *v[3] = { prev_state,
				     rr == REVOKE_DONE ? "revoked" : rr == REVOKE_LATER ? "revoke pending" :
				     has_token ? "already dead" : "none held",
				     rr == REVOKE_LATER ? "false" : "true" };

		if (consent_audit(d.db, id, "withdrawn", 3, k, v, err, sizeof err) < 0)
			goto dberr;
	}
	if (purge_opt) {
		long long rows = 0;
		char nrows[32];
		const char *k[1] = { "claims_rows" };
		const char *v[1] = { nrows };

		if (purge(d.db, id, &rows, err, sizeof err) < 0)
			goto dberr;
		snprintf(nrows, sizeof nrows, "%lld", rows);
		if (consent_audit(d.db, id, "purged", 1, k, v, err, sizeof err) < 0)
			goto dberr;
		printf("purged %lld claims rows of participant %s\n", rows, id);
	}
	if (store_cmd(d.db, "COMMIT", 0, NULL, err, sizeof err) < 0)
		goto dberr;

	if (rr == REVOKE_LATER) {
		log_error("participant %s is withdrawn and no longer synced, but the grant could not "
			  "be revoked at Blue Button: %s", id, why);
		fprintf(stderr, "HINT: run \"bbingest withdraw %s\" again later; the tokens are kept "
			"until the revocation succeeds\n", id);
		rc = EX_TEMPFAIL;
	} else {
		printf("participant %s is withdrawn%s%s%s\n", id,
		       has_token ? " (" : "", has_token ? why : "", has_token ? ")" : "");
		rc = EX_OK;
	}
	goto out;
dberr:
	log_error("could not withdraw participant %s: %s", id, err);
	store_cmd(d.db, "ROLLBACK", 0, NULL, why, sizeof why);
	rc = EX_SOFTWARE;
out:
	store_close(d.db);
	vault_free(d.vault);
	config_free(cfg);
	return rc;
}
