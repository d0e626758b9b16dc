-- 001: schemas and roles.
--
-- bbingest_owner    owns every object; the daemon's login role is granted it.
-- bbingest_analyst  reads schema claims and nothing in schema bb.
-- Both are NOLOGIN group roles: grant them to login roles, e.g.
--   CREATE ROLE alice LOGIN; GRANT bbingest_analyst TO alice;
-- Roles are cluster-wide, so they are created only where missing; a user
-- without CREATEROLE can run this once an admin has created them.
-- Two databases of one cluster may run this at once: tolerate the race.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['bbingest_owner', 'bbingest_analyst'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
  END LOOP;
END
$$;

CREATE SCHEMA IF NOT EXISTS claims;
CREATE SCHEMA IF NOT EXISTS bb;

COMMENT ON SCHEMA claims IS
  'Medicare claims (FHIR ExplanationOfBenefit, Patient, Coverage) flattened by bbingest; readable by bbingest_analyst';
COMMENT ON SCHEMA bb IS
  'bbingest operational state: participants, sealed tokens, enrolment, cursors, errors, audit log; not readable by analysts';

-- analysts: claims only; nobody but the owner may touch bb
REVOKE ALL ON SCHEMA bb FROM PUBLIC;
REVOKE ALL ON SCHEMA claims FROM PUBLIC;
GRANT USAGE ON SCHEMA claims TO bbingest_analyst;
GRANT USAGE, CREATE ON SCHEMA claims, bb TO bbingest_owner;
ALTER DEFAULT PRIVILEGES IN SCHEMA claims GRANT SELECT ON TABLES TO bbingest_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA claims GRANT ALL ON TABLES TO bbingest_owner;
ALTER DEFAULT PRIVILEGES IN SCHEMA bb GRANT ALL ON TABLES TO bbingest_owner;
ALTER DEFAULT PRIVILEGES IN SCHEMA bb GRANT ALL ON SEQUENCES TO bbingest_owner;
