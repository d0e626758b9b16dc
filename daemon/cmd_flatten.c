/*
 * bbingest flatten --out DIR [--participant ID] FILE...|-
 *
 * The daemon's flattening of saved FHIR JSON (Bundle, resource, NDJSON;
 * gzip accepted) to one CSV file per claims table, without a database or a
 * configuration file.  An input that fails leaves nothing in the CSVs; the
 * others are kept and the exit status is 65 (EX_DATAERR).
 */
#include <stdio.h>
#include <sysexits.h>

#include "cli.h"
#include "csvout.h"
#include "fhir_stream.h"
#include "log.h"

static const char usage[] =
	"usage: bbingest flatten --out DIR [--participant ID] FILE...|-\n"
	"\n"
	"Flatten saved FHIR JSON (a searchset Bundle, a single resource or NDJSON;\n"
	"gzip-compressed files too) into one CSV file per claims table in DIR\n"
	"(eob.csv, eob_item.csv, eob_item_adjudication.csv, ...), with a header row.\n"
	"NULL is an empty field, an empty string is \"\" (as COPY ... CSV reads them).\n"
	"\"-\" reads standard input.  An input that fails adds nothing to the files.\n"
	"\n"
	"options:\n"
	"  -o, --out DIR          output directory (created if missing)\n"
	"  -p, --participant ID   value of the participant_id columns\n";

static int csv_begin(void *ud, const char *name)
{
	(void)name;
	csvout_input_begin(ud);
	return EX_OK;
}

static int csv_commit(void *ud)
{
	return csvout_failed(ud) ? EX_IOERR : EX_OK;
}

static int csv_abort(void *ud)
{
	if (csvout_input_abort(ud) < 0 || csvout_failed(ud))
		return EX_IOERR;
	return EX_DATAERR;
}

int cmd_flatten(cli_ctx *ctx, int argc, char **argv)
{
	const char *out = NULL, *participant = NULL;
	const cli_option opts[] = {
		{ "out", 'o', true, &out },
		{ "participant", 'p', true, &participant },
		{ NULL, 0, false, NULL },
	};
	fhir_limits lim;
	fhir_stream *s;
	csvout *c;
	char err[512];
	int rc, status;

	rc = cli_parse(ctx, argc, argv, opts, usage);
	if (rc != 0)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (!out || ctx->argc < 1) {
		log_error("flatten needs --out DIR and at least one input FILE (or - for stdin)");
		fputs(usage, stderr);
		return EX_USAGE;
	}
	c = csvout_open(out, err, sizeof err);
	if (!c) {
		log_error("%s", err);
		return EX_CANTCREAT;
	}
	fhir_limits_default(&lim);
	s = fhir_stream_new(csvout_sink(c), &lim);
	fhir_stream_set_participant(s, participant);
	status = fhir_run_inputs(s, ctx->argc, ctx->argv, csv_begin, csv_commit, csv_abort, c);
	fhir_stream_free(s);
	if (csvout_close(c, err, sizeof err) < 0) {
		log_error("%s", err);
		status = EX_IOERR;
	}
	csvout_free(c);
	return status;
}
