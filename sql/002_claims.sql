-- 002: the claims tables analysts query (design.md section 3).
--
-- Filled by bbingest's flattener (daemon/flatten.c): one row per FHIR
-- ExplanationOfBenefit (EOB) in claims.eob, its line items, every
-- adjudication of every line, diagnoses, procedures, care team, supporting
-- information, claim-level amounts and every extension; one row per Patient
-- and per Coverage.  Amounts are exact numeric values taken from the JSON
-- number text (never a double).  Dates or timestamps that did not parse are
-- NULL (the loader counts and logs them).  Child tables reference claims.eob
-- with ON DELETE CASCADE: a re-fetched EOB replaces all of its rows.
--
-- Column order is the contract with the flattener (flat_tables[] in
-- daemon/flatten.c, the CSV headers of `bbingest flatten`); fetched_at is
-- filled by the database.

CREATE TABLE claims.eob (
  eob_id           text PRIMARY KEY,
  participant_id   text,
  patient_id       text,
  claim_type       text,
  claim_type_code  text,
  claim_id         text,
  claim_group      text,
  status           text,
  outcome          text,
  billable_start   date,
  billable_end     date,
  provider_npi     text,
  provider_name    text,
  facility_npi     text,
  facility_name    text,
  coverage_id      text,
  payment_amount   numeric,
  payment_date     date,
  last_updated     timestamptz,
  api_version      text NOT NULL,
  fetched_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE claims.eob IS 'One row per FHIR ExplanationOfBenefit (a Medicare claim as Blue Button returns it): the claim header';
COMMENT ON COLUMN claims.eob.eob_id IS 'FHIR id of the EOB, e.g. carrier-10000930456505 (claim type and claim id); a resource without id is keyed sha256:<first 32 hex digits of its rows'' digest>';
COMMENT ON COLUMN claims.eob.participant_id IS 'The study''s participant id this claim was fetched for (NULL when loaded without --participant)';
COMMENT ON COLUMN claims.eob.patient_id IS 'Blue Button Patient id (from patient.reference "Patient/<id>"; synthetic ids are negative)';
COMMENT ON COLUMN claims.eob.claim_type IS 'Lower-case claim type: carrier, dme, hha, hospice, inpatient, outpatient, pde or snf (the eob-type coding; for v3 derived from the claim type code when that coding is absent)';
COMMENT ON COLUMN claims.eob.claim_type_code IS 'CCW claim type code (nch_clm_type_cd in v2, CLM-TYPE-CD in v3), e.g. 71 local carrier, 60 inpatient';
COMMENT ON COLUMN claims.eob.claim_id IS 'Claim id: identifier clm_id (PDE: pde_id) in v2, the "uc" unique claim identifier in v3';
COMMENT ON COLUMN claims.eob.claim_group IS 'Claim group id (identifier .../identifier/claim-group): adjustments of one claim share it';
COMMENT ON COLUMN claims.eob.status IS 'active (final action) or cancelled';
COMMENT ON COLUMN claims.eob.outcome IS 'FHIR outcome, normally complete';
COMMENT ON COLUMN claims.eob.billable_start IS 'Claim from date (billablePeriod.start; PDE: fill date)';
COMMENT ON COLUMN claims.eob.billable_end IS 'Claim through date (billablePeriod.end)';
COMMENT ON COLUMN claims.eob.provider_npi IS 'Billing provider NPI: provider.identifier, or the NPI of the contained Organization/Practitioner that provider references (#provider-org)';
COMMENT ON COLUMN claims.eob.provider_name IS 'Billing provider name (provider.display or the contained resource''s name)';
COMMENT ON COLUMN claims.eob.facility_npi IS 'Facility (PDE: pharmacy) NPI where the EOB gives one';
COMMENT ON COLUMN claims.eob.facility_name IS 'Facility (PDE: pharmacy) name where the EOB gives one';
COMMENT ON COLUMN claims.eob.coverage_id IS 'Coverage id of the focal insurance, e.g. part-b-567834 (joins claims.coverage)';
COMMENT ON COLUMN claims.eob.payment_amount IS 'payment.amount.value: the claim payment amount (USD), exact';
COMMENT ON COLUMN claims.eob.payment_date IS 'payment.date (PDE: paid date)';
COMMENT ON COLUMN claims.eob.last_updated IS 'meta.lastUpdated: when Blue Button last loaded or changed the claim';
COMMENT ON COLUMN claims.eob.api_version IS 'Blue Button API version the resource came from: v2, or v3 (v3 code systems or versioned profiles)';
COMMENT ON COLUMN claims.eob.fetched_at IS 'When bbingest stored this version of the claim';
CREATE INDEX eob_participant_idx ON claims.eob (participant_id);
CREATE INDEX eob_patient_idx ON claims.eob (patient_id);
CREATE INDEX eob_type_start_idx ON claims.eob (claim_type, billable_start);

CREATE TABLE claims.eob_item (
  eob_id                 text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  sequence               integer NOT NULL,
  product_system         text,
  product_code           text,
  product_display        text,
  revenue_code           text,
  category               text,
  modifiers              text[],
  serviced_start         date,
  serviced_end           date,
  quantity               numeric,
  place_of_service       text,
  care_team_sequences    integer[],
  diagnosis_sequences    integer[],
  procedure_sequences    integer[],
  information_sequences  integer[],
  PRIMARY KEY (eob_id, sequence)
);
COMMENT ON TABLE claims.eob_item IS 'One row per line item (EOB.item[]) of a claim';
COMMENT ON COLUMN claims.eob_item.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_item.sequence IS 'Line number (item.sequence; PDE always 1)';
COMMENT ON COLUMN claims.eob_item.product_system IS 'Code system of the product or service: HCPCS (.../codesystem/hcpcs) for professional and outpatient lines, NDC (http://hl7.org/fhir/sid/ndc) for drugs';
COMMENT ON COLUMN claims.eob_item.product_code IS 'HCPCS/CPT or NDC code of the line (first coding of productOrService)';
COMMENT ON COLUMN claims.eob_item.product_display IS 'Display text of that coding, where given';
COMMENT ON COLUMN claims.eob_item.revenue_code IS 'Institutional revenue center code (item.revenue, rev_cntr)';
COMMENT ON COLUMN claims.eob_item.category IS 'Line category code (carrier: line_cms_type_srvc_cd)';
COMMENT ON COLUMN claims.eob_item.modifiers IS 'HCPCS modifier codes of the line, in order';
COMMENT ON COLUMN claims.eob_item.serviced_start IS 'First date of service (servicedPeriod.start or servicedDate)';
COMMENT ON COLUMN claims.eob_item.serviced_end IS 'Last date of service (servicedPeriod.end or servicedDate)';
COMMENT ON COLUMN claims.eob_item.quantity IS 'Units (item.quantity.value; PDE: quantity dispensed), exact';
COMMENT ON COLUMN claims.eob_item.place_of_service IS 'Place of service code (first coding of locationCodeableConcept)';
COMMENT ON COLUMN claims.eob_item.care_team_sequences IS 'Pointers to claims.eob_care_team.sequence (item.careTeamSequence)';
COMMENT ON COLUMN claims.eob_item.diagnosis_sequences IS 'Pointers to claims.eob_diagnosis.sequence (item.diagnosisSequence)';
COMMENT ON COLUMN claims.eob_item.procedure_sequences IS 'Pointers to claims.eob_procedure.sequence (item.procedureSequence)';
COMMENT ON COLUMN claims.eob_item.information_sequences IS 'Pointers to claims.eob_supporting_info.sequence (item.informationSequence)';

CREATE TABLE claims.eob_item_adjudication (
  eob_id         text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  item_sequence  integer NOT NULL,
  ordinal        integer NOT NULL,
  category       text,
  variable       text,
  amount         numeric,
  value          numeric,
  reason_system  text,
  reason_code    text,
  PRIMARY KEY (eob_id, item_sequence, ordinal)
);
COMMENT ON TABLE claims.eob_item_adjudication IS 'One row per adjudication of a line item (item[].adjudication[]): the line''s amounts';
COMMENT ON COLUMN claims.eob_item_adjudication.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_item_adjudication.item_sequence IS 'The line (claims.eob_item.sequence)';
COMMENT ON COLUMN claims.eob_item_adjudication.ordinal IS 'Position of the adjudication within the line, from 1';
COMMENT ON COLUMN claims.eob_item_adjudication.category IS 'C4BB/HL7 adjudication category code: submitted, eligible (allowed), benefit (paid), deductible, coinsurance, paidtoprovider, paidtopatient, priorpayerpaid, noncovered, drugcost, denialreason, ...';
COMMENT ON COLUMN claims.eob_item_adjudication.variable IS 'Blue Button variable: the code of the coding from .../codesystem/adjudication without the .../resources/variables/ prefix (e.g. line_alowd_chrg_amt; v3: CLM_LINE_ALOWD_CHRG_AMT). Several variables can share one category';
COMMENT ON COLUMN claims.eob_item_adjudication.amount IS 'amount.value in USD, exact; NULL for reason-only adjudications';
COMMENT ON COLUMN claims.eob_item_adjudication.value IS 'adjudication.value (a number that is not money, e.g. a percentage), exact';
COMMENT ON COLUMN claims.eob_item_adjudication.reason_system IS 'Code system of the reason coding (names the CCW variable of a denial reason)';
COMMENT ON COLUMN claims.eob_item_adjudication.reason_code IS 'Reason code (adjudication.reason), e.g. a denial reason';
CREATE INDEX eob_item_adjudication_variable_idx ON claims.eob_item_adjudication (variable);

CREATE TABLE claims.eob_diagnosis (
  eob_id        text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  sequence      integer NOT NULL,
  system        text,
  code          text,
  display       text,
  type          text,
  on_admission  text,
  package_code  text,
  PRIMARY KEY (eob_id, sequence)
);
COMMENT ON TABLE claims.eob_diagnosis IS 'One row per diagnosis of a claim (EOB.diagnosis[])';
COMMENT ON COLUMN claims.eob_diagnosis.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_diagnosis.sequence IS 'Diagnosis number (diagnosis.sequence; items point at it)';
COMMENT ON COLUMN claims.eob_diagnosis.system IS 'Code system of the first coding: ICD-10-CM (http://hl7.org/fhir/sid/icd-10-cm), ICD-10 or ICD-9-CM';
COMMENT ON COLUMN claims.eob_diagnosis.code IS 'Diagnosis code';
COMMENT ON COLUMN claims.eob_diagnosis.display IS 'Display text of the code, where given';
COMMENT ON COLUMN claims.eob_diagnosis.type IS 'Diagnosis type code: principal, admitting, secondary, external, ...';
COMMENT ON COLUMN claims.eob_diagnosis.on_admission IS 'Present-on-admission code (diagnosis.onAdmission)';
COMMENT ON COLUMN claims.eob_diagnosis.package_code IS 'DRG or package code (diagnosis.packageCode)';
CREATE INDEX eob_diagnosis_code_idx ON claims.eob_diagnosis (code);

CREATE TABLE claims.eob_procedure (
  eob_id          text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  sequence        integer NOT NULL,
  system          text,
  code            text,
  display         text,
  type            text,
  performed_date  date,
  PRIMARY KEY (eob_id, sequence)
);
COMMENT ON TABLE claims.eob_procedure IS 'One row per procedure of an institutional claim (EOB.procedure[]: inpatient, outpatient, SNF)';
COMMENT ON COLUMN claims.eob_procedure.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_procedure.sequence IS 'Procedure number (procedure.sequence)';
COMMENT ON COLUMN claims.eob_procedure.system IS 'Code system of the first coding (ICD-10-PCS, ICD-9)';
COMMENT ON COLUMN claims.eob_procedure.code IS 'Procedure code';
COMMENT ON COLUMN claims.eob_procedure.display IS 'Display text of the code, where given';
COMMENT ON COLUMN claims.eob_procedure.type IS 'Procedure type code (principal, other), where given';
COMMENT ON COLUMN claims.eob_procedure.performed_date IS 'Date of the procedure (the date part of procedure.date)';

CREATE TABLE claims.eob_care_team (
  eob_id            text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  sequence          integer NOT NULL,
  provider_id       text,
  provider_id_type  text,
  provider_name     text,
  role              text,
  qualification     text,
  responsible       boolean,
  PRIMARY KEY (eob_id, sequence)
);
COMMENT ON TABLE claims.eob_care_team IS 'One row per care team member of a claim (EOB.careTeam[])';
COMMENT ON COLUMN claims.eob_care_team.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_care_team.sequence IS 'Member number (careTeam.sequence; items point at it)';
COMMENT ON COLUMN claims.eob_care_team.provider_id IS 'Provider identifier (NPI, UPIN, ...): careTeam.provider.identifier, or the identifier of the contained Practitioner it references';
COMMENT ON COLUMN claims.eob_care_team.provider_id_type IS 'Lower-case type of provider_id: npi, upin, ...';
COMMENT ON COLUMN claims.eob_care_team.provider_name IS 'Provider name, where given';
COMMENT ON COLUMN claims.eob_care_team.role IS 'Care team role code: primary, attending, operating, performing, referring, prescribing, ...';
COMMENT ON COLUMN claims.eob_care_team.qualification IS 'Qualification code (first coding, e.g. a NUCC taxonomy code)';
COMMENT ON COLUMN claims.eob_care_team.responsible IS 'careTeam.responsible';

CREATE TABLE claims.eob_supporting_info (
  eob_id        text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  ordinal       integer NOT NULL,
  sequence      integer,
  category      text,
  variable      text,
  code_system   text,
  code          text,
  code_display  text,
  timing_start  date,
  timing_end    date,
  value_number  numeric,
  value_text    text,
  PRIMARY KEY (eob_id, ordinal)
);
COMMENT ON TABLE claims.eob_supporting_info IS 'One row per supporting information entry of a claim (EOB.supportingInfo[]): admission and discharge data, PDE days supply, refill number, dispense-as-written, claim received date, ...';
COMMENT ON COLUMN claims.eob_supporting_info.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_supporting_info.ordinal IS 'Position in supportingInfo, from 1 (sequence numbers are not always unique in v3 data)';
COMMENT ON COLUMN claims.eob_supporting_info.sequence IS 'supportingInfo.sequence (items point at it)';
COMMENT ON COLUMN claims.eob_supporting_info.category IS 'C4BB/HL7 category code (e.g. admissionperiod, clmrecvddate, dayssupply, info)';
COMMENT ON COLUMN claims.eob_supporting_info.variable IS 'Blue Button variable the entry carries (the .../codesystem/information code without the .../resources/variables/ prefix, e.g. nch_wkly_proc_dt)';
COMMENT ON COLUMN claims.eob_supporting_info.code_system IS 'Code system of supportingInfo.code';
COMMENT ON COLUMN claims.eob_supporting_info.code IS 'supportingInfo.code (first coding)';
COMMENT ON COLUMN claims.eob_supporting_info.code_display IS 'Display text of that code';
COMMENT ON COLUMN claims.eob_supporting_info.timing_start IS 'timingDate, or timingPeriod.start';
COMMENT ON COLUMN claims.eob_supporting_info.timing_end IS 'timingDate, or timingPeriod.end';
COMMENT ON COLUMN claims.eob_supporting_info.value_number IS 'valueQuantity.value (or the value of the contained Observation valueReference points at), exact';
COMMENT ON COLUMN claims.eob_supporting_info.value_text IS 'valueString, valueBoolean, valueIdentifier.value or valueReference.reference';

CREATE TABLE claims.eob_total (
  eob_id       text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN ('total', 'benefit_balance', 'adjudication')),
  ordinal      integer NOT NULL,
  category     text,
  variable     text,
  amount       numeric,
  quantity     numeric,
  reason_code  text,
  PRIMARY KEY (eob_id, kind, ordinal)
);
COMMENT ON TABLE claims.eob_total IS 'Claim-level amounts: EOB.total[], every benefitBalance[].financial[] entry, and claim-level adjudication[] (v3)';
COMMENT ON COLUMN claims.eob_total.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_total.kind IS 'total (EOB.total[]), benefit_balance (benefitBalance[].financial[]) or adjudication (EOB.adjudication[], v3)';
COMMENT ON COLUMN claims.eob_total.ordinal IS 'Position within its kind, from 1';
COMMENT ON COLUMN claims.eob_total.category IS 'total/adjudication: C4BB/HL7 category code; benefit_balance: the benefit category code of the balance';
COMMENT ON COLUMN claims.eob_total.variable IS 'Blue Button variable (adjudication or benefit-balance code without the .../resources/variables/ prefix, e.g. clm_tot_chrg_amt, nch_clm_prvdr_pmt_amt)';
COMMENT ON COLUMN claims.eob_total.amount IS 'Money amount in USD (amount.value, or financial usedMoney/allowedMoney), exact';
COMMENT ON COLUMN claims.eob_total.quantity IS 'A count that is not money (financial usedUnsignedInt/allowedUnsignedInt, e.g. utilization days; adjudication.value)';
COMMENT ON COLUMN claims.eob_total.reason_code IS 'Reason code of a claim-level adjudication';

