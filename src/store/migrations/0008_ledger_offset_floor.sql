-- 0008: the ledger offset read before a settlement's first lease (leaseDue sets it once, never
-- changes it). Every ledger command of the settlement is submitted after it, so a lookup of what
-- one of its command ids did reads the ledger's completions after it rather than its whole
-- history. NULL: not leased yet, or terminal before this column existed (read as 0). A row that a
-- binary older than this migration leased gets 0 at its next lease, never a later offset: its
-- commands may be anywhere in the ledger's history (see leaseDue).
ALTER TABLE settlements ADD COLUMN ledger_offset_floor BIGINT NULL;
