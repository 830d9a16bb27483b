-- 0007: the reconciler (issue 13, DESIGN §11). It compares PostgreSQL with the ledger and with
-- settlement.events, and records every drift it finds here; it never fixes anything itself.
--
-- reconciliation_findings: one row per drift. A finding is raised once per (kind, settlement)
-- while it is open (the partial unique index); findings not tied to one settlement (a settle on
-- the ledger the database does not know, a forged event, an asset's total) are told apart by
-- `subject` (the update id, the event id, the asset). It stays open until a later pass sees the
-- drift gone (status resolved, with resolved_at and what that pass saw) or an operator
-- acknowledges it (status acknowledged, by whom, when, note; the action is also in audit_log).
CREATE TABLE reconciliation_findings (
  id              BIGSERIAL PRIMARY KEY,
  kind            TEXT NOT NULL,
  settlement_id   UUID,  -- no foreign key: a finding may name a settlement the database lacks
  subject         TEXT NOT NULL DEFAULT '',
  evidence        JSONB NOT NULL,
  found_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  status          TEXT NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'resolved', 'acknowledged')),
  resolved_at     TIMESTAMPTZ,
  resolution      JSONB,
  acknowledged_by TEXT,
  acknowledged_at TIMESTAMPTZ,
  note            TEXT,
  CONSTRAINT reconciliation_findings_closed_consistently CHECK (
    (status = 'open' AND resolved_at IS NULL AND acknowledged_at IS NULL) OR
    (status = 'resolved' AND resolved_at IS NOT NULL AND acknowledged_at IS NULL) OR
    (status = 'acknowledged' AND acknowledged_at IS NOT NULL AND acknowledged_by IS NOT NULL))
);
CREATE UNIQUE INDEX reconciliation_findings_open_key ON reconciliation_findings
  (kind, COALESCE(settlement_id, '00000000-0000-0000-0000-000000000000'::uuid), subject)
  WHERE status = 'open';
CREATE INDEX reconciliation_findings_status_idx ON reconciliation_findings (status, id);

-- reconciliation_state: one row, the reconciler's progress, shared by the instances (one of them
-- reconciles at a time). watermark: every audit row (settlement_events.position) up to it has
-- been reconciled; ledger_offset: every ledger movement (settle, credit) up to it has been read.
CREATE TABLE reconciliation_state (
  singleton            BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
  watermark            BIGINT NOT NULL DEFAULT 0,
  ledger_offset        BIGINT NOT NULL DEFAULT 0,
  passes               BIGINT NOT NULL DEFAULT 0,
  checked_settlements  BIGINT NOT NULL DEFAULT 0,
  last_pass_at         TIMESTAMPTZ
);
INSERT INTO reconciliation_state (singleton) VALUES (true);

-- reconciliation_ledger_totals: per asset, the total the ledger should hold at ledger_offset: the
-- total seen when the asset was first reconciled plus every credit read since. Settlements never
-- change it (DESIGN §7.2). NUMERIC(38,10): Daml's Numeric 10, the ledger's range.
CREATE TABLE reconciliation_ledger_totals (
  asset     TEXT PRIMARY KEY,
  expected  NUMERIC(38, 10) NOT NULL
);
