-- 0003: a fencing token per lease. leaseDue sets a fresh lease_token with lease_until; a write is
-- applied only while the row still carries the token the writer was leased with (NULL: only while
-- the row is not leased), and clears it. A worker whose lease expired and was taken over can then
-- no longer write the row.
ALTER TABLE settlements ADD COLUMN lease_token UUID NULL;
