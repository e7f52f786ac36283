#include "service/keys/key_store.h"

#include <algorithm>
#include <pqxx/binarystring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "idem/v1/wire_names.h"
#include "service/common/error_reason.h"
#include "service/db/value_encoding.h"

namespace idem::keys {
namespace {

constexpr int kDone = 2;

// One tenant's keys, each read by one probe of the primary key: the LIMIT
// keeps the subquery a probe per key, so that even a plan made while the
// table was empty never reads the tenant's keys through the index and
// filters them (every live key of the tenant, once the table has grown).
// Whether a record has expired is a column, not a condition, for the same
// reason: on a condition the expiry index would serve. "Now" is the moment
// of the read (clock_timestamp), not the transaction's start (now()): a
// batch's transaction may have waited seconds behind a row lock, and an
// answer that expired meanwhile (cut to a tombstone by the reaper since)
// must not read as live.
constexpr char kLookupSql[] = R"sql(
SELECT k.fingerprint, k.state, k.status_code, k.status_message, k.response,
       (extract(epoch FROM k.first_executed_at) * 1000000)::bigint,
       (extract(epoch FROM k.lease_expires_at - moment.at) * 1000)::bigint,
       k.idempotency_key,
       (extract(epoch FROM k.expires_at - moment.at) * 1000)::bigint,
       k.expires_at > moment.at, k.status_details,
       (extract(epoch FROM k.expires_at) * 1000000)::bigint,
       k.tombstone_until > moment.at,
       (extract(epoch FROM k.lease_expires_at) * 1000000)::bigint,
       (extract(epoch FROM k.tombstone_until) * 1000000)::bigint
FROM (SELECT clock_timestamp() AS at) AS moment
CROSS JOIN unnest($2::text[]) AS wanted(idempotency_key)
CROSS JOIN LATERAL (
  SELECT * FROM idem.idempotency_keys
  WHERE tenant = $1 AND idempotency_key = wanted.idempotency_key
  LIMIT 1) AS k
)sql";

// The columns of kLookupSql, in order.
enum LookupColumn {
  kFingerprint,
  kState,
  kStatusCode,
  kStatusMessage,
  kResponse,
  kFirstExecutedMicros,
  kLeaseRemainingMillis,
  kKey,
  kExpiresInMillis,
  kAnswerLive,
  kStatusDetails,
  kExpiresAtMicros,
  kTombstoneLive,
  kLeaseExpiresMicros,
  kTombstoneUntilMicros,
};

// One statement for any number of keys: each array parameter holds one
// element per key. The conflict clause reads "now" from EXCLUDED instead of
// calling now(): a distributed (Citus) table allows no volatile function in
// DO UPDATE. A leased claim lives at least as long as its lease (Renew keeps
// it so), whatever the call's retention: it must never expire, be taken or
// be reaped while its run renews it; and a claim over an old record keeps
// none of its tombstone. "Now" is the moment of the claim, as in
// kLookupSql: a record that expired while the transaction ran is taken.
constexpr char kClaimSql[] = R"sql(
INSERT INTO idem.idempotency_keys AS k
  (tenant, idempotency_key, fingerprint, state, first_executed_at,
   last_seen_at, lease_expires_at, lease_owner, expires_at)
SELECT c.tenant, c.idempotency_key, decode(c.fingerprint, 'hex'), 1,
       moment.at, moment.at, moment.at + $5::interval, $6::bytea,
       greatest(moment.at + c.retention, moment.at + $5::interval)
FROM (SELECT clock_timestamp() AS at) AS moment
CROSS JOIN unnest($1::text[], $2::text[], $3::text[], $4::interval[])
  AS c(tenant, idempotency_key, fingerprint, retention)
ORDER BY c.tenant, c.idempotency_key
ON CONFLICT (tenant, idempotency_key) DO UPDATE SET
  fingerprint = EXCLUDED.fingerprint, state = EXCLUDED.state,
  status_code = NULL, status_message = NULL, status_details = NULL,
  -- A lapsed claim of the same call keeps the answer its run staged: the
  -- run that takes it over must learn that the first may have taken
  -- effect. Another call, under a key that expired meanwhile, starts clean.
  response = CASE WHEN k.state = 1 AND k.fingerprint = EXCLUDED.fingerprint
                  THEN k.response END,
  first_executed_at = EXCLUDED.first_executed_at,
  last_seen_at = EXCLUDED.last_seen_at,
  lease_expires_at = EXCLUDED.lease_expires_at,
  lease_owner = EXCLUDED.lease_owner,
  expires_at = EXCLUDED.expires_at, tombstone_until = NULL
WHERE (k.expires_at <= EXCLUDED.last_seen_at
       AND coalesce(k.tombstone_until, k.expires_at) <= EXCLUDED.last_seen_at)
   OR (k.state = 1 AND k.lease_expires_at <= EXCLUDED.last_seen_at
       AND k.fingerprint = EXCLUDED.fingerprint)
RETURNING tenant, idempotency_key,
          (extract(epoch FROM first_executed_at) * 1000000)::bigint
)sql";

