/*
 * log: one line per event to stderr.
 *
 * Under journald (JOURNAL_STREAM set, or forced by config) each line starts
 * with a syslog priority prefix "<N>" that journald turns into the priority;
 * otherwise lines read "bbingest: LEVEL: message".  Never pass a token, a
 * secret or a claim payload to these functions.
 */
#ifndef BB_LOG_H
#define BB_LOG_H

#include <stdarg.h>
#include <syslog.h>

typedef enum {
	LOG_FORMAT_AUTO = 0,    /* journal prefixes when JOURNAL_STREAM is set */
	LOG_FORMAT_PLAIN,
	LOG_FORMAT_JOURNAL,
} log_format;

/* Set up logging; safe to call again (on reload). */
void log_init(const char *progname, int level, log_format format);

/* Lowest priority that is printed (LOG_DEBUG .. LOG_ERR). */
void log_set_level(int level);
int log_get_level(void);

/* Parse "debug", "info", "notice", "warning", "error"; -1 if unknown. */
int log_level_from_name(const char *name);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_error(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
