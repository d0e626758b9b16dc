/*
 * fhir_stream: yajl SAX over chunks; document framing; limits; gzip.
 *
 * Document framing is a small state machine over the first levels of the
 * JSON (top-level value, Bundle.entry[], entry.resource); everything inside a
 * resource is forwarded to a flattener, which keeps its own frame stack.  The
 * top-level object is itself flattened (a single resource, or a Bundle whose
 * own fields give the paging information), so a document needs two
 * flatteners: one for the top-level object, one for the entry being parsed.
 *
 * yajl buffers a token that spans chunks in full before calling back, so a
 * 100 MB string would become a 100 MB allocation before any callback could
 * object.  To bound that, input is fed to yajl in slices of at most
 * FEED_SLICE bytes and the stream fails once more than max_string bytes have
 * gone by without a single callback (no token, however long, ends there).
 */
#include "fhir_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>
#include <zlib.h>

#include "log.h"
#include "util.h"

#define FEED_SLICE 65536u
#define READ_CHUNK (256u * 1024u)

enum state {
	S_TOP,          /* between top-level values */
	S_ROOT,         /* inside the top-level object (flattener `root`) */
	S_ENTRY_KEY,    /* after the top-level key "entry" */
	S_ENTRIES,      /* inside Bundle.entry[] */
	S_ENTRY,        /* inside an entry object */
	S_RESOURCE_KEY, /* after an entry's key "resource" */
	S_RESOURCE,     /* inside entry.resource (flattener `entry`) */
	S_SKIPVAL,      /* inside another value of an entry (fullUrl, search, ...) */
	S_FAILED,
	S_DONE,         /* finished successfully */
};

struct fhir_stream {
	fhir_limits lim;
	const row_sink *sink;
	flattener *root, *entry;
	yajl_handle h;
	char *name;
	enum state state;
	int depth;              /* JSON nesting, all levels */
	int skip_depth;
	uint64_t entry_index;   /* 1-based number of the current entry */
	uint64_t top_values;
	int saw_text;           /* a byte other than whitespace was fed */
	uint64_t fed;           /* bytes given to yajl before the current slice */
	uint64_t events;
	uint64_t quiet;         /* bytes since the last callback */
	uint64_t res_start;     /* `fed` when the current resource began */
	flat_stats stats;
	char cb_err[400];       /* error raised inside a callback (no position yet) */
	char err[640];
	unsigned char *rbuf, *zbuf;
};

void fhir_limits_default(fhir_limits *l)
{
	l->max_string = (size_t)1 << 20;
	l->max_depth = 64;
	l->max_resource = (size_t)16 << 20;
	l->max_input = 0;
}

/* ------------------------------------------------------------------ */
/* errors                                                             */

/* Record an error found in a callback and tell yajl to stop. */
static int cb_fail(fhir_stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cb_fail(fhir_stream *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->cb_err[0]) {
		va_start(ap, fmt);
		vsnprintf(s->cb_err, sizeof s->cb_err, fmt, ap);
		va_end(ap);
	}
	return 0;
}

/* A flattener said no: take its message and the element path. */
static int fl_fail(fhir_stream *s, flattener *f)
{
	/* errors found when the resource closed carry their own element path */
	const char *where = flatten_depth(f) > 0 ? flatten_path(f) : NULL;

	if (!where) {
		if (s->state == S_RESOURCE)
			return cb_fail(s, "entry %llu: %s", (unsigned long long)s->entry_index,
				flatten_error(f));
		return cb_fail(s, "%s", flatten_error(f));
	}

	if (s->state == S_RESOURCE)
		return cb_fail(s, "entry %llu, %s: %s", (unsigned long long)s->entry_index, where,
			flatten_error(f));
	return cb_fail(s, "%s: %s", where, flatten_error(f));
}

static int fwd(fhir_stream *s, flattener *f, int rc)
{
	return rc < 0 ? fl_fail(s, f) : 1;
}

