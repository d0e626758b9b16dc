/* scheduler (token bucket, backoff) and syncurl (origin rule, search URLs). */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "minicheck.h"
#include "scheduler.h"
#include "syncurl.h"

static void test_bucket(void)
{
	tbucket b;
	int64_t t = 1000000;
	int taken = 0;

	mc_section("token bucket: a full burst, then the rate");
	tbucket_init(&b, 10.0, 5, t);
	while (tbucket_take(&b, t))
		taken++;
	CHECK(taken == 5);
	CHECK(tbucket_ready_at(&b, t) == t + 100000);      /* 1 token per 100 ms */
	CHECK(!tbucket_take(&b, t + 99999));
	CHECK(tbucket_take(&b, t + 100000));
	CHECK(!tbucket_take(&b, t + 100001));
	/* a long pause refills to the burst, not beyond */
	taken = 0;
	while (tbucket_take(&b, t + 60000000))
		taken++;
	CHECK(taken == 5);
	/* over 10 simulated seconds: burst + rate * 10 requests, no more */
	tbucket_init(&b, 10.0, 5, 0);
	taken = 0;
	for (int64_t now = 0; now <= 10000000; now += 1000)
		while (tbucket_take(&b, now))
			taken++;
	CHECK(taken == 5 + 100);

	mc_section("token bucket: rate 0 is unlimited; reload shrinks the bucket");
	tbucket_init(&b, 0, 1, 0);
	for (int i = 0; i < 1000; i++)
		CHECK(tbucket_take(&b, 0) || i < 0);
	tbucket_init(&b, 5.0, 50, 0);
	tbucket_set(&b, 5.0, 2);
	taken = 0;
	while (tbucket_take(&b, 0))
		taken++;
	CHECK(taken == 2);
}

static void test_backoff(void)
{
	mc_section("backoff: doubles from base, capped, equal jitter");
	CHECK(sched_backoff_s(1, 30, 3600, 1.0) == 30);
	CHECK(sched_backoff_s(1, 30, 3600, 0.0) == 15);
	CHECK(sched_backoff_s(2, 30, 3600, 1.0) == 60);
	CHECK(sched_backoff_s(3, 30, 3600, 1.0) == 120);
	CHECK(sched_backoff_s(20, 30, 3600, 1.0) == 3600);
	CHECK(sched_backoff_s(1000, 30, 3600, 0.0) == 1800);
	CHECK(sched_backoff_s(1, 1, 10, 0.0) == 1);          /* never below 1 s */
	CHECK(sched_backoff_s(0, 0, 0, 0.5) >= 1);
	for (int i = 0; i < 1000; i++) {
		double r = sched_random();

		CHECK(r >= 0.0 && r < 1.0);
		{
			int64_t d = sched_backoff_s(4, 30, 3600, r);

			CHECK(d >= 120 && d <= 240);
		}
	}
}

static void test_origin(void)
{
	const char *base = "https://sandbox.bluebutton.cms.gov";

	mc_section("origin rule: the token goes only to the API host");
	CHECK(syncurl_same_origin(base, "https://sandbox.bluebutton.cms.gov/v2/fhir/ExplanationOfBenefit?startIndex=50"));
	CHECK(syncurl_same_origin(base, "https://SANDBOX.bluebutton.cms.gov:443/v2/fhir/Coverage"));
	CHECK(syncurl_same_origin("https://127.0.0.1:8443/", "https://127.0.0.1:8443/v2/fhir/Patient?x=1"));
	CHECK(!syncurl_same_origin(base, "https://evil.example/v2/fhir/ExplanationOfBenefit?startIndex=50"));
	CHECK(!syncurl_same_origin(base, "http://sandbox.bluebutton.cms.gov/v2/fhir/ExplanationOfBenefit"));
	CHECK(!syncurl_same_origin(base, "https://sandbox.bluebutton.cms.gov:8443/v2/fhir/ExplanationOfBenefit"));
	CHECK(!syncurl_same_origin(base, "https://sandbox.bluebutton.cms.gov.evil.example/v2/fhir/x"));
	CHECK(!syncurl_same_origin(base, "https://user:pw@sandbox.bluebutton.cms.gov/v2/fhir/x"));
	CHECK(!syncurl_same_origin(base, "https://sandbox.bluebutton.cms.gov@evil.example/v2/fhir/x"));
	CHECK(!syncurl_same_origin(base, "ftp://sandbox.bluebutton.cms.gov/v2/fhir/x"));
	CHECK(!syncurl_same_origin(base, "/v2/fhir/ExplanationOfBenefit?startIndex=50"));
	CHECK(!syncurl_same_origin(base, "not a url"));
	CHECK(!syncurl_same_origin(base, NULL));
	CHECK(!syncurl_same_origin("https://127.0.0.1:8443", "https://127.0.0.1:8444/v2/fhir/x"));
	{
		char *o = syncurl_origin("https://evil.example/v2/fhir/x?patient=-1&secret=1");

		CHECK_STR(o, "https://evil.example:443");
		free(o);
	}
}

static void test_search_url(void)
{
	char *u;

	mc_section("search URLs: _count, claim types, _lastUpdated");
	u = syncurl_search("https://h.example/", "v2", "ExplanationOfBenefit", 50, CLAIM_ALL, NULL);
	CHECK_STR(u, "https://h.example/v2/fhir/ExplanationOfBenefit/?_count=50"
		  "&type=carrier,dme,hha,hospice,inpatient,outpatient,pde,snf");
	free(u);
	u = syncurl_search("https://h.example", "v2", "ExplanationOfBenefit", 10,
			   CLAIM_PDE | CLAIM_CARRIER, "2026-01-02T03:04:05.123000Z");
	CHECK_STR(u, "https://h.example/v2/fhir/ExplanationOfBenefit/?_count=10&type=carrier,pde"
		  "&_lastUpdated=gt2026-01-02T03:04:05.123000Z");
	free(u);
	u = syncurl_search("https://h.example", "v2", "Coverage", 50, CLAIM_ALL, NULL);
	CHECK_STR(u, "https://h.example/v2/fhir/Coverage/?_count=50");
	free(u);
	u = syncurl_search("https://h.example", "v2", "Patient", 50, CLAIM_ALL, "2026-01-02T03:04:05.000000Z");
	CHECK_STR(u, "https://h.example/v2/fhir/Patient/?_count=50&_lastUpdated=gt2026-01-02T03:04:05.000000Z");
	free(u);
}

int main(void)
{
	test_bucket();
	test_backoff();
	test_origin();
	test_search_url();
	return mc_done("sync_sched");
}
