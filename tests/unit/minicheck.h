/*
 * minicheck: the few assertion macros the C unit tests share.
 *
 * Each check is counted and a failure prints file:line and the expression;
 * mc_done() prints the totals and gives the exit status (0 only when at
 * least one check ran and none failed).  mc_section() names what is being
 * checked next, so a test's output says what it verified.
 */
#ifndef BB_MINICHECK_H
#define BB_MINICHECK_H

#include <stdio.h>
#include <string.h>

static int mc_checks, mc_failures;

#define CHECK(cond) \
	do { \
		mc_checks++; \
		if (!(cond)) { \
			mc_failures++; \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define CHECK_STR(got, want) \
	do { \
		const char *mc_g = (got), *mc_w = (want); \
		mc_checks++; \
		if (!mc_g || strcmp(mc_g, mc_w) != 0) { \
			mc_failures++; \
			fprintf(stderr, "%s:%d: check failed: %s is \"%s\", expected \"%s\"\n", \
			        __FILE__, __LINE__, #got, mc_g ? mc_g : "(null)", mc_w); \
		} \
	} while (0)

/* `hay` contains `needle` */
#define CHECK_HAS(hay, needle) \
	do { \
		const char *mc_h = (hay), *mc_n = (needle); \
		mc_checks++; \
		if (!mc_h || !strstr(mc_h, mc_n)) { \
			mc_failures++; \
			fprintf(stderr, "%s:%d: check failed: %s (\"%s\") does not contain \"%s\"\n", \
			        __FILE__, __LINE__, #hay, mc_h ? mc_h : "(null)", mc_n); \
		} \
	} while (0)

static inline void mc_section(const char *what)
{
	printf("checking %s\n", what);
	fflush(stdout);
}

static inline int mc_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, mc_checks, mc_failures);
	return (mc_failures || mc_checks == 0) ? 1 : 0;
}

#endif
