#ifndef IDEM_ERROR_INFO_H_
#define IDEM_ERROR_INFO_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "idem/v1/wire_names.h"

namespace idem {

// Errors a program can read. The server attaches gRPC's rich error model to
// every failure: a google.rpc.ErrorInfo (domain "idem", a reason such as
// KEY_MISMATCH, metadata such as {"table": ..., "row": "3"}) and, when a
// retry after a delay is right, a google.rpc.RetryInfo. The client carries
// each detail on the absl::Status it returns, as a payload under the
// detail's type URL holding the serialized message:
//
//   absl::StatusOr<v1::InsertResponse> r = client.Insert(request);
//   if (idem::ErrorReason(r.status()) == idem::reasons::kColumnUnknown) {
//     Log(idem::ErrorMetadata(r.status())["column"]);
//   }
//
// A server without the details (older than the reasons) gives an empty
// reason and metadata: the status code still tells what kind of failure it
// is.
inline constexpr char kErrorInfoTypeUrl[] =
    "type.googleapis.com/google.rpc.ErrorInfo";
inline constexpr char kRetryInfoTypeUrl[] =
    "type.googleapis.com/google.rpc.RetryInfo";
using v1::wire::kErrorDomain;

// The reasons idem sends, grouped by the status code each comes with.
namespace reasons = v1::wire::reasons;

// The reason of the status's ErrorInfo (domain "idem"); empty if none.
std::string ErrorReason(const absl::Status& status);

// The metadata of the status's ErrorInfo: "table", "column", "row" (0-based
// index in the request), "step" (0-based), "constraint"; empty if none.
std::map<std::string, std::string> ErrorMetadata(const absl::Status& status);

// The delay of the status's RetryInfo: how long the server asked the caller
// to wait before trying again.
std::optional<absl::Duration> RetryDelay(const absl::Status& status);

// A google.rpc.Status (e.g. GetKeyResponse.failure) as an absl::Status with
// its details as payloads: the first of each type, and an ErrorInfo only of
// domain "idem".
absl::Status FromRpcStatus(const google::rpc::Status& status);

}  // namespace idem

#endif  // IDEM_ERROR_INFO_H_