// A claim and its completion in one row: the finished record, written once.
// A key that any record holds (live, expired, or claimed since the caller's
// read) is skipped, waiting first for a claim not yet committed; the short
// count tells the caller to roll back and start over with ClaimAll, which
// takes over expired records. ON CONFLICT DO NOTHING rather than a plain
// INSERT failing with a unique violation: that would abort the transaction
// through an exception below the storage boundary, for the price of one
// speculative insertion per key. A record expires its retention after the
// call's first execution.
constexpr char kRecordSql[] = R"sql(
INSERT INTO idem.idempotency_keys
  (tenant, idempotency_key, fingerprint, state, status_code, status_message,
   status_details, response, first_executed_at, last_seen_at, expires_at,
   tombstone_until)
SELECT c.tenant, c.idempotency_key, decode(c.fingerprint, 'hex'), 2,
       c.status_code, c.status_message, decode(c.details, 'hex'),
       decode(c.response, 'hex'), $9::timestamptz, now(),
       $9::timestamptz + c.retention,
       CASE WHEN $10::interval > '0' THEN
         $9::timestamptz + c.retention + $10::interval END
FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[],
            $6::text[], $7::text[], $8::interval[])
  AS c(tenant, idempotency_key, fingerprint, status_code, status_message,
       response, details, retention)
ORDER BY c.tenant, c.idempotency_key
ON CONFLICT DO NOTHING
)sql";

// Completes only the claims their completers hold: a leased claim by its
// owner, a claim of the same transaction (no owner) as itself.
constexpr char kCompleteSql[] = R"sql(
UPDATE idem.idempotency_keys AS k
SET state = 2, status_code = c.status_code, status_message = c.status_message,
    status_details = decode(c.details, 'hex'),
    response = decode(c.response, 'hex'), lease_expires_at = NULL,
    lease_owner = NULL, last_seen_at = now(),
    expires_at = k.first_executed_at + c.retention,
    tombstone_until = CASE WHEN $10::interval > '0' THEN
      k.first_executed_at + c.retention + $10::interval END
FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[],
            $6::text[], $7::text[], $8::interval[], $9::text[])
  AS c(tenant, idempotency_key, fingerprint, status_code, status_message,
       response, details, retention, owner)
WHERE k.tenant = c.tenant AND k.idempotency_key = c.idempotency_key
  AND k.fingerprint = decode(c.fingerprint, 'hex') AND k.state = 1
  AND k.lease_owner IS NOT DISTINCT FROM decode(c.owner, 'hex')
)sql";

// A finished record, answer or tombstone, goes, and so does a claim whose
// lease lapsed (its call's server died; a resend would take it over); a
// claim held by a running call stays and is reported. Every replica's cache
// is told in the same transaction, when a record went: no replica
// remembers a key the database lacks.
constexpr char kForgetSql[] = R"sql(
WITH held AS (
  SELECT state, coalesce(tombstone_until, expires_at) > now() AS live,
         coalesce(state = 1 AND lease_expires_at <= now(), false) AS lapsed
  FROM idem.idempotency_keys
  WHERE tenant = $1 AND idempotency_key = $2
  FOR UPDATE),