static void set_err(fhir_stream *s, uint64_t offset, const char *msg)
{
	snprintf(s->err, sizeof s->err, "%s: byte %llu: %s", s->name ? s->name : "input",
		(unsigned long long)offset, msg);
	s->state = S_FAILED;
}

/* ------------------------------------------------------------------ */
/* yajl callbacks                                                     */

static void resource_begins(fhir_stream *s)
{
	s->res_start = s->fed;
}

static int open_container(fhir_stream *s)
{
	s->events++;
	if (++s->depth > s->lim.max_depth)
		return cb_fail(s, "nesting is deeper than the limit of %d levels; the input is not "
			"a FHIR resource a server would send", s->lim.max_depth);
	return 1;
}

static int cb_start_map(void *ctx)
{
	fhir_stream *s = ctx;

	if (!open_container(s))
		return 0;
	switch (s->state) {
	case S_TOP:
		s->top_values++;
		flatten_begin(s->root, true, 0);
		s->state = S_ROOT;
		resource_begins(s);
		return fwd(s, s->root, flatten_start_map(s->root));
	case S_ROOT:
		return fwd(s, s->root, flatten_start_map(s->root));
	case S_ENTRY_KEY:
		return cb_fail(s, "Bundle.entry: expected an array, found an object");
	case S_ENTRIES:
		s->entry_index++;
		s->state = S_ENTRY;
		return 1;
	case S_RESOURCE_KEY:
		flatten_begin(s->entry, false, s->entry_index);
		s->state = S_RESOURCE;
		resource_begins(s);
		return fwd(s, s->entry, flatten_start_map(s->entry));
	case S_RESOURCE:
		return fwd(s, s->entry, flatten_start_map(s->entry));
	case S_SKIPVAL:
		s->skip_depth++;
		return 1;
	default:
		return cb_fail(s, "unexpected object");
	}
}

static int cb_end_map(void *ctx)
{
	fhir_stream *s = ctx;
	int rc;

	s->events++;
	s->depth--;
	switch (s->state) {
	case S_ROOT:
		rc = flatten_end_map(s->root);
		if (rc < 0)
			return fl_fail(s, s->root);
		if (rc == 1)
			s->state = S_TOP;
		return 1;
	case S_ENTRY:
		s->state = S_ENTRIES;
		return 1;
	case S_RESOURCE:
		rc = flatten_end_map(s->entry);
		if (rc < 0)
			return fl_fail(s, s->entry);
		if (rc == 1) {
			s->state = S_ENTRY;
			s->res_start = s->fed;  /* the Bundle's own bytes count afresh */
		}
		return 1;
	case S_SKIPVAL:
		if (--s->skip_depth == 0)
			s->state = S_ENTRY;
		return 1;
	default:
		return cb_fail(s, "unexpected end of object");
	}
}

static int cb_start_array(void *ctx)
{
	fhir_stream *s = ctx;

	if (!open_container(s))
		return 0;
	switch (s->state) {
	case S_TOP:
		return cb_fail(s, "expected a JSON object (a FHIR resource or Bundle) at the top "
			"level, found an array");
	case S_ROOT:
		return fwd(s, s->root, flatten_start_array(s->root));
	case S_ENTRY_KEY:
		s->state = S_ENTRIES;
		return 1;
	case S_ENTRIES:
		return cb_fail(s, "Bundle.entry[%llu]: expected an object, found an array",
			(unsigned long long)s->entry_index);
	case S_RESOURCE_KEY:
		return cb_fail(s, "Bundle.entry[%llu].resource: expected an object, found an array",
			(unsigned long long)s->entry_index - 1);
	case S_RESOURCE:
		return fwd(s, s->entry, flatten_start_array(s->entry));
	case S_SKIPVAL:
		s->skip_depth++;
		return 1;
	default:
		return cb_fail(s, "unexpected array");
	}
}

static int cb_end_array(void *ctx)
{
	fhir_stream *s = ctx;

	s->events++;
	s->depth--;
	switch (s->state) {
	case S_ROOT:
		return fwd(s, s->root, flatten_end_array(s->root));
	case S_ENTRIES:
		s->state = S_ROOT;
		return 1;
	case S_RESOURCE:
		return fwd(s, s->entry, flatten_end_array(s->entry));
	case S_SKIPVAL:
		if (--s->skip_depth == 0)
			s->state = S_ENTRY;
		return 1;
	default:
		return cb_fail(s, "unexpected end of array");
	}
}

