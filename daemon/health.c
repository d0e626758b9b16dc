#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "complain.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "sync.h"
#include "util.h"

#define SEC 1000000LL
/* Reconnection attempts back off up to this. */
#define RECONNECT_MAX_US (60 * SEC)

static const char *const states[] = {
	"active", "invited", "needs_reconsent", "refresh_in_doubt", "withdrawn",
};
#define NSTATES (sizeof states / sizeof states[0])

typedef struct health {
	bb_daemon *d;
	store *db;                  /* our own connection, NULL while down */
	int64_t next_status_us;
	int64_t next_connect_us;
	int64_t connect_backoff_us;

	bool db_ok;
	char db_reason[512];

	bool probe_inflight;
	int64_t next_probe_us;
	bool api_checked, api_ok;
	char api_reason[512];

	bool app_disabled;
	char app_reason[512];

	int64_t participants[NSTATES];
	int64_t pages;
	char last_status[NOTIFY_MAX_MESSAGE];
} health;

static void fold_spaces(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
}

static void db_down(health *h, const char *reason)
{
	bool was_ok = h->db_ok;

	h->db_ok = false;
	snprintf(h->db_reason, sizeof h->db_reason, "%s", reason);
	fold_spaces(h->db_reason);
	metrics_set(METRIC_UP, "database", 0);
	if (was_ok)
		metrics_inc(METRIC_ERRORS, "database");
	complain(LOG_ERR, "health check: %s", h->db_reason);
	/* drop the connection; the next round connects again (with backoff) */
	store_close(h->db);
	h->db = NULL;
}

static void db_up(health *h)
{
	if (!h->db_ok && h->db_reason[0])
		log_notice("health check: the database answers again");
	h->db_ok = true;
	h->db_reason[0] = '\0';
	metrics_set(METRIC_UP, "database", 1);
}

/* a connection, or NULL (the reason is recorded) */
static store *db_conn(health *h, int64_t now)
{
	char err[512];

	if (h->db)
		return h->db;
	if (now < h->next_connect_us)
		return NULL;
	h->db = store_connect(h->d->cfg->db_conninfo, err, sizeof err);
	if (!h->db) {
		h->connect_backoff_us = h->connect_backoff_us ? h->connect_backoff_us * 2 : 5 * SEC;
		if (h->connect_backoff_us > RECONNECT_MAX_US)
			h->connect_backoff_us = RECONNECT_MAX_US;
		h->next_connect_us = now + h->connect_backoff_us;
		db_down(h, err);
		return NULL;
	}
	h->connect_backoff_us = 0;
	/* a health check must never hang the loop on a stuck server */
	if (store_cmd(h->db, "SET statement_timeout = '5s'", 0, NULL, err, sizeof err) < 0) {
		db_down(h, err);
		return NULL;
	}
	return h->db;
}

static const char count_sql[] =
	"SELECT 'state', state, count(*)::bigint FROM bb.participant GROUP BY state "
	"UNION ALL SELECT 'pages', '', coalesce(sum(pages), 0)::bigint FROM bb.sync_cursor "
	"UNION ALL SELECT 'table', relname::text, n_live_tup FROM pg_stat_user_tables "
	"  WHERE schemaname = 'claims' "
	"UNION ALL SELECT 'disabled', coalesce(disabled_reason, 'no reason recorded'), 1 "
	"  FROM bb.app_state WHERE disabled_at IS NOT NULL";

static void count_round(health *h, int64_t now)
{
	store *db = db_conn(h, now);
	PGresult *r;
	char err[512];
	bool disabled = false;

	if (!db)
		return;
	r = store_exec(db, count_sql, 0, NULL, err, sizeof err);
	if (!r) {
		db_down(h, err);
		return;
	}
	db_up(h);
	memset(h->participants, 0, sizeof h->participants);
	h->pages = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *kind = PQgetvalue(r, i, 0), *name = PQgetvalue(r, i, 1);
		long long n = strtoll(PQgetvalue(r, i, 2), NULL, 10);

		if (strcmp(kind, "state") == 0) {
			for (size_t k = 0; k < NSTATES; k++)
				if (strcmp(name, states[k]) == 0)
					h->participants[k] = n;
		} else if (strcmp(kind, "pages") == 0) {
			h->pages = n;
		} else if (strcmp(kind, "table") == 0) {
			metrics_set(METRIC_TABLE_ROWS, name, n);
		} else if (strcmp(kind, "disabled") == 0) {
			disabled = true;
			snprintf(h->app_reason, sizeof h->app_reason, "%s", name);
			fold_spaces(h->app_reason);
		}
	}
	PQclear(r);
	for (size_t k = 0; k < NSTATES; k++)
		metrics_set(METRIC_PARTICIPANTS, states[k], h->participants[k]);
	if (disabled && !h->app_disabled)
		log_error("the Blue Button application is disabled: %s; HINT: see bb.app_state, "
			  "fix the client credentials, then clear disabled_at", h->app_reason);
	h->app_disabled = disabled;
}

