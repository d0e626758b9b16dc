/*
 * fhir_stream: FHIR JSON bytes -> flattened rows, chunk by chunk.
 *
 * A yajl SAX parser fed with chunks of any size (curl's write callback, file
 * reads).  It understands the document's framing: a searchset Bundle (its
 * entries' resources), a single resource, or NDJSON (one resource per line,
 * any whitespace between values); each resource's events go to the
 * flattener, which hands the resource's rows to the row_sink when the
 * resource closes.  Memory is O(nesting depth + one resource's rows).
 *
 * Every input is hostile: nesting, string/number length, one resource's size
 * and the whole input are capped (fhir_limits); malformed JSON, invalid
 * UTF-8, NUL characters, wrong shapes (an array where an object belongs) and
 * numbers that do not fit their column are errors.  An error message names
 * the input, the byte offset and, inside a resource, the element path; it
 * never contains the payload.  After an error the stream refuses more input
 * until fhir_stream_begin starts the next one; the caller discards whatever
 * the sink received for the failed input (one transaction / one CSV set).
 *
 * An OperationOutcome at the top level (the server's error) is an error
 * whose message carries the issues' text and diagnostics (capped).
 */
#ifndef BB_FHIR_STREAM_H
#define BB_FHIR_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "flatten.h"

typedef struct fhir_limits {
	size_t max_string;      /* longest string, key or number token (bytes) */
	int max_depth;          /* deepest nesting of objects and arrays */
	size_t max_resource;    /* one resource: bytes of input, and of its model */
	size_t max_input;       /* one input (page or file) after gunzip; 0 = no limit */
} fhir_limits;

/* 1 MiB strings, depth 64, 16 MiB resources, no input limit. */
void fhir_limits_default(fhir_limits *limits);

typedef struct fhir_stream fhir_stream;

/* A stream writing rows to sink (borrowed; must outlive the stream). */
fhir_stream *fhir_stream_new(const row_sink *sink, const fhir_limits *limits);
void fhir_stream_free(fhir_stream *s);

/* participant_id of the rows (NULL = SQL NULL); applies from the next input. */
void fhir_stream_set_participant(fhir_stream *s, const char *participant_id);

/* Start a new input; `name` (a file name, "stdin", a URL path) is copied. */
void fhir_stream_begin(fhir_stream *s, const char *name);

/* Parse the next chunk.  0 on success, -1 on error (see fhir_stream_error). */
int fhir_stream_feed(fhir_stream *s, const void *buf, size_t len);

/* End of input: checks that the document is complete and non-empty. */
int fhir_stream_finish(fhir_stream *s);

/*
 * Read fd to its end and finish: the convenience used by `load` and
 * `flatten`.  Input that starts with the gzip magic is inflated on the fly
 * (concatenated members too).  0 on success, -1 on error.
 */
int fhir_stream_read_fd(fhir_stream *s, int fd);

/* The error of the current input ("" if none). */
const char *fhir_stream_error(const fhir_stream *s);

/* Counters of the current input. */
const flat_stats *fhir_stream_stats(const fhir_stream *s);

/* Bytes of (decompressed) input parsed so far in the current input. */
uint64_t fhir_stream_offset(const fhir_stream *s);

/* What a top-level Bundle said about paging (next link, total, lastUpdated). */
const flat_bundle_info *fhir_stream_bundle(const fhir_stream *s);

/*
 * Run each named input ("-" = stdin) through the stream, the way `load` and
 * `flatten` do: begin(ud, name) before an input, then commit(ud) when it
 * parsed or abort_fn(ud) when it did not (the error, naming input and byte,
 * is logged).  Each callback returns EX_OK, EX_DATAERR (this input is
 * rejected; go on with the next) or another exit status that stops the run.
 * Returns EX_OK, EX_DATAERR if an input was rejected, EX_NOINPUT if one
 * could not be opened, or the status a callback stopped with.
 */
int fhir_run_inputs(fhir_stream *s, int argc, char **argv,
		    int (*begin)(void *, const char *), int (*commit)(void *),
		    int (*abort_fn)(void *), void *ud);

#endif
