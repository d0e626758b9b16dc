/*
 * syncurl: the URLs of the sync engine and the one rule about where the
 * bearer token may go.
 */
#ifndef BB_SYNCURL_H
#define BB_SYNCURL_H

#include <stdbool.h>

/*
 * True when `url` is an http(s) URL on exactly the scheme, host and port of
 * `base` (default ports made explicit, host compared without case) and
 * carries no user info.  Anything else must never receive the bearer token.
 */
bool syncurl_same_origin(const char *base, const char *url);

/* "scheme://host:port" of a URL, for messages (no path, query or user info); new string. */
char *syncurl_origin(const char *url);

/*
 * The first page of a search: BASE/VERSION/fhir/RESOURCE/?_count=N plus,
 * for ExplanationOfBenefit, type=<claim types of the CLAIM_* bits, lower
 * case, comma separated>, and _lastUpdated=gt<since> when since (an ISO
 * 8601 instant without '+') is set.  Returns a new string.
 */
char *syncurl_search(const char *base, const char *version, const char *resource,
		     int page_size, unsigned claim_types, const char *since);

#endif
