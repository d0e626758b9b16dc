/*
 * sb_data: the sandbox's synthetic Medicare data.
 *
 * Everything is derived from (seed, beneficiary index, claim slot) with a
 * counter-based generator, so nothing per beneficiary is kept in memory
 * except claims added at run time (the "weekly load" of the admin endpoint
 * and of the add-claim fault).  The resources follow the shapes of the real
 * BFD v2 responses: every claim type (carrier, dme, hha, hospice, inpatient,
 * outpatient, pde, snf), with their identifiers, codings, items,
 * adjudications, totals, payments, benefit balances and extensions.
 *
 * Amounts are kept as integer cents and written as exact decimal text;
 * sb_truth_json() adds them up the same way, so the ground truth matches what
 * a client that walks every page would store.
 */
#ifndef BB_SB_DATA_H
#define BB_SB_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "util.h"

typedef enum {
	SB_PROFILE_NORMAL = 0,  /* median about 32 claims, tail to 80 */
	SB_PROFILE_HEAVY,       /* thousands of claims per beneficiary */
} sb_profile;

typedef enum {
	SB_CARRIER = 0,
	SB_DME,
	SB_HHA,
	SB_HOSPICE,
	SB_INPATIENT,
	SB_OUTPATIENT,
	SB_PDE,
	SB_SNF,
	SB_NTYPES
} sb_claim_type;

/* lower-case eob-type code ("carrier") and the FHIR coding code ("CARRIER") */
const char *sb_type_name(sb_claim_type t);
const char *sb_type_code(sb_claim_type t);
/* parse a lower- or upper-case type name; -1 if unknown */
int sb_type_from_name(const char *s, size_t len);

/* One claim's header: enough to filter, sort and page without the body. */
typedef struct sb_claim {
	uint64_t num;            /* claim id digits (the id is "-" followed by them) */
	uint64_t body_seed;      /* seeds the generator of the body */
	int32_t from_day;        /* billablePeriod, days since 1970-01-01 */
	int32_t thru_day;
	int64_t last_updated_ms; /* meta.lastUpdated, ms since the epoch */
	uint8_t type;            /* sb_claim_type */
	bool cancelled;
} sb_claim;

typedef struct sb_world sb_world;

sb_world *sb_world_new(uint64_t seed, uint32_t beneficiaries, sb_profile profile);
void sb_world_free(sb_world *w);

uint32_t sb_world_size(const sb_world *w);

/* "BBUser00012" -> 12; -1 when not a user of this world */
int64_t sb_user_index(const sb_world *w, const char *username);
/* "-20140000000013" -> 12; -1 when not a patient of this world */
int64_t sb_patient_index(const sb_world *w, const char *patient_id);
/* buffers of at least 32 bytes */
void sb_username(uint32_t idx, char *buf, size_t len);
void sb_patient_id(uint32_t idx, char *buf, size_t len);

/*
 * The beneficiary's claims, sorted like BFD sorts them (by claim id, then
 * type); *out is allocated (free() it).  Includes claims added at run time.
 */
size_t sb_claims(sb_world *w, uint32_t idx, sb_claim **out);

/* Add n claims to a beneficiary, stamped with a lastUpdated after every
 * existing one; returns the beneficiary's new claim count. */
size_t sb_add_claims(sb_world *w, uint32_t idx, unsigned n);

/* The time of the last data load (fixed for the base data, then the time of
 * the latest sb_add_claims), ms since the epoch. */
int64_t sb_last_load_ms(sb_world *w);

/* Running totals of what a flattener would store (see sb_truth_json). */
typedef struct sb_truth {
	uint64_t eob, by_type[SB_NTYPES], active, cancelled;
	uint64_t items, adjudications, adjudication_amounts;
	int64_t adjudication_cents;
	uint64_t totals;
	int64_t total_cents;
	uint64_t benefit_financial, benefit_money;
	int64_t benefit_money_cents;
	uint64_t payments;
	int64_t payment_cents;
	uint64_t diagnoses, procedures, care_team, supporting_info, extensions;
	int64_t last_updated_max_ms;
} sb_truth;

/* Write one ExplanationOfBenefit resource.  t may be NULL. */
void sb_eob_write(sb_world *w, uint32_t idx, const sb_claim *c, yajl_gen g, sb_truth *t);

/* Patient resource and the beneficiary's Coverage resources (3 or 4). */
void sb_patient_write(sb_world *w, uint32_t idx, yajl_gen g);
size_t sb_coverage_count(sb_world *w, uint32_t idx);
void sb_coverage_write(sb_world *w, uint32_t idx, size_t part, yajl_gen g);
/* "part-a-<patient>" ... id of coverage number part */
void sb_coverage_id(sb_world *w, uint32_t idx, size_t part, char *buf, size_t len);
int64_t sb_patient_last_updated_ms(sb_world *w, uint32_t idx);

/* The ground truth of a beneficiary as JSON (appended to out). */
void sb_truth_json(sb_world *w, uint32_t idx, sbuf *out);

/* Format helpers shared with the server. */
void sb_format_instant(int64_t ms, char *buf, size_t len);   /* 2024-05-01T12:00:00.123+00:00 */
void sb_format_day(int32_t day, char *buf, size_t len);      /* 2024-05-01 */
/* Parse a FHIR date or dateTime ("2024-05-01", "2024-05-01T10:00:00Z",
 * "...T10:00:00.123-04:00") to ms since the epoch; false if malformed. */
bool sb_parse_instant(const char *s, int64_t *ms);
/* cents -> exact decimal text; style 0 minimal ("37.5"), 1 two decimals ("37.50") */
void sb_format_cents(int64_t cents, int style, char *buf, size_t len);

#endif
