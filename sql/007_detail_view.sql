-- 007: a view of the item details (EOB.item[].detail[]) for analysts.
--
-- Each detail with its claim header and its line, and the common amounts of
-- the detail's own adjudications as columns (summed per C4BB category, as
-- claims.v_line_item does for lines).  The amounts are read from the exact
-- JSON numbers of claims.eob_item_detail.adjudications (numeric, never a
-- double).  They are the detail's share of its line, not in addition to it:
-- add them to line amounts and the line is counted twice.

CREATE VIEW claims.v_item_detail AS
SELECT e.eob_id, e.participant_id, e.patient_id, e.claim_type, e.claim_id, e.status,
       e.billable_start, e.billable_end,
       d.item_sequence, i.product_system AS line_product_system,
       i.product_code AS line_product_code, i.serviced_start, i.serviced_end,
       d.ordinal, d.sequence AS detail_sequence, d.product_system, d.product_code,
       d.product_display, d.revenue_code, d.modifiers, d.quantity, d.quantity_unit,
       d.quantity_code, d.unit_price, d.factor, d.net,
       a.submitted, a.allowed, a.paid, a.deductible, a.coinsurance, a.noncovered
FROM claims.eob_item_detail d
JOIN claims.eob e ON e.eob_id = d.eob_id
LEFT JOIN claims.eob_item i ON i.eob_id = d.eob_id AND i.sequence = d.item_sequence
CROSS JOIN LATERAL (
  SELECT sum((x->>'amount')::numeric) FILTER (WHERE x->>'category' = 'submitted') AS submitted,
         sum((x->>'amount')::numeric) FILTER (WHERE x->>'category' IN ('eligible', 'allowed')) AS allowed,
         sum((x->>'amount')::numeric) FILTER (WHERE x->>'category' = 'benefit') AS paid,
         sum((x->>'amount')::numeric) FILTER (WHERE x->>'category' = 'deductible') AS deductible,
         sum((x->>'amount')::numeric) FILTER (WHERE x->>'category' = 'coinsurance') AS coinsurance,
         sum((x->>'amount')::numeric) FILTER (WHERE x->>'category' = 'noncovered') AS noncovered
  FROM jsonb_array_elements(coalesce(d.adjudications, '[]'::jsonb)) x
) a;
COMMENT ON VIEW claims.v_item_detail IS 'Item details (sub-lines, e.g. the NDC drugs of a v3 line) with their claim header, their line''s code and service dates, and the common amounts of the detail''s own adjudications as columns (sums per C4BB category: submitted, allowed = eligible, paid = benefit, deductible, coinsurance, noncovered; NULL when none). Detail amounts are part of their line''s, not in addition';

GRANT SELECT ON claims.v_item_detail TO bbingest_analyst;
