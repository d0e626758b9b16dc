/*
 * flatten: one FHIR resource's SAX events -> its rows (see flatten.h).
 *
 * Parsing keeps an explicit frame stack (one frame per open object or array,
 * capped at max_depth).  Each frame carries a semantic context (C_*) derived
 * from its parent's context and the key (or array position) that opened it;
 * scalars are stored into a per-resource model according to (context, key).
 * Strings are copied into an arena and every model list is a vector reused
 * from resource to resource, so steady-state parsing allocates nothing.
 * When the resource's object closes, the model is turned into rows.
 */
#include "flatten.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* table definitions (the contract with sql/002_claims.sql)            */

enum { EOB_ID, EOB_PARTICIPANT, EOB_PATIENT, EOB_CLAIM_TYPE, EOB_CLAIM_TYPE_CODE, EOB_CLAIM_ID,
	EOB_CLAIM_GROUP, EOB_STATUS, EOB_OUTCOME, EOB_BILL_START, EOB_BILL_END, EOB_PROV_NPI,
	EOB_PROV_NAME, EOB_FAC_NPI, EOB_FAC_NAME, EOB_COVERAGE, EOB_PAY_AMOUNT, EOB_PAY_DATE,
	EOB_LAST_UPDATED, EOB_API_VERSION, EOB_NCOLS };
static const flat_column cols_eob[] = {
	{ "eob_id", FC_TEXT }, { "participant_id", FC_TEXT }, { "patient_id", FC_TEXT },
	{ "claim_type", FC_TEXT }, { "claim_type_code", FC_TEXT }, { "claim_id", FC_TEXT },
	{ "claim_group", FC_TEXT }, { "status", FC_TEXT }, { "outcome", FC_TEXT },
	{ "billable_start", FC_DATE }, { "billable_end", FC_DATE }, { "provider_npi", FC_TEXT },
	{ "provider_name", FC_TEXT }, { "facility_npi", FC_TEXT }, { "facility_name", FC_TEXT },
	{ "coverage_id", FC_TEXT }, { "payment_amount", FC_NUMERIC }, { "payment_date", FC_DATE },
	{ "last_updated", FC_TIMESTAMPTZ }, { "api_version", FC_TEXT },
};

enum { IT_EOB, IT_SEQ, IT_PROD_SYSTEM, IT_PROD_CODE, IT_PROD_DISPLAY, IT_REVENUE, IT_CATEGORY,
	IT_MODIFIERS, IT_SSTART, IT_SEND, IT_QTY, IT_POS, IT_CT, IT_DX, IT_PX, IT_INFO, IT_NCOLS };
static const flat_column cols_item[] = {
	{ "eob_id", FC_TEXT }, { "sequence", FC_INT }, { "product_system", FC_TEXT },
	{ "product_code", FC_TEXT }, { "product_display", FC_TEXT }, { "revenue_code", FC_TEXT },
	{ "category", FC_TEXT }, { "modifiers", FC_TEXT_ARRAY }, { "serviced_start", FC_DATE },
	{ "serviced_end", FC_DATE }, { "quantity", FC_NUMERIC }, { "place_of_service", FC_TEXT },
	{ "care_team_sequences", FC_INT_ARRAY }, { "diagnosis_sequences", FC_INT_ARRAY },
	{ "procedure_sequences", FC_INT_ARRAY }, { "information_sequences", FC_INT_ARRAY },
};

enum { AD_EOB, AD_ITEM, AD_ORD, AD_CATEGORY, AD_VARIABLE, AD_AMOUNT, AD_VALUE, AD_RSYSTEM,
	AD_RCODE, AD_NCOLS };
static const flat_column cols_adj[] = {
	{ "eob_id", FC_TEXT }, { "item_sequence", FC_INT }, { "ordinal", FC_INT },
	{ "category", FC_TEXT }, { "variable", FC_TEXT }, { "amount", FC_NUMERIC },
	{ "value", FC_NUMERIC }, { "reason_system", FC_TEXT }, { "reason_code", FC_TEXT },
};

enum { DT_EOB, DT_ITEM, DT_ORD, DT_SEQ, DT_PROD_SYSTEM, DT_PROD_CODE, DT_PROD_DISPLAY, DT_REVENUE,
	DT_CATEGORY, DT_MODIFIERS, DT_PROGRAMS, DT_QTY, DT_QTY_UNIT, DT_QTY_SYSTEM, DT_QTY_CODE,
	DT_UNIT_PRICE, DT_FACTOR, DT_NET, DT_ADJ, DT_NCOLS };
static const flat_column cols_detail[] = {
	{ "eob_id", FC_TEXT }, { "item_sequence", FC_INT }, { "ordinal", FC_INT },
	{ "sequence", FC_INT }, { "product_system", FC_TEXT }, { "product_code", FC_TEXT },
	{ "product_display", FC_TEXT }, { "revenue_code", FC_TEXT }, { "category", FC_TEXT },
	{ "modifiers", FC_TEXT_ARRAY }, { "program_codes", FC_TEXT_ARRAY }, { "quantity", FC_NUMERIC },
	{ "quantity_unit", FC_TEXT }, { "quantity_system", FC_TEXT }, { "quantity_code", FC_TEXT },
	{ "unit_price", FC_NUMERIC }, { "factor", FC_NUMERIC }, { "net", FC_NUMERIC },
	{ "adjudications", FC_JSONB },
};

enum { DX_EOB, DX_SEQ, DX_SYSTEM, DX_CODE, DX_DISPLAY, DX_TYPE, DX_ONADM, DX_PKG, DX_NCOLS };
static const flat_column cols_diag[] = {
	{ "eob_id", FC_TEXT }, { "sequence", FC_INT }, { "system", FC_TEXT }, { "code", FC_TEXT },
	{ "display", FC_TEXT }, { "type", FC_TEXT }, { "on_admission", FC_TEXT },
	{ "package_code", FC_TEXT },
};

enum { PX_EOB, PX_SEQ, PX_SYSTEM, PX_CODE, PX_DISPLAY, PX_TYPE, PX_DATE, PX_NCOLS };
static const flat_column cols_proc[] = {
	{ "eob_id", FC_TEXT }, { "sequence", FC_INT }, { "system", FC_TEXT }, { "code", FC_TEXT },
	{ "display", FC_TEXT }, { "type", FC_TEXT }, { "performed_date", FC_DATE },
};

enum { CT_EOB, CT_SEQ, CT_PID, CT_PIDTYPE, CT_PNAME, CT_ROLE, CT_QUAL, CT_RESP, CT_NCOLS };
static const flat_column cols_ct[] = {
	{ "eob_id", FC_TEXT }, { "sequence", FC_INT }, { "provider_id", FC_TEXT },
	{ "provider_id_type", FC_TEXT }, { "provider_name", FC_TEXT }, { "role", FC_TEXT },
	{ "qualification", FC_TEXT }, { "responsible", FC_BOOL },
};

enum { SI_EOB, SI_ORD, SI_SEQ, SI_CATEGORY, SI_VARIABLE, SI_CSYSTEM, SI_CODE, SI_CDISPLAY, SI_TSTART,
	SI_TEND, SI_VNUM, SI_VTEXT, SI_NCOLS };
static const flat_column cols_si[] = {
	{ "eob_id", FC_TEXT }, { "ordinal", FC_INT }, { "sequence", FC_INT },
	{ "category", FC_TEXT }, { "variable", FC_TEXT }, { "code_system", FC_TEXT }, { "code", FC_TEXT },
	{ "code_display", FC_TEXT }, { "timing_start", FC_DATE }, { "timing_end", FC_DATE },
	{ "value_number", FC_NUMERIC }, { "value_text", FC_TEXT },
};

enum { TO_EOB, TO_KIND, TO_ORD, TO_CATEGORY, TO_VARIABLE, TO_AMOUNT, TO_QTY, TO_RCODE, TO_NCOLS };
static const flat_column cols_total[] = {
	{ "eob_id", FC_TEXT }, { "kind", FC_TEXT }, { "ordinal", FC_INT }, { "category", FC_TEXT },
	{ "variable", FC_TEXT }, { "amount", FC_NUMERIC }, { "quantity", FC_NUMERIC },
	{ "reason_code", FC_TEXT },
};

enum { EX_EOB, EX_ORD, EX_ELEMENT, EX_ITEM, EX_URL, EX_VTYPE, EX_VSYSTEM, EX_VCODE, EX_VDISPLAY,
	EX_VTEXT, EX_VNUM, EX_VDATE, EX_VEND, EX_NCOLS };
static const flat_column cols_ext[] = {
	{ "eob_id", FC_TEXT }, { "ordinal", FC_INT }, { "element", FC_TEXT },
	{ "item_sequence", FC_INT }, { "url", FC_TEXT }, { "value_type", FC_TEXT },
	{ "value_system", FC_TEXT }, { "value_code", FC_TEXT }, { "value_display", FC_TEXT },
	{ "value_text", FC_TEXT }, { "value_number", FC_NUMERIC }, { "value_date", FC_DATE },
	{ "value_date_end", FC_DATE },
};

enum { PA_ID, PA_PARTICIPANT, PA_GENDER, PA_BIRTH, PA_DECEASED_DATE, PA_DECEASED, PA_RACE,
	PA_STATE, PA_POSTAL, PA_LAST_UPDATED, PA_API_VERSION, PA_EXTENSIONS, PA_NCOLS };
static const flat_column cols_patient[] = {
	{ "patient_id", FC_TEXT }, { "participant_id", FC_TEXT }, { "gender", FC_TEXT },
	{ "birth_date", FC_DATE }, { "deceased_date", FC_DATE }, { "deceased", FC_BOOL },
	{ "race_code", FC_TEXT }, { "state", FC_TEXT }, { "postal_code", FC_TEXT },
	{ "last_updated", FC_TIMESTAMPTZ }, { "api_version", FC_TEXT }, { "extensions", FC_JSONB },
};

enum { CV_ID, CV_PARTICIPANT, CV_PATIENT, CV_PART, CV_PLAN, CV_STATUS, CV_TYPE, CV_REL,
	CV_START, CV_END, CV_PAYOR, CV_CONTRACTS, CV_PBPS, CV_REFYEAR, CV_LAST_UPDATED,
	CV_API_VERSION, CV_EXTENSIONS, CV_NCOLS };
static const flat_column cols_coverage[] = {
	{ "coverage_id", FC_TEXT }, { "participant_id", FC_TEXT }, { "patient_id", FC_TEXT },
	{ "part", FC_TEXT }, { "plan", FC_TEXT }, { "status", FC_TEXT }, { "type_code", FC_TEXT },
	{ "relationship", FC_TEXT }, { "period_start", FC_DATE }, { "period_end", FC_DATE },
	{ "payor", FC_TEXT }, { "contract_ids", FC_TEXT_ARRAY }, { "plan_ids", FC_TEXT_ARRAY },
	{ "reference_year", FC_INT }, { "last_updated", FC_TIMESTAMPTZ },
	{ "api_version", FC_TEXT }, { "extensions", FC_JSONB },
};

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))
_Static_assert(NCOLS(cols_eob) == EOB_NCOLS, "eob columns");
_Static_assert(NCOLS(cols_item) == IT_NCOLS, "item columns");
_Static_assert(NCOLS(cols_adj) == AD_NCOLS, "adjudication columns");
_Static_assert(NCOLS(cols_detail) == DT_NCOLS, "detail columns");
_Static_assert((int)DT_NCOLS <= (int)EOB_NCOLS, "an EOB's row buffer holds a detail row");
_Static_assert(NCOLS(cols_diag) == DX_NCOLS, "diagnosis columns");
_Static_assert(NCOLS(cols_proc) == PX_NCOLS, "procedure columns");
_Static_assert(NCOLS(cols_ct) == CT_NCOLS, "care team columns");
_Static_assert(NCOLS(cols_si) == SI_NCOLS, "supporting info columns");
_Static_assert(NCOLS(cols_total) == TO_NCOLS, "total columns");
_Static_assert(NCOLS(cols_ext) == EX_NCOLS, "extension columns");
_Static_assert(NCOLS(cols_patient) == PA_NCOLS, "patient columns");
_Static_assert(NCOLS(cols_coverage) == CV_NCOLS, "coverage columns");

const flat_table_def flat_tables[FT_COUNT] = {
	[FT_EOB] = { "eob", cols_eob, NCOLS(cols_eob) },
	[FT_EOB_ITEM] = { "eob_item", cols_item, NCOLS(cols_item) },
	[FT_EOB_ITEM_ADJUDICATION] = { "eob_item_adjudication", cols_adj, NCOLS(cols_adj) },
	[FT_EOB_ITEM_DETAIL] = { "eob_item_detail", cols_detail, NCOLS(cols_detail) },
	[FT_EOB_DIAGNOSIS] = { "eob_diagnosis", cols_diag, NCOLS(cols_diag) },
	[FT_EOB_PROCEDURE] = { "eob_procedure", cols_proc, NCOLS(cols_proc) },
	[FT_EOB_CARE_TEAM] = { "eob_care_team", cols_ct, NCOLS(cols_ct) },
	[FT_EOB_SUPPORTING_INFO] = { "eob_supporting_info", cols_si, NCOLS(cols_si) },
	[FT_EOB_TOTAL] = { "eob_total", cols_total, NCOLS(cols_total) },
	[FT_EOB_EXTENSION] = { "eob_extension", cols_ext, NCOLS(cols_ext) },
	[FT_PATIENT] = { "patient", cols_patient, NCOLS(cols_patient) },
	[FT_COVERAGE] = { "coverage", cols_coverage, NCOLS(cols_coverage) },
};

/* ------------------------------------------------------------------ */
/* well-known systems                                                 */

#define BB_VARIABLES "https://bluebutton.cms.gov/resources/variables/"
#define SYS_EOB_TYPE_V2 "https://bluebutton.cms.gov/resources/codesystem/eob-type"
#define SYS_EOB_TYPE_V3 "https://bluebutton.cms.gov/fhir/CodeSystem/EOB-TYPE"
#define SYS_CLM_TYPE_V2 BB_VARIABLES "nch_clm_type_cd"
#define SYS_CLM_TYPE_V3 "https://bluebutton.cms.gov/fhir/CodeSystem/CLM-TYPE-CD"
#define SYS_CLAIM_TYPE "http://terminology.hl7.org/CodeSystem/claim-type"
#define SYS_BB_V3_PREFIX "https://bluebutton.cms.gov/fhir/"
#define SYS_ADJ_V2 "https://bluebutton.cms.gov/resources/codesystem/adjudication"
#define SYS_ADJ_V3 "https://bluebutton.cms.gov/fhir/CodeSystem/Adjudication"
#define SYS_INFO_V2 "https://bluebutton.cms.gov/resources/codesystem/information"
#define SYS_INFO_V3 "https://bluebutton.cms.gov/fhir/CodeSystem/Information"
#define SYS_BENEFIT_BALANCE "https://bluebutton.cms.gov/resources/codesystem/benefit-balance"
#define SYS_CLAIM_GROUP "https://bluebutton.cms.gov/resources/identifier/claim-group"
#define SYS_US_NPI "http://hl7.org/fhir/sid/us-npi"

/* ------------------------------------------------------------------ */
/* keys                                                               */

#define KEYS(X) \
	X(resourceType) X(id) X(meta) X(lastUpdated) X(profile) X(status) X(type) \
	X(identifier) X(system) X(value) X(code) X(display) X(coding) X(text) \
	X(extension) X(modifierExtension) X(url) X(contained) X(name) X(family) \
	X(patient) X(reference) X(billablePeriod) X(start) X(end) X(provider) \
	X(facility) X(careTeam) X(sequence) X(role) X(qualification) X(responsible) \
	X(diagnosis) X(diagnosisCodeableConcept) X(onAdmission) X(packageCode) \
	X(procedure) X(procedureCodeableConcept) X(date) X(supportingInfo) X(category) \
	X(timingDate) X(timingPeriod) X(item) X(careTeamSequence) X(diagnosisSequence) \
	X(procedureSequence) X(informationSequence) X(productOrService) X(modifier) \
	X(revenue) X(servicedDate) X(servicedPeriod) X(locationCodeableConcept) \
	X(quantity) X(adjudication) X(amount) X(reason) X(total) X(payment) \
	X(benefitBalance) X(financial) X(usedMoney) X(allowedMoney) X(usedUnsignedInt) \
	X(allowedUnsignedInt) X(insurance) X(focal) X(coverage) X(outcome) X(issue) \
	X(severity) X(details) X(diagnostics) X(link) X(relation) X(gender) \
	X(birthDate) X(deceasedDateTime) X(deceasedBoolean) X(address) X(state) \
	X(postalCode) X(beneficiary) X(relationship) X(period) X(payor) X(class) \
	X(unit) X(currency) X(valueString) X(valueBoolean) X(valueReference) \
	X(valueQuantity) X(valueIdentifier) X(valueCoding) X(valueCodeableConcept) \
	X(valueDecimal) X(valueInteger) X(valueUnsignedInt) X(valuePositiveInt) \
	X(valueDate) X(valueDateTime) X(valueInstant) X(valueCode) X(valueMoney) \
	X(valuePeriod) X(valueUri) X(valueUrl) X(valueCanonical) X(valueId) \
	X(valueMarkdown) X(valueOid) X(valueTime) X(valueAge) X(valueCount) \
	X(valueDuration) X(valueDistance) X(detail) X(programCode) X(unitPrice) X(factor) \
	X(net)

