/*
 * libFuzzer target: what the /callback handler (and every refresh) does with
 * Blue Button's token endpoint answer, daemon/oauth.c: parse the body, then
 * classify and describe the answer.  The first input byte picks the HTTP
 * status (and whether the transfer failed), the rest is the body.
 *
 * Checks, beyond "no crash, no leak, no undefined behaviour":
 *   - a refused body leaves nothing behind and explains itself in printable
 *     ASCII; a parsed one respects the caps and the error code is [a-z_];
 *   - only a 200 with both tokens is OAUTH_OK;
 *   - the description is printable and never quotes a token;
 *   - access_grant_expiration is accepted only in its two documented forms.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void printable(const char *s)
{
	for (; *s; s++)
		check(*s >= 0x20 && *s <= 0x7e);
}

static const long statuses[] = { 200, 400, 401, 403, 404, 429, 500, 502, 503, 0 };
#define NSTATUS (sizeof statuses / sizeof statuses[0])

static void not_quoted(const char *desc, const char *tok, const char *error)
{
	/* short or trivial values may occur in the fixed words by chance */
	if (!tok || strlen(tok) < 16 || (error && strstr(error, tok)))
		return;
	check(strstr(desc, tok) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	oauth_token_response tr;
	http_result res;
	char err[256] = "", desc[300], exp[32];
	const char *body;
	size_t len;
	int rc;
	oauth_outcome o;

	if (size < 1)
		return 0;
	memset(&res, 0, sizeof res);
	res.status = statuses[data[0] % NSTATUS];
	res.code = res.status == 0 ? CURLE_OPERATION_TIMEDOUT : CURLE_OK;
	if (data[0] & 0x80) {
		res.code = CURLE_RECV_ERROR;   /* an answer cut short */
		res.error = "Failure when receiving data from the peer";
	}
	res.retry_after_s = -1;
	body = (const char *)data + 1;
	len = size - 1;
	res.body = body;
	res.body_len = len;

	memset(&tr, 0, sizeof tr);
	rc = oauth_parse_token_response(body, len, &tr, err, sizeof err);
	if (rc < 0) {
		check(err[0] != '\0');
		printable(err);
		oauth_token_response_clear(&tr);
		memset(&tr, 0, sizeof tr);
	} else {
		check(!tr.access_token || strlen(tr.access_token) <= OAUTH_MAX_TOKEN_LEN);
		check(!tr.refresh_token || strlen(tr.refresh_token) <= OAUTH_MAX_TOKEN_LEN);
		if (tr.error)
			for (const char *p = tr.error; *p; p++)
				check((*p >= 'a' && *p <= 'z') || *p == '_');
	}
	o = oauth_classify(&res, rc == 0 ? &tr : NULL);
	if (o == OAUTH_OK)
		check(res.status == 200 && res.code == CURLE_OK && tr.access_token && tr.refresh_token &&
		      tr.access_token[0] && tr.refresh_token[0]);
	oauth_describe(&res, rc == 0 ? &tr : NULL, desc, sizeof desc);
	check(strlen(desc) < sizeof desc);
	printable(desc);
	not_quoted(desc, tr.access_token, tr.error);
	not_quoted(desc, tr.refresh_token, tr.error);
	if (tr.grant_expiration && oauth_grant_expiration(tr.grant_expiration, exp, sizeof exp)) {
		size_t n = strlen(exp);

		check(n >= 19 && n < sizeof exp);
		for (size_t i = 0; i < n; i++)
			check(isdigit((unsigned char)exp[i]) || strchr("-: TZ+", exp[i]));
	}
	(void)oauth_scope_has_patient(tr.scope);
	oauth_token_response_clear(&tr);
	return 0;
}
