// Broken on purpose (see ../migrations/0001_bad.sql).
const char* kUpsert =
    "INSERT INTO idem.bad_keys (tenant, idempotency_key, expires_at) "
    "VALUES ($1, $2, $3) ON CONFLICT (idempotency_key) "
    "DO UPDATE SET expires_at = now() RETURNING tenant";
