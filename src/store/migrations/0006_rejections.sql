-- 0006: rejected trades, the operator's view (issue 13; GET /rejections). The dead-letter topic
-- stays the downstream contract; this table says, for every trade refused over Kafka or
-- POST /trades, why (reason code, message, field), where it came from (topic/partition/offset, or
-- the client's address) and what it looked like (its first 1 KiB).
--
-- excerpt is BYTEA: the received bytes exactly, whatever they are (invalid UTF-8 and NUL included,
-- which TEXT cannot hold); the API renders it as text and escapes what is not valid UTF-8.
-- A Kafka message is recorded once: its coordinates are unique, and inserts skip a message that is
-- already there (ON CONFLICT DO NOTHING), so a redelivery after a crash or a rebalance adds
-- nothing. HTTP rows have NULL coordinates, which never conflict. Retention deletes rows older
-- than REJECTIONS_RETENTION_DAYS and the oldest beyond REJECTIONS_MAX_ROWS.
CREATE TABLE rejections (
  id                BIGSERIAL PRIMARY KEY,
  received_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  source            TEXT NOT NULL CHECK (source IN ('kafka', 'http')),
  topic             TEXT,
  "partition"       INTEGER,
  "offset"          BIGINT,
  remote_address    TEXT,
  trade_id          TEXT,  -- when it could be read (an external id, 1-64 characters)
  reason            TEXT NOT NULL,
  message           TEXT NOT NULL,
  field             TEXT,
  excerpt           BYTEA NOT NULL CHECK (octet_length(excerpt) <= 1024),
  excerpt_truncated BOOLEAN NOT NULL,
  original_size     BIGINT NOT NULL CHECK (original_size >= 0),
  CONSTRAINT rejections_excerpt_is_a_prefix
    CHECK (excerpt_truncated = (original_size > octet_length(excerpt))),
  CONSTRAINT rejections_coordinates_match_source CHECK (
    (source = 'kafka' AND topic IS NOT NULL AND "partition" IS NOT NULL AND "offset" IS NOT NULL
     AND remote_address IS NULL) OR
    (source = 'http' AND topic IS NULL AND "partition" IS NULL AND "offset" IS NULL
     AND remote_address IS NOT NULL)),
  CONSTRAINT rejections_kafka_message_once UNIQUE (topic, "partition", "offset")
);
-- Listing is newest first by id (the primary key); filtered lists walk these.
CREATE INDEX rejections_reason_idx ON rejections (reason, id);
CREATE INDEX rejections_source_idx ON rejections (source, id);
CREATE INDEX rejections_trade_id_idx ON rejections (trade_id, id) WHERE trade_id IS NOT NULL;
-- since/until filters and retention by age.
CREATE INDEX rejections_received_at_idx ON rejections (received_at);