CREATE TABLE claims.eob_extension (
  eob_id          text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  ordinal         integer NOT NULL,
  element         text NOT NULL,
  item_sequence   integer,
  url             text,
  value_type      text,
  value_system    text,
  value_code      text,
  value_display   text,
  value_text      text,
  value_number    numeric,
  value_date      date,
  value_date_end  date,
  PRIMARY KEY (eob_id, ordinal)
);
COMMENT ON TABLE claims.eob_extension IS 'Every extension anywhere in a claim, one row each (long table): CMS/CCW variables without a column of their own';
COMMENT ON COLUMN claims.eob_extension.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_extension.ordinal IS 'Position of the extension in the resource (document order), from 1';
COMMENT ON COLUMN claims.eob_extension.element IS 'Path of the element carrying the extension, e.g. ExplanationOfBenefit, ExplanationOfBenefit.item[0].adjudication[1], ExplanationOfBenefit.extension[3] (nested extension); indexes from 0';
COMMENT ON COLUMN claims.eob_extension.item_sequence IS 'The line (claims.eob_item.sequence) when the extension sits inside an item';
COMMENT ON COLUMN claims.eob_extension.url IS 'Extension URL; Blue Button variables are https://bluebutton.cms.gov/resources/variables/<variable>';
COMMENT ON COLUMN claims.eob_extension.value_type IS 'FHIR type of value[x]: Coding, Identifier, Quantity, Money, Decimal, Date, String, ...';
COMMENT ON COLUMN claims.eob_extension.value_system IS 'System of a Coding/CodeableConcept/Identifier/Quantity value';
COMMENT ON COLUMN claims.eob_extension.value_code IS 'Code of a Coding/CodeableConcept/code value, or the unit code/currency of a Quantity/Money';
COMMENT ON COLUMN claims.eob_extension.value_display IS 'Display of a coding, unit of a Quantity, display of a Reference';
COMMENT ON COLUMN claims.eob_extension.value_text IS 'String-like values: string, identifier value, reference, date as sent, boolean';
COMMENT ON COLUMN claims.eob_extension.value_number IS 'Numeric values (decimal, integer, Quantity/Money value), exact';
COMMENT ON COLUMN claims.eob_extension.value_date IS 'valueDate/valueDateTime (date part) or valuePeriod.start; NULL for a bare year or month (see value_text)';
COMMENT ON COLUMN claims.eob_extension.value_date_end IS 'valuePeriod.end';
CREATE INDEX eob_extension_url_idx ON claims.eob_extension (url);

