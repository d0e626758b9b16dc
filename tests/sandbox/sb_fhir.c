/*
 * sb_fhir: see sb_fhir.h.
 */
#include "sb_fhir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#define DEFAULT_PAGE_SIZE 10
#define MAX_PAGE_SIZE 50
#define MAX_REPEAT 16
#define EOB_TYPE_SYSTEM "https://bluebutton.cms.gov/resources/codesystem/eob-type|"
#define NO_PERMISSION "You do not have permission to perform this action."

static void js(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void jkv(yajl_gen g, const char *k, const char *v)
{
	js(g, k);
	js(g, v);
}

static void print_cb(void *ctx, const char *s, size_t len)
{
	sbuf_append(ctx, s, len);
}

static yajl_gen gen_for(sb_reply *r)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	yajl_gen_config(g, yajl_gen_print_callback, print_cb, &r->body);
	sbuf_reset(&r->body);
	r->status = 200;
	r->content_type = "application/json";
	r->compressible = true;
	return g;
}

/* ---------------------------------------------------------------- metadata */

static void search_param(yajl_gen g, const char *name, const char *type)
{
	yajl_gen_map_open(g);
	jkv(g, "name", name);
	jkv(g, "type", type);
	yajl_gen_map_close(g);
}

void sb_fhir_metadata(const char *base_url, sb_reply *r)
{
	yajl_gen g = gen_for(r);
	char url[600];
	snprintf(url, sizeof(url), "%s/v2/fhir", base_url);
	yajl_gen_map_open(g);
	jkv(g, "resourceType", "CapabilityStatement");
	jkv(g, "status", "active");
	jkv(g, "date", "2025-06-30T04:00:00+00:00");
	jkv(g, "publisher", "Centers for Medicare & Medicaid Services");
	jkv(g, "kind", "instance");
	js(g, "software");
	yajl_gen_map_open(g);
	jkv(g, "name", "Blue Button API: Direct");
	jkv(g, "version", "bbsandbox-" BBINGEST_VERSION);
	yajl_gen_map_close(g);
	js(g, "implementation");
	yajl_gen_map_open(g);
	jkv(g, "description", "bbsandbox: Blue Button 2.0 sandbox emulator (synthetic data)");
	jkv(g, "url", url);
	yajl_gen_map_close(g);
	jkv(g, "fhirVersion", "4.0.1");
	js(g, "format");
	yajl_gen_array_open(g);
	js(g, "application/fhir+json");
	js(g, "json");
	yajl_gen_array_close(g);
	js(g, "rest");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	jkv(g, "mode", "server");
	js(g, "resource");
	yajl_gen_array_open(g);
	static const char *const RES[] = { "Coverage", "ExplanationOfBenefit", "Patient" };
	for (size_t i = 0; i < 3; i++) {
		char profile[128];
		snprintf(profile, sizeof(profile), "http://hl7.org/fhir/StructureDefinition/%s", RES[i]);
		yajl_gen_map_open(g);
		jkv(g, "type", RES[i]);
		jkv(g, "profile", profile);
		js(g, "interaction");
		yajl_gen_array_open(g);
		yajl_gen_map_open(g);
		jkv(g, "code", "read");
		yajl_gen_map_close(g);
		yajl_gen_map_open(g);
		jkv(g, "code", "search-type");
		yajl_gen_map_close(g);
		yajl_gen_array_close(g);
		js(g, "searchParam");
		yajl_gen_array_open(g);
		search_param(g, "_count", "number");
		search_param(g, "_lastUpdated", "date");
		search_param(g, "startIndex", "string");
		if (i == 0)
			search_param(g, "beneficiary", "reference");
		if (i == 1) {
			search_param(g, "patient", "reference");
			search_param(g, "service-date", "date");
			search_param(g, "type", "token");
		}
		if (i == 2)
			search_param(g, "_id", "token");
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	js(g, "security");
	yajl_gen_map_open(g);
	js(g, "cors");
	yajl_gen_bool(g, 1);
	js(g, "service");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	js(g, "coding");
	yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	jkv(g, "system", "http://terminology.hl7.org/CodeSystem/restful-security-service");
	jkv(g, "code", "OAuth");
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	yajl_gen_free(g);
}

/* ---------------------------------------------------------------- search params */

enum { OP_GT, OP_GE, OP_LT, OP_LE };

typedef struct bound {
	int op;
	int64_t ms;
} bound;

typedef struct search {
	long count, start;
	bound lu[MAX_REPEAT];
	size_t n_lu;
	bound sd[MAX_REPEAT];
	size_t n_sd;
	bool type_all;
	bool types[SB_NTYPES];
	sb_params echo;         /* validated filter params, repeated in links */
} search;

/* Python int(): optional blanks and sign, digits */
static bool py_int(const char *s, long *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || errno)
		return false;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end)
		return false;
	*out = v;
	return true;
}

