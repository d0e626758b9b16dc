-- 004: what the token service and the enrolment need beyond 003.

-- A refresh in flight is marked here, committed before the token call, by the
-- instance that holds the bb.token row lock; the final transaction clears it.
-- A mark whose bb.token row is not locked was left by a refresh that died
-- mid-call: its outcome is unknown (the refresh token may be spent).
ALTER TABLE bb.participant
  ADD COLUMN refresh_started_at timestamptz,
  ADD COLUMN refresh_owner      text;
COMMENT ON COLUMN bb.participant.refresh_started_at IS
  'Set (and committed) just before a token refresh call, cleared with its outcome; left set by a refresh that died mid-call';
COMMENT ON COLUMN bb.participant.refresh_owner IS
  'Daemon instance that made the refresh call marked in refresh_started_at';
CREATE INDEX participant_refresh_mark_idx ON bb.participant (participant_id)
  WHERE refresh_started_at IS NOT NULL;

ALTER TABLE bb.token
  ADD COLUMN refresh_reason   text NOT NULL DEFAULT 'enrolled'
             CHECK (refresh_reason IN ('enrolled', 'scheduled', 'on_demand', 'invalidated', 'in_doubt_retry')),
  ADD COLUMN invalidated_at   timestamptz,
  ADD COLUMN refresh_failures integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN bb.token.refresh_reason IS
  'How the current pair was obtained: enrolled, scheduled, on_demand (before a sync), invalidated (after a 401), in_doubt_retry';
COMMENT ON COLUMN bb.token.invalidated_at IS
  'A FHIR call got 401 with this access token; the next request for a token refreshes first';
COMMENT ON COLUMN bb.token.refresh_failures IS
  'Consecutive refresh attempts that could not reach Blue Button (drives the backoff)';
