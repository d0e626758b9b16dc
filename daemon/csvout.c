#include "csvout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define FLUSH_AT (128u * 1024u)   /* per table; buffers never grow past it */

typedef struct table_out {
	int fd;                 /* -1 in memory mode */
	char *tmp_path, *path;
	sbuf buf;               /* not yet written */
	off_t written;          /* bytes in the file */
	off_t input_mark;       /* logical offset where the current input began */
	off_t resource_mark;    /* ... and the current resource */
} table_out;

struct csvout {
	row_sink sink;
	table_out t[FT_COUNT];
	bool memory, failed, closed;
	char err[400];
};

static off_t logical(const table_out *t)
{
	return t->written + (off_t)t->buf.len;
}

static int write_all(csvout *c, table_out *t)
{
	size_t off = 0;

	if (t->fd < 0 || t->buf.len == 0)
		return 0;
	while (off < t->buf.len) {
		ssize_t w = write(t->fd, t->buf.data + off, t->buf.len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			snprintf(c->err, sizeof c->err, "cannot write \"%s\": %s", t->tmp_path,
				strerror(errno));
			c->failed = true;
			return -1;
		}
		off += (size_t)w;
	}
	t->written += (off_t)t->buf.len;
	sbuf_reset(&t->buf);
	return 0;
}

/* Cut table t back to logical offset `mark`. */
static int truncate_to(csvout *c, table_out *t, off_t mark)
{
	if (mark >= t->written) {
		t->buf.len = (size_t)(mark - t->written);
		if (t->buf.data)
			t->buf.data[t->buf.len] = '\0';
		return 0;
	}
	sbuf_reset(&t->buf);
	if (ftruncate(t->fd, mark) < 0 || lseek(t->fd, mark, SEEK_SET) < 0) {
		snprintf(c->err, sizeof c->err, "cannot truncate \"%s\": %s", t->tmp_path,
			strerror(errno));
		c->failed = true;
		return -1;
	}
	t->written = mark;
	return 0;
}

/* bytes that force quoting: , " CR LF and backslash (COPY's end-of-data \.) */
static const unsigned char special[256] = {
	[','] = 1, ['"'] = 1, ['\n'] = 1, ['\r'] = 1, ['\\'] = 1,
};

/* Does the 8-byte word hold the byte b?  (the classic SWAR zero-byte test) */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
static inline uint64_t has_byte(uint64_t w, unsigned char b)
{
	uint64_t x = w ^ (ONES * b);

	return (x - ONES) & ~x & HIGHS;
}

/* True if p[0..n) holds a byte that forces quoting; 8 bytes at a time. */
static bool has_special(const unsigned char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (has_byte(w, ',') | has_byte(w, '"') | has_byte(w, '\n') | has_byte(w, '\r') |
		    has_byte(w, '\\'))
			return true;
	}
	for (; i < n; i++)
		if (special[p[i]])
			return true;
	return false;
}

/*
 * Write one field at out (room for 2n + 2 bytes); returns the end.  Values of
 * numeric, integer, date, timestamp and boolean columns never need quoting
 * (plain: the flattener validated them) and are copied as they are.
 */
static char *put_field(char *out, const flat_val *v, bool plain)
{
	const unsigned char *p = (const unsigned char *)v->p;
	size_t n = v->n;

	if (!p)
		return out;
	if (n > 0 && (plain || (p[0] != ' ' && p[0] != '\t' && p[n - 1] != ' ' && p[n - 1] != '\t' &&
				!has_special(p, n)))) {
		memcpy(out, p, n);
		return out + n;
	}
	*out++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"')
			*out++ = '"';
		*out++ = (char)p[i];
	}
	*out++ = '"';
	return out;
}

static int sink_begin(void *ud, flat_kind kind, const char *id, size_t idlen)
{
	csvout *c = ud;

	(void)kind;
	(void)id;
	(void)idlen;
	if (c->failed)
		return -1;
	for (int i = 0; i < FT_COUNT; i++)
		c->t[i].resource_mark = logical(&c->t[i]);
	return 0;
}

static int sink_row(void *ud, flat_table table, const flat_val *cols)
{
	csvout *c = ud;
	table_out *t = &c->t[table];

	int ncols = flat_tables[table].ncols;
	size_t need = (size_t)ncols + 1;
	char *out;

	if (c->failed)
		return -1;
	for (int i = 0; i < ncols; i++)
		need += cols[i].p ? 2 * cols[i].n + 2 : 0;
	/* write out first, so the buffer keeps its size (memory stays flat) */
	if (!c->memory && t->buf.len + need >= FLUSH_AT && write_all(c, t) < 0)
		return -1;
	if (sbuf_reserve(&t->buf, need) < 0) {
		snprintf(c->err, sizeof c->err, "a row of %s is too large to buffer",
			 flat_tables[table].name);
		c->failed = true;
		return -1;
	}
	out = t->buf.data + t->buf.len;
	for (int i = 0; i < ncols; i++) {
		flat_coltype ty = flat_tables[table].columns[i].type;

		if (i)
			*out++ = ',';
		out = put_field(out, &cols[i], ty == FC_NUMERIC || ty == FC_INT || ty == FC_DATE ||
					       ty == FC_TIMESTAMPTZ || ty == FC_BOOL);
	}
	*out++ = '\n';
	*out = '\0';
	t->buf.len = (size_t)(out - t->buf.data);
	return 0;
}