static int parse_op(const char *v)
{
	if (strncmp(v, "gt", 2) == 0) return OP_GT;
	if (strncmp(v, "ge", 2) == 0) return OP_GE;
	if (strncmp(v, "lt", 2) == 0) return OP_LT;
	if (strncmp(v, "le", 2) == 0) return OP_LE;
	return -1;
}

static bool bound_ok(const bound *b, int64_t v)
{
	switch (b->op) {
	case OP_GT: return v > b->ms;
	case OP_GE: return v >= b->ms;
	case OP_LT: return v < b->ms;
	default: return v <= b->ms;
	}
}

static void upstream_400(sb_reply *r, const char *diag)
{
	char b[512];
	snprintf(b, sizeof(b), "An error occurred contacting the upstream server:%s", diag);
	sb_reply_detail(r, 400, b);
}

/* type: comma list of names or eob-type system|name, case-insensitive */
static bool parse_types(const char *v, search *s)
{
	const char *p = v;
	bool any = false;
	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *e = p + strcspn(p, ", \t");
		size_t n = (size_t)(e - p);
		size_t sl = strlen(EOB_TYPE_SYSTEM);
		const char *name = p;
		if (n >= sl && strncasecmp(p, EOB_TYPE_SYSTEM, sl) == 0) {
			name = p + sl;
			n -= sl;
			if (n == 0) {
				s->type_all = true;
				any = true;
				p = e;
				continue;
			}
		}
		int t = sb_type_from_name(name, n);
		if (t < 0)
			return false;
		s->types[t] = true;
		any = true;
		p = e;
	}
	return any;
}

/* 0 on success; otherwise r holds the 400 */
static int parse_search(const sb_params *q, bool eob, search *s, sb_reply *r)
{
	memset(s, 0, sizeof(*s));
	s->count = DEFAULT_PAGE_SIZE;
	const char *count = sb_params_get(q, "count");
	if (!count)
		count = sb_params_get(q, "_count");
	if (count) {
		if (!py_int(count, &s->count)) {
			sb_reply_detail(r, 400, "expected int");
			return -1;
		}
		if (s->count > MAX_PAGE_SIZE) {
			sb_reply_detail(r, 400, "value must be at most 50");
			return -1;
		}
		if (s->count < 0) {
			sb_reply_detail(r, 400, "value must be at least 0");
			return -1;
		}
	}
	const char *start = sb_params_get(q, "startIndex");
	if (start && !py_int(start, &s->start)) {
		sb_reply_detail(r, 400, "expected int");
		return -1;
	}
	for (size_t i = 0; i < q->n; i++) {
		const char *k = q->v[i].key, *v = q->v[i].value;
		bool lu = strcmp(k, "_lastUpdated") == 0;
		bool sd = eob && strcmp(k, "service-date") == 0;
		if (lu || sd) {
			int op = parse_op(v);
			if (op < 0 || strlen(v) < 3) {
				sb_reply_detail(r, 400, lu ? "the _lastUpdated operator is not valid"
				                           : "the service-date operator is not valid");
				return -1;
			}
			int64_t ms;
			if (!sb_parse_instant(v + 2, &ms)) {
				char diag[300];
				snprintf(diag, sizeof(diag), "Invalid date/time format: \"%.200s\"", v + 2);
				upstream_400(r, diag);
				return -1;
			}
			if ((lu ? s->n_lu : s->n_sd) >= MAX_REPEAT) {
				upstream_400(r, "too many date parameters");
				return -1;
			}
			if (lu)
				s->lu[s->n_lu++] = (bound){ op, ms };
			else
				s->sd[s->n_sd++] = (bound){ op, ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000 };
			sb_params_add(&s->echo, k, v);
		} else if (eob && strcmp(k, "type") == 0) {
			if (!parse_types(v, s)) {
				sb_reply_detail(r, 400, "the type parameter value is not valid");
				return -1;
			}
			sb_params_add(&s->echo, k, v);
		}
	}
	bool some = s->type_all;
	for (int t = 0; t < SB_NTYPES; t++)
		some |= s->types[t];
	if (!some || s->type_all)
		for (int t = 0; t < SB_NTYPES; t++)
			s->types[t] = true;
	/* what BFD then refuses */
	if (s->count == 0) {
		upstream_400(r, "Value for pageSize cannot be zero: 0");
		return -1;
	}
	if (s->start < 0) {
		char diag[100];
		snprintf(diag, sizeof(diag), "Value for startIndex cannot be negative: %ld", s->start);
		upstream_400(r, diag);
		return -1;
	}
	return 0;
}

