/*
 * bbtest-tokens: drives the token service (tokens.h) the way the sync engine
 * will, for the e2e tests: answers from the store, coalesced on-demand
 * refreshes, invalidation after a 401.  Never install it.
 *
 *   bbtest-tokens CONFIG ID
 *
 * Prints one line per step; the calling test checks them and the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "http.h"
#include "store.h"
#include "tokens.h"
#include "util.h"
#include "vault.h"

typedef struct answer {
	int calls;
	tokens_status st;
	char token[256];
} answer;

static void got(void *ud, tokens_status st, const char *tok)
{
	answer *a = ud;

	a->calls++;
	a->st = st;
	snprintf(a->token, sizeof a->token, "%s", tok ? tok : "");
}

static void run(bb_daemon *d, tokens *t, answer *a, answer *b)
{
	int64_t deadline = now_mono_us() + 30 * 1000000LL;

	while ((!a->calls || (b && !b->calls)) && now_mono_us() < deadline) {
		int64_t now = now_mono_us(), w = tokens_tick(t, now);
		int ms = w <= now ? 0 : w - now > 100000 ? 100 : (int)((w - now) / 1000);

		if (a->calls && (!b || b->calls))
			break;
		http_poll(d->http, NULL, 0, ms);
		http_perform(d->http);
	}
}

static void sqlcmd(store *s, const char *q, const char *id)
{
	char err[512];
	const char *p[1] = { id };

	if (store_cmd(s, q, 1, p, err, sizeof err) < 0) {
		fprintf(stderr, "bbtest-tokens: %s\n", err);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	bb_config *cfg = NULL;
	config_report rep = { 0 };
	bb_daemon d = { 0 };
	char err[1024];
	tokens *t;
	answer a = { 0 }, b = { 0 };
	const char *id;

	if (argc != 3) {
		fprintf(stderr, "usage: bbtest-tokens CONFIG ID\n");
		return 64;
	}
	id = argv[2];
	if (config_load(argv[1], true, &cfg, &rep) < 0) {
		config_report_print(&rep, stderr);
		return 78;
	}
	config_report_free(&rep);
	d.cfg = cfg;
	snprintf(d.instance_id, sizeof d.instance_id, "bbtest-tokens");
	d.vault = vault_open_key(cfg->vault_key_path, NULL, err, sizeof err);
	d.db = d.vault ? store_connect(cfg->db_conninfo, err, sizeof err) : NULL;
	d.http = d.db ? http_new(cfg->ca_file, 4, false, err, sizeof err) : NULL;
	t = d.http ? tokens_new(&d, false, err, sizeof err) : NULL;
	if (!t) {
		fprintf(stderr, "bbtest-tokens: %s\n", err);
		return 1;
	}

	/* 1. a fresh access token comes from the store, later, once */
	if (tokens_get_access(t, id, got, &a) < 0)
		return 1;
	printf("sync-call %d\n", a.calls);
	run(&d, t, &a, NULL);
	printf("store %s %d %zu\n", tokens_status_name(a.st), a.calls, strlen(a.token));

	/* 2. expired: two requests, one refresh, the same new token for both */
	sqlcmd(d.db, "UPDATE bb.token SET access_expires_at = now() WHERE participant_id = $1", id);
	memset(&a, 0, sizeof a);
	tokens_get_access(t, id, got, &a);
	tokens_get_access(t, id, got, &b);
	run(&d, t, &a, &b);
	printf("coalesced %s %s %d %d same=%d\n", tokens_status_name(a.st), tokens_status_name(b.st),
	       a.calls, b.calls, strcmp(a.token, b.token) == 0 && a.token[0]);

	/* 3. a 401: the next request refreshes first (reason invalidated) */
	tokens_invalidate(t, id);
	memset(&a, 0, sizeof a);
	tokens_get_access(t, id, got, &a);
	run(&d, t, &a, NULL);
	printf("invalidated %s\n", tokens_status_name(a.st));

	/* 4. the 401 persists right after that refresh: the grant is dead */
	tokens_invalidate(t, id);
	memset(&a, 0, sizeof a);
	tokens_get_access(t, id, got, &a);
	run(&d, t, &a, NULL);
	printf("persisting %s\n", tokens_status_name(a.st));

	tokens_free(t);
	http_free(d.http);
	store_close(d.db);
	vault_free(d.vault);
	config_free(cfg);
	return 0;
}
