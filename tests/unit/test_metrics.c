/*
 * Unit tests of daemon/metrics: counters, gauges and the histogram render in
 * the Prometheus text format with HELP/TYPE lines, every known label value
 * appears, unknown label values go to "other" (so nothing from outside
 * becomes a label), histogram buckets are cumulative, endpoints are derived
 * from request URLs, and the output respects the buffer's cap.
 */
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "minicheck.h"
#include "util.h"

/* the line of out starting with prefix, without its newline */
static const char *line_of(const char *out, const char *prefix)
{
	static char line[512];
	const char *p = out;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (strncmp(p, prefix, n) == 0) {
			size_t len = strcspn(p, "\n");

			if (len >= sizeof line)
				len = sizeof line - 1;
			memcpy(line, p, len);
			line[len] = '\0';
			return line;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return "";
}

/* every line is a comment or "name{labels} value" with a sane name */
static int well_formed(const char *out)
{
	const char *p = out;

	while (*p) {
		size_t len = strcspn(p, "\n");

		if (p[len] != '\n')
			return 0;
		if (p[0] != '#') {
			if (strncmp(p, "bbingest_", 9) != 0)
				return 0;
			if (!memchr(p, ' ', len))
				return 0;
		}
		p += len + 1;
	}
	return 1;
}

int main(void)
{
	sbuf b;

	sbuf_init(&b, 1 << 20);

	mc_section("counters and gauges by label, unknown labels under \"other\"");
	metrics_reset();
	metrics_inc(METRIC_PAGES, "stored");
	metrics_add(METRIC_PAGES, "stored", 4);
	metrics_inc(METRIC_PAGES, "rejected");
	metrics_inc(METRIC_ERRORS, "P0001 secret-looking text");
	metrics_inc(METRIC_ERRORS, NULL);
	metrics_set(METRIC_PARTICIPANTS, "active", 12);
	metrics_set(METRIC_PARTICIPANTS, "active", 10);
	metrics_set(METRIC_INFLIGHT, NULL, 3);
	metrics_set(METRIC_UP, "database", 1);
	CHECK(metrics_get(METRIC_PAGES, "stored") == 5);
	CHECK(metrics_get(METRIC_PAGES, "rejected") == 1);
	CHECK(metrics_get(METRIC_ERRORS, "other") == 2);
	CHECK(metrics_get(METRIC_ERRORS, "http_5xx") == 0);
	CHECK(metrics_get(METRIC_PARTICIPANTS, "active") == 10);
	CHECK(metrics_get(METRIC_INFLIGHT, NULL) == 3);

	mc_section("a counter cannot be set, a gauge cannot be added to");
	metrics_set(METRIC_PAGES, "stored", 0);
	metrics_inc(METRIC_PARTICIPANTS, "active");
	CHECK(metrics_get(METRIC_PAGES, "stored") == 5);
	CHECK(metrics_get(METRIC_PARTICIPANTS, "active") == 10);

	mc_section("histogram buckets are cumulative, with sum and count");
	metrics_observe(METRIC_REQUEST_SECONDS, "eob", 0.01);
	metrics_observe(METRIC_REQUEST_SECONDS, "eob", 0.3);
	metrics_observe(METRIC_REQUEST_SECONDS, "eob", 0.5);
	metrics_observe(METRIC_REQUEST_SECONDS, "eob", 500);
	metrics_observe(METRIC_REQUEST_SECONDS, "token", -1);   /* clamped to 0 */
	CHECK(metrics_get(METRIC_REQUEST_SECONDS, "eob") == 4);

	mc_section("the text format");
	CHECK(metrics_render(&b) == 0);
	CHECK(well_formed(b.data));
	CHECK_HAS(b.data, "# HELP bbingest_pages_total ");
	CHECK_HAS(b.data, "# TYPE bbingest_pages_total counter\n");
	CHECK_HAS(b.data, "# TYPE bbingest_participants gauge\n");
	CHECK_HAS(b.data, "# TYPE bbingest_request_duration_seconds histogram\n");
	CHECK_STR(line_of(b.data, "bbingest_pages_total{outcome=\"stored\"}"),
		  "bbingest_pages_total{outcome=\"stored\"} 5");
	CHECK_STR(line_of(b.data, "bbingest_pages_total{outcome=\"discarded\"}"),
		  "bbingest_pages_total{outcome=\"discarded\"} 0");
	CHECK_STR(line_of(b.data, "bbingest_errors_total{kind=\"other\"}"),
		  "bbingest_errors_total{kind=\"other\"} 2");
	CHECK(strstr(b.data, "secret-looking") == NULL);
	CHECK(strstr(b.data, "P0001") == NULL);
	CHECK_STR(line_of(b.data, "bbingest_participants{state=\"needs_reconsent\"}"),
		  "bbingest_participants{state=\"needs_reconsent\"} 0");
	CHECK_STR(line_of(b.data, "bbingest_table_rows{table=\"eob_item_adjudication\"}"),
		  "bbingest_table_rows{table=\"eob_item_adjudication\"} 0");
	CHECK_STR(line_of(b.data, "bbingest_refreshes_total{outcome=\"needs_reconsent\"}"),
		  "bbingest_refreshes_total{outcome=\"needs_reconsent\"} 0");
	CHECK_STR(line_of(b.data, "bbingest_inflight_transfers "), "bbingest_inflight_transfers 3");
	CHECK_STR(line_of(b.data, "bbingest_up{component=\"database\"}"),
		  "bbingest_up{component=\"database\"} 1");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"0.05\"}"),
		  "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"0.05\"} 1");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"0.25\"}"),
		  "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"0.25\"} 1");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"0.5\"}"),
		  "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"0.5\"} 3");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"120\"}"),
		  "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"120\"} 3");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"+Inf\"}"),
		  "bbingest_request_duration_seconds_bucket{endpoint=\"eob\",le=\"+Inf\"} 4");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_sum{endpoint=\"eob\"}"),
		  "bbingest_request_duration_seconds_sum{endpoint=\"eob\"} 500.81");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_count{endpoint=\"eob\"}"),
		  "bbingest_request_duration_seconds_count{endpoint=\"eob\"} 4");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_bucket{endpoint=\"token\",le=\"0.05\"}"),
		  "bbingest_request_duration_seconds_bucket{endpoint=\"token\",le=\"0.05\"} 1");
	CHECK_STR(line_of(b.data, "bbingest_request_duration_seconds_sum{endpoint=\"token\"}"),
		  "bbingest_request_duration_seconds_sum{endpoint=\"token\"} 0");

	mc_section("endpoint labels from request URLs");
	CHECK_STR(metrics_endpoint_of_url("https://sandbox.bluebutton.cms.gov/v2/o/token/"), "token");
	CHECK_STR(metrics_endpoint_of_url("https://h/v2/o/revoke/"), "revoke");
	CHECK_STR(metrics_endpoint_of_url("https://h/v2/o/introspect/"), "introspect");
	CHECK_STR(metrics_endpoint_of_url("https://h/v2/fhir/ExplanationOfBenefit/?patient=x&_count=50"), "eob");
	CHECK_STR(metrics_endpoint_of_url("https://h/v2/fhir/ExplanationOfBenefit?startIndex=50"), "eob");
	CHECK_STR(metrics_endpoint_of_url("https://h/v2/fhir/Patient/-20140000008325"), "patient");
	CHECK_STR(metrics_endpoint_of_url("https://h/v2/fhir/Coverage/?beneficiary=x"), "coverage");
	CHECK_STR(metrics_endpoint_of_url("https://h/v2/fhir/metadata?_format=json"), "metadata");
	CHECK_STR(metrics_endpoint_of_url("https://h/v2/fhir/Observation?x=/o/token/"), "other");
	CHECK_STR(metrics_endpoint_of_url("https://h/PatientX"), "other");
	CHECK_STR(metrics_endpoint_of_url("https://h"), "other");
	CHECK_STR(metrics_endpoint_of_url(NULL), "other");

	mc_section("reset and the buffer cap");
	metrics_reset();
	CHECK(metrics_get(METRIC_PAGES, "stored") == 0);
	CHECK(metrics_get(METRIC_REQUEST_SECONDS, "eob") == 0);
	sbuf_free(&b);
	sbuf_init(&b, 256);
	CHECK(metrics_render(&b) == -1);
	CHECK(b.len <= 256);
	sbuf_free(&b);
	return mc_done("metrics");
}
