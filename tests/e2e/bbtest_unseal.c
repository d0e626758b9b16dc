/*
 * bbtest-unseal: a test helper that prints the clear values bbingest keeps
 * sealed, so the e2e tests can check them at the sandbox and look for them
 * in the raw table bytes and in every log line.  Never install it.
 *
 *   bbtest-unseal KEYFILE tokens [ID]   -> "ID ACCESS REFRESH GENERATION" per row
 *   bbtest-unseal KEYFILE verifiers     -> one PKCE verifier per line
 *
 * The database comes from libpq's environment (PGHOST, PGDATABASE, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "consent.h"
#include "oauthutil.h"
#include "store.h"
#include "vault.h"

int main(int argc, char **argv)
{
	char err[1024], aad[200];
	vault *v;
	store *db;
	PGresult *r;
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: bbtest-unseal KEYFILE tokens [ID] | verifiers\n");
		return 64;
	}
	v = vault_open_key(argv[1], NULL, err, sizeof err);
	if (!v) {
		fprintf(stderr, "bbtest-unseal: %s\n", err);
		return 1;
	}
	db = store_connect("", err, sizeof err);
	if (!db) {
		fprintf(stderr, "bbtest-unseal: %s\n", err);
		vault_free(v);
		return 1;
	}
	if (strcmp(argv[2], "tokens") == 0) {
		const char *p[1] = { argc > 3 ? argv[3] : NULL };

		r = store_exec(db, "SELECT participant_id, access_sealed, refresh_sealed, generation "
			       "FROM bb.token WHERE $1::text IS NULL OR participant_id = $1 "
			       "ORDER BY participant_id", 1, p, err, sizeof err);
		for (int i = 0; r && i < PQntuples(r); i++) {
			const char *id = PQgetvalue(r, i, 0);
			char *acc = NULL, *ref = NULL;

			consent_aad(aad, sizeof aad, id, "access");
			if (consent_open_value(v, aad, PQgetvalue(r, i, 1), &acc, err, sizeof err) < 0)
				break;
			consent_aad(aad, sizeof aad, id, "refresh");
			if (consent_open_value(v, aad, PQgetvalue(r, i, 2), &ref, err, sizeof err) < 0) {
				ou_free_secret(acc);
				break;
			}
			printf("%s %s %s %s\n", id, acc, ref, PQgetvalue(r, i, 3));
			ou_free_secret(acc);
			ou_free_secret(ref);
		}
	} else if (strcmp(argv[2], "verifiers") == 0) {
		r = store_exec(db, "SELECT participant_id, verifier_sealed FROM bb.pending_authorization",
			       0, NULL, err, sizeof err);
		for (int i = 0; r && i < PQntuples(r); i++) {
			char *ver = NULL;

			consent_aad(aad, sizeof aad, PQgetvalue(r, i, 0), "verifier");
			if (consent_open_value(v, aad, PQgetvalue(r, i, 1), &ver, err, sizeof err) < 0)
				break;
			printf("%s\n", ver);
			ou_free_secret(ver);
		}
	} else {
		fprintf(stderr, "bbtest-unseal: unknown mode %s\n", argv[2]);
		r = NULL;
		snprintf(err, sizeof err, "bad usage");
	}
	if (!r) {
		fprintf(stderr, "bbtest-unseal: %s\n", err);
		rc = 1;
	}
	PQclear(r);
	store_close(db);
	vault_free(v);
	return rc;
}
