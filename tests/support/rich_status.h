#ifndef IDEM_TESTS_SUPPORT_RICH_STATUS_H_
#define IDEM_TESTS_SUPPORT_RICH_STATUS_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace idem::testing {

// What grpc-status-details-bin holds (gRPC's rich error model), parsed;
// nullopt when the status carries none or it does not parse.
std::optional<google::rpc::Status> RichStatusOf(const grpc::Status& status);
std::optional<google::rpc::ErrorInfo> ErrorInfoOf(
    const google::rpc::Status& rich);
std::optional<absl::Duration> RetryDelayOf(const google::rpc::Status& rich);

// The ErrorInfo reason of `status` ("" when it has none), after checking
// that its details are well formed: same code and message as the status,
// domain "idem".
std::string ReasonOf(const grpc::Status& status);

// The status code the contract gives an ErrorInfo reason (brief §8.1),
// written here independently of the server's own table.
grpc::StatusCode CodeOfReason(const std::string& reason);

// A call refused with `code` and, when `reason` is not empty, that ErrorInfo
// reason; from a reason alone, with the code the contract gives it.
struct Refusal {
  Refusal(grpc::StatusCode code)  // NOLINT: implicit, a code alone
      : code(code) {}
  Refusal(const char* reason)  // NOLINT: implicit, a reason alone
      : code(CodeOfReason(reason)), reason(reason) {}
  grpc::StatusCode code;
  std::string reason;
};

// Checks `status` against `expected`: its code, and, when a reason is
// expected, well-formed details holding that reason.
void ExpectRefusal(const grpc::Status& status, const Refusal& expected);

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_RICH_STATUS_H_
