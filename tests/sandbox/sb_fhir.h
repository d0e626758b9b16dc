/*
 * sb_fhir: the sandbox's FHIR endpoints (v2): metadata, and the
 * ExplanationOfBenefit, Patient and Coverage searches and reads bound to the
 * token's beneficiary, with BB2's parameter rules (_count 10/50, startIndex,
 * _lastUpdated, type, service-date; unknown parameters dropped) and BFD's
 * paging (order by claim id, total, first/previous/next/last/self links,
 * Bundle.meta.lastUpdated), see bluebutton-api.md §4 and §5.
 */
#ifndef BB_SB_FHIR_H
#define BB_SB_FHIR_H

#include <stdbool.h>

#include "sb_data.h"
#include "sb_http.h"
#include "sb_oauth.h"

/* GET /v2/fhir/metadata */
void sb_fhir_metadata(const char *base_url, sb_reply *r);

/* GET /v2/fhir/<rest> for an authenticated token.  rest is what follows
 * "/v2/fhir/", e.g. "ExplanationOfBenefit/" or "Patient/-2014...". */
void sb_fhir_handle(sb_world *w, const sb_access *a, const char *rest, const sb_params *query,
                    const char *base_url, sb_reply *r);

/* GET /v2/connect/userinfo */
void sb_fhir_userinfo(sb_world *w, const sb_access *a, sb_reply *r);

#endif
