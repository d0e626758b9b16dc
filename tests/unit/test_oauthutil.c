/* Unit tests of daemon/oauthutil: encodings, PKCE, random values, query parser. */
#include <stdlib.h>
#include <string.h>

#include "minicheck.h"
#include "oauthutil.h"

static void test_base64(void)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	unsigned char buf[300], back[300];
	char *s;

	mc_section("base64 against the RFC 4648 §10 vectors");
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		long n;

		s = ou_b64_encode(v[i].in, strlen(v[i].in));
		CHECK_STR(s, v[i].out);
		n = ou_b64_decode(s, strlen(s), back, sizeof back);
		CHECK(n == (long)strlen(v[i].in) && memcmp(back, v[i].in, (size_t)n) == 0);
		free(s);
	}

	mc_section("base64url uses - and _ and no padding");
	buf[0] = 0xfb;
	buf[1] = 0xff;
	s = ou_b64url_encode(buf, 2);
	CHECK_STR(s, "-_8");
	free(s);
	s = ou_b64_encode(buf, 2);
	CHECK_STR(s, "+/8=");
	free(s);

	mc_section("base64 round trip of every length 0..256 in both alphabets");
	for (size_t len = 0; len <= 256; len++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(i * 37 + len * 11);
		for (int url = 0; url < 2; url++) {
			long n;

			s = url ? ou_b64url_encode(buf, len) : ou_b64_encode(buf, len);
			n = ou_b64_decode(s, strlen(s), back, sizeof back);
			CHECK(n == (long)len && memcmp(back, buf, len) == 0);
			free(s);
		}
	}

	mc_section("base64 decoding rejects malformed text");
	CHECK(ou_b64_decode("Zg=", 3, back, sizeof back) == -1);      /* short padding */
	CHECK(ou_b64_decode("Zg===", 5, back, sizeof back) == -1);    /* too much padding */
	CHECK(ou_b64_decode("Z", 1, back, sizeof back) == -1);        /* impossible length */
	CHECK(ou_b64_decode("Zh==", 4, back, sizeof back) == -1);     /* non-zero trailing bits */
	CHECK(ou_b64_decode("Zm9v=", 5, back, sizeof back) == -1);    /* padding after full group */
	CHECK(ou_b64_decode("+-AA", 4, back, sizeof back) == -1);     /* mixed alphabets */
	CHECK(ou_b64_decode("Zm 9v", 5, back, sizeof back) == -1);    /* whitespace */
	CHECK(ou_b64_decode("Zm9v\n", 5, back, sizeof back) == -1);
	CHECK(ou_b64_decode("Zm9vYmFy", 8, back, 5) == -1);           /* no room */
	CHECK(ou_b64_decode("Zm9vYmFy", 8, back, 6) == 6);
	CHECK(ou_b64_decode("Zg", 2, back, 1) == 1 && back[0] == 'f'); /* unpadded is fine */
}

static void test_hex(void)
{
	unsigned char b[4] = { 0x00, 0x9f, 0xab, 0xff }, d[4];
	char h[9];

	mc_section("hex encoding and strict decoding");
	ou_hex_encode(b, 4, h);
	CHECK_STR(h, "009fabff");
	CHECK(ou_hex_decode("009FABff", 8, d, 4) == 0 && memcmp(b, d, 4) == 0);
	CHECK(ou_hex_decode("009fab", 6, d, 4) == -1);
	CHECK(ou_hex_decode("009fabfg", 8, d, 4) == -1);
}

