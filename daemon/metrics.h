/*
 * metrics: the daemon's counters, gauges and request-latency histogram,
 * rendered in the Prometheus text exposition format (version 0.0.4) for the
 * listener's /metrics route.
 *
 * The set of metrics is fixed (metric_id).  Each has at most one label, and
 * the label's values come from a fixed list (metrics.c): a value that is not
 * in the list is counted under "other".  So nothing from outside (a URL, a
 * participant id, an error text) can become a label, the output stays small
 * and bounded, and no token or payload can reach it.
 *
 * Process-wide state, used from the event loop only (one thread).  Other
 * subsystems just call metrics_inc()/metrics_add()/metrics_set()/
 * metrics_observe() where things happen; no handle is passed around.
 *
 *   metric                     type       label     values
 *   bbingest_participants      gauge      state     invited active needs_reconsent
 *                                                   refresh_in_doubt withdrawn
 *   bbingest_pages_total       counter    outcome   stored rejected failed discarded
 *   bbingest_rows_loaded_total counter    table     eob eob_item eob_item_adjudication
 *                                                   eob_item_detail eob_diagnosis
 *                                                   eob_procedure eob_care_team
 *                                                   eob_supporting_info eob_total
 *                                                   eob_extension patient coverage
 *   bbingest_table_rows        gauge      table     (same tables; estimate from
 *                                                   pg_stat_user_tables)
 *   bbingest_refreshes_total   counter    outcome   ok needs_reconsent in_doubt failed
 *                                                   app_disabled
 *   bbingest_enrolments_total  counter    outcome   enrolled refused failed
 *   bbingest_errors_total      counter    kind      http_4xx http_429 http_5xx network
 *                                                   timeout malformed_page cap_exceeded
 *                                                   refresh_failed token_exchange
 *                                                   database config
 *   bbingest_request_duration_seconds
 *                              histogram  endpoint  token revoke introspect eob patient
 *                                                   coverage metadata
 *   bbingest_inflight_transfers gauge     -
 *   bbingest_pages_waiting     gauge      -         (pages downloaded, waiting for a
 *                                                   database writer)
 *   bbingest_up                gauge      component database api
 *   bbingest_config_reloads_total
 *                              counter    outcome   ok failed
 *   bbingest_start_time_seconds gauge     -         (wall clock, seconds)
 *
 * ("other" is an extra value of every labelled metric.)
 *
 * Counted here already, by http.c for every request: the request duration,
 * and errors of kind timeout, network, http_429 and http_5xx.  Whether a 4xx
 * is an error depends on the request (a Patient 403 after withheld
 * demographics is not), so the subsystem that sent it counts those.
 */
#ifndef BB_METRICS_H
#define BB_METRICS_H

#include <stdint.h>

#include "util.h"

typedef enum metric_id {
	METRIC_PARTICIPANTS,
	METRIC_PAGES,
	METRIC_ROWS_LOADED,
	METRIC_TABLE_ROWS,
	METRIC_REFRESHES,
	METRIC_ENROLMENTS,
	METRIC_ERRORS,
	METRIC_REQUEST_SECONDS,
	METRIC_INFLIGHT,
	METRIC_PAGES_WAITING,
	METRIC_UP,
	METRIC_RELOADS,
	METRIC_START_TIME,
	METRIC_COUNT_
} metric_id;

/* Content-Type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Add n to a counter (label NULL for an unlabelled metric). */
void metrics_add(metric_id m, const char *label, uint64_t n);

/* Add 1 to a counter. */
#define metrics_inc(m, label) metrics_add((m), (label), 1)

/* Set a gauge. */
void metrics_set(metric_id m, const char *label, int64_t value);

/* Record one observation (seconds) in the histogram. */
void metrics_observe(metric_id m, const char *label, double seconds);

/*
 * Current value of a counter or gauge (for a histogram: its count of
 * observations); 0 for a label that was never touched.
 */
int64_t metrics_get(metric_id m, const char *label);

/*
 * The endpoint label of a request URL (its path only is looked at):
 * "token", "revoke", "eob", ... or "other".
 */
const char *metrics_endpoint_of_url(const char *url);

/* Append every metric in the text format to out; -1 if out's cap was hit. */
int metrics_render(sbuf *out);

/* Set every value back to zero (tests). */
void metrics_reset(void);

#endif
