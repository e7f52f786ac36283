#include "service/ops/keyed_call_op.h"

#include <memory>
#include <optional>
#include <utility>

#include "service/common/error_reason.h"
#include "service/db/database_error.h"
#include "service/db/transaction.h"
#include "service/keys/fingerprint.h"
#include "service/keys/key_rules.h"
#include "service/keys/ledger.h"
#include "service/ops/copy_file_op.h"
#include "service/ops/group_commit.h"
#include "service/ops/requested_table.h"

namespace idem::ops {
namespace {

using keys::KeyClaim;

// Whether the call `request` wraps may be prepared on the receiving
// thread. A CopyFile may not: it copies a file.
bool WrappedCallPreparesOnReceivingThread(const OpsContext& context,
                                          const v1::KeyedCallRequest& request) {
  switch (request.call_case()) {
    case v1::KeyedCallRequest::kInsert:
      return PreparesOnReceivingThread(context, request.insert());
    case v1::KeyedCallRequest::kUpdate:
      return PreparesOnReceivingThread(context, request.update());
    case v1::KeyedCallRequest::kTransaction:
      return PreparesOnReceivingThread(context, request.transaction());
    default:
      return false;
  }
}

absl::StatusOr<WriteCall> PrepareWrite(const OpsContext& context,
                                       const v1::KeyedCallRequest& request,
                                       const KeyClaim& claim) {
  if (request.has_transaction()) {
    absl::StatusOr<PreparedTransaction> transaction =
        PrepareTransaction(context, request.transaction());
    if (!transaction.ok()) return transaction.status();
    return WriteCall{claim.id.tenant, *std::move(transaction), claim, &request};
  }
  if (request.has_insert()) {
    absl::StatusOr<PreparedInsert> insert =
        PrepareInsert(context, request.insert());
    if (!insert.ok()) return insert.status();
    return WriteCall{claim.id.tenant, *std::move(insert), claim, &request};
  }
  absl::StatusOr<PreparedUpdate> update =
      PrepareUpdate(context, request.update());
  if (!update.ok()) return update.status();
  return WriteCall{claim.id.tenant, *std::move(update), claim, &request};
}

v1::KeyedCallResponse Keyed(v1::CopyFileResponse copied) {
  v1::KeyedCallResponse response;
  *response.mutable_copy_file() = std::move(copied);
  return response;
}

// CopyFile: the file system shares no transaction with the key, so the
// ledger holds the key with a lease while the copy runs. Right before its
// rename the copy stages its answer under the key, which also checks that
// the key is still its own: a run whose key was taken over (its replica
// stalled past the lease) writes nothing. A run that takes over a dead
// run's key that had staged copies again only when the destination shows
// that the rename never happened; otherwise the staged answer stands.
keys::Answer RunKeyedCopy(const OpsContext& context, const KeyClaim& claim,
                          const v1::CopyFileRequest& request) {
  return context.ledger->RunLeased(
      claim, context.copy_lease,
      [&](const keys::Ledger::LeasedRun& run)
          -> absl::StatusOr<v1::KeyedCallResponse> {
        if (run.staged.has_value() && context.storage_root != nullptr) {
          absl::StatusOr<bool> landed = files::StagedCopyLanded(
              *context.storage_root, request, run.staged->copy_file());
          if (!landed.ok()) return landed.status();
          if (*landed) return *run.staged;
        }
        absl::StatusOr<v1::CopyFileResponse> copied = RunCopyFile(
            context, request, [&](const v1::CopyFileResponse& intended) {
              return run.stage(Keyed(intended));
            });
        if (!copied.ok()) return copied.status();
        return Keyed(*std::move(copied));
      });
}

// How long the answer is kept: the call's own retention, within bounds, or
// the server's.
absl::StatusOr<absl::Duration> RetentionOf(
    const OpsContext& context, const v1::KeyedCallRequest& request) {
  if (!request.has_retention()) return context.ledger->default_retention();
  const google::protobuf::Duration& retention = request.retention();
  if (retention.nanos() <= -1000000000 || retention.nanos() >= 1000000000 ||
      (retention.seconds() > 0 && retention.nanos() < 0) ||
      (retention.seconds() < 0 && retention.nanos() > 0)) {
    return Error(Reason::kRequestInvalid,
                 "retention is no valid google.protobuf.Duration: nanos must "
                 "be within +-999,999,999 and of the seconds' sign");
  }
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
  // To the microsecond, as the database keeps it: the first answer's
  // expires_at must be the one a replay reads back.
  return absl::Trunc(asked, absl::Microseconds(1));
}

}  // namespace

std::optional<keys::Answer> AnswerFromMemory(
    const OpsContext& context, const std::string& tenant,
    const v1::KeyedCallRequest& request) {
  // A key that breaks the key rules was never stored, so it is not
  // remembered either: RunKeyedCall refuses it.
  if (request.call_case() == v1::KeyedCallRequest::CALL_NOT_SET) {
    return std::nullopt;
  }
  // A retention out of bounds is refused whichever replica remembers the
  // answer (RunKeyedCall refuses it).
  if (!RetentionOf(context, request).ok()) return std::nullopt;
  return context.ledger->AnswerFromMemory(
      keys::KeyId{tenant, request.idempotency_key()},
      [&] { return keys::Fingerprint(request); });
}

bool RunKeyedCall(const OpsContext& context, const std::string& tenant,
                  const v1::KeyedCallRequest& request,
                  const std::function<void(keys::Answer)>& done,
                  PendingWrites& writes, RunsOn runs_on) {
  if (absl::Status valid =
          keys::ValidateIdempotencyKey(request.idempotency_key());
      !valid.ok()) {
    done(keys::Answer::OfStatus(valid));
    return true;
  }
  if (request.call_case() == v1::KeyedCallRequest::CALL_NOT_SET) {
    done(keys::Answer::OfStatus(
        Error(Reason::kRequestInvalid,
              "a KeyedCall needs a call: insert, update, copy_file or "
              "transaction")));
    return true;
  }
  absl::StatusOr<absl::Duration> retention = RetentionOf(context, request);
  if (!retention.ok()) {
    done(keys::Answer::OfStatus(retention.status()));
    return true;
  }
  const bool on_receiving_thread = runs_on == RunsOn::kReceivingThread;
  if (on_receiving_thread &&
      !WrappedCallPreparesOnReceivingThread(context, request)) {
    return false;
  }
  const KeyClaim claim{{tenant, request.idempotency_key()},
                       keys::Fingerprint(request),
                       *retention};
  if (request.has_copy_file()) {
    done(RunKeyedCopy(context, claim, request.copy_file()));
    return true;
  }
  absl::StatusOr<WriteCall> write = PrepareWrite(context, request, claim);
  if (!write.ok()) {
    if (db::IsTransient(write.status())) {
      done(keys::Answer::OfStatus(write.status()));
    } else if (on_receiving_thread) {
      return false;  // storing the failure writes to the database
    } else {
      done(context.ledger->StoreFailure(
          claim,
          WithTableAsRequested(write.status(), request, *context.catalog)));
    }
    return true;
  }
  // In flight here until just before it is answered: its key's record
  // commits with the write, so until then the database holds nothing.
  // Shared, as a std::function must be copyable; released however the call
  // ends, answered or dropped.
  auto in_flight = std::make_shared<keys::InFlightKeys::Entry>(
      context.ledger->EnterInFlight(claim.id));
  writes.Add(*std::move(write), [in_flight, done](keys::Answer answer) {
    in_flight->Release();
    done(std::move(answer));
  });
  return true;
}

}  // namespace idem::ops
