#include "service/keys/key_store.h"

#include <pqxx/binarystring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace idem::keys {
namespace {

constexpr int kDone = 2;

constexpr char kLookupSql[] = R"sql(
SELECT fingerprint, state, status_code, status_message, response,
       (extract(epoch FROM first_executed_at) * 1000000)::bigint,
       (extract(epoch FROM lease_expires_at - now()) * 1000)::bigint
FROM idem.idempotency_keys
WHERE tenant = $1 AND idempotency_key = $2 AND expires_at > now()
)sql";

// The conflict clause reads "now" from EXCLUDED instead of calling now():
// a distributed (Citus) table allows no volatile function in DO UPDATE.
constexpr char kClaimSql[] = R"sql(
INSERT INTO idem.idempotency_keys AS k
  (tenant, idempotency_key, fingerprint, state, first_executed_at,
   last_seen_at, lease_expires_at, expires_at)
VALUES ($1, $2, $3::bytea, 1, now(), now(), now() + $4::interval,
        now() + $5::interval)
ON CONFLICT (tenant, idempotency_key) DO UPDATE SET
  fingerprint = EXCLUDED.fingerprint, state = EXCLUDED.state,
  status_code = NULL, status_message = NULL, response = NULL,
  first_executed_at = EXCLUDED.first_executed_at,
  last_seen_at = EXCLUDED.last_seen_at,
  lease_expires_at = EXCLUDED.lease_expires_at,
  expires_at = EXCLUDED.expires_at
WHERE k.expires_at <= EXCLUDED.last_seen_at
   OR (k.state = 1 AND k.lease_expires_at <= EXCLUDED.last_seen_at
       AND k.fingerprint = EXCLUDED.fingerprint)
RETURNING (extract(epoch FROM first_executed_at) * 1000000)::bigint
)sql";

constexpr char kCompleteSql[] = R"sql(
UPDATE idem.idempotency_keys
SET state = 2, status_code = $4::integer, status_message = $5,
    response = $6::bytea, lease_expires_at = NULL, last_seen_at = now(),
    expires_at = now() + $7::interval
WHERE tenant = $1 AND idempotency_key = $2 AND fingerprint = $3::bytea
  AND state = 1
)sql";

constexpr char kReleaseSql[] = R"sql(
DELETE FROM idem.idempotency_keys
WHERE tenant = $1 AND idempotency_key = $2 AND fingerprint = $3::bytea
  AND state = 1
)sql";

std::string Bytea(const std::string& bytes) {
  return absl::StrCat("\\x", absl::BytesToHexString(bytes));
}

std::string Interval(absl::Duration duration) {
  return absl::StrCat(absl::ToInt64Milliseconds(duration), " milliseconds");
}

absl::Time FromMicros(const pqxx::field& field) {
  return absl::FromUnixMicros(field.as<int64_t>());
}

}  // namespace

std::optional<StoredCall> KeyStore::Lookup(db::PgSession& session,
                                           pqxx::transaction_base& txn,
                                           const KeyId& id) const {
  pqxx::result rows = session.Exec(txn, kLookupSql, {id.tenant, id.key});
  if (rows.empty()) return std::nullopt;
  const pqxx::row& row = rows[0];
  StoredCall call;
  call.fingerprint = pqxx::binarystring(row[0]).str();
  call.done = row[1].as<int>() == kDone;
  if (call.done) {
    auto code = static_cast<absl::StatusCode>(row[2].as<int>());
    call.status = absl::Status(code, row[3].is_null() ? "" : row[3].c_str());
    if (!row[4].is_null()) call.response = pqxx::binarystring(row[4]).str();
  }
  call.first_executed_at = FromMicros(row[5]);
  if (!row[6].is_null()) {
    call.lease_remaining = absl::Milliseconds(row[6].as<int64_t>());
  }
  return call;
}

std::optional<absl::Time> KeyStore::Claim(
    db::PgSession& session, pqxx::work& txn, const KeyId& id,
    const std::string& fingerprint, std::optional<absl::Duration> lease) const {
  db::TextParam lease_text;
  if (lease.has_value()) lease_text = Interval(*lease);
  pqxx::result rows = session.Exec(txn, kClaimSql,
                                   {id.tenant, id.key, Bytea(fingerprint),
                                    lease_text, Interval(retention_)});
  if (rows.empty()) return std::nullopt;
  return FromMicros(rows[0][0]);
}

bool KeyStore::Complete(db::PgSession& session, pqxx::work& txn,
                        const KeyId& id, const std::string& fingerprint,
                        const absl::Status& status,
                        const std::string& response) const {
  db::TextParam message, body;
  if (status.ok()) {
    body = Bytea(response);
  } else {
    message = std::string(status.message());
  }
  pqxx::result result =
      session.Exec(txn, kCompleteSql,
                   {id.tenant, id.key, Bytea(fingerprint),
                    absl::StrCat(static_cast<int>(status.code())), message,
                    body, Interval(retention_)});
  return result.affected_rows() == 1;
}

void KeyStore::Release(db::PgSession& session, pqxx::work& txn, const KeyId& id,
                       const std::string& fingerprint) const {
  session.Exec(txn, kReleaseSql, {id.tenant, id.key, Bytea(fingerprint)});
}

}  // namespace idem::keys
