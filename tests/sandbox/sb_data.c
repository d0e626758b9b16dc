/*
 * sb_data: deterministic synthetic beneficiaries, claims and resources.
 * See sb_data.h.  The element layout of each claim type follows the real
 * BFD v2 responses (CarrierClaimTransformerV2 & co.); codes, ids, dates and
 * amounts are new.
 */
#include "sb_data.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- utils */

#define BBV "https://bluebutton.cms.gov/resources/variables/"
#define BB_ADJ "https://bluebutton.cms.gov/resources/codesystem/adjudication"
#define BB_INFO "https://bluebutton.cms.gov/resources/codesystem/information"
#define BB_BAL "https://bluebutton.cms.gov/resources/codesystem/benefit-balance"
#define C4BB_CS "http://hl7.org/fhir/us/carin-bb/CodeSystem/"
#define C4BB_SD "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
#define HL7_CS "http://terminology.hl7.org/CodeSystem/"
#define HCPCS "https://bluebutton.cms.gov/resources/codesystem/hcpcs"

/* counter-based generator (splitmix64): cheap, and any (seed, i, k) gives the
 * same stream on every run */
typedef struct rng {
	uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	rng r = { a ^ (b * 0xD6E8FEB86659FD93ULL) };
	rnext(&r);
	return rnext(&r);
}

static uint32_t rbelow(rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnext(r) % n) : 0;
}

static int64_t rrange(rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rnext(r) % (uint64_t)(hi - lo + 1));
}

static bool rchance(rng *r, unsigned pct)
{
	return rbelow(r, 100) < pct;
}