static int sink_end(void *ud)
{
	csvout *c = ud;

	return c->failed ? -1 : 0;
}

static void sink_abort(void *ud)
{
	csvout *c = ud;

	for (int i = 0; i < FT_COUNT; i++)
		truncate_to(c, &c->t[i], c->t[i].resource_mark);
}

static const char *sink_error(void *ud)
{
	csvout *c = ud;

	return c->err[0] ? c->err : "CSV output failed";
}

static csvout *alloc_out(bool memory)
{
	csvout *c = xcalloc(1, sizeof *c);

	c->memory = memory;
	c->sink = (row_sink){ c, sink_begin, sink_row, sink_end, sink_abort, sink_error };
	for (int i = 0; i < FT_COUNT; i++) {
		table_out *t = &c->t[i];

		t->fd = -1;
		sbuf_init(&t->buf, 0);
		if (!memory)
			sbuf_reserve(&t->buf, FLUSH_AT);        /* cannot fail: no max */
		for (int k = 0; k < flat_tables[i].ncols; k++) {
			if (k)
				sbuf_putc(&t->buf, ',');
			sbuf_puts(&t->buf, flat_tables[i].columns[k].name);
		}
		sbuf_putc(&t->buf, '\n');
	}
	return c;
}

csvout *csvout_memory(void)
{
	return alloc_out(true);
}

csvout *csvout_open(const char *dir, char *err, size_t errlen)
{
	csvout *c;

	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create output directory \"%s\": %s", dir, strerror(errno));
		return NULL;
	}
	c = alloc_out(false);
	for (int i = 0; i < FT_COUNT; i++) {
		table_out *t = &c->t[i];

		t->path = xasprintf("%s/%s.csv", dir, flat_tables[i].name);
		t->tmp_path = xasprintf("%s/.%s.csv.%ld.tmp", dir, flat_tables[i].name, (long)getpid());
		t->fd = open(t->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (t->fd < 0) {
			snprintf(err, errlen, "cannot create \"%s\": %s", t->tmp_path, strerror(errno));
			csvout_free(c);
			return NULL;
		}
	}
	return c;
}

const row_sink *csvout_sink(csvout *c)
{
	return &c->sink;
}

void csvout_input_begin(csvout *c)
{
	for (int i = 0; i < FT_COUNT; i++)
		c->t[i].input_mark = logical(&c->t[i]);
}

int csvout_input_abort(csvout *c)
{
	int rc = 0;

	for (int i = 0; i < FT_COUNT; i++)
		if (truncate_to(c, &c->t[i], c->t[i].input_mark) < 0)
			rc = -1;
	return rc;
}

int csvout_failed(const csvout *c)
{
	return c->failed;
}

const char *csvout_data(csvout *c, flat_table t, size_t *len)
{
	*len = c->t[t].buf.len;
	return c->t[t].buf.data ? c->t[t].buf.data : "";
}

int csvout_close(csvout *c, char *err, size_t errlen)
{
	if (c->memory) {
		c->closed = true;
		return 0;
	}
	for (int i = 0; i < FT_COUNT && !c->failed; i++) {
		table_out *t = &c->t[i];

		if (write_all(c, t) < 0)
			break;
		if (close(t->fd) < 0) {
			snprintf(c->err, sizeof c->err, "cannot write \"%s\": %s", t->tmp_path,
				strerror(errno));
			c->failed = true;
		}
		t->fd = -1;
	}
	for (int i = 0; i < FT_COUNT && !c->failed; i++) {
		table_out *t = &c->t[i];

		if (rename(t->tmp_path, t->path) < 0) {
			snprintf(c->err, sizeof c->err, "cannot rename \"%s\" to \"%s\": %s",
				t->tmp_path, t->path, strerror(errno));
			c->failed = true;
		}
	}
	if (c->failed) {
		snprintf(err, errlen, "%s", c->err);
		return -1;
	}
	c->closed = true;
	return 0;
}

void csvout_free(csvout *c)
{
	if (!c)
		return;
	for (int i = 0; i < FT_COUNT; i++) {
		table_out *t = &c->t[i];

		if (t->fd >= 0)
			close(t->fd);
		if (!c->memory && !c->closed && t->tmp_path)
			unlink(t->tmp_path);
		free(t->tmp_path);
		free(t->path);
		sbuf_free(&t->buf);
	}
	free(c);
}