static int cb_key(void *ctx, const unsigned char *k, size_t n)
{
	fhir_stream *s = ctx;
	const char *key = (const char *)k;

	s->events++;
	if (n > s->lim.max_string)
		return cb_fail(s, "object key is longer than the %zu-byte limit", s->lim.max_string);
	switch (s->state) {
	case S_ROOT:
		if (flatten_depth(s->root) == 1 && n == 5 && memcmp(key, "entry", 5) == 0) {
			s->state = S_ENTRY_KEY;
			return 1;
		}
		return fwd(s, s->root, flatten_key(s->root, key, n));
	case S_ENTRY:
		if (n == 8 && memcmp(key, "resource", 8) == 0) {
			s->state = S_RESOURCE_KEY;
		} else {
			s->state = S_SKIPVAL;
			s->skip_depth = 0;
		}
		return 1;
	case S_RESOURCE:
		return fwd(s, s->entry, flatten_key(s->entry, key, n));
	case S_SKIPVAL:
		return 1;
	default:
		return cb_fail(s, "unexpected object key");
	}
}

static int scalar(fhir_stream *s, flat_scalar t, const char *p, size_t n)
{
	static const char *const names[] = { "a string", "a number", "a boolean", "null" };

	s->events++;
	if (n > s->lim.max_string)
		return cb_fail(s, "%s is longer than the %zu-byte limit",
			t == FS_NUMBER ? "number" : "string", s->lim.max_string);
	switch (s->state) {
	case S_TOP:
		return cb_fail(s, "expected a JSON object (a FHIR resource or Bundle) at the top "
			"level, found %s", names[t]);
	case S_ROOT:
		return fwd(s, s->root, flatten_scalar(s->root, t, p, n));
	case S_ENTRY_KEY:
		return cb_fail(s, "Bundle.entry: expected an array, found %s", names[t]);
	case S_ENTRIES:
		return cb_fail(s, "Bundle.entry[%llu]: expected an object, found %s",
			(unsigned long long)s->entry_index, names[t]);
	case S_RESOURCE_KEY:
		return cb_fail(s, "Bundle.entry[%llu].resource: expected an object, found %s",
			(unsigned long long)s->entry_index - 1, names[t]);
	case S_RESOURCE:
		return fwd(s, s->entry, flatten_scalar(s->entry, t, p, n));
	case S_SKIPVAL:
		if (s->skip_depth == 0)
			s->state = S_ENTRY;
		return 1;
	default:
		return cb_fail(s, "unexpected value");
	}
}

static int cb_null(void *ctx)
{
	return scalar(ctx, FS_NULL, "", 0);
}

static int cb_boolean(void *ctx, int b)
{
	return b ? scalar(ctx, FS_BOOL, "true", 4) : scalar(ctx, FS_BOOL, "false", 5);
}

static int cb_number(void *ctx, const char *p, size_t n)
{
	return scalar(ctx, FS_NUMBER, p, n);
}

static int cb_string(void *ctx, const unsigned char *p, size_t n)
{
	return scalar(ctx, FS_STRING, (const char *)p, n);
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_number = cb_number,       /* numbers stay text: never a double */
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_key,
	.yajl_end_map = cb_end_map,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end_array,
};

/* ------------------------------------------------------------------ */
/* lifecycle                                                          */

fhir_stream *fhir_stream_new(const row_sink *sink, const fhir_limits *limits)
{
	fhir_stream *s = xcalloc(1, sizeof *s);

	if (limits)
		s->lim = *limits;
	else
		fhir_limits_default(&s->lim);
	if (s->lim.max_depth <= 0)
		s->lim.max_depth = 64;
	if (s->lim.max_string == 0)
		s->lim.max_string = (size_t)1 << 20;
	if (s->lim.max_resource == 0)
		s->lim.max_resource = (size_t)16 << 20;
	s->sink = sink;
	s->root = flatten_new(sink, s->lim.max_depth, s->lim.max_resource);
	s->entry = flatten_new(sink, s->lim.max_depth, s->lim.max_resource);
	s->state = S_FAILED;
	snprintf(s->err, sizeof s->err, "no input was begun");
	return s;
}

