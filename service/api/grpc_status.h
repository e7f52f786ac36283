#ifndef IDEM_SERVICE_API_GRPC_STATUS_H_
#define IDEM_SERVICE_API_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/status.pb.h"
#include "idem/v1/idem.pb.h"

namespace idem::api {

// The longest status message sent or logged, in bytes.
inline constexpr size_t kMaxStatusMessageBytes = 1024;

// `message` cut to kMaxStatusMessageBytes at a UTF-8 character boundary,
// with "..." appended when cut. Messages can echo request text (a table or
// column name of any length), and a peer refuses trailers over its metadata
// limit (8 KiB by default) with a status that hides the real one.
std::string BoundedStatusMessage(absl::string_view message);

// `status` in gRPC's rich error model: its code and bounded message, and
// as details an ErrorInfo (domain "idem", the status's reason, or its code's
// name when it has none, and its metadata) and, when it carries a retry
// delay, a RetryInfo.
google::rpc::Status RichStatus(const absl::Status& status);

// absl and gRPC share code numbers; the message travels bounded by
// BoundedStatusMessage and RichStatus travels as grpc-status-details-bin. A
// retry delay carried by the status also becomes trailing metadata
// `grpc-retry-pushback-ms` on `context`, for gRPC's own retry machinery.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase& context);

// A call's status inside a Batch: what ToGrpcStatus and the
// idempotent-replayed trailer say for a lone call, in `result`'s fields. A
// failed call's result holds no response.
void ToBatchResult(const absl::Status& status, bool replayed,
                   v1::BatchResult& result);

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_GRPC_STATUS_H_
