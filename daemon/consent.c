#include "consent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "oauth.h"
#include "oauthutil.h"
#include "util.h"

/* Longest invitation token or state accepted from a URL (ours are 43). */
#define MAX_RANDOM_TOKEN 256

bool consent_id_valid(const char *id, char *err, size_t errlen)
{
	size_t n = id ? strlen(id) : 0;
	bool ok = n >= 1 && n <= CONSENT_MAX_ID;
	bool printable = n <= 200;

	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-'))))
			ok = false;
		if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
			printable = false;
	}
	if (ok)
		return true;
	if (printable && n)
		snprintf(err, errlen, "participant id \"%s\" is not valid: it must be 1 to 128 "
			 "letters, digits, '.', '_' or '-', starting with a letter or digit "
			 "(the rule of the CHECK constraint on bb.participant)", id);
	else
		snprintf(err, errlen, "the participant id is not valid: it must be 1 to 128 "
			 "letters, digits, '.', '_' or '-', starting with a letter or digit "
			 "(the rule of the CHECK constraint on bb.participant)");
	return false;
}

int consent_ensure_participant(store *db, const char *id, char *err, size_t errlen)
{
	const char *p[1] = { id };
	PGresult *r = store_exec(db,
		"INSERT INTO bb.participant (participant_id) VALUES ($1) "
		"ON CONFLICT (participant_id) DO NOTHING RETURNING 1", 1, p, err, errlen);
	int created;

	if (!r)
		return -1;
	created = PQntuples(r) == 1;
	PQclear(r);
	return created;
}

void consent_aad(char *out, size_t outlen, const char *id, const char *purpose)
{
	snprintf(out, outlen, "%s/%s", id, purpose);
}

int consent_audit(store *db, const char *id, const char *event, size_t n,
		  const char *const *keys, const char *const *values, char *err, size_t errlen)
{
	const char *params[2 + 2 * 8];
	sbuf sql;
	int rc;

	if (n > 8)
		n = 8;
	params[0] = id;
	params[1] = event;
	sbuf_init(&sql, 4096);
	sbuf_puts(&sql, "INSERT INTO bb.audit (participant_id, event, detail) VALUES ($1, $2, "
		  "jsonb_build_object(");
	for (size_t i = 0; i < n; i++) {
		params[2 + 2 * i] = keys[i];
		params[3 + 2 * i] = values[i];
		sbuf_printf(&sql, "%s$%zu::text, $%zu::text", i ? ", " : "", 3 + 2 * i, 4 + 2 * i);
	}
	sbuf_puts(&sql, "))");
	rc = store_cmd(db, sql.data, (int)(2 + 2 * n), params, err, errlen);
	sbuf_free(&sql);
	return rc;
}