#define K_ENUM(k) K_##k,
#define K_NAME(k) #k,
enum { K_NONE = 0, KEYS(K_ENUM) K_VALUE_OTHER, K_COUNT };
static const char *const key_names[] = { "", KEYS(K_NAME) };

#define KEYHASH_SIZE 1024u

/* Cheap hash of a key: length and three of its bytes (collisions probe on). */
static uint32_t key_hash(const char *k, size_t n)
{
	const unsigned char *u = (const unsigned char *)k;

	if (n == 0)
		return 0;
	return (uint32_t)n * 131u + u[0] * 7u + u[n / 2] * 31u + u[n - 1] * 17u + u[(n - 1) / 3] * 3u;
}

/* ------------------------------------------------------------------ */
/* contexts                                                           */

enum ctx {
	C_NONE = 0, C_SKIP, C_RES, C_META, C_PROFILE, C_RES_TYPE, C_CODING, C_IDENT, C_IDENT_TYPE,
	C_CONTAINED, C_HNAME, C_CONT_VQ,
	C_REF_PATIENT, C_REF_PROVIDER, C_REF_FACILITY, C_REF_BENEF, C_REF_PAYOR, C_CT_PROV,
	C_INS_COV, C_REF_IDENT, C_REF_IDENT_TYPE,
	C_BILLABLE, C_COV_PERIOD, C_ITEM_SPERIOD, C_SI_PERIOD,
	C_CARETEAM, C_CT_ROLE, C_CT_QUAL,
	C_DIAG, C_DIAG_CC, C_DIAG_TYPE, C_DIAG_ONADM, C_DIAG_PKG,
	C_PROC, C_PROC_CC, C_PROC_TYPE,
	C_SUPINFO, C_SI_CAT, C_SI_CODE, C_SI_VQ, C_SI_VREF, C_SI_VIDENT,
	C_ITEM, C_IL_CT, C_IL_DX, C_IL_PX, C_IL_INFO, C_ITEM_PROD, C_ITEM_MOD, C_ITEM_REV,
	C_ITEM_CAT, C_ITEM_LOC, C_ITEM_QTY,
	C_DETAIL, C_DET_PROD, C_DET_MOD, C_DET_PROG, C_DET_REV, C_DET_CAT, C_DET_QTY, C_DET_UPRICE,
	C_DET_NET,
	C_ADJ, C_ADJ_CAT, C_ADJ_REASON, C_ADJ_AMT,
	C_TOTAL, C_TOT_CAT, C_TOT_AMT, C_PAYMENT, C_PAY_AMT,
	C_BB, C_BB_CAT, C_FIN, C_FIN_TYPE, C_FIN_UMONEY, C_FIN_AMONEY,
	C_INS, C_ISSUE, C_ISSUE_DET, C_LINK, C_ADDR, C_RELATIONSHIP, C_CLASS, C_CLASS_TYPE,
	C_EXT, C_EXT_CODING, C_EXT_CC, C_EXT_IDENT, C_EXT_QTY, C_EXT_PERIOD, C_EXT_REF,
	C_COUNT
};

/* shapes a key's value may take */
enum { SH_MAP = 1, SH_ARRAY = 2, SH_SCALAR = 4, SH_ANY = 7 };

typedef struct child {
	uint16_t ctx;       /* context of the value (for arrays: of each element) */
	uint8_t shape;      /* allowed shapes of the value */
	uint8_t elem;       /* for arrays: allowed shape of the elements */
} child;

static bool is_cc(int ctx)
{
	switch (ctx) {
	case C_RES_TYPE: case C_IDENT_TYPE: case C_REF_IDENT_TYPE: case C_CT_ROLE: case C_CT_QUAL:
	case C_DIAG_CC: case C_DIAG_TYPE: case C_DIAG_ONADM: case C_DIAG_PKG: case C_PROC_CC:
	case C_PROC_TYPE: case C_SI_CAT: case C_SI_CODE: case C_ITEM_PROD: case C_ITEM_MOD:
	case C_ITEM_REV: case C_ITEM_CAT: case C_ITEM_LOC: case C_ADJ_CAT: case C_ADJ_REASON:
	case C_TOT_CAT: case C_BB_CAT: case C_FIN_TYPE: case C_ISSUE_DET: case C_RELATIONSHIP:
	case C_CLASS_TYPE: case C_EXT_CC: case C_DET_PROD: case C_DET_MOD: case C_DET_PROG:
	case C_DET_REV: case C_DET_CAT:
		return true;
	default:
		return false;
	}
}

static bool is_ref(int ctx)
{
	switch (ctx) {
	case C_REF_PATIENT: case C_REF_PROVIDER: case C_REF_FACILITY: case C_REF_BENEF:
	case C_REF_PAYOR: case C_CT_PROV: case C_INS_COV:
		return true;
	default:
		return false;
	}
}

#define M(c) ((child){ (c), SH_MAP, 0 })
#define AM(c) ((child){ (c), SH_ARRAY, SH_MAP })
#define AS(c) ((child){ (c), SH_ARRAY, SH_SCALAR })
#define S ((child){ C_NONE, SH_SCALAR, 0 })
#define SKIP ((child){ C_SKIP, SH_ANY, SH_ANY })

/* What the value of `key` inside a container of context `ctx` is. */
static child child_of(int ctx, int key)
{
	if (key == K_extension || key == K_modifierExtension)
		return AM(C_EXT);
	if (ctx == C_SKIP)
		return SKIP;
	if (key == K_coding && is_cc(ctx))
		return AM(C_CODING);
	if (is_ref(ctx)) {
		switch (key) {
		case K_reference: case K_display: return S;
		case K_identifier: return M(C_REF_IDENT);
		default: return SKIP;
		}
	}
	switch (ctx) {
	case C_RES:
		switch (key) {
		case K_resourceType: case K_id: case K_status: case K_outcome: case K_gender:
		case K_birthDate: case K_deceasedDateTime: case K_deceasedBoolean:
			return S;
		case K_meta: return M(C_META);
		case K_type: return (child){ C_RES_TYPE, SH_MAP | SH_SCALAR, 0 };
		case K_identifier: return AM(C_IDENT);
		case K_contained: return AM(C_CONTAINED);
		case K_patient: return M(C_REF_PATIENT);
		case K_billablePeriod: return M(C_BILLABLE);
		case K_provider: return M(C_REF_PROVIDER);
		case K_facility: return M(C_REF_FACILITY);
		case K_careTeam: return AM(C_CARETEAM);
		case K_diagnosis: return AM(C_DIAG);
		case K_procedure: return AM(C_PROC);
		case K_supportingInfo: return AM(C_SUPINFO);
		case K_item: return AM(C_ITEM);
		case K_adjudication: return AM(C_ADJ);
		case K_total: return (child){ C_TOTAL, SH_ARRAY | SH_SCALAR, SH_MAP };
		case K_payment: return M(C_PAYMENT);
		case K_benefitBalance: return AM(C_BB);
		case K_insurance: return AM(C_INS);
		case K_issue: return AM(C_ISSUE);
		case K_link: return AM(C_LINK);
		case K_address: return AM(C_ADDR);
		case K_beneficiary: return M(C_REF_BENEF);
		case K_relationship: return M(C_RELATIONSHIP);
		case K_period: return M(C_COV_PERIOD);
		case K_payor: return AM(C_REF_PAYOR);
		case K_class: return AM(C_CLASS);
		default: return SKIP;
		}
	case C_META:
		if (key == K_lastUpdated)
			return S;
		if (key == K_profile)
			return AS(C_PROFILE);
		return SKIP;
	case C_CODING:
		if (key == K_system || key == K_code || key == K_display)
			return S;
		return SKIP;
	case C_IDENT:
	case C_REF_IDENT:
		if (key == K_system || key == K_value)
			return S;
		if (key == K_type)
			return M(ctx == C_IDENT ? C_IDENT_TYPE : C_REF_IDENT_TYPE);
		return SKIP;
	case C_CONTAINED:
		switch (key) {
		case K_resourceType: case K_id: return S;
		case K_name: return (child){ C_HNAME, SH_ARRAY | SH_SCALAR, SH_MAP };
		case K_identifier: return AM(C_IDENT);
		case K_valueString: return S;
		case K_valueQuantity: return M(C_CONT_VQ);
		default: return SKIP;
		}
	case C_HNAME:
		return key == K_family || key == K_text ? S : SKIP;
	case C_CONT_VQ:
		return key == K_value ? S : SKIP;
	case C_BILLABLE: case C_COV_PERIOD: case C_ITEM_SPERIOD: case C_SI_PERIOD: case C_EXT_PERIOD:
		return key == K_start || key == K_end ? S : SKIP;
	case C_CARETEAM:
		switch (key) {
		case K_sequence: case K_responsible: return S;
		case K_provider: return M(C_CT_PROV);
		case K_role: return M(C_CT_ROLE);
		case K_qualification: return M(C_CT_QUAL);
		default: return SKIP;
		}
	case C_DIAG:
		switch (key) {
		case K_sequence: return S;
		case K_diagnosisCodeableConcept: return M(C_DIAG_CC);
		case K_type: return AM(C_DIAG_TYPE);
		case K_onAdmission: return M(C_DIAG_ONADM);
		case K_packageCode: return M(C_DIAG_PKG);
		default: return SKIP;
		}
	case C_PROC:
		switch (key) {
		case K_sequence: case K_date: return S;
		case K_procedureCodeableConcept: return M(C_PROC_CC);
		case K_type: return AM(C_PROC_TYPE);
		default: return SKIP;
		}
	case C_SUPINFO:
		switch (key) {
		case K_sequence: case K_timingDate: case K_valueString: case K_valueBoolean: return S;
		case K_category: return M(C_SI_CAT);
		case K_code: return M(C_SI_CODE);
		case K_timingPeriod: return M(C_SI_PERIOD);
		case K_valueQuantity: return M(C_SI_VQ);
		case K_valueReference: return M(C_SI_VREF);
		case K_valueIdentifier: return M(C_SI_VIDENT);
		default: return SKIP;
		}
	case C_SI_VQ:
		return key == K_value ? S : SKIP;
	case C_SI_VREF:
		return key == K_reference ? S : SKIP;
	case C_SI_VIDENT:
		return key == K_value ? S : SKIP;
	case C_ITEM:
		switch (key) {
		case K_sequence: case K_servicedDate: return S;
		case K_careTeamSequence: return AS(C_IL_CT);
		case K_diagnosisSequence: return AS(C_IL_DX);
		case K_procedureSequence: return AS(C_IL_PX);
		case K_informationSequence: return AS(C_IL_INFO);
		case K_productOrService: return M(C_ITEM_PROD);
		case K_modifier: return AM(C_ITEM_MOD);
		case K_revenue: return M(C_ITEM_REV);
		case K_category: return M(C_ITEM_CAT);
		case K_servicedPeriod: return M(C_ITEM_SPERIOD);
		case K_locationCodeableConcept: return M(C_ITEM_LOC);
		case K_quantity: return M(C_ITEM_QTY);
		case K_adjudication: return AM(C_ADJ);
		case K_detail: return AM(C_DETAIL);
		default: return SKIP;
		}
	case C_ITEM_QTY:
		return key == K_value ? S : SKIP;
	case C_DETAIL:
		switch (key) {
		case K_sequence: case K_factor: return S;
		case K_productOrService: return M(C_DET_PROD);
		case K_modifier: return AM(C_DET_MOD);
		case K_programCode: return AM(C_DET_PROG);
		case K_revenue: return M(C_DET_REV);
		case K_category: return M(C_DET_CAT);
		case K_quantity: return M(C_DET_QTY);
		case K_unitPrice: return M(C_DET_UPRICE);
		case K_net: return M(C_DET_NET);
		case K_adjudication: return AM(C_ADJ);
		default: return SKIP;   /* subDetail, udi, noteNumber: not modelled */
		}
	case C_DET_QTY:
		switch (key) {
		case K_value: case K_unit: case K_system: case K_code: return S;
		default: return SKIP;
		}
	case C_DET_UPRICE: case C_DET_NET:
		return key == K_value ? S : SKIP;
	case C_ADJ:
		switch (key) {
		case K_value: return S;
		case K_category: return M(C_ADJ_CAT);
		case K_reason: return M(C_ADJ_REASON);
		case K_amount: return M(C_ADJ_AMT);
		default: return SKIP;
		}
	case C_ADJ_AMT: case C_TOT_AMT: case C_PAY_AMT: case C_FIN_UMONEY: case C_FIN_AMONEY:
		return key == K_value ? S : SKIP;
	case C_TOTAL:
		if (key == K_category)
			return M(C_TOT_CAT);
		if (key == K_amount)
			return M(C_TOT_AMT);
		return SKIP;
	case C_PAYMENT:
		if (key == K_amount)
			return M(C_PAY_AMT);
		if (key == K_date)
			return S;
		return SKIP;
	case C_BB:
		if (key == K_category)
			return M(C_BB_CAT);
		if (key == K_financial)
			return AM(C_FIN);
		return SKIP;
	case C_FIN:
		switch (key) {
		case K_type: return M(C_FIN_TYPE);
		case K_usedMoney: return M(C_FIN_UMONEY);
		case K_allowedMoney: return M(C_FIN_AMONEY);
		case K_usedUnsignedInt: case K_allowedUnsignedInt: return S;
		default: return SKIP;
		}
	case C_INS:
		if (key == K_focal)
			return S;
		if (key == K_coverage)
			return M(C_INS_COV);
		return SKIP;
	case C_ISSUE:
		switch (key) {
		case K_severity: case K_code: case K_diagnostics: return S;
		case K_details: return M(C_ISSUE_DET);
		default: return SKIP;
		}
	case C_ISSUE_DET:
		return key == K_text ? S : SKIP;
	case C_LINK:
		return key == K_relation || key == K_url ? S : SKIP;
	case C_ADDR:
		return key == K_state || key == K_postalCode ? S : SKIP;
	case C_CLASS:
		if (key == K_value || key == K_name)
			return S;
		if (key == K_type)
			return M(C_CLASS_TYPE);
		return SKIP;
	case C_EXT:
		switch (key) {
		case K_url: case K_valueString: case K_valueBoolean: case K_valueDecimal:
		case K_valueInteger: case K_valueUnsignedInt: case K_valuePositiveInt: case K_valueDate:
		case K_valueDateTime: case K_valueInstant: case K_valueCode: case K_valueUri:
		case K_valueUrl: case K_valueCanonical: case K_valueId: case K_valueMarkdown:
		case K_valueOid: case K_valueTime:
			return S;
		case K_valueCoding: return M(C_EXT_CODING);
		case K_valueCodeableConcept: return M(C_EXT_CC);
		case K_valueIdentifier: return M(C_EXT_IDENT);
		case K_valueQuantity: case K_valueMoney: case K_valueAge: case K_valueCount:
		case K_valueDuration: case K_valueDistance:
			return M(C_EXT_QTY);
		case K_valuePeriod: return M(C_EXT_PERIOD);
		case K_valueReference: return M(C_EXT_REF);
		default: return SKIP;
		}
	case C_EXT_CODING:
		return key == K_system || key == K_code || key == K_display ? S : SKIP;
	case C_EXT_CC:
		return key == K_text ? S : SKIP;
	case C_EXT_IDENT:
		return key == K_system || key == K_value ? S : SKIP;
	case C_EXT_QTY:
		switch (key) {
		case K_value: case K_unit: case K_code: case K_system: case K_currency: return S;
		default: return SKIP;
		}
	case C_EXT_REF:
		return key == K_reference || key == K_display ? S : SKIP;
	default:
		return SKIP;
	}
}

#undef M
#undef AM
#undef AS
#undef S
#undef SKIP

