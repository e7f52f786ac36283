-- Tombstones: after a finished key's answer expires (expires_at), its
-- fingerprint, first execution and outcome code stay until tombstone_until,
-- so that a late retry of the same call is told it already ran instead of
-- running again. The reaper slims a record to that once its answer expires
-- and deletes it when its tombstone expires.
ALTER TABLE idem.idempotency_keys ADD COLUMN tombstone_until timestamptz;

-- The reaper's three walks, tenant by tenant, each over only the records it
-- is about (partial indexes, so that tombstones never slow down the walk
-- over records without one, and so that no key lookup can pick one of
-- them over the primary key): records without a tombstone by expiry...
DROP INDEX idem.idempotency_keys_expiry;
CREATE INDEX idempotency_keys_expiry
  ON idem.idempotency_keys (tenant, expires_at)
  WHERE tombstone_until IS NULL;
-- ...tombstones by their own expiry...
CREATE INDEX idempotency_keys_tombstones
  ON idem.idempotency_keys (tenant, tombstone_until)
  WHERE tombstone_until IS NOT NULL;
-- ...and records still holding their answer, to slim once it expires.
CREATE INDEX idempotency_keys_answer_expiry
  ON idem.idempotency_keys (tenant, expires_at)
  WHERE response IS NOT NULL OR status_message IS NOT NULL;
