#include "service/api/grpc_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "service/common/retry_delay.h"

namespace idem::api {

std::string BoundedStatusMessage(absl::string_view message) {
  if (message.size() <= kMaxStatusMessageBytes) return std::string(message);
  size_t cut = kMaxStatusMessageBytes - 3;
  // Back off continuation bytes (10xxxxxx) to start a character cleanly.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return absl::StrCat(message.substr(0, cut), "...");
}

grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase& context) {
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    context.AddTrailingMetadata(
        "grpc-retry-pushback-ms",
        absl::StrCat(absl::ToInt64Milliseconds(*delay)));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      BoundedStatusMessage(status.message()));
}

void ToBatchResult(const absl::Status& status, bool replayed,
                   v1::BatchResult& result) {
  result.set_replayed(replayed);
  if (status.ok()) return;
  result.clear_result();
  result.set_code(static_cast<int>(status.code()));
  result.set_message(BoundedStatusMessage(status.message()));
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    const int64_t micros = absl::ToInt64Microseconds(*delay);
    result.mutable_retry_delay()->set_seconds(micros / 1000000);
    result.mutable_retry_delay()->set_nanos(
        static_cast<int32_t>(micros % 1000000 * 1000));
  }
}

}  // namespace idem::api
