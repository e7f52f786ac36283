#ifndef IDEM_SERVICE_OPS_KEY_MANAGEMENT_OP_H_
#define IDEM_SERVICE_OPS_KEY_MANAGEMENT_OP_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "idem/v1/idem.pb.h"
#include "service/ops/ops_context.h"

namespace idem::ops {

// What GetKey finds: the response, and a stored failure (for the API to
// put in the response as a google.rpc.Status).
struct KeyView {
  v1::GetKeyResponse response;
  absl::Status failure;
};

// The state of `key` of `tenant` as the key table holds it: absent, in
// flight, finished (with its stored answer or failure) or expired (a
// tombstone); in flight also when no record holds it but a call under it
// runs on this replica. One read; runs nothing, extends no lease.
absl::StatusOr<KeyView> RunGetKey(const OpsContext& context,
                                  const std::string& tenant,
                                  const v1::GetKeyRequest& request);

// ForgetKey's answer, and the time before which it must not be given: by
// then no replica replays the key (keys::Ledger::Forget).
struct ForgetKeyAnswer {
  v1::ForgetKeyResponse response;
  absl::Time answer_at;
};

// Removes the finished key `key` of `tenant`, so that the next call under
// it runs again, and drops it from this replica's replay cache (the others
// drop it when the database tells their forget listeners, or stop
// answering from memory). A key in flight (by its record, or a call under
// it on this replica) is refused: FAILED_PRECONDITION, reason
// KEY_IN_FLIGHT.
absl::StatusOr<ForgetKeyAnswer> RunForgetKey(
    const OpsContext& context, const std::string& tenant,
    const v1::ForgetKeyRequest& request);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_KEY_MANAGEMENT_OP_H_
