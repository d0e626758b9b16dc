#!/usr/bin/env python3
"""Compare every participant's claims rows with the sandbox's ground truth.

usage: sync_truth.py SANDBOX_URL ADMIN_TOKEN CA_FILE MAP_FILE

MAP_FILE has one "participant_id username [nodemo]" line per participant
(nodemo: demographics withheld, so no Patient row is expected).  The database is
libpq's environment (psql).  Counts and exact decimal sums per table are
compared; every difference is printed; the exit status is 1 if any.
"""
import json
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from decimal import Decimal

base, admin, ca, mapfile = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
pairs = [l.split() for l in open(mapfile) if l.strip()]

QUERY = r"""
SELECT json_object_agg(p.participant_id, json_build_object(
 'eob', (SELECT json_build_object(
     'count', count(*), 'active', count(*) FILTER (WHERE status = 'active'),
     'cancelled', count(*) FILTER (WHERE status = 'cancelled'),
     'payment_count', count(payment_amount), 'payment_sum', coalesce(sum(payment_amount), 0)::text,
     'by_type', (SELECT coalesce(json_object_agg(t, n), '{}') FROM
        (SELECT claim_type t, count(*) n FROM claims.eob e2 WHERE e2.participant_id = p.participant_id
         GROUP BY claim_type) x))
   FROM claims.eob e WHERE e.participant_id = p.participant_id),
 'eob_item', (SELECT count(*) FROM claims.eob_item i JOIN claims.eob e USING (eob_id)
   WHERE e.participant_id = p.participant_id),
 'adj', (SELECT json_build_object('count', count(*), 'amount_count', count(amount),
     'amount_sum', coalesce(sum(amount), 0)::text)
   FROM claims.eob_item_adjudication a JOIN claims.eob e USING (eob_id)
   WHERE e.participant_id = p.participant_id),
 'tot', (SELECT json_build_object(
     'total_count', count(*) FILTER (WHERE kind = 'total'),
     'total_sum', coalesce(sum(amount) FILTER (WHERE kind = 'total'), 0)::text,
     'bb_count', count(*) FILTER (WHERE kind = 'benefit_balance'),
     'bb_money_count', count(amount) FILTER (WHERE kind = 'benefit_balance'),
     'bb_money_sum', coalesce(sum(amount) FILTER (WHERE kind = 'benefit_balance'), 0)::text)
   FROM claims.eob_total t JOIN claims.eob e USING (eob_id) WHERE e.participant_id = p.participant_id),
 'diag', (SELECT count(*) FROM claims.eob_diagnosis x JOIN claims.eob e USING (eob_id)
   WHERE e.participant_id = p.participant_id),
 'proc', (SELECT count(*) FROM claims.eob_procedure x JOIN claims.eob e USING (eob_id)
   WHERE e.participant_id = p.participant_id),
 'care', (SELECT count(*) FROM claims.eob_care_team x JOIN claims.eob e USING (eob_id)
   WHERE e.participant_id = p.participant_id),
 'info', (SELECT count(*) FROM claims.eob_supporting_info x JOIN claims.eob e USING (eob_id)
   WHERE e.participant_id = p.participant_id),
 'patient', (SELECT count(*) FROM claims.patient x WHERE x.participant_id = p.participant_id),
 'coverage', (SELECT count(*) FROM claims.coverage x WHERE x.participant_id = p.participant_id)
)) FROM bb.participant p
"""

out = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", QUERY],
                     check=True, capture_output=True, text=True).stdout.strip()
db = json.loads(out) if out else {}

bad = 0
checked = 0
for pair in pairs:
    pid, user = pair[0], pair[1]
    nodemo = len(pair) > 2 and pair[2] == "nodemo"
    req = urllib.request.Request(base + "/_admin/truth?user=" + urllib.parse.quote(user),
                                 headers={"X-Admin-Token": admin})
    truth = json.load(urllib.request.urlopen(req, context=ctx))
    got = db.get(pid)
    if got is None:
        print(f"{pid}: no such participant in the database")
        bad += 1
        continue
    t_eob, g_eob = truth["eob"], got["eob"]
    want = {
        "eob.count": (t_eob["count"], g_eob["count"]),
        "eob.active": (t_eob["active"], g_eob["active"]),
        "eob.cancelled": (t_eob["cancelled"], g_eob["cancelled"]),
        "eob.payment_count": (t_eob["payment_count"], g_eob["payment_count"]),
        "eob.payment_sum": (Decimal(t_eob["payment_sum"]), Decimal(g_eob["payment_sum"])),
        "eob_item.count": (truth["eob_item"]["count"], got["eob_item"]),
        "adjudication.count": (truth["eob_item_adjudication"]["count"], got["adj"]["count"]),
        "adjudication.amount_count": (truth["eob_item_adjudication"]["amount_count"], got["adj"]["amount_count"]),
        "adjudication.amount_sum": (Decimal(truth["eob_item_adjudication"]["amount_sum"]),
                                    Decimal(got["adj"]["amount_sum"])),
        "total.count": (truth["eob_total"]["total_count"], got["tot"]["total_count"]),
        "total.sum": (Decimal(truth["eob_total"]["total_sum"]), Decimal(got["tot"]["total_sum"])),
        "benefit_balance.count": (truth["eob_total"]["benefit_balance_count"], got["tot"]["bb_count"]),
        "benefit_balance.money_count": (truth["eob_total"]["benefit_balance_money_count"],
                                        got["tot"]["bb_money_count"]),
        "benefit_balance.money_sum": (Decimal(truth["eob_total"]["benefit_balance_money_sum"]),
                                      Decimal(got["tot"]["bb_money_sum"])),
        "diagnosis.count": (truth["eob_diagnosis"]["count"], got["diag"]),
        "procedure.count": (truth["eob_procedure"]["count"], got["proc"]),
        "care_team.count": (truth["eob_care_team"]["count"], got["care"]),
        "supporting_info.count": (truth["eob_supporting_info"]["count"], got["info"]),
        "patient.count": (0 if nodemo else truth["patient_resource"]["count"], got["patient"]),
        "coverage.count": (truth["coverage"]["count"], got["coverage"]),
    }
    for t, n in truth["eob"]["by_type"].items():
        want["eob.by_type." + t] = (n, g_eob["by_type"].get(t, 0))
    for k, (w, g) in want.items():
        checked += 1
        if w != g:
            bad += 1
            if bad <= 40:
                print(f"{pid} ({user}): {k}: sandbox {w}, database {g}")
print(f"compared {checked} figures of {len(pairs)} participants with the sandbox's ground truth: "
      f"{bad} differ")
sys.exit(1 if bad or not checked else 0)
