-- 0001: accounts, settlements, their audit events (which double as the outbox).
-- External ids are VARCHAR(64) (DESIGN §3); ids this service creates are UUIDs.

CREATE TYPE settlement_status AS ENUM (
  'pending', 'initiated', 'seller_securities_locked', 'buyer_cash_locked', 'executing',
  'confirmed', 'settled', 'failed', 'partially_settled');

CREATE TYPE account_status AS ENUM ('active', 'inactive');

CREATE TABLE accounts (
  account_id   VARCHAR(64) PRIMARY KEY,
  canton_party VARCHAR(255) NOT NULL,
  status       account_status NOT NULL DEFAULT 'active',
  created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE settlements (
  id                UUID PRIMARY KEY,
  trade_id          VARCHAR(64) UNIQUE NOT NULL,
  event_id          VARCHAR(255),
  buyer_account_id  VARCHAR(64) NOT NULL REFERENCES accounts (account_id),
  seller_account_id VARCHAR(64) NOT NULL REFERENCES accounts (account_id),
  symbol            VARCHAR(64) NOT NULL,
  quantity          NUMERIC(18, 8) NOT NULL,
  price             NUMERIC(18, 8),
  amount            NUMERIC(18, 8) NOT NULL,
  allow_partial     BOOLEAN NOT NULL DEFAULT false,
  executed_at       TIMESTAMPTZ NOT NULL,

  status            settlement_status NOT NULL DEFAULT 'pending',

  dvp_contract_id              VARCHAR(255),
  dvp_contract_template_id     VARCHAR(255),
  buyer_securities_ledger_ref  VARCHAR(255),
  seller_securities_ledger_ref VARCHAR(255),
  buyer_cash_ledger_ref        VARCHAR(255),
  seller_cash_ledger_ref       VARCHAR(255),
  dvp_atomic_transaction_id    VARCHAR(255),

  locked_quantity   NUMERIC(18, 8) NOT NULL DEFAULT 0,
  locked_amount     NUMERIC(18, 8) NOT NULL DEFAULT 0,
  settled_quantity  NUMERIC(18, 8) NOT NULL DEFAULT 0,
  settled_amount    NUMERIC(18, 8) NOT NULL DEFAULT 0,

  settlement_date   DATE NOT NULL,
  initiated_at      TIMESTAMPTZ,
  confirmed_at      TIMESTAMPTZ,
  settled_at        TIMESTAMPTZ,
  failed_at         TIMESTAMPTZ,

  failure_reason    TEXT,
  failure_code      VARCHAR(64),
  failed_step       VARCHAR(64),
  last_error        TEXT,
  retry_count       INT NOT NULL DEFAULT 0,
  step_attempt      INT NOT NULL DEFAULT 0,

  created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  deadline_at       TIMESTAMPTZ NOT NULL,
  lease_until       TIMESTAMPTZ
);

-- One index per list filter, plus the default order (newest first).
CREATE INDEX settlements_buyer_created_idx ON settlements (buyer_account_id, created_at DESC);
CREATE INDEX settlements_seller_created_idx ON settlements (seller_account_id, created_at DESC);
CREATE INDEX settlements_status_idx ON settlements (status);
CREATE INDEX settlements_settlement_date_idx ON settlements (settlement_date);
CREATE INDEX settlements_created_idx ON settlements (created_at DESC, id DESC);
-- Due work for the workers (leaseDue): active settlements only, so it stays small.
CREATE INDEX settlements_due_idx ON settlements (next_attempt_at)
  WHERE status NOT IN ('settled', 'failed');

CREATE TABLE settlement_events (
  id            UUID PRIMARY KEY,
  settlement_id UUID NOT NULL REFERENCES settlements (id),
  event_type    settlement_status NOT NULL,  -- the state entered
  details       JSONB NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  position      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,  -- outbox order
  published_at  TIMESTAMPTZ
);

CREATE INDEX settlement_events_settlement_idx ON settlement_events (settlement_id, position);
CREATE INDEX settlement_events_unpublished_idx ON settlement_events (position)
  WHERE published_at IS NULL;
