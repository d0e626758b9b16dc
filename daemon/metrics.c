#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM } metric_type;

/* The most label values a metric has, "other" included. */
#define MAX_VALUES 16

typedef struct metric_def {
	const char *name;
	const char *help;
	metric_type type;
	const char *label;               /* NULL: no label */
	const char *const *values;       /* NULL-terminated, without "other" */
} metric_def;

static const char *const states[] = {
	"invited", "active", "needs_reconsent", "refresh_in_doubt", "withdrawn", NULL
};
static const char *const page_outcomes[] = { "stored", "rejected", "failed", "discarded", NULL };
static const char *const tables[] = {
	"eob", "eob_item", "eob_item_adjudication", "eob_item_detail", "eob_diagnosis",
	"eob_procedure", "eob_care_team", "eob_supporting_info", "eob_total", "eob_extension",
	"patient", "coverage", NULL
};
static const char *const refresh_outcomes[] = {
	"ok", "needs_reconsent", "in_doubt", "failed", "app_disabled", NULL
};
static const char *const enrol_outcomes[] = { "enrolled", "refused", "failed", NULL };
static const char *const error_kinds[] = {
	"http_4xx", "http_429", "http_5xx", "network", "timeout", "malformed_page",
	"cap_exceeded", "refresh_failed", "token_exchange", "database", "config", NULL
};
static const char *const endpoints[] = {
	"token", "revoke", "introspect", "eob", "patient", "coverage", "metadata", NULL
};
static const char *const components[] = { "database", "api", NULL };
static const char *const reload_outcomes[] = { "ok", "failed", NULL };

static const metric_def defs[METRIC_COUNT_] = {
	[METRIC_PARTICIPANTS] = { "bbingest_participants",
		"Participants by consent state (all instances, from the database)",
		MT_GAUGE, "state", states },
	[METRIC_PAGES] = { "bbingest_pages_total",
		"Pages of FHIR results handled by this process, by outcome",
		MT_COUNTER, "outcome", page_outcomes },
	[METRIC_ROWS_LOADED] = { "bbingest_rows_loaded_total",
		"Rows written by this process, by claims table",
		MT_COUNTER, "table", tables },
	[METRIC_TABLE_ROWS] = { "bbingest_table_rows",
		"Rows in each claims table (PostgreSQL's live-tuple estimate)",
		MT_GAUGE, "table", tables },
	[METRIC_REFRESHES] = { "bbingest_refreshes_total",
		"Token refreshes by this process, by outcome",
		MT_COUNTER, "outcome", refresh_outcomes },
	[METRIC_ENROLMENTS] = { "bbingest_enrolments_total",
		"Consent callbacks handled by this process, by outcome",
		MT_COUNTER, "outcome", enrol_outcomes },
	[METRIC_ERRORS] = { "bbingest_errors_total",
		"Errors met by this process, by kind",
		MT_COUNTER, "kind", error_kinds },
	[METRIC_REQUEST_SECONDS] = { "bbingest_request_duration_seconds",
		"Duration of requests to the Blue Button API, by endpoint",
		MT_HISTOGRAM, "endpoint", endpoints },
	[METRIC_INFLIGHT] = { "bbingest_inflight_transfers",
		"Requests to the Blue Button API in flight now",
		MT_GAUGE, NULL, NULL },
	[METRIC_PAGES_WAITING] = { "bbingest_pages_waiting",
		"Pages downloaded and waiting for a database writer now (near sync.concurrency"
		" + 2 per writer: the database is the bottleneck)",
		MT_GAUGE, NULL, NULL },
	[METRIC_UP] = { "bbingest_up",
		"1 when the component was reachable at the last check, else 0",
		MT_GAUGE, "component", components },
	[METRIC_RELOADS] = { "bbingest_config_reloads_total",
		"Configuration reloads (SIGHUP), by outcome",
		MT_COUNTER, "outcome", reload_outcomes },
	[METRIC_START_TIME] = { "bbingest_start_time_seconds",
		"Start time of the process since the Unix epoch",
		MT_GAUGE, NULL, NULL },
};

/* Upper bounds of the histogram buckets, seconds (+Inf is implicit). */
static const double buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct hist {
	uint64_t counts[NBUCKETS + 1];   /* per bucket (not cumulative); last: above all */
	double sum;
	uint64_t count;
} hist;

static int64_t values[METRIC_COUNT_][MAX_VALUES];
static hist hists[MAX_VALUES];

static size_t n_values(const metric_def *d)
{
	size_t n = 0;

	if (!d->values)
		return 1;
	while (d->values[n] && n < MAX_VALUES - 1)
		n++;
	return n + 1;   /* "other" */
}

/* index of label in d's values; "other" (the last) when unknown */
static size_t label_index(const metric_def *d, const char *label)
{
	size_t i;

	if (!d->values)
		return 0;
	for (i = 0; d->values[i] && i < MAX_VALUES - 1; i++)
		if (label && strcmp(d->values[i], label) == 0)
			return i;
	return i;
}

