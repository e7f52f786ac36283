#include "service/ops/keyed_call_op.h"

#include <optional>

#include "service/common/error_reason.h"
#include "service/db/database_error.h"
#include "service/db/transaction.h"
#include "service/keys/fingerprint.h"
#include "service/keys/finished_call_cache.h"
#include "service/keys/key_rules.h"
#include "service/keys/key_store.h"
#include "service/keys/lease_keeper.h"
#include "service/ops/copy_file_op.h"
#include "service/ops/group_commit.h"
#include "service/ops/keyed_answers.h"

namespace idem::ops {
namespace {

using keys::KeyClaim;
using keys::StoredCall;

absl::StatusOr<WriteCall> PrepareWrite(const OpsContext& context,
                                       const v1::KeyedCallRequest& request,
                                       const KeyClaim& claim) {
  if (request.has_transaction()) {
    absl::StatusOr<PreparedTransaction> transaction =
        PrepareTransaction(context, request.transaction());
    if (!transaction.ok()) return transaction.status();
    return WriteCall{claim.id.tenant, *std::move(transaction), claim};
  }
  if (request.has_insert()) {
    absl::StatusOr<PreparedInsert> insert =
        PrepareInsert(context, request.insert());
    if (!insert.ok()) return insert.status();
    return WriteCall{claim.id.tenant, *std::move(insert), claim};
  }
  absl::StatusOr<PreparedUpdate> update =
      PrepareUpdate(context, request.update());
  if (!update.ok()) return update.status();
  return WriteCall{claim.id.tenant, *std::move(update), claim};
}

// CopyFile: the file system shares no transaction with the key, so the key
// is claimed with a lease first, then the copy runs, then its answer is
// stored. The lease is renewed while the copy runs, so a live copy is never
// taken over; a crash in between leaves a lease that the next retry takes
// over once it lapses (the copy is idempotent, so running it again is
// safe). The claim's owner token fences it: a run whose claim was taken
// over can neither complete nor release the new one, and answers with
// what the key holds instead of its own copy.
KeyedOutcome RunKeyedCopy(const OpsContext& context, const KeyClaim& claim,
                          const v1::CopyFileRequest& request) {
  const keys::KeyStore& store = *context.key_store;
  // A finished key is answered from a single autocommit read: replays
  // write nothing and cost one round trip.
  absl::StatusOr<std::optional<StoredCall>> stored = db::RunAutocommit(
      *context.pool,
      [&](db::Transaction& txn) -> absl::StatusOr<std::optional<StoredCall>> {
        return store.Lookup(txn, claim.id);
      });
  if (!stored.ok()) return StatusOnly(stored.status());
  if (stored->has_value()) {
    if (std::optional<KeyedOutcome> answer = FromStored(**stored, claim)) {
      return *std::move(answer);
    }
  }
  const keys::LeaseTerms lease{keys::NewLeaseOwner(), context.copy_lease};
  std::optional<absl::Time> first;
  absl::StatusOr<std::optional<KeyedOutcome>> claimed = db::RunInTransaction(
      *context.pool,
      [&](db::Transaction& txn) -> absl::StatusOr<std::optional<KeyedOutcome>> {
        first = store.Claim(txn, claim, &lease);
        if (first.has_value()) return std::optional<KeyedOutcome>();
        absl::StatusOr<KeyedOutcome> holder = AnswerOfHolder(txn, store, claim);
        if (!holder.ok()) return holder.status();
        return std::optional<KeyedOutcome>(*std::move(holder));
      });
  if (!claimed.ok()) return StatusOnly(claimed.status());
  if (claimed->has_value()) return **std::move(claimed);

  absl::StatusOr<v1::CopyFileResponse> copied = [&] {
    keys::LeaseKeeper keeper(*context.pool, store, claim, lease);
    return RunCopyFile(context, request);
  }();
  absl::StatusOr<KeyedOutcome> outcome = db::RunInTransaction(
      *context.pool, [&](db::Transaction& txn) -> absl::StatusOr<KeyedOutcome> {
        if (!copied.ok() && db::IsTransient(copied.status())) {
          store.Release(txn, claim, lease.owner);
          return StatusOnly(copied.status());
        }
        KeyedOutcome result = StatusOnly(copied.status());
        if (copied.ok()) {
          *result.response.mutable_copy_file() = *copied;
          *result.response.mutable_first_executed_at() = ToProto(*first);
          *result.response.mutable_expires_at() =
              ToProto(*first + claim.retention);
        }
        std::string body =
            copied.ok() ? result.response.SerializeAsString() : "";
        if (!store.Complete(txn,
                            {&claim, copied.status(), body, &lease.owner})) {
          return AnswerOfHolder(txn, store, claim);
        }
        return result;
      });
  if (!outcome.ok()) return StatusOnly(outcome.status());
  return *std::move(outcome);
}

// How long the answer is kept: the call's own retention, within bounds, or
// the server's.
absl::StatusOr<absl::Duration> RetentionOf(
    const OpsContext& context, const v1::KeyedCallRequest& request) {
  if (!request.has_retention()) return context.key_store->retention();
  const absl::Duration asked = absl::Seconds(request.retention().seconds()) +
                               absl::Nanoseconds(request.retention().nanos());
  if (asked < absl::Minutes(1) || asked > context.limits.max_key_retention) {
    return Error(
        Reason::kRequestInvalid,
        absl::StrCat("retention must be between 1 minute and ",
                     absl::FormatDuration(context.limits.max_key_retention),
                     " (IDEM_MAX_KEY_RETENTION); got ",
                     absl::FormatDuration(asked)));
  }
  return asked;
}

}  // namespace

std::optional<KeyedOutcome> AnswerFromMemory(
    const OpsContext& context, const std::string& tenant,
    const v1::KeyedCallRequest& request) {
  // A key that breaks the key rules was never stored, so it is not
  // remembered either: RunKeyedCall refuses it.
  if (context.finished_calls == nullptr ||
      request.call_case() == v1::KeyedCallRequest::CALL_NOT_SET) {
    return std::nullopt;
  }
  const keys::KeyId id{tenant, request.idempotency_key()};
  std::shared_ptr<const StoredCall> finished = context.finished_calls->Get(id);
  if (finished == nullptr) return std::nullopt;
  return FromStored(*finished, KeyClaim{id, keys::Fingerprint(request)});
}

void RunKeyedCall(const OpsContext& context, const std::string& tenant,
                  const v1::KeyedCallRequest& request,
                  std::function<void(KeyedOutcome)> done,
                  PendingWrites& writes) {
  if (absl::Status valid =
          keys::ValidateIdempotencyKey(request.idempotency_key());
      !valid.ok()) {
    return done(StatusOnly(valid));
  }
  if (request.call_case() == v1::KeyedCallRequest::CALL_NOT_SET) {
    return done(StatusOnly(
        Error(Reason::kRequestInvalid,
              "a KeyedCall needs a call: insert, update, copy_file or "
              "transaction")));
  }
  absl::StatusOr<absl::Duration> retention = RetentionOf(context, request);
  if (!retention.ok()) return done(StatusOnly(retention.status()));
  const KeyClaim claim{{tenant, request.idempotency_key()},
                       keys::Fingerprint(request),
                       *retention};
  if (request.has_copy_file()) {
    return done(RunKeyedCopy(context, claim, request.copy_file()));
  }
  absl::StatusOr<WriteCall> write = PrepareWrite(context, request, claim);
  if (!write.ok()) {
    if (db::IsTransient(write.status())) {
      return done(StatusOnly(write.status()));
    }
    return done(StoreFailure(context, claim, write.status()));
  }
  writes.Add(*std::move(write), std::move(done));
}

}  // namespace idem::ops