static void test_pkce(void)
{
	char *c, *v, *seen[200];
	char h[65];
	char long_v[130];

	mc_section("S256 challenge of the RFC 7636 Appendix B verifier");
	c = ou_pkce_challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
	CHECK_STR(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	free(c);

	mc_section("verifiers outside RFC 7636 §4.1 get no challenge");
	CHECK(ou_pkce_challenge_s256("short") == NULL);
	CHECK(ou_pkce_challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX") == NULL); /* 42 */
	CHECK(ou_pkce_challenge_s256("dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == NULL); /* '+' */
	memset(long_v, 'a', 129);
	long_v[129] = '\0';
	CHECK(ou_pkce_challenge_s256(long_v) == NULL);
	long_v[128] = '\0';
	c = ou_pkce_challenge_s256(long_v);
	CHECK(c != NULL && strlen(c) == 43);
	free(c);
	CHECK(ou_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOP~0123"));
	CHECK(!ou_pkce_verifier_valid(NULL));

	mc_section("fresh verifiers: 64 unreserved characters, all distinct");
	for (int i = 0; i < 200; i++) {
		seen[i] = ou_pkce_verifier_new();
		CHECK(seen[i] != NULL && strlen(seen[i]) == 64);
		CHECK(ou_pkce_verifier_valid(seen[i]));
		CHECK(strspn(seen[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 64);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(seen[i], seen[j]) != 0);
	}
	for (int i = 0; i < 200; i++)
		ou_free_secret(seen[i]);

	mc_section("state and invitation tokens: 43 URL-safe characters (256 bits)");
	v = ou_state_new();
	CHECK(v && strlen(v) == 43);
	CHECK(strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
	ou_free_secret(v);
	v = ou_invite_token_new();
	CHECK(v && strlen(v) == 43);
	ou_free_secret(v);
	v = ou_random_urlsafe(16);
	CHECK(v && strlen(v) == 22);
	ou_free_secret(v);
	CHECK(ou_random_urlsafe(15) == NULL);   /* less than 128 bits is refused */
	CHECK(ou_random_urlsafe(1025) == NULL);

	mc_section("SHA-256 hex (FIPS 180-2 'abc' and empty vectors)");
	ou_sha256_hex("abc", 3, h);
	CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ou_sha256_hex("", 0, h);
	CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_percent(void)
{
	sbuf b;
	char *d;
	size_t n;

	mc_section("percent-encoding keeps only unreserved characters");
	sbuf_init(&b, 0);
	CHECK(ou_pct_encode(&b, "a b&c=d/\xc3\xa9~-._+%", strlen("a b&c=d/\xc3\xa9~-._+%")) == 0);
	CHECK_STR(b.data, "a%20b%26c%3Dd%2F%C3%A9~-._%2B%25");
	sbuf_reset(&b);

	mc_section("form_append builds a query after a '?' and between parameters");
	sbuf_puts(&b, "https://h/v2/o/authorize/?");
	CHECK(ou_form_append(&b, "response_type", "code") == 0);
	CHECK(ou_form_append(&b, "scope", "openid patient/Patient.rs") == 0);
	CHECK_STR(b.data, "https://h/v2/o/authorize/?response_type=code&scope=openid%20patient%2FPatient.rs");
	sbuf_reset(&b);
	CHECK(ou_form_append(&b, "grant_type", "authorization_code") == 0);
	CHECK_STR(b.data, "grant_type=authorization_code");
	sbuf_free(&b);

	mc_section("a capped buffer refuses to overflow");
	sbuf_init(&b, 8);
	CHECK(ou_pct_encode(&b, "abcdefgh", 8) == 0);
	CHECK(ou_pct_encode(&b, "i", 1) == -1);
	sbuf_free(&b);
	sbuf_init(&b, 4);
	CHECK(ou_pct_encode(&b, "ab ", 3) == -1);   /* "ab%20" is 5 bytes */
	sbuf_free(&b);

	mc_section("percent-decoding of form components");
	d = ou_pct_decode("a+b%20c%2B%2f%C3%A9", strlen("a+b%20c%2B%2f%C3%A9"), &n);
	CHECK_STR(d, "a b c+/\xc3\xa9");
	CHECK(n == 9);
	free(d);
	d = ou_pct_decode("", 0, &n);
	CHECK(d && n == 0 && d[0] == '\0');
	free(d);
	d = ou_pct_decode("x/?:@!$'()*,;", 13, &n);
	CHECK_STR(d, "x/?:@!$'()*,;");
	free(d);

	mc_section("percent-decoding rejects bad escapes, NUL and raw bytes a URL cannot hold");
	CHECK(ou_pct_decode("%", 1, &n) == NULL);
	CHECK(ou_pct_decode("a%4", 3, &n) == NULL);
	CHECK(ou_pct_decode("%zz", 3, &n) == NULL);
	CHECK(ou_pct_decode("%4g", 3, &n) == NULL);
	CHECK(ou_pct_decode("a%00b", 5, &n) == NULL);
	CHECK(ou_pct_decode("a\0b", 3, &n) == NULL);
	CHECK(ou_pct_decode("a b", 3, &n) == NULL);
	CHECK(ou_pct_decode("a\tb", 3, &n) == NULL);
	CHECK(ou_pct_decode("\xc3\xa9", 2, &n) == NULL);
	CHECK(ou_pct_decode("a\"b", 3, &n) == NULL);
	CHECK(ou_pct_decode("<x>", 3, &n) == NULL);
	CHECK(ou_pct_decode("a#b", 3, &n) == NULL);
	CHECK(ou_pct_decode("{|}", 3, &n) == NULL);
}

static ou_query_status parse(const char *s, const ou_query_limits *lim, ou_query **q,
                             char *err, size_t errlen)
{
	err[0] = '\0';
	return ou_query_parse(s, strlen(s), lim, q, err, errlen);
}

static void test_query(void)
{
	char err[256];
	ou_query *q;
	ou_query_limits lim = { 0 };
	char big[5000];

	mc_section("query parser: a Blue Button callback");
	CHECK(parse("code=Abc123&state=xyz%2D-_", NULL, &q, err, sizeof err) == OU_QUERY_OK);
	CHECK(ou_query_count(q) == 2);
	CHECK_STR(ou_query_get(q, "code"), "Abc123");
	CHECK_STR(ou_query_get(q, "state"), "xyz--_");
	CHECK(ou_query_get(q, "error") == NULL);
	CHECK_STR(ou_query_name(q, 1), "state");
	CHECK_STR(ou_query_value(q, 0), "Abc123");
	CHECK(ou_query_name(q, 2) == NULL);
	ou_query_free(q);

	mc_section("query parser: empty string, empty segments, names without '='");
	CHECK(parse("", NULL, &q, err, sizeof err) == OU_QUERY_OK && ou_query_count(q) == 0);
	ou_query_free(q);
	CHECK(parse("&&a=1&&b&c=&", NULL, &q, err, sizeof err) == OU_QUERY_OK);
	CHECK(ou_query_count(q) == 3);
	CHECK_STR(ou_query_get(q, "a"), "1");
	CHECK_STR(ou_query_get(q, "b"), "");
	CHECK_STR(ou_query_get(q, "c"), "");
	ou_query_free(q);
	CHECK(parse("error=access_denied&error_description=The+user+denied%21", NULL, &q,
	            err, sizeof err) == OU_QUERY_OK);
	CHECK_STR(ou_query_get(q, "error_description"), "The user denied!");
	CHECK(ou_query_get(NULL, "x") == NULL && ou_query_count(NULL) == 0);
	ou_query_free(q);
	ou_query_free(NULL);

	mc_section("query parser: '=' inside a value is data");
	CHECK(parse("a=b=c", NULL, &q, err, sizeof err) == OU_QUERY_OK);
	CHECK_STR(ou_query_get(q, "a"), "b=c");
	ou_query_free(q);

	mc_section("query parser: a name given twice is refused unless allowed");
	CHECK(parse("state=a&state=b", NULL, &q, err, sizeof err) == OU_QUERY_MALFORMED);
	CHECK(q == NULL);
	CHECK_HAS(err, "'state' is given more than once");
	lim.allow_duplicates = true;
	CHECK(parse("state=a&state=b", &lim, &q, err, sizeof err) == OU_QUERY_OK);
	CHECK_STR(ou_query_get(q, "state"), "a");
	CHECK(ou_query_count(q) == 2);
	ou_query_free(q);
	lim.allow_duplicates = false;

	mc_section("query parser: caps on parameters and length");
	lim.max_params = 3;
	CHECK(parse("a=1&b=2&c=3", &lim, &q, err, sizeof err) == OU_QUERY_OK);
	ou_query_free(q);
	CHECK(parse("a=1&b=2&c=3&d=4", &lim, &q, err, sizeof err) == OU_QUERY_TOO_MANY);
	CHECK_HAS(err, "more than 3 parameters");
	lim.max_params = 0;
	lim.max_len = 10;
	CHECK(parse("a=12345678", &lim, &q, err, sizeof err) == OU_QUERY_OK);
	ou_query_free(q);
	CHECK(parse("a=123456789", &lim, &q, err, sizeof err) == OU_QUERY_TOO_LONG);
	CHECK_HAS(err, "11 bytes, more than the limit of 10");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(parse(big, NULL, &q, err, sizeof err) == OU_QUERY_TOO_LONG);      /* default 4096 */
	big[4096] = '\0';
	CHECK(parse(big, NULL, &q, err, sizeof err) == OU_QUERY_OK);
	ou_query_free(q);
	{
		sbuf many;

		sbuf_init(&many, 0);
		for (int i = 0; i < 33; i++)
			sbuf_printf(&many, "p%d=%d&", i, i);
		CHECK(ou_query_parse(many.data, many.len, NULL, &q, err, sizeof err) == OU_QUERY_TOO_MANY);
		sbuf_free(&many);
	}

	mc_section("query parser: malformed input, and errors never echo a value");
	CHECK(parse("state=SECRETVALUE%zz", NULL, &q, err, sizeof err) == OU_QUERY_MALFORMED);
	CHECK_HAS(err, "'state' has a malformed value");
	CHECK(strstr(err, "SECRETVALUE") == NULL);
	CHECK(parse("code=SECRET%00", NULL, &q, err, sizeof err) == OU_QUERY_MALFORMED);
	CHECK(strstr(err, "SECRET") == NULL);
	CHECK(parse("=x", NULL, &q, err, sizeof err) == OU_QUERY_MALFORMED);
	CHECK_HAS(err, "empty name");
	CHECK(parse("a%=1", NULL, &q, err, sizeof err) == OU_QUERY_MALFORMED);
	CHECK_HAS(err, "malformed name");
	CHECK(parse("a=1 2", NULL, &q, err, sizeof err) == OU_QUERY_MALFORMED);
	CHECK(ou_query_parse("a=1\0b=2", 7, NULL, &q, err, sizeof err) == OU_QUERY_MALFORMED);
	CHECK(parse("%3Cscript%3E=1&%3Cscript%3E=2", NULL, &q, err, sizeof err) == OU_QUERY_MALFORMED);
	CHECK_HAS(err, "'?script?' is given more than once");
	CHECK(q == NULL);
}

static void test_basic(void)
{
	char *h;

	mc_section("HTTP Basic header: id and secret form-encoded, then base64");
	h = ou_basic_auth_header("abc", "s3cr3t");
	CHECK_STR(h, "Authorization: Basic YWJjOnMzY3IzdA==");
	ou_free_secret(h);
	/* "a%20b:p%3Aw%2B" */
	h = ou_basic_auth_header("a b", "p:w+");
	CHECK_STR(h, "Authorization: Basic YSUyMGI6cCUzQXclMkI=");
	ou_free_secret(h);
	ou_free_secret(NULL);
}

int main(void)
{
	test_base64();
	test_hex();
	test_pkce();
	test_percent();
	test_query();
	test_basic();
	return mc_done("test_oauthutil");
}
