-- 0010: settlement_events, the audit trail, partitioned by month of created_at, so that a venue
-- can drop whole months once it no longer needs them (EVENTS_RETENTION_MONTHS) instead of
-- deleting rows one by one, and so that a month's rows sit together on disk.
--
-- A partitioned table's unique constraints must contain the partition key: the primary key is
-- now (id, created_at) and position's uniqueness is (position, created_at). Both stay unique on
-- their own in practice: ids are random UUIDs drawn once per event, and positions come from one
-- sequence (settlement_event_positions; PostgreSQL 15 has no identity columns on partitioned
-- tables, so a plain sequence as the column's default replaces the identity), which the rows keep.
--
-- Partitions: settlement_events_yYYYYmMM for [first of the month, first of the next), created by
-- sc_event_partitions_ensure(now, months_ahead) (the service calls it at start and every hour,
-- store/event_partitions.h), plus settlement_events_default for any row outside them (a clock far
-- off, or the maintenance stopped for months): nothing is ever refused for want of a partition.
-- sc_event_partitions_droppable and sc_event_partition_drop drop the months retention no longer
-- needs, below one cut (event_retention.dropped_before).
--
-- Stop every instance of an older build before this is applied (README, Upgrading): the table is
-- rewritten in this migration's transaction.

ALTER TABLE settlement_events RENAME TO settlement_events_0009;
ALTER INDEX settlement_events_settlement_idx RENAME TO settlement_events_0009_settlement_idx;
ALTER TABLE settlement_events_0009 RENAME CONSTRAINT settlement_events_pkey
  TO settlement_events_0009_pkey;
ALTER TABLE settlement_events_0009 RENAME CONSTRAINT settlement_events_position_key
  TO settlement_events_0009_position_key;
ALTER TABLE settlement_events_0009 RENAME CONSTRAINT settlement_events_settlement_id_fkey
  TO settlement_events_0009_settlement_id_fkey;

CREATE SEQUENCE settlement_event_positions AS BIGINT;

CREATE TABLE settlement_events (
  id            UUID NOT NULL,
  settlement_id UUID NOT NULL,  -- a settlements id: see below
  event_type    settlement_status NOT NULL,  -- the state entered
  details       JSONB NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  position      BIGINT NOT NULL DEFAULT nextval('settlement_event_positions'),  -- outbox order
  published_at  TIMESTAMPTZ,
  PRIMARY KEY (id, created_at),
  UNIQUE (position, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE settlement_event_positions OWNED BY settlement_events.position;
CREATE INDEX settlement_events_settlement_idx ON settlement_events (settlement_id, position);
CREATE TABLE settlement_events_default PARTITION OF settlement_events DEFAULT;
-- No foreign key to settlements: detaching and dropping a month would lock settlements (the
-- key's triggers live there) after settlement_events, the reverse of every writer's order,
-- deadlocking them and stalling all settlement traffic. Nothing needs it: settlements rows are
-- never deleted, and every event is written in the statement that writes its settlement row.

COMMENT ON COLUMN settlement_events.published_at IS
  'Not maintained since migration 0004: an event is delivered once it is no longer in settlement_outbox.';
COMMENT ON TABLE settlement_events IS
  'The audit trail, one row per transition; partitioned by month of created_at (migration 0010).';

-- Creates the monthly partitions from the month of p_now to p_ahead months after it that do not
-- exist yet; returns how many it created. A month whose rows already went to the default
-- partition is left there (creating its partition would have to move them under a lock that
-- stops every insert): such rows stay readable, only not droppable by month.
CREATE FUNCTION sc_event_partitions_ensure(p_now TIMESTAMPTZ, p_ahead INT) RETURNS INT
LANGUAGE plpgsql SET lock_timeout = '2s' AS $$
DECLARE
  m_start TIMESTAMP;  -- UTC: month arithmetic on a TIMESTAMPTZ would follow the session's time zone
  part_name TEXT;
  created INT := 0;
BEGIN
  -- Instances that start together: one creates, the others then see the partitions.
  PERFORM pg_advisory_xact_lock(hashtext('sc_event_partitions'));
  FOR i IN 0 .. GREATEST(p_ahead, 0) LOOP
    m_start := date_trunc('month', p_now AT TIME ZONE 'UTC') + make_interval(months => i);
    part_name := 'settlement_events_' || to_char(m_start, '"y"YYYY"m"MM');
    CONTINUE WHEN to_regclass(part_name) IS NOT NULL;
    CONTINUE WHEN EXISTS (SELECT 1 FROM settlement_events_default
                          WHERE created_at >= m_start AT TIME ZONE 'UTC'
                            AND created_at < (m_start + interval '1 month') AT TIME ZONE 'UTC');
    EXECUTE format('CREATE TABLE %I PARTITION OF settlement_events FOR VALUES FROM (%L) TO (%L)',
                   part_name, m_start AT TIME ZONE 'UTC',
                   (m_start + interval '1 month') AT TIME ZONE 'UTC');
    created := created + 1;
  END LOOP;
  RETURN created;
END $$;

-- Retention (EVENTS_RETENTION_MONTHS) drops whole months, oldest first, in two steps
-- (store/event_partitions.cpp):
--  1. sc_event_partitions_droppable(before, reconciled) picks the months that may go and moves
--     the cut, event_retention.dropped_before, to the end of the last of them;
--  2. sc_event_partition_drop(name), once per month: DETACH and DROP in one short transaction
--     (a plain DETACH: CONCURRENTLY is not allowed beside a default partition), waiting for the
--     lock at most 2 s. Nothing is left half done: a month is attached or gone.
--
-- The cut is the one place that says how far the audit trail was dropped: every event created
-- before it may be gone. A settlement created before it has lost its history, or the part of it
-- before the cut (one that ran across the end of a month keeps its later events: months are cut
-- whole, and a venue that trades around the clock always has settlements running across
-- midnight). Event times and created_at come from the database's clock (DatabaseClock).
CREATE TABLE event_retention (
  id             BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),  -- one row
  dropped_before TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
);
INSERT INTO event_retention DEFAULT VALUES;

-- A settlement whose history was cut is final for good: a write that would make it active again
-- (an operator's retry of a FAILED one) is refused, because its history would miss its
-- beginning. The lock on the cut's row (FOR SHARE) orders the retry with a retention pass that
-- moves the cut (FOR UPDATE): whichever commits first, the other sees it. The store maps the
-- refusal (constraint settlements_history_dropped_final) to history_dropped.
CREATE FUNCTION sc_settlements_history_dropped_final() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  cut TIMESTAMPTZ;
BEGIN
  SELECT dropped_before INTO cut FROM event_retention FOR SHARE;
  IF OLD.created_at < cut THEN
    RAISE EXCEPTION 'settlement %: its audit history before % was dropped (EVENTS_RETENTION_MONTHS); it stays %',
      OLD.id, cut, OLD.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'settlements_history_dropped_final';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER settlements_history_dropped_final
  BEFORE UPDATE OF status ON settlements
  FOR EACH ROW
  WHEN (OLD.status IN ('settled', 'failed') AND NEW.status NOT IN ('settled', 'failed'))
  EXECUTE FUNCTION sc_settlements_history_dropped_final();

-- The monthly partitions that end at or before p_before and may go, oldest first: the months
-- before the first one still needed, where a month is needed while
--  - a settlement that is not final (neither settled nor failed) has an event in it, or
--  - an event in it is still in settlement_outbox (not yet delivered), or
--  - p_reconciled is given (the reconciler runs, or has run) and an event in it is past that
--    audit position (not yet compared);
-- and never past a row of the default partition: a month whose rows went there (its partition
-- was missing) cannot be dropped by month, so the cut stops before it.
-- Moves the cut to the end of the last month returned. Holds the cut's row lock to the end of
-- the transaction: a retry waiting on it then sees the new cut, and one that committed first is
-- seen here (its settlement is active: the month is needed).
CREATE FUNCTION sc_event_partitions_droppable(p_before TIMESTAMPTZ, p_reconciled BIGINT)
RETURNS SETOF TEXT LANGUAGE plpgsql SET lock_timeout = '2s' AS $$
DECLARE
  part RECORD;
  busy BOOLEAN;
  names TEXT[] := '{}';
  m_end TIMESTAMPTZ;
  default_min TIMESTAMPTZ;
BEGIN
  PERFORM 1 FROM event_retention FOR UPDATE;
  SELECT min(created_at) INTO default_min FROM settlement_events_default;
  FOR part IN
    SELECT c.relname::text AS part_name,
           make_timestamp(substr(c.relname, 20, 4)::int, substr(c.relname, 25, 2)::int, 1, 0, 0, 0)
             AS m_start
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'settlement_events'::regclass
      AND c.relname ~ '^settlement_events_y[0-9]{4}m[0-9]{2}$'
    ORDER BY c.relname
  LOOP
    m_end := (part.m_start + interval '1 month') AT TIME ZONE 'UTC';
    EXIT WHEN m_end > p_before;
    EXIT WHEN default_min IS NOT NULL AND default_min < m_end;
    EXECUTE format(
      'SELECT EXISTS (SELECT 1 FROM %I e JOIN settlements s ON s.id = e.settlement_id'
      '               WHERE s.status NOT IN (''settled'', ''failed''))'
      '    OR EXISTS (SELECT 1 FROM %I e JOIN settlement_outbox o ON o.position = e.position)'
      '    OR ($1::bigint IS NOT NULL AND EXISTS (SELECT 1 FROM %I e WHERE e.position > $1))',
      part.part_name, part.part_name, part.part_name)
      INTO busy USING p_reconciled;
    EXIT WHEN busy;
    names := names || part.part_name;
    UPDATE event_retention SET dropped_before = GREATEST(dropped_before, m_end);
  END LOOP;
  RETURN QUERY SELECT unnest(names);
END $$;

-- Detaches and drops one month picked by sc_event_partitions_droppable, in one transaction;
-- false when it is not attached (another instance dropped it first). The functions here wait for
-- a lock at most 2 s (inserts queue behind a waiting lock on settlement_events): the pass fails
-- and the next one tries again.
CREATE FUNCTION sc_event_partition_drop(p_name TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql SET lock_timeout = '2s' AS $$
BEGIN
  IF p_name !~ '^settlement_events_y[0-9]{4}m[0-9]{2}$' THEN
    RAISE EXCEPTION 'not a monthly partition of settlement_events: %', p_name;
  END IF;
  -- Instances dropping the same month: one at a time; the next sees it gone (the check below
  -- is a statement of its own, with a snapshot taken after the lock).
  PERFORM pg_advisory_xact_lock(hashtext('sc_event_partitions'));
  IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'settlement_events'::regclass AND c.relname = p_name) THEN
    RETURN false;
  END IF;
  EXECUTE format('ALTER TABLE settlement_events DETACH PARTITION %I', p_name);
  EXECUTE format('DROP TABLE %I', p_name);
  RETURN true;
END $$;

-- The months the existing rows fall in, and the next two.
-- The series runs over UTC timestamps: month steps on a TIMESTAMPTZ follow the session's zone.
SELECT sc_event_partitions_ensure(m AT TIME ZONE 'UTC', 0)
FROM generate_series(
       date_trunc('month', COALESCE((SELECT min(created_at) FROM settlement_events_0009), now())
                           AT TIME ZONE 'UTC'),
       now() AT TIME ZONE 'UTC', interval '1 month') AS m;
SELECT sc_event_partitions_ensure(now(), 2);

INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at, position,
                               published_at)
SELECT id, settlement_id, event_type, details, created_at, position, published_at
FROM settlement_events_0009;
SELECT setval('settlement_event_positions',
              GREATEST((SELECT max(position) FROM settlement_events), 0) + 1, false);
DROP TABLE settlement_events_0009;
