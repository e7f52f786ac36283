#include "service/api/grpc_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "service/common/retry_delay.h"

namespace idem::api {

grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase& context) {
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    context.AddTrailingMetadata(
        "grpc-retry-pushback-ms",
        absl::StrCat(absl::ToInt64Milliseconds(*delay)));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace idem::api
