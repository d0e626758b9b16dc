/*
 * syncpage: one search page on its way from the network to the database.
 *
 * The sync engine's adapter over the streaming pipeline (fhir_stream ->
 * flatten -> loader): body bytes are fed as curl delivers them, the
 * page's rows are held by the loader until the transfer ends, and then
 * stored in the caller's open transaction (so the engine can commit them
 * together with the cursor), or discarded whole.  It also reports what the
 * Bundle said about itself: the `next` link, `total` and
 * `meta.lastUpdated`.
 */
#ifndef BB_SYNCPAGE_H
#define BB_SYNCPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

typedef struct syncpage syncpage;

/* What the page's Bundle said (strings valid until syncpage_free). */
typedef struct syncpage_info {
	bool is_bundle;             /* a searchset Bundle arrived */
	const char *next_url;       /* NULL on the last page */
	const char *last_updated;   /* Bundle.meta.lastUpdated, NULL if absent */
	long long total;            /* Bundle.total, -1 if absent */
	uint64_t resources;         /* entries flattened */
	uint64_t rows;              /* rows held for the database */
} syncpage_info;

/*
 * A page of `resource` ("ExplanationOfBenefit", "Coverage", "Patient") for
 * the participant, with the caps of cfg (page size, string size, depth,
 * resource size).  `name` names the page in messages (e.g. "P0001
 * ExplanationOfBenefit page 3").  Returns NULL with err filled on failure.
 */
syncpage *syncpage_new(store *db, const bb_config *cfg, const char *participant_id,
		       const char *resource, const char *name, char *err, size_t errlen);

/* Body bytes; 0, or -1 once the page is malformed or breaks a cap. */
int syncpage_feed(syncpage *p, const char *data, size_t len);

/* The body is complete: 0 and *info, or -1 (malformed, incomplete). */
int syncpage_finish(syncpage *p, syncpage_info *info);

/*
 * Store the page's rows inside the caller's open transaction on db (the
 * caller commits or rolls back).  0, or -1 with syncpage_error() set.
 */
int syncpage_store(syncpage *p);

/* Why the page failed; "" if it did not.  Never contains payload data. */
const char *syncpage_error(const syncpage *p);

/* Discard whatever is held and free; NULL is fine. */
void syncpage_free(syncpage *p);

#endif