/* The random tokens we hand out are base64url; anything else is unknown. */
static bool token_shape_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	if (n < 16 || n > MAX_RANDOM_TOKEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

int consent_invite(store *db, const bb_config *cfg, const char *id, char **link,
		   char *err, size_t errlen)
{
	char hash[65], secs[32], *token;
	const char *p[3];
	const char *base = cfg->public_url ? cfg->public_url : "";
	size_t bl = strlen(base);
	int created;

	*link = NULL;
	if (store_cmd(db, "BEGIN", 0, NULL, err, errlen) < 0)
		return -1;
	created = consent_ensure_participant(db, id, err, errlen);
	if (created < 0)
		goto fail;
	token = ou_invite_token_new();
	if (!token) {
		snprintf(err, errlen, "could not draw random bytes for the invitation");
		goto fail;
	}
	ou_sha256_hex(token, strlen(token), hash);
	snprintf(secs, sizeof secs, "%lld", (long long)cfg->invite_expiry_s);
	p[0] = hash;
	p[1] = id;
	p[2] = secs;
	if (store_cmd(db, "INSERT INTO bb.invitation (token_hash, participant_id, expires_at) "
		      "VALUES ($1, $2, now() + make_interval(secs => $3::double precision))",
		      3, p, err, errlen) < 0) {
		ou_free_secret(token);
		goto fail;
	}
	{
		const char *k[2] = { "expires_in_s", "participant_created" };
		const char *v[2] = { secs, created ? "true" : "false" };

		if (consent_audit(db, id, "invited", 2, k, v, err, errlen) < 0) {
			ou_free_secret(token);
			goto fail;
		}
	}
	if (store_cmd(db, "COMMIT", 0, NULL, err, errlen) < 0) {
		ou_free_secret(token);
		return -1;
	}
	while (bl && base[bl - 1] == '/')
		bl--;
	*link = xasprintf("%.*s/enroll?invite=%s", (int)bl, base, token);
	ou_free_secret(token);
	return 0;
fail:
	{
		char e2[64];

		store_cmd(db, "ROLLBACK", 0, NULL, e2, sizeof e2);
	}
	return -1;
}

/*
 * Shared by invitations and states: UPDATE ... SET used_at = now() for an
 * unused, unexpired row; otherwise say why.  `table` is trusted text.
 */
static consent_check take_once(store *db, const char *table, const char *key_col,
			       const char *token, const char *extra_cols, PGresult **row,
			       char *err, size_t errlen)
{
	char hash[65], *sql;
	const char *p[1] = { hash };
	PGresult *r;
	consent_check c;

	*row = NULL;
	if (!token_shape_ok(token))
		return CONSENT_UNKNOWN;
	ou_sha256_hex(token, strlen(token), hash);
	sql = xasprintf("UPDATE %s SET used_at = now() WHERE %s = $1 AND used_at IS NULL "
			"AND expires_at > now() RETURNING %s, participant_id%s",
			table, key_col, key_col, extra_cols);
	r = store_exec(db, sql, 1, p, err, errlen);
	free(sql);
	if (!r)
		return CONSENT_ERROR;
	if (PQntuples(r) == 1) {
		const char *got = PQgetvalue(r, 0, 0);

		/* the index found it; compare the whole hash in constant time anyway */
		if (strlen(got) == 64 && ct_equal(got, hash, 64)) {
			*row = r;
			return CONSENT_OK;
		}
		PQclear(r);
		return CONSENT_UNKNOWN;
	}
	PQclear(r);
	sql = xasprintf("SELECT used_at IS NOT NULL, expires_at <= now() FROM %s WHERE %s = $1",
			table, key_col);
	r = store_exec(db, sql, 1, p, err, errlen);
	free(sql);
	if (!r)
		return CONSENT_ERROR;
	if (PQntuples(r) != 1)
		c = CONSENT_UNKNOWN;
	else if (PQgetvalue(r, 0, 0)[0] == 't')
		c = CONSENT_USED;
	else
		c = CONSENT_EXPIRED;
	PQclear(r);
	return c;
}

consent_check consent_take_invitation(store *db, const char *token, char *id,
				      char *err, size_t errlen)
{
	PGresult *r = NULL;
	consent_check c = take_once(db, "bb.invitation", "token_hash", token, "", &r, err, errlen);

	if (c == CONSENT_OK) {
		snprintf(id, CONSENT_MAX_ID + 1, "%s", PQgetvalue(r, 0, 1));
		PQclear(r);
	}
	return c;
}

char *consent_seal_param(vault *v, const char *aad, const char *plain, char *err, size_t errlen)
{
	unsigned char *blob = NULL;
	size_t bloblen = 0;
	char *out;

	if (vault_seal(v, aad, plain, strlen(plain), &blob, &bloblen, err, errlen) < 0)
		return NULL;
	out = xmalloc(2 * bloblen + 3);
	out[0] = '\\';
	out[1] = 'x';
	ou_hex_encode(blob, bloblen, out + 2);
	free(blob);
	return out;
}

int consent_open_value(vault *v, const char *aad, const char *bytea_text, char **plain,
		       char *err, size_t errlen)
{
	size_t n = 0, plen = 0;
	unsigned char *blob;
	int rc;

	*plain = NULL;
	blob = PQunescapeBytea((const unsigned char *)bytea_text, &n);
	if (!blob) {
		snprintf(err, errlen, "could not decode a sealed value");
		return -1;
	}
	rc = vault_open(v, aad, blob, n, plain, &plen, err, errlen);
	PQfreemem(blob);
	if (rc < 0)
		return -1;
	if (strlen(*plain) != plen) {
		vault_wipe_free(*plain, plen);
		*plain = NULL;
		snprintf(err, errlen, "a sealed value holds a NUL character");
		return -1;
	}
	return 0;
}

int consent_begin(store *db, vault *v, const bb_config *cfg, const char *id,
		  char **authorize_url, char *err, size_t errlen)
{
	char hash[65], aad[CONSENT_MAX_ID + 32], secs[32];
	char *state = NULL, *verifier = NULL, *challenge = NULL, *sealed = NULL;
	const char *p[5];
	int rc = -1;

	*authorize_url = NULL;
	state = ou_state_new();
	verifier = ou_pkce_verifier_new();
	if (!state || !verifier) {
		snprintf(err, errlen, "could not draw random bytes for the authorization");
		goto out;
	}
	challenge = ou_pkce_challenge_s256(verifier);
	consent_aad(aad, sizeof aad, id, "verifier");
	sealed = consent_seal_param(v, aad, verifier, err, errlen);
	if (!challenge || !sealed) {
		if (!challenge)
			snprintf(err, errlen, "could not compute the PKCE challenge");
		goto out;
	}
	ou_sha256_hex(state, strlen(state), hash);
	snprintf(secs, sizeof secs, "%lld", (long long)cfg->state_expiry_s);
	p[0] = hash;
	p[1] = id;
	p[2] = vault_key_id(v);
	p[3] = sealed;
	p[4] = secs;
	if (store_cmd(db, "INSERT INTO bb.pending_authorization "
		      "(state_hash, participant_id, key_id, verifier_sealed, expires_at) "
		      "VALUES ($1, $2, $3, $4::bytea, now() + make_interval(secs => $5::double precision))",
		      5, p, err, errlen) < 0)
		goto out;
	/* housekeeping: authorizations long past their expiry are of no use */
	store_cmd(db, "DELETE FROM bb.pending_authorization WHERE expires_at < now() - interval '1 day'",
		  0, NULL, hash, sizeof hash);
	*authorize_url = oauth_authorize_url(cfg, state, challenge);
	rc = 0;
out:
	ou_free_secret(state);
	ou_free_secret(verifier);
	free(challenge);
	free(sealed);
	return rc;
}

consent_check consent_take_state(store *db, vault *v, const char *state, char *id,
				 char **verifier, char *err, size_t errlen)
{
	PGresult *r = NULL;
	char aad[CONSENT_MAX_ID + 32];
	consent_check c;

	*verifier = NULL;
	c = take_once(db, "bb.pending_authorization", "state_hash", state, ", verifier_sealed",
		      &r, err, errlen);
	if (c != CONSENT_OK)
		return c;
	snprintf(id, CONSENT_MAX_ID + 1, "%s", PQgetvalue(r, 0, 1));
	consent_aad(aad, sizeof aad, id, "verifier");
	if (consent_open_value(v, aad, PQgetvalue(r, 0, 2), verifier, err, errlen) < 0)
		c = CONSENT_ERROR;
	PQclear(r);
	return c;
}
