/*
 * flatten: FHIR ExplanationOfBenefit, Patient and Coverage resources -> rows
 * of the claims.* tables (design.md section 3, sql/002_claims.sql).
 *
 * The flattener is driven by fhir_stream with the SAX events of ONE
 * resource at a time (relative to the resource's own object).  It keeps what
 * it needs of that resource in a per-resource model (strings in an arena,
 * reset when the resource ends), because key order is free: resourceType and
 * id may come last.  When the resource's object closes it emits all of its
 * rows through a row_sink, so the same code feeds CSV files and COPY.
 *
 * Values handed to the sink are already in PostgreSQL's input syntax for the
 * column type (dates YYYY-MM-DD, timestamps ISO 8601, numbers exactly as the
 * JSON text had them, arrays as array literals, booleans t/f, jsonb as JSON
 * text); the sink only has to quote them for its format.
 */
#ifndef BB_FLATTEN_H
#define BB_FLATTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The tables, in the order a loader must fill them (parents first). */
typedef enum flat_table {
	FT_EOB = 0,
	FT_EOB_ITEM,
	FT_EOB_ITEM_ADJUDICATION,
	FT_EOB_ITEM_DETAIL,
	FT_EOB_DIAGNOSIS,
	FT_EOB_PROCEDURE,
	FT_EOB_CARE_TEAM,
	FT_EOB_SUPPORTING_INFO,
	FT_EOB_TOTAL,
	FT_EOB_EXTENSION,
	FT_PATIENT,
	FT_COVERAGE,
	FT_COUNT
} flat_table;

typedef enum flat_coltype {
	FC_TEXT, FC_NUMERIC, FC_INT, FC_DATE, FC_TIMESTAMPTZ, FC_BOOL,
	FC_TEXT_ARRAY, FC_INT_ARRAY, FC_JSONB,
} flat_coltype;

typedef struct flat_column {
	const char *name;
	flat_coltype type;
} flat_column;

typedef struct flat_table_def {
	const char *name;           /* table name in schema claims, e.g. "eob_item" */
	const flat_column *columns;
	int ncols;
} flat_table_def;

/* The column lists every sink writes (CSV header, COPY column list). */
extern const flat_table_def flat_tables[FT_COUNT];

/* Kinds of resource that produce rows. */
typedef enum flat_kind {
	FK_EOB = 0,
	FK_PATIENT,
	FK_COVERAGE,
} flat_kind;

/* One value: p == NULL is SQL NULL; otherwise n bytes (not NUL-terminated). */
typedef struct flat_val {
	const char *p;
	size_t n;
} flat_val;

/*
 * Where rows go.  Every callback returns 0 on success or -1 on failure, after
 * which the caller stops and reports sink->error(ud).  The rows of one
 * resource arrive between begin_resource and end_resource; abort_resource
 * discards a resource whose rows were begun but cannot be completed.
 */
typedef struct row_sink {
	void *ud;
	int (*begin_resource)(void *ud, flat_kind kind, const char *id, size_t idlen);
	int (*row)(void *ud, flat_table table, const flat_val *cols);
	int (*end_resource)(void *ud);
	void (*abort_resource)(void *ud);
	const char *(*error)(void *ud);
} row_sink;

/* Counters of one input (page or file); warnings are not errors. */
typedef struct flat_stats {
	uint64_t resources;         /* resources seen (entries and top-level) */
	uint64_t eobs, patients, coverages;
	uint64_t skipped;           /* other resource types (Claim, Bundle, ...) */
	uint64_t rows;              /* rows handed to the sink */
	uint64_t bad_dates;         /* dates/timestamps stored as NULL */
	uint64_t hashed_ids;        /* resources without id, keyed by content hash */
	uint64_t outcome_warnings;  /* OperationOutcome entries of severity < error */
} flat_stats;

typedef struct flattener flattener;

typedef enum flat_scalar {
	FS_STRING, FS_NUMBER, FS_BOOL, FS_NULL,
} flat_scalar;

/*
 * What the top level of a document said about itself (a searchset Bundle):
 * the next-page link, total and meta.lastUpdated, for the daemon's cursor.
 * Strings are NULL when absent; valid until the next input begins.
 */
typedef struct flat_bundle_info {
	bool is_bundle;
	const char *next_url;
	const char *last_updated;   /* as sent, validated as a FHIR instant */
	long long total;            /* -1 when absent */
} flat_bundle_info;

/*
 * New flattener writing to sink.  max_depth bounds the nesting inside one
 * resource, max_bytes the memory one resource's model may take.
 */
flattener *flatten_new(const row_sink *sink, int max_depth, size_t max_bytes);
void flatten_free(flattener *f);

/* Column participant_id of the rows to come (NULL = SQL NULL); copied. */
void flatten_set_participant(flattener *f, const char *participant_id);

/*
 * Error and warning context: the input's name for messages, and the stats
 * to count into (owned by the caller, e.g. fhir_stream).
 */
void flatten_set_context(flattener *f, const char *input_name, flat_stats *stats);

/* The element path being parsed, e.g. "ExplanationOfBenefit.item[2].sequence". */
const char *flatten_path(flattener *f);

/* Last error (a message without input name or position); "" if none. */
const char *flatten_error(const flattener *f);

/*
 * Events of one resource.  begin is called at the resource's opening '{'
 * (which the flattener counts as its depth 1); the others return 0 to go
 * on, -1 on error.  flatten_end_map returns 1 when it closed the resource
 * itself (rows were emitted, or the resource was skipped); `top` says the
 * resource is a document's top-level object, so a Bundle's own fields and an
 * OperationOutcome are treated as such.
 */
void flatten_begin(flattener *f, bool top, uint64_t entry_index);
int flatten_start_map(flattener *f);
int flatten_end_map(flattener *f);
int flatten_start_array(flattener *f);
int flatten_end_array(flattener *f);
int flatten_key(flattener *f, const char *key, size_t len);
int flatten_scalar(flattener *f, flat_scalar type, const char *p, size_t len);
/* Drop the resource being parsed (input error); nothing was emitted for it. */
void flatten_reset(flattener *f);

/* Depth inside the current resource (1 = its own object). */
int flatten_depth(const flattener *f);

/* Bundle information gathered from a top-level resource (see above). */
const flat_bundle_info *flatten_bundle_info(const flattener *f);

/* --- value checks, exposed for tests --- */

/* A FHIR date "YYYY-MM-DD" (a dateTime's date part accepted): 1 and out[10]. */
int flat_parse_date(const char *p, size_t n, char out[10]);
/* A FHIR instant/dateTime with time and zone, 0-9 fraction digits: 1 if valid. */
int flat_valid_timestamp(const char *p, size_t n);
/* JSON number text that fits numeric amounts (<= 18 integer digits, sane scale). */
int flat_valid_decimal(const char *p, size_t n);
/* JSON number text that is an integer in int4 range. */
int flat_valid_int4(const char *p, size_t n);

#endif
