/* util: capped buffers, constant-time compare, allocation helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int checks, failures;

#define CHECK(cond, what) do { \
	checks++; \
	if (cond) printf("ok %d - %s\n", checks, what); \
	else { printf("not ok %d - %s (%s:%d)\n", checks, what, __FILE__, __LINE__); failures++; } \
} while (0)

int main(void)
{
	sbuf b;
	char *s;

	sbuf_init(&b, 8);
	CHECK(sbuf_append(&b, "abcd", 4) == 0, "append within the cap");
	CHECK(sbuf_append(&b, "efgh", 4) == 0, "append up to the cap exactly");
	CHECK(sbuf_append(&b, "i", 1) == -1, "append past the cap is refused");
	CHECK(b.len == 8 && strcmp(b.data, "abcdefgh") == 0, "refused append leaves the buffer as it was");
	sbuf_reset(&b);
	CHECK(b.len == 0 && b.data[0] == '\0', "reset empties");
	CHECK(sbuf_printf(&b, "%d-%s", 42, "x") == 0 && strcmp(b.data, "42-x") == 0, "printf appends");
	CHECK(sbuf_printf(&b, "%s", "too long for it") == -1, "printf past the cap is refused");
	s = sbuf_steal(&b);
	CHECK(strcmp(s, "42-x") == 0 && b.data == NULL, "steal hands over the data");
	free(s);
	sbuf_free(&b);

	sbuf_init(&b, 0);
	for (int i = 0; i < 10000; i++)
		sbuf_putc(&b, 'x');
	CHECK(b.len == 10000 && strlen(b.data) == 10000, "unbounded buffer grows and stays NUL-terminated");
	sbuf_free(&b);

	CHECK(ct_equal("secret", "secret", 6), "ct_equal equal");
	CHECK(!ct_equal("secret", "secreT", 6), "ct_equal differs in the last byte");
	{
		char k[4] = "abc";

		secure_zero(k, sizeof k);
		CHECK(k[0] == 0 && k[2] == 0, "secure_zero wipes");
	}
	s = xasprintf("%s:%d", "a", 1);
	CHECK(strcmp(s, "a:1") == 0, "xasprintf formats");
	free(s);
	CHECK(now_mono_us() > 0 && now_wall_us() > 1700000000LL * 1000000, "clocks run");

	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}
