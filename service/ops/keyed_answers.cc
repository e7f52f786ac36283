#include "service/ops/keyed_answers.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "service/common/error_reason.h"
#include "service/common/refusals.h"
#include "service/db/transaction.h"

namespace idem::ops {

KeyedOutcome StatusOnly(absl::Status status) {
  KeyedOutcome outcome;
  outcome.status = WithAbortedDelay(std::move(status));
  return outcome;
}

google::protobuf::Timestamp ToProto(absl::Time time) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(time));
}

std::optional<KeyedOutcome> FromStored(const keys::StoredCall& stored,
                                       const keys::KeyClaim& claim) {
  KeyedOutcome outcome;
  if (stored.fingerprint != claim.fingerprint) {
    outcome.key_mismatch = true;
    outcome.status = Error(
        Reason::kKeyMismatch,
        absl::StrCat("idempotency key \"", claim.id.key,
                     "\" was already used for a different call; use a new "
                     "key for a new call"));
    return outcome;
  }
  if (stored.answer_expired) {
    // A tombstone: the call ran, its answer is gone; nothing runs again.
    outcome.replayed = true;
    outcome.response.set_replayed(true);
    outcome.response.set_answer_expired(true);
    *outcome.response.mutable_first_executed_at() =
        ToProto(stored.first_executed_at);
    *outcome.response.mutable_expires_at() = ToProto(stored.expires_at);
    return outcome;
  }
  if (!stored.done) {
    if (stored.lease_remaining <= absl::ZeroDuration()) return std::nullopt;
    outcome.status = KeyInFlight(claim.id.key, stored.lease_remaining);
    return outcome;
  }
  outcome.replayed = true;
  outcome.status = stored.status;
  if (stored.status.ok() &&
      !outcome.response.ParseFromString(stored.response)) {
    outcome.status = absl::InternalError("stored response is unreadable");
  }
  outcome.response.set_replayed(true);
  *outcome.response.mutable_first_executed_at() =
      ToProto(stored.first_executed_at);
  *outcome.response.mutable_expires_at() = ToProto(stored.expires_at);
  return outcome;
}

absl::StatusOr<KeyedOutcome> AnswerOfHolder(db::Transaction& txn,
                                            const keys::KeyStore& store,
                                            const keys::KeyClaim& claim) {
  std::optional<keys::StoredCall> stored = store.Lookup(txn, claim.id);
  std::optional<KeyedOutcome> outcome;
  if (stored.has_value()) outcome = FromStored(*stored, claim);
  if (!outcome.has_value()) {
    return KeyChangedHands();
  }
  return *outcome;
}

KeyedOutcome StoreFailure(const OpsContext& context,
                          const keys::KeyClaim& claim,
                          const absl::Status& failure) {
  const keys::KeyStore& store = *context.key_store;
  absl::StatusOr<KeyedOutcome> stored = db::RunInTransaction(
      *context.pool, [&](db::Transaction& txn) -> absl::StatusOr<KeyedOutcome> {
        if (!store.Claim(txn, claim, nullptr)) {
          return AnswerOfHolder(txn, store, claim);
        }
        store.Complete(txn, {&claim, failure, ""});
        return KeyedOutcome{failure, {}, false};
      });
  if (!stored.ok()) return StatusOnly(stored.status());
  return *stored;
}

}  // namespace idem::ops
