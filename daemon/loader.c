#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DEFAULT_BATCH ((size_t)1 << 20)
#define COPY_PIECE ((size_t)256 << 10)

/* ids of one kind (EOB, Patient, Coverage) in the current batch */
typedef struct idset {
	sbuf literal;           /* PostgreSQL array literal body: "a","b" */
	sbuf keys;              /* the ids, NUL-separated (hash table storage) */
	uint32_t *slots;        /* offset + 1 into keys; 0 = empty */
	uint32_t cap, count;
} idset;

/*
 * Without a connection (the daemon parses a page before a writer thread
 * stores it), a resource seen again cannot flush the batch: the batch is cut
 * instead, and the writer sends the segments in order, each deleting its
 * ids before its rows, so a later version still replaces an earlier one.
 */
typedef struct segment {
	size_t end[FT_COUNT];       /* rows[t] of the segment end here */
	char *ids[3];               /* its ids as an array literal, NULL: none */
} segment;

struct loader {
	PGconn *conn;
	fhir_stream *stream;
	row_sink sink;
	size_t batch_bytes;
	sbuf rows[FT_COUNT];        /* COPY text of each table */
	size_t mark[FT_COUNT];      /* row buffer lengths when the resource began */
	idset ids[3];
	size_t buffered;
	bool in_tx, finished, db_failed;
	bool input_ended;           /* loader_end_input succeeded */
	bool pending;               /* a COPY's result is still to be read */
	char pending_what[96];
	char err[512];
	char *copy_sql[FT_COUNT];
	segment *segs;
	size_t nsegs, segcap;
	uint64_t sent[FT_COUNT];    /* rows sent per table in this input */
	char name[160];             /* the input's, for messages */
};

static const char *const delete_sql[3] = {
	"DELETE FROM claims.eob WHERE eob_id = ANY ($1::text[])",
	"DELETE FROM claims.patient WHERE patient_id = ANY ($1::text[])",
	"DELETE FROM claims.coverage WHERE coverage_id = ANY ($1::text[])",
};

/* ------------------------------------------------------------------ */
/* id sets                                                            */

