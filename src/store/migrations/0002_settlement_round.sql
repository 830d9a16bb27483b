-- 0002: Settlement::round — advanced by each retry of a FAILED/PARTIALLY_SETTLED settlement and
-- part of ledger command ids (DESIGN §5), so it must survive a restart.
ALTER TABLE settlements ADD COLUMN round INT NOT NULL DEFAULT 0;