static bool lu_ok(const search *s, int64_t ms)
{
	for (size_t i = 0; i < s->n_lu; i++) {
		if (!bound_ok(&s->lu[i], ms))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- bundle */

typedef enum { RES_EOB, RES_PATIENT, RES_COVERAGE } res_kind;

static const char *const RES_NAME[] = { "ExplanationOfBenefit", "Patient", "Coverage" };

static void link_url(sbuf *u, const char *base, res_kind k, const search *s, const char *pid, long start,
                     bool self)
{
	sbuf_printf(u, "%s/v2/fhir/%s%s?_count=%ld&_format=application%%2Fjson%%2Bfhir", base, RES_NAME[k],
	            self ? "/" : "", s->count);
	for (size_t i = 0; i < s->echo.n; i++) {
		sbuf_putc(u, '&');
		sb_url_encode(u, s->echo.v[i].key);
		sbuf_putc(u, '=');
		sb_url_encode(u, s->echo.v[i].value);
	}
	sbuf_printf(u, "&startIndex=%ld", start);
	if (k == RES_EOB)
		sbuf_printf(u, "&patient=%s", pid);
	else if (k == RES_COVERAGE)
		sbuf_printf(u, "&beneficiary=Patient%%2F%s", pid);
	else
		sbuf_printf(u, "&_id=%s", pid);
}

static void link(yajl_gen g, const char *rel, const char *base, res_kind k, const search *s, const char *pid,
                 long start, bool self)
{
	sbuf u;
	sbuf_init(&u, 0);
	link_url(&u, base, k, s, pid, start, self);
	yajl_gen_map_open(g);
	jkv(g, "relation", rel);
	jkv(g, "url", u.data);
	yajl_gen_map_close(g);
	sbuf_free(&u);
}

/* a stable Bundle.id: the same request on the same data gives the same id */
static void bundle_id(const char *base, res_kind k, const search *s, const char *pid, long total, char *out)
{
	sbuf u;
	sbuf_init(&u, 0);
	link_url(&u, base, k, s, pid, s->start, true);
	sbuf_printf(&u, "#%ld", total);
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)u.data, u.len, md);
	sbuf_free(&u);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x40);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1],
	         md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13], md[14],
	         md[15]);
}

typedef struct page_src {
	sb_world *w;
	uint32_t idx;
	res_kind kind;
	const sb_claim *claims;   /* EOB: matched claims */
	const size_t *parts;      /* Coverage: matched parts */
} page_src;

