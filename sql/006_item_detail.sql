-- 006: the sub-lines of line items (EOB.item[].detail[]).
--
-- v3 claims (and other FHIR R4 data) break a line into details: for example
-- the NDC drugs and their quantities billed under one HCPCS line.  Filled by
-- the flattener like the tables of 002_claims.sql: amounts and quantities
-- are exact numeric values taken from the JSON number text (never a double),
-- and the rows go with their EOB (ON DELETE CASCADE): a re-fetched EOB
-- replaces all of its details.  The primary key starts with eob_id, so it is
-- also the index the cascade of the loader's delete-by-EOB uses.
--
-- Column order is the contract with the flattener (cols_detail in
-- daemon/flatten.c, the header of eob_item_detail.csv).

CREATE TABLE claims.eob_item_detail (
  eob_id            text NOT NULL REFERENCES claims.eob ON DELETE CASCADE,
  item_sequence     integer NOT NULL,
  ordinal           integer NOT NULL,
  sequence          integer,
  product_system    text,
  product_code      text,
  product_display   text,
  revenue_code      text,
  category          text,
  modifiers         text[],
  program_codes     text[],
  quantity          numeric,
  quantity_unit     text,
  quantity_system   text,
  quantity_code     text,
  unit_price        numeric,
  factor            numeric,
  net               numeric,
  adjudications     jsonb,
  PRIMARY KEY (eob_id, item_sequence, ordinal)
);
COMMENT ON TABLE claims.eob_item_detail IS 'One row per detail (sub-line) of a line item (EOB.item[].detail[]), e.g. the NDC drugs and quantities of a v3 line';
COMMENT ON COLUMN claims.eob_item_detail.eob_id IS 'The claim (claims.eob)';
COMMENT ON COLUMN claims.eob_item_detail.item_sequence IS 'The line (claims.eob_item.sequence)';
COMMENT ON COLUMN claims.eob_item_detail.ordinal IS 'Position of the detail within the line''s detail[], from 1';
COMMENT ON COLUMN claims.eob_item_detail.sequence IS 'detail.sequence as sent (normally 1, 2, ... within the line; kept even when it repeats)';
COMMENT ON COLUMN claims.eob_item_detail.product_system IS 'Code system of the detail''s product or service: NDC (http://hl7.org/fhir/sid/ndc) for drugs, HCPCS for services';
COMMENT ON COLUMN claims.eob_item_detail.product_code IS 'NDC or HCPCS code of the detail (first coding of productOrService)';
COMMENT ON COLUMN claims.eob_item_detail.product_display IS 'Display text of that coding, where given';
COMMENT ON COLUMN claims.eob_item_detail.revenue_code IS 'Revenue center code of the detail (detail.revenue), where given';
COMMENT ON COLUMN claims.eob_item_detail.category IS 'Benefit category code of the detail (detail.category), where given';
COMMENT ON COLUMN claims.eob_item_detail.modifiers IS 'Modifier codes of the detail (detail.modifier), in order';
COMMENT ON COLUMN claims.eob_item_detail.program_codes IS 'Program codes of the detail (detail.programCode), in order';
COMMENT ON COLUMN claims.eob_item_detail.quantity IS 'Quantity of the detail (detail.quantity.value, e.g. millilitres of a drug), exact';
COMMENT ON COLUMN claims.eob_item_detail.quantity_unit IS 'Unit of the quantity as sent (quantity.unit, e.g. ML)';
COMMENT ON COLUMN claims.eob_item_detail.quantity_system IS 'Code system of the unit (quantity.system, e.g. http://unitsofmeasure.org)';
COMMENT ON COLUMN claims.eob_item_detail.quantity_code IS 'Coded unit (quantity.code, e.g. mL)';
COMMENT ON COLUMN claims.eob_item_detail.unit_price IS 'Price per unit in USD (detail.unitPrice.value), exact';
COMMENT ON COLUMN claims.eob_item_detail.factor IS 'Price scaling factor (detail.factor), exact';
COMMENT ON COLUMN claims.eob_item_detail.net IS 'Total amount of the detail in USD (detail.net.value), exact';
COMMENT ON COLUMN claims.eob_item_detail.adjudications IS 'The detail''s adjudications (detail.adjudication[]) as a JSON array of {category, variable, amount, value, reason_system, reason_code} (numbers exact); NULL when it has none. Not part of claims.eob_item_adjudication, so line amounts are not counted twice';

GRANT SELECT ON claims.eob_item_detail TO bbingest_analyst;