CREATE TABLE claims.patient (
  patient_id      text PRIMARY KEY,
  participant_id  text,
  gender          text,
  birth_date      date,
  deceased_date   date,
  deceased        boolean,
  race_code       text,
  state           text,
  postal_code     text,
  last_updated    timestamptz,
  api_version     text NOT NULL,
  extensions      jsonb,
  fetched_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE claims.patient IS 'One row per Blue Button Patient (demographics the participant agreed to share; names and Medicare numbers are not stored)';
COMMENT ON COLUMN claims.patient.patient_id IS 'Blue Button Patient id';
COMMENT ON COLUMN claims.patient.participant_id IS 'The study''s participant id (NULL when loaded without --participant)';
COMMENT ON COLUMN claims.patient.gender IS 'Administrative gender: male, female, other, unknown';
COMMENT ON COLUMN claims.patient.birth_date IS 'Date of birth';
COMMENT ON COLUMN claims.patient.deceased_date IS 'Date of death (date part of deceasedDateTime)';
COMMENT ON COLUMN claims.patient.deceased IS 'Deceased (deceasedBoolean, or true when a date of death is given)';
COMMENT ON COLUMN claims.patient.race_code IS 'CCW race code (extension .../variables/race)';
COMMENT ON COLUMN claims.patient.state IS 'State of the first address';
COMMENT ON COLUMN claims.patient.postal_code IS 'ZIP code of the first address';
COMMENT ON COLUMN claims.patient.last_updated IS 'meta.lastUpdated';
COMMENT ON COLUMN claims.patient.api_version IS 'Blue Button API version: v2 or v3';
COMMENT ON COLUMN claims.patient.extensions IS 'Every extension as a JSON array of {url, element (when nested), type, system, code, display, text, number, start, end}';
COMMENT ON COLUMN claims.patient.fetched_at IS 'When bbingest stored this version';
CREATE INDEX patient_participant_idx ON claims.patient (participant_id);

CREATE TABLE claims.coverage (
  coverage_id     text PRIMARY KEY,
  participant_id  text,
  patient_id      text,
  part            text,
  plan            text,
  status          text,
  type_code       text,
  relationship    text,
  period_start    date,
  period_end      date,
  payor           text,
  contract_ids    text[],
  plan_ids        text[],
  reference_year  integer,
  last_updated    timestamptz,
  api_version     text NOT NULL,
  extensions      jsonb,
  fetched_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE claims.coverage IS 'One row per Coverage: a participant''s Medicare Part A, B, C or D enrolment';
COMMENT ON COLUMN claims.coverage.coverage_id IS 'FHIR id, e.g. part-a-567834 (claims.eob.coverage_id points here)';
COMMENT ON COLUMN claims.coverage.participant_id IS 'The study''s participant id (NULL when loaded without --participant)';
COMMENT ON COLUMN claims.coverage.patient_id IS 'Blue Button Patient id of the beneficiary';
COMMENT ON COLUMN claims.coverage.part IS 'Medicare part: A, B, C, D (from the plan class "Part X", else the id)';
COMMENT ON COLUMN claims.coverage.plan IS 'Value of the plan class, e.g. Part A';
COMMENT ON COLUMN claims.coverage.status IS 'active or cancelled';
COMMENT ON COLUMN claims.coverage.type_code IS 'Coverage type code (first coding)';
COMMENT ON COLUMN claims.coverage.relationship IS 'Subscriber relationship code (self)';
COMMENT ON COLUMN claims.coverage.period_start IS 'Coverage start date';
COMMENT ON COLUMN claims.coverage.period_end IS 'Coverage end date (NULL: open)';
COMMENT ON COLUMN claims.coverage.payor IS 'Payor name or identifier';
COMMENT ON COLUMN claims.coverage.contract_ids IS 'Part C/D contract numbers by month of the reference year (index 1 = January; v2 ptc_cntrct_id_NN / ptdcntrctNN), or the one v3 contract number';
COMMENT ON COLUMN claims.coverage.plan_ids IS 'Plan benefit package ids by month (v2 ptc_pbp_id_NN / ptdpbpidNN), or the one v3 PBP number';
COMMENT ON COLUMN claims.coverage.reference_year IS 'Year the monthly values describe (extension rfrnc_yr)';
COMMENT ON COLUMN claims.coverage.last_updated IS 'meta.lastUpdated';
COMMENT ON COLUMN claims.coverage.api_version IS 'Blue Button API version: v2 or v3';
COMMENT ON COLUMN claims.coverage.extensions IS 'Every extension as a JSON array of {url, element (when nested), type, system, code, display, text, number, start, end}: entitlement, dual status, buy-in and cost-sharing codes by month, ...';
COMMENT ON COLUMN claims.coverage.fetched_at IS 'When bbingest stored this version';
CREATE INDEX coverage_participant_idx ON claims.coverage (participant_id);
CREATE INDEX coverage_patient_idx ON claims.coverage (patient_id);

-- Views analysts want first.

CREATE VIEW claims.v_line_item AS
SELECT e.eob_id, e.participant_id, e.patient_id, e.claim_type, e.claim_id, e.status,
       e.billable_start, e.billable_end, e.provider_npi, e.facility_npi,
       i.sequence AS item_sequence, i.product_system, i.product_code, i.product_display,
       i.revenue_code, i.modifiers, i.serviced_start, i.serviced_end, i.quantity,
       i.place_of_service,
       a.submitted, a.allowed, a.paid, a.paid_to_provider, a.paid_to_patient,
       a.deductible, a.coinsurance, a.copay, a.noncovered, a.prior_payer_paid,
       a.patient_paid, a.drug_cost
FROM claims.eob e
JOIN claims.eob_item i ON i.eob_id = e.eob_id
CROSS JOIN LATERAL (
  SELECT sum(x.amount) FILTER (WHERE x.category = 'submitted') AS submitted,
         sum(x.amount) FILTER (WHERE x.category IN ('eligible', 'allowed')) AS allowed,
         sum(x.amount) FILTER (WHERE x.category = 'benefit') AS paid,
         sum(x.amount) FILTER (WHERE x.category = 'paidtoprovider') AS paid_to_provider,
         sum(x.amount) FILTER (WHERE x.category = 'paidtopatient') AS paid_to_patient,
         sum(x.amount) FILTER (WHERE x.category = 'deductible') AS deductible,
         sum(x.amount) FILTER (WHERE x.category = 'coinsurance') AS coinsurance,
         sum(x.amount) FILTER (WHERE x.category = 'copay') AS copay,
         sum(x.amount) FILTER (WHERE x.category = 'noncovered') AS noncovered,
         sum(x.amount) FILTER (WHERE x.category = 'priorpayerpaid') AS prior_payer_paid,
         sum(x.amount) FILTER (WHERE x.category = 'paidbypatient') AS patient_paid,
         sum(x.amount) FILTER (WHERE x.category = 'drugcost') AS drug_cost
  FROM claims.eob_item_adjudication x
  WHERE x.eob_id = i.eob_id AND x.item_sequence = i.sequence
) a;
COMMENT ON VIEW claims.v_line_item IS 'Line items with their claim header and the common adjudication amounts as columns (sums per C4BB category: submitted, allowed = eligible, paid = benefit, paid to provider/patient, deductible, coinsurance, copay, noncovered, prior payer paid, patient paid, drug cost; NULL when the line has none)';

CREATE VIEW claims.v_claims_by_type_year AS
SELECT e.claim_type,
       extract(year FROM e.billable_start)::integer AS year,
       count(*) AS claims,
       count(*) FILTER (WHERE e.status = 'cancelled') AS cancelled_claims,
       count(DISTINCT e.participant_id) AS participants,
       coalesce(sum(n.items), 0) AS line_items,
       sum(e.payment_amount) AS payment_amount,
       min(e.billable_start) AS first_service,
       max(e.billable_end) AS last_service
FROM claims.eob e
LEFT JOIN (SELECT eob_id, count(*) AS items FROM claims.eob_item GROUP BY eob_id) n
  ON n.eob_id = e.eob_id
GROUP BY e.claim_type, extract(year FROM e.billable_start)::integer;
COMMENT ON VIEW claims.v_claims_by_type_year IS 'Claims per claim type and year of service start: claims, cancelled claims, participants, line items, total payment amount, first and last service date';

GRANT SELECT ON ALL TABLES IN SCHEMA claims TO bbingest_analyst;