static void bundle(const page_src *ps, const search *s, long total, int64_t newest_ms, const char *base,
                   sb_reply *r)
{
	char pid[32], id[40], lu[40];
	sb_patient_id(ps->idx, pid, sizeof(pid));
	if (total > 0 && s->start >= total) {
		char diag[160];
		snprintf(diag, sizeof(diag), "Value for startIndex (%ld) must be less than than result size (%ld)",
		         s->start, total);
		upstream_400(r, diag);
		return;
	}
	yajl_gen g = gen_for(r);
	int64_t load = sb_last_load_ms(ps->w);
	sb_format_instant(newest_ms > load ? newest_ms : load, lu, sizeof(lu));
	bundle_id(base, ps->kind, s, pid, total, id);
	yajl_gen_map_open(g);
	jkv(g, "resourceType", "Bundle");
	jkv(g, "id", id);
	js(g, "meta");
	yajl_gen_map_open(g);
	jkv(g, "lastUpdated", lu);
	yajl_gen_map_close(g);
	jkv(g, "type", "searchset");
	js(g, "total");
	yajl_gen_integer(g, total);
	js(g, "link");
	yajl_gen_array_open(g);
	link(g, "first", base, ps->kind, s, pid, 0, false);
	if (s->start > 0) {
		long prev = s->start - s->count;
		link(g, "previous", base, ps->kind, s, pid, prev > 0 ? prev : 0, false);
	}
	if (s->start + s->count < total)
		link(g, "next", base, ps->kind, s, pid, s->start + s->count, false);
	link(g, "last", base, ps->kind, s, pid, total > 0 ? ((total - 1) / s->count) * s->count : 0, false);
	link(g, "self", base, ps->kind, s, pid, s->start, true);
	yajl_gen_array_close(g);
	long end = s->start + s->count < total ? s->start + s->count : total;
	if (end > s->start) {
		js(g, "entry");
		yajl_gen_array_open(g);
		for (long i = s->start; i < end; i++) {
			yajl_gen_map_open(g);
			js(g, "resource");
			if (ps->kind == RES_EOB)
				sb_eob_write(ps->w, ps->idx, &ps->claims[i], g, NULL);
			else if (ps->kind == RES_PATIENT)
				sb_patient_write(ps->w, ps->idx, g);
			else
				sb_coverage_write(ps->w, ps->idx, ps->parts[i], g);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
	yajl_gen_free(g);
}

static void eob_search(sb_world *w, const sb_access *a, const sb_params *q, const char *base, sb_reply *r)
{
	search s;
	if (parse_search(q, true, &s, r) < 0)
		goto out;
	sb_claim *c;
	size_t n = sb_claims(w, a->bene, &c);
	size_t m = 0;
	int64_t newest = 0;
	for (size_t i = 0; i < n; i++) {
		bool ok = s.types[c[i].type] && lu_ok(&s, c[i].last_updated_ms);
		for (size_t k = 0; ok && k < s.n_sd; k++)
			ok = bound_ok(&s.sd[k], c[i].thru_day);
		if (ok) {
			if (c[i].last_updated_ms > newest)
				newest = c[i].last_updated_ms;
			c[m++] = c[i];
		}
	}
	page_src ps = { .w = w, .idx = a->bene, .kind = RES_EOB, .claims = c };
	bundle(&ps, &s, (long)m, newest, base, r);
	free(c);
out:
	sb_params_free(&s.echo);
}

static void patient_search(sb_world *w, const sb_access *a, const sb_params *q, const char *base, sb_reply *r)
{
	search s;
	if (parse_search(q, false, &s, r) == 0) {
		int64_t lu = sb_patient_last_updated_ms(w, a->bene);
		bool ok = lu_ok(&s, lu);
		page_src ps = { .w = w, .idx = a->bene, .kind = RES_PATIENT };
		bundle(&ps, &s, ok ? 1 : 0, ok ? lu : 0, base, r);
	}
	sb_params_free(&s.echo);
}

static void coverage_search(sb_world *w, const sb_access *a, const sb_params *q, const char *base, sb_reply *r)
{
	search s;
	if (parse_search(q, false, &s, r) == 0) {
		int64_t lu = sb_patient_last_updated_ms(w, a->bene);
		size_t parts[4], n = 0;
		if (lu_ok(&s, lu)) {
			n = sb_coverage_count(w, a->bene);
			for (size_t i = 0; i < n; i++)
				parts[i] = i;
		}
		page_src ps = { .w = w, .idx = a->bene, .kind = RES_COVERAGE, .parts = parts };
		bundle(&ps, &s, (long)n, n ? lu : 0, base, r);
	}
	sb_params_free(&s.echo);
}

/* ---------------------------------------------------------------- reads */

static void eob_read(sb_world *w, const sb_access *a, const char *id, sb_reply *r)
{
	const char *dash = strchr(id, '-');
	int t = dash ? sb_type_from_name(id, (size_t)(dash - id)) : -1;
	if (t < 0 || dash[1] != '-' || strlen(dash + 2) != 15) {
		sb_reply_detail(r, 404, "Not found.");
		return;
	}
	sb_claim *c;
	size_t n = sb_claims(w, a->bene, &c);
	for (size_t i = 0; i < n; i++) {
		char cid[32];
		snprintf(cid, sizeof(cid), "%" PRIu64, c[i].num);
		if (c[i].type == t && strcmp(cid, dash + 2) == 0) {
			yajl_gen g = gen_for(r);
			sb_eob_write(w, a->bene, &c[i], g, NULL);
			yajl_gen_free(g);
			free(c);
			return;
		}
	}
	free(c);
	sb_reply_detail(r, 404, "Not found.");
}

void sb_fhir_handle(sb_world *w, const sb_access *a, const char *rest, const sb_params *query,
                    const char *base_url, sb_reply *r)
{
	static const struct {
		const char *name;
		res_kind kind;
	} ROUTES[] = { { "ExplanationOfBenefit", RES_EOB }, { "Patient", RES_PATIENT }, { "Coverage", RES_COVERAGE } };
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(ROUTES[i].name);
		if (strncmp(rest, ROUTES[i].name, n) != 0 || (rest[n] != '\0' && rest[n] != '/'))
			continue;
		res_kind k = ROUTES[i].kind;
		bool allowed = k == RES_EOB ? a->scope_eob : k == RES_PATIENT ? a->scope_patient : a->scope_coverage;
		if (!allowed) {
			sb_reply_detail(r, 403, NO_PERMISSION);
			return;
		}
		const char *id = rest[n] == '/' ? rest + n + 1 : "";
		char idbuf[96];
		snprintf(idbuf, sizeof(idbuf), "%s", id);
		size_t il = strlen(idbuf);
		if (il && idbuf[il - 1] == '/')
			idbuf[il - 1] = '\0';
		if (idbuf[0] == '\0') {
			if (k == RES_EOB)
				eob_search(w, a, query, base_url, r);
			else if (k == RES_PATIENT)
				patient_search(w, a, query, base_url, r);
			else
				coverage_search(w, a, query, base_url, r);
			return;
		}
		char pid[32];
		sb_patient_id(a->bene, pid, sizeof(pid));
		if (k == RES_EOB) {
			eob_read(w, a, idbuf, r);
		} else if (k == RES_PATIENT) {
			if (strcmp(idbuf, pid) != 0) {
				sb_reply_detail(r, 404, "Not found.");
				return;
			}
			yajl_gen g = gen_for(r);
			sb_patient_write(w, a->bene, g);
			yajl_gen_free(g);
		} else {
			size_t nc = sb_coverage_count(w, a->bene);
			for (size_t p = 0; p < nc; p++) {
				char cid[64];
				sb_coverage_id(w, a->bene, p, cid, sizeof(cid));
				if (strcmp(cid, idbuf) == 0) {
					yajl_gen g = gen_for(r);
					sb_coverage_write(w, a->bene, p, g);
					yajl_gen_free(g);
					return;
				}
			}
			sb_reply_detail(r, 404, "Not found.");
		}
		return;
	}
	sb_reply_detail(r, 404, "Not found.");
}

void sb_fhir_userinfo(sb_world *w, const sb_access *a, sb_reply *r)
{
	(void)w;
	if (!a->scope_profile) {
		sb_reply_detail(r, 403, NO_PERMISSION);
		return;
	}
	char pid[32], user[32];
	sb_patient_id(a->bene, pid, sizeof(pid));
	sb_username(a->bene, user, sizeof(user));
	r->status = 200;
	r->content_type = "application/json";
	sbuf_reset(&r->body);
	sbuf_printf(&r->body,
	            "{\"sub\":\"%s\",\"name\":\"%s\",\"given_name\":\"%s\",\"family_name\":\"\",\"email\":\"\","
	            "\"iat\":\"%s\",\"patient\":\"%s\"}",
	            pid, user, user, "2025-06-30T04:00:00.000Z", pid);
}