static void send_status(health *h)
{
	sbuf s;
	bool any = false;

	sbuf_init(&s, NOTIFY_MAX_MESSAGE - 16);
	if (h->d->draining)
		sbuf_printf(&s, "stopping: finishing %zu requests in flight; ", http_inflight(h->d->http));
	if (h->app_disabled)
		sbuf_printf(&s, "APPLICATION DISABLED by Blue Button (%s); ", h->app_reason);
	if (!h->db_ok) {
		sbuf_printf(&s, "database unreachable (%s)", h->db_reason);
	} else {
		sbuf_puts(&s, "participants: ");
		for (size_t k = 0; k < NSTATES; k++) {
			if (!h->participants[k])
				continue;
			sbuf_printf(&s, "%s%lld %s", any ? ", " : "", (long long)h->participants[k],
				    states[k]);
			any = true;
		}
		if (!any)
			sbuf_puts(&s, "none yet");
		sbuf_printf(&s, "; %lld pages stored; %zu requests in flight", (long long)h->pages,
			    http_inflight(h->d->http));
	}
	if (h->api_checked && !h->api_ok)
		sbuf_puts(&s, "; Blue Button API unreachable");
	if (s.data && strcmp(s.data, h->last_status) != 0) {
		snprintf(h->last_status, sizeof h->last_status, "%s", s.data);
		notify_status("%s", s.data);
	}
	sbuf_free(&s);
}

static int probe_data(void *ud, const char *data, size_t len)
{
	(void)ud;
	(void)data;
	(void)len;
	return 0;       /* the body does not matter */
}

static void probe_done(void *ud, const http_result *res)
{
	health *h = ud;
	bool was_ok = h->api_ok;

	h->probe_inflight = false;
	if (res->aborted)
		return;
	h->api_checked = true;
	if (res->code != CURLE_OK)
		snprintf(h->api_reason, sizeof h->api_reason, "Blue Button API %s unreachable: %s",
			 h->d->cfg->api_base_url, res->error ? res->error : "unknown error");
	else if (res->status != 200)
		snprintf(h->api_reason, sizeof h->api_reason,
			 "Blue Button API %s answered HTTP %ld to GET /%s/fhir/metadata",
			 h->d->cfg->api_base_url, res->status, h->d->cfg->api_version);
	else
		h->api_reason[0] = '\0';
	fold_spaces(h->api_reason);
	h->api_ok = h->api_reason[0] == '\0';
	metrics_set(METRIC_UP, "api", h->api_ok);
	if (h->api_ok && !was_ok && h->api_checked)
		log_info("health check: Blue Button API %s answers", h->d->cfg->api_base_url);
	else if (!h->api_ok)
		complain(LOG_WARNING, "health check: %s", h->api_reason);
}

static void probe(health *h, int64_t now)
{
	char err[256];
	char *url;

	h->next_probe_us = now + HEALTH_PROBE_INTERVAL_S * SEC;
	if (h->probe_inflight || h->d->draining)
		return;
	url = xasprintf("%s/%s/fhir/metadata?_format=application/json", h->d->cfg->api_base_url,
			h->d->cfg->api_version);
	if (http_start(h->d->http, &(http_request){
			.url = url,
			.accept = "Accept: application/fhir+json",
			.timeout_ms = HEALTH_PROBE_TIMEOUT_S * 1000L,
			.connect_timeout_ms = HEALTH_PROBE_TIMEOUT_S * 1000L,
			.max_body = 16u << 20,
			.on_data = probe_data,
			.on_done = probe_done,
			.ud = h,
		}, err, sizeof err) == 0) {
		h->probe_inflight = true;
	} else {
		h->api_checked = true;
		h->api_ok = false;
		snprintf(h->api_reason, sizeof h->api_reason, "cannot probe the Blue Button API: %s", err);
		complain(LOG_WARNING, "health check: %s", h->api_reason);
	}
	free(url);
}

