-- 003: operational state in schema bb (never readable by analysts).

CREATE TABLE bb.participant (
  participant_id  text PRIMARY KEY
                  CHECK (participant_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
  state           text NOT NULL DEFAULT 'invited'
                  CHECK (state IN ('invited', 'active', 'needs_reconsent',
                                   'refresh_in_doubt', 'withdrawn')),
  patient_id      text,
  api_version     text NOT NULL DEFAULT 'v2',
  scopes          text[],
  demographics    boolean,
  enrolled_at     timestamptz,
  withdrawn_at    timestamptz,
  next_sync_at    timestamptz,
  last_sync_at    timestamptz,
  lease_owner     text,
  lease_until     timestamptz,
  failures        integer NOT NULL DEFAULT 0,
  backoff_until   timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bb.participant IS 'One row per study participant: consent state and sync schedule';
COMMENT ON COLUMN bb.participant.participant_id IS 'The study''s own participant id (letters, digits, . _ -; at most 128)';
COMMENT ON COLUMN bb.participant.state IS 'invited: invitation issued, no grant yet; active: grant held and syncing; needs_reconsent: grant lost, participant must enrol again; refresh_in_doubt: a refresh got no clear answer and is retried once; withdrawn: consent withdrawn';
COMMENT ON COLUMN bb.participant.patient_id IS 'Blue Button FHIR Patient id for api_version (from the token response)';
COMMENT ON COLUMN bb.participant.api_version IS 'Blue Button API version of the grant (v2)';
COMMENT ON COLUMN bb.participant.scopes IS 'Scopes granted at enrolment';
COMMENT ON COLUMN bb.participant.demographics IS 'True when Patient scope was granted; false when the participant withheld demographics';
COMMENT ON COLUMN bb.participant.enrolled_at IS 'When the current grant was obtained';
COMMENT ON COLUMN bb.participant.withdrawn_at IS 'When consent was withdrawn';
COMMENT ON COLUMN bb.participant.next_sync_at IS 'When the participant is next due for a sync walk (NULL: not scheduled)';
COMMENT ON COLUMN bb.participant.last_sync_at IS 'When the last complete sync walk finished';
COMMENT ON COLUMN bb.participant.lease_owner IS 'Daemon instance holding the sync lease';
COMMENT ON COLUMN bb.participant.lease_until IS 'Lease expiry; an expired lease may be taken by any instance';
COMMENT ON COLUMN bb.participant.failures IS 'Consecutive failed attempts (drives exponential backoff)';
COMMENT ON COLUMN bb.participant.backoff_until IS 'No sync attempt before this time';
COMMENT ON COLUMN bb.participant.last_error IS 'Last error, without tokens or payloads';
COMMENT ON COLUMN bb.participant.created_at IS 'Row creation time';
COMMENT ON COLUMN bb.participant.updated_at IS 'Last change of the row';
CREATE INDEX participant_due_idx ON bb.participant (next_sync_at) WHERE state = 'active';

CREATE TABLE bb.token (
  participant_id     text PRIMARY KEY REFERENCES bb.participant ON DELETE CASCADE,
  key_id             text NOT NULL,
  access_sealed      bytea NOT NULL,
  refresh_sealed     bytea NOT NULL,
  access_expires_at  timestamptz NOT NULL,
  grant_expires_at   timestamptz,
  generation         bigint NOT NULL DEFAULT 1,
  obtained_at        timestamptz NOT NULL DEFAULT now(),
  next_refresh_at    timestamptz NOT NULL
);
COMMENT ON TABLE bb.token IS 'The participant''s current token pair, sealed with AES-256-GCM (participant id as associated data); the only copy of the consent';
COMMENT ON COLUMN bb.token.participant_id IS 'Participant the grant belongs to';
COMMENT ON COLUMN bb.token.key_id IS 'Id of the sealing key used for both sealed values';
COMMENT ON COLUMN bb.token.access_sealed IS 'Sealed access token';
COMMENT ON COLUMN bb.token.refresh_sealed IS 'Sealed refresh token (single use; rotates on every refresh)';
COMMENT ON COLUMN bb.token.access_expires_at IS 'When the access token expires';
COMMENT ON COLUMN bb.token.grant_expires_at IS 'Grant expiry from access_grant_expiration (NULL for research-study grants)';
COMMENT ON COLUMN bb.token.generation IS 'Incremented by every rotation';
COMMENT ON COLUMN bb.token.obtained_at IS 'When this pair was received';
COMMENT ON COLUMN bb.token.next_refresh_at IS 'Scheduled refresh time (with jitter)';
CREATE INDEX token_refresh_idx ON bb.token (next_refresh_at);

CREATE TABLE bb.invitation (
  token_hash      text PRIMARY KEY,
  participant_id  text NOT NULL REFERENCES bb.participant ON DELETE CASCADE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  used_at         timestamptz
);
COMMENT ON TABLE bb.invitation IS 'Single-use enrolment invitations; only the SHA-256 of the token is stored';
COMMENT ON COLUMN bb.invitation.token_hash IS 'Hex SHA-256 of the invitation token';
COMMENT ON COLUMN bb.invitation.participant_id IS 'The participant the invitation binds';
COMMENT ON COLUMN bb.invitation.created_at IS 'When it was issued';
COMMENT ON COLUMN bb.invitation.expires_at IS 'After this it is refused';
COMMENT ON COLUMN bb.invitation.used_at IS 'When it was used (it cannot be used twice)';
CREATE INDEX invitation_participant_idx ON bb.invitation (participant_id);

CREATE TABLE bb.pending_authorization (
  state_hash       text PRIMARY KEY,
  participant_id   text NOT NULL REFERENCES bb.participant ON DELETE CASCADE,
  key_id           text NOT NULL,
  verifier_sealed  bytea NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  used_at          timestamptz
);
COMMENT ON TABLE bb.pending_authorization IS 'OAuth authorizations in flight: single-use state and sealed PKCE verifier';
COMMENT ON COLUMN bb.pending_authorization.state_hash IS 'Hex SHA-256 of the OAuth state parameter';
COMMENT ON COLUMN bb.pending_authorization.participant_id IS 'Participant the authorization is for';
COMMENT ON COLUMN bb.pending_authorization.key_id IS 'Sealing key of verifier_sealed';
COMMENT ON COLUMN bb.pending_authorization.verifier_sealed IS 'Sealed PKCE code verifier';
COMMENT ON COLUMN bb.pending_authorization.created_at IS 'When the authorization started';
COMMENT ON COLUMN bb.pending_authorization.expires_at IS 'State expiry (10 minutes)';
COMMENT ON COLUMN bb.pending_authorization.used_at IS 'When the callback consumed it';

CREATE TABLE bb.sync_cursor (
  participant_id     text NOT NULL REFERENCES bb.participant ON DELETE CASCADE,
  resource           text NOT NULL CHECK (resource IN ('ExplanationOfBenefit', 'Coverage', 'Patient')),
  next_url           text,
  walk_total         integer,
  walk_since         timestamptz,
  walk_last_updated  timestamptz,
  walk_started_at    timestamptz,
  watermark          timestamptz,
  pages              bigint NOT NULL DEFAULT 0,
  completed_at       timestamptz,
  PRIMARY KEY (participant_id, resource)
);
COMMENT ON TABLE bb.sync_cursor IS 'Per participant and resource: the walk in progress and the watermark of the last complete walk';
COMMENT ON COLUMN bb.sync_cursor.participant_id IS 'Participant';
COMMENT ON COLUMN bb.sync_cursor.resource IS 'FHIR resource type searched';
COMMENT ON COLUMN bb.sync_cursor.next_url IS 'Next page of the walk in progress (NULL: no walk in progress)';
COMMENT ON COLUMN bb.sync_cursor.walk_total IS 'Bundle.total at the walk''s first page; a change restarts the walk';
COMMENT ON COLUMN bb.sync_cursor.walk_since IS '_lastUpdated lower bound of the walk in progress (NULL: full walk)';
COMMENT ON COLUMN bb.sync_cursor.walk_last_updated IS 'Bundle.meta.lastUpdated of the walk''s first page; becomes the watermark when the walk completes';
COMMENT ON COLUMN bb.sync_cursor.walk_started_at IS 'When the walk in progress started';
COMMENT ON COLUMN bb.sync_cursor.watermark IS 'Bundle.meta.lastUpdated of the last complete walk (next walk asks _lastUpdated=gt this)';
COMMENT ON COLUMN bb.sync_cursor.pages IS 'Pages stored for this resource, all walks';
COMMENT ON COLUMN bb.sync_cursor.completed_at IS 'When the last walk completed';

CREATE TABLE bb.error (
  error_id        bigserial PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT clock_timestamp(),
  participant_id  text REFERENCES bb.participant ON DELETE SET NULL,
  kind            text NOT NULL,
  message         text NOT NULL CHECK (length(message) <= 2000)
);
COMMENT ON TABLE bb.error IS 'Errors met while syncing or refreshing (never tokens or claim payloads)';
COMMENT ON COLUMN bb.error.error_id IS 'Sequence number';
COMMENT ON COLUMN bb.error.at IS 'When it happened';
COMMENT ON COLUMN bb.error.participant_id IS 'Participant concerned, if any';
COMMENT ON COLUMN bb.error.kind IS 'Error class, e.g. http_5xx, malformed_page, refresh_failed';
COMMENT ON COLUMN bb.error.message IS 'What happened, for a person';
CREATE INDEX error_participant_idx ON bb.error (participant_id, at);

CREATE TABLE bb.audit (
  audit_id        bigserial PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT clock_timestamp(),
  participant_id  text,
  event           text NOT NULL CHECK (event IN ('invited', 'enrolled', 'enrol_failed', 'refreshed',
                    'refresh_failed', 'state_changed', 'withdrawn', 'purged', 'revoked', 'app_disabled')),
  detail          jsonb NOT NULL DEFAULT '{}',
  actor           text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE bb.audit IS 'Append-only audit log of enrolment, refresh, state changes, withdrawal and purge (no secrets)';
COMMENT ON COLUMN bb.audit.audit_id IS 'Sequence number';
COMMENT ON COLUMN bb.audit.at IS 'When it happened';
COMMENT ON COLUMN bb.audit.participant_id IS 'Participant concerned (kept after a purge)';
COMMENT ON COLUMN bb.audit.event IS 'What happened';
COMMENT ON COLUMN bb.audit.detail IS 'Details (old/new state, token generation, reason); never a token';
COMMENT ON COLUMN bb.audit.actor IS 'Database role that wrote it';
CREATE INDEX audit_participant_idx ON bb.audit (participant_id, at);

CREATE FUNCTION bb.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'bb.audit is append-only: % is not allowed', TG_OP
    USING HINT = 'audit rows are evidence; keep them';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON bb.audit
  FOR EACH ROW EXECUTE FUNCTION bb.audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON bb.audit
  FOR EACH STATEMENT EXECUTE FUNCTION bb.audit_append_only();

CREATE TABLE bb.app_state (
  singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  disabled_at     timestamptz,
  disabled_reason text
);
COMMENT ON TABLE bb.app_state IS 'State of the registered Blue Button application as a whole';
COMMENT ON COLUMN bb.app_state.singleton IS 'Always true: one row';
COMMENT ON COLUMN bb.app_state.disabled_at IS 'Set when Blue Button answered invalid_client: all work stops until an admin clears it';
COMMENT ON COLUMN bb.app_state.disabled_reason IS 'Why the application was disabled';
INSERT INTO bb.app_state DEFAULT VALUES;
