#!/usr/bin/env bash
# bbingest status [ID] and bbingest sync-now ID|--all on a real database.
. "$BB_SOURCE_ROOT/tests/lib.sh"
new_db synccli
"$BBINGEST" migrate >/dev/null

sql "INSERT INTO bb.participant (participant_id, state, next_sync_at, last_sync_at, demographics)
     VALUES ('P1', 'active', now() + interval '1 day', now() - interval '1 hour', true),
            ('P2', 'active', now() + interval '1 day', NULL, false),
            ('P3', 'needs_reconsent', NULL, NULL, NULL),
            ('P4', 'invited', NULL, NULL, NULL)"
sql "UPDATE bb.participant SET failures = 4, backoff_until = now() + interval '1 hour',
     last_error = 'ExplanationOfBenefit page 2: HTTP 503 from the API' WHERE participant_id = 'P2'"
sql "INSERT INTO bb.error (participant_id, kind, message) VALUES ('P2', 'http_5xx', 'ExplanationOfBenefit page 2: HTTP 503 from the API')"
sql "INSERT INTO bb.sync_cursor (participant_id, resource, watermark, pages, completed_at)
     VALUES ('P1', 'ExplanationOfBenefit', '2026-01-02T03:04:05Z', 3, now())"

expect_rc 0 "status without an ID" -- "$BBINGEST" status
expect_match "$out" "active +2 +0 +1" "summary: 2 active, none due, 1 backing off"
expect_match "$out" "needs_reconsent +1" "summary counts needs_reconsent"
expect_match "$out" "P2 +active .*HTTP 503" "table shows P2's last error"
expect_match "$out" "P4 +invited" "table lists invited participants"

expect_rc 0 "status P1" -- "$BBINGEST" status P1
expect_match "$out" "state +active" "P1 state"
expect_match "$out" "demographics +granted" "P1 demographics"
expect_match "$out" "ExplanationOfBenefit +complete +2026-01-02" "P1 EOB watermark"
expect_rc 0 "status P2" -- "$BBINGEST" status P2
expect_match "$out" "failures +4" "P2 failures"
expect_match "$out" "http_5xx +ExplanationOfBenefit page 2" "P2 recent errors"
expect_match "$out" "no page stored yet" "P2 has no cursor"
expect_rc 65 "status of an unknown participant" -- "$BBINGEST" status NOPE
expect_match "$errout" "no participant \"NOPE\"" "says which participant is unknown"

expect_rc 0 "sync-now P2" -- "$BBINGEST" sync-now P2
expect_eq "$(sql "SELECT next_sync_at <= now() AND backoff_until IS NULL AND failures = 0 FROM bb.participant WHERE participant_id = 'P2'")" "t" "P2 due now, backoff cleared"
expect_eq "$(sql "SELECT next_sync_at > now() FROM bb.participant WHERE participant_id = 'P1'")" "t" "P1 untouched"
expect_rc 65 "sync-now of a participant who must re-consent" -- "$BBINGEST" sync-now P3
expect_match "$errout" "needs_reconsent; only active participants sync" "explains why"
expect_rc 65 "sync-now of an unknown participant" -- "$BBINGEST" sync-now NOPE
expect_rc 64 "sync-now without an argument" -- "$BBINGEST" sync-now
expect_rc 0 "sync-now --all" -- "$BBINGEST" sync-now --all
expect_match "$out" "queued 2 active participants" "counts the active participants"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE next_sync_at <= now()")" "2" "both active participants due"
expect_eq "$(sql "SELECT count(*) FROM bb.participant WHERE state <> 'active' AND next_sync_at IS NOT NULL")" "0" "others untouched"
expect_rc 0 "status after sync-now" -- "$BBINGEST" status
expect_match "$out" "active +2 +2 +0" "summary: both due"
done_testing
