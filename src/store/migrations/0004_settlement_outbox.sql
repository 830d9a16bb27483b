-- 0004: a dedicated outbox. Until now the outbox was settlement_events itself (published_at IS
-- NULL, partial index on position), and marking an event published was an UPDATE: a new row
-- version of the event plus new entries in its three indexes (never HOT: published_at is in the
-- partial index's predicate), seven times per settlement. Now every settlement_events insert also
-- inserts the event into settlement_outbox in the same statement, and the relay DELETEs what Kafka
-- acknowledged (a delete only marks the row dead: no new version, no index entries). The table
-- holds just the undelivered backlog, with the columns the relay reads, so pending() is a short
-- walk of its primary key.
--
-- settlement_events stays the immutable audit trail; position remains every event's identity and
-- outbox order. published_at stays for compatibility (older rows keep their delivery time) but is
-- no longer written: "delivered" now means "absent from settlement_outbox". Its partial index is
-- dropped: with published_at never set again every new event would stay in it for good.
--
-- Stop older relays before applying this: they would keep publishing from settlement_events.

CREATE TABLE settlement_outbox (
  position      BIGINT PRIMARY KEY,  -- settlement_events.position
  id            UUID NOT NULL,       -- settlement_events.id (the event id on the wire)
  settlement_id UUID NOT NULL,
  event_type    settlement_status NOT NULL,
  details       JSONB NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL
);

-- Rows churn (insert, then delete within seconds): vacuum after a fixed number of dead rows rather
-- than a share of a table that is usually near empty, so pending() does not walk dead entries.
ALTER TABLE settlement_outbox SET (autovacuum_vacuum_scale_factor = 0,
                                   autovacuum_vacuum_threshold = 5000);

INSERT INTO settlement_outbox (position, id, settlement_id, event_type, details, created_at)
SELECT position, id, settlement_id, event_type, details, created_at
FROM settlement_events WHERE published_at IS NULL;

DROP INDEX settlement_events_unpublished_idx;

COMMENT ON COLUMN settlement_events.published_at IS
  'Not maintained since migration 0004: an event is delivered once it is no longer in settlement_outbox.';
COMMENT ON TABLE settlement_outbox IS
  'Events of settlement_events not yet delivered to Kafka; the relay deletes what it delivered.';
