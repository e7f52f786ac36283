-- Keys are opaque strings, only ever compared for equality: byte order
-- ("C") gives the same answers as the database's default collation and
-- spares every comparison in the primary key a locale-aware strcoll.
-- Rebuilds the primary key index; the rows are not rewritten. The tenant
-- keeps its type: it is the Citus distribution column, which cannot be
-- altered, and equal tenants compare with a plain memcmp anyway.
ALTER TABLE idem.idempotency_keys
  ALTER COLUMN idempotency_key TYPE text COLLATE "C";