void fhir_stream_free(fhir_stream *s)
{
	if (!s)
		return;
	if (s->h)
		yajl_free(s->h);
	flatten_free(s->root);
	flatten_free(s->entry);
	free(s->name);
	free(s->rbuf);
	free(s->zbuf);
	free(s);
}

void fhir_stream_set_participant(fhir_stream *s, const char *participant_id)
{
	flatten_set_participant(s->root, participant_id);
	flatten_set_participant(s->entry, participant_id);
}

void fhir_stream_begin(fhir_stream *s, const char *name)
{
	if (s->h)
		yajl_free(s->h);
	s->h = yajl_alloc(&callbacks, NULL, s);
	/* NDJSON: values one after another; strings must be valid UTF-8 (default) */
	yajl_config(s->h, yajl_allow_multiple_values, 1);
	free(s->name);
	s->name = xstrdup(name ? name : "input");
	s->state = S_TOP;
	s->depth = s->skip_depth = 0;
	s->entry_index = s->top_values = s->fed = s->events = s->quiet = 0;
	s->saw_text = 0;
	memset(&s->stats, 0, sizeof s->stats);
	s->cb_err[0] = s->err[0] = '\0';
	flatten_set_context(s->root, s->name, &s->stats);
	flatten_set_context(s->entry, s->name, &s->stats);
	flatten_begin(s->root, true, 0);
	flatten_begin(s->entry, false, 0);
}

const char *fhir_stream_error(const fhir_stream *s)
{
	return s->err;
}

const flat_stats *fhir_stream_stats(const fhir_stream *s)
{
	return &s->stats;
}

uint64_t fhir_stream_offset(const fhir_stream *s)
{
	return s->fed;
}

const flat_bundle_info *fhir_stream_bundle(const fhir_stream *s)
{
	return flatten_bundle_info(s->root);
}

/* ------------------------------------------------------------------ */
/* feeding                                                            */

/* A yajl error message, lower case, without the final period and newline. */
static void yajl_message(fhir_stream *s, char *out, size_t outlen)
{
	unsigned char *m = yajl_get_error(s->h, 0, NULL, 0);    /* 0: never echo the input */
	size_t n;

	snprintf(out, outlen, "%s", m ? (const char *)m : "parse error");
	if (m)
		yajl_free_error(s->h, m);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '.' || out[n - 1] == ' '))
		out[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n')
			out[i] = ' ';
}

static const char *yajl_hint(const char *m)
{
	if (strstr(m, "UTF8"))
		return "; HINT: the input is not valid UTF-8 text";
	if (strstr(m, "premature EOF"))
		return "; HINT: the input ends in the middle of a JSON value (a truncated download?)";
	if (strstr(m, "invalid char"))
		return "; HINT: the input is not JSON here (a control character or NUL byte, or "
			"another format?)";
	return "";
}

static int fail_after_parse(fhir_stream *s, yajl_status st, uint64_t offset)
{
	char m[256], msg[600];

	if (st == yajl_status_client_canceled && s->cb_err[0]) {
		set_err(s, offset, s->cb_err);
	} else {
		yajl_message(s, m, sizeof m);
		snprintf(msg, sizeof msg, "invalid JSON: %s%s", m, yajl_hint(m));
		set_err(s, offset, msg);
	}
	flatten_reset(s->root);
	flatten_reset(s->entry);
	return -1;
}

