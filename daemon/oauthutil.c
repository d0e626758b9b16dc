#include "oauthutil.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* ---- base64 / hex ---- */

static const char b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode_with(const void *data, size_t len, const char *alpha, bool pad)
{
	const unsigned char *p = data;
	size_t groups, outlen, o = 0, i = 0;
	char *out;

	if (len > SIZE_MAX / 2)
		abort();        /* not a size this program ever encodes */
	groups = (len + 2) / 3;
	outlen = groups * 4;
	out = xmalloc(outlen + 1);
	for (; i + 3 <= len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
		out[o++] = alpha[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)p[i] << 16;

		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;

		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

char *ou_b64_encode(const void *data, size_t len)
{
	return b64_encode_with(data, len, b64_std, true);
}

char *ou_b64url_encode(const void *data, size_t len)
{
	return b64_encode_with(data, len, b64_url, false);
}

/* 0..63, or -1; *alpha records which alphabet a character belongs to */
static int b64_value(char c, int *alpha)
{
	int want = 0;

	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '/')
		want = 1;
	else if (c == '-' || c == '_')
		want = 2;
	else
		return -1;
	if (*alpha && *alpha != want)
		return -1;      /* mixed alphabets */
	*alpha = want;
	return (c == '+' || c == '-') ? 62 : 63;
}

long ou_b64_decode(const char *text, size_t len, unsigned char *out, size_t outcap)
{
	size_t n = len, pads = 0, rem, need, o = 0, i;
	int alpha = 0;
	unsigned acc = 0;
	int bits = 0;

	while (n > 0 && text[n - 1] == '=' && pads < 2) {
		n--;
		pads++;
	}
	rem = n % 4;
	if (rem == 1)
		return -1;
	if (pads) {
		if ((n + pads) % 4 != 0)
			return -1;
		if ((rem == 2 && pads != 2) || (rem == 3 && pads != 1))
			return -1;
	}
	need = n / 4 * 3 + (rem ? rem - 1 : 0);
	if (need > outcap || need > (size_t)LONG_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64_value(text[i], &alpha);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xffffffu;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	/* the bits left over must be zero (canonical encoding) */
	if (bits && (acc & ((1u << bits) - 1)))
		return -1;
	return (long)o;
}

void ou_hex_encode(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ou_hex_decode(const char *text, size_t len, unsigned char *out, size_t outlen)
{
	if (len != 2 * outlen)
		return -1;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* ---- random values, PKCE, hashing ---- */

char *ou_random_urlsafe(size_t nbytes)
{
	unsigned char buf[1024];
	char *s;

	if (nbytes < 16 || nbytes > sizeof buf)
		return NULL;
	if (RAND_bytes(buf, (int)nbytes) != 1) {
		secure_zero(buf, sizeof buf);
		return NULL;
	}
	s = ou_b64url_encode(buf, nbytes);
	secure_zero(buf, nbytes);
	return s;
}

char *ou_state_new(void) { return ou_random_urlsafe(OU_STATE_BYTES); }
char *ou_pkce_verifier_new(void) { return ou_random_urlsafe(OU_VERIFIER_BYTES); }
char *ou_invite_token_new(void) { return ou_random_urlsafe(OU_INVITE_BYTES); }

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

bool ou_pkce_verifier_valid(const char *verifier)
{
	size_t n;

	if (!verifier)
		return false;
	n = strlen(verifier);
	if (n < OU_VERIFIER_MIN_LEN || n > OU_VERIFIER_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_unreserved((unsigned char)verifier[i]))
			return false;
	return true;
}

char *ou_pkce_challenge_s256(const char *verifier)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (!ou_pkce_verifier_valid(verifier))
		return NULL;
	SHA256((const unsigned char *)verifier, strlen(verifier), md);
	return ou_b64url_encode(md, sizeof md);
}

void ou_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	ou_hex_encode(md, sizeof md, out);
}

/* ---- percent-encoding ---- */

int ou_pct_encode(sbuf *b, const char *s, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_unreserved(c)) {
			if (sbuf_putc(b, (char)c) < 0)
				return -1;
		} else {
			char esc[3] = { '%', digits[c >> 4], digits[c & 15] };

			if (sbuf_append(b, esc, 3) < 0)
				return -1;
		}
	}
	return 0;
}

