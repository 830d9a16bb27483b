-- 0008: the ledger offset read before a settlement's first lease (leaseDue sets it once, never
-- changes it). Every ledger command of the settlement is submitted after it, so a lookup of what
-- one of its command ids did reads the ledger's completions after it rather than its whole
-- history; the least floor of the settlements that are not terminal is the watermark below which
-- no command can still be repeated. NULL: leased before this column existed (read as 0).
ALTER TABLE settlements ADD COLUMN ledger_offset_floor BIGINT NULL;