int fhir_stream_feed(fhir_stream *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (s->state == S_FAILED)
		return -1;
	if (s->state == S_DONE) {
		set_err(s, s->fed, "data after the end of the input");
		return -1;
	}
	for (size_t i = 0; !s->saw_text && i < len; i++)
		if (p[i] != ' ' && p[i] != '\n' && p[i] != '\r' && p[i] != '\t')
			s->saw_text = 1;
	while (len > 0) {
		size_t n = len > FEED_SLICE ? FEED_SLICE : len;
		uint64_t ev = s->events;
		yajl_status st;

		if (s->lim.max_input && s->fed + n > s->lim.max_input) {
			char msg[160];

			snprintf(msg, sizeof msg, "input is larger than the %zu-byte limit",
				s->lim.max_input);
			set_err(s, s->lim.max_input, msg);
			return -1;
		}
		st = yajl_parse(s->h, p, n);
		if (st != yajl_status_ok)
			return fail_after_parse(s, st, s->fed + yajl_get_bytes_consumed(s->h));
		s->fed += n;
		s->quiet = s->events == ev ? s->quiet + n : 0;
		if (s->quiet > s->lim.max_string + FEED_SLICE) {
			char msg[200];

			snprintf(msg, sizeof msg, "a single string, number or run of whitespace is "
				"longer than the %zu-byte limit", s->lim.max_string);
			set_err(s, s->fed, msg);
			return -1;
		}
		if (s->state != S_TOP && s->fed - s->res_start > s->lim.max_resource + FEED_SLICE) {
			char msg[200];

			snprintf(msg, sizeof msg, "a resource is larger than the %zu-byte limit",
				s->lim.max_resource);
			set_err(s, s->fed, msg);
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int fhir_stream_finish(fhir_stream *s)
{
	yajl_status st;

	if (s->state == S_DONE)
		return 0;
	if (s->state == S_FAILED)
		return -1;
	if (!s->saw_text) {
		set_err(s, s->fed, "empty input: no JSON value (expected a FHIR resource, a Bundle "
			"or NDJSON)");
		return -1;
	}
	st = yajl_complete_parse(s->h);
	if (st != yajl_status_ok)
		return fail_after_parse(s, st, s->fed);
	if (s->top_values == 0) {
		set_err(s, s->fed, "empty input: no JSON value (expected a FHIR resource, a Bundle "
			"or NDJSON)");
		return -1;
	}
	if (s->state != S_TOP) {
		set_err(s, s->fed, "invalid JSON: the input ends inside a value; HINT: a truncated "
			"download?");
		return -1;
	}
	s->state = S_DONE;
	return 0;
}

static int read_fail(fhir_stream *s, const char *what)
{
	char msg[300];

	snprintf(msg, sizeof msg, "%s", what);
	set_err(s, s->fed, msg);
	return -1;
}

static int feed_gzip(fhir_stream *s, int fd, size_t have)
{
	z_stream zs;
	int zrc = Z_OK;
	uint64_t in_total = 0;

	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return read_fail(s, "cannot initialise zlib");
	if (!s->zbuf)
		s->zbuf = xmalloc(READ_CHUNK);
	for (;;) {
		if (have == 0) {
			ssize_t r = read(fd, s->rbuf, READ_CHUNK);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				inflateEnd(&zs);
				return read_fail(s, strerror(errno));
			}
			if (r == 0)
				break;
			have = (size_t)r;
		}
		zs.next_in = s->rbuf;
		zs.avail_in = (uInt)have;
		in_total += have;
		do {
			size_t out;

			zs.next_out = s->zbuf;
			zs.avail_out = READ_CHUNK;
			zrc = inflate(&zs, Z_NO_FLUSH);
			if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
				char msg[200];

				snprintf(msg, sizeof msg, "gzip data is corrupt near compressed byte "
					"%llu: %s", (unsigned long long)(in_total - zs.avail_in),
					zs.msg ? zs.msg : "inflate failed");
				inflateEnd(&zs);
				return read_fail(s, msg);
			}
			out = READ_CHUNK - zs.avail_out;
			if (out > 0 && fhir_stream_feed(s, s->zbuf, out) < 0) {
				inflateEnd(&zs);
				return -1;
			}
			if (zrc == Z_STREAM_END) {
				/* another gzip member may follow */
				if (inflateReset(&zs) != Z_OK) {
					inflateEnd(&zs);
					return read_fail(s, "cannot reset zlib");
				}
				zs.avail_out = 1;   /* not "output full" */
				continue;
			}
			if (zrc == Z_BUF_ERROR)
				break;      /* needs more input */
		} while (zs.avail_in > 0 || zs.avail_out == 0);
		have = 0;
	}
	/* complete when the last member ended (inflateReset put us at a fresh header) */
	if (zs.total_in != 0 || (zrc != Z_STREAM_END && zrc != Z_OK)) {
		inflateEnd(&zs);
		return read_fail(s, "gzip data ends early (truncated .gz file?)");
	}
	inflateEnd(&zs);
	return fhir_stream_finish(s);
}

int fhir_stream_read_fd(fhir_stream *s, int fd)
{
	size_t have = 0;

	if (s->state == S_FAILED || s->state == S_DONE)
		return -1;
	if (!s->rbuf)
		s->rbuf = xmalloc(READ_CHUNK);
	/* the first two bytes decide: gzip magic 1f 8b */
	while (have < 2) {
		ssize_t r = read(fd, s->rbuf + have, READ_CHUNK - have);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return read_fail(s, strerror(errno));
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	if (have >= 2 && s->rbuf[0] == 0x1f && s->rbuf[1] == 0x8b)
		return feed_gzip(s, fd, have);
	for (;;) {
		ssize_t r;

		if (have > 0 && fhir_stream_feed(s, s->rbuf, have) < 0)
			return -1;
		r = read(fd, s->rbuf, READ_CHUNK);
		if (r < 0) {
			if (errno == EINTR) {
				have = 0;
				continue;
			}
			return read_fail(s, strerror(errno));
		}
		if (r == 0)
			break;
		have = (size_t)r;
	}
	return fhir_stream_finish(s);
}

/* ------------------------------------------------------------------ */
/* running files                                                      */

/* Log what an input gave; warnings for values stored as NULL. */
static void report_input(const char *name, const flat_stats *st)
{
	log_info("%s: %llu ExplanationOfBenefit, %llu Patient, %llu Coverage, %llu rows%s",
		name, (unsigned long long)st->eobs, (unsigned long long)st->patients,
		(unsigned long long)st->coverages, (unsigned long long)st->rows,
		st->skipped ? " (other resource types skipped)" : "");
	if (st->bad_dates)
		log_warning("%s: %llu dates or timestamps did not parse and were stored as NULL",
			name, (unsigned long long)st->bad_dates);
	if (st->hashed_ids)
		log_warning("%s: %llu resources had no id and are keyed by a SHA-256 of their "
			"content", name, (unsigned long long)st->hashed_ids);
}

int fhir_run_inputs(fhir_stream *s, int argc, char **argv,
		    int (*begin)(void *, const char *), int (*commit)(void *),
		    int (*abort_fn)(void *), void *ud)
{
	int status = EX_OK;

	for (int i = 0; i < argc; i++) {
		const char *path = argv[i];
		bool is_stdin = strcmp(path, "-") == 0;
		const char *name = is_stdin ? "stdin" : path;
		int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
		int rc;

		if (fd < 0) {
			log_error("cannot open input \"%s\": %s", path, strerror(errno));
			if (status == EX_OK)
				status = EX_NOINPUT;
			continue;
		}
		rc = begin(ud, name);
		if (rc == EX_OK) {
			fhir_stream_begin(s, name);
			if (fhir_stream_read_fd(s, fd) < 0) {
				log_error("%s", fhir_stream_error(s));
				rc = abort_fn(ud);
			} else {
				rc = commit(ud);
				if (rc == EX_OK)
					report_input(name, fhir_stream_stats(s));
			}
			if (rc == EX_DATAERR)
				log_error("%s: input rejected; nothing of it was stored", name);
		}
		if (!is_stdin)
			close(fd);
		if (rc == EX_DATAERR) {
			status = EX_DATAERR;
		} else if (rc != EX_OK) {
			log_error("stopping: later inputs were not read");
			return rc;
		}
	}
	return status;
}
