#include "service/ops/keyed_call_op.h"

#include <algorithm>
#include <optional>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <variant>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "service/common/retry_delay.h"
#include "service/db/database_error.h"
#include "service/db/transaction.h"
#include "service/keys/fingerprint.h"
#include "service/keys/key_rules.h"
#include "service/keys/key_store.h"
#include "service/ops/copy_file_op.h"
#include "service/ops/insert_op.h"
#include "service/ops/update_op.h"

namespace idem::ops {
namespace {

using keys::KeyId;
using keys::StoredCall;
using PreparedCall = std::variant<PreparedInsert, PreparedUpdate>;

// An ABORTED answer always says when to come back (brief §3): a lock timeout
// behind a key in flight, or a serialization failure, has no delay of its own.
KeyedOutcome StatusOnly(absl::Status status) {
  if (status.code() == absl::StatusCode::kAborted &&
      !RetryDelayOf(status).has_value()) {
    status = WithRetryDelay(std::move(status), absl::Milliseconds(100));
  }
  KeyedOutcome outcome;
  outcome.status = std::move(status);
  return outcome;
}

google::protobuf::Timestamp ToProto(absl::Time time) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(time));
}

// The answer a stored record gives, or nullopt when the caller may claim
// the key (an in-progress record whose lease has lapsed).
std::optional<KeyedOutcome> FromStored(const StoredCall& stored,
                                       const std::string& fingerprint,
                                       const KeyId& id) {
  KeyedOutcome outcome;
  if (stored.fingerprint != fingerprint) {
    outcome.key_mismatch = true;
    outcome.status = absl::FailedPreconditionError(absl::StrCat(
        "idempotency key \"", id.key,
        "\" was already used for a different call; use a new key for a new "
        "call"));
    return outcome;
  }
  if (!stored.done) {
    if (stored.lease_remaining <= absl::ZeroDuration()) return std::nullopt;
    outcome.status = WithRetryDelay(
        absl::AbortedError(absl::StrCat("idempotency key \"", id.key,
                                        "\" is in flight; retry later")),
        std::clamp(stored.lease_remaining, absl::Milliseconds(50),
                   absl::Seconds(1)));
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
  return outcome;
}

// When a claim fails, a live record holds the key: its answer.
absl::StatusOr<KeyedOutcome> AnswerOfHolder(db::PgSession& session,
                                            pqxx::work& txn,
                                            const keys::KeyStore& store,
                                            const KeyId& id,
                                            const std::string& fingerprint) {
  std::optional<StoredCall> stored = store.Lookup(session, txn, id);
  std::optional<KeyedOutcome> outcome;
  if (stored.has_value()) outcome = FromStored(*stored, fingerprint, id);
  if (!outcome.has_value()) {
    return WithRetryDelay(
        absl::AbortedError("idempotency key changed hands; retry"),
        absl::Milliseconds(50));
  }
  return *outcome;
}

// Stores a deterministic failure under the key, in a transaction of its
// own (the failed one was rolled back), and answers with it; or replays
// the answer of whoever stored one first.
KeyedOutcome StoreFailure(const OpsContext& context, const KeyId& id,
                          const std::string& fingerprint,
                          const absl::Status& failure) {
  const keys::KeyStore& store = *context.key_store;
  absl::StatusOr<KeyedOutcome> stored = db::RunInTransaction(
      *context.pool,
      [&](db::PgSession& session,
          pqxx::work& txn) -> absl::StatusOr<KeyedOutcome> {
        if (!store.Claim(session, txn, id, fingerprint, std::nullopt)) {
          return AnswerOfHolder(session, txn, store, id, fingerprint);
        }
        store.Complete(session, txn, id, fingerprint, failure, "");
        return KeyedOutcome{failure, {}, false};
      });
  if (!stored.ok()) return StatusOnly(stored.status());
  return *stored;
}

absl::StatusOr<PreparedCall> Prepare(const OpsContext& context,
                                     const v1::KeyedCallRequest& request) {
  if (request.has_insert()) {
    absl::StatusOr<PreparedInsert> insert =
        PrepareInsert(context, request.insert());
    if (!insert.ok()) return insert.status();
    return PreparedCall(*std::move(insert));
  }
  absl::StatusOr<PreparedUpdate> update =
      PrepareUpdate(context, request.update());
  if (!update.ok()) return update.status();
  return PreparedCall(*std::move(update));
}

absl::StatusOr<v1::KeyedCallResponse> Execute(db::PgSession& session,
                                              pqxx::work& txn,
                                              const PreparedCall& call) {
  v1::KeyedCallResponse response;
  if (const auto* insert = std::get_if<PreparedInsert>(&call)) {
    absl::StatusOr<v1::InsertResponse> result =
        ExecuteInsert(session, txn, *insert);
    if (!result.ok()) return result.status();
    *response.mutable_insert() = *std::move(result);
  } else {
    absl::StatusOr<v1::UpdateResponse> result =
        ExecuteUpdate(session, txn, std::get<PreparedUpdate>(call));
    if (!result.ok()) return result.status();
    *response.mutable_update() = *std::move(result);
  }
  return response;
}

// Insert and Update: the key record and the data change in one transaction.
KeyedOutcome RunKeyedDataCall(const OpsContext& context, const KeyId& id,
                              const std::string& fingerprint,
                              const v1::KeyedCallRequest& request) {
  absl::StatusOr<PreparedCall> call = Prepare(context, request);
  if (!call.ok()) {
    if (db::IsTransient(call.status())) return StatusOnly(call.status());
    return StoreFailure(context, id, fingerprint, call.status());
  }
  const keys::KeyStore& store = *context.key_store;
  absl::StatusOr<KeyedOutcome> outcome = db::RunInTransaction(
      *context.pool,
      [&](db::PgSession& session,
          pqxx::work& txn) -> absl::StatusOr<KeyedOutcome> {
        std::optional<absl::Time> first =
            store.Claim(session, txn, id, fingerprint, std::nullopt);
        if (!first.has_value()) {
          return AnswerOfHolder(session, txn, store, id, fingerprint);
        }
        absl::StatusOr<v1::KeyedCallResponse> response =
            Execute(session, txn, *call);
        if (!response.ok()) return response.status();  // rolls back the claim
        *response->mutable_first_executed_at() = ToProto(*first);
        store.Complete(session, txn, id, fingerprint, absl::OkStatus(),
                       response->SerializeAsString());
        return KeyedOutcome{absl::OkStatus(), *std::move(response), false};
      });
  if (outcome.ok()) return *std::move(outcome);
  if (db::IsTransient(outcome.status())) return StatusOnly(outcome.status());
  return StoreFailure(context, id, fingerprint, outcome.status());
}

// CopyFile: the file system shares no transaction with the key, so the key
// is claimed with a lease first, then the copy runs, then its answer is
// stored. A crash in between leaves a lease that the next retry takes over
// once it lapses; the copy is idempotent, so running it again is safe.
KeyedOutcome RunKeyedCopy(const OpsContext& context, const KeyId& id,
                          const std::string& fingerprint,
                          const v1::CopyFileRequest& request) {
  const keys::KeyStore& store = *context.key_store;
  std::optional<absl::Time> first;
  absl::StatusOr<std::optional<KeyedOutcome>> claim = db::RunInTransaction(
      *context.pool,
      [&](db::PgSession& session,
          pqxx::work& txn) -> absl::StatusOr<std::optional<KeyedOutcome>> {
        first = store.Claim(session, txn, id, fingerprint, context.copy_lease);
        if (first.has_value()) return std::optional<KeyedOutcome>();
        absl::StatusOr<KeyedOutcome> holder =
            AnswerOfHolder(session, txn, store, id, fingerprint);
        if (!holder.ok()) return holder.status();
        return std::optional<KeyedOutcome>(*std::move(holder));
      });
  if (!claim.ok()) return StatusOnly(claim.status());
  if (claim->has_value()) return **std::move(claim);

  absl::StatusOr<v1::CopyFileResponse> copied = RunCopyFile(context, request);
  absl::StatusOr<KeyedOutcome> outcome = db::RunInTransaction(
      *context.pool,
      [&](db::PgSession& session,
          pqxx::work& txn) -> absl::StatusOr<KeyedOutcome> {
        if (!copied.ok() && db::IsTransient(copied.status())) {
          store.Release(session, txn, id, fingerprint);
          return StatusOnly(copied.status());
        }
        KeyedOutcome result = StatusOnly(copied.status());
        if (copied.ok()) {
          *result.response.mutable_copy_file() = *copied;
          *result.response.mutable_first_executed_at() = ToProto(*first);
        }
        std::string body =
            copied.ok() ? result.response.SerializeAsString() : "";
        if (!store.Complete(session, txn, id, fingerprint, copied.status(),
                            body)) {
          return AnswerOfHolder(session, txn, store, id, fingerprint);
        }
        return result;
      });
  if (!outcome.ok()) return StatusOnly(outcome.status());
  return *std::move(outcome);
}

}  // namespace