gone AS (
  DELETE FROM idem.idempotency_keys
  WHERE tenant = $1 AND idempotency_key = $2
    AND (SELECT state = 2 OR lapsed FROM held)
  RETURNING 1)
SELECT (SELECT state FROM held), (SELECT live FROM held),
       (SELECT lapsed FROM held), (SELECT pg_notify($3, $4) FROM gone)
)sql";

constexpr char kRenewSql[] = R"sql(
UPDATE idem.idempotency_keys
SET lease_expires_at = now() + $4::interval, last_seen_at = now(),
    expires_at = greatest(expires_at, now() + $4::interval),
    response = coalesce($5::bytea, response)
WHERE tenant = $1 AND idempotency_key = $2 AND state = 1
  AND lease_owner = $3::bytea
)sql";

constexpr char kReleaseSql[] = R"sql(
DELETE FROM idem.idempotency_keys
WHERE tenant = $1 AND idempotency_key = $2 AND fingerprint = $3::bytea
  AND state = 1 AND lease_owner = $4::bytea
)sql";

std::string Bytea(const std::string& bytes) {
  return absl::StrCat("\\x", absl::BytesToHexString(bytes));
}

std::string Interval(absl::Duration duration) {
  return absl::StrCat(absl::ToInt64Microseconds(duration), " microseconds");
}

std::string Hex(const std::string& bytes) {
  return absl::BytesToHexString(bytes);
}

absl::Time FromMicros(const pqxx::field& field) {
  return absl::FromUnixMicros(field.as<int64_t>());
}

// A failure's reason and metadata as a serialized ErrorInfo, for the
// record; empty for a success or a failure without a reason.
std::string DetailsOf(const absl::Status& status) {
  std::optional<std::string> reason = ReasonOf(status);
  if (status.ok() || !reason.has_value()) return "";
  google::rpc::ErrorInfo info;
  info.set_reason(*reason);
  info.set_domain(v1::wire::kErrorDomain);
  for (const auto& [key, value] : MetadataOf(status)) {
    (*info.mutable_metadata())[key] = value;
  }
  return info.SerializeAsString();
}

// The stored failure, with the reason and metadata it was stored with.
absl::Status StoredStatus(const pqxx::row& row) {
  absl::Status status(
      static_cast<absl::StatusCode>(row[kStatusCode].as<int>()),
      row[kStatusMessage].is_null() ? "" : row[kStatusMessage].c_str());
  google::rpc::ErrorInfo info;
  if (status.ok() || row[kStatusDetails].is_null() ||
      !info.ParseFromString(pqxx::binarystring(row[kStatusDetails]).str())) {
    return status;
  }
  return WithReasonNamed(status, info.reason(),
                         std::map<std::string, std::string>(
                             info.metadata().begin(), info.metadata().end()));
}

// The parameters $1 to $8 that kCompleteSql and kRecordSql share: one array
// per column, one element per completion.
std::vector<db::TextParam> CompletionParams(
    const std::vector<KeyCompletion>& completions) {
  std::vector<db::TextParam> tenants, keys, fingerprints, codes, messages,
      bodies, details, retentions;
  for (const KeyCompletion& completion : completions) {
    const KeyClaim& claim = *completion.claim;
    tenants.push_back(claim.id.tenant);
    keys.push_back(claim.id.key);
    fingerprints.push_back(Hex(claim.fingerprint));
    codes.push_back(absl::StrCat(static_cast<int>(completion.status.code())));
    retentions.push_back(Interval(completion.kept > absl::ZeroDuration()
                                      ? completion.kept
                                      : claim.retention));
    if (completion.status.ok()) {
      messages.push_back(std::nullopt);
      bodies.push_back(Hex(completion.response));
      details.push_back(std::nullopt);
    } else {
      messages.push_back(std::string(completion.status.message()));
      bodies.push_back(std::nullopt);
      std::string info = DetailsOf(completion.status);
      details.push_back(info.empty() ? db::TextParam() : Hex(info));
    }
  }
  return {db::ArrayLiteral(tenants),      db::ArrayLiteral(keys),
          db::ArrayLiteral(fingerprints), db::ArrayLiteral(codes),
          db::ArrayLiteral(messages),     db::ArrayLiteral(bodies),
          db::ArrayLiteral(details),      db::ArrayLiteral(retentions)};
}

}  // namespace