int ou_form_append(sbuf *b, const char *name, const char *value)
{
	if (b->len > 0 && b->data[b->len - 1] != '?' && sbuf_putc(b, '&') < 0)
		return -1;
	if (ou_pct_encode(b, name, strlen(name)) < 0 || sbuf_putc(b, '=') < 0 ||
	    ou_pct_encode(b, value, strlen(value)) < 0)
		return -1;
	return 0;
}

/* May this byte appear raw in a URL query (RFC 3986 §3.4)? '%' is handled apart. */
static bool query_char_ok(unsigned char c)
{
	if (is_unreserved(c))
		return true;
	switch (c) {
	case '!': case '$': case '&': case '\'': case '(': case ')': case '*':
	case '+': case ',': case ';': case '=': case ':': case '@': case '/': case '?':
		return true;
	default:
		return false;
	}
}

char *ou_pct_decode(const char *s, size_t len, size_t *outlen)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				goto bad;
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			out[o++] = ' ';
		} else if (query_char_ok(c)) {
			out[o++] = (char)c;
		} else {
			goto bad;
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return out;
bad:
	secure_zero(out, len + 1);
	free(out);
	return NULL;
}

/* ---- query strings ---- */

struct ou_query {
	size_t n;
	char **names;
	char **values;
	size_t *value_lens;
	size_t *name_lens;
};

static void query_add(ou_query *q, char *name, size_t name_len, char *value, size_t value_len)
{
	q->names = xreallocarray(q->names, q->n + 1, sizeof *q->names);
	q->values = xreallocarray(q->values, q->n + 1, sizeof *q->values);
	q->name_lens = xreallocarray(q->name_lens, q->n + 1, sizeof *q->name_lens);
	q->value_lens = xreallocarray(q->value_lens, q->n + 1, sizeof *q->value_lens);
	q->names[q->n] = name;
	q->values[q->n] = value;
	q->name_lens[q->n] = name_len;
	q->value_lens[q->n] = value_len;
	q->n++;
}

/* A parameter name made safe to quote in a message: short, harmless characters only. */
static void quote_name(const char *name, size_t len, char *out, size_t outcap)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 4 < outcap; i++) {
		unsigned char c = (unsigned char)name[i];

		out[o++] = (is_unreserved(c) || c == ' ' || c == '[' || c == ']') ? (char)c : '?';
		if (i == 31 && len > 32) {
			out[o++] = '.';
			out[o++] = '.';
			out[o++] = '.';
			break;
		}
	}
	out[o] = '\0';
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