KeyedOutcome RunKeyedCall(const OpsContext& context, const std::string& tenant,
                          const v1::KeyedCallRequest& request) {
  if (absl::Status valid =
          keys::ValidateIdempotencyKey(request.idempotency_key());
      !valid.ok()) {
    return StatusOnly(valid);
  }
  if (request.call_case() == v1::KeyedCallRequest::CALL_NOT_SET) {
    return StatusOnly(absl::InvalidArgumentError(
        "a KeyedCall needs a call: insert, update or copy_file"));
  }
  const KeyId id{tenant, request.idempotency_key()};
  const std::string fingerprint = keys::Fingerprint(request);

  // A finished key is answered from a single autocommit read: replays
  // write nothing and cost one round trip.
  absl::StatusOr<std::optional<StoredCall>> stored =
      db::RunIn<pqxx::nontransaction>(
          *context.pool,
          [&](db::PgSession& session, pqxx::nontransaction& txn)
              -> absl::StatusOr<std::optional<StoredCall>> {
            return context.key_store->Lookup(session, txn, id);
          });
  if (!stored.ok()) return StatusOnly(stored.status());
  if (stored->has_value()) {
    if (std::optional<KeyedOutcome> answer =
            FromStored(**stored, fingerprint, id)) {
      return *std::move(answer);
    }
  }
  if (request.has_copy_file()) {
    return RunKeyedCopy(context, id, fingerprint, request.copy_file());
  }
  return RunKeyedDataCall(context, id, fingerprint, request);
}

}  // namespace idem::ops
