-- 0005: security (DESIGN §10, issue 11).
--
-- audit_log: every operator action (account create/update, credit, fault, retry), refused
-- attempts of authenticated callers included: who (the token's sub and the role used), what
-- (action, target), when, from where (request id, remote address) and the outcome. Append-only;
-- read by GET /audit newest first with a keyset cursor on id.
CREATE TABLE audit_log (
  id             BIGSERIAL PRIMARY KEY,
  at             TIMESTAMPTZ NOT NULL DEFAULT now(),
  actor          TEXT NOT NULL,
  role           TEXT NOT NULL,
  action         TEXT NOT NULL,
  target         TEXT NOT NULL,
  request_id     TEXT NOT NULL,
  remote_address TEXT NOT NULL,
  outcome        TEXT NOT NULL,  -- succeeded | refused | failed
  status         INTEGER NOT NULL,
  error_code     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_target_idx ON audit_log (target, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- credit_requests: POST /ledger/holdings with an Idempotency-Key. The key is claimed (state
-- pending) before the ledger is asked, and the response is kept once it succeeded, so the same
-- key and body credits once and answers the same; another body under the key is refused.
CREATE TABLE credit_requests (
  idempotency_key TEXT PRIMARY KEY,
  body_sha256     TEXT NOT NULL,
  state           TEXT NOT NULL,  -- pending | done
  status          INTEGER,
  response        TEXT,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One account per Canton party: two accounts on one party would spend each other's holdings
-- (and keep spending after one of them is deactivated).
CREATE UNIQUE INDEX accounts_canton_party_key ON accounts (canton_party);
