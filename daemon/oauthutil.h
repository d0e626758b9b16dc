/*
 * oauthutil: the small encodings and random values of the OAuth 2.0 +
 * PKCE flow, and the strict query-string parser of the embedded listener.
 *
 *   - base64 / base64url (RFC 4648; base64url without padding),
 *   - random URL-safe strings from RAND_bytes (state, PKCE verifier,
 *     invitation tokens),
 *   - the PKCE S256 challenge, BASE64URL(SHA-256(verifier)) (RFC 7636 §4.2),
 *   - SHA-256 in hex (invitation tokens are stored hashed),
 *   - percent-encoding of query components and a strict parser of
 *     application/x-www-form-urlencoded query strings with caps,
 *   - the HTTP Basic client-authentication header (RFC 6749 §2.3.1).
 *
 * Every returned string is allocated with xmalloc and NUL-terminated; the
 * caller frees it.  Strings that hold a secret (state, verifier, invitation
 * token, Basic header) should be released with ou_free_secret(), which
 * wipes them first.  Nothing in this module logs a value it handles.
 */
#ifndef BB_OAUTHUTIL_H
#define BB_OAUTHUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* ---- base64 / hex ---- */

/* Standard base64 with '=' padding. */
char *ou_b64_encode(const void *data, size_t len);
/* base64url (RFC 4648 §5) without padding, as OAuth and PKCE use it. */
char *ou_b64url_encode(const void *data, size_t len);

/*
 * Decode base64 or base64url text of length `len` into `out` (room for
 * `outcap` bytes).  Accepts either alphabet (not mixed), with or without
 * correct '=' padding; rejects anything else, including whitespace and
 * non-zero trailing bits.  Returns the decoded length, or -1.
 */
long ou_b64_decode(const char *text, size_t len, unsigned char *out, size_t outcap);

/* Lower-case hex of `len` bytes into `out` (room for 2 * len + 1). */
void ou_hex_encode(const void *data, size_t len, char *out);
/* Decode exactly 2 * outlen hex digits (either case); 0 or -1. */
int ou_hex_decode(const char *text, size_t len, unsigned char *out, size_t outlen);

/* ---- random values, PKCE, hashing ---- */

/* Bytes of randomness behind each value (each >= 128 bits). */
#define OU_STATE_BYTES 32           /* state: 43 characters */
#define OU_VERIFIER_BYTES 48        /* PKCE verifier: 64 characters */
#define OU_INVITE_BYTES 32          /* invitation token: 43 characters */
#define OU_VERIFIER_MIN_LEN 43      /* RFC 7636 §4.1 */
#define OU_VERIFIER_MAX_LEN 128

/*
 * base64url of `nbytes` (16..1024) bytes from RAND_bytes: only the
 * characters A-Z a-z 0-9 - _ (a subset of RFC 7636's unreserved set).
 * NULL if nbytes is out of range or the random generator failed.
 */
char *ou_random_urlsafe(size_t nbytes);

/* A fresh OAuth `state` (OU_STATE_BYTES random bytes); NULL on failure. */
char *ou_state_new(void);
/* A fresh PKCE code verifier (64 characters); NULL on failure. */
char *ou_pkce_verifier_new(void);
/* A fresh invitation token (OU_INVITE_BYTES random bytes); NULL on failure. */
char *ou_invite_token_new(void);

/*
 * The S256 code challenge of `verifier`: BASE64URL(SHA-256(ASCII(verifier))).
 * NULL if the verifier is not 43..128 characters of [A-Za-z0-9-._~].
 */
char *ou_pkce_challenge_s256(const char *verifier);

/* true if `verifier` is a valid RFC 7636 code verifier. */
bool ou_pkce_verifier_valid(const char *verifier);

/* Lower-case hex SHA-256 of `len` bytes into `out` (65 bytes). */
void ou_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- percent-encoding ---- */

/*
 * Append `len` bytes of `s` to `b` percent-encoded for a URL query
 * component: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX (upper case), so
 * a space is %20 (as Blue Button's scope parameter wants).  -1 if `b`'s cap
 * would be exceeded.
 */
int ou_pct_encode(sbuf *b, const char *s, size_t len);

/*
 * Append "name=value" percent-encoded to a URL or form body in `b`,
 * preceded by '&' unless `b` is empty or ends in '?'.  -1 on cap.
 */
int ou_form_append(sbuf *b, const char *name, const char *value);

/*
 * Decode one application/x-www-form-urlencoded component of `len` bytes
 * ('+' is a space, %XX a byte).  Returns a new NUL-terminated string and
 * its length in *outlen, or NULL on a malformed escape, a raw or decoded
 * NUL, or a raw byte that may not appear in a URL query (RFC 3986: space,
 * controls, non-ASCII, "<>\"\\^`{|}").
 */
char *ou_pct_decode(const char *s, size_t len, size_t *outlen);

/* ---- query strings ---- */

typedef struct ou_query ou_query;

typedef struct ou_query_limits {
	size_t max_len;         /* bytes of the raw query string; 0 = 4096 */
	size_t max_params;      /* 0 = 32 */
	bool allow_duplicates;  /* false: a name given twice is an error (RFC 6749 §3.1) */
} ou_query_limits;

#define OU_QUERY_DEFAULT_MAX_LEN 4096
#define OU_QUERY_DEFAULT_MAX_PARAMS 32

typedef enum {
	OU_QUERY_OK = 0,
	OU_QUERY_TOO_LONG,      /* over max_len: answer 414 */
	OU_QUERY_TOO_MANY,      /* over max_params: answer 400 */
	OU_QUERY_MALFORMED,     /* bad escape, NUL, forbidden byte, empty name, duplicate: 400 */
} ou_query_status;

/*
 * Parse the query string `s` (`len` bytes, without the leading '?'; may
 * be empty) into *out.  Parameters are separated by '&'; empty segments are
 * skipped; a segment without '=' has the empty value.  Names and values are
 * decoded with ou_pct_decode.  On failure *out is NULL and `err` says why
 * without echoing any value (a value may be a token).
 */
ou_query_status ou_query_parse(const char *s, size_t len, const ou_query_limits *lim,
                               ou_query **out, char *err, size_t errlen);

/* The value of the first parameter called `name`, or NULL. */
const char *ou_query_get(const ou_query *q, const char *name);
size_t ou_query_count(const ou_query *q);
const char *ou_query_name(const ou_query *q, size_t i);
const char *ou_query_value(const ou_query *q, size_t i);
/* Wipes every name and value, then frees; NULL is fine. */
void ou_query_free(ou_query *q);

/* ---- client authentication ---- */

/*
 * The header line "Authorization: Basic BASE64(id:secret)" where id and
 * secret are first form-urlencoded (RFC 6749 §2.3.1; Blue Button's server
 * decodes them so).  Holds the secret: free with ou_free_secret().
 */
char *ou_basic_auth_header(const char *client_id, const char *client_secret);

/* Wipe a NUL-terminated secret string and free it; NULL is fine. */
void ou_free_secret(char *s);

#endif
