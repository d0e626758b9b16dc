/*
 * libFuzzer target: bytes -> config_load_buffer.  The first byte chooses
 * require_api; the rest is the file.  Every input must end in either a
 * config or a report, without crash, leak or undefined behaviour.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C build-fuzz tests/fuzz/fuzz_config
 *   build-fuzz/tests/fuzz/fuzz_config -dict=tests/fuzz/config.dict tests/fuzz/corpus/config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	config_report rep;
	bb_config *cfg = NULL;
	bool require_api = size > 0 && (data[0] & 1);
	int rc;

	if (size > 0) {
		data++;
		size--;
	}
	rc = config_load_buffer("fuzz.yaml", (const char *)data, size, require_api, &cfg, &rep);
	if ((rc == 0) != (cfg != NULL) || (rc == 0) != (rep.count == 0))
		abort();
	config_report_free(&rep);
	config_free(cfg);
	return 0;
}
