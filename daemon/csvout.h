/*
 * csvout: a row_sink writing one CSV file per claims table.
 *
 * Files are named after their table (eob.csv, eob_item_adjudication.csv, ...)
 * and start with a header row of column names.  Quoting follows RFC 4180
 * (fields with a comma, quote, CR, LF, backslash or edge blanks are quoted,
 * quotes doubled; lines end in LF).  SQL NULL is an empty unquoted field and
 * an empty string is "", which is what PostgreSQL's COPY ... (FORMAT csv)
 * reads back as the same values.
 *
 * Writes go to hidden temporary files that csvout_close renames into place.
 * csvout_input_begin marks where an input's rows start; csvout_input_abort
 * cuts every file back to that mark, so a failed input leaves nothing.
 */
#ifndef BB_CSVOUT_H
#define BB_CSVOUT_H

#include <stddef.h>

#include "flatten.h"

typedef struct csvout csvout;

/* Write into directory dir (created if missing).  NULL and err on failure. */
csvout *csvout_open(const char *dir, char *err, size_t errlen);

/* Keep everything in memory (tests); read it back with csvout_data. */
csvout *csvout_memory(void);

/* The sink to give fhir_stream; valid while c lives. */
const row_sink *csvout_sink(csvout *c);

/* Mark the start of an input; abort cuts every table back to the mark. */
void csvout_input_begin(csvout *c);
int csvout_input_abort(csvout *c);

/* True once a write failed (disk full...): the run cannot go on. */
int csvout_failed(const csvout *c);

/* Memory mode: the CSV text of table t so far (header included). */
const char *csvout_data(csvout *c, flat_table t, size_t *len);

/* Flush, and rename the files into place.  0, or -1 and err. */
int csvout_close(csvout *c, char *err, size_t errlen);

/* Free; files not closed are removed. */
void csvout_free(csvout *c);

#endif