std::vector<std::optional<StoredCall>> KeyStore::LookupAll(
    db::Transaction& txn, const std::vector<const KeyId*>& ids) const {
  // Per tenant (a batch has one): its keys, and where each goes in `found`.
  struct TenantKeys {
    std::vector<db::TextParam> keys;
    absl::flat_hash_map<std::string, size_t> index;
  };
  absl::flat_hash_map<std::string, TenantKeys> by_tenant;
  for (size_t i = 0; i < ids.size(); ++i) {
    TenantKeys& tenant = by_tenant[ids[i]->tenant];
    tenant.index[ids[i]->key] = i;
    tenant.keys.push_back(ids[i]->key);
  }
  std::vector<std::optional<StoredCall>> found(ids.size());
  for (const auto& [tenant, keys] : by_tenant) {
    for (const pqxx::row& row :
         txn.Exec(kLookupSql, {tenant, db::ArrayLiteral(keys.keys)})) {
      const bool answer_live = row[kAnswerLive].as<bool>();
      const bool tombstone =
          !row[kTombstoneLive].is_null() && row[kTombstoneLive].as<bool>();
      if (!answer_live && (!tombstone || row[kState].as<int>() != kDone)) {
        continue;  // expired: as if absent
      }
      StoredCall& call = found[keys.index.at(row[kKey].c_str())].emplace();
      call.fingerprint = pqxx::binarystring(row[kFingerprint]).str();
      call.done = row[kState].as<int>() == kDone;
      call.answer_expired = !answer_live;
      if (call.answer_expired) {
        call.status = absl::Status(
            static_cast<absl::StatusCode>(row[kStatusCode].as<int>()), "");
        call.tombstone_until = FromMicros(row[kTombstoneUntilMicros]);
      } else {
        if (call.done) call.status = StoredStatus(row);
        if (!row[kResponse].is_null())
          call.response = pqxx::binarystring(row[kResponse]).str();
      }
      call.first_executed_at = FromMicros(row[kFirstExecutedMicros]);
      if (!row[kLeaseRemainingMillis].is_null()) {
        call.lease_remaining =
            absl::Milliseconds(row[kLeaseRemainingMillis].as<int64_t>());
        call.lease_expires_at = FromMicros(row[kLeaseExpiresMicros]);
      }
      call.expires_in = absl::Milliseconds(row[kExpiresInMillis].as<int64_t>());
      call.expires_at = FromMicros(row[kExpiresAtMicros]);
    }
  }
  return found;
}

std::optional<StoredCall> KeyStore::Lookup(db::Transaction& txn,
                                           const KeyId& id) const {
  return LookupAll(txn, {&id})[0];
}

std::vector<std::optional<absl::Time>> KeyStore::ClaimAll(
    db::Transaction& txn, const std::vector<const KeyClaim*>& claims,
    const LeaseTerms* lease) const {
  std::vector<db::TextParam> tenants, keys, fingerprints, retentions;
  absl::flat_hash_map<std::pair<std::string, std::string>, size_t> index;
  for (const KeyClaim* claim : claims) {
    index[{claim->id.tenant, claim->id.key}] = tenants.size();
    tenants.push_back(claim->id.tenant);
    keys.push_back(claim->id.key);
    fingerprints.push_back(Hex(claim->fingerprint));
    retentions.push_back(Interval(claim->retention));
  }
  db::TextParam lease_length, owner;
  if (lease != nullptr) {
    lease_length = Interval(lease->length);
    owner = Bytea(lease->owner);
  }
  pqxx::result rows =
      txn.Exec(kClaimSql, {db::ArrayLiteral(tenants), db::ArrayLiteral(keys),
                           db::ArrayLiteral(fingerprints),
                           db::ArrayLiteral(retentions), lease_length, owner});
  std::vector<std::optional<absl::Time>> first(claims.size());
  for (const pqxx::row& row : rows) {
    first[index.at({row[0].c_str(), row[1].c_str()})] = FromMicros(row[2]);
  }
  return first;
}

