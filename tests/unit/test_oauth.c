/* Unit tests of daemon/oauth: authorize URL, bodies, token answers, outcome rules. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "consent.h"
#include "minicheck.h"
#include "oauth.h"
#include "oauthutil.h"

static oauth_token_response parse_ok(const char *json)
{
	oauth_token_response r;
	char err[256];

	CHECK(oauth_parse_token_response(json, strlen(json), &r, err, sizeof err) == 0);
	return r;
}

static void test_urls(void)
{
	bb_config *cfg = config_defaults();
	char *u;

	mc_section("authorize URL carries every required parameter, scopes joined by %20");
	free(cfg->api_base_url);
	cfg->api_base_url = xstrdup("https://sandbox.example/");
	free(cfg->client_id);
	cfg->client_id = xstrdup("abc123");
	free(cfg->redirect_uri);
	cfg->redirect_uri = xstrdup("http://127.0.0.1:8455/callback");
	for (size_t i = 0; i < cfg->n_scopes; i++)
		free(cfg->scopes[i]);
	free(cfg->scopes);
	cfg->scopes = xcalloc(2, sizeof *cfg->scopes);
	cfg->scopes[0] = xstrdup("patient/ExplanationOfBenefit.rs");
	cfg->scopes[1] = xstrdup("launch/patient");
	cfg->n_scopes = 2;
	u = oauth_authorize_url(cfg, "STATE-0123456789abcdef", "CHALLENGE_x-y");
	CHECK_STR(u, "https://sandbox.example/v2/o/authorize/?client_id=abc123"
		  "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8455%2Fcallback&response_type=code"
		  "&state=STATE-0123456789abcdef&code_challenge=CHALLENGE_x-y"
		  "&code_challenge_method=S256"
		  "&scope=patient%2FExplanationOfBenefit.rs%20launch%2Fpatient");
	ou_free_secret(u);
	u = oauth_endpoint(cfg, "token");
	CHECK_STR(u, "https://sandbox.example/v2/o/token/");
	free(u);

	mc_section("form bodies are percent-encoded");
	u = oauth_refresh_body("a+b/c=");
	CHECK_STR(u, "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3D");
	ou_free_secret(u);
	u = oauth_code_body("c0de", "http://x/cb", "v3r");
	CHECK_STR(u, "grant_type=authorization_code&code=c0de&redirect_uri=http%3A%2F%2Fx%2Fcb&code_verifier=v3r");
	ou_free_secret(u);
	u = oauth_revoke_body("tok");
	CHECK_STR(u, "token=tok");
	ou_free_secret(u);
	config_free(cfg);
}

static void test_parse(void)
{
	oauth_token_response r;
	char err[256];
	const char *bad[] = {
		"", "[]", "\"x\"", "{", "{\"access_token\": \"a\", \"access_token\": \"b\"}",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};

	mc_section("a real token answer (bluebutton-api.md §2.4)");
	r = parse_ok("{\"access_token\": \"AT1\", \"expires_in\": 3600, \"token_type\": \"Bearer\", "
		     "\"scope\": \"patient/Patient.rs launch/patient\", \"refresh_token\": \"RT1\", "
		     "\"patient\": \"-20140000008325\", \"access_grant_expiration\": \"\", "
		     "\"nested\": {\"access_token\": \"NOT-THIS\"}}");
	CHECK_STR(r.access_token, "AT1");
	CHECK_STR(r.refresh_token, "RT1");
	CHECK_STR(r.patient, "-20140000008325");
	CHECK_STR(r.scope, "patient/Patient.rs launch/patient");
	CHECK_STR(r.grant_expiration, "");
	CHECK(r.expires_in == 3600);
	oauth_token_response_clear(&r);

	mc_section("expires_in as the stale docs show it (16768.5) and as a string");
	r = parse_ok("{\"expires_in\": 16768.5}");
	CHECK(r.expires_in == 16768);
	oauth_token_response_clear(&r);
	r = parse_ok("{\"expires_in\": \"36000\"}");
	CHECK(r.expires_in == 36000);
	oauth_token_response_clear(&r);
	r = parse_ok("{\"expires_in\": -5}");
	CHECK(r.expires_in == -1);
	oauth_token_response_clear(&r);

	mc_section("error codes are reduced to [a-z_]");
	r = parse_ok("{\"status_code\": 400, \"error\": \"invalid_request\", "
		     "\"error_description\": \"Refresh token not found.\"}");
	CHECK_STR(r.error, "invalid_request");
	oauth_token_response_clear(&r);
	r = parse_ok("{\"error\": \"<script>\"}");
	CHECK_STR(r.error, "other");
	oauth_token_response_clear(&r);

	mc_section("malformed, repeated, deep or huge answers are refused");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(oauth_parse_token_response(bad[i], strlen(bad[i]), &r, err, sizeof err) == -1);
		oauth_token_response_clear(&r);
	}
	{
		size_t n = OAUTH_MAX_RESPONSE + 10;
		char *big = xmalloc(n);

		memset(big, ' ', n);
		big[0] = '{';
		big[n - 1] = '}';
		CHECK(oauth_parse_token_response(big, n, &r, err, sizeof err) == -1);
		oauth_token_response_clear(&r);
		free(big);
	}
	{
		sbuf b;

		sbuf_init(&b, 0);
		sbuf_puts(&b, "{\"access_token\": \"");
		for (int i = 0; i < OAUTH_MAX_TOKEN_LEN + 1; i++)
			sbuf_putc(&b, 'a');
		sbuf_puts(&b, "\"}");
		CHECK(oauth_parse_token_response(b.data, b.len, &r, err, sizeof err) == -1);
		CHECK_HAS(err, "too long");
		oauth_token_response_clear(&r);
		sbuf_free(&b);
	}
	CHECK(oauth_parse_token_response("{\"access_token\": \"a\\u0000b\"}", 28, &r, err, sizeof err) == -1);
	oauth_token_response_clear(&r);
}

static oauth_outcome classify(long status, const char *body)
{
	http_result res = { .code = CURLE_OK, .status = status, .body = body,
			    .body_len = strlen(body) };
	oauth_token_response r;
	char err[128];
	oauth_outcome o;
	bool parsed = oauth_parse_token_response(body, strlen(body), &r, err, sizeof err) == 0;

	o = oauth_classify(&res, parsed ? &r : NULL);
	oauth_token_response_clear(&r);
	return o;
}

static void test_classify(void)
{
	http_result res = { 0 };
	char d[300];

	mc_section("the refresh error matrix (bluebutton-api.md §3.4)");
	CHECK(classify(200, "{\"access_token\": \"a\", \"refresh_token\": \"r\"}") == OAUTH_OK);
	CHECK(classify(200, "{\"access_token\": \"a\"}") == OAUTH_IN_DOUBT);
	CHECK(classify(200, "not json") == OAUTH_IN_DOUBT);
	CHECK(classify(400, "{\"error\": \"invalid_grant\"}") == OAUTH_GRANT_DEAD);
	CHECK(classify(400, "{\"status_code\": 400, \"error\": \"invalid_request\", "
		       "\"error_description\": \"Refresh token not found.\"}") == OAUTH_GRANT_DEAD);
	CHECK(classify(401, "{\"status_code\": 401, \"error\": \"invalid_grant\", "
		       "\"error_description\": \"User access has timed out.\"}") == OAUTH_GRANT_DEAD);
	CHECK(classify(403, "{\"status_code\": 403, \"error\": \"invalid_grant\", "
		       "\"error_description\": \"User access cannot be found.\"}") == OAUTH_GRANT_DEAD);
	CHECK(classify(403, "{\"status_code\": 403, \"error\": \"invalid_client\", "
		       "\"error_description\": \"This application is temporarily inactive\"}") == OAUTH_APP_REFUSED);
	CHECK(classify(401, "{\"error\": \"invalid_client\"}") == OAUTH_APP_REFUSED);
	CHECK(classify(403, "<html>forbidden</html>") == OAUTH_GRANT_DEAD);
	CHECK(classify(502, "{\"status_code\":502,\"message\":\"Failed to retrieve data from data source.\"}")
	      == OAUTH_IN_DOUBT);
	CHECK(classify(404, "{\"detail\": \"Not found.\"}") == OAUTH_IN_DOUBT);
	CHECK(classify(500, "") == OAUTH_IN_DOUBT);
	CHECK(classify(400, "{\"error\": \"invalid_request\", \"error_description\": \"Token does "
		       "not match client_id\"}") == OAUTH_IN_DOUBT);
	CHECK(classify(429, "") == OAUTH_NOT_SENT);

	mc_section("transport errors: never connected = not sent; anything later = in doubt");
	res.code = CURLE_COULDNT_CONNECT;
	CHECK(oauth_classify(&res, NULL) == OAUTH_NOT_SENT);
	res.code = CURLE_PEER_FAILED_VERIFICATION;
	CHECK(oauth_classify(&res, NULL) == OAUTH_NOT_SENT);
	res.code = CURLE_OPERATION_TIMEDOUT;
	CHECK(oauth_classify(&res, NULL) == OAUTH_IN_DOUBT);
	res.code = CURLE_RECV_ERROR;
	CHECK(oauth_classify(&res, NULL) == OAUTH_IN_DOUBT);
	res.code = CURLE_ABORTED_BY_CALLBACK;
	res.aborted = true;
	CHECK(oauth_classify(&res, NULL) == OAUTH_IN_DOUBT);
	oauth_describe(&res, NULL, d, sizeof d);
	CHECK_HAS(d, "stopped");
	res = (http_result){ .code = CURLE_OK, .status = 400 };
	{
		oauth_token_response r = parse_ok("{\"error\": \"invalid_grant\"}");

		oauth_describe(&res, &r, d, sizeof d);
		CHECK_STR(d, "HTTP 400 invalid_grant");
		oauth_token_response_clear(&r);
	}
}

static void test_scopes_dates_ids(void)
{
	char out[32], err[512];

	mc_section("demographics: granted when a patient/Patient.* scope is present");
	CHECK(oauth_scope_has_patient("launch/patient patient/Patient.rs"));
	CHECK(oauth_scope_has_patient("patient/Patient.read"));
	CHECK(!oauth_scope_has_patient("launch/patient patient/ExplanationOfBenefit.rs patient/Coverage.rs"));
	CHECK(!oauth_scope_has_patient(""));
	CHECK(!oauth_scope_has_patient(NULL));
	CHECK(!oauth_scope_has_patient("xpatient/Patient.rs"));

	mc_section("access_grant_expiration: both documented forms, nothing else");
	CHECK(oauth_grant_expiration("2025-09-05T19:17:53Z", out, sizeof out));
	CHECK_STR(out, "2025-09-05T19:17:53Z");
	CHECK(oauth_grant_expiration("2025-09-05 19:17:53Z", out, sizeof out));
	CHECK_STR(out, "2025-09-05T19:17:53Z");
	CHECK(!oauth_grant_expiration("", out, sizeof out));
	CHECK(!oauth_grant_expiration("2025-02-30T00:00:00Z", out, sizeof out));
	CHECK(!oauth_grant_expiration("2025-09-05T25:17:53Z", out, sizeof out));
	CHECK(!oauth_grant_expiration("2025-09-05T19:17:53+01", out, sizeof out));
	CHECK(!oauth_grant_expiration(NULL, out, sizeof out));

	mc_section("participant ids follow the CHECK of bb.participant");
	CHECK(consent_id_valid("P0001", err, sizeof err));
	CHECK(consent_id_valid("a.b_c-d", err, sizeof err));
	CHECK(!consent_id_valid("", err, sizeof err));
	CHECK(!consent_id_valid("-lead", err, sizeof err));
	CHECK(!consent_id_valid("has space", err, sizeof err));
	CHECK_HAS(err, "CHECK constraint on bb.participant");
	CHECK_HAS(err, "\"has space\"");
	CHECK(!consent_id_valid("bad\nline", err, sizeof err));
	CHECK(strchr(err, '\n') == NULL);
	{
		char id[140];

		memset(id, 'a', 128);
		id[128] = '\0';
		CHECK(consent_id_valid(id, err, sizeof err));
		id[128] = 'a';
		id[129] = '\0';
		CHECK(!consent_id_valid(id, err, sizeof err));
	}
}

int main(void)
{
	test_urls();
	test_parse();
	test_classify();
	test_scopes_dates_ids();
	return mc_done("oauth");
}
