-- The server's own state: one row per (tenant, idempotency key).
-- The tenant leads the primary key and every index, so that the table can be
-- distributed by tenant (Citus) without changing a key.
CREATE TABLE idem.idempotency_keys (
  tenant            text        NOT NULL,
  idempotency_key   text        NOT NULL,
  fingerprint       bytea       NOT NULL,  -- SHA-256 of the canonical call
  state             smallint    NOT NULL,  -- 1 in progress, 2 done
  status_code       integer,               -- gRPC code of the stored outcome
  status_message    text,
  response          bytea,                 -- serialized KeyedCallResponse
  first_executed_at timestamptz NOT NULL,
  last_seen_at      timestamptz NOT NULL,
  lease_expires_at  timestamptz,           -- in progress only
  expires_at        timestamptz NOT NULL,  -- treated as absent after this
  PRIMARY KEY (tenant, idempotency_key),
  CONSTRAINT idempotency_keys_state CHECK (state IN (1, 2)),
  CONSTRAINT idempotency_keys_key_length
    CHECK (octet_length(idempotency_key) BETWEEN 1 AND 255)
);

-- The reaper walks expired keys tenant by tenant in small batches.
CREATE INDEX idempotency_keys_expiry
  ON idem.idempotency_keys (tenant, expires_at);
