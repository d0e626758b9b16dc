/*
 * loader: flattened rows -> the claims tables, through COPY.
 *
 * One input (a downloaded page, or a file for `bbingest load`) is one
 * transaction: rows are buffered per table in COPY text format; when the
 * buffer passes batch_bytes (and at the end) the loader deletes the EOB,
 * Patient and Coverage ids of the batch (children go by ON DELETE CASCADE) and
 * COPYs the batch's rows.  A resource seen twice in one input replaces its
 * earlier version.  Loading the same input twice therefore gives the same
 * tables, and a changed EOB replaces all of its child rows.  Memory is
 * bounded by batch_bytes, not by the input.
 *
 * The loader borrows a PGconn (the daemon's, or the store's in `load`) and
 * owns a fhir_stream writing into it:
 *
 *   loader_begin(l, "page 3")           no SQL yet
 *   loader_feed(l, chunk, n) ...        parse; may flush batches (BEGIN...)
 *   loader_finish(l)                    end of input, all rows sent; the
 *                                       transaction is open for the caller's
 *                                       own statements (e.g. the cursor)
 *   loader_commit(l)  or  loader_abort(l)
 *
 * Error texts never contain claim data: database errors are reported by
 * SQLSTATE, table, column and constraint.
 */
#ifndef BB_LOADER_H
#define BB_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "fhir_stream.h"

typedef struct loader loader;

/* conn is borrowed (may be NULL, see loader_set_conn) and must use client
 * encoding UTF8, as every store_connect() connection does; limits may be
 * NULL (defaults); batch_bytes 0 = 1 MiB. */
loader *loader_new(PGconn *conn, const fhir_limits *limits, size_t batch_bytes);
void loader_free(loader *l);

/* participant_id of the rows from the next input on (NULL = SQL NULL). */
void loader_set_participant(loader *l, const char *participant_id);

/* Start an input (name for messages).  Discards anything left uncommitted. */
void loader_begin(loader *l, const char *name);

/* Parse a chunk; 0, or -1 (see loader_error; the caller then aborts). */
int loader_feed(loader *l, const void *buf, size_t len);

/* The stream, e.g. for fhir_stream_read_fd or the Bundle's next link. */
fhir_stream *loader_stream(loader *l);

/*
 * End of input without the database: completes the parse, so the page's
 * Bundle fields (total, next link) can be checked before anything is sent.
 * 0, or -1 (a parse error; loader_db_failed is false).  loader_finish does
 * it when not done.
 */
int loader_end_input(loader *l);

/*
 * The connection the next loader_finish/commit/abort use (borrowed; NULL:
 * none, finish fails and abort only discards).  Only between inputs, or
 * after loader_end_input when no statement of this input was sent: the
 * daemon hands a parsed page to a writer thread with its own connection.
 */
void loader_set_conn(loader *l, PGconn *conn);

/*
 * End of input: completes the parse and sends every row.  Afterwards a
 * transaction is open on the connection.  0 or -1.
 */
int loader_finish(loader *l);

/* loader_finish if not done, then COMMIT.  0 or -1. */
int loader_commit(loader *l);

/* ROLLBACK whatever this input sent; the connection is usable again. */
void loader_abort(loader *l);

const char *loader_error(const loader *l);

/*
 * Between inputs: give back row buffers that grew past keep bytes, so an
 * idle loader kept for reuse does not hold its largest page's memory.
 */
void loader_trim(loader *l, size_t keep);

/*
 * Rows of table (a flat_table) sent in the current input; after a successful
 * loader_commit, the rows it stored (replaced versions included).
 */
uint64_t loader_rows_sent(const loader *l, int table);

/* The last failure was the database's (connection, schema), not the input's. */
bool loader_db_failed(const loader *l);

#endif