std::optional<absl::Time> KeyStore::Claim(db::Transaction& txn,
                                          const KeyClaim& claim,
                                          const LeaseTerms* lease) const {
  return ClaimAll(txn, {&claim}, lease)[0];
}

size_t KeyStore::CompleteAll(
    db::Transaction& txn, const std::vector<KeyCompletion>& completions) const {
  std::vector<db::TextParam> params = CompletionParams(completions);
  std::vector<db::TextParam> owners;
  for (const KeyCompletion& completion : completions) {
    owners.push_back(completion.owner == nullptr ? db::TextParam()
                                                 : Hex(*completion.owner));
  }
  params.push_back(db::ArrayLiteral(owners));
  params.push_back(Interval(tombstone_retention_));
  return txn.ExecUnprepared(kCompleteSql, params).affected_rows();
}

bool KeyStore::Complete(db::Transaction& txn,
                        const KeyCompletion& completion) const {
  return CompleteAll(txn, {completion}) == 1;
}

bool KeyStore::RecordAll(db::Transaction& txn,
                         const std::vector<KeyCompletion>& completions,
                         absl::Time first_executed_at) const {
  std::vector<db::TextParam> params = CompletionParams(completions);
  params.push_back(absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", first_executed_at,
                                    absl::UTCTimeZone()));
  params.push_back(Interval(tombstone_retention_));
  // A key some record holds (live, expired, or committed since the caller
  // looked) is left as it is, and the call's effect must not commit.
  return txn.Exec(kRecordSql, params).affected_rows() == completions.size();
}

bool KeyStore::Renew(db::Transaction& txn, const KeyClaim& claim,
                     const LeaseTerms& lease, const std::string* staged) const {
  return txn.Exec(kRenewSql,
                  {claim.id.tenant, claim.id.key, Bytea(lease.owner),
                   Interval(lease.length),
                   staged == nullptr ? db::TextParam() : Bytea(*staged)})
             .affected_rows() == 1;
}

void KeyStore::Release(db::Transaction& txn, const KeyClaim& claim,
                       const std::string& owner) const {
  txn.Exec(kReleaseSql, {claim.id.tenant, claim.id.key,
                         Bytea(claim.fingerprint), Bytea(owner)});
}

Forgotten KeyStore::Forget(db::Transaction& txn, const KeyId& id) const {
  pqxx::result held = txn.Exec(
      kForgetSql, {id.tenant, id.key, kForgetChannel, ForgetPayload(id)});
  if (held.empty() || held[0][0].is_null()) return Forgotten::kAbsent;
  if (held[0][0].as<int>() != kDone) {
    return held[0][2].as<bool>() ? Forgotten::kForgotten : Forgotten::kInFlight;
  }
  return held[0][1].as<bool>() ? Forgotten::kForgotten : Forgotten::kAbsent;
}

absl::Duration AnswerKept(absl::Duration retention,
                          absl::Time first_executed_at,
                          absl::Time finished_at) {
  return std::max(retention, finished_at - first_executed_at + retention / 2);
}

std::string ForgetPayload(const KeyId& id) {
  return absl::StrCat(id.tenant.size(), ":", id.tenant, id.key);
}

std::string NewLeaseOwner() {
  absl::BitGen random;
  std::string owner(16, '\0');
  for (char& byte : owner) {
    byte = static_cast<char>(absl::Uniform<int>(random, 0, 256));
  }
  return owner;
}

}  // namespace idem::keys