static const char *label_name(const metric_def *d, size_t i)
{
	return i < MAX_VALUES - 1 && d->values[i] ? d->values[i] : "other";
}

void metrics_add(metric_id m, const char *label, uint64_t n)
{
	if ((unsigned)m >= METRIC_COUNT_ || defs[m].type != MT_COUNTER)
		return;
	values[m][label_index(&defs[m], label)] += (int64_t)n;
}

void metrics_set(metric_id m, const char *label, int64_t value)
{
	if ((unsigned)m >= METRIC_COUNT_ || defs[m].type != MT_GAUGE)
		return;
	values[m][label_index(&defs[m], label)] = value;
}

void metrics_observe(metric_id m, const char *label, double seconds)
{
	hist *h;
	size_t b = 0;

	if ((unsigned)m >= METRIC_COUNT_ || defs[m].type != MT_HISTOGRAM)
		return;
	if (!isfinite(seconds) || seconds < 0)
		seconds = 0;
	h = &hists[label_index(&defs[m], label)];
	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	h->counts[b]++;
	h->sum += seconds;
	h->count++;
}

int64_t metrics_get(metric_id m, const char *label)
{
	if ((unsigned)m >= METRIC_COUNT_)
		return 0;
	if (defs[m].type == MT_HISTOGRAM)
		return (int64_t)hists[label_index(&defs[m], label)].count;
	return values[m][label_index(&defs[m], label)];
}

/* does path contain "/seg/" or end with "/seg" */
static int has_segment(const char *path, size_t len, const char *seg)
{
	size_t n = strlen(seg);

	for (size_t i = 0; i + n + 1 <= len; i++) {
		if (path[i] == '/' && memcmp(path + i + 1, seg, n) == 0 &&
		    (i + 1 + n == len || path[i + 1 + n] == '/'))
			return 1;
	}
	return 0;
}

const char *metrics_endpoint_of_url(const char *url)
{
	const char *p, *q;
	size_t len;

	if (!url)
		return "other";
	p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : url;
	if (!p)
		return "other";
	q = p + strcspn(p, "?#");
	len = (size_t)(q - p);
	if (has_segment(p, len, "o")) {
		if (has_segment(p, len, "token"))
			return "token";
		if (has_segment(p, len, "revoke"))
			return "revoke";
		if (has_segment(p, len, "introspect"))
			return "introspect";
		return "other";
	}
	if (has_segment(p, len, "ExplanationOfBenefit"))
		return "eob";
	if (has_segment(p, len, "Patient"))
		return "patient";
	if (has_segment(p, len, "Coverage"))
		return "coverage";
	if (has_segment(p, len, "metadata"))
		return "metadata";
	return "other";
}

/* a number as Prometheus reads it, without exponent surprises */
static void fmt_double(char *buf, size_t len, double v)
{
	char *dot;

	snprintf(buf, len, "%.6f", v);
	/* trim trailing zeros: 0.250000 -> 0.25, 1.000000 -> 1 */
	dot = strchr(buf, '.');
	if (dot) {
		char *e = buf + strlen(buf);

		while (e > dot + 1 && e[-1] == '0')
			*--e = '\0';
		if (e == dot + 1)
			*dot = '\0';
	}
}

int metrics_render(sbuf *out)
{
	int rc = 0;

	for (size_t m = 0; m < METRIC_COUNT_; m++) {
		const metric_def *d = &defs[m];
		size_t nv = n_values(d);
		static const char *const type_names[] = { "counter", "gauge", "histogram" };

		rc |= sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
				  type_names[d->type]);
		for (size_t i = 0; i < nv; i++) {
			if (d->type == MT_HISTOGRAM) {
				const hist *h = &hists[i];
				uint64_t cum = 0;
				char le[32], sum[64];

				for (size_t b = 0; b < NBUCKETS; b++) {
					cum += h->counts[b];
					fmt_double(le, sizeof le, buckets[b]);
					rc |= sbuf_printf(out, "%s_bucket{%s=\"%s\",le=\"%s\"} %llu\n",
							  d->name, d->label, label_name(d, i), le,
							  (unsigned long long)cum);
				}
				cum += h->counts[NBUCKETS];
				rc |= sbuf_printf(out, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", d->name,
						  d->label, label_name(d, i), (unsigned long long)cum);
				fmt_double(sum, sizeof sum, h->sum);
				rc |= sbuf_printf(out, "%s_sum{%s=\"%s\"} %s\n", d->name, d->label,
						  label_name(d, i), sum);
				rc |= sbuf_printf(out, "%s_count{%s=\"%s\"} %llu\n", d->name, d->label,
						  label_name(d, i), (unsigned long long)h->count);
			} else if (d->label) {
				rc |= sbuf_printf(out, "%s{%s=\"%s\"} %lld\n", d->name, d->label,
						  label_name(d, i), (long long)values[m][i]);
			} else {
				rc |= sbuf_printf(out, "%s %lld\n", d->name, (long long)values[m][0]);
			}
		}
	}
	return rc ? -1 : 0;
}

void metrics_reset(void)
{
	memset(values, 0, sizeof values);
	memset(hists, 0, sizeof hists);
}
