#include "keyed_result.h"

#include "absl/strings/str_cat.h"

namespace idem::internal {

v1::InsertResponse* ResultField(v1::KeyedCallResponse& keyed,
                                const v1::InsertResponse*) {
  return keyed.has_insert() ? keyed.mutable_insert() : nullptr;
}

v1::UpdateResponse* ResultField(v1::KeyedCallResponse& keyed,
                                const v1::UpdateResponse*) {
  return keyed.has_update() ? keyed.mutable_update() : nullptr;
}

v1::CopyFileResponse* ResultField(v1::KeyedCallResponse& keyed,
                                  const v1::CopyFileResponse*) {
  return keyed.has_copy_file() ? keyed.mutable_copy_file() : nullptr;
}

v1::TransactionResponse* ResultField(v1::KeyedCallResponse& keyed,
                                     const v1::TransactionResponse*) {
  return keyed.has_transaction() ? keyed.mutable_transaction() : nullptr;
}

absl::Status MissingResult(const v1::KeyedCallResponse& keyed) {
  if (keyed.answer_expired()) {
    // The call ran under this key before, longer ago than its answer is
    // kept; only its fingerprint is left. Nothing ran now, and what the
    // first run answered cannot be known any more.
    return absl::DataLossError(
        "the call ran before under its key, but its answer has expired");
  }
  return absl::InternalError(absl::StrCat(
      "the server answered the keyed call without its result (case ",
      keyed.result_case(), ")"));
}

}  // namespace idem::internal
