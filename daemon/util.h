/*
 * util: the one allocation policy and a capped growable buffer.
 *
 * Out of memory is not recoverable for this daemon: x*alloc print one line
 * and abort.  Every buffer filled from outside (network, files) is an sbuf
 * with a maximum, so hostile input cannot make it grow without bound.
 */
#ifndef BB_UTIL_H
#define BB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* realloc for arrays, failing on n * size overflow */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer, always NUL-terminated, never longer than max. */
typedef struct sbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;     /* 0 means SIZE_MAX / 2 */
} sbuf;

void sbuf_init(sbuf *b, size_t max);
/* 0 on success, -1 if the result would exceed the buffer's max */
int sbuf_append(sbuf *b, const void *data, size_t len);
/*
 * Room for `extra` more bytes and the NUL, written nothing: for writers that
 * fill data + len themselves.  0, or -1 if it would exceed the max.
 */
int sbuf_reserve(sbuf *b, size_t extra);
int sbuf_putc(sbuf *b, char c);
int sbuf_puts(sbuf *b, const char *s);
int sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_reset(sbuf *b);
void sbuf_free(sbuf *b);
/* hand the data to the caller (who frees it) and reset the buffer */
char *sbuf_steal(sbuf *b);

/* Constant-time comparison of two equal-length byte strings. */
bool ct_equal(const void *a, const void *b, size_t len);

/* Wipe memory that held a secret, in a way the compiler keeps. */
void secure_zero(void *p, size_t len);

/* Monotonic and wall clocks in microseconds. */
int64_t now_mono_us(void);
int64_t now_wall_us(void);

#endif
