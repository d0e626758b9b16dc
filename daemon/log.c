#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_prog = "bbingest";
static int log_level = LOG_INFO;
static int log_journal;

static const char *const level_names[] = {
	[LOG_EMERG] = "emergency", [LOG_ALERT] = "alert", [LOG_CRIT] = "critical",
	[LOG_ERR] = "error",       [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",       [LOG_DEBUG] = "debug",
};

void log_init(const char *progname, int level, log_format format)
{
	if (progname)
		log_prog = progname;
	log_level = level;
	switch (format) {
	case LOG_FORMAT_PLAIN:
		log_journal = 0;
		break;
	case LOG_FORMAT_JOURNAL:
		log_journal = 1;
		break;
	case LOG_FORMAT_AUTO:
	default:
		log_journal = getenv("JOURNAL_STREAM") != NULL;
		break;
	}
}

void log_set_level(int level) { log_level = level; }
int log_get_level(void) { return log_level; }

int log_level_from_name(const char *name)
{
	if (!name)
		return -1;
	if (strcmp(name, "warn") == 0)
		return LOG_WARNING;
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (prio < LOG_EMERG)
		prio = LOG_EMERG;
	if (prio > LOG_DEBUG)
		prio = LOG_DEBUG;
	if (prio > log_level)
		return;
	if (log_journal)
		n = snprintf(line, sizeof line, "<%d>", prio);
	else
		n = snprintf(line, sizeof line, "%s: %s: ", log_prog, level_names[prio]);
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	/* one event is one line: fold any newline a message carries */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "%s\n", line);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}
