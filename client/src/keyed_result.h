#ifndef IDEM_CLIENT_SRC_KEYED_RESULT_H_
#define IDEM_CLIENT_SRC_KEYED_RESULT_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "idem/client.h"
#include "idem/v1/idem.pb.h"

namespace idem::internal {

// The result field of a KeyedCallResponse that holds a `Response`; null
// when it holds another (or none).
v1::InsertResponse* ResultField(v1::KeyedCallResponse& keyed,
                                const v1::InsertResponse*);
v1::UpdateResponse* ResultField(v1::KeyedCallResponse& keyed,
                                const v1::UpdateResponse*);
v1::CopyFileResponse* ResultField(v1::KeyedCallResponse& keyed,
                                  const v1::CopyFileResponse*);
v1::TransactionResponse* ResultField(v1::KeyedCallResponse& keyed,
                                     const v1::TransactionResponse*);

// Why a KeyedCallResponse holds no result of the kind its call asked for.
absl::Status MissingResult(const v1::KeyedCallResponse& keyed);

// Hands the call inside a KeyedCall its own kind of answer: what an
// auto-keyed write and a transaction return. CallInfo (replayed, the key)
// stays the KeyedCall's.
template <typename Response>
Callback<v1::KeyedCallResponse> ReturningResult(Callback<Response> done) {
  return [done = std::move(done)](absl::StatusOr<v1::KeyedCallResponse> keyed,
                                  CallInfo info) {
    if (!keyed.ok()) return done(keyed.status(), std::move(info));
    Response* result = ResultField(*keyed, static_cast<Response*>(nullptr));
    if (result == nullptr) {
      absl::Status missing = MissingResult(*keyed);
      info.final_status = missing;
      info.stop_reason = StopReason::kNotRetryable;
      return done(std::move(missing), std::move(info));
    }
    done(std::move(*result), std::move(info));
  };
}

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_KEYED_RESULT_H_
