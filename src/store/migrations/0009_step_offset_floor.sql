-- 0009: the ledger offset of the outcome that brought a settlement to its current status (the
-- workflow writes it with each step's transition). Every command of a later step is submitted
-- after that outcome, so the lookups of the current step's command read the ledger's completions
-- from there: a settlement in flight for long no longer reads from its first lease's floor
-- (ledger_offset_floor, which the reconciler keeps for earlier rounds' settles). NULL: no step
-- has completed since the column exists; lookups use ledger_offset_floor. A binary older than
-- this migration leaves the column as it is, which is never later than its own commands.
ALTER TABLE settlements ADD COLUMN step_offset_floor BIGINT NULL;
