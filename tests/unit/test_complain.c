/*
 * Unit tests of daemon/complain: the first occurrence is logged, repeats
 * within the interval are counted and not logged, the next one after the
 * interval is logged with the count, flush reports repeats of a message that
 * stopped, distinct texts and priorities are limited separately, a full
 * table forgets the least recently seen message without losing its count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "complain.h"
#include "log.h"
#include "minicheck.h"

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

static FILE *capture;

/* everything logged since the last call */
static char *logged(void)
{
	static char buf[65536];
	size_t n;

	fflush(stderr);
	rewind(capture);
	n = fread(buf, 1, sizeof buf - 1, capture);
	buf[n] = '\0';
	rewind(capture);
	if (ftruncate(fileno(capture), 0) != 0)
		buf[0] = '\0';
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

int main(void)
{
	const char *out;
	int saved = dup(2);

	capture = tmpfile();
	if (!capture || saved < 0 || dup2(fileno(capture), 2) < 0)
		return 99;
	setvbuf(stderr, NULL, _IONBF, 0);
	log_init("bbingest", LOG_DEBUG, LOG_FORMAT_PLAIN);
	complain_set_clock(fake_clock);
	complain_set_interval(60);
	fake_now = 1000000000;

	mc_section("first occurrence is logged at once");
	CHECK(complain(LOG_ERR, "database unreachable: %s", "connection refused"));
	out = logged();
	CHECK_STR(out, "bbingest: error: database unreachable: connection refused\n");

	mc_section("repeats within the interval are counted, not logged");
	for (int i = 0; i < 41; i++) {
		fake_now += 1000000;    /* 41 s */
		CHECK(!complain(LOG_ERR, "database unreachable: %s", "connection refused"));
	}
	CHECK_STR(logged(), "");

	mc_section("the first repeat after the interval is logged with the count");
	fake_now += 20 * 1000000;      /* 61 s after the first */
	CHECK(complain(LOG_ERR, "database unreachable: %s", "connection refused"));
	out = logged();
	CHECK_STR(out, "bbingest: error: database unreachable: connection refused "
		       "(repeated 42 times in the last 61 s)\n");

	mc_section("a different text, or the same text at another priority, is its own message");
	CHECK(complain(LOG_ERR, "participant %s: refresh failed: HTTP 503", "P0001"));
	CHECK(complain(LOG_ERR, "participant %s: refresh failed: HTTP 503", "P0002"));
	CHECK(complain(LOG_WARNING, "participant %s: refresh failed: HTTP 503", "P0001"));
	CHECK(!complain(LOG_ERR, "participant %s: refresh failed: HTTP 503", "P0001"));
	out = logged();
	CHECK(count_lines(out) == 3);
	CHECK_HAS(out, "error: participant P0001: refresh failed: HTTP 503\n");
	CHECK_HAS(out, "error: participant P0002: refresh failed: HTTP 503\n");
	CHECK_HAS(out, "warning: participant P0001: refresh failed: HTTP 503\n");

	mc_section("flush logs the count of a message that stopped repeating, once");
	complain_flush();
	CHECK_STR(logged(), "");           /* interval not over yet */
	fake_now += 60 * 1000000;
	complain_flush();
	out = logged();
	CHECK_STR(out, "bbingest: error: participant P0001: refresh failed: HTTP 503 "
		       "(repeated 1 times in the last 60 s)\n");
	complain_flush();
	CHECK_STR(logged(), "");

	mc_section("a message not seen for two intervals counts as new again");
	fake_now += 121 * 1000000;
	complain_flush();
	CHECK(complain(LOG_ERR, "participant %s: refresh failed: HTTP 503", "P0002"));
	CHECK_STR(logged(), "bbingest: error: participant P0002: refresh failed: HTTP 503\n");

	mc_section("a full table forgets the least recently seen message, logging its count");
	complain_reset();
	(void)logged();
	CHECK(complain(LOG_ERR, "oldest"));
	fake_now += 1;
	CHECK(!complain(LOG_ERR, "oldest"));
	for (int i = 1; i < COMPLAIN_SLOTS; i++) {
		fake_now += 1;
		CHECK(complain(LOG_ERR, "message %d", i));
	}
	(void)logged();
	fake_now += 1;
	CHECK(complain(LOG_ERR, "one too many"));
	out = logged();
	CHECK_HAS(out, "error: oldest (repeated 1 times in the last 0 s)\n");
	CHECK_HAS(out, "error: one too many\n");
	CHECK(count_lines(out) == 2);
	/* the others are still remembered */
	CHECK(!complain(LOG_ERR, "message 1"));

	mc_section("reset logs what is pending and forgets everything");
	complain_reset();
	out = logged();
	CHECK_STR(out, "bbingest: error: message 1 (repeated 1 times in the last 0 s)\n");
	CHECK(complain(LOG_ERR, "message 1"));
	(void)logged();

	mc_section("messages below the log level are not written but still limited");
	log_set_level(LOG_ERR);
	CHECK(complain(LOG_INFO, "quiet"));
	CHECK(!complain(LOG_INFO, "quiet"));
	CHECK_STR(logged(), "");
	complain_reset();

	dup2(saved, 2);
	return mc_done("complain");
}
