#ifndef IDEM_SERVICE_API_GRPC_STATUS_H_
#define IDEM_SERVICE_API_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace idem::api {

// absl and gRPC share code numbers; the message travels as it is. A retry
// delay carried by the status becomes trailing metadata
// `grpc-retry-pushback-ms` on `context`.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase& context);

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_GRPC_STATUS_H_
