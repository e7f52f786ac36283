#ifndef IDEM_SERVICE_KEYS_KEY_STORE_H_
#define IDEM_SERVICE_KEYS_KEY_STORE_H_

#include <cstdint>
#include <optional>
#include <pqxx/transaction_base>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "service/db/pg_session.h"

namespace idem::keys {

// A key is scoped by its tenant: the same string under two tenants is two
// keys.
struct KeyId {
  std::string tenant;
  std::string key;
};

// A key and the fingerprint of the call made under it.
struct KeyClaim {
  KeyId id;
  std::string fingerprint;
};

// The outcome stored under a claimed key: `response` (serialized
// KeyedCallResponse) when `status` is OK, else the status.
struct KeyCompletion {
  const KeyClaim* claim = nullptr;
  absl::Status status;
  std::string response;
};

// What idem.idempotency_keys holds for a live (unexpired) key.
struct StoredCall {
  std::string fingerprint;
  bool done = false;
  absl::Status status;   // the stored outcome; OK for a response
  std::string response;  // serialized KeyedCallResponse, when OK
  absl::Time first_executed_at;
  absl::Duration lease_remaining;  // in progress only; <= 0: lapsed
  absl::Duration expires_in;       // until the record expires
};

// Where a key is recorded: the SQL on idem.idempotency_keys. Every method
// runs inside the caller's transaction, so that a key and the data change
// it guards commit together; concurrency is decided by the table's primary
// key, never by memory, so any number of replicas can share it. Methods
// throw libpqxx exceptions; the transaction boundary maps them.
class KeyStore {
 public:
  explicit KeyStore(absl::Duration retention) : retention_(retention) {}

  // How long a finished record lives after its completion.
  absl::Duration retention() const { return retention_; }

  // Each key's record, if it exists and has not expired: one statement per
  // tenant (a batch has one), one primary-key probe per key. Writes
  // nothing.
  std::vector<std::optional<StoredCall>> LookupAll(
      db::PgSession& session, pqxx::transaction_base& txn,
      const std::vector<const KeyId*>& ids) const;
  std::optional<StoredCall> Lookup(db::PgSession& session,
                                   pqxx::transaction_base& txn,
                                   const KeyId& id) const;

  // Records each key as in progress for its call, also over an expired
  // record or over a lapsed lease of the same call, in one statement (keys
  // in sorted order, so that two batches never wait on each other in a
  // cycle). Waits (up to the session's lock_timeout) behind a concurrent
  // claim that has not committed. Returns, per claim, the call's
  // first_executed_at, or nullopt when a live record holds the key (read it
  // with Lookup). The keys must be distinct.
  // `lease`: for work outside the transaction (a file copy), the claim is
  // committed on its own and others may take it over after this long.
  std::vector<std::optional<absl::Time>> ClaimAll(
      db::PgSession& session, pqxx::transaction_base& txn,
      const std::vector<const KeyClaim*>& claims,
      std::optional<absl::Duration> lease) const;
  std::optional<absl::Time> Claim(db::PgSession& session,
                                  pqxx::transaction_base& txn,
                                  const KeyClaim& claim,
                                  std::optional<absl::Duration> lease) const;

  // Stores the outcomes of claimed calls in one statement. Returns how many
  // were stored: a claim lost to a takeover after its lease lapsed is not.
  size_t CompleteAll(db::PgSession& session, pqxx::transaction_base& txn,
                     const std::vector<KeyCompletion>& completions) const;
  bool Complete(db::PgSession& session, pqxx::transaction_base& txn,
                const KeyCompletion& completion) const;

  // Claims and completes each key in one statement, for calls that ran
  // before their key was claimed: a record written once instead of claimed
  // and then updated. Waits behind a concurrent claim that has not
  // committed. Returns false, leaving `txn` aborted, when a record (live,
  // expired or just committed) holds one of the keys: the caller rolls back
  // and claims the keys with ClaimAll. `first_executed_at` is stored to the
  // microsecond.
  bool RecordAll(db::PgSession& session, pqxx::transaction_base& txn,
                 const std::vector<KeyCompletion>& completions,
                 absl::Time first_executed_at) const;

  // Forgets an in-progress claim after a transient failure, so that the
  // next attempt runs the call afresh.
  void Release(db::PgSession& session, pqxx::transaction_base& txn,
               const KeyClaim& claim) const;

 private:
  const absl::Duration retention_;
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_KEY_STORE_H_
