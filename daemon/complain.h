/*
 * complain: rate-limited logging of repeated identical failures (the idea of
 * collectd's utils_complain).
 *
 * When the database is down or the API answers 503 to every request, the
 * same line would otherwise be written many times a second for hours.
 * complain() logs a message the first time it is seen, then at most once per
 * interval (default COMPLAIN_INTERVAL_S), saying how often it repeated in
 * between:
 *
 *   database unreachable: connection refused (repeated 41 times in the last 60 s)
 *
 * "Identical" means the same priority and the same formatted text, so put
 * what varies and matters (a participant id) in the text and it is limited
 * per participant.  A small fixed table (COMPLAIN_SLOTS) remembers recent
 * messages; when it is full the least recently seen one is forgotten, after
 * its suppressed count is logged.  complain_flush(), called from the event
 * loop, logs the count of messages that stopped repeating, so no count is
 * lost, and forgets messages not seen for two intervals (they count as new
 * again).  complain_reset() logs what is pending and empties the table
 * (shutdown).
 *
 * Process-wide state, event loop only.  The same rules as log.h apply: no
 * token, secret or payload in a message.
 */
#ifndef BB_COMPLAIN_H
#define BB_COMPLAIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#define COMPLAIN_INTERVAL_S 60
#define COMPLAIN_SLOTS 64

/* Log (prio as log_msg) now or count a repeat; true when it was logged. */
bool complain(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool complain_v(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Log the repeats of messages whose interval has passed; forget old ones. */
void complain_flush(void);

/* Log every pending repeat count and forget every message. */
void complain_reset(void);

/* The interval, seconds (>= 1); for configuration and tests. */
void complain_set_interval(int64_t seconds);

/* The clock used (monotonic microseconds); NULL restores now_mono_us.  Tests. */
void complain_set_clock(int64_t (*clock_us)(void));

#endif
