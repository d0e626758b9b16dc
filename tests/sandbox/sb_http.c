/*
 * sb_http: see sb_http.h.
 */
#include "sb_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_params_add(sb_params *p, const char *key, const char *value)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	p->v[p->n].key = xstrdup(key);
	p->v[p->n].value = xstrdup(value ? value : "");
	p->n++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *form_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

void sb_params_parse_form(sb_params *p, const char *data, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && data[end] != '&')
			end++;
		if (end > i) {
			size_t eq = i;
			while (eq < end && data[eq] != '=')
				eq++;
			char *k = form_decode(data + i, eq - i);
			char *v = eq < end ? form_decode(data + eq + 1, end - eq - 1) : xstrdup("");
			sb_params_add(p, k, v);
			free(k);
			free(v);
		}
		i = end + 1;
	}
}

const char *sb_params_get(const sb_params *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].key, key) == 0)
			return p->v[i].value;
	}
	return NULL;
}

size_t sb_params_count(const sb_params *p, const char *key)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += strcmp(p->v[i].key, key) == 0;
	return n;
}

void sb_params_free(sb_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

void sb_url_encode(sbuf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    *c == '-' || *c == '.' || *c == '_' || *c == '~') {
			sbuf_putc(out, (char)*c);
		} else {
			char b[3] = { '%', hex[*c >> 4], hex[*c & 15] };
			sbuf_append(out, b, 3);
		}
	}
}

void sb_json_str(sbuf *out, const char *s)
{
	sbuf_putc(out, '"');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"': sbuf_puts(out, "\\\""); break;
		case '\\': sbuf_puts(out, "\\\\"); break;
		case '\n': sbuf_puts(out, "\\n"); break;
		case '\r': sbuf_puts(out, "\\r"); break;
		case '\t': sbuf_puts(out, "\\t"); break;
		default:
			if (*c < 0x20)
				sbuf_printf(out, "\\u%04x", *c);
			else
				sbuf_putc(out, (char)*c);
		}
	}
	sbuf_putc(out, '"');
}

void sb_reply_init(sb_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->content_type = "application/json";
	sbuf_init(&r->body, 0);
}

void sb_reply_free(sb_reply *r)
{
	sbuf_free(&r->body);
	sb_params_free(&r->headers);
}

void sb_reply_header(sb_reply *r, const char *name, const char *value)
{
	sb_params_add(&r->headers, name, value);
}

void sb_reply_text(sb_reply *r, int status, const char *content_type, const char *text)
{
	r->status = status;
	r->content_type = content_type;
	sbuf_reset(&r->body);
	sbuf_puts(&r->body, text);
}

void sb_reply_oauth_error(sb_reply *r, int status, const char *error, const char *description)
{
	r->status = status;
	r->content_type = "application/json";
	sbuf_reset(&r->body);
	sbuf_puts(&r->body, "{\"error\": ");
	sb_json_str(&r->body, error);
	if (description) {
		sbuf_puts(&r->body, ", \"error_description\": ");
		sb_json_str(&r->body, description);
	}
	sbuf_putc(&r->body, '}');
}

void sb_reply_bb_error(sb_reply *r, int status, const char *error, const char *description)
{
	r->status = status;
	r->content_type = "application/json";
	sbuf_reset(&r->body);
	sbuf_printf(&r->body, "{\"status_code\": %d, \"error\": ", status);
	sb_json_str(&r->body, error);
	if (description) {
		sbuf_puts(&r->body, ", \"error_description\": ");
		sb_json_str(&r->body, description);
	}
	sbuf_putc(&r->body, '}');
}

void sb_reply_message(sb_reply *r, int status, const char *message)
{
	r->status = status;
	r->content_type = "application/json";
	sbuf_reset(&r->body);
	sbuf_printf(&r->body, "{\"status_code\": %d, \"message\": ", status);
	sb_json_str(&r->body, message);
	sbuf_putc(&r->body, '}');
}

void sb_reply_detail(sb_reply *r, int status, const char *detail)
{
	r->status = status;
	r->content_type = "application/json";
	sbuf_reset(&r->body);
	sbuf_puts(&r->body, "{\"detail\":");
	sb_json_str(&r->body, detail);
	sbuf_putc(&r->body, '}');
}
