/* migrations: the numbered SQL files of sql/, embedded at build time. */
#ifndef BB_MIGRATIONS_H
#define BB_MIGRATIONS_H

#include <stddef.h>

typedef struct bb_migration {
	int version;
	const char *name;           /* file name, e.g. "001_core.sql" */
	const char *const *lines;   /* the file's lines, NULL-terminated */
} bb_migration;

/* in version order */
extern const bb_migration bb_migrations[];
extern const size_t bb_migrations_count;

#endif
