-- Who holds an in-progress claim with a lease (a keyed CopyFile): a random
-- token per claim, so that a run whose lease was taken over can neither
-- complete nor release the claim of the run that took it (fencing).
ALTER TABLE idem.idempotency_keys ADD COLUMN lease_owner bytea;
-- A stored failure's reason and metadata (google.rpc.ErrorInfo, serialized),
-- replayed with its code and message.
ALTER TABLE idem.idempotency_keys ADD COLUMN status_details bytea;
