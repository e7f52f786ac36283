-- Broken on purpose: every rule of citus_schema_test.py is broken once here
-- or in ../src/bad_store.cc (test deploy_citus_schema_rejects_bad).
CREATE TABLE idem.bad_keys (
  tenant text NOT NULL,
  idempotency_key text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (idempotency_key)
);
CREATE UNIQUE INDEX bad_keys_expiry ON idem.bad_keys (expires_at);
CREATE TABLE idem.no_tenant (id bigint PRIMARY KEY);
