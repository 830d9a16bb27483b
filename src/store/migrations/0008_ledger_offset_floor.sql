-- 0008: the ledger offset read before a settlement's first lease (leaseDue sets it once, never
-- changes it). Every ledger command of the settlement is submitted after it, so a lookup of what
-- one of its command ids did reads the ledger's completions after it rather than its whole
-- history. Every row that exists now may have commands anywhere in the ledger's history: 0 (read
-- from the start). NULL afterwards means "not leased yet": instances older than this migration
-- must all be stopped before it runs (they would lease rows without recording a floor).
ALTER TABLE settlements ADD COLUMN ledger_offset_floor BIGINT NULL;
UPDATE settlements SET ledger_offset_floor = 0;
