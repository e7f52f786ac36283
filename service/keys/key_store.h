#ifndef IDEM_SERVICE_KEYS_KEY_STORE_H_
#define IDEM_SERVICE_KEYS_KEY_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "service/db/transaction.h"

namespace idem::keys {

// A key is scoped by its tenant: the same string under two tenants is two
// keys.
struct KeyId {
  std::string tenant;
  std::string key;
};

// The channel on which Forget notifies every replica; the payload is
// ForgetPayload(id).
inline constexpr char kForgetChannel[] = "idem_forgotten_keys";
// "<length of tenant>:<tenant><key>", unambiguous whatever the strings hold.
std::string ForgetPayload(const KeyId& id);

// A key and the fingerprint of the call made under it, and how long its
// answer is kept after the call's first execution.
struct KeyClaim {
  KeyId id;
  std::string fingerprint;
  absl::Duration retention = absl::Hours(24);
};

// A claim held with a lease, for work outside the transaction (a file
// copy): committed on its own, taken over by the same call once `length`
// has passed without a renewal. `owner`, random per claim, fences the
// claim: only its holder may renew, complete or release it.
struct LeaseTerms {
  std::string owner;
  absl::Duration length;
};

// The outcome stored under a claimed key: `response` (serialized
// KeyedCallResponse) when `status` is OK, else the status. `owner`: the
// lease's owner for a leased claim, null for a claim in the same
// transaction.
struct KeyCompletion {
  const KeyClaim* claim = nullptr;
  absl::Status status;
  std::string response;
  const std::string* owner = nullptr;
  // How long after the call's first execution its answer is kept
  // (AnswerKept); zero: the claim's retention.
  absl::Duration kept = absl::ZeroDuration();
};

// How long after its first execution a call's answer is kept: its
// retention, and at least half of it after the call finished, so that a
// call that ran longer than that (a large CopyFile, a long wait behind a
// row lock) does not answer with an answer already expired, which the
// caller's retry would find gone.
absl::Duration AnswerKept(absl::Duration retention,
                          absl::Time first_executed_at, absl::Time finished_at);

// A fresh owner token for a leased claim.
std::string NewLeaseOwner();

// What idem.idempotency_keys holds for a live (unexpired) key.
// What idem.idempotency_keys holds for a live key: in progress, finished
// with its answer, or finished with its answer expired (a tombstone).
struct StoredCall {
  std::string fingerprint;
  bool done = false;
  // A tombstone: the call ran, but its answer has expired; `status` keeps
  // only its code.
  bool answer_expired = false;
  absl::Status status;  // the stored outcome; OK for a response
  // Serialized KeyedCallResponse: the answer, when OK; in progress, the
  // answer a leased run staged (KeyStore::Renew), if it did.
  std::string response;
  absl::Time first_executed_at;
  absl::Duration lease_remaining;  // in progress only; <= 0: lapsed
  absl::Time lease_expires_at;     // in progress only
  absl::Duration expires_in;       // until the answer expires
  absl::Time expires_at;           // when the answer expires
  absl::Time tombstone_until;      // a tombstone: when it is forgotten
};

// What ForgetKey found.
enum class Forgotten { kForgotten, kAbsent, kInFlight };

// Where a key is recorded: the SQL on idem.idempotency_keys. Every method
// runs inside the caller's transaction, so that a key and the data change
// it guards commit together; concurrency is decided by the table's primary
// key, never by memory, so any number of replicas can share it. Methods
// throw libpqxx exceptions; the transaction boundary maps them.
class KeyStore {
 public:
  // `tombstone_retention`: how long a finished key's fingerprint is kept
  // after its answer expired; zero: not at all.
  explicit KeyStore(absl::Duration retention,
                    absl::Duration tombstone_retention = absl::ZeroDuration())
      : retention_(retention), tombstone_retention_(tombstone_retention) {}

  // How long a finished record lives after its call's first execution,
  // when the call does not say.
  absl::Duration retention() const { return retention_; }

  // Each key's record, if it exists and has not expired: one statement per
  // tenant (a batch has one), one primary-key probe per key. Writes
  // nothing.
  std::vector<std::optional<StoredCall>> LookupAll(
      db::Transaction& txn, const std::vector<const KeyId*>& ids) const;
  std::optional<StoredCall> Lookup(db::Transaction& txn, const KeyId& id) const;

  // Records each key as in progress for its call, also over an expired
  // record or over a lapsed lease of the same call, in one statement (keys
  // in sorted order, so that two batches never wait on each other in a
  // cycle). Waits (up to the session's lock_timeout) behind a concurrent
  // claim that has not committed. Returns, per claim, the call's
  // first_executed_at, or nullopt when a live record holds the key (read it
  // with Lookup). The keys must be distinct. With `lease`, the claims are
  // leased (LeaseTerms); without, they complete in the same transaction.
  std::vector<std::optional<absl::Time>> ClaimAll(
      db::Transaction& txn, const std::vector<const KeyClaim*>& claims,
      const LeaseTerms* lease) const;
  std::optional<absl::Time> Claim(db::Transaction& txn, const KeyClaim& claim,
                                  const LeaseTerms* lease) const;

  // Extends a leased claim that `lease.owner` still holds by
  // `lease.length` from now; false when it no longer holds it. With
  // `staged` (a serialized KeyedCallResponse), also records the answer the
  // run is about to give, which a run that takes the claim over after a
  // crash is given (Lookup's `response` of a claim in progress).
  bool Renew(db::Transaction& txn, const KeyClaim& claim,
             const LeaseTerms& lease,
             const std::string* staged = nullptr) const;

  // Stores the outcomes of claimed calls in one statement. Returns how many
  // were stored: a claim whose owner lost it to a takeover is not.
  size_t CompleteAll(db::Transaction& txn,
                     const std::vector<KeyCompletion>& completions) const;
  bool Complete(db::Transaction& txn, const KeyCompletion& completion) const;

  // Claims and completes each key in one statement, for calls that ran
  // before their key was claimed: a record written once instead of claimed
  // and then updated. Waits behind a concurrent claim that has not
  // committed. Returns false, having written none of them, when a record
  // (live, expired or just committed) holds one of the keys: the caller
  // rolls back and claims the keys with ClaimAll. `first_executed_at` is stored
  // to the microsecond.
  bool RecordAll(db::Transaction& txn,
                 const std::vector<KeyCompletion>& completions,
                 absl::Time first_executed_at) const;

  // Removes the finished record of `id` (its answer or its tombstone) and
  // tells every replica's cache (NOTIFY on kForgetChannel, in the same
  // transaction): kForgotten; kAbsent when no live record holds it;
  // kInFlight, changing nothing, when a call holds it in progress.
  Forgotten Forget(db::Transaction& txn, const KeyId& id) const;

  // Forgets an in-progress leased claim that `owner` holds after a
  // transient failure, so that the next attempt runs the call afresh.
  void Release(db::Transaction& txn, const KeyClaim& claim,
               const std::string& owner) const;

 private:
  const absl::Duration retention_;
  const absl::Duration tombstone_retention_;
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_KEY_STORE_H_
