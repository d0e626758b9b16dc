/*
 * health: what the daemon knows about itself, for systemd (STATUS=), the
 * listener's /healthz and /metrics, and the gauges of metrics.h.
 *
 * A subsystem of the event loop (health_subsystem in daemon.c's table) with
 * its own database connection, so its checks never run inside another
 * subsystem's transaction and a broken connection is noticed on its own:
 *
 *   - every HEALTH_STATUS_INTERVAL_S: participants by state, pages stored,
 *     rows per claims table (PostgreSQL's estimate) and whether Blue Button
 *     disabled the application; sets the gauges and sends STATUS= with the
 *     live counts.  A failed query marks the database down, the connection
 *     is reset at the next round; failures are logged through complain()
 *     and the recovery once.
 *   - every HEALTH_PROBE_INTERVAL_S (not while draining): GET
 *     {api.base_url}/{api.version}/fhir/metadata, which needs no token, to
 *     know whether the API is reachable.
 *
 * Routes (health_subsystem.routes): GET /healthz answers 200 "ok" when the
 * database answers now and the last API probe succeeded, else 503 with one
 * line per reason (no secret, no payload); GET /metrics answers the metrics
 * in the Prometheus text format.
 */
#ifndef BB_HEALTH_H
#define BB_HEALTH_H

#include "daemon.h"

#define HEALTH_STATUS_INTERVAL_S 5
#define HEALTH_PROBE_INTERVAL_S 30
/* One API probe at most takes this long. */
#define HEALTH_PROBE_TIMEOUT_S 10

extern const bb_subsystem health_subsystem;

#endif