/* ------------------------------------------------------------------ */
/* the model of one resource                                          */

typedef struct str {
	const char *p;      /* NULL: absent */
	uint32_t n;
} str;

typedef struct coding { str system, code, display; } coding;
typedef struct ref { str reference, id_system, id_value, id_type, display; } ref;
typedef struct ident { int32_t owner; str system, value, type; } ident;
typedef struct contained { str rtype, id, name, vnum, vtext; } contained;
typedef struct careteam { str seq, role, qual, responsible; ref prov; } careteam;
typedef struct diag { str seq, type, on_adm, pkg; coding cc; } diag;
typedef struct proc { str seq, type, date; coding cc; } proc;
typedef struct supinfo {
	str seq, category, variable, tstart, tend, vnum, vtext;
	coding code;
} supinfo;
typedef struct item {
	str seq, revenue, category, loc, sstart, send, qty;
	coding prod;
	uint32_t nadj, ndet;
} item;
typedef struct detail {
	int32_t item;           /* the line it belongs to */
	uint32_t ordinal;       /* position in the line's detail[], from 1 */
	uint32_t adj0, nadj;    /* its adjudications: V_ADJ[adj0 .. adj0 + nadj) */
	str seq, revenue, category, qty, qty_unit, qty_system, qty_code, unit_price, factor, net;
	coding prod;
} detail;
/* lists of a line (item = index in V_ITEM) or of a detail (IL_D*: index in V_DETAIL) */
enum { IL_MOD, IL_CT, IL_DX, IL_PX, IL_INFO, IL_DMOD, IL_DPROG };
typedef struct itemlist { int32_t item; uint32_t kind; str v; } itemlist;
typedef struct adj {
	int32_t item;       /* -1: claim-level (EOB.adjudication) */
	int32_t detail;     /* >= 0: an adjudication of that detail (item[].detail[]) */
	uint32_t ordinal;
	str category, variable, amount, value, reason_system, reason_code;
} adj;
typedef struct total { str category, variable, amount; } total;
typedef struct bbal { str category; } bbal;
typedef struct fin { int32_t bb; str variable, used_money, allowed_money, used_int, allowed_int; } fin;
typedef struct ins { str focal; ref cov; } ins;
typedef struct ext {
	int32_t item;
	uint32_t idx;           /* position in its extension array */
	uint32_t modifier;      /* 1: from modifierExtension */
	str element, url, vtype, vsystem, vcode, vdisplay, vtext, vnum, vdate, vend;
} ext;
typedef struct issue { str severity, code, text, diagnostics; } issue;
typedef struct link { str relation, url; } link;
typedef struct cls { str type, value, name; } cls;

typedef struct resource {
	str rtype, id, status, outcome, last_updated, bundle_type, bundle_total;
	str bill_start, bill_end, pay_amount, pay_date;
	str eob_type, claim_type_code, claim_category, first_type_code;
	str gender, birth_date, deceased_dt, deceased_bool, addr_state, addr_postal;
	str relationship, period_start, period_end;
	ref patient, provider, facility, beneficiary, payor;
	bool v3;
	uint32_t nhadj;
} resource;

typedef struct vec {
	char *a;
	uint32_t n, cap, esz;
} vec;

enum {
	V_IDENT, V_CONTAINED, V_CARETEAM, V_DIAG, V_PROC, V_SUPINFO, V_ITEM, V_ITEMLIST, V_ADJ,
	V_DETAIL, V_TOTAL, V_BBAL, V_FIN, V_INS, V_EXT, V_ISSUE, V_LINK, V_CLASS, V_CODING, V_COUNT
};
static const uint32_t vec_esz[V_COUNT] = {
	[V_IDENT] = sizeof(ident), [V_CONTAINED] = sizeof(contained),
	[V_CARETEAM] = sizeof(careteam), [V_DIAG] = sizeof(diag), [V_PROC] = sizeof(proc),
	[V_SUPINFO] = sizeof(supinfo), [V_ITEM] = sizeof(item), [V_ITEMLIST] = sizeof(itemlist),
	[V_ADJ] = sizeof(adj), [V_DETAIL] = sizeof(detail), [V_TOTAL] = sizeof(total), [V_BBAL] = sizeof(bbal),
	[V_FIN] = sizeof(fin), [V_INS] = sizeof(ins), [V_EXT] = sizeof(ext),
	[V_ISSUE] = sizeof(issue), [V_LINK] = sizeof(link), [V_CLASS] = sizeof(cls),
	[V_CODING] = sizeof(coding),
};

#define AT(f, which, T, i) (((T *)(f)->v[which].a)[i])

typedef struct arena_block {
	struct arena_block *next;
	size_t cap, used;
	char data[];
} arena_block;

#define ARENA_BLOCK 65536u
#define ARENA_KEEP (1u << 20)   /* bytes of blocks kept between resources */

typedef struct frame {
	uint16_t ctx;
	uint8_t is_array;
	uint8_t elem;           /* arrays: allowed element shape */
	uint16_t key;           /* maps: current key */
	uint16_t aux;           /* ref frames' identifier: the ref's context */
	int32_t obj;            /* model object this container fills, or -1 */
	uint32_t index;         /* arrays: elements seen */
	uint32_t kstart, klen;  /* maps: text of an unknown current key in ktext */
	uint8_t has_key;        /* maps: a key was seen */
	str epath;              /* element path of this map, once an extension needed it */
} frame;

struct flattener {
	const row_sink *sink;
	int max_depth;
	size_t max_bytes;
	size_t bytes;               /* model bytes of the current resource */

	char *participant;
	const char *input;
	flat_stats *stats;
	flat_stats own_stats;
	int warned;                 /* warnings logged for this input */

	bool top;
	uint64_t entry_index;
	int depth;
	frame *frames;              /* [max_depth + 1] */
	sbuf path;                  /* element paths are built here when needed */
	sbuf ktext;                 /* text of the unknown keys on the frame stack */
	char *pending_vtype;        /* "valueXxx" key text of an unknown value[x] */
	size_t pending_vtype_len;

	arena_block *arena_head, *arena_cur;
	vec v[V_COUNT];
	resource res;
	int32_t cur_item, cur_detail, cur_contained;

	uint16_t keyhash[KEYHASH_SIZE];
	uint8_t keylen[K_COUNT];
	child *trans;               /* child_of() for every (context, key) */

	sbuf scratch;               /* building arrays and JSON at emit time */
	flat_bundle_info bundle;
	char *bundle_next, *bundle_updated;

	char err[320];
	char deferred[200];         /* first data error of the resource */
	char *deferred_path;
};

/* ------------------------------------------------------------------ */
/* errors and memory                                                  */

static int fail(flattener *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(flattener *f, const char *fmt, ...)
{
	va_list ap;

	if (f->err[0])
		return -1;  /* keep the first error */
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof f->err, fmt, ap);
	va_end(ap);
	return -1;
}

static bool ours(str rtype);
static const char *build_path(flattener *f, int upto);

/*
 * A problem with the data of one element (wrong shape, wrong type, number
 * out of range).  Whether it matters depends on the resource type, which may
 * only come at the end: keep the first one and decide in emit().  Returns 0
 * (parsing goes on, the element is not stored), or -1 when the resource is
 * already known to be one we flatten.
 */