ou_query_status ou_query_parse(const char *s, size_t len, const ou_query_limits *lim,
                               ou_query **out, char *err, size_t errlen)
{
	size_t max_len = lim && lim->max_len ? lim->max_len : OU_QUERY_DEFAULT_MAX_LEN;
	size_t max_params = lim && lim->max_params ? lim->max_params : OU_QUERY_DEFAULT_MAX_PARAMS;
	bool dups = lim && lim->allow_duplicates;
	ou_query *q;
	size_t pos = 0;

	*out = NULL;
	if (len > max_len) {
		set_err(err, errlen, "query string is %zu bytes, more than the limit of %zu",
		        len, max_len);
		return OU_QUERY_TOO_LONG;
	}
	q = xcalloc(1, sizeof *q);
	while (pos < len) {
		const char *seg = s + pos, *amp = memchr(seg, '&', len - pos), *eq;
		size_t seglen = amp ? (size_t)(amp - seg) : len - pos;
		size_t nlen, vlen, dn, dv;
		char *name, *value;

		pos += seglen + 1;
		if (seglen == 0)
			continue;
		if (q->n >= max_params) {
			set_err(err, errlen, "query string has more than %zu parameters", max_params);
			ou_query_free(q);
			return OU_QUERY_TOO_MANY;
		}
		eq = memchr(seg, '=', seglen);
		nlen = eq ? (size_t)(eq - seg) : seglen;
		vlen = eq ? seglen - nlen - 1 : 0;
		name = ou_pct_decode(seg, nlen, &dn);
		if (!name) {
			set_err(err, errlen, "query parameter %zu has a malformed name "
			        "(bad %% escape, NUL or a character not allowed in a URL)", q->n + 1);
			ou_query_free(q);
			return OU_QUERY_MALFORMED;
		}
		if (dn == 0) {
			free(name);
			set_err(err, errlen, "query parameter %zu has an empty name", q->n + 1);
			ou_query_free(q);
			return OU_QUERY_MALFORMED;
		}
		value = ou_pct_decode(eq ? eq + 1 : "", vlen, &dv);
		if (!value) {
			char qn[48];

			quote_name(name, dn, qn, sizeof qn);
			set_err(err, errlen, "query parameter '%s' has a malformed value "
			        "(bad %% escape, NUL or a character not allowed in a URL)", qn);
			secure_zero(name, dn);
			free(name);
			ou_query_free(q);
			return OU_QUERY_MALFORMED;
		}
		if (!dups) {
			for (size_t i = 0; i < q->n; i++) {
				if (q->name_lens[i] == dn && memcmp(q->names[i], name, dn) == 0) {
					char qn[48];

					quote_name(name, dn, qn, sizeof qn);
					set_err(err, errlen, "query parameter '%s' is given more than once", qn);
					secure_zero(name, dn);
					free(name);
					secure_zero(value, dv);
					free(value);
					ou_query_free(q);
					return OU_QUERY_MALFORMED;
				}
			}
		}
		query_add(q, name, dn, value, dv);
	}
	*out = q;
	return OU_QUERY_OK;
}

const char *ou_query_get(const ou_query *q, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; q && i < q->n; i++)
		if (q->name_lens[i] == n && memcmp(q->names[i], name, n) == 0)
			return q->values[i];
	return NULL;
}

size_t ou_query_count(const ou_query *q) { return q ? q->n : 0; }

const char *ou_query_name(const ou_query *q, size_t i)
{
	return q && i < q->n ? q->names[i] : NULL;
}

const char *ou_query_value(const ou_query *q, size_t i)
{
	return q && i < q->n ? q->values[i] : NULL;
}

void ou_query_free(ou_query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++) {
		secure_zero(q->names[i], q->name_lens[i]);
		free(q->names[i]);
		secure_zero(q->values[i], q->value_lens[i]);
		free(q->values[i]);
	}
	free(q->names);
	free(q->values);
	free(q->name_lens);
	free(q->value_lens);
	free(q);
}

/* ---- client authentication ---- */

char *ou_basic_auth_header(const char *client_id, const char *client_secret)
{
	static const char prefix[] = "Authorization: Basic ";
	sbuf cred;
	char *b64, *line;
	size_t blen;

	sbuf_init(&cred, 0);
	if (ou_pct_encode(&cred, client_id, strlen(client_id)) < 0 || sbuf_putc(&cred, ':') < 0 ||
	    ou_pct_encode(&cred, client_secret, strlen(client_secret)) < 0)
		abort();        /* uncapped buffer: only out of memory, which aborts earlier */
	b64 = ou_b64_encode(cred.data, cred.len);
	secure_zero(cred.data, cred.len);
	sbuf_free(&cred);
	blen = strlen(b64);
	line = xmalloc(sizeof prefix + blen);
	memcpy(line, prefix, sizeof prefix - 1);
	memcpy(line + sizeof prefix - 1, b64, blen + 1);
	ou_free_secret(b64);
	return line;
}

void ou_free_secret(char *s)
{
	if (!s)
		return;
	secure_zero(s, strlen(s));
	free(s);
}
