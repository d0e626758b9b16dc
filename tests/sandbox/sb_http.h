/*
 * sb_http: request parameters and replies of the sandbox, independent of
 * libmicrohttpd so the OAuth and FHIR logic can be read (and tested) on
 * their own.
 */
#ifndef BB_SB_HTTP_H
#define BB_SB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* An ordered list of key/value pairs (query string, form body, headers);
 * keys may repeat. */
typedef struct sb_param {
	char *key;
	char *value;
} sb_param;

typedef struct sb_params {
	sb_param *v;
	size_t n, cap;
} sb_params;

void sb_params_add(sb_params *p, const char *key, const char *value);
/* parse application/x-www-form-urlencoded text ('+' is a space) */
void sb_params_parse_form(sb_params *p, const char *data, size_t len);
/* first value of key, or NULL */
const char *sb_params_get(const sb_params *p, const char *key);
size_t sb_params_count(const sb_params *p, const char *key);
void sb_params_free(sb_params *p);

/* percent-encode for a query component (RFC 3986 unreserved kept) */
void sb_url_encode(sbuf *out, const char *s);
/* append s as a JSON string literal, with quotes */
void sb_json_str(sbuf *out, const char *s);

/* What a handler answers. */
typedef struct sb_reply {
	int status;
	const char *content_type;   /* static string */
	sbuf body;
	sb_params headers;          /* extra response headers */
	bool compressible;          /* gzip it when the client asks */
} sb_reply;

void sb_reply_init(sb_reply *r);
void sb_reply_free(sb_reply *r);
void sb_reply_header(sb_reply *r, const char *name, const char *value);
/* body = text with a content type */
void sb_reply_text(sb_reply *r, int status, const char *content_type, const char *text);

/* Django JsonResponse / oauthlib style (", " and ": " separators) */
void sb_reply_oauth_error(sb_reply *r, int status, const char *error, const char *description);
void sb_reply_bb_error(sb_reply *r, int status, const char *error, const char *description);
void sb_reply_message(sb_reply *r, int status, const char *message);
/* Django REST framework style: {"detail":"..."} */
void sb_reply_detail(sb_reply *r, int status, const char *detail);

#endif