static void *health_start(bb_daemon *d, char *err, size_t errlen)
{
	health *h = xcalloc(1, sizeof *h);

	(void)err;
	(void)errlen;
	h->d = d;
	h->db_ok = true;    /* the daemon connected just before */
	snprintf(h->api_reason, sizeof h->api_reason, "Blue Button API not checked yet");
	metrics_set(METRIC_START_TIME, NULL, now_wall_us() / SEC);
	return h;
}

/* The gauges of work in progress, read when needed. */
static void set_gauges(health *h)
{
	metrics_set(METRIC_INFLIGHT, NULL, (int64_t)http_inflight(h->d->http) - h->probe_inflight);
	metrics_set(METRIC_PAGES_WAITING, NULL,
		    h->d->sync ? (int64_t)sync_get_stats(h->d->sync)->committing : 0);
}

static int64_t health_tick(void *self, bb_daemon *d, int64_t now)
{
	health *h = self;

	set_gauges(h);
	if (now >= h->next_probe_us)
		probe(h, now);
	if (now >= h->next_status_us) {
		h->next_status_us = now + HEALTH_STATUS_INTERVAL_S * SEC;
		count_round(h, now);
		send_status(h);
	}
	return h->next_status_us < h->next_probe_us || d->draining ? h->next_status_us
								   : h->next_probe_us;
}

static void health_drain(void *self, bb_daemon *d)
{
	health *h = self;

	(void)d;
	h->next_status_us = 0;      /* say "stopping" at once */
}

static bool health_idle(void *self)
{
	(void)self;
	return true;    /* the probe is harmless to abandon */
}

static void health_reloaded(void *self, bb_daemon *d)
{
	health *h = self;

	(void)d;
	/* the API URL may have changed: probe again now */
	h->next_probe_us = 0;
	h->last_status[0] = '\0';
	h->next_status_us = 0;
}

static void health_stop(void *self, bb_daemon *d)
{
	health *h = self;

	(void)d;
	store_close(h->db);
	free(h);
}

static void route_healthz(void *arg, const listener_request *req, listener_response *resp)
{
	health *h = arg;
	store *db = db_conn(h, now_mono_us());
	char err[512];

	(void)req;
	if (db) {
		if (store_cmd(db, "SELECT 1", 0, NULL, err, sizeof err) < 0)
			db_down(h, err);
		else
			db_up(h);
	}
	if (h->db_ok && h->api_ok && !h->app_disabled && !store_is_down(h->d->db)) {
		resp->status = 200;
		sbuf_puts(&resp->body, "ok\n");
		return;
	}
	resp->status = 503;
	if (!h->db_ok)
		sbuf_printf(&resp->body, "database: %s\n", h->db_reason);
	else if (store_is_down(h->d->db))
		sbuf_puts(&resp->body, "database: the daemon's connection was lost and is being "
			  "re-established\n");
	if (!h->api_ok)
		sbuf_printf(&resp->body, "api: %s\n", h->api_reason);
	if (h->app_disabled)
		sbuf_printf(&resp->body, "application: disabled by Blue Button (%s)\n", h->app_reason);
}

static void route_metrics(void *arg, const listener_request *req, listener_response *resp)
{
	health *h = arg;

	(void)req;
	set_gauges(h);
	resp->content_type = METRICS_CONTENT_TYPE;
	if (metrics_render(&resp->body) < 0) {
		sbuf_reset(&resp->body);
		resp->status = 500;
		resp->content_type = NULL;
		sbuf_puts(&resp->body, "metrics do not fit the response size limit\n");
	}
}

static size_t health_routes(void *self, listener_route *out, size_t max)
{
	if (max < 2)
		return 0;
	out[0] = (listener_route){ "GET", "/healthz", route_healthz, self };
	out[1] = (listener_route){ "GET", "/metrics", route_metrics, self };
	return 2;
}

const bb_subsystem health_subsystem = {
	.name = "health",
	.start = health_start,
	.tick = health_tick,
	.drain = health_drain,
	.idle = health_idle,
	.reloaded = health_reloaded,
	.stop = health_stop,
	.routes = health_routes,
};
