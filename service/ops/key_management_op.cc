#include "service/ops/key_management_op.h"

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/common/proto_time.h"
#include "service/keys/key_rules.h"
#include "service/keys/ledger.h"

namespace idem::ops {
namespace {

// GetKeyResponse of a live record; INTERNAL, as a replay of it would
// answer, when its stored answer cannot be read.
absl::StatusOr<KeyView> ViewOf(const keys::StoredCall& stored) {
  KeyView view;
  v1::GetKeyResponse& response = view.response;
  response.set_fingerprint(absl::BytesToHexString(stored.fingerprint));
  *response.mutable_first_executed_at() = ToTimestamp(stored.first_executed_at);
  if (!stored.done) {
    response.set_state(v1::KEY_STATE_IN_FLIGHT);
    *response.mutable_expires_at() = ToTimestamp(stored.lease_expires_at);
  } else if (stored.answer_expired) {
    response.set_state(v1::KEY_STATE_EXPIRED);
    *response.mutable_expires_at() = ToTimestamp(stored.tombstone_until);
  } else {
    response.set_state(v1::KEY_STATE_FINISHED);
    *response.mutable_expires_at() = ToTimestamp(stored.expires_at);
    if (!stored.status.ok()) {
      view.failure = stored.status;
    } else if (!response.mutable_answer()->ParseFromString(stored.response)) {
      return absl::InternalError("stored response is unreadable");
    }
  }
  return view;
}

}  // namespace

absl::StatusOr<KeyView> RunGetKey(const OpsContext& context,
                                  const std::string& tenant,
                                  const v1::GetKeyRequest& request) {
  if (absl::Status valid =
          keys::ValidateIdempotencyKey(request.idempotency_key());
      !valid.ok()) {
    return valid;
  }
  const keys::KeyId id{tenant, request.idempotency_key()};
  absl::StatusOr<keys::Ledger::Found> found = context.ledger->Read(id);
  if (!found.ok()) return found.status();
  if (found->record.has_value()) return ViewOf(*found->record);
  // A call in flight here without a record holds no lease and has no first
  // execution yet: its state is all there is to say.
  KeyView view;
  view.response.set_state(found->in_flight_here ? v1::KEY_STATE_IN_FLIGHT
                                                : v1::KEY_STATE_ABSENT);
  return view;
}

absl::StatusOr<ForgetKeyAnswer> RunForgetKey(
    const OpsContext& context, const std::string& tenant,
    const v1::ForgetKeyRequest& request) {
  if (absl::Status valid =
          keys::ValidateIdempotencyKey(request.idempotency_key());
      !valid.ok()) {
    return valid;
  }
  const keys::KeyId id{tenant, request.idempotency_key()};
  absl::StatusOr<keys::Ledger::Forgetting> forgetting =
      context.ledger->Forget(id);
  if (!forgetting.ok()) return forgetting.status();
  if (forgetting->forgotten == keys::Forgotten::kInFlight) {
    // FAILED_PRECONDITION, not ABORTED: retrying a ForgetKey does not help
    // until the call in flight has finished.
    return WithReasonNamed(
        absl::FailedPreconditionError(absl::StrCat(
            "idempotency key \"", id.key,
            "\" is in flight; it can be forgotten once its call finished")),
        ReasonName(Reason::kKeyInFlight), {});
  }
  ForgetKeyAnswer answer;
  answer.response.set_forgotten(forgetting->forgotten ==
                                keys::Forgotten::kForgotten);
  answer.answer_at = forgetting->answer_at;
  return answer;
}

}  // namespace idem::ops
