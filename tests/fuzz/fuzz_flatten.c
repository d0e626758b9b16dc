/*
 * libFuzzer target: FHIR JSON through fhir_stream + flatten into CSV in
 * memory.  The first byte picks the chunk size (1..64) the rest is fed in,
 * so chunk boundaries are fuzzed too; small limits make the caps reachable.
 *   build-fuzz/tests/fuzz/fuzz_flatten -dict=tests/fuzz/flatten.dict CORPUS $BB_FIXTURES/bfd-v2
 */
#include <stddef.h>
#include <stdint.h>

#include "csvout.h"
#include "fhir_stream.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	fhir_limits lim = { 4096, 32, (size_t)1 << 20, (size_t)8 << 20 };
	csvout *c;
	fhir_stream *s;
	size_t chunk;
	int rc = 0;

	if (!init) {
		log_init("fuzz_flatten", LOG_EMERG, LOG_FORMAT_PLAIN);  /* quiet */
		init = 1;
	}
	if (size < 1)
		return 0;
	chunk = 1 + data[0] % 64;
	data++;
	size--;
	c = csvout_memory();
	s = fhir_stream_new(csvout_sink(c), &lim);
	fhir_stream_set_participant(s, "fuzz");
	fhir_stream_begin(s, "fuzz");
	for (size_t off = 0; off < size && rc == 0; off += chunk)
		rc = fhir_stream_feed(s, data + off, size - off < chunk ? size - off : chunk);
	if (rc == 0 && fhir_stream_finish(s) < 0)
		rc = -1;
	if (rc < 0)
		csvout_input_abort(c);
	fhir_stream_free(s);
	csvout_free(c);
	return 0;
}