static uint32_t hash_bytes(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

static void idset_reset(idset *s)
{
	sbuf_reset(&s->literal);
	sbuf_reset(&s->keys);
	if (s->slots)
		memset(s->slots, 0, sizeof *s->slots * s->cap);
	s->count = 0;
}

static void idset_free(idset *s)
{
	sbuf_free(&s->literal);
	sbuf_free(&s->keys);
	free(s->slots);
}

static uint32_t *idset_find(idset *s, const char *id, size_t n)
{
	uint32_t h = hash_bytes(id, n) & (s->cap - 1);

	for (;;) {
		uint32_t *slot = &s->slots[h];

		if (*slot == 0)
			return slot;
		if (strncmp(s->keys.data + *slot - 1, id, n) == 0 && s->keys.data[*slot - 1 + n] == '\0')
			return slot;
		h = (h + 1) & (s->cap - 1);
	}
}

static bool idset_has(idset *s, const char *id, size_t n)
{
	return s->cap && *idset_find(s, id, n) != 0;
}

static void idset_add(idset *s, const char *id, size_t n)
{
	uint32_t *slot;

	if ((s->count + 1) * 2 > s->cap) {
		uint32_t old_cap = s->cap, *old = s->slots;

		s->cap = s->cap ? s->cap * 2 : 256;
		s->slots = xcalloc(s->cap, sizeof *s->slots);
		for (uint32_t i = 0; i < old_cap; i++) {
			if (old[i]) {
				const char *k = s->keys.data + old[i] - 1;

				*idset_find(s, k, strlen(k)) = old[i];
			}
		}
		free(old);
	}
	slot = idset_find(s, id, n);
	*slot = (uint32_t)s->keys.len + 1;
	sbuf_append(&s->keys, id, n);
	sbuf_putc(&s->keys, '\0');
	s->count++;
	/* array literal element: always quoted, \ and " escaped */
	if (s->literal.len)
		sbuf_putc(&s->literal, ',');
	sbuf_putc(&s->literal, '"');
	for (size_t i = 0; i < n; i++) {
		if (id[i] == '"' || id[i] == '\\')
			sbuf_putc(&s->literal, '\\');
		sbuf_putc(&s->literal, id[i]);
	}
	sbuf_putc(&s->literal, '"');
}

/* ------------------------------------------------------------------ */
/* database                                                           */

static int db_fail(loader *l, const char *what, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;
	const char *column = res ? PQresultErrorField(res, PG_DIAG_COLUMN_NAME) : NULL;
	const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	bool data_class = state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
	char msg[256];

	if (!primary) {
		/* no result: the connection's own message (never holds row data) */
		const char *m = PQerrorMessage(l->conn);
		size_t n = strcspn(m, "\n");

		snprintf(msg, sizeof msg, "%.*s", (int)(n < 200 ? n : 200), m);
		primary = msg;
	}
	l->db_failed = !data_class;
	if (data_class)
		/* data errors can quote values: say where, not what */
		snprintf(l->err, sizeof l->err, "database refused the data while %s (SQLSTATE %s%s%s%s%s%s%s)",
			what, state, table ? ", table " : "", table ? table : "",
			column ? ", column " : "", column ? column : "",
			constraint ? ", constraint " : "", constraint ? constraint : "");
	else
		snprintf(l->err, sizeof l->err, "database error while %s: %s%s%s%s", what, primary,
			state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
	if (state && strcmp(state, "42P01") == 0)
		strncat(l->err, "; HINT: run \"bbingest migrate\"", sizeof l->err - strlen(l->err) - 1);
	return -1;
}

static int exec_ok(loader *l, const char *sql, int nparams, const char *const *params,
		   const char *what)
{
	PGresult *res = PQexecParams(l->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	int rc = 0;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_fail(l, what, res);
	PQclear(res);
	return rc;
}

/* Collect the result of a COPY whose end was sent but not waited for. */
static int drain(loader *l)
{
	PGresult *res;
	int rc = 0;

	if (!l->pending)
		return 0;
	l->pending = false;
	while ((res = PQgetResult(l->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = db_fail(l, l->pending_what, res);
		PQclear(res);
	}
	return rc;
}

/*
 * COPY the buffered rows of table t.  With `defer`, the command's result is
 * collected later (drain): the server finishes the rows while the client
 * parses the next batch.
 */
static int copy_table(loader *l, int t, size_t from, size_t to, bool defer)
{
	const char *data = l->rows[t].data + from;
	size_t len = to - from;
	PGresult *res;
	int rc = 0;
	char what[96];

	snprintf(what, sizeof what, "copying rows into claims.%s", flat_tables[t].name);
	res = PQexec(l->conn, l->copy_sql[t]);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		rc = db_fail(l, what, res);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	/* COPY text: one line per row (newlines in values are escaped) */
	for (const char *p = data, *e = data + len; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		l->sent[t]++;
	for (size_t off = 0; off < len;) {
		size_t n = len - off > COPY_PIECE ? COPY_PIECE : len - off;

		if (PQputCopyData(l->conn, data + off, (int)n) != 1) {
			PQputCopyEnd(l->conn, "send failed");
			rc = -1;
			break;
		}
		off += n;
	}
	if (rc == 0 && PQputCopyEnd(l->conn, NULL) != 1)
		rc = -1;
	if (rc == 0 && defer) {
		l->pending = true;
		snprintf(l->pending_what, sizeof l->pending_what, "%s", what);
		return 0;
	}
	while ((res = PQgetResult(l->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = db_fail(l, what, res);
		else if (rc < 0 && !l->err[0])
			db_fail(l, what, res);
		PQclear(res);
	}
	if (rc < 0 && !l->err[0])
		db_fail(l, what, NULL);
	return rc;
}

static int begin_tx(loader *l)
{
	if (l->in_tx)
		return 0;
	if (exec_ok(l, "BEGIN", 0, NULL, "starting a transaction") < 0)
		return -1;
	l->in_tx = true;
	return 0;
}

static void segments_free(loader *l)
{
	for (size_t i = 0; i < l->nsegs; i++)
		for (int k = 0; k < 3; k++)
			free(l->segs[i].ids[k]);
	l->nsegs = 0;
}

/* The ids of the batch's open segment as array literals (NULL: none). */
static void take_ids(loader *l, char *out[3])
{
	for (int k = 0; k < 3; k++) {
		out[k] = l->ids[k].count ? xasprintf("{%s}", l->ids[k].literal.data) : NULL;
		idset_reset(&l->ids[k]);
	}
}

/* End the open segment here (see struct segment). */
static void segment_cut(loader *l)
{
	segment *g;

	if (l->nsegs == l->segcap) {
		l->segcap = l->segcap ? 2 * l->segcap : 4;
		l->segs = xreallocarray(l->segs, l->segcap, sizeof *l->segs);
	}
	g = &l->segs[l->nsegs++];
	for (int t = 0; t < FT_COUNT; t++)
		g->end[t] = l->rows[t].len;
	take_ids(l, g->ids);
}

/*
 * Send the batch: for each segment in order, delete its ids, then COPY its
 * rows (parents first).  The last COPY's result is collected later (drain).
 */
static int flush(loader *l)
{
	size_t from[FT_COUNT] = { 0 };
	char *last_ids[3];
	int rc = 0;

	if (drain(l) < 0)
		return -1;
	if (l->buffered == 0 && !l->nsegs && !l->ids[0].count && !l->ids[1].count &&
	    !l->ids[2].count)
		return 0;
	if (!l->conn) {
		snprintf(l->err, sizeof l->err, "the rows of %s exceed %zu bytes; rejected whole "
			 "(limits.max_page_bytes bounds them)", l->name,
			 l->batch_bytes);
		return -1;
	}
	if (begin_tx(l) < 0)
		return -1;
	take_ids(l, last_ids);
	for (size_t g = 0; g <= l->nsegs && rc == 0; g++) {
		bool final = g == l->nsegs;
		char **ids = final ? last_ids : l->segs[g].ids;
		size_t to[FT_COUNT];
		int last = -1;

		for (int k = 0; k < 3 && rc == 0; k++) {
			const char *params[1] = { ids[k] };

			if (ids[k])
				rc = exec_ok(l, delete_sql[k], 1, params, "deleting the previous versions");
		}
		for (int t = 0; t < FT_COUNT; t++) {
			to[t] = final ? l->rows[t].len : l->segs[g].end[t];
			if (to[t] > from[t])
				last = t;
		}
		for (int t = 0; t < FT_COUNT && rc == 0; t++)
			if (to[t] > from[t])
				rc = copy_table(l, t, from[t], to[t], final && t == last);
		memcpy(from, to, sizeof from);
	}
	for (int k = 0; k < 3; k++)
		free(last_ids[k]);
	segments_free(l);
	for (int t = 0; t < FT_COUNT; t++)
		sbuf_reset(&l->rows[t]);
	l->buffered = 0;
	return rc;
}

/* ------------------------------------------------------------------ */
/* the row sink                                                       */

static int sink_begin(void *ud, flat_kind kind, const char *id, size_t idlen)
{
	loader *l = ud;
	idset *s = &l->ids[kind];

	/* the same resource again in this batch: send the earlier one first, so
	 * the next batch's delete replaces it; without a connection, cut */
	if (idset_has(s, id, idlen)) {
		if (!l->conn)
			segment_cut(l);
		else if (flush(l) < 0)
			return -1;
	}
	idset_add(s, id, idlen);
	for (int t = 0; t < FT_COUNT; t++)
		l->mark[t] = l->rows[t].len;
	return 0;
}

/* One value in COPY text format at out (room for 2n + 2); returns the end. */
static char *put_copy_value(char *out, const flat_val *v)
{
	const char *p = v->p;

	if (!p) {
		out[0] = '\\';
		out[1] = 'N';
		return out + 2;
	}
	for (size_t i = 0; i < v->n; i++) {
		char ch = p[i];

		switch (ch) {
		case '\\': *out++ = '\\'; *out++ = '\\'; break;
		case '\n': *out++ = '\\'; *out++ = 'n'; break;
		case '\r': *out++ = '\\'; *out++ = 'r'; break;
		case '\t': *out++ = '\\'; *out++ = 't'; break;
		default: *out++ = ch; break;
		}
	}
	return out;
}

static int sink_row(void *ud, flat_table table, const flat_val *cols)
{
	loader *l = ud;
	sbuf *b = &l->rows[table];
	int ncols = flat_tables[table].ncols;
	size_t need = (size_t)ncols + 1, before = b->len;
	char *out;

	for (int i = 0; i < ncols; i++)
		need += cols[i].p ? 2 * cols[i].n + 2 : 2;
	if (sbuf_reserve(b, need) < 0) {
		snprintf(l->err, sizeof l->err, "a row of claims.%s is too large to buffer",
			 flat_tables[table].name);
		return -1;
	}
	out = b->data + b->len;
	for (int i = 0; i < ncols; i++) {
		if (i)
			*out++ = '\t';
		out = put_copy_value(out, &cols[i]);
	}
	*out++ = '\n';
	*out = '\0';
	b->len = (size_t)(out - b->data);
	l->buffered += b->len - before;
	return 0;
}

static int sink_end(void *ud)
{
	loader *l = ud;

	return l->buffered >= l->batch_bytes ? flush(l) : 0;
}

static void sink_abort(void *ud)
{
	loader *l = ud;

	for (int t = 0; t < FT_COUNT; t++) {
		l->buffered -= l->rows[t].len - l->mark[t];
		l->rows[t].len = l->mark[t];
	}
}

static const char *sink_error(void *ud)
{
	loader *l = ud;

	return l->err[0] ? l->err : "loading failed";
}

/* ------------------------------------------------------------------ */
/* API                                                                */

loader *loader_new(PGconn *conn, const fhir_limits *limits, size_t batch_bytes)
{
	loader *l = xcalloc(1, sizeof *l);

	l->conn = conn;
	l->batch_bytes = batch_bytes ? batch_bytes : DEFAULT_BATCH;
	l->sink = (row_sink){ l, sink_begin, sink_row, sink_end, sink_abort, sink_error };
	for (int t = 0; t < FT_COUNT; t++) {
		sbuf cols;

		sbuf_init(&l->rows[t], 0);
		sbuf_init(&cols, 0);
		for (int c = 0; c < flat_tables[t].ncols; c++) {
			if (c)
				sbuf_puts(&cols, ", ");
			sbuf_puts(&cols, flat_tables[t].columns[c].name);
		}
		l->copy_sql[t] = xasprintf("COPY claims.%s (%s) FROM STDIN", flat_tables[t].name,
			cols.data);
		sbuf_free(&cols);
	}
	for (int k = 0; k < 3; k++) {
		sbuf_init(&l->ids[k].literal, 0);
		sbuf_init(&l->ids[k].keys, 0);
	}
	l->stream = fhir_stream_new(&l->sink, limits);
	return l;
}

void loader_free(loader *l)
{
	if (!l)
		return;
	fhir_stream_free(l->stream);
	for (int t = 0; t < FT_COUNT; t++) {
		sbuf_free(&l->rows[t]);
		free(l->copy_sql[t]);
	}
	for (int k = 0; k < 3; k++)
		idset_free(&l->ids[k]);
	segments_free(l);
	free(l->segs);
	free(l);
}

void loader_set_participant(loader *l, const char *participant_id)
{
	fhir_stream_set_participant(l->stream, participant_id);
}

static void discard(loader *l)
{
	for (int t = 0; t < FT_COUNT; t++)
		sbuf_reset(&l->rows[t]);
	for (int k = 0; k < 3; k++)
		idset_reset(&l->ids[k]);
	segments_free(l);
	l->buffered = 0;
}

void loader_begin(loader *l, const char *name)
{
	if (l->in_tx)
		loader_abort(l);
	discard(l);
	memset(l->sent, 0, sizeof l->sent);
	snprintf(l->name, sizeof l->name, "%s", name ? name : "input");
	l->finished = l->db_failed = l->input_ended = false;
	l->err[0] = '\0';
	fhir_stream_begin(l->stream, name);
}

int loader_feed(loader *l, const void *buf, size_t len)
{
	if (fhir_stream_feed(l->stream, buf, len) < 0) {
		snprintf(l->err, sizeof l->err, "%s", fhir_stream_error(l->stream));
		return -1;
	}
	return 0;
}

fhir_stream *loader_stream(loader *l)
{
	return l->stream;
}

int loader_end_input(loader *l)
{
	if (l->input_ended)
		return 0;
	if (fhir_stream_finish(l->stream) < 0) {
		snprintf(l->err, sizeof l->err, "%s", fhir_stream_error(l->stream));
		return -1;
	}
	l->input_ended = true;
	return 0;
}

void loader_set_conn(loader *l, PGconn *conn)
{
	l->conn = conn;
}

int loader_finish(loader *l)
{
	if (l->finished)
		return 0;
	if (loader_end_input(l) < 0)
		return -1;
	if (!l->conn) {
		snprintf(l->err, sizeof l->err, "no database connection to store the rows on");
		l->db_failed = true;
		return -1;
	}
	if (flush(l) < 0 || drain(l) < 0 || begin_tx(l) < 0)
		return -1;
	l->finished = true;
	return 0;
}

int loader_commit(loader *l)
{
	if (loader_finish(l) < 0)
		return -1;
	if (exec_ok(l, "COMMIT", 0, NULL, "committing") < 0) {
		l->in_tx = false;
		return -1;
	}
	l->in_tx = false;
	return 0;
}

void loader_abort(loader *l)
{
	PGresult *res;

	/* the connection may be shared: touch only a transaction this loader began */
	if (!l->conn) {
		l->pending = l->in_tx = false;
		discard(l);
		return;
	}
	if (l->pending) {
		l->pending = false;
		while ((res = PQgetResult(l->conn)) != NULL)
			PQclear(res);
	}
	if (l->in_tx) {
		/* a COPY cut short leaves the connection in COPY_IN: end it first */
		if (PQtransactionStatus(l->conn) == PQTRANS_ACTIVE) {
			PQputCopyEnd(l->conn, "aborted");
			while ((res = PQgetResult(l->conn)) != NULL)
				PQclear(res);
		}
		res = PQexec(l->conn, "ROLLBACK");
		PQclear(res);
	}
	l->in_tx = false;
	discard(l);
}

const char *loader_error(const loader *l)
{
	return l->err[0] ? l->err : fhir_stream_error(l->stream);
}

bool loader_db_failed(const loader *l)
{
	return l->db_failed || !l->conn || PQstatus(l->conn) != CONNECTION_OK;
}

uint64_t loader_rows_sent(const loader *l, int table)
{
	return table >= 0 && table < FT_COUNT ? l->sent[table] : 0;
}

void loader_trim(loader *l, size_t keep)
{
	for (int t = 0; t < FT_COUNT; t++) {
		if (l->rows[t].cap > keep) {
			size_t max = l->rows[t].max;

			sbuf_free(&l->rows[t]);
			sbuf_init(&l->rows[t], max);
		}
	}
}