static double runit(rng *r)
{
	return (double)(rnext(r) >> 11) / 9007199254740992.0;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(r, a) ((a)[rbelow((r), (uint32_t)NELEM(a))])

/* days since 1970-01-01 <-> civil date (proleptic Gregorian) */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

static void civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int32_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int yy = (int)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

void sb_format_day(int32_t day, char *buf, size_t len)
{
	int y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	snprintf(buf, len, "%04d-%02u-%02u", y % 10000, m % 13, d % 32);
}

void sb_format_instant(int64_t ms, char *buf, size_t len)
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t frac = ms - secs * 1000;
	int64_t day = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t sod = secs - day * 86400;
	int y;
	unsigned m, d;
	civil_from_days((int32_t)day, &y, &m, &d);
	snprintf(buf, len, "%04d-%02u-%02uT%02d:%02d:%02d.%03d+00:00", y % 10000, m % 13, d % 32,
	         (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool sb_parse_instant(const char *s, int64_t *ms)
{
	int y, mo, d, hh = 0, mi = 0, ss = 0, frac = 0, off = 0;
	size_t n = strlen(s);
	if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
		return false;
	const char *p = s + 10;
	if (*p == 'T') {
		if (strlen(p) < 9 || !digits(p + 1, 2, &hh) || p[3] != ':' || !digits(p + 4, 2, &mi) ||
		    p[6] != ':' || !digits(p + 7, 2, &ss) || hh > 23 || mi > 59 || ss > 60)
			return false;
		p += 9;
		if (*p == '.') {
			int nd = 0;
			p++;
			while (*p >= '0' && *p <= '9') {
				if (nd < 3)
					frac = frac * 10 + (*p - '0');
				nd++;
				p++;
			}
			if (nd == 0)
				return false;
			for (int i = nd; i < 3; i++)
				frac *= 10;
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-' || *p == ' ') {
			/* ' ' is a '+' that an URL decoder turned into a space */
			int oh, om;
			int sign = *p == '-' ? -1 : 1;
			if (strlen(p) < 6 || !digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
				return false;
			off = sign * (oh * 60 + om);
			p += 6;
		} else {
			return false;
		}
	}
	if (*p != '\0')
		return false;
	int64_t day = days_from_civil(y, (unsigned)mo, (unsigned)d);
	*ms = ((day * 86400 + hh * 3600 + mi * 60 + ss) - (int64_t)off * 60) * 1000 + frac;
	return true;
}

void sb_format_cents(int64_t cents, int style, char *buf, size_t len)
{
	const char *sign = cents < 0 ? "-" : "";
	uint64_t a = cents < 0 ? (uint64_t)(-(cents + 1)) + 1 : (uint64_t)cents;
	uint64_t units = a / 100, frac = a % 100;
	if (style == 1)
		snprintf(buf, len, "%s%" PRIu64 ".%02" PRIu64, sign, units, frac);
	else if (frac == 0)
		snprintf(buf, len, "%s%" PRIu64, sign, units);
	else if (frac % 10 == 0)
		snprintf(buf, len, "%s%" PRIu64 ".%" PRIu64, sign, units, frac / 10);
	else
		snprintf(buf, len, "%s%" PRIu64 ".%02" PRIu64, sign, units, frac);
}

/* ---------------------------------------------------------------- types */

static const struct {
	const char *name, *code, *nch, *nch_display, *claim_type, *profile, *part;
} TYPES[SB_NTYPES] = {
	[SB_CARRIER] = { "carrier", "CARRIER", "71",
		"Local carrier non-durable medical equipment, prosthetics, orthotics, and supplies (DMEPOS) claim",
		"professional", "Professional-NonClinician", "part-b" },
	[SB_DME] = { "dme", "DME", "82", "Regional carrier DMEPOS claim",
		"institutional", "Inpatient-Institutional", "part-b" },
	[SB_HHA] = { "hha", "HHA", "10", "HHA claim",
		"professional", "Professional-NonClinician", "part-b" },
	[SB_HOSPICE] = { "hospice", "HOSPICE", "50", "Hospice claim",
		"institutional", "Inpatient-Institutional", "part-a" },
	[SB_INPATIENT] = { "inpatient", "INPATIENT", "60", "Inpatient claim",
		"institutional", "Inpatient-Institutional", "part-a" },
	[SB_OUTPATIENT] = { "outpatient", "OUTPATIENT", "40", "Outpatient claim",
		"institutional", "Outpatient-Institutional", "part-b" },
	[SB_PDE] = { "pde", "PDE", NULL, NULL,
		"pharmacy", "Pharmacy", "part-d" },
	[SB_SNF] = { "snf", "SNF", "20", "Non swing bed Skilled Nursing Facility (SNF) claim",
		"institutional", "Inpatient-Institutional", "part-a" },
};

const char *sb_type_name(sb_claim_type t)
{
	return TYPES[t].name;
}

const char *sb_type_code(sb_claim_type t)
{
	return TYPES[t].code;
}

int sb_type_from_name(const char *s, size_t len)
{
	for (int t = 0; t < SB_NTYPES; t++) {
		if (strlen(TYPES[t].name) == len && strncasecmp(s, TYPES[t].name, len) == 0)
			return t;
	}
	return -1;
}

static bool institutional(int t)
{
	return t == SB_HHA || t == SB_HOSPICE || t == SB_INPATIENT || t == SB_OUTPATIENT || t == SB_SNF;
}

/* ---------------------------------------------------------------- world */

typedef struct added {
	size_t n, cap;
	sb_claim *c;
} added;

struct sb_world {
	uint64_t seed;
	uint32_t n;
	sb_profile profile;
	pthread_mutex_t mu;
	added **added;          /* per beneficiary, NULL until claims are added */
	int64_t last_load_ms;
	int64_t base_load_ms;
};

/* the base data was "loaded" at 2025-06-30T04:00:00Z; BFD's fallback
 * lastUpdated for records loaded before Feb 2020 is 2020-01-01T00:00:00Z */
#define FALLBACK_MS INT64_C(1577836800000)

sb_world *sb_world_new(uint64_t seed, uint32_t beneficiaries, sb_profile profile)
{
	sb_world *w = xcalloc(1, sizeof(*w));
	w->seed = seed;
	w->n = beneficiaries;
	w->profile = profile;
	pthread_mutex_init(&w->mu, NULL);
	w->added = xcalloc(beneficiaries ? beneficiaries : 1, sizeof(*w->added));
	w->base_load_ms = (int64_t)days_from_civil(2025, 6, 30) * 86400000 + 4 * 3600000;
	w->last_load_ms = w->base_load_ms;
	return w;
}

void sb_world_free(sb_world *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->n; i++) {
		if (w->added[i]) {
			free(w->added[i]->c);
			free(w->added[i]);
		}
	}
	free(w->added);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

uint32_t sb_world_size(const sb_world *w)
{
	return w->n;
}

void sb_username(uint32_t idx, char *buf, size_t len)
{
	snprintf(buf, len, "BBUser%05" PRIu32, idx);
}

void sb_patient_id(uint32_t idx, char *buf, size_t len)
{
	snprintf(buf, len, "-2014%010" PRIu32, idx + 1);
}

static int64_t parse_index(const char *s, size_t max_digits)
{
	size_t n = strlen(s);
	if (n == 0 || n > max_digits)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int64_t sb_user_index(const sb_world *w, const char *username)
{
	if (strncmp(username, "BBUser", 6) != 0 || strlen(username) < 11)
		return -1;
	int64_t v = parse_index(username + 6, 9);
	if (v < 0 || v >= w->n)
		return -1;
	char back[32];
	sb_username((uint32_t)v, back, sizeof(back));
	return strcmp(back, username) == 0 ? v : -1;
}

int64_t sb_patient_index(const sb_world *w, const char *patient_id)
{
	if (strncmp(patient_id, "-2014", 5) != 0 || strlen(patient_id) != 15)
		return -1;
	int64_t v = parse_index(patient_id + 5, 10);
	if (v < 1 || v > w->n)
		return -1;
	return v - 1;
}

static uint64_t bene_seed(const sb_world *w, uint32_t idx)
{
	return mix(w->seed, (uint64_t)idx + 1);
}

static uint32_t base_count(const sb_world *w, uint32_t idx)
{
	rng r = { mix(bene_seed(w, idx), 0xC0FFEE) };
	if (w->profile == SB_PROFILE_HEAVY)
		return 2000 + rbelow(&r, 3001);
	/* 5..80, median about 32 (like the public sandbox's synthetic users) */
	return 5 + (uint32_t)(75.0 * pow(runit(&r), 1.45));
}

static int pick_type(rng *r)
{
	uint32_t x = rbelow(r, 100);
	if (x < 40) return SB_CARRIER;
	if (x < 70) return SB_PDE;
	if (x < 80) return SB_OUTPATIENT;
	if (x < 86) return SB_DME;
	if (x < 90) return SB_INPATIENT;
	if (x < 93) return SB_SNF;
	if (x < 97) return SB_HHA;
	return SB_HOSPICE;
}

/* fill in everything but num and last_updated from a claim's own stream */
static void claim_body_header(rng *r, sb_claim *c)
{
	c->type = (uint8_t)pick_type(r);
	c->thru_day = days_from_civil(2016, 1, 1) + (int32_t)rbelow(r, 3450);
	int32_t span = 0;
	switch (c->type) {
	case SB_CARRIER: span = rchance(r, 70) ? 0 : (int32_t)rbelow(r, 4); break;
	case SB_OUTPATIENT: span = (int32_t)rbelow(r, 3); break;
	case SB_INPATIENT: span = (int32_t)rrange(r, 1, 14); break;
	case SB_SNF: span = (int32_t)rrange(r, 5, 60); break;
	case SB_HHA: span = (int32_t)rrange(r, 10, 60); break;
	case SB_HOSPICE: span = (int32_t)rrange(r, 15, 90); break;
	default: break;
	}
	c->from_day = c->thru_day - span;
	c->cancelled = rchance(r, 4);
	c->body_seed = rnext(r);
}

static void base_claim(const sb_world *w, uint32_t idx, uint32_t k, sb_claim *c)
{
	rng r = { mix(bene_seed(w, idx), (uint64_t)k + 1) };
	claim_body_header(&r, c);
	c->num = UINT64_C(100000000000000) + (uint64_t)idx * UINT64_C(100000000) +
	         (uint64_t)k * 1000 + rbelow(&r, 500);
	if (rchance(&r, 6)) {
		c->last_updated_ms = FALLBACK_MS;
	} else {
		int64_t lo = ((int64_t)days_from_civil(2020, 2, 12)) * 86400000;
		int64_t processed = ((int64_t)c->thru_day + 20) * 86400000;
		if (processed > lo)
			lo = processed;
		if (lo > w->base_load_ms - 86400000)
			lo = w->base_load_ms - 86400000;
		c->last_updated_ms = rrange(&r, lo, w->base_load_ms - 1000);
	}
}

static int claim_cmp(const void *a, const void *b)
{
	const sb_claim *x = a, *y = b;
	/* ids have the same width, so numeric order is BFD's string order */
	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	return strcmp(TYPES[x->type].code, TYPES[y->type].code);
}

size_t sb_claims(sb_world *w, uint32_t idx, sb_claim **out)
{
	uint32_t nb = base_count(w, idx);
	pthread_mutex_lock(&w->mu);
	size_t na = w->added[idx] ? w->added[idx]->n : 0;
	sb_claim *c = xreallocarray(NULL, nb + na + 1, sizeof(*c));
	if (na)
		memcpy(c + nb, w->added[idx]->c, na * sizeof(*c));
	pthread_mutex_unlock(&w->mu);
	for (uint32_t k = 0; k < nb; k++)
		base_claim(w, idx, k, &c[k]);
	qsort(c, nb + na, sizeof(*c), claim_cmp);
	*out = c;
	return nb + na;
}

size_t sb_add_claims(sb_world *w, uint32_t idx, unsigned n)
{
	uint32_t nb = base_count(w, idx);
	int64_t now = now_wall_us() / 1000;
	pthread_mutex_lock(&w->mu);
	added *a = w->added[idx];
	if (!a)
		a = w->added[idx] = xcalloc(1, sizeof(*a));
	for (unsigned i = 0; i < n; i++) {
		if (a->n == a->cap) {
			a->cap = a->cap ? a->cap * 2 : 8;
			a->c = xreallocarray(a->c, a->cap, sizeof(*a->c));
		}
		size_t j = a->n;
		rng r = { mix(mix(bene_seed(w, idx), 0xADDED), (uint64_t)j + 1) };
		sb_claim *c = &a->c[j];
		claim_body_header(&r, c);
		/* land between existing claims (ids ending in 500..999 are free) */
		uint64_t slot = j < 500 ? (uint64_t)rbelow(&r, nb + 1) * 1000 + 500 + j
		                        : ((uint64_t)nb + 1 + j) * 1000 + 999;
		c->num = UINT64_C(100000000000000) + (uint64_t)idx * UINT64_C(100000000) + slot;
		int64_t t = now > w->last_load_ms ? now : w->last_load_ms + 1;
		c->last_updated_ms = t;
		w->last_load_ms = t;
		a->n++;
	}
	size_t total = nb + a->n;
	pthread_mutex_unlock(&w->mu);
	return total;
}

int64_t sb_last_load_ms(sb_world *w)
{
	pthread_mutex_lock(&w->mu);
	int64_t v = w->last_load_ms;
	pthread_mutex_unlock(&w->mu);
	return v;
}

/* ---------------------------------------------------------------- JSON */

static void js(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void jkv(yajl_gen g, const char *k, const char *v)
{
	js(g, k);
	js(g, v);
}

static void jki(yajl_gen g, const char *k, long long v)
{
	js(g, k);
	yajl_gen_integer(g, v);
}

#define JO(g) yajl_gen_map_open(g)
#define JC(g) yajl_gen_map_close(g)
#define JA(g) yajl_gen_array_open(g)
#define JE(g) yajl_gen_array_close(g)

static void coding(yajl_gen g, const char *sys, const char *code, const char *disp)
{
	JO(g);
	jkv(g, "system", sys);
	jkv(g, "code", code);
	if (disp)
		jkv(g, "display", disp);
	JC(g);
}

/* {"coding":[{...}]} */
static void cc1(yajl_gen g, const char *sys, const char *code, const char *disp)
{
	JO(g);
	js(g, "coding");
	JA(g);
	coding(g, sys, code, disp);
	JE(g);
	JC(g);
}

static void day_kv(yajl_gen g, const char *k, int32_t day)
{
	char b[16];
	sb_format_day(day, b, sizeof(b));
	jkv(g, k, b);
}

static void period(yajl_gen g, const char *k, int32_t from, int32_t thru)
{
	js(g, k);
	JO(g);
	day_kv(g, "start", from);
	day_kv(g, "end", thru);
	JC(g);
}

typedef struct eob_ctx {
	yajl_gen g;
	rng r;
	sb_truth *t;
	const sb_claim *c;
	char pid[32];
	uint32_t idx;
} eob_ctx;

static void amount_value(eob_ctx *x, int64_t cents)
{
	char b[40];
	sb_format_cents(cents, rchance(&x->r, 30) ? 1 : 0, b, sizeof(b));
	js(x->g, "value");
	yajl_gen_number(x->g, b, strlen(b));
}

static void money(eob_ctx *x, const char *key, int64_t cents)
{
	js(x->g, key);
	JO(x->g);
	amount_value(x, cents);
	jkv(x->g, "currency", "USD");
	JC(x->g);
}

static void ext_open(yajl_gen g, const char *var)
{
	char url[160];
	snprintf(url, sizeof(url), BBV "%s", var);
	JO(g);
	jkv(g, "url", url);
}

static void ext_coding(eob_ctx *x, const char *var, const char *code, const char *disp)
{
	char sys[160];
	snprintf(sys, sizeof(sys), BBV "%s", var);
	ext_open(x->g, var);
	js(x->g, "valueCoding");
	coding(x->g, sys, code, disp);
	JC(x->g);
}

static void ext_ident(eob_ctx *x, const char *var, const char *value)
{
	char sys[160];
	snprintf(sys, sizeof(sys), BBV "%s", var);
	ext_open(x->g, var);
	js(x->g, "valueIdentifier");
	JO(x->g);
	jkv(x->g, "system", sys);
	jkv(x->g, "value", value);
	JC(x->g);
	JC(x->g);
}

static void ext_money(eob_ctx *x, const char *var, int64_t cents)
{
	ext_open(x->g, var);
	money(x, "valueMoney", cents);
	JC(x->g);
}

static void ext_qty(eob_ctx *x, const char *var, long long v)
{
	ext_open(x->g, var);
	js(x->g, "valueQuantity");
	JO(x->g);
	jki(x->g, "value", v);
	JC(x->g);
	JC(x->g);
}

static void ext_date(eob_ctx *x, const char *var, int32_t day)
{
	ext_open(x->g, var);
	day_kv(x->g, "valueDate", day);
	JC(x->g);
}

static void npi(rng *r, char *b, size_t len)
{
	snprintf(b, len, "1%09" PRIu32, rbelow(r, 1000000000));
}

static void digits_str(rng *r, int n, char *b)
{
	for (int i = 0; i < n; i++)
		b[i] = (char)('0' + rbelow(r, 10));
	b[n] = '\0';
}

/* ---------------------------------------------------------------- catalogs */

typedef struct code3 {
	const char *code, *display;
} code3;

static const code3 ICD10[] = {
	{ "E119", "TYPE 2 DIABETES MELLITUS WITHOUT COMPLICATIONS" },
	{ "I10", "ESSENTIAL (PRIMARY) HYPERTENSION" },
	{ "J449", "CHRONIC OBSTRUCTIVE PULMONARY DISEASE, UNSPECIFIED" },
	{ "M5450", "LOW BACK PAIN, UNSPECIFIED" },
	{ "N183", "CHRONIC KIDNEY DISEASE, STAGE 3 (MODERATE)" },
	{ "E785", "HYPERLIPIDEMIA, UNSPECIFIED" },
	{ "I2510", "ATHSCL HEART DISEASE OF NATIVE CORONARY ARTERY W/O ANG PCTRS" },
	{ "F329", "MAJOR DEPRESSIVE DISORDER, SINGLE EPISODE, UNSPECIFIED" },
	{ "K219", "GASTRO-ESOPHAGEAL REFLUX DISEASE WITHOUT ESOPHAGITIS" },
	{ "R079", "CHEST PAIN, UNSPECIFIED" },
	{ "J189", "PNEUMONIA, UNSPECIFIED ORGANISM" },
	{ "I4891", "UNSPECIFIED ATRIAL FIBRILLATION" },
	{ "G4733", "OBSTRUCTIVE SLEEP APNEA (ADULT) (PEDIATRIC)" },
	{ "M1711", "UNILATERAL PRIMARY OSTEOARTHRITIS, RIGHT KNEE" },
	{ "H259", "UNSPECIFIED AGE-RELATED CATARACT" },
	{ "N390", "URINARY TRACT INFECTION, SITE NOT SPECIFIED" },
	{ "I509", "HEART FAILURE, UNSPECIFIED" },
	{ "Z0000", "ENCNTR FOR GENERAL ADULT MEDICAL EXAM W/O ABNORMAL FINDINGS" },
	{ "R739", "HYPERGLYCEMIA, UNSPECIFIED" },
	{ "S72001A", "FRACTURE OF UNSP PART OF NECK OF RIGHT FEMUR, INIT" },
};

static const code3 ECODES[] = {
	{ "W1830XA", "FALL ON SAME LEVEL, UNSPECIFIED, INITIAL ENCOUNTER" },
	{ "V4352XA", "CAR DRIVER INJURED IN COLLISION W CAR IN TRAF, INIT" },
};

static const code3 PCS[] = {
	{ "0SRC0J9", "REPLACEMENT OF R KNEE JOINT WITH SYNTH SUB, CEMENT, OPEN APPROACH" },
	{ "02703DZ", "DILATION OF CORONARY ARTERY, ONE ARTERY WITH INTRALUMINAL DEVICE, PERC" },
	{ "0DJ08ZZ", "INSPECTION OF UPPER INTESTINAL TRACT, ENDO" },
	{ "BW28ZZZ", "COMPUTERIZED TOMOGRAPHY (CT SCAN) OF ABDOMEN AND PELVIS" },
	{ "5A1955Z", "RESPIRATORY VENTILATION, GREATER THAN 96 CONSECUTIVE HOURS" },
	{ "3E0234Z", "INTRODUCTION OF SERUM, TOXOID AND VACCINE INTO MUSCLE, PERC" },
};

static const char *const HCPCS_PRO[] = {
	"99213", "99214", "99215", "99203", "93000", "80053", "85025", "36415",
	"71046", "G0439", "97110", "99232", "88305", "77067", "G0008", "J1100",
};
static const char *const HCPCS_DME[] = { "E0601", "A4253", "E1390", "K0001", "A4259", "E0114", "L3908" };
static const char *const MODIFIERS[] = { "25", "59", "LT", "RT", "GT", "KX", "NU", "26" };

static const code3 REVENUE[] = {
	{ "0120", "Room & Board - Semi-private Two Beds (Medical or General)" },
	{ "0250", "Pharmacy - General Classification" },
	{ "0300", "Laboratory - General Classification" },
	{ "0320", "Radiology Diagnostic - General Classification" },
	{ "0450", "Emergency Room - General Classification" },
	{ "0636", "Drugs Requiring Detailed Coding" },
	{ "0730", "EKG/ECG - General Classification" },
	{ "0420", "Physical Therapy - General Classification" },
	{ "0551", "Skilled Nursing - Visit Charge" },
	{ "0651", "Hospice Services - Routine Home Care" },
	{ "0023", "Home Health services paid under PPS" },
};

static const code3 DRUGS[] = {
	{ "00093505601", "METFORMIN HCL 500 MG TABLET" },
	{ "00378018001", "LISINOPRIL 10 MG TABLET" },
	{ "00071015523", "ATORVASTATIN CALCIUM 20 MG TABLET" },
	{ "00172375810", "AMLODIPINE BESYLATE 5 MG TABLET" },
	{ "68180051301", "LEVOTHYROXINE SODIUM 50 MCG TABLET" },
	{ "00591040401", "OMEPRAZOLE 20 MG CAPSULE DR" },
	{ "00009515701", "APIXABAN 5 MG TABLET" },
	{ "00169413001", "INSULIN GLARGINE 100 UNIT/ML PEN" },
	{ "62332003131", "GABAPENTIN 300 MG CAPSULE" },
	{ "50090285400", "SERTRALINE HCL 50 MG TABLET" },
};

static const char *const STATES[] = {
	"AL", "AZ", "CA", "CO", "FL", "GA", "IA", "IL", "KY", "MA", "MD", "MI",
	"MN", "MO", "NC", "NY", "OH", "PA", "TN", "TX", "UT", "VA", "WA", "WI",
};

static const char *const ORGS[] = {
	"RIVERSIDE GENERAL HOSPITAL", "ST. ELSEWHERE MEDICAL CENTER", "LAKEVIEW SKILLED NURSING",
	"COMMUNITY HOME HEALTH SERVICES", "SUNRISE HOSPICE CARE", "MERCY REGIONAL HOSPITAL",
};

static const char *const PROVIDERS[] = {
	"DR. ANNA MARTINEZ MD", "DR. JAMES OKAFOR MD", "DR. LINDA CHEN DO", "DR. ROBERT NILSSON MD",
};

/* ---------------------------------------------------------------- line amounts */

enum {
	F_SUB,      /* submitted / total charge */
	F_ALW,      /* allowed */
	F_DED,      /* deductible */
	F_COI,      /* coinsurance */
	F_PRV,      /* paid to provider */
	F_BEN,      /* paid to beneficiary */
	F_NCH,      /* Medicare payment (provider + beneficiary) */
	F_NCV,      /* noncovered */
	F_RATE,     /* rate */
	F_MSP,      /* primary payer paid */
	F_PTR,      /* patient responsibility */
	F_ZERO,
	F_N
};

typedef struct line_amts {
	int64_t v[F_N];
} line_amts;

static void line_amounts(eob_ctx *x, int64_t lo, int64_t hi, int64_t units, line_amts *a)
{
	memset(a, 0, sizeof(*a));
	int64_t s = rrange(&x->r, lo, hi);
	a->v[F_SUB] = s;
	a->v[F_ALW] = s * rrange(&x->r, 35, 90) / 100;
	a->v[F_NCV] = s - a->v[F_ALW];
	a->v[F_DED] = rchance(&x->r, 30) ? rrange(&x->r, 0, a->v[F_ALW] / 3) : 0;
	a->v[F_COI] = (a->v[F_ALW] - a->v[F_DED]) / 5;
	int64_t pay = a->v[F_ALW] - a->v[F_DED] - a->v[F_COI];
	a->v[F_BEN] = rchance(&x->r, 10) ? rrange(&x->r, 0, pay / 4) : 0;
	a->v[F_PRV] = pay - a->v[F_BEN];
	a->v[F_NCH] = pay;
	a->v[F_RATE] = rchance(&x->r, 50) ? s / (units > 0 ? units : 1) : 0;
	a->v[F_MSP] = rchance(&x->r, 5) ? rrange(&x->r, 0, a->v[F_ALW] / 10) : 0;
	a->v[F_PTR] = a->v[F_DED] + a->v[F_COI];
}

enum {
	C_BENEFIT, C_DEDUCTIBLE, C_SUBMITTED, C_ELIGIBLE,
	C_PAIDTOPATIENT, C_PAIDTOPROVIDER, C_PRIORPAYERPAID, C_COINSURANCE,
	C_NONCOVERED, C_PAIDBYPATIENT, C_DISCOUNT, C_DRUGCOST, C_DENIAL,
};

static const struct {
	const char *sys, *code, *display;
} CATS[] = {
	[C_BENEFIT] = { HL7_CS "adjudication", "benefit", "Benefit Amount" },
	[C_DEDUCTIBLE] = { HL7_CS "adjudication", "deductible", "Deductible" },
	[C_SUBMITTED] = { HL7_CS "adjudication", "submitted", "Submitted Amount" },
	[C_ELIGIBLE] = { HL7_CS "adjudication", "eligible", "Eligible Amount" },
	[C_PAIDTOPATIENT] = { C4BB_CS "C4BBAdjudication", "paidtopatient", "Paid to patient" },
	[C_PAIDTOPROVIDER] = { C4BB_CS "C4BBAdjudication", "paidtoprovider", "Paid to provider" },
	[C_PRIORPAYERPAID] = { C4BB_CS "C4BBAdjudication", "priorpayerpaid", "Prior payer paid" },
	[C_COINSURANCE] = { C4BB_CS "C4BBAdjudication", "coinsurance", "Co-insurance" },
	[C_NONCOVERED] = { C4BB_CS "C4BBAdjudication", "noncovered", "Noncovered" },
	[C_PAIDBYPATIENT] = { C4BB_CS "C4BBAdjudication", "paidbypatient", "Paid by patient" },
	[C_DISCOUNT] = { C4BB_CS "C4BBAdjudication", "discount", "Discount" },
	[C_DRUGCOST] = { C4BB_CS "C4BBAdjudication", "drugcost", "Drug Cost" },
	[C_DENIAL] = { C4BB_CS "C4BBAdjudicationDiscriminator", "denialreason", "Denial Reason" },
};

typedef struct adj_spec {
	uint8_t cat;
	uint8_t field;
	const char *var, *display;
} adj_spec;

static const adj_spec ADJ_CARRIER[] = {
	{ C_BENEFIT, F_NCH, "line_nch_pmt_amt", "Line NCH Medicare Payment Amount" },
	{ C_PAIDTOPATIENT, F_BEN, "line_bene_pmt_amt", "Line Payment Amount to Beneficiary" },
	{ C_PAIDTOPROVIDER, F_PRV, "line_prvdr_pmt_amt", "Line Provider Payment Amount" },
	{ C_DEDUCTIBLE, F_DED, "line_bene_ptb_ddctbl_amt", "Line Beneficiary Part B Deductible Amount" },
	{ C_PRIORPAYERPAID, F_MSP, "line_bene_prmry_pyr_pd_amt", "Line Primary Payer (if not Medicare) Paid Amount" },
	{ C_COINSURANCE, F_COI, "line_coinsrnc_amt", "Line Beneficiary Coinsurance Amount" },
	{ C_SUBMITTED, F_SUB, "line_sbmtd_chrg_amt", "Line Submitted Charge Amount" },
	{ C_ELIGIBLE, F_ALW, "line_alowd_chrg_amt", "Line Allowed Charge Amount" },
};

static const adj_spec ADJ_DME[] = {
	{ C_ELIGIBLE, F_ALW, "line_prmry_alowd_chrg_amt", "Line Primary Payer Allowed Charge Amount" },
	{ C_SUBMITTED, F_ALW, "line_dme_prchs_price_amt", "Line DME Purchase Price Amount" },
	{ C_BENEFIT, F_NCH, "line_nch_pmt_amt", "Line NCH Medicare Payment Amount" },
	{ C_PAIDTOPATIENT, F_BEN, "line_bene_pmt_amt", "Line Payment Amount to Beneficiary" },
	{ C_PAIDTOPROVIDER, F_PRV, "line_prvdr_pmt_amt", "Line Provider Payment Amount" },
	{ C_DEDUCTIBLE, F_DED, "line_bene_ptb_ddctbl_amt", "Line Beneficiary Part B Deductible Amount" },
	{ C_PRIORPAYERPAID, F_MSP, "line_bene_prmry_pyr_pd_amt", "Line Primary Payer (if not Medicare) Paid Amount" },
	{ C_COINSURANCE, F_COI, "line_coinsrnc_amt", "Line Beneficiary Coinsurance Amount" },
	{ C_SUBMITTED, F_SUB, "line_sbmtd_chrg_amt", "Line Submitted Charge Amount" },
	{ C_ELIGIBLE, F_ALW, "line_alowd_chrg_amt", "Line Allowed Charge Amount" },
};

static const adj_spec ADJ_OUTPATIENT[] = {
	{ C_SUBMITTED, F_RATE, "rev_cntr_rate_amt", "Revenue Center Rate Amount" },
	{ C_SUBMITTED, F_SUB, "rev_cntr_tot_chrg_amt", "Revenue Center Total Charge Amount" },
	{ C_NONCOVERED, F_NCV, "rev_cntr_ncvrd_chrg_amt", "Revenue Center Non-Covered Charge Amount" },
	{ C_DEDUCTIBLE, F_ZERO, "rev_cntr_blood_ddctbl_amt", "Revenue Center Blood Deductible Amount" },
	{ C_DEDUCTIBLE, F_DED, "rev_cntr_cash_ddctbl_amt", "Revenue Center Cash Deductible Amount" },
	{ C_COINSURANCE, F_COI, "rev_cntr_coinsrnc_wge_adjstd_c", "Revenue Center Coinsurance/Wage Adjusted Coinsurance Amount" },
	{ C_COINSURANCE, F_ZERO, "rev_cntr_rdcd_coinsrnc_amt", "Revenue Center Reduced Coinsurance Amount" },
	{ C_PRIORPAYERPAID, F_MSP, "rev_cntr_1st_msp_pd_amt", "Revenue Center 1st Medicare Secondary Payer (MSP) Paid Amount" },
	{ C_PRIORPAYERPAID, F_ZERO, "rev_cntr_2nd_msp_pd_amt", "Revenue Center 2nd Medicare Secondary Payer (MSP) Paid Amount" },
	{ C_PAIDTOPROVIDER, F_PRV, "rev_cntr_prvdr_pmt_amt", "Revenue Center (Medicare) Provider Payment Amount" },
	{ C_PAIDTOPATIENT, F_BEN, "rev_cntr_bene_pmt_amt", "Revenue Center Payment Amount to Beneficiary" },
	{ C_PAIDBYPATIENT, F_PTR, "rev_cntr_ptnt_rspnsblty_pmt", "Revenue Center Patient Responsibility Payment Amount" },
	{ C_SUBMITTED, F_NCH, "rev_cntr_pmt_amt_amt", "Revenue Center (Medicare) Payment Amount" },
};

static const adj_spec ADJ_INPATIENT[] = {
	{ C_SUBMITTED, F_RATE, "rev_cntr_rate_amt", "Revenue Center Rate Amount" },
	{ C_SUBMITTED, F_SUB, "rev_cntr_tot_chrg_amt", "Revenue Center Total Charge Amount" },
	{ C_NONCOVERED, F_NCV, "rev_cntr_ncvrd_chrg_amt", "Revenue Center Non-Covered Charge Amount" },
};

static const adj_spec ADJ_HHA[] = {
	{ C_SUBMITTED, F_RATE, "rev_cntr_rate_amt", "Revenue Center Rate Amount" },
	{ C_SUBMITTED, F_SUB, "rev_cntr_tot_chrg_amt", "Revenue Center Total Charge Amount" },
	{ C_NONCOVERED, F_NCV, "rev_cntr_ncvrd_chrg_amt", "Revenue Center Non-Covered Charge Amount" },
	{ C_SUBMITTED, F_NCH, "rev_cntr_pmt_amt_amt", "Revenue Center (Medicare) Payment Amount" },
};

static const adj_spec ADJ_HOSPICE[] = {
	{ C_SUBMITTED, F_RATE, "rev_cntr_rate_amt", "Revenue Center Rate Amount" },
	{ C_SUBMITTED, F_SUB, "rev_cntr_tot_chrg_amt", "Revenue Center Total Charge Amount" },
	{ C_NONCOVERED, F_NCV, "rev_cntr_ncvrd_chrg_amt", "Revenue Center Non-Covered Charge Amount" },
	{ C_PAIDTOPROVIDER, F_PRV, "rev_cntr_prvdr_pmt_amt", "Revenue Center (Medicare) Provider Payment Amount" },
	{ C_PAIDTOPATIENT, F_BEN, "rev_cntr_bene_pmt_amt", "Revenue Center Payment Amount to Beneficiary" },
	{ C_SUBMITTED, F_NCH, "rev_cntr_pmt_amt_amt", "Revenue Center (Medicare) Payment Amount" },
};

static void adj_category(eob_ctx *x, int cat, const char *var, const char *display)
{
	yajl_gen g = x->g;
	js(g, "category");
	JO(g);
	js(g, "coding");
	JA(g);
	coding(g, CATS[cat].sys, CATS[cat].code, CATS[cat].display);
	if (var) {
		char code[160];
		snprintf(code, sizeof(code), BBV "%s", var);
		coding(g, BB_ADJ, code, display);
	}
	JE(g);
	JC(g);
}

static void adj_amount(eob_ctx *x, int cat, const char *var, const char *display, int64_t cents)
{
	JO(x->g);
	adj_category(x, cat, var, display);
	money(x, "amount", cents);
	JC(x->g);
	if (x->t) {
		x->t->adjudications++;
		x->t->adjudication_amounts++;
		x->t->adjudication_cents += cents;
	}
}

static void adj_denial(eob_ctx *x, const char *reason_var, const char *code, const char *disp)
{
	char sys[160];
	snprintf(sys, sizeof(sys), BBV "%s", reason_var);
	JO(x->g);
	adj_category(x, C_DENIAL, NULL, NULL);
	js(x->g, "reason");
	cc1(x->g, sys, code, disp);
	JC(x->g);
	if (x->t)
		x->t->adjudications++;
}

static void adj_list(eob_ctx *x, const adj_spec *s, size_t n, const line_amts *a)
{
	for (size_t i = 0; i < n; i++)
		adj_amount(x, s[i].cat, s[i].var, s[i].display, a->v[s[i].field]);
}

/* ---------------------------------------------------------------- EOB parts */

static void total_entry(eob_ctx *x, int cat, const char *var, const char *display, int64_t cents)
{
	JO(x->g);
	adj_category(x, cat, var, display);
	money(x, "amount", cents);
	JC(x->g);
	if (x->t) {
		x->t->totals++;
		x->t->total_cents += cents;
	}
}

static void fin_money(eob_ctx *x, const char *var, const char *display, int64_t cents)
{
	char code[160];
	snprintf(code, sizeof(code), BBV "%s", var);
	JO(x->g);
	js(x->g, "type");
	cc1(x->g, BB_BAL, code, display);
	money(x, "usedMoney", cents);
	JC(x->g);
	if (x->t) {
		x->t->benefit_financial++;
		x->t->benefit_money++;
		x->t->benefit_money_cents += cents;
	}
}

static void fin_int(eob_ctx *x, const char *var, const char *display, long long v)
{
	char code[160];
	snprintf(code, sizeof(code), BBV "%s", var);
	JO(x->g);
	js(x->g, "type");
	cc1(x->g, BB_BAL, code, display);
	jki(x->g, "usedUnsignedInt", v);
	JC(x->g);
	if (x->t)
		x->t->benefit_financial++;
}

static void care_team(eob_ctx *x, int seq, const char *role_sys, const char *role, const char *role_disp,
                      bool qualification, const char *display)
{
	yajl_gen g = x->g;
	char id[16];
	npi(&x->r, id, sizeof(id));
	JO(g);
	jki(g, "sequence", seq);
	js(g, "provider");
	JO(g);
	js(g, "identifier");
	JO(g);
	js(g, "type");
	cc1(g, C4BB_CS "C4BBIdentifierType", "npi", "National Provider Identifier");
	jkv(g, "value", id);
	JC(g);
	if (display)
		jkv(g, "display", display);
	JC(g);
	if (strcmp(role, "performing") == 0) {
		js(g, "responsible");
		yajl_gen_bool(g, 1);
	}
	js(g, "role");
	cc1(g, role_sys, role, role_disp);
	if (qualification) {
		static const code3 TAX[] = {
			{ "207R00000X", "Internal Medicine Physician" },
			{ "207Q00000X", "Family Medicine Physician" },
			{ "208600000X", "Surgery Physician" },
			{ "207RC0000X", "Cardiovascular Disease Physician" },
		};
		const code3 *t = &PICK(&x->r, TAX);
		js(g, "qualification");
		cc1(g, "http://nucc.org/provider-taxonomy", t->code, t->display);
	}
	JC(g);
	if (x->t)
		x->t->care_team++;
}

static void si_begin(eob_ctx *x, int seq, const char *c4_sys, const char *c4_code, const char *c4_disp,
                     const char *var, const char *var_disp)
{
	yajl_gen g = x->g;
	JO(g);
	jki(g, "sequence", seq);
	js(g, "category");
	JO(g);
	js(g, "coding");
	JA(g);
	coding(g, c4_sys, c4_code, c4_disp);
	if (var) {
		char code[160];
		snprintf(code, sizeof(code), BBV "%s", var);
		coding(g, BB_INFO, code, var_disp);
	}
	JE(g);
	JC(g);
	if (x->t)
		x->t->supporting_info++;
}

/* an "info" entry whose value is a code of the same CCW variable */
static void si_info_code(eob_ctx *x, int seq, const char *var, const char *var_disp, const char *code,
                         const char *code_disp)
{
	char sys[160];
	snprintf(sys, sizeof(sys), BBV "%s", var);
	si_begin(x, seq, HL7_CS "claiminformationcategory", "info", "Information", var, var_disp);
	js(x->g, "code");
	cc1(x->g, sys, code, code_disp);
	JC(x->g);
}

static void si_received(eob_ctx *x, int seq)
{
	si_begin(x, seq, C4BB_CS "C4BBSupportingInfoType", "clmrecvddate", "Claim Received Date",
	         "nch_wkly_proc_dt", "NCH Weekly Claim Processing Date");
	day_kv(x->g, "timingDate", x->c->thru_day + 7 + (int32_t)rbelow(&x->r, 14));
	JC(x->g);
}

static void diagnosis(eob_ctx *x, int seq, const code3 *dx, const char *type_sys, const char *type,
                      const char *type_disp, int poa)
{
	yajl_gen g = x->g;
	JO(g);
	if (poa > 0) {
		char var[32];
		snprintf(var, sizeof(var), "clm_poa_ind_sw%d", poa);
		js(g, "extension");
		JA(g);
		bool y = rchance(&x->r, 80);
		ext_coding(x, var, y ? "Y" : "N",
		           y ? "Diagnosis was present at the time of admission (POA)"
		             : "Diagnosis was not present at the time of admission");
		JE(g);
	}
	jki(g, "sequence", seq);
	js(g, "diagnosisCodeableConcept");
	JO(g);
	js(g, "coding");
	JA(g);
	coding(g, "http://hl7.org/fhir/sid/icd-10-cm", dx->code, dx->display);
	coding(g, "http://hl7.org/fhir/sid/icd-10", dx->code, dx->display);
	JE(g);
	JC(g);
	js(g, "type");
	JA(g);
	cc1(g, type_sys, type, type_disp);
	JE(g);
	JC(g);
	if (x->t)
		x->t->diagnoses++;
}

#define DXT_EX HL7_CS "ex-diagnosistype"
#define DXT_C4 C4BB_CS "C4BBClaimDiagnosisType"

static int diagnoses(eob_ctx *x)
{
	yajl_gen g = x->g;
	int t = x->c->type;
	int n = 1 + (int)rbelow(&x->r, t == SB_INPATIENT ? 8 : 4);
	int seq = 1;
	js(g, "diagnosis");
	JA(g);
	if (t == SB_INPATIENT)
		diagnosis(x, seq++, &PICK(&x->r, ICD10), DXT_EX, "admitting", "Admitting Diagnosis", 0);
	for (int i = 0; i < n; i++) {
		bool principal = i == 0;
		int poa = t == SB_INPATIENT ? i + 1 : 0;
		const code3 *dx = &PICK(&x->r, ICD10);
		if (principal)
			diagnosis(x, seq++, dx, DXT_EX, "principal", "principal", poa);
		else if (t == SB_CARRIER || t == SB_DME)
			diagnosis(x, seq++, dx, DXT_C4, "secondary", "Secondary", poa);
		else
			diagnosis(x, seq++, dx, DXT_C4, "other", "Other", poa);
	}
	if (institutional(t) && rchance(&x->r, 20))
		diagnosis(x, seq++, &PICK(&x->r, ECODES), DXT_C4, "externalcauseofinjury",
		          "External Cause of Injury", 0);
	if (t == SB_OUTPATIENT && rchance(&x->r, 40))
		diagnosis(x, seq++, &PICK(&x->r, ICD10), DXT_C4, "patientreasonforvisit",
		          "Patient Reason for Visit", 0);
	JE(g);
	return seq - 1;
}

static void procedures(eob_ctx *x, int n)
{
	yajl_gen g = x->g;
	js(g, "procedure");
	JA(g);
	for (int i = 0; i < n; i++) {
		const code3 *p = &PICK(&x->r, PCS);
		char b[40], d[16];
		sb_format_day(x->c->from_day + (int32_t)rbelow(&x->r, (uint32_t)(x->c->thru_day - x->c->from_day + 1)),
		              d, sizeof(d));
		snprintf(b, sizeof(b), "%sT00:00:00+00:00", d);
		JO(g);
		jki(g, "sequence", i + 1);
		jkv(g, "date", b);
		js(g, "procedureCodeableConcept");
		JO(g);
		js(g, "coding");
		JA(g);
		coding(g, "http://www.cms.gov/Medicare/Coding/ICD10", p->code, p->display);
		coding(g, "http://hl7.org/fhir/sid/icd-10", p->code, p->display);
		JE(g);
		JC(g);
		JC(g);
		if (x->t)
			x->t->procedures++;
	}
	JE(g);
}

static void modifiers(eob_ctx *x)
{
	if (!rchance(&x->r, 35))
		return;
	yajl_gen g = x->g;
	js(g, "modifier");
	JA(g);
	cc1(g, HCPCS, PICK(&x->r, MODIFIERS), NULL);
	JE(g);
}

static void seq_array(yajl_gen g, const char *k, int v)
{
	js(g, k);
	JA(g);
	yajl_gen_integer(g, v);
	JE(g);
}

static int item_count(eob_ctx *x)
{
	switch (x->c->type) {
	case SB_CARRIER: return rchance(&x->r, 65) ? 1 : (int)rrange(&x->r, 2, rchance(&x->r, 85) ? 3 : 12);
	case SB_DME: return (int)rrange(&x->r, 1, 3);
	case SB_OUTPATIENT: return rchance(&x->r, 60) ? 1 : (int)rrange(&x->r, 2, 8);
	case SB_INPATIENT: return (int)rrange(&x->r, 1, 10);
	case SB_SNF: return (int)rrange(&x->r, 1, 4);
	case SB_HHA: return (int)rrange(&x->r, 1, 3);
	case SB_HOSPICE: return (int)rrange(&x->r, 1, 3);
	default: return 1;
	}
}

typedef struct claim_sums {
	int64_t v[F_N];
} claim_sums;

static void professional_item(eob_ctx *x, int seq, int ndx, int performing, claim_sums *s)
{
	yajl_gen g = x->g;
	bool dme = x->c->type == SB_DME;
	int64_t units = rrange(&x->r, 1, dme ? 3 : 2);
	line_amts a;
	line_amounts(x, 1500, dme ? 90000 : 45000, units, &a);
	for (int f = 0; f < F_N; f++)
		s->v[f] += a.v[f];
	JO(g);
	js(g, "extension");
	JA(g);
	if (dme) {
		char b[16];
		digits_str(&x->r, 10, b);
		ext_ident(x, "suplrnum", b);
		ext_qty(x, "dmerc_line_mtus_cnt", units);
		ext_coding(x, "dmerc_line_prcng_state_cd", PICK(&x->r, STATES), NULL);
		ext_coding(x, "dmerc_line_supplr_type_cd", "3", "Suppliers (other than sole proprietorship)");
	} else {
		ext_qty(x, "carr_line_mtus_cnt", units);
		ext_coding(x, "carr_line_mtus_cd", "3", "Services");
	}
	ext_coding(x, "betos_cd", dme ? "D1G" : "M5C", dme ? "Other DME" : "Specialist - ophthalmology");
	ext_coding(x, "line_prcsg_ind_cd", "A", "Allowed");
	ext_coding(x, "line_service_deductible", "0", "Service Subject to Deductible");
	JE(g);
	jki(g, "sequence", seq);
	seq_array(g, "careTeamSequence", performing);
	seq_array(g, "diagnosisSequence", 1 + (int)rbelow(&x->r, (uint32_t)ndx));
	js(g, "category");
	cc1(g, BBV "line_cms_type_srvc_cd", dme ? "P" : "1", dme ? "Lump sum purchase of DME, prosthetics orthotics" : "Medical care");
	js(g, "productOrService");
	cc1(g, HCPCS, dme ? PICK(&x->r, HCPCS_DME) : PICK(&x->r, HCPCS_PRO), NULL);
	modifiers(x);
	int32_t d = x->c->from_day + (int32_t)rbelow(&x->r, (uint32_t)(x->c->thru_day - x->c->from_day + 1));
	period(g, "servicedPeriod", d, d);
	js(g, "locationCodeableConcept");
	JO(g);
	js(g, "extension");
	JA(g);
	char zip[16];
	digits_str(&x->r, 9, zip);
	ext_coding(x, "prvdr_state_cd", PICK(&x->r, STATES), NULL);
	ext_coding(x, "prvdr_zip", zip, NULL);
	JE(g);
	js(g, "coding");
	JA(g);
	coding(g, BBV "line_place_of_srvc_cd", "11", "Office");
	JE(g);
	JC(g);
	js(g, "quantity");
	JO(g);
	jki(g, "value", units);
	JC(g);
	js(g, "adjudication");
	JA(g);
	if (!dme)
		adj_denial(x, "carr_line_rdcd_pmt_phys_astn_c", "0", "N/A");
	if (dme)
		adj_list(x, ADJ_DME, NELEM(ADJ_DME), &a);
	else
		adj_list(x, ADJ_CARRIER, NELEM(ADJ_CARRIER), &a);
	JE(g);
	JC(g);
	if (x->t)
		x->t->items++;
}

static void institutional_item(eob_ctx *x, int seq, int performing, claim_sums *s)
{
	yajl_gen g = x->g;
	int t = x->c->type;
	int64_t units = rrange(&x->r, 1, 12);
	line_amts a;
	if (t == SB_INPATIENT)
		line_amounts(x, 5000, 2500000, units, &a);
	else if (t == SB_SNF || t == SB_HOSPICE)
		line_amounts(x, 10000, 900000, units, &a);
	else
		line_amounts(x, 1000, 300000, units, &a);
	for (int f = 0; f < F_N; f++)
		s->v[f] += a.v[f];
	const code3 *rev = t == SB_HOSPICE ? &REVENUE[9] : t == SB_HHA ? &REVENUE[10]
	                   : t == SB_SNF ? &REVENUE[8] : &PICK(&x->r, REVENUE);
	JO(g);
	if (t != SB_INPATIENT && t != SB_HOSPICE) {
		js(g, "extension");
		JA(g);
		ext_qty(x, "rev_cntr_unit_cnt", units);
		JE(g);
	}
	jki(g, "sequence", seq);
	seq_array(g, "careTeamSequence", performing);
	js(g, "revenue");
	JO(g);
	if (t == SB_OUTPATIENT || t == SB_HHA) {
		js(g, "extension");
		JA(g);
		ext_coding(x, "rev_cntr_stus_ind_cd", "A",
		           "Services not paid under OPPS; uses a different fee schedule (e.g., ambulance, PT, mammography)");
		JE(g);
	}
	js(g, "coding");
	JA(g);
	coding(g, BBV "rev_cntr", rev->code, rev->display);
	coding(g, "https://www.nubc.org/CodeSystem/RevenueCodes", "A", NULL);
	coding(g, BBV "rev_cntr_ddctbl_coinsrnc_cd", "A", NULL);
	JE(g);
	JC(g);
	js(g, "productOrService");
	cc1(g, HCPCS, PICK(&x->r, HCPCS_PRO), NULL);
	modifiers(x);
	if (t != SB_INPATIENT && t != SB_SNF)
		day_kv(g, "servicedDate",
		       x->c->from_day + (int32_t)rbelow(&x->r, (uint32_t)(x->c->thru_day - x->c->from_day + 1)));
	js(g, "locationAddress");
	JO(g);
	jkv(g, "state", PICK(&x->r, STATES));
	JC(g);
	js(g, "quantity");
	JO(g);
	jki(g, "value", units);
	JC(g);
	js(g, "adjudication");
	JA(g);
	switch (t) {
	case SB_OUTPATIENT:
		adj_denial(x, "rev_cntr_1st_ansi_cd", "CO45", NULL);
		adj_list(x, ADJ_OUTPATIENT, NELEM(ADJ_OUTPATIENT), &a);
		break;
	case SB_HHA:
		adj_denial(x, "rev_cntr_1st_ansi_cd", "CO45", NULL);
		adj_list(x, ADJ_HHA, NELEM(ADJ_HHA), &a);
		break;
	case SB_HOSPICE:
		adj_list(x, ADJ_HOSPICE, NELEM(ADJ_HOSPICE), &a);
		break;
	default:
		adj_list(x, ADJ_INPATIENT, NELEM(ADJ_INPATIENT), &a);
		break;
	}
	JE(g);
	JC(g);
	if (x->t)
		x->t->items++;
}

static void header_extensions(eob_ctx *x)
{
	yajl_gen g = x->g;
	int t = x->c->type;
	char b[32];
	size_t before = 0;
	js(g, "extension");
	JA(g);
	if (t == SB_CARRIER || t == SB_DME) {
		ext_coding(x, "nch_near_line_rec_ident_cd", t == SB_DME ? "M" : "O",
		           t == SB_DME ? "Part B DMEPOS claim record (processed by DME Regional Carrier)"
		                       : "Part B physician/supplier claim record (processed by local carriers; can include DMEPOS services)");
		snprintf(b, sizeof(b), "%05" PRIu32, 10000 + rbelow(&x->r, 90000));
		ext_ident(x, "carr_num", b);
		digits_str(&x->r, 14, b);
		ext_ident(x, "carr_clm_cntl_num", b);
		ext_coding(x, "carr_clm_pmt_dnl_cd", "1", "Physician/supplier");
		ext_coding(x, "asgmntcd", "A", "Assigned claim");
		ext_ident(x, "clm_clncl_tril_num", "0");
		ext_coding(x, "carr_clm_entry_cd", "1",
		           "Original debit; void of original debit (If CLM_DISP_CD = 3, code 1 means voided original debit)");
		before = 7;
	} else {
		ext_coding(x, "nch_near_line_rec_ident_cd", t == SB_OUTPATIENT ? "W" : "V",
		           t == SB_OUTPATIENT ? "Part B institutional claim record (outpatient [HOP], HHA)"
		                              : "Part A institutional claim record (inpatient [IP], skilled nursing facility [SNF], hospice [HOS], or home health agency [HHA])");
		before = 1;
		if (t == SB_INPATIENT || t == SB_SNF) {
			ext_coding(x, "fi_clm_actn_cd", "1", "Original debit action (always a 1 for all regular bills)");
			before++;
		}
		if (t == SB_INPATIENT) {
			ext_money(x, "ime_op_clm_val_amt", rrange(&x->r, 0, 900000));
			ext_money(x, "clm_uncompd_care_pmt_amt", rrange(&x->r, 0, 30000));
			ext_money(x, "dsh_op_clm_val_amt", rrange(&x->r, 0, 50000));
			before += 3;
		}
		digits_str(&x->r, 13, b);
		ext_ident(x, "fi_doc_clm_cntl_num", b);
		ext_date(x, "fi_clm_proc_dt", x->c->thru_day + 10 + (int32_t)rbelow(&x->r, 20));
		ext_coding(x, "clm_srvc_clsfctn_type_cd", "1", NULL);
		snprintf(b, sizeof(b), "%05" PRIu32, 10000 + rbelow(&x->r, 90000));
		ext_ident(x, "fi_num", b);
		before += 4;
		if (t == SB_HOSPICE) {
			ext_qty(x, "bene_hospc_prd_cnt", rrange(&x->r, 1, 4));
			before++;
		}
	}
	JE(g);
	if (x->t)
		x->t->extensions += before;
}

static void contained_org(eob_ctx *x)
{
	yajl_gen g = x->g;
	char id[16], prn[8];
	npi(&x->r, id, sizeof(id));
	digits_str(&x->r, 6, prn);
	js(g, "contained");
	JA(g);
	JO(g);
	jkv(g, "resourceType", "Organization");
	jkv(g, "id", "provider-org");
	js(g, "meta");
	JO(g);
	js(g, "profile");
	JA(g);
	js(g, C4BB_SD "C4BB-Organization");
	JE(g);
	JC(g);
	js(g, "identifier");
	JA(g);
	JO(g);
	js(g, "type");
	cc1(g, HL7_CS "v2-0203", "PRN", NULL);
	jkv(g, "value", prn);
	JC(g);
	JO(g);
	js(g, "type");
	cc1(g, C4BB_CS "C4BBIdentifierType", "npi", NULL);
	jkv(g, "system", "http://hl7.org/fhir/sid/us-npi");
	jkv(g, "value", id);
	JC(g);
	JE(g);
	js(g, "active");
	yajl_gen_bool(g, 1);
	jkv(g, "name", PICK(&x->r, ORGS));
	JC(g);
	JE(g);
}

static void identifier(yajl_gen g, const char *sys, const char *value)
{
	JO(g);
	js(g, "type");
	cc1(g, C4BB_CS "C4BBIdentifierType", "uc", "Unique Claim ID");
	jkv(g, "system", sys);
	jkv(g, "value", value);
	JC(g);
}

static void pde_body(eob_ctx *x, int32_t fill_day)
{
	yajl_gen g = x->g;
	const code3 *drug = &PICK(&x->r, DRUGS);
	int64_t qty = rrange(&x->r, 1, 9) * 30;
	int64_t cost = rrange(&x->r, 400, 150000);
	int64_t patient = cost * rrange(&x->r, 0, 40) / 100;
	int64_t plan = cost - patient;
	int64_t lics = rchance(&x->r, 25) ? patient / 2 : 0;
	int64_t above = rchance(&x->r, 10) ? cost / 3 : 0;
	int64_t below = cost - above;
	int64_t troop = rchance(&x->r, 10) ? rrange(&x->r, 0, patient / 5 + 1) : 0;
	int64_t plro = rchance(&x->r, 10) ? rrange(&x->r, 0, 2000) : 0;
	int64_t gap = rchance(&x->r, 15) ? rrange(&x->r, 0, cost / 2) : 0;
	int64_t ncvrd = rchance(&x->r, 8) ? rrange(&x->r, 0, plan / 3 + 1) : 0;

	js(g, "careTeam");
	JA(g);
	care_team(x, 1, C4BB_CS "C4BBClaimCareTeamRole", "prescribing", "Prescribing provider", true,
	          PICK(&x->r, PROVIDERS));
	JE(g);

	js(g, "supportingInfo");
	JA(g);
	si_begin(x, 1, C4BB_CS "C4BBSupportingInfoType", "compoundcode", "Compound Code", NULL, NULL);
	js(g, "code");
	cc1(g, HL7_CS "v3-ActCode", "RXDINV", "Rx dispense invoice");
	JC(g);
	si_begin(x, 2, C4BB_CS "C4BBSupportingInfoType", "refillnum", "Refill Number", NULL, NULL);
	js(g, "valueQuantity");
	JO(g);
	jki(g, "value", rrange(&x->r, 0, 11));
	JC(g);
	JC(g);
	si_begin(x, 3, C4BB_CS "C4BBSupportingInfoType", "dayssupply", "Days Supply", NULL, NULL);
	js(g, "valueQuantity");
	JO(g);
	jki(g, "value", qty);
	JC(g);
	JC(g);
	si_info_code(x, 4, "drug_cvrg_stus_cd", "Drug Coverage Status Code", "C", "Covered");
	si_info_code(x, 5, "daw_prod_slctn_cd", "Dispense as Written (DAW) Product Selection Code", "0",
	             "No Product Selection Indicated (may also have missing values)");
	si_info_code(x, 6, "dspnsng_stus_cd", "Dispensing Status Code", "P", "Partial fill");
	si_info_code(x, 7, "adjstmt_dltn_cd", "Adjustment Deletion Code", "A", "Adjustment");
	si_info_code(x, 8, "nstd_frmt_cd", "Non-Standard Format Code", "X", "X12 837");
	si_info_code(x, 9, "prcng_excptn_cd", "Pricing Exception Code", "M", "Medicare is a secondary payer (MSP)");
	si_info_code(x, 10, "ctstrphc_cvrg_cd", "Catastrophic Coverage Code", "C", "Above attachment point");
	si_begin(x, 11, C4BB_CS "C4BBSupportingInfoType", "rxorigincode", "Rx Origin Code", "rx_orgn_cd",
	         "Prescription Origination Code");
	js(g, "code");
	cc1(g, BBV "rx_orgn_cd", "3", "Electronic");
	JC(g);
	si_begin(x, 12, C4BB_CS "C4BBSupportingInfoType", "brandgenericindicator", "Brand Generic Indicator",
	         "brnd_gnrc_cd", "Brand-Generic Code Reported by Submitting Plan");
	js(g, "code");
	cc1(g, BBV "brnd_gnrc_cd", "G", "Generic Null/missing");
	JC(g);
	si_info_code(x, 13, "ptnt_rsdnc_cd", "Patient Residence Code", "02", "Skilled Nursing Facility");
	si_info_code(x, 14, "submsn_clr_cd", "Submission clarification code", "08", "Process compound for approved ingredients");
	JE(g);

	js(g, "insurance");
	JA(g);
	JO(g);
	js(g, "focal");
	yajl_gen_bool(g, 1);
	js(g, "coverage");
	JO(g);
	js(g, "extension");
	JA(g);
	char b[16];
	snprintf(b, sizeof(b), "H%04" PRIu32, rbelow(&x->r, 10000));
	ext_ident(x, "plan_cntrct_rec_id", b);
	snprintf(b, sizeof(b), "%03" PRIu32, rbelow(&x->r, 1000));
	ext_ident(x, "plan_pbp_rec_num", b);
	JE(g);
	char ref[64];
	snprintf(ref, sizeof(ref), "Coverage/part-d-%s", x->pid);
	jkv(g, "reference", ref);
	JC(g);
	JC(g);
	JE(g);

	js(g, "item");
	JA(g);
	JO(g);
	jki(g, "sequence", 1);
	seq_array(g, "careTeamSequence", 1);
	js(g, "productOrService");
	cc1(g, "http://hl7.org/fhir/sid/ndc", drug->code, drug->display);
	day_kv(g, "servicedDate", fill_day);
	js(g, "quantity");
	JO(g);
	jki(g, "value", qty);
	JC(g);
	js(g, "adjudication");
	JA(g);
	adj_amount(x, C_BENEFIT, "cvrd_d_plan_pd_amt", "Amount paid by Part D plan for the PDE (drug is covered by Part D)", plan - ncvrd);
	adj_amount(x, C_NONCOVERED, "ncvrd_plan_pd_amt", "Amount paid by Part D plan for the PDE (drug is not covered by Part D)", ncvrd);
	adj_amount(x, C_COINSURANCE, "gdc_blw_oopt_amt", "Gross Drug Cost Below Part D Out-of-Pocket Threshold (GDCB)", below);
	adj_amount(x, C_COINSURANCE, "gdc_abv_oopt_amt", "Gross Drug Cost Above Part D Out-of-Pocket Threshold (GDCA)", above);
	adj_amount(x, C_PAIDBYPATIENT, "ptnt_pay_amt", "Amount Paid by Patient", patient);
	adj_amount(x, C_PRIORPAYERPAID, "othr_troop_amt", "Other True Out-of-Pocket (TrOOP) Amount", troop);
	adj_amount(x, C_DISCOUNT, "lics_amt", "Amount paid for the PDE by Part D low income subsidy", lics);
	adj_amount(x, C_PRIORPAYERPAID, "plro_amt", "Reduction in patient liability due to payments by other payers (PLRO)", plro);
	adj_amount(x, C_DRUGCOST, "tot_rx_cst_amt", "Total drug cost (Part D)", cost);
	adj_amount(x, C_DISCOUNT, "rptd_gap_dscnt_num", "Gap Discount Amount", gap);
	JE(g);
	JC(g);
	JE(g);
	if (x->t)
		x->t->items++;

	js(g, "total");
	JA(g);
	total_entry(x, C_DRUGCOST, NULL, NULL, cost);
	JO(g);
	js(g, "category");
	cc1(g, C4BB_CS "C4BBPayerAdjudicationStatus", "other", "Other");
	money(x, "amount", 0);
	JC(g);
	if (x->t) {
		x->t->totals++;
	}
	JE(g);

	js(g, "payment");
	JO(g);
	day_kv(g, "date", fill_day + 15 + (int32_t)rbelow(&x->r, 15));
	JC(g);
}

void sb_eob_write(sb_world *w, uint32_t idx, const sb_claim *c, yajl_gen g, sb_truth *t)
{
	eob_ctx x = { .g = g, .r = { c->body_seed }, .t = t, .c = c, .idx = idx };
	sb_patient_id(idx, x.pid, sizeof(x.pid));
	(void)w;
	int ty = c->type;
	char b[160], claim_id[32], lu[40];
	snprintf(claim_id, sizeof(claim_id), "-%" PRIu64, c->num);
	sb_format_instant(c->last_updated_ms, lu, sizeof(lu));
	if (t) {
		t->eob++;
		t->by_type[ty]++;
		if (c->cancelled)
			t->cancelled++;
		else
			t->active++;
		if (c->last_updated_ms > t->last_updated_max_ms)
			t->last_updated_max_ms = c->last_updated_ms;
	}

	JO(g);
	jkv(g, "resourceType", "ExplanationOfBenefit");
	snprintf(b, sizeof(b), "%s-%s", TYPES[ty].name, claim_id);
	jkv(g, "id", b);
	js(g, "meta");
	JO(g);
	jkv(g, "lastUpdated", lu);
	js(g, "profile");
	JA(g);
	snprintf(b, sizeof(b), C4BB_SD "C4BB-ExplanationOfBenefit-%s", TYPES[ty].profile);
	js(g, b);
	JE(g);
	JC(g);
	if (institutional(ty))
		contained_org(&x);
	if (ty != SB_PDE)
		header_extensions(&x);

	js(g, "identifier");
	JA(g);
	identifier(g, ty == SB_PDE ? BBV "pde_id" : BBV "clm_id", claim_id);
	snprintf(b, sizeof(b), "%" PRIu32, 100 + rbelow(&x.r, 900));
	identifier(g, "https://bluebutton.cms.gov/resources/identifier/claim-group", b);
	if (ty == SB_PDE) {
		digits_str(&x.r, 9, b);
		identifier(g, BBV "rx_srvc_rfrnc_num", b);
	}
	JE(g);
	jkv(g, "status", c->cancelled ? "cancelled" : "active");
	js(g, "type");
	JO(g);
	js(g, "coding");
	JA(g);
	if (TYPES[ty].nch)
		coding(g, BBV "nch_clm_type_cd", TYPES[ty].nch, TYPES[ty].nch_display);
	coding(g, "https://bluebutton.cms.gov/resources/codesystem/eob-type", TYPES[ty].code, NULL);
	snprintf(b, sizeof(b), "%c%s", TYPES[ty].claim_type[0] - 32, TYPES[ty].claim_type + 1);
	coding(g, HL7_CS "claim-type", TYPES[ty].claim_type, b);
	JE(g);
	JC(g);
	if (institutional(ty)) {
		bool inp = ty == SB_INPATIENT || ty == SB_SNF || ty == SB_HOSPICE;
		js(g, "subType");
		JO(g);
		js(g, "coding");
		JA(g);
		coding(g, C4BB_CS "C4BBInstitutionalClaimSubType", inp ? "inpatient" : "outpatient", NULL);
		JE(g);
		jkv(g, "text", inp ? "Inpatient" : "Outpatient");
		JC(g);
	}
	jkv(g, "use", "claim");
	js(g, "patient");
	JO(g);
	snprintf(b, sizeof(b), "Patient/%s", x.pid);
	jkv(g, "reference", b);
	JC(g);
	period(g, "billablePeriod", c->from_day, c->thru_day);
	/* BFD puts the time of the call here; we use lastUpdated so that the
	 * same seed always gives the same bytes */
	jkv(g, "created", lu);
	js(g, "insurer");
	JO(g);
	js(g, "identifier");
	JO(g);
	jkv(g, "value", "CMS");
	JC(g);
	JC(g);

	char id[16];
	npi(&x.r, id, sizeof(id));
	js(g, "provider");
	JO(g);
	if (institutional(ty)) {
		jkv(g, "reference", "#provider-org");
	} else {
		js(g, "identifier");
		JO(g);
		jkv(g, "system", ty == SB_CARRIER ? BBV "carr_clm_blg_npi_num" : "http://hl7.org/fhir/sid/us-npi");
		jkv(g, "value", id);
		JC(g);
	}
	JC(g);
	if (institutional(ty)) {
		static const char *const FAC[][2] = {
			[SB_HHA] = { "3", "Home Health Agency (HHA)" },
			[SB_HOSPICE] = { "8", "Ambulatory Surgery Center (ASC) or other special facility (e.g. hospice)" },
			[SB_INPATIENT] = { "1", "Hospital" },
			[SB_OUTPATIENT] = { "1", "Hospital" },
			[SB_SNF] = { "2", "Skilled Nursing Facility (SNF)" },
		};
		js(g, "facility");
		JO(g);
		js(g, "extension");
		JA(g);
		ext_coding(&x, "clm_fac_type_cd", FAC[ty][0], FAC[ty][1]);
		JE(g);
		JC(g);
	} else if (ty == SB_PDE) {
		js(g, "facility");
		JO(g);
		js(g, "extension");
		JA(g);
		ext_coding(&x, "phrmcy_srvc_type_cd", "01", "Community/retail pharmacy");
		JE(g);
		js(g, "identifier");
		JO(g);
		js(g, "type");
		cc1(g, C4BB_CS "C4BBIdentifierType", "npi", NULL);
		jkv(g, "value", id);
		JC(g);
		jkv(g, "display", "NEIGHBORHOOD PHARMACY, INC.");
		JC(g);
	}
	if (ty == SB_CARRIER || ty == SB_DME) {
		char ref[16];
		npi(&x.r, ref, sizeof(ref));
		js(g, "referral");
		JO(g);
		js(g, "identifier");
		JO(g);
		js(g, "type");
		cc1(g, C4BB_CS "C4BBIdentifierType", "npi", "National Provider Identifier");
		jkv(g, "value", ref);
		JC(g);
		JC(g);
	}
	jkv(g, "outcome", "complete");
	if (ty == SB_CARRIER || ty == SB_DME)
		jkv(g, "disposition", "1");

	if (ty == SB_PDE) {
		pde_body(&x, c->thru_day);
		JC(g);
		return;
	}

	/* careTeam */
	int performing;
	js(g, "careTeam");
	JA(g);
	if (ty == SB_CARRIER || ty == SB_DME) {
		care_team(&x, 1, C4BB_CS "C4BBClaimCareTeamRole", "referring", "Referring", false, NULL);
		care_team(&x, 2, C4BB_CS "C4BBClaimCareTeamRole", "performing", "Performing provider", true, NULL);
		performing = 2;
	} else {
		int seq = 1;
		care_team(&x, seq++, C4BB_CS "C4BBClaimCareTeamRole", "attending", "Attending", false, NULL);
		if (ty == SB_INPATIENT || ty == SB_OUTPATIENT || ty == SB_SNF) {
			care_team(&x, seq++, C4BB_CS "C4BBClaimCareTeamRole", "operating", "Operating", false, NULL);
			if (rchance(&x.r, 50))
				care_team(&x, seq++, C4BB_CS "C4BBClaimCareTeamRole", "otheroperating", "Other Operating", false, NULL);
		}
		care_team(&x, seq, C4BB_CS "C4BBClaimCareTeamRole", "performing", "Performing provider", true, NULL);
		performing = seq;
	}
	JE(g);

	/* supportingInfo */
	js(g, "supportingInfo");
	JA(g);
	int s = 1;
	si_received(&x, s++);
	if (institutional(ty)) {
		si_begin(&x, s++, C4BB_CS "C4BBSupportingInfoType", "typeofbill", "Type of Bill", NULL, NULL);
		js(g, "code");
		cc1(g, BBV "clm_freq_cd", "1", "Admit thru discharge claim");
		JC(g);
		si_info_code(&x, s++, "nch_prmry_pyr_cd", "NCH Primary Payer Code (if not Medicare)", "A",
		             "Employer group health plan (EGHP) insurance for an aged beneficiary");
		if (ty == SB_INPATIENT || ty == SB_SNF || ty == SB_HOSPICE) {
			si_begin(&x, s++, C4BB_CS "C4BBSupportingInfoType", "admissionperiod", "Admission Period", NULL, NULL);
			period(g, "timingPeriod", c->from_day, c->thru_day);
			JC(g);
			si_begin(&x, s++, C4BB_CS "C4BBSupportingInfoType", "discharge-status", "Discharge Status", NULL, NULL);
			js(g, "code");
			cc1(g, BBV "ptnt_dschrg_stus_cd", "01", "Discharged to home/self-care (routine charge).");
			JC(g);
			si_info_code(&x, s++, "nch_ptnt_stus_ind_cd", "NCH Patient Status Indicator Code", "A", "Discharged");
		}
		if (ty == SB_INPATIENT || ty == SB_SNF) {
			si_begin(&x, s++, C4BB_CS "C4BBSupportingInfoType", "admtype", "Information",
			         "clm_ip_admsn_type_cd", "Claim Inpatient Admission Type Code");
			js(g, "code");
			cc1(g, "https://www.nubc.org/CodeSystem/PriorityTypeOfAdmitOrVisit", "3", "Elective");
			JC(g);
			si_info_code(&x, s++, "clm_src_ip_admsn_cd", "Claim Source Inpatient Admission Code", "1", NULL);
			snprintf(b, sizeof(b), "%03" PRIu32, 1 + rbelow(&x.r, 998));
			si_info_code(&x, s++, "clm_drg_cd", "Claim Diagnosis Related Group Code (or MS-DRG Code)", b, NULL);
			si_begin(&x, s++, HL7_CS "claiminformationcategory", "info", "Information",
			         "nch_blood_pnts_frnshd_qty", "NCH Blood Pints Furnished Quantity");
			js(g, "valueQuantity");
			JO(g);
			jki(g, "value", rrange(&x.r, 0, 4));
			jkv(g, "unit", "pint");
			jkv(g, "system", "http://unitsofmeasure.org");
			jkv(g, "code", "[pt_us]");
			JC(g);
			JC(g);
		}
		if (ty == SB_INPATIENT || ty == SB_OUTPATIENT || ty == SB_SNF)
			si_info_code(&x, s++, "clm_mco_pd_sw", "Claim MCO Paid Switch", "0",
			             "No managed care organization (MCO) payment");
		if (ty == SB_HHA) {
			si_info_code(&x, s++, "clm_hha_lupa_ind_cd", "Claim HHA Low Utilization Payment Adjustment (LUPA) Indicator Code",
			             "L", "Low utilization payment adjustment (LUPA) claim");
			si_info_code(&x, s++, "clm_hha_rfrl_cd", "Claim HHA Referral Code", "1", "Physician referral");
			si_begin(&x, s++, HL7_CS "claiminformationcategory", "info", "Information",
			         "clm_hha_tot_visit_cnt", "Claim HHA Total Visit Count");
			js(g, "valueQuantity");
			JO(g);
			jki(g, "value", rrange(&x.r, 1, 30));
			JC(g);
			JC(g);
		}
	}
	JE(g);

	int ndx = diagnoses(&x);
	if (ty == SB_INPATIENT)
		procedures(&x, (int)rrange(&x.r, 1, 4));
	else if (ty == SB_OUTPATIENT || ty == SB_SNF)
		procedures(&x, (int)rbelow(&x.r, 3));

	js(g, "insurance");
	JA(g);
	JO(g);
	js(g, "focal");
	yajl_gen_bool(g, 1);
	js(g, "coverage");
	JO(g);
	snprintf(b, sizeof(b), "Coverage/%s-%s", TYPES[ty].part, x.pid);
	jkv(g, "reference", b);
	JC(g);
	JC(g);
	JE(g);

	claim_sums sums;
	memset(&sums, 0, sizeof(sums));
	int n = item_count(&x);
	js(g, "item");
	JA(g);
	for (int i = 0; i < n; i++) {
		if (ty == SB_CARRIER || ty == SB_DME)
			professional_item(&x, i + 1, ndx, performing, &sums);
		else
			institutional_item(&x, i + 1, performing, &sums);
	}
	JE(g);

	js(g, "total");
	JA(g);
	total_entry(&x, C_SUBMITTED, "clm_tot_chrg_amt", "Claim Total Charge Amount", sums.v[F_SUB]);
	JE(g);

	js(g, "payment");
	JO(g);
	money(&x, "amount", sums.v[F_NCH]);
	JC(g);
	if (t) {
		t->payments++;
		t->payment_cents += sums.v[F_NCH];
	}

	js(g, "benefitBalance");
	JA(g);
	JO(g);
	js(g, "category");
	cc1(g, HL7_CS "ex-benefitcategory", "1", "Medical Care");
	js(g, "financial");
	JA(g);
	int32_t days = c->thru_day - c->from_day;
	switch (ty) {
	case SB_CARRIER:
	case SB_DME:
		fin_money(&x, "carr_clm_cash_ddctbl_apld_amt",
		          "Carrier Claim Cash Deductible Applied Amount (sum of all line-level deductible amounts)", sums.v[F_DED]);
		fin_money(&x, "nch_clm_prvdr_pmt_amt", "NCH Claim Provider Payment Amount", sums.v[F_PRV]);
		fin_money(&x, "nch_clm_bene_pmt_amt", "NCH Claim Payment Amount to Beneficiary", sums.v[F_BEN]);
		fin_money(&x, "nch_carr_clm_sbmtd_chrg_amt",
		          "NCH Carrier Claim Submitted Charge Amount (sum of all line-level submitted charges)", sums.v[F_SUB]);
		fin_money(&x, "nch_carr_clm_alowd_amt",
		          "NCH Carrier Claim Allowed Charge Amount (sum of all line-level allowed charges)", sums.v[F_ALW]);
		break;
	case SB_INPATIENT:
		fin_money(&x, "clm_pass_thru_per_diem_amt", "Claim Pass Thru Per Diem Amount", rrange(&x.r, 0, 5000));
		fin_money(&x, "nch_profnl_cmpnt_chrg_amt", "Professional Component Charge Amount", rrange(&x.r, 0, 20000));
		fin_money(&x, "clm_tot_pps_cptl_amt", "Claim Total PPS Capital Amount", rrange(&x.r, 0, 90000));
		fin_int(&x, "bene_tot_coinsrnc_days_cnt", "Beneficiary Total Coinsurance Days Count", 0);
		fin_int(&x, "clm_non_utlztn_days_cnt", "Claim Medicare Non Utilization Days Count", 0);
		fin_money(&x, "nch_bene_ip_ddctbl_amt", "NCH Beneficiary Inpatient (or other Part A) Deductible Amount", sums.v[F_DED]);
		fin_money(&x, "nch_bene_pta_coinsrnc_lblty_amt", "NCH Beneficiary Part A Coinsurance Liability Amount", sums.v[F_COI]);
		fin_money(&x, "nch_ip_ncvrd_chrg_amt", "NCH Inpatient(or other Part A) Non-covered Charge Amount", sums.v[F_NCV]);
		fin_money(&x, "nch_ip_tot_ddctn_amt", "NCH Inpatient (or other Part A) Total Deductible/Coinsurance Amount",
		          sums.v[F_DED] + sums.v[F_COI]);
		fin_money(&x, "nch_drg_outlier_aprvd_pmt_amt", "NCH DRG Outlier Approved Payment Amount", rrange(&x.r, 0, 10000));
		fin_money(&x, "prpayamt", "NCH Primary Payer Claim Paid Amount", sums.v[F_MSP]);
		fin_int(&x, "clm_utlztn_day_cnt", "Claim Medicare Utilization Day Count", days);
		fin_int(&x, "bene_lrd_used_cnt", "Beneficiary Medicare Lifetime Reserve Days (LRD) Used Count", 0);
		break;
	case SB_SNF:
		fin_int(&x, "clm_utlztn_day_cnt", "Claim Medicare Utilization Day Count", days);
		fin_int(&x, "bene_tot_coinsrnc_days_cnt", "Beneficiary Total Coinsurance Days Count", days > 20 ? days - 20 : 0);
		fin_int(&x, "clm_non_utlztn_days_cnt", "Claim Medicare Non Utilization Days Count", 0);
		fin_money(&x, "nch_bene_ip_ddctbl_amt", "NCH Beneficiary Inpatient (or other Part A) Deductible Amount", sums.v[F_DED]);
		fin_money(&x, "nch_bene_pta_coinsrnc_lblty_amt", "NCH Beneficiary Part A Coinsurance Liability Amount", sums.v[F_COI]);
		fin_money(&x, "nch_ip_ncvrd_chrg_amt", "NCH Inpatient(or other Part A) Non-covered Charge Amount", sums.v[F_NCV]);
		fin_money(&x, "nch_ip_tot_ddctn_amt", "NCH Inpatient (or other Part A) Total Deductible/Coinsurance Amount",
		          sums.v[F_DED] + sums.v[F_COI]);
		fin_money(&x, "prpayamt", "NCH Primary Payer Claim Paid Amount", sums.v[F_MSP]);
		break;
	case SB_OUTPATIENT:
		fin_money(&x, "nch_profnl_cmpnt_chrg_amt", "Professional Component Charge Amount", rrange(&x.r, 0, 9000));
		fin_money(&x, "nch_bene_ptb_ddctbl_amt", "NCH Beneficiary Part B Deductible Amount", sums.v[F_DED]);
		fin_money(&x, "nch_bene_ptb_coinsrnc_amt", "NCH Beneficiary Part B Coinsurance Amount", sums.v[F_COI]);
		fin_money(&x, "clm_op_prvdr_pmt_amt", "Claim Outpatient Provider Payment Amount", sums.v[F_PRV]);
		fin_money(&x, "clm_op_bene_pmt_amt", "Claim Outpatient Payment Amount to Beneficiary", sums.v[F_BEN]);
		fin_money(&x, "nch_bene_blood_ddctbl_lblty_am", "NCH Beneficiary Blood Deductible Liability Amount", 0);
		fin_money(&x, "prpayamt", "NCH Primary Payer Claim Paid Amount", sums.v[F_MSP]);
		break;
	case SB_HOSPICE:
		fin_int(&x, "clm_utlztn_day_cnt", "Claim Medicare Utilization Day Count", days);
		fin_money(&x, "prpayamt", "NCH Primary Payer Claim Paid Amount", sums.v[F_MSP]);
		break;
	default: /* HHA */
		fin_money(&x, "prpayamt", "NCH Primary Payer Claim Paid Amount", sums.v[F_MSP]);
		break;
	}
	JE(g);
	JC(g);
	JE(g);
	JC(g);
}

/* ---------------------------------------------------------------- Patient, Coverage */

static const char *const GIVEN_F[] = { "Mary", "Patricia", "Linda", "Barbara", "Dorothy", "Rosa", "Mei", "Aisha" };
static const char *const GIVEN_M[] = { "James", "Robert", "John", "William", "Charles", "Jose", "Wei", "Omar" };
static const char *const FAMILY[] = {
	"Doe", "Smith", "Johnson", "Garcia", "Nguyen", "Okafor", "Kowalski", "Haddad", "Rossi", "Larsen",
};

int64_t sb_patient_last_updated_ms(sb_world *w, uint32_t idx)
{
	rng r = { mix(bene_seed(w, idx), 0x9A71E47) };
	return w->base_load_ms - (int64_t)rbelow(&r, 86400 * 300) * 1000;
}

static void resource_meta(yajl_gen g, int64_t ms, const char *profile)
{
	char lu[40];
	sb_format_instant(ms, lu, sizeof(lu));
	js(g, "meta");
	JO(g);
	jkv(g, "lastUpdated", lu);
	js(g, "profile");
	JA(g);
	js(g, profile);
	JE(g);
	JC(g);
}

void sb_patient_write(sb_world *w, uint32_t idx, yajl_gen g)
{
	rng r = { mix(bene_seed(w, idx), 0xB10) };
	char pid[32], mbi[64], b[64];
	sb_patient_id(idx, pid, sizeof(pid));
	bool female = rchance(&r, 55);
	JO(g);
	jkv(g, "resourceType", "Patient");
	jkv(g, "id", pid);
	resource_meta(g, sb_patient_last_updated_ms(w, idx), C4BB_SD "C4BB-Patient");
	js(g, "extension");
	JA(g);
	JO(g);
	jkv(g, "url", "http://hl7.org/fhir/us/core/StructureDefinition/us-core-sex");
	jkv(g, "valueCode", female ? "248152002" : "248153007");
	JC(g);
	JO(g);
	jkv(g, "url", BBV "race");
	js(g, "valueCoding");
	coding(g, BBV "race", "1", "White");
	JC(g);
	JO(g);
	jkv(g, "url", BBV "rfrnc_yr");
	jkv(g, "valueDate", "2025");
	JC(g);
	for (int m = 1; m <= 12; m++) {
		char var[16];
		snprintf(var, sizeof(var), "dual_%02d", m);
		snprintf(b, sizeof(b), BBV "%s", var);
		JO(g);
		jkv(g, "url", b);
		js(g, "valueCoding");
		coding(g, b, "NA", "Non-Medicaid");
		JC(g);
	}
	JE(g);
	/* an MBI-shaped identifier: 1 digit, letters and digits */
	snprintf(mbi, sizeof(mbi), "%" PRIu32 "%c%c%" PRIu32 "%c%c%" PRIu32 "%c%c%02" PRIu32,
	         1 + rbelow(&r, 9), 'A' + (char)rbelow(&r, 20), 'A' + (char)rbelow(&r, 20), rbelow(&r, 10),
	         'A' + (char)rbelow(&r, 20), 'A' + (char)rbelow(&r, 20), rbelow(&r, 10),
	         'A' + (char)rbelow(&r, 20), 'A' + (char)rbelow(&r, 20), rbelow(&r, 100));
	js(g, "identifier");
	JA(g);
	JO(g);
	js(g, "type");
	JO(g);
	js(g, "coding");
	JA(g);
	JO(g);
	js(g, "extension");
	JA(g);
	JO(g);
	jkv(g, "url", "https://bluebutton.cms.gov/resources/codesystem/identifier-currency");
	js(g, "valueCoding");
	coding(g, "https://bluebutton.cms.gov/resources/codesystem/identifier-currency", "current", "Current");
	JC(g);
	JE(g);
	jkv(g, "system", HL7_CS "v2-0203");
	jkv(g, "code", "MC");
	jkv(g, "display", "Patient's Medicare number");
	JC(g);
	JE(g);
	JC(g);
	jkv(g, "system", "http://hl7.org/fhir/sid/us-mbi");
	jkv(g, "value", mbi);
	JC(g);
	JO(g);
	js(g, "type");
	cc1(g, HL7_CS "v2-0203", "MB", "Member Number");
	jkv(g, "system", BBV "bene_id");
	jkv(g, "value", pid);
	JC(g);
	JE(g);
	js(g, "name");
	JA(g);
	JO(g);
	jkv(g, "use", "usual");
	jkv(g, "family", PICK(&r, FAMILY));
	js(g, "given");
	JA(g);
	js(g, female ? PICK(&r, GIVEN_F) : PICK(&r, GIVEN_M));
	snprintf(b, sizeof(b), "%c", 'A' + (char)rbelow(&r, 26));
	js(g, b);
	JE(g);
	JC(g);
	JE(g);
	jkv(g, "gender", female ? "female" : "male");
	day_kv(g, "birthDate", days_from_civil(1930, 1, 1) + (int32_t)rbelow(&r, 35 * 365));
	js(g, "address");
	JA(g);
	JO(g);
	jkv(g, "state", PICK(&r, STATES));
	digits_str(&r, 5, b);
	jkv(g, "postalCode", b);
	JC(g);
	JE(g);
	JC(g);
}

static const char *const PARTS[] = { "part-a", "part-b", "part-c", "part-d" };

/* which parts the beneficiary has: A, B and D always, C (Medicare
 * Advantage) for about one in five */
static size_t parts(sb_world *w, uint32_t idx, size_t which[4])
{
	rng r = { mix(bene_seed(w, idx), 0xC0FE4) };
	size_t n = 0;
	which[n++] = 0;
	which[n++] = 1;
	if (rchance(&r, 20))
		which[n++] = 2;
	which[n++] = 3;
	return n;
}

size_t sb_coverage_count(sb_world *w, uint32_t idx)
{
	size_t which[4];
	return parts(w, idx, which);
}

void sb_coverage_id(sb_world *w, uint32_t idx, size_t part, char *buf, size_t len)
{
	size_t which[4];
	size_t n = parts(w, idx, which);
	char pid[32];
	sb_patient_id(idx, pid, sizeof(pid));
	snprintf(buf, len, "%s-%s", PARTS[which[part < n ? part : 0]], pid);
}

void sb_coverage_write(sb_world *w, uint32_t idx, size_t part, yajl_gen g)
{
	size_t which[4];
	size_t n = parts(w, idx, which);
	size_t p = which[part < n ? part : 0];
	rng r = { mix(mix(bene_seed(w, idx), 0xC0E), p) };
	char pid[32], id[64], b[160];
	sb_patient_id(idx, pid, sizeof(pid));
	snprintf(id, sizeof(id), "%s-%s", PARTS[p], pid);
	static const char *const PLAN[] = { "Part A", "Part B", "Part C", "Part D" };
	JO(g);
	jkv(g, "resourceType", "Coverage");
	jkv(g, "id", id);
	resource_meta(g, sb_patient_last_updated_ms(w, idx), C4BB_SD "C4BB-Coverage");
	js(g, "extension");
	JA(g);
	JO(g);
	jkv(g, "url", BBV "ms_cd");
	js(g, "valueCoding");
	coding(g, BBV "ms_cd", "10", "Aged without end-stage renal disease (ESRD)");
	JC(g);
	if (p == 2 || p == 3) {
		for (int m = 1; m <= 12; m++) {
			char var[32];
			snprintf(var, sizeof(var), p == 2 ? "ptc_cntrct_id_%02d" : "ptdcntrct%02d", m);
			snprintf(b, sizeof(b), BBV "%s", var);
			JO(g);
			jkv(g, "url", b);
			js(g, "valueCoding");
			coding(g, b, p == 2 ? "H1234" : "S5678", NULL);
			JC(g);
		}
	} else {
		for (int m = 1; m <= 12; m++) {
			char var[16];
			snprintf(var, sizeof(var), "buyin%02d", m);
			snprintf(b, sizeof(b), BBV "%s", var);
			JO(g);
			jkv(g, "url", b);
			js(g, "valueCoding");
			coding(g, b, "3", "Part A and Part B");
			JC(g);
		}
	}
	JO(g);
	jkv(g, "url", BBV "rfrnc_yr");
	jkv(g, "valueDate", "2025");
	JC(g);
	JE(g);
	jkv(g, "status", "active");
	js(g, "type");
	cc1(g, HL7_CS "v3-ActCode", "SUBSIDIZ", NULL);
	digits_str(&r, 9, b);
	jkv(g, "subscriberId", b);
	js(g, "beneficiary");
	JO(g);
	snprintf(b, sizeof(b), "Patient/%s", pid);
	jkv(g, "reference", b);
	JC(g);
	js(g, "relationship");
	cc1(g, HL7_CS "subscriber-relationship", "self", "Self");
	js(g, "period");
	JO(g);
	day_kv(g, "start", days_from_civil(2010, 1, 1) + (int32_t)rbelow(&r, 2500));
	JC(g);
	js(g, "payor");
	JA(g);
	JO(g);
	js(g, "identifier");
	JO(g);
	jkv(g, "value", "Centers for Medicare and Medicaid Services");
	JC(g);
	JC(g);
	JE(g);
	js(g, "class");
	JA(g);
	JO(g);
	js(g, "type");
	cc1(g, HL7_CS "coverage-class", "group", "Group");
	jkv(g, "value", "Medicare");
	JC(g);
	JO(g);
	js(g, "type");
	cc1(g, HL7_CS "coverage-class", "plan", "Plan");
	jkv(g, "value", PLAN[p]);
	JC(g);
	JE(g);
	JC(g);
}

/* ---------------------------------------------------------------- truth */

static void put_cents(yajl_gen g, const char *k, int64_t cents)
{
	char b[40];
	sb_format_cents(cents, 1, b, sizeof(b));
	js(g, k);
	js(g, b);
}

static void print_cb(void *ctx, const char *s, size_t len)
{
	sbuf_append(ctx, s, len);
}

void sb_truth_json(sb_world *w, uint32_t idx, sbuf *out)
{
	sb_truth t;
	memset(&t, 0, sizeof(t));
	sb_claim *c;
	size_t n = sb_claims(w, idx, &c);
	yajl_gen sink = yajl_gen_alloc(NULL);
	for (size_t i = 0; i < n; i++) {
		sb_eob_write(w, idx, &c[i], sink, &t);
		yajl_gen_clear(sink);
		yajl_gen_reset(sink, NULL);
	}
	yajl_gen_free(sink);
	free(c);

	yajl_gen g = yajl_gen_alloc(NULL);
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_print_callback, print_cb, out);
	char b[64];
	JO(g);
	sb_username(idx, b, sizeof(b));
	jkv(g, "username", b);
	sb_patient_id(idx, b, sizeof(b));
	jkv(g, "patient", b);
	js(g, "eob");
	JO(g);
	jki(g, "count", (long long)t.eob);
	jki(g, "active", (long long)t.active);
	jki(g, "cancelled", (long long)t.cancelled);
	js(g, "by_type");
	JO(g);
	for (int k = 0; k < SB_NTYPES; k++)
		jki(g, TYPES[k].name, (long long)t.by_type[k]);
	JC(g);
	sb_format_instant(t.last_updated_max_ms, b, sizeof(b));
	jkv(g, "last_updated_max", t.eob ? b : "");
	jki(g, "header_extensions", (long long)t.extensions);
	jki(g, "payment_count", (long long)t.payments);
	put_cents(g, "payment_sum", t.payment_cents);
	JC(g);
	js(g, "eob_item");
	JO(g);
	jki(g, "count", (long long)t.items);
	JC(g);
	js(g, "eob_item_adjudication");
	JO(g);
	jki(g, "count", (long long)t.adjudications);
	jki(g, "amount_count", (long long)t.adjudication_amounts);
	put_cents(g, "amount_sum", t.adjudication_cents);
	JC(g);
	js(g, "eob_total");
	JO(g);
	jki(g, "total_count", (long long)t.totals);
	put_cents(g, "total_sum", t.total_cents);
	jki(g, "benefit_balance_count", (long long)t.benefit_financial);
	jki(g, "benefit_balance_money_count", (long long)t.benefit_money);
	put_cents(g, "benefit_balance_money_sum", t.benefit_money_cents);
	JC(g);
	js(g, "eob_diagnosis");
	JO(g);
	jki(g, "count", (long long)t.diagnoses);
	JC(g);
	js(g, "eob_procedure");
	JO(g);
	jki(g, "count", (long long)t.procedures);
	JC(g);
	js(g, "eob_care_team");
	JO(g);
	jki(g, "count", (long long)t.care_team);
	JC(g);
	js(g, "eob_supporting_info");
	JO(g);
	jki(g, "count", (long long)t.supporting_info);
	JC(g);
	js(g, "patient_resource");
	JO(g);
	jki(g, "count", 1);
	JC(g);
	js(g, "coverage");
	JO(g);
	jki(g, "count", (long long)sb_coverage_count(w, idx));
	JC(g);
	JC(g);
	yajl_gen_free(g);
}