static int data_err(flattener *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int data_err(flattener *f, const char *fmt, ...)
{
	va_list ap;

	if (f->deferred[0] || (f->res.rtype.p && !ours(f->res.rtype)))
		return 0;
	if (f->res.rtype.p) {
		/* the type is known and it is ours: fail now, at this byte */
		va_start(ap, fmt);
		vsnprintf(f->err, sizeof f->err, fmt, ap);
		va_end(ap);
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(f->deferred, sizeof f->deferred, fmt, ap);
	va_end(ap);
	free(f->deferred_path);
	{
		const char *path = build_path(f, f->depth);

		f->deferred_path = xstrdup(path ? path : "");
	}
	return 0;
}

static int over_limit(flattener *f)
{
	return fail(f, "resource is larger than the %zu-byte limit; raise limits.max_resource_bytes "
		"if such claims are expected", f->max_bytes);
}

static char *arena_alloc(flattener *f, size_t n)
{
	arena_block *b = f->arena_cur;

	if (n > f->max_bytes || f->bytes + n > f->max_bytes) {
		over_limit(f);
		return NULL;
	}
	while (b && b->cap - b->used < n) {
		b = b->next;
		if (b)
			b->used = 0;
	}
	if (!b) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;

		b = xmalloc(sizeof *b + cap);
		b->cap = cap;
		b->used = 0;
		b->next = NULL;
		if (f->arena_cur) {
			/* append after the current block, keeping any later ones */
			b->next = f->arena_cur->next;
			f->arena_cur->next = b;
		} else {
			f->arena_head = b;
		}
	}
	f->arena_cur = b;
	f->bytes += n;
	b->used += n;
	return b->data + b->used - n;
}

/* Like arena_alloc, aligned for any integer type (strings need no alignment). */
static void *arena_alloc_aligned(flattener *f, size_t n)
{
	char *p = arena_alloc(f, n + 7);

	if (!p)
		return NULL;
	return p + (size_t)(-(uintptr_t)p & 7u);
}

static void arena_reset(flattener *f)
{
	size_t kept = 0;
	arena_block **pp = &f->arena_head;

	while (*pp) {
		arena_block *b = *pp;

		if (kept + b->cap > ARENA_KEEP && kept > 0) {
			*pp = b->next;
			free(b);
			continue;
		}
		kept += b->cap;
		b->used = 0;
		pp = &b->next;
	}
	f->arena_cur = f->arena_head;
}

static int sdup(flattener *f, str *dst, const char *p, size_t n)
{
	char *q;

	if (n > UINT32_MAX - 1)
		return over_limit(f);
	q = arena_alloc(f, n + 1);
	if (!q)
		return -1;
	memcpy(q, p, n);
	q[n] = '\0';
	dst->p = q;
	dst->n = (uint32_t)n;
	return 0;
}

/* Append an element (zeroed) to a model vector; returns its index or -1. */
static int32_t vpush(flattener *f, int which)
{
	vec *v = &f->v[which];

	if (f->bytes + v->esz > f->max_bytes) {
		over_limit(f);
		return -1;
	}
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 16;

		if (v->cap >= (1u << 30)) {
			over_limit(f);
			return -1;
		}
		v->a = xreallocarray(v->a, cap, v->esz);
		v->cap = cap;
	}
	memset(v->a + (size_t)v->n * v->esz, 0, v->esz);
	f->bytes += v->esz;
	return (int32_t)v->n++;
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                          */

flattener *flatten_new(const row_sink *sink, int max_depth, size_t max_bytes)
{
	flattener *f = xcalloc(1, sizeof *f);

	f->sink = sink;
	f->max_depth = max_depth > 0 ? max_depth : 64;
	f->max_bytes = max_bytes ? max_bytes : (size_t)16 << 20;
	f->frames = xcalloc((size_t)f->max_depth + 2, sizeof *f->frames);
	sbuf_init(&f->path, (size_t)1 << 20);
	sbuf_init(&f->ktext, 65536);
	sbuf_init(&f->scratch, 0);
	for (int i = 0; i < V_COUNT; i++)
		f->v[i].esz = vec_esz[i];
	for (int k = 1; k < K_VALUE_OTHER; k++) {
		uint32_t h = key_hash(key_names[k], strlen(key_names[k])) & (KEYHASH_SIZE - 1);

		f->keylen[k] = (uint8_t)strlen(key_names[k]);
		while (f->keyhash[h])
			h = (h + 1) & (KEYHASH_SIZE - 1);
		f->keyhash[h] = (uint16_t)k;
	}
	f->trans = xcalloc((size_t)C_COUNT * K_COUNT, sizeof *f->trans);
	for (int c = 0; c < C_COUNT; c++)
		for (int k = 0; k < K_COUNT; k++)
			f->trans[(size_t)c * K_COUNT + k] = child_of(c, k);
	f->stats = &f->own_stats;
	f->input = "input";
	f->cur_item = f->cur_detail = f->cur_contained = -1;
	f->bundle.total = -1;
	return f;
}

void flatten_free(flattener *f)
{
	if (!f)
		return;
	for (arena_block *b = f->arena_head, *n; b; b = n) {
		n = b->next;
		free(b);
	}
	for (int i = 0; i < V_COUNT; i++)
		free(f->v[i].a);
	free(f->frames);
	free(f->trans);
	free(f->participant);
	free(f->pending_vtype);
	free(f->deferred_path);
	free(f->bundle_next);
	free(f->bundle_updated);
	sbuf_free(&f->path);
	sbuf_free(&f->ktext);
	sbuf_free(&f->scratch);
	free(f);
}

void flatten_set_participant(flattener *f, const char *participant_id)
{
	free(f->participant);
	f->participant = participant_id ? xstrdup(participant_id) : NULL;
}

void flatten_set_context(flattener *f, const char *input_name, flat_stats *stats)
{
	f->input = input_name ? input_name : "input";
	f->stats = stats ? stats : &f->own_stats;
	f->warned = 0;
}

const char *flatten_error(const flattener *f)
{
	return f->err;
}

int flatten_depth(const flattener *f)
{
	return f->depth;
}

const flat_bundle_info *flatten_bundle_info(const flattener *f)
{
	return &f->bundle;
}

const char *flatten_path(flattener *f)
{
	const char *rt = f->res.rtype.p ? f->res.rtype.p : "resource";

	const char *path = build_path(f, f->depth);

	f->scratch.len = 0;
	if (!path || sbuf_puts(&f->scratch, rt) < 0 || sbuf_append(&f->scratch, path, f->path.len) < 0)
		return rt;
	return f->scratch.data;
}

static void model_reset(flattener *f)
{
	for (int i = 0; i < V_COUNT; i++)
		f->v[i].n = 0;
	memset(&f->res, 0, sizeof f->res);
	arena_reset(f);
	f->bytes = 0;
	f->cur_item = f->cur_detail = f->cur_contained = -1;
	f->depth = 0;
	sbuf_reset(&f->path);
	sbuf_reset(&f->ktext);
	f->err[0] = '\0';
	f->deferred[0] = '\0';
}

void flatten_reset(flattener *f)
{
	model_reset(f);
}

void flatten_begin(flattener *f, bool top, uint64_t entry_index)
{
	model_reset(f);
	f->top = top;
	f->entry_index = entry_index;
	if (top) {
		free(f->bundle_next);
		free(f->bundle_updated);
		f->bundle_next = f->bundle_updated = NULL;
		memset(&f->bundle, 0, sizeof f->bundle);
		f->bundle.total = -1;
	}
}

/* ------------------------------------------------------------------ */
/* small helpers                                                      */

static bool str_eq(str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.p && s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool str_prefix(str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.p && s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool str_ieq(str s, const char *lit)
{
	size_t n = strlen(lit);

	if (!s.p || s.n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s.p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* The code of a Blue Button variable coding without the variables URL prefix. */
static str strip_variable(str s)
{
	size_t n = strlen(BB_VARIABLES);

	if (str_prefix(s, BB_VARIABLES) && s.n > n) {
		s.p += n;
		s.n -= (uint32_t)n;
	}
	return s;
}

/* "Patient/123" -> "123"; an absolute URL keeps what follows the last "Patient/". */
static str strip_ref(str s, const char *type)
{
	size_t tn = strlen(type);

	if (!s.p)
		return s;
	for (uint32_t i = s.n; i-- > 0;) {
		if (i + tn + 1 <= s.n && memcmp(s.p + i, type, tn) == 0 && s.p[i + tn] == '/' &&
		    (i == 0 || s.p[i - 1] == '/')) {
			str r = { s.p + i + tn + 1, s.n - i - (uint32_t)tn - 1 };

			return r.n ? r : s;
		}
	}
	return s;
}

static flat_val V(str s)
{
	return (flat_val){ s.p, s.p ? s.n : 0 };
}

static flat_val VL(const char *lit)
{
	return (flat_val){ lit, strlen(lit) };
}

static const flat_val VNULL = { NULL, 0 };

/* ------------------------------------------------------------------ */
/* value checks                                                       */

static bool digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

static int num2(const char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

static bool valid_ymd(const char *p)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (!digits(p, 4) || p[4] != '-' || !digits(p + 5, 2) || p[7] != '-' || !digits(p + 8, 2))
		return false;
	y = num2(p) * 100 + num2(p + 2);
	m = num2(p + 5);
	d = num2(p + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

/* "Thh:mm:ss[.f{0,9}](Z|+hh:mm|-hh:mm)" */
static bool valid_time_zone(const char *p, size_t n)
{
	size_t i = 0;

	if (n < 10 || p[0] != 'T' || !digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2) ||
	    p[6] != ':' || !digits(p + 7, 2))
		return false;
	if (num2(p + 1) > 23 || num2(p + 4) > 59 || num2(p + 7) > 59)
		return false;
	i = 9;
	if (i < n && p[i] == '.') {
		size_t k = 0;

		i++;
		while (i < n && p[i] >= '0' && p[i] <= '9') {
			i++;
			k++;
		}
		if (k > 9)
			return false;
	}
	if (i < n && p[i] == 'Z')
		return i + 1 == n;
	if (i + 6 == n && (p[i] == '+' || p[i] == '-') && digits(p + i + 1, 2) && p[i + 3] == ':' &&
	    digits(p + i + 4, 2))
		return num2(p + i + 1) <= 14 && num2(p + i + 4) <= 59;
	return false;
}

int flat_parse_date(const char *p, size_t n, char out[10])
{
	if (!p || n < 10 || !valid_ymd(p))
		return 0;
	if (n > 10 && !valid_time_zone(p + 10, n - 10))
		return 0;
	memcpy(out, p, 10);
	return 1;
}

int flat_valid_timestamp(const char *p, size_t n)
{
	return p && n > 10 && valid_ymd(p) && valid_time_zone(p + 10, n - 10);
}

/* A FHIR date of any precision: YYYY, YYYY-MM or YYYY-MM-DD (used for extension values). */
static bool valid_partial_date(const char *p, size_t n)
{
	if (n == 4)
		return digits(p, 4);
	if (n == 7)
		return digits(p, 4) && p[4] == '-' && digits(p + 5, 2) && num2(p + 5) >= 1 &&
			num2(p + 5) <= 12;
	return false;
}

int flat_valid_decimal(const char *p, size_t n)
{
	size_t i = 0, intd = 0, lead0 = 0, fracd = 0;
	long exp = 0;
	bool nonzero = false;
	long msd, scale;

	if (n == 0 || n > 64)
		return 0;
	if (p[i] == '-')
		i++;
	if (i >= n || p[i] < '0' || p[i] > '9')
		return 0;
	while (i < n && p[i] >= '0' && p[i] <= '9') {
		if (p[i] != '0')
			nonzero = true;
		if (nonzero)
			intd++;
		i++;
	}
	if (i < n && p[i] == '.') {
		i++;
		if (i >= n || p[i] < '0' || p[i] > '9')
			return 0;
		while (i < n && p[i] >= '0' && p[i] <= '9') {
			if (p[i] != '0')
				nonzero = true;
			if (!nonzero && intd == 0)
				lead0++;
			fracd++;
			i++;
		}
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		bool neg = false;
		size_t ed = 0;

		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			neg = p[i++] == '-';
		while (i < n && p[i] >= '0' && p[i] <= '9') {
			if (++ed > 4)
				return 0;   /* an exponent of 10000 or more */
			exp = exp * 10 + (p[i] - '0');
			i++;
		}
		if (ed == 0)
			return 0;
		if (neg)
			exp = -exp;
	}
	if (i != n)
		return 0;
	if (!nonzero)
		return 1;
	/* position of the most significant digit, and the scale */
	msd = (intd > 0 ? (long)intd : -(long)lead0) + exp;
	scale = (long)fracd - exp;
	return msd <= 18 && scale <= 40;
}

int flat_valid_int4(const char *p, size_t n)
{
	size_t i = 0;
	unsigned long long v = 0;

	if (n == 0 || n > 11)
		return 0;
	if (p[0] == '-')
		i = 1;
	if (i >= n)
		return 0;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return p[0] == '-' ? v <= 2147483648ull : v <= 2147483647ull;
}

/* ------------------------------------------------------------------ */
/* scalar storage                                                     */

static const char *scalar_name(flat_scalar t)
{
	switch (t) {
	case FS_STRING: return "a string";
	case FS_NUMBER: return "a number";
	case FS_BOOL: return "a boolean";
	default: return "null";
	}
}

static int bad_type(flattener *f, flat_scalar got, const char *want)
{
	return data_err(f, "expected %s, found %s", want, scalar_name(got));
}

/* store a string value */
static int put_str(flattener *f, str *dst, flat_scalar t, const char *p, size_t n)
{
	if (t != FS_STRING)
		return bad_type(f, t, "a string");
	return sdup(f, dst, p, n);
}

/* store a decimal (numeric column) */
static int put_dec(flattener *f, str *dst, flat_scalar t, const char *p, size_t n)
{
	if (t != FS_NUMBER)
		return bad_type(f, t, "a number");
	if (!flat_valid_decimal(p, n))
		return data_err(f, "number is out of range for an exact amount (more than 18 "
			"integer digits, or more than 40 decimal places)");
	return sdup(f, dst, p, n);
}

/* store an integer (int column) */
static int put_int(flattener *f, str *dst, flat_scalar t, const char *p, size_t n)
{
	if (t != FS_NUMBER)
		return bad_type(f, t, "a number");
	if (!flat_valid_int4(p, n))
		return data_err(f, "expected an integer between -2147483648 and 2147483647");
	return sdup(f, dst, p, n);
}

static int put_bool(flattener *f, str *dst, flat_scalar t, const char *p, size_t n)
{
	if (t != FS_BOOL)
		return bad_type(f, t, "a boolean");
	return sdup(f, dst, p, n);
}

/* store the first value only (later ones of a repeated element are ignored) */
static int put_first(flattener *f, str *dst, flat_scalar t, const char *p, size_t n)
{
	if (dst->p)
		return t == FS_STRING ? 0 : bad_type(f, t, "a string");
	return put_str(f, dst, t, p, n);
}

static ref *get_ref(flattener *f, int ctx, int32_t obj)
{
	switch (ctx) {
	case C_REF_PATIENT: return &f->res.patient;
	case C_REF_PROVIDER: return &f->res.provider;
	case C_REF_FACILITY: return &f->res.facility;
	case C_REF_BENEF: return &f->res.beneficiary;
	case C_REF_PAYOR: return obj == 0 ? &f->res.payor : NULL;
	case C_CT_PROV: return obj >= 0 ? &AT(f, V_CARETEAM, careteam, obj).prov : NULL;
	case C_INS_COV: return obj >= 0 ? &AT(f, V_INS, ins, obj).cov : NULL;
	default: return NULL;
	}
}

static int scalar_ext(flattener *f, ext *e, int key, flat_scalar t, const char *p, size_t n)
{
	switch (key) {
	case K_url:
		return put_str(f, &e->url, t, p, n);
	case K_valueDecimal: case K_valueInteger: case K_valueUnsignedInt: case K_valuePositiveInt:
		if (put_dec(f, &e->vnum, t, p, n) < 0)
			return -1;
		break;
	case K_valueBoolean:
		if (put_bool(f, &e->vtext, t, p, n) < 0)
			return -1;
		break;
	case K_valueCode:
		if (put_str(f, &e->vcode, t, p, n) < 0)
			return -1;
		break;
	case K_valueDate: case K_valueDateTime: case K_valueInstant:
		if (put_str(f, &e->vtext, t, p, n) < 0)
			return -1;
		e->vdate = e->vtext;
		break;
	default:    /* string-like value[x] */
		if (put_str(f, &e->vtext, t, p, n) < 0)
			return -1;
		break;
	}
	e->vtype.p = key_names[key] + 5;
	e->vtype.n = (uint32_t)strlen(e->vtype.p);
	return 0;
}

/* A scalar under key `key` of a map frame `fr`. */
static int on_scalar(flattener *f, frame *fr, flat_scalar t, const char *p, size_t n)
{
	int key = fr->key;
	int32_t o = fr->obj;
	resource *r = &f->res;

	if (t == FS_NULL)
		return 0;   /* FHIR JSON has no nulls; treat one as absent */
	if (is_ref(fr->ctx)) {
		ref *rf = get_ref(f, fr->ctx, o);

		if (!rf)
			return 0;
		if (key == K_reference)
			return put_str(f, &rf->reference, t, p, n);
		if (key == K_display)
			return put_str(f, &rf->display, t, p, n);
		return 0;
	}
	switch (fr->ctx) {
	case C_RES:
		switch (key) {
		case K_resourceType: return put_str(f, &r->rtype, t, p, n);
		case K_id: return put_str(f, &r->id, t, p, n);
		case K_status: return put_str(f, &r->status, t, p, n);
		case K_outcome: return put_str(f, &r->outcome, t, p, n);
		case K_type: return put_str(f, &r->bundle_type, t, p, n);
		case K_total: return put_int(f, &r->bundle_total, t, p, n);
		case K_gender: return put_str(f, &r->gender, t, p, n);
		case K_birthDate: return put_str(f, &r->birth_date, t, p, n);
		case K_deceasedDateTime: return put_str(f, &r->deceased_dt, t, p, n);
		case K_deceasedBoolean: return put_bool(f, &r->deceased_bool, t, p, n);
		default: return 0;
		}
	case C_META:
		return key == K_lastUpdated ? put_str(f, &r->last_updated, t, p, n) : 0;
	case C_CODING: {
		coding *c = &AT(f, V_CODING, coding, o);

		if (key == K_system)
			return put_str(f, &c->system, t, p, n);
		if (key == K_code)
			return put_str(f, &c->code, t, p, n);
		if (key == K_display)
			return put_str(f, &c->display, t, p, n);
		return 0;
	}
	case C_IDENT: {
		ident *id = &AT(f, V_IDENT, ident, o);

		if (key == K_system)
			return put_str(f, &id->system, t, p, n);
		if (key == K_value)
			return put_str(f, &id->value, t, p, n);
		return 0;
	}
	case C_REF_IDENT: {
		ref *rf = get_ref(f, fr->aux, o);

		if (!rf)
			return 0;
		if (key == K_system)
			return put_str(f, &rf->id_system, t, p, n);
		if (key == K_value)
			return put_str(f, &rf->id_value, t, p, n);
		return 0;
	}
	case C_CONTAINED: {
		contained *c = &AT(f, V_CONTAINED, contained, o);

		if (key == K_resourceType)
			return put_str(f, &c->rtype, t, p, n);
		if (key == K_id)
			return put_str(f, &c->id, t, p, n);
		if (key == K_name)
			return put_str(f, &c->name, t, p, n);
		if (key == K_valueString)
			return put_str(f, &c->vtext, t, p, n);
		return 0;
	}
	case C_CONT_VQ:
		return key == K_value ? put_dec(f, &AT(f, V_CONTAINED, contained, o).vnum, t, p, n) : 0;
	case C_HNAME:
		if (f->cur_contained >= 0 && (key == K_family || key == K_text)) {
			contained *c = &AT(f, V_CONTAINED, contained, f->cur_contained);

			return put_first(f, &c->name, t, p, n);
		}
		return 0;
	case C_BILLABLE:
		if (key == K_start)
			return put_str(f, &r->bill_start, t, p, n);
		return key == K_end ? put_str(f, &r->bill_end, t, p, n) : 0;
	case C_COV_PERIOD:
		if (key == K_start)
			return put_str(f, &r->period_start, t, p, n);
		return key == K_end ? put_str(f, &r->period_end, t, p, n) : 0;
	case C_ITEM_SPERIOD: {
		item *it = &AT(f, V_ITEM, item, o);

		if (key == K_start)
			return put_str(f, &it->sstart, t, p, n);
		return key == K_end ? put_str(f, &it->send, t, p, n) : 0;
	}
	case C_SI_PERIOD: {
		supinfo *si = &AT(f, V_SUPINFO, supinfo, o);

		if (key == K_start)
			return put_str(f, &si->tstart, t, p, n);
		return key == K_end ? put_str(f, &si->tend, t, p, n) : 0;
	}
	case C_CARETEAM: {
		careteam *ct = &AT(f, V_CARETEAM, careteam, o);

		if (key == K_sequence)
			return put_int(f, &ct->seq, t, p, n);
		if (key == K_responsible)
			return put_bool(f, &ct->responsible, t, p, n);
		return 0;
	}
	case C_DIAG:
		return key == K_sequence ? put_int(f, &AT(f, V_DIAG, diag, o).seq, t, p, n) : 0;
	case C_PROC: {
		proc *pr = &AT(f, V_PROC, proc, o);

		if (key == K_sequence)
			return put_int(f, &pr->seq, t, p, n);
		return key == K_date ? put_str(f, &pr->date, t, p, n) : 0;
	}
	case C_SUPINFO: {
		supinfo *si = &AT(f, V_SUPINFO, supinfo, o);

		switch (key) {
		case K_sequence: return put_int(f, &si->seq, t, p, n);
		case K_timingDate:
			if (put_str(f, &si->tstart, t, p, n) < 0)
				return -1;
			si->tend = si->tstart;
			return 0;
		case K_valueString: return put_str(f, &si->vtext, t, p, n);
		case K_valueBoolean: return put_bool(f, &si->vtext, t, p, n);
		default: return 0;
		}
	}
	case C_SI_VQ:
		return key == K_value ? put_dec(f, &AT(f, V_SUPINFO, supinfo, o).vnum, t, p, n) : 0;
	case C_SI_VREF: case C_SI_VIDENT:
		return key == K_reference || key == K_value
			? put_str(f, &AT(f, V_SUPINFO, supinfo, o).vtext, t, p, n) : 0;
	case C_ITEM: {
		item *it = &AT(f, V_ITEM, item, o);

		if (key == K_sequence)
			return put_int(f, &it->seq, t, p, n);
		if (key == K_servicedDate) {
			if (put_str(f, &it->sstart, t, p, n) < 0)
				return -1;
			it->send = it->sstart;
		}
		return 0;
	}
	case C_ITEM_QTY:
		return key == K_value ? put_dec(f, &AT(f, V_ITEM, item, o).qty, t, p, n) : 0;
	case C_DETAIL: {
		detail *d = &AT(f, V_DETAIL, detail, o);

		if (key == K_sequence)
			return put_int(f, &d->seq, t, p, n);
		return key == K_factor ? put_dec(f, &d->factor, t, p, n) : 0;
	}
	case C_DET_QTY: {
		detail *d = &AT(f, V_DETAIL, detail, o);

		switch (key) {
		case K_value: return put_dec(f, &d->qty, t, p, n);
		case K_unit: return put_str(f, &d->qty_unit, t, p, n);
		case K_system: return put_str(f, &d->qty_system, t, p, n);
		case K_code: return put_str(f, &d->qty_code, t, p, n);
		default: return 0;
		}
	}
	case C_DET_UPRICE:
		return key == K_value ? put_dec(f, &AT(f, V_DETAIL, detail, o).unit_price, t, p, n) : 0;
	case C_DET_NET:
		return key == K_value ? put_dec(f, &AT(f, V_DETAIL, detail, o).net, t, p, n) : 0;
	case C_ADJ:
		return key == K_value ? put_dec(f, &AT(f, V_ADJ, adj, o).value, t, p, n) : 0;
	case C_ADJ_AMT:
		return key == K_value ? put_dec(f, &AT(f, V_ADJ, adj, o).amount, t, p, n) : 0;
	case C_TOT_AMT:
		return key == K_value ? put_dec(f, &AT(f, V_TOTAL, total, o).amount, t, p, n) : 0;
	case C_PAYMENT:
		return key == K_date ? put_str(f, &r->pay_date, t, p, n) : 0;
	case C_PAY_AMT:
		return key == K_value ? put_dec(f, &r->pay_amount, t, p, n) : 0;
	case C_FIN: {
		fin *fi = &AT(f, V_FIN, fin, o);

		if (key == K_usedUnsignedInt)
			return put_dec(f, &fi->used_int, t, p, n);
		if (key == K_allowedUnsignedInt)
			return put_dec(f, &fi->allowed_int, t, p, n);
		return 0;
	}
	case C_FIN_UMONEY:
		return key == K_value ? put_dec(f, &AT(f, V_FIN, fin, o).used_money, t, p, n) : 0;
	case C_FIN_AMONEY:
		return key == K_value ? put_dec(f, &AT(f, V_FIN, fin, o).allowed_money, t, p, n) : 0;
	case C_INS:
		return key == K_focal ? put_bool(f, &AT(f, V_INS, ins, o).focal, t, p, n) : 0;
	case C_ISSUE: {
		issue *is = &AT(f, V_ISSUE, issue, o);

		if (key == K_severity)
			return put_str(f, &is->severity, t, p, n);
		if (key == K_code)
			return put_str(f, &is->code, t, p, n);
		if (key == K_diagnostics)
			return put_str(f, &is->diagnostics, t, p, n);
		return 0;
	}
	case C_ISSUE_DET:
		return key == K_text ? put_str(f, &AT(f, V_ISSUE, issue, o).text, t, p, n) : 0;
	case C_LINK: {
		link *l = &AT(f, V_LINK, link, o);

		if (key == K_relation)
			return put_str(f, &l->relation, t, p, n);
		return key == K_url ? put_str(f, &l->url, t, p, n) : 0;
	}
	case C_ADDR:
		if (o != 0)
			return 0;   /* the first address only */
		if (key == K_state)
			return put_str(f, &r->addr_state, t, p, n);
		return key == K_postalCode ? put_str(f, &r->addr_postal, t, p, n) : 0;
	case C_CLASS: {
		cls *c = &AT(f, V_CLASS, cls, o);

		if (key == K_value)
			return put_str(f, &c->value, t, p, n);
		return key == K_name ? put_str(f, &c->name, t, p, n) : 0;
	}
	case C_EXT:
		if (key == K_VALUE_OTHER) {
			/* a value[x] this flattener does not model: keep its text */
			ext *e = &AT(f, V_EXT, ext, o);

			if (t == FS_NUMBER) {
				if (put_dec(f, &e->vnum, t, p, n) < 0)
					return -1;
			} else if (t == FS_BOOL || t == FS_STRING) {
				if (sdup(f, &e->vtext, p, n) < 0)
					return -1;
			}
			return sdup(f, &e->vtype, f->pending_vtype + 5, f->pending_vtype_len - 5);
		}
		return scalar_ext(f, &AT(f, V_EXT, ext, o), key, t, p, n);
	case C_EXT_CODING: {
		ext *e = &AT(f, V_EXT, ext, o);

		if (key == K_system)
			return put_str(f, &e->vsystem, t, p, n);
		if (key == K_code)
			return put_str(f, &e->vcode, t, p, n);
		return key == K_display ? put_str(f, &e->vdisplay, t, p, n) : 0;
	}
	case C_EXT_CC:
		return key == K_text ? put_str(f, &AT(f, V_EXT, ext, o).vtext, t, p, n) : 0;
	case C_EXT_IDENT: {
		ext *e = &AT(f, V_EXT, ext, o);

		if (key == K_system)
			return put_str(f, &e->vsystem, t, p, n);
		return key == K_value ? put_str(f, &e->vtext, t, p, n) : 0;
	}
	case C_EXT_QTY: {
		ext *e = &AT(f, V_EXT, ext, o);

		switch (key) {
		case K_value: return put_dec(f, &e->vnum, t, p, n);
		case K_unit: return put_str(f, &e->vdisplay, t, p, n);
		case K_code: case K_currency: return put_str(f, &e->vcode, t, p, n);
		case K_system: return put_str(f, &e->vsystem, t, p, n);
		default: return 0;
		}
	}
	case C_EXT_PERIOD: {
		ext *e = &AT(f, V_EXT, ext, o);

		if (key == K_start)
			return put_str(f, &e->vdate, t, p, n);
		return key == K_end ? put_str(f, &e->vend, t, p, n) : 0;
	}
	case C_EXT_REF: {
		ext *e = &AT(f, V_EXT, ext, o);

		if (key == K_reference)
			return put_str(f, &e->vtext, t, p, n);
		return key == K_display ? put_str(f, &e->vdisplay, t, p, n) : 0;
	}
	default:
		return 0;
	}
}

/* A scalar element of an array frame. */
static int on_array_scalar(flattener *f, frame *fr, flat_scalar t, const char *p, size_t n)
{
	int32_t k;

	if (t == FS_NULL)
		return 0;
	switch (fr->ctx) {
	case C_PROFILE:
		if (t == FS_STRING && memchr(p, '|', n))
			f->res.v3 = true;   /* versioned profiles come with v3 */
		return 0;
	case C_IL_CT: case C_IL_DX: case C_IL_PX: case C_IL_INFO:
		if (f->cur_item < 0)
			return 0;
		k = vpush(f, V_ITEMLIST);
		if (k < 0)
			return -1;
		AT(f, V_ITEMLIST, itemlist, k).item = f->cur_item;
		AT(f, V_ITEMLIST, itemlist, k).kind = fr->ctx == C_IL_CT ? IL_CT : fr->ctx == C_IL_DX ? IL_DX
			: fr->ctx == C_IL_PX ? IL_PX : IL_INFO;
		return put_int(f, &AT(f, V_ITEMLIST, itemlist, k).v, t, p, n);
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* codings                                                            */

static bool is_adj_system(str s)
{
	return str_eq(s, SYS_ADJ_V2) || str_eq(s, SYS_ADJ_V3);
}

static void set_first(str *dst, str v)
{
	if (!dst->p && v.p)
		*dst = v;
}

static void set_first_coding(coding *dst, const coding *c)
{
	if (!dst->code.p && !dst->system.p && (c->code.p || c->system.p))
		*dst = *c;
}

static void type_coding(flattener *f, const coding *c)
{
	resource *r = &f->res;

	if (str_eq(c->system, SYS_EOB_TYPE_V2) || str_eq(c->system, SYS_EOB_TYPE_V3))
		set_first(&r->eob_type, c->code);
	else if (str_eq(c->system, SYS_CLM_TYPE_V2) || str_eq(c->system, SYS_CLM_TYPE_V3))
		set_first(&r->claim_type_code, c->code);
	else if (str_eq(c->system, SYS_CLAIM_TYPE))
		set_first(&r->claim_category, c->code);
	if (str_prefix(c->system, SYS_BB_V3_PREFIX))
		r->v3 = true;
	set_first(&r->first_type_code, c->code);
}

/* A Coding object inside CodeableConcept `cc` (context of the CC's frame). */
static int on_coding(flattener *f, const frame *ccf, const coding *c)
{
	int32_t o = ccf->obj;

	switch (ccf->ctx) {
	case C_RES_TYPE:
		type_coding(f, c);
		break;
	case C_IDENT_TYPE:
		if (o >= 0)
			set_first(&AT(f, V_IDENT, ident, o).type, c->code);
		break;
	case C_REF_IDENT_TYPE: {
		ref *rf = get_ref(f, ccf->aux, o);

		if (rf)
			set_first(&rf->id_type, c->code);
		break;
	}
	case C_CT_ROLE:
		set_first(&AT(f, V_CARETEAM, careteam, o).role, c->code);
		break;
	case C_CT_QUAL:
		set_first(&AT(f, V_CARETEAM, careteam, o).qual, c->code);
		break;
	case C_DIAG_CC:
		set_first_coding(&AT(f, V_DIAG, diag, o).cc, c);
		break;
	case C_DIAG_TYPE:
		set_first(&AT(f, V_DIAG, diag, o).type, c->code);
		break;
	case C_DIAG_ONADM:
		set_first(&AT(f, V_DIAG, diag, o).on_adm, c->code);
		break;
	case C_DIAG_PKG:
		set_first(&AT(f, V_DIAG, diag, o).pkg, c->code);
		break;
	case C_PROC_CC:
		set_first_coding(&AT(f, V_PROC, proc, o).cc, c);
		break;
	case C_PROC_TYPE:
		set_first(&AT(f, V_PROC, proc, o).type, c->code);
		break;
	case C_SI_CAT: {
		supinfo *si = &AT(f, V_SUPINFO, supinfo, o);

		if (str_eq(c->system, SYS_INFO_V2) || str_eq(c->system, SYS_INFO_V3))
			set_first(&si->variable, strip_variable(c->code));
		else
			set_first(&si->category, c->code);
		break;
	}
	case C_SI_CODE:
		set_first_coding(&AT(f, V_SUPINFO, supinfo, o).code, c);
		break;
	case C_ITEM_PROD:
		set_first_coding(&AT(f, V_ITEM, item, o).prod, c);
		break;
	case C_ITEM_MOD:
		if (c->code.p && o >= 0) {
			int32_t k = vpush(f, V_ITEMLIST);

			if (k < 0)
				return -1;
			AT(f, V_ITEMLIST, itemlist, k).item = o;
			AT(f, V_ITEMLIST, itemlist, k).kind = IL_MOD;
			AT(f, V_ITEMLIST, itemlist, k).v = c->code;
		}
		break;
	case C_ITEM_REV:
		set_first(&AT(f, V_ITEM, item, o).revenue, c->code);
		break;
	case C_ITEM_CAT:
		set_first(&AT(f, V_ITEM, item, o).category, c->code);
		break;
	case C_ITEM_LOC:
		set_first(&AT(f, V_ITEM, item, o).loc, c->code);
		break;
	case C_DET_PROD:
		set_first_coding(&AT(f, V_DETAIL, detail, o).prod, c);
		break;
	case C_DET_MOD: case C_DET_PROG:
		if (c->code.p && o >= 0) {
			int32_t k = vpush(f, V_ITEMLIST);

			if (k < 0)
				return -1;
			AT(f, V_ITEMLIST, itemlist, k).item = o;
			AT(f, V_ITEMLIST, itemlist, k).kind = ccf->ctx == C_DET_MOD ? IL_DMOD : IL_DPROG;
			AT(f, V_ITEMLIST, itemlist, k).v = c->code;
		}
		break;
	case C_DET_REV:
		set_first(&AT(f, V_DETAIL, detail, o).revenue, c->code);
		break;
	case C_DET_CAT:
		set_first(&AT(f, V_DETAIL, detail, o).category, c->code);
		break;
	case C_ADJ_CAT: {
		adj *a = &AT(f, V_ADJ, adj, o);

		if (is_adj_system(c->system))
			set_first(&a->variable, strip_variable(c->code));
		else
			set_first(&a->category, c->code);
		break;
	}
	case C_ADJ_REASON: {
		adj *a = &AT(f, V_ADJ, adj, o);

		if (!a->reason_code.p && !a->reason_system.p) {
			a->reason_system = c->system;
			a->reason_code = c->code;
		}
		break;
	}
	case C_TOT_CAT: {
		total *to = &AT(f, V_TOTAL, total, o);

		if (is_adj_system(c->system))
			set_first(&to->variable, strip_variable(c->code));
		else
			set_first(&to->category, c->code);
		break;
	}
	case C_BB_CAT:
		set_first(&AT(f, V_BBAL, bbal, o).category, c->code);
		break;
	case C_FIN_TYPE:
		set_first(&AT(f, V_FIN, fin, o).variable, strip_variable(c->code));
		break;
	case C_RELATIONSHIP:
		set_first(&f->res.relationship, c->code);
		break;
	case C_CLASS_TYPE:
		set_first(&AT(f, V_CLASS, cls, o).type, c->code);
		break;
	case C_EXT_CC: {
		ext *e = &AT(f, V_EXT, ext, o);

		if (!e->vcode.p && !e->vsystem.p) {
			e->vsystem = c->system;
			e->vcode = c->code;
			e->vdisplay = c->display;
		}
		break;
	}
	default:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* SAX events                                                         */

/* Decimal text of v into buf (at least 11 bytes); returns its length. */
static size_t utoa(uint32_t v, char *buf)
{
	char tmp[12];
	size_t n = 0, k = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[k++] = tmp[--n];
	return k;
}

/*
 * The element path of the frames 1..upto, e.g. ".item[2].adjudication[0]":
 * each frame adds the step to its child (a map its current key, an array
 * the index of its current element).  Built only when needed (extensions,
 * errors); parsing keeps no path.  Returns f->path's text or NULL.
 */
static const char *build_path(flattener *f, int upto)
{
	sbuf *b = &f->path;

	sbuf_reset(b);
	for (int i = 1; i <= upto; i++) {
		const frame *fr = &f->frames[i];

		if (fr->is_array) {
			char buf[16];
			size_t n;

			if (fr->index == 0)
				continue;
			buf[0] = '[';
			n = 1 + utoa(fr->index - 1, buf + 1);
			buf[n++] = ']';
			if (sbuf_append(b, buf, n) < 0)
				return NULL;
		} else if (fr->has_key) {
			const char *k = fr->klen ? f->ktext.data + fr->kstart : key_names[fr->key];
			size_t n = fr->klen ? fr->klen : f->keylen[fr->key];

			if (n > 0 && k[0] == '_') {    /* "_birthDate": extensions of a primitive */
				k++;
				n--;
			}
			if (sbuf_putc(b, '.') < 0 || sbuf_append(b, k, n) < 0)
				return NULL;
		}
	}
	return b->data ? b->data : "";
}

/* Equal keys of length n: two overlapping 8-byte loads cover keys up to 16 bytes. */
static inline bool key_eq(const char *a, const char *b, size_t n)
{
	uint64_t x, y, x2, y2;

	if (n >= 8 && n <= 16) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		memcpy(&x2, a + n - 8, 8);
		memcpy(&y2, b + n - 8, 8);
		return ((x ^ y) | (x2 ^ y2)) == 0;
	}
	if (n < 8) {
		for (size_t i = 0; i < n; i++)
			if (a[i] != b[i])
				return false;
		return true;
	}
	return memcmp(a, b, n) == 0;
}

int flatten_key(flattener *f, const char *k, size_t n)
{
	frame *fr = &f->frames[f->depth];
	uint32_t h;
	int id = K_NONE;

	fr->has_key = 1;
	fr->klen = 0;
	h = key_hash(k, n) & (KEYHASH_SIZE - 1);
	while (f->keyhash[h]) {
		int cand = f->keyhash[h];

		if (f->keylen[cand] == n && key_eq(key_names[cand], k, n)) {
			id = cand;
			break;
		}
		h = (h + 1) & (KEYHASH_SIZE - 1);
	}
	/* a known key cannot hold a NUL; an unknown one goes into element paths */
	if (id == K_NONE && memchr(k, '\0', n))
		return fail(f, "object key contains a NUL character");
	if (id == K_NONE && fr->ctx == C_EXT && n > 5 && memcmp(k, "value", 5) == 0) {
		/* a value[x] type we do not model: remember its name */
		free(f->pending_vtype);
		f->pending_vtype = xstrndup(k, n);
		f->pending_vtype_len = n;
		id = K_VALUE_OTHER;
	}
	fr->key = (uint16_t)id;
	if (id == K_NONE || id == K_VALUE_OTHER) {
		/* keep the text for element paths; the frames above start after it */
		f->ktext.len = fr->kstart;
		if (sbuf_append(&f->ktext, k, n) < 0)
			return fail(f, "object keys along one path are longer than 65536 bytes");
		fr->klen = (uint32_t)n;
	}
	return 0;
}

/* The child context for a value opened inside the top frame, checking its shape. */
static int open_child(flattener *f, uint8_t shape, child *out)
{
	frame *fr = &f->frames[f->depth];

	if (fr->is_array) {
		if (!(fr->elem & shape)) {
			*out = (child){ C_SKIP, SH_ANY, SH_ANY };
			fr->index++;
			return data_err(f, "expected %s in this array, found %s",
				fr->elem == SH_MAP ? "objects" : fr->elem == SH_SCALAR ? "plain values"
				: "other values", shape == SH_MAP ? "an object" : shape == SH_ARRAY
				? "an array" : "a plain value");
		}
		out->ctx = fr->ctx;
		out->shape = shape;
		out->elem = SH_ANY;
		fr->index++;
		return 0;
	}
	if (fr->ctx == C_EXT && fr->key == K_VALUE_OTHER) {
		*out = (child){ shape == SH_SCALAR ? C_NONE : C_SKIP, SH_ANY, SH_ANY };
		if (shape != SH_SCALAR) {
			ext *e = &AT(f, V_EXT, ext, fr->obj);

			if (sdup(f, &e->vtype, f->pending_vtype + 5, f->pending_vtype_len - 5) < 0)
				return -1;
		}
		return 0;
	}
	*out = f->trans[(size_t)fr->ctx * K_COUNT + fr->key];
	if (!(out->shape & shape)) {
		int wanted = out->shape;

		*out = (child){ C_SKIP, SH_ANY, SH_ANY };
		return data_err(f, "expected %s, found %s",
			wanted & SH_ARRAY ? "an array" : wanted & SH_MAP ? "an object"
			: "a plain value", shape == SH_MAP ? "an object" : shape == SH_ARRAY ? "an array"
			: "a plain value");
	}
	return 0;
}

static int push(flattener *f, uint16_t ctx, bool is_array, uint8_t elem)
{
	frame *parent = &f->frames[f->depth];
	frame *fr;

	if (f->depth >= f->max_depth)
		return fail(f, "nesting is deeper than the limit of %d levels", f->max_depth);
	fr = &f->frames[++f->depth];
	fr->ctx = ctx;
	fr->is_array = is_array;
	fr->elem = elem;
	fr->key = K_NONE;
	fr->aux = parent->aux;
	fr->obj = parent->obj;
	fr->index = 0;
	fr->has_key = 0;
	fr->klen = 0;
	fr->kstart = (uint32_t)(parent->kstart + parent->klen);
	fr->epath.p = NULL;
	fr->epath.n = 0;
	return 0;
}

/* Create the model object a new map of context ctx stands for. */
static int new_object(flattener *f, frame *fr, const frame *parent)
{
	int32_t k = -2;

	switch (fr->ctx) {
	case C_RES:
		fr->obj = -1;
		return 0;
	case C_IDENT:
		k = vpush(f, V_IDENT);
		if (k >= 0)
			AT(f, V_IDENT, ident, k).owner = f->cur_contained;
		break;
	case C_CONTAINED:
		k = vpush(f, V_CONTAINED);
		f->cur_contained = k;
		break;
	case C_CARETEAM: k = vpush(f, V_CARETEAM); break;
	case C_DIAG: k = vpush(f, V_DIAG); break;
	case C_PROC: k = vpush(f, V_PROC); break;
	case C_SUPINFO: k = vpush(f, V_SUPINFO); break;
	case C_ITEM:
		k = vpush(f, V_ITEM);
		f->cur_item = k;
		break;
	case C_ADJ:
		k = vpush(f, V_ADJ);
		if (k >= 0) {
			adj *a = &AT(f, V_ADJ, adj, k);

			a->item = f->cur_item;
			a->detail = f->cur_detail;
			if (f->cur_detail >= 0) {
				/* a detail's adjudications are contiguous in V_ADJ */
				detail *d = &AT(f, V_DETAIL, detail, f->cur_detail);

				if (d->nadj++ == 0)
					d->adj0 = (uint32_t)k;
				a->ordinal = d->nadj;
			} else {
				a->ordinal = f->cur_item >= 0 ? ++AT(f, V_ITEM, item, f->cur_item).nadj
					: ++f->res.nhadj;
			}
		}
		break;
	case C_DETAIL:
		k = vpush(f, V_DETAIL);
		if (k >= 0) {
			detail *d = &AT(f, V_DETAIL, detail, k);

			d->item = f->cur_item;
			d->ordinal = f->cur_item >= 0 ? ++AT(f, V_ITEM, item, f->cur_item).ndet : 0;
		}
		f->cur_detail = k;
		break;
	case C_TOTAL: k = vpush(f, V_TOTAL); break;
	case C_BB: k = vpush(f, V_BBAL); break;
	case C_FIN:
		k = vpush(f, V_FIN);
		if (k >= 0)
			AT(f, V_FIN, fin, k).bb = parent->obj;
		break;
	case C_INS: k = vpush(f, V_INS); break;
	case C_ISSUE: k = vpush(f, V_ISSUE); break;
	case C_LINK: k = vpush(f, V_LINK); break;
	case C_CLASS: k = vpush(f, V_CLASS); break;
	case C_ADDR: case C_REF_PAYOR:
		k = (int32_t)parent->index - 1;     /* position in its array */
		break;
	case C_CODING:
		k = vpush(f, V_CODING);
		break;
	case C_EXT: {
		/* the element the extension belongs to: the map holding "extension" */
		frame *owner = &f->frames[f->depth - 2];

		k = vpush(f, V_EXT);
		if (k >= 0) {
			ext *e = &AT(f, V_EXT, ext, k);

			e->item = f->cur_item;
			e->idx = parent->index - 1;
			e->modifier = owner->key == K_modifierExtension;
			if (!owner->epath.p) {
				/* once per element: its extensions share the copy */
				const char *path = build_path(f, f->depth - 3);

				if (!path)
					return fail(f, "element path is longer than 1048576 bytes");
				if (sdup(f, &owner->epath, path, f->path.len) < 0)
					return -1;
			}
			e->element = owner->epath;
		}
		break;
	}
	case C_REF_IDENT:
		fr->aux = parent->ctx;
		return 0;
	case C_EXT_CODING: case C_EXT_CC: case C_EXT_IDENT: case C_EXT_QTY: case C_EXT_PERIOD:
	case C_EXT_REF:
		if (parent->ctx == C_EXT && parent->obj >= 0) {
			const char *kn = key_names[parent->key] + 5;    /* "valueCoding" -> "Coding" */

			AT(f, V_EXT, ext, parent->obj).vtype = (str){ kn, (uint32_t)strlen(kn) };
		}
		return 0;
	default:
		return 0;   /* a part of the parent's object */
	}
	if (k == -1)
		return -1;
	fr->obj = k;
	if (fr->ctx == C_CODING)
		fr->aux = 0;
	return 0;
}

int flatten_start_map(flattener *f)
{
	child c;

	if (f->depth == 0) {
		if (push(f, C_RES, false, 0) < 0)
			return -1;
		f->frames[1].obj = -1;
		return 0;
	}
	if (open_child(f, SH_MAP, &c) < 0 || push(f, c.ctx, false, 0) < 0)
		return -1;
	return new_object(f, &f->frames[f->depth], &f->frames[f->depth - 1]);
}

int flatten_start_array(flattener *f)
{
	child c;

	if (open_child(f, SH_ARRAY, &c) < 0)
		return -1;
	/* an array inside an array has no modelled meaning: skip it */
	if (f->frames[f->depth].is_array)
		c = (child){ C_SKIP, SH_ANY, SH_ANY };
	return push(f, c.ctx, true, c.elem ? c.elem : SH_ANY);
}

int flatten_end_array(flattener *f)
{
	f->depth--;
	return 0;
}

int flatten_scalar(flattener *f, flat_scalar t, const char *p, size_t n)
{
	child c;
	frame *fr = &f->frames[f->depth];

	if (f->depth == 0)
		return fail(f, "expected an object");
	if (open_child(f, SH_SCALAR, &c) < 0)
		return -1;
	if (c.ctx == C_SKIP)
		return 0;   /* not stored, so a NUL in it harms nothing */
	if (t == FS_STRING && memchr(p, '\0', n))
		return fail(f, "string contains a NUL character (\\u0000), which PostgreSQL text "
			"cannot store");
	if (fr->is_array)
		return on_array_scalar(f, fr, t, p, n);
	return on_scalar(f, fr, t, p, n);
}

static int emit(flattener *f);

int flatten_end_map(flattener *f)
{
	frame *fr = &f->frames[f->depth];
	int ctx = fr->ctx;
	int32_t o = fr->obj;

	f->depth--;
	switch (ctx) {
	case C_CODING: {
		/* frames: CC map (depth - 1), coding array (depth), this coding */
		const frame *ccf = &f->frames[f->depth - 1];
		coding c = AT(f, V_CODING, coding, o);
		int rc = on_coding(f, ccf, &c);

		f->v[V_CODING].n = (uint32_t)o;  /* codings are a stack */
		f->bytes -= sizeof(coding);
		if (rc < 0)
			return -1;
		break;
	}
	case C_ITEM:
		f->cur_item = -1;
		break;
	case C_DETAIL:
		f->cur_detail = -1;
		break;
	case C_CONTAINED:
		f->cur_contained = -1;
		break;
	case C_RES:
		return emit(f) < 0 ? -1 : 1;
	default:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* emitting rows                                                      */

typedef struct emitter {
	const row_sink *sink;
	EVP_MD_CTX *md;         /* hashing pass: no sink, rows go into the digest */
	str id;
} emitter;

static int put_row(flattener *f, emitter *em, flat_table t, const flat_val *cols)
{
	if (em->md) {
		uint32_t tag = (uint32_t)t;

		EVP_DigestUpdate(em->md, &tag, sizeof tag);
		for (int i = 0; i < flat_tables[t].ncols; i++) {
			uint64_t n = cols[i].p ? (uint64_t)cols[i].n : UINT64_MAX;

			EVP_DigestUpdate(em->md, &n, sizeof n);
			if (cols[i].p)
				EVP_DigestUpdate(em->md, cols[i].p, cols[i].n);
		}
		return 0;
	}
	f->stats->rows++;
	if (em->sink->row(em->sink->ud, t, cols) < 0)
		return fail(f, "%s", em->sink->error(em->sink->ud));
	return 0;
}

static void warn_value(flattener *f, const char *what, const char *kind)
{
	f->stats->bad_dates++;
	if (f->warned < 5) {
		f->warned++;
		log_warning("%s: %s.%s is not a valid %s; stored as NULL", f->input,
			f->res.rtype.p ? f->res.rtype.p : "resource", what, kind);
	} else if (f->warned == 5) {
		f->warned++;
		log_warning("%s: more values are not valid dates; counting them without logging",
			f->input);
	}
}

static flat_val vdate(flattener *f, str s, const char *what)
{
	char *out;

	if (!s.p)
		return VNULL;
	out = arena_alloc(f, 10);
	if (!out)
		return VNULL;
	if (!flat_parse_date(s.p, s.n, out)) {
		warn_value(f, what, "date");
		return VNULL;
	}
	return (flat_val){ out, 10 };
}

static flat_val vts(flattener *f, str s, const char *what)
{
	if (!s.p)
		return VNULL;
	if (!flat_valid_timestamp(s.p, s.n)) {
		warn_value(f, what, "timestamp");
		return VNULL;
	}
	return V(s);
}

static flat_val vbool(str s)
{
	if (!s.p)
		return VNULL;
	return s.p[0] == 't' ? VL("t") : VL("f");
}

/* Copy the scratch buffer into the arena as a value. */
static flat_val scratch_val(flattener *f)
{
	str s = { NULL, 0 };

	if (sdup(f, &s, f->scratch.data ? f->scratch.data : "", f->scratch.len) < 0)
		return VNULL;
	return V(s);
}

/* PostgreSQL array literal of the item's list of kind `kind`. */
static flat_val item_array(flattener *f, int32_t it, uint32_t kind, bool text)
{
	size_t count = 0;

	sbuf_reset(&f->scratch);
	sbuf_putc(&f->scratch, '{');
	for (uint32_t i = 0; i < f->v[V_ITEMLIST].n; i++) {
		const itemlist *l = &AT(f, V_ITEMLIST, itemlist, i);

		if (l->item != it || l->kind != kind)
			continue;
		if (count++)
			sbuf_putc(&f->scratch, ',');
		if (!text) {
			sbuf_append(&f->scratch, l->v.p, l->v.n);
			continue;
		}
		sbuf_putc(&f->scratch, '"');
		for (uint32_t j = 0; j < l->v.n; j++) {
			if (l->v.p[j] == '"' || l->v.p[j] == '\\')
				sbuf_putc(&f->scratch, '\\');
			sbuf_putc(&f->scratch, l->v.p[j]);
		}
		sbuf_putc(&f->scratch, '"');
	}
	if (!count)
		return VNULL;
	sbuf_putc(&f->scratch, '}');
	return scratch_val(f);
}

static const contained *find_contained(flattener *f, str reference, int32_t *idx)
{
	if (!reference.p || reference.n < 2 || reference.p[0] != '#')
		return NULL;
	for (uint32_t i = 0; i < f->v[V_CONTAINED].n; i++) {
		const contained *c = &AT(f, V_CONTAINED, contained, i);

		if (c->id.p && c->id.n == reference.n - 1 &&
		    memcmp(c->id.p, reference.p + 1, c->id.n) == 0) {
			*idx = (int32_t)i;
			return c;
		}
	}
	return NULL;
}

static bool npi_like(str system, str type)
{
	static const char suffix[] = "npi_num";
	size_t sn = sizeof suffix - 1;

	if (str_ieq(type, "npi") || str_eq(system, SYS_US_NPI))
		return true;
	return system.p && system.n >= sn && memcmp(system.p + system.n - sn, suffix, sn) == 0;
}

/*
 * Resolve a reference to (id, id type, name): its own identifier, or the
 * contained resource it points at (NPI identifiers preferred).
 */
static void resolve_ref(flattener *f, const ref *r, bool npi_only, str *id, str *type, str *name)
{
	int32_t ci = -1;
	const contained *c = find_contained(f, r->reference, &ci);

	id->p = type->p = name->p = NULL;
	id->n = type->n = name->n = 0;
	if (r->id_value.p && (!npi_only || npi_like(r->id_system, r->id_type))) {
		*id = r->id_value;
		*type = r->id_type;
		if (!type->p && npi_like(r->id_system, r->id_type))
			*type = (str){ "npi", 3 };
	}
	if (c) {
		const ident *first = NULL;

		for (uint32_t i = 0; i < f->v[V_IDENT].n && !id->p; i++) {
			const ident *x = &AT(f, V_IDENT, ident, i);

			if (x->owner != ci || !x->value.p)
				continue;
			if (npi_like(x->system, x->type)) {
				*id = x->value;
				*type = (str){ "npi", 3 };
			} else if (!first) {
				first = x;
			}
		}
		if (!id->p && first && !npi_only) {
			*id = first->value;
			*type = first->type;
		}
		*name = c->name;
	}
	if (r->display.p)
		*name = r->display;
}

static str lower_code(flattener *f, str s)
{
	char *q;

	if (!s.p || !(q = arena_alloc(f, (size_t)s.n + 1)))
		return (str){ NULL, 0 };
	for (uint32_t i = 0; i < s.n; i++)
		q[i] = (s.p[i] >= 'A' && s.p[i] <= 'Z') ? (char)(s.p[i] - 'A' + 'a') : s.p[i];
	q[s.n] = '\0';
	return (str){ q, s.n };
}

/* claims.eob.claim_type from the eob-type coding, or the claim type code (v3). */
static str claim_type(flattener *f)
{
	const resource *r = &f->res;
	static const struct { const char *code, *type; } map[] = {
		{ "1", "pde" }, { "2", "pde" }, { "3", "pde" }, { "4", "pde" },
		{ "10", "hha" }, { "20", "snf" }, { "30", "snf" }, { "40", "outpatient" },
		{ "50", "hospice" }, { "60", "inpatient" }, { "61", "inpatient" },
		{ "71", "carrier" }, { "72", "carrier" }, { "81", "dme" }, { "82", "dme" },
		{ "1800", "dme" }, { "2700", "carrier" },
	};

	if (r->eob_type.p)
		return lower_code(f, r->eob_type);
	if (r->claim_type_code.p)
		for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
			if (str_eq(r->claim_type_code, map[i].code))
				return (str){ map[i].type, (uint32_t)strlen(map[i].type) };
	if (str_eq(r->claim_category, "pharmacy"))
		return (str){ "pde", 3 };
	return (str){ NULL, 0 };
}

static flat_val api_version(const flattener *f)
{
	return f->res.v3 ? VL("v3") : VL("v2");
}

static int int_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/* Every element of a list has a sequence, and no two the same. */
static int check_sequences(flattener *f, int which, size_t off, const char *what)
{
	vec *v = &f->v[which];
	long *seqs;
	int rc = 0;

	if (v->n == 0)
		return 0;
	seqs = xmalloc(sizeof *seqs * v->n);
	for (uint32_t i = 0; i < v->n; i++) {
		const str *s = (const str *)(const void *)(v->a + (size_t)i * v->esz + off);

		if (!s->p) {
			rc = fail(f, "%s[%u] has no sequence", what, i);
			goto out;
		}
		seqs[i] = strtol(s->p, NULL, 10);
	}
	qsort(seqs, v->n, sizeof *seqs, int_cmp);
	for (uint32_t i = 1; i < v->n; i++) {
		if (seqs[i] == seqs[i - 1]) {
			rc = fail(f, "%s: sequence %ld appears twice; sequences must be unique", what,
				seqs[i]);
			goto out;
		}
	}
out:
	free(seqs);
	return rc;
}

/* Element paths in natural order: array indexes compare as numbers. */
static int path_cmp(str a, str b)
{
	uint32_t i = 0, j = 0;

	while (i < a.n && j < b.n) {
		char x = a.p[i], y = b.p[j];

		if (x >= '0' && x <= '9' && y >= '0' && y <= '9') {
			uint32_t i2 = i, j2 = j;

			while (i2 < a.n && a.p[i2] >= '0' && a.p[i2] <= '9')
				i2++;
			while (j2 < b.n && b.p[j2] >= '0' && b.p[j2] <= '9')
				j2++;
			if (i2 - i != j2 - j)
				return i2 - i < j2 - j ? -1 : 1;
			for (; i < i2; i++, j++)
				if (a.p[i] != b.p[j])
					return a.p[i] < b.p[j] ? -1 : 1;
			continue;
		}
		if (x != y)
			return (unsigned char)x < (unsigned char)y ? -1 : 1;
		i++;
		j++;
	}
	return (a.n - i) == (b.n - j) ? 0 : (a.n - i) < (b.n - j) ? -1 : 1;
}

static int ext_cmp(const void *pa, const void *pb, void *arg)
{
	const ext *v = arg;
	const ext *a = &v[*(const uint32_t *)pa], *b = &v[*(const uint32_t *)pb];
	int c = a->element.p == b->element.p ? 0 : path_cmp(a->element, b->element);

	if (c)
		return c;
	if (a->modifier != b->modifier)
		return a->modifier < b->modifier ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * The extensions in an order that does not depend on the order of keys in
 * the JSON: by element path, then position in their array.
 */
static uint32_t *ext_order(flattener *f)
{
	uint32_t n = f->v[V_EXT].n;
	uint32_t *order;

	if (n == 0)
		return NULL;
	order = arena_alloc_aligned(f, (size_t)n * sizeof *order);
	if (!order)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	/* usually already in order (the common key order): check before sorting */
	for (uint32_t i = 1; i < n; i++) {
		if (ext_cmp(&order[i - 1], &order[i], f->v[V_EXT].a) > 0) {
			qsort_r(order, n, sizeof *order, ext_cmp, f->v[V_EXT].a);
			break;
		}
	}
	return order;
}

static void json_str_body(sbuf *b, str s);
static void json_str(sbuf *b, str s);
static void json_field(sbuf *b, const char *name, str v, bool raw);

/*
 * The adjudications of a detail as a JSON array (jsonb column): one object
 * per adjudication with its ordinal and the fields it has; numbers are the
 * JSON text as sent (jsonb keeps them as exact numerics).
 */
static flat_val detail_adjudications(flattener *f, const detail *d)
{
	sbuf *b = &f->scratch;

	if (d->nadj == 0)
		return VNULL;
	sbuf_reset(b);
	sbuf_putc(b, '[');
	for (uint32_t i = 0; i < d->nadj; i++) {
		const adj *a = &AT(f, V_ADJ, adj, d->adj0 + i);
		char ord[16];
		size_t on = utoa(a->ordinal, ord);

		if (i)
			sbuf_putc(b, ',');
		sbuf_puts(b, "{\"ordinal\":");
		sbuf_append(b, ord, on);
		json_field(b, "category", a->category, false);
		json_field(b, "variable", a->variable, false);
		json_field(b, "amount", a->amount, true);
		json_field(b, "value", a->value, true);
		json_field(b, "reason_system", a->reason_system, false);
		json_field(b, "reason_code", a->reason_code, false);
		sbuf_putc(b, '}');
	}
	sbuf_putc(b, ']');
	return scratch_val(f);
}

static int emit_eob_rows(flattener *f, emitter *em)
{
	const resource *r = &f->res;
	flat_val row[(int)EOB_NCOLS > (int)IT_NCOLS ? (int)EOB_NCOLS : (int)IT_NCOLS];
	flat_val id = V(em->id);
	str pid, ptype, pname, fid, ftype, fname, claim_id = { NULL, 0 }, claim_group = { NULL, 0 };
	str cov = { NULL, 0 };
	flat_val part = f->participant ? VL(f->participant) : VNULL;

	/* header */
	for (uint32_t i = 0; i < f->v[V_IDENT].n; i++) {
		const ident *x = &AT(f, V_IDENT, ident, i);

		if (x->owner != -1)
			continue;
		if (str_eq(x->system, SYS_CLAIM_GROUP))
			set_first(&claim_group, x->value);
		else if (str_eq(x->system, BB_VARIABLES "clm_id") ||
			 str_eq(x->system, BB_VARIABLES "pde_id"))
			set_first(&claim_id, x->value);
	}
	for (uint32_t i = 0; i < f->v[V_IDENT].n && !claim_id.p; i++) {
		const ident *x = &AT(f, V_IDENT, ident, i);

		if (x->owner == -1 && str_eq(x->type, "uc") && !str_eq(x->system, SYS_CLAIM_GROUP))
			set_first(&claim_id, x->value);
	}
	for (uint32_t i = 0; i < f->v[V_INS].n; i++) {
		const ins *in = &AT(f, V_INS, ins, i);

		if (in->cov.reference.p && (!cov.p || str_eq(in->focal, "true")))
			cov = strip_ref(in->cov.reference, "Coverage");
		if (str_eq(in->focal, "true"))
			break;
	}
	resolve_ref(f, &r->provider, true, &pid, &ptype, &pname);
	resolve_ref(f, &r->facility, true, &fid, &ftype, &fname);
	row[EOB_ID] = id;
	row[EOB_PARTICIPANT] = part;
	row[EOB_PATIENT] = V(strip_ref(r->patient.reference, "Patient"));
	row[EOB_CLAIM_TYPE] = V(claim_type(f));
	row[EOB_CLAIM_TYPE_CODE] = V(r->claim_type_code);
	row[EOB_CLAIM_ID] = V(claim_id);
	row[EOB_CLAIM_GROUP] = V(claim_group);
	row[EOB_STATUS] = V(r->status);
	row[EOB_OUTCOME] = V(r->outcome);
	row[EOB_BILL_START] = vdate(f, r->bill_start, "billablePeriod.start");
	row[EOB_BILL_END] = vdate(f, r->bill_end, "billablePeriod.end");
	row[EOB_PROV_NPI] = V(pid);
	row[EOB_PROV_NAME] = V(pname);
	row[EOB_FAC_NPI] = V(fid);
	row[EOB_FAC_NAME] = V(fname);
	row[EOB_COVERAGE] = V(cov);
	row[EOB_PAY_AMOUNT] = V(r->pay_amount);
	row[EOB_PAY_DATE] = vdate(f, r->pay_date, "payment.date");
	row[EOB_LAST_UPDATED] = vts(f, r->last_updated, "meta.lastUpdated");
	row[EOB_API_VERSION] = api_version(f);
	if (put_row(f, em, FT_EOB, row) < 0)
		return -1;

	for (uint32_t i = 0; i < f->v[V_ITEM].n; i++) {
		const item *it = &AT(f, V_ITEM, item, i);

		row[IT_EOB] = id;
		row[IT_SEQ] = V(it->seq);
		row[IT_PROD_SYSTEM] = V(it->prod.system);
		row[IT_PROD_CODE] = V(it->prod.code);
		row[IT_PROD_DISPLAY] = V(it->prod.display);
		row[IT_REVENUE] = V(it->revenue);
		row[IT_CATEGORY] = V(it->category);
		row[IT_MODIFIERS] = item_array(f, (int32_t)i, IL_MOD, true);
		row[IT_SSTART] = vdate(f, it->sstart, "item.serviced.start");
		row[IT_SEND] = vdate(f, it->send, "item.serviced.end");
		row[IT_QTY] = V(it->qty);
		row[IT_POS] = V(it->loc);
		row[IT_CT] = item_array(f, (int32_t)i, IL_CT, false);
		row[IT_DX] = item_array(f, (int32_t)i, IL_DX, false);
		row[IT_PX] = item_array(f, (int32_t)i, IL_PX, false);
		row[IT_INFO] = item_array(f, (int32_t)i, IL_INFO, false);
		if (put_row(f, em, FT_EOB_ITEM, row) < 0)
			return -1;
	}

	for (uint32_t i = 0; i < f->v[V_ADJ].n; i++) {
		const adj *a = &AT(f, V_ADJ, adj, i);
		char ord[16];
		size_t on = utoa(a->ordinal, ord);

		if (a->item < 0 || a->detail >= 0)
			continue;   /* claim-level: eob_total; a detail's: eob_item_detail */
		row[AD_EOB] = id;
		row[AD_ITEM] = V(AT(f, V_ITEM, item, a->item).seq);
		row[AD_ORD] = (flat_val){ ord, on };
		row[AD_CATEGORY] = V(a->category);
		row[AD_VARIABLE] = V(a->variable);
		row[AD_AMOUNT] = V(a->amount);
		row[AD_VALUE] = V(a->value);
		row[AD_RSYSTEM] = V(a->reason_system);
		row[AD_RCODE] = V(a->reason_code);
		if (put_row(f, em, FT_EOB_ITEM_ADJUDICATION, row) < 0)
			return -1;
	}

	for (uint32_t i = 0; i < f->v[V_DETAIL].n; i++) {
		const detail *d = &AT(f, V_DETAIL, detail, i);
		char ord[16];
		size_t on = utoa(d->ordinal, ord);

		row[DT_EOB] = id;
		row[DT_ITEM] = V(AT(f, V_ITEM, item, d->item).seq);
		row[DT_ORD] = (flat_val){ ord, on };
		row[DT_SEQ] = V(d->seq);
		row[DT_PROD_SYSTEM] = V(d->prod.system);
		row[DT_PROD_CODE] = V(d->prod.code);
		row[DT_PROD_DISPLAY] = V(d->prod.display);
		row[DT_REVENUE] = V(d->revenue);
		row[DT_CATEGORY] = V(d->category);
		row[DT_MODIFIERS] = item_array(f, (int32_t)i, IL_DMOD, true);
		row[DT_PROGRAMS] = item_array(f, (int32_t)i, IL_DPROG, true);
		row[DT_QTY] = V(d->qty);
		row[DT_QTY_UNIT] = V(d->qty_unit);
		row[DT_QTY_SYSTEM] = V(d->qty_system);
		row[DT_QTY_CODE] = V(d->qty_code);
		row[DT_UNIT_PRICE] = V(d->unit_price);
		row[DT_FACTOR] = V(d->factor);
		row[DT_NET] = V(d->net);
		row[DT_ADJ] = detail_adjudications(f, d);
		if (put_row(f, em, FT_EOB_ITEM_DETAIL, row) < 0)
			return -1;
	}

	for (uint32_t i = 0; i < f->v[V_DIAG].n; i++) {
		const diag *d = &AT(f, V_DIAG, diag, i);

		row[DX_EOB] = id;
		row[DX_SEQ] = V(d->seq);
		row[DX_SYSTEM] = V(d->cc.system);
		row[DX_CODE] = V(d->cc.code);
		row[DX_DISPLAY] = V(d->cc.display);
		row[DX_TYPE] = V(d->type);
		row[DX_ONADM] = V(d->on_adm);
		row[DX_PKG] = V(d->pkg);
		if (put_row(f, em, FT_EOB_DIAGNOSIS, row) < 0)
			return -1;
	}

	for (uint32_t i = 0; i < f->v[V_PROC].n; i++) {
		const proc *p = &AT(f, V_PROC, proc, i);

		row[PX_EOB] = id;
		row[PX_SEQ] = V(p->seq);
		row[PX_SYSTEM] = V(p->cc.system);
		row[PX_CODE] = V(p->cc.code);
		row[PX_DISPLAY] = V(p->cc.display);
		row[PX_TYPE] = V(p->type);
		row[PX_DATE] = vdate(f, p->date, "procedure.date");
		if (put_row(f, em, FT_EOB_PROCEDURE, row) < 0)
			return -1;
	}

	for (uint32_t i = 0; i < f->v[V_CARETEAM].n; i++) {
		const careteam *ct = &AT(f, V_CARETEAM, careteam, i);
		str cid, ctype, cname;

		resolve_ref(f, &ct->prov, false, &cid, &ctype, &cname);
		row[CT_EOB] = id;
		row[CT_SEQ] = V(ct->seq);
		row[CT_PID] = V(cid);
		row[CT_PIDTYPE] = V(lower_code(f, ctype));
		row[CT_PNAME] = V(cname);
		row[CT_ROLE] = V(ct->role);
		row[CT_QUAL] = V(ct->qual);
		row[CT_RESP] = vbool(ct->responsible);
		if (put_row(f, em, FT_EOB_CARE_TEAM, row) < 0)
			return -1;
	}

	for (uint32_t i = 0; i < f->v[V_SUPINFO].n; i++) {
		const supinfo *si = &AT(f, V_SUPINFO, supinfo, i);

		char ord[16];
		size_t on = utoa(i + 1, ord);

		row[SI_EOB] = id;
		row[SI_ORD] = (flat_val){ ord, on };
		row[SI_SEQ] = V(si->seq);
		row[SI_CATEGORY] = V(si->category);
		row[SI_VARIABLE] = V(si->variable);
		row[SI_CSYSTEM] = V(si->code.system);
		row[SI_CODE] = V(si->code.code);
		row[SI_CDISPLAY] = V(si->code.display);
		row[SI_TSTART] = vdate(f, si->tstart, "supportingInfo.timing.start");
		row[SI_TEND] = vdate(f, si->tend, "supportingInfo.timing.end");
		row[SI_VNUM] = V(si->vnum);
		row[SI_VTEXT] = V(si->vtext);
		if (!si->vnum.p) {
			/* a reference to a contained Observation: take its value */
			int32_t ci = -1;
			const contained *c = find_contained(f, si->vtext, &ci);

			if (c && c->vnum.p)
				row[SI_VNUM] = V(c->vnum);
		}
		if (put_row(f, em, FT_EOB_SUPPORTING_INFO, row) < 0)
			return -1;
	}

	/* claim-level amounts: total[], benefitBalance[].financial[], adjudication[] */
	for (uint32_t i = 0; i < f->v[V_TOTAL].n; i++) {
		const total *to = &AT(f, V_TOTAL, total, i);
		char ord[16];
		size_t on = utoa(i + 1, ord);

		row[TO_EOB] = id;
		row[TO_KIND] = VL("total");
		row[TO_ORD] = (flat_val){ ord, on };
		row[TO_CATEGORY] = V(to->category);
		row[TO_VARIABLE] = V(to->variable);
		row[TO_AMOUNT] = V(to->amount);
		row[TO_QTY] = VNULL;
		row[TO_RCODE] = VNULL;
		if (put_row(f, em, FT_EOB_TOTAL, row) < 0)
			return -1;
	}
	for (uint32_t i = 0; i < f->v[V_FIN].n; i++) {
		const fin *fi = &AT(f, V_FIN, fin, i);
		char ord[16];
		size_t on = utoa(i + 1, ord);

		row[TO_EOB] = id;
		row[TO_KIND] = VL("benefit_balance");
		row[TO_ORD] = (flat_val){ ord, on };
		row[TO_CATEGORY] = fi->bb >= 0 ? V(AT(f, V_BBAL, bbal, fi->bb).category) : VNULL;
		row[TO_VARIABLE] = V(fi->variable);
		row[TO_AMOUNT] = V(fi->used_money.p ? fi->used_money : fi->allowed_money);
		row[TO_QTY] = V(fi->used_int.p ? fi->used_int : fi->allowed_int);
		row[TO_RCODE] = VNULL;
		if (put_row(f, em, FT_EOB_TOTAL, row) < 0)
			return -1;
	}
	for (uint32_t i = 0; i < f->v[V_ADJ].n; i++) {
		const adj *a = &AT(f, V_ADJ, adj, i);
		char ord[16];
		size_t on = utoa(a->ordinal, ord);

		if (a->item >= 0)
			continue;
		row[TO_EOB] = id;
		row[TO_KIND] = VL("adjudication");
		row[TO_ORD] = (flat_val){ ord, on };
		row[TO_CATEGORY] = V(a->category);
		row[TO_VARIABLE] = V(a->variable);
		row[TO_AMOUNT] = V(a->amount);
		row[TO_QTY] = V(a->value);
		row[TO_RCODE] = V(a->reason_code);
		if (put_row(f, em, FT_EOB_TOTAL, row) < 0)
			return -1;
	}

	str element = { NULL, 0 }, last_rel = { NULL, 0 };
	uint32_t *order = ext_order(f);

	if (f->v[V_EXT].n && !order)
		return -1;
	for (uint32_t i = 0; i < f->v[V_EXT].n; i++) {
		const ext *e = &AT(f, V_EXT, ext, order[i]);
		char ord[16];
		size_t on = utoa(i + 1, ord);

		/* "ExplanationOfBenefit" + the relative path; neighbours often share it */
		if (last_rel.p != e->element.p) {
			sbuf_reset(&f->scratch);
			sbuf_puts(&f->scratch, r->rtype.p);
			sbuf_append(&f->scratch, e->element.p, e->element.n);
			if (sdup(f, &element, f->scratch.data, f->scratch.len) < 0)
				return -1;
			last_rel = e->element;
		}
		row[EX_EOB] = id;
		row[EX_ORD] = (flat_val){ ord, on };
		row[EX_ELEMENT] = V(element);
		row[EX_ITEM] = e->item >= 0 ? V(AT(f, V_ITEM, item, e->item).seq) : VNULL;
		row[EX_URL] = V(e->url);
		row[EX_VTYPE] = V(e->vtype);
		row[EX_VSYSTEM] = V(e->vsystem);
		row[EX_VCODE] = V(e->vcode);
		row[EX_VDISPLAY] = V(e->vdisplay);
		row[EX_VTEXT] = V(e->vtext);
		row[EX_VNUM] = V(e->vnum);
		if (e->vdate.p && e->vdate.n < 10 && valid_partial_date(e->vdate.p, e->vdate.n))
			row[EX_VDATE] = VNULL;     /* a year or month: kept in value_text */
		else
			row[EX_VDATE] = vdate(f, e->vdate, "extension.value");
		row[EX_VEND] = vdate(f, e->vend, "extension.valuePeriod.end");
		if (put_row(f, em, FT_EOB_EXTENSION, row) < 0)
			return -1;
	}
	return f->err[0] ? -1 : 0;
}

/* JSON string contents (no quotes) */
static void json_str_body(sbuf *b, str s)
{
	static const char hex[] = "0123456789abcdef";

	for (uint32_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '"' || c == '\\') {
			sbuf_putc(b, '\\');
			sbuf_putc(b, (char)c);
		} else if (c < 0x20) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			sbuf_append(b, u, 6);
		} else {
			sbuf_putc(b, (char)c);
		}
	}
}

static void json_str(sbuf *b, str s)
{
	sbuf_putc(b, '"');
	json_str_body(b, s);
	sbuf_putc(b, '"');
}

static void json_field(sbuf *b, const char *name, str v, bool raw)
{
	if (!v.p)
		return;
	sbuf_printf(b, ",\"%s\":", name);
	if (raw)
		sbuf_append(b, v.p, v.n);
	else
		json_str(b, v);
}

/* The extensions of a Patient or Coverage as a JSON array (jsonb column). */
static flat_val extensions_json(flattener *f)
{
	sbuf *b = &f->scratch;
	uint32_t *order;

	if (f->v[V_EXT].n == 0)
		return VNULL;
	order = ext_order(f);
	if (!order)
		return VNULL;
	sbuf_reset(b);
	sbuf_putc(b, '[');
	for (uint32_t i = 0; i < f->v[V_EXT].n; i++) {
		const ext *e = &AT(f, V_EXT, ext, order[i]);

		if (i)
			sbuf_putc(b, ',');
		sbuf_puts(b, "{\"url\":");
		json_str(b, e->url.p ? e->url : (str){ "", 0 });
		if (e->element.n) {
			sbuf_puts(b, ",\"element\":\"");
			sbuf_puts(b, f->res.rtype.p);   /* a resource type: no escaping needed */
			json_str_body(b, e->element);
			sbuf_putc(b, '"');
		}
		json_field(b, "type", e->vtype, false);
		json_field(b, "system", e->vsystem, false);
		json_field(b, "code", e->vcode, false);
		json_field(b, "display", e->vdisplay, false);
		json_field(b, "text", e->vtext, false);
		json_field(b, "number", e->vnum, true);
		if (e->vdate.p != e->vtext.p)
			json_field(b, "start", e->vdate, false);
		json_field(b, "end", e->vend, false);
		sbuf_putc(b, '}');
	}
	sbuf_putc(b, ']');
	return scratch_val(f);
}

static const ext *find_ext(flattener *f, const char *var)
{
	for (uint32_t i = 0; i < f->v[V_EXT].n; i++) {
		const ext *e = &AT(f, V_EXT, ext, i);

		if (e->element.n == 0 && str_eq(strip_variable(e->url), var))
			return e;
	}
	return NULL;
}

static int emit_patient_rows(flattener *f, emitter *em)
{
	const resource *r = &f->res;
	flat_val row[PA_NCOLS];
	const ext *race = find_ext(f, "race");

	row[PA_ID] = V(em->id);
	row[PA_PARTICIPANT] = f->participant ? VL(f->participant) : VNULL;
	row[PA_GENDER] = V(r->gender);
	row[PA_BIRTH] = vdate(f, r->birth_date, "birthDate");
	row[PA_DECEASED_DATE] = vdate(f, r->deceased_dt, "deceasedDateTime");
	row[PA_DECEASED] = r->deceased_bool.p ? vbool(r->deceased_bool)
		: r->deceased_dt.p ? VL("t") : VNULL;
	row[PA_RACE] = race ? V(race->vcode) : VNULL;
	row[PA_STATE] = V(r->addr_state);
	row[PA_POSTAL] = V(r->addr_postal);
	row[PA_LAST_UPDATED] = vts(f, r->last_updated, "meta.lastUpdated");
	row[PA_API_VERSION] = api_version(f);
	row[PA_EXTENSIONS] = extensions_json(f);
	if (put_row(f, em, FT_PATIENT, row) < 0)
		return -1;
	return f->err[0] ? -1 : 0;
}

/* monthly values: names "<prefix>01".."<prefix>12" -> a 12-element text[] */
static flat_val monthly_array(flattener *f, const char *const *prefixes, const char *single)
{
	str months[12] = { { NULL, 0 } };
	bool any = false, monthly = false;

	for (uint32_t i = 0; i < f->v[V_EXT].n; i++) {
		const ext *e = &AT(f, V_EXT, ext, i);
		str var = strip_variable(e->url);
		str val = e->vcode.p ? e->vcode : e->vtext;

		if (e->element.n || !val.p)
			continue;
		if (single && str_prefix(e->url, SYS_BB_V3_PREFIX) && var.n >= strlen(single) &&
		    memcmp(var.p + var.n - strlen(single), single, strlen(single)) == 0 &&
		    var.p[var.n - strlen(single) - 1] == '/') {
			months[0] = val;
			any = true;
			continue;
		}
		for (const char *const *pp = prefixes; *pp; pp++) {
			size_t pn = strlen(*pp);

			if (var.n == pn + 2 && var.p == e->url.p + strlen(BB_VARIABLES) &&
			    memcmp(var.p, *pp, pn) == 0 && digits(var.p + pn, 2)) {
				int m = num2(var.p + pn);

				if (m >= 1 && m <= 12) {
					months[m - 1] = val;
					any = monthly = true;
				}
			}
		}
	}
	if (!any)
		return VNULL;
	sbuf_reset(&f->scratch);
	sbuf_putc(&f->scratch, '{');
	for (int m = 0; m < (monthly ? 12 : 1); m++) {
		if (m)
			sbuf_putc(&f->scratch, ',');
		if (!months[m].p) {
			sbuf_puts(&f->scratch, "NULL");
			continue;
		}
		sbuf_putc(&f->scratch, '"');
		for (uint32_t j = 0; j < months[m].n; j++) {
			if (months[m].p[j] == '"' || months[m].p[j] == '\\')
				sbuf_putc(&f->scratch, '\\');
			sbuf_putc(&f->scratch, months[m].p[j]);
		}
		sbuf_putc(&f->scratch, '"');
	}
	sbuf_putc(&f->scratch, '}');
	return scratch_val(f);
}

static int emit_coverage_rows(flattener *f, emitter *em)
{
	static const char *const contract_prefixes[] = { "ptdcntrct", "ptc_cntrct_id_", NULL };
	static const char *const pbp_prefixes[] = { "ptdpbpid", "ptc_pbp_id_", NULL };
	const resource *r = &f->res;
	flat_val row[CV_NCOLS];
	str plan = { NULL, 0 }, part = { NULL, 0 }, payor_id, payor_type, payor_name;
	const ext *refyr = find_ext(f, "rfrnc_yr");
	char part_buf[8];

	for (uint32_t i = 0; i < f->v[V_CLASS].n; i++) {
		const cls *c = &AT(f, V_CLASS, cls, i);

		if (str_eq(c->type, "plan"))
			set_first(&plan, c->value);
	}
	if (plan.p && plan.n >= 6 && plan.n <= 12 && memcmp(plan.p, "Part ", 5) == 0) {
		part.p = plan.p + 5;
		part.n = plan.n - 5;
	} else if (em->id.p) {
		/* ids "part-a-<bene>", "c4dic-part-b-<bene>" */
		const char *s = em->id.p, *end = em->id.p + em->id.n;
		const char *pp = NULL;

		for (const char *q = s; q + 5 <= end; q++)
			if (memcmp(q, "part-", 5) == 0) {
				pp = q + 5;
				break;
			}
		if (pp) {
			size_t k = 0;

			while (pp + k < end && pp[k] != '-' && k < sizeof part_buf - 1) {
				char c = pp[k];

				part_buf[k] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
				k++;
			}
			if (k > 0 && pp + k < end && pp[k] == '-') {
				part.p = part_buf;
				part.n = (uint32_t)k;
			}
		}
	}
	resolve_ref(f, &r->payor, false, &payor_id, &payor_type, &payor_name);
	row[CV_ID] = V(em->id);
	row[CV_PARTICIPANT] = f->participant ? VL(f->participant) : VNULL;
	row[CV_PATIENT] = V(strip_ref(r->beneficiary.reference, "Patient"));
	row[CV_PART] = V(part);
	row[CV_PLAN] = V(plan);
	row[CV_STATUS] = V(r->status);
	row[CV_TYPE] = V(r->first_type_code);
	row[CV_REL] = V(r->relationship);
	row[CV_START] = vdate(f, r->period_start, "period.start");
	row[CV_END] = vdate(f, r->period_end, "period.end");
	row[CV_PAYOR] = V(payor_name.p ? payor_name : payor_id);
	row[CV_CONTRACTS] = monthly_array(f, contract_prefixes, "BENE-CNTRCT-NUM");
	row[CV_PBPS] = monthly_array(f, pbp_prefixes, "BENE-PBP-NUM");
	row[CV_REFYEAR] = refyr && refyr->vtext.p && refyr->vtext.n >= 4 &&
		digits(refyr->vtext.p, 4) ? (flat_val){ refyr->vtext.p, 4 } : VNULL;
	row[CV_LAST_UPDATED] = vts(f, r->last_updated, "meta.lastUpdated");
	row[CV_API_VERSION] = api_version(f);
	row[CV_EXTENSIONS] = extensions_json(f);
	if (put_row(f, em, FT_COVERAGE, row) < 0)
		return -1;
	return f->err[0] ? -1 : 0;
}

static int emit_kind(flattener *f, emitter *em, flat_kind kind)
{
	switch (kind) {
	case FK_EOB: return emit_eob_rows(f, em);
	case FK_PATIENT: return emit_patient_rows(f, em);
	default: return emit_coverage_rows(f, em);
	}
}

/* A resource without id: key it by a digest of its rows. */
static int hashed_id(flattener *f, flat_kind kind, str *id)
{
	emitter em = { NULL, EVP_MD_CTX_new(), { NULL, 0 } };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *out;
	int rc;
	size_t warned = (size_t)f->warned;
	uint64_t bad = f->stats->bad_dates;

	if (!em.md || EVP_DigestInit_ex(em.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(em.md);
		return fail(f, "cannot compute a SHA-256 digest (OpenSSL)");
	}
	f->warned = 6;  /* warnings come once, from the real pass */
	rc = emit_kind(f, &em, kind);
	f->warned = (int)warned;
	f->stats->bad_dates = bad;
	if (rc == 0 && EVP_DigestFinal_ex(em.md, md, &mdlen) != 1)
		rc = fail(f, "cannot compute a SHA-256 digest (OpenSSL)");
	EVP_MD_CTX_free(em.md);
	if (rc < 0)
		return -1;
	out = arena_alloc(f, 7 + 32 + 1);
	if (!out)
		return -1;
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	id->p = out;
	id->n = 7 + 32;
	f->stats->hashed_ids++;
	return 0;
}

/* append at most what fits; the message is capped, not the payload of a claim */
static void cat_str(char *buf, size_t cap, size_t *len, const char *p, size_t n)
{
	if (*len + 1 >= cap)
		return;
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;
	memcpy(buf + *len, p, n);
	*len += n;
	buf[*len] = '\0';
}

static int emit_outcome(flattener *f)
{
	bool error = f->top;
	char msg[256];
	size_t len = 0;

	msg[0] = '\0';
	for (uint32_t i = 0; i < f->v[V_ISSUE].n; i++) {
		const issue *is = &AT(f, V_ISSUE, issue, i);
		const str *parts[] = { &is->severity, &is->code, &is->text, &is->diagnostics };
		const char *seps[] = { "", " ", ": ", ": " };

		if (str_eq(is->severity, "error") || str_eq(is->severity, "fatal"))
			error = true;
		if (len)
			cat_str(msg, sizeof msg, &len, "; ", 2);
		for (int k = 0; k < 4; k++) {
			if (!parts[k]->p)
				continue;
			if (k)
				cat_str(msg, sizeof msg, &len, seps[k], strlen(seps[k]));
			cat_str(msg, sizeof msg, &len, parts[k]->p, parts[k]->n);
		}
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)msg[i] < 0x20)
			msg[i] = ' ';
	if (error)
		return fail(f, "the server answered with an OperationOutcome instead of data: %s%s",
			len ? msg : "(no issue text)", len >= sizeof msg - 1 ? " [truncated]" : "");
	f->stats->outcome_warnings++;
	log_warning("%s: entry %llu is an OperationOutcome with a warning: %s", f->input,
		(unsigned long long)f->entry_index, len ? msg : "(no issue text)");
	return 0;
}

static void bundle_info(flattener *f)
{
	const resource *r = &f->res;

	f->bundle.is_bundle = true;
	f->bundle.total = r->bundle_total.p ? strtoll(r->bundle_total.p, NULL, 10) : -1;
	for (uint32_t i = 0; i < f->v[V_LINK].n; i++) {
		const link *l = &AT(f, V_LINK, link, i);

		if (str_eq(l->relation, "next") && l->url.p && !f->bundle_next)
			f->bundle_next = xstrndup(l->url.p, l->url.n);
	}
	if (r->last_updated.p && flat_valid_timestamp(r->last_updated.p, r->last_updated.n))
		f->bundle_updated = xstrndup(r->last_updated.p, r->last_updated.n);
	f->bundle.next_url = f->bundle_next;
	f->bundle.last_updated = f->bundle_updated;
}

static bool ours(str rtype)
{
	return str_eq(rtype, "ExplanationOfBenefit") || str_eq(rtype, "Patient") ||
		str_eq(rtype, "Coverage");
}

static int emit(flattener *f)
{
	const resource *r = &f->res;
	flat_kind kind;
	emitter em = { f->sink, NULL, r->id };

	if (f->err[0])
		return -1;
	f->stats->resources++;
	if (!r->rtype.p)
		return fail(f, "object has no resourceType, so it is not a FHIR resource");
	if (str_eq(r->rtype, "ExplanationOfBenefit")) {
		kind = FK_EOB;
	} else if (str_eq(r->rtype, "Patient")) {
		kind = FK_PATIENT;
	} else if (str_eq(r->rtype, "Coverage")) {
		kind = FK_COVERAGE;
	} else if (str_eq(r->rtype, "OperationOutcome")) {
		return emit_outcome(f);
	} else {
		if (f->top && str_eq(r->rtype, "Bundle"))
			bundle_info(f);
		else
			f->stats->skipped++;
		return 0;
	}
	if (f->deferred[0])
		return fail(f, "%s%s: %s", r->rtype.p, f->deferred_path ? f->deferred_path : "",
			f->deferred);
	if (kind == FK_EOB) {
		if (check_sequences(f, V_ITEM, offsetof(item, seq), "ExplanationOfBenefit.item") < 0 ||
		    check_sequences(f, V_DIAG, offsetof(diag, seq), "ExplanationOfBenefit.diagnosis") < 0 ||
		    check_sequences(f, V_PROC, offsetof(proc, seq), "ExplanationOfBenefit.procedure") < 0 ||
		    check_sequences(f, V_CARETEAM, offsetof(careteam, seq),
				    "ExplanationOfBenefit.careTeam") < 0)
			return -1;
	}
	if (!em.id.p || em.id.n == 0) {
		if (hashed_id(f, kind, &em.id) < 0)
			return -1;
	}
	if (f->sink->begin_resource(f->sink->ud, kind, em.id.p, em.id.n) < 0)
		return fail(f, "%s", f->sink->error(f->sink->ud));
	if (emit_kind(f, &em, kind) < 0) {
		f->sink->abort_resource(f->sink->ud);
		return -1;
	}
	if (f->sink->end_resource(f->sink->ud) < 0)
		return fail(f, "%s", f->sink->error(f->sink->ud));
	if (kind == FK_EOB)
		f->stats->eobs++;
	else if (kind == FK_PATIENT)
		f->stats->patients++;
	else
		f->stats->coverages++;
	return 0;
}
