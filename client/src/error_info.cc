#include "idem/error_info.h"

#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"

namespace idem {
namespace {

std::optional<google::rpc::ErrorInfo> ErrorInfoOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kErrorInfoTypeUrl);
  google::rpc::ErrorInfo info;
  if (!payload.has_value() || !info.ParseFromString(std::string(*payload))) {
    return std::nullopt;
  }
  return info;
}

// Whether `status` takes `detail` as a payload: the first detail of each
// type, and of the ErrorInfos only idem's (reasons are named per domain: a
// proxy's OVERLOADED is not idem's).
bool Keeps(const absl::Status& status, const google::protobuf::Any& detail) {
  if (status.GetPayload(detail.type_url()).has_value()) return false;
  if (detail.type_url() != kErrorInfoTypeUrl) return true;
  google::rpc::ErrorInfo info;
  return info.ParseFromString(detail.value()) && info.domain() == kErrorDomain;
}

}  // namespace

std::string ErrorReason(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(status);
  return info.has_value() ? info->reason() : std::string();
}

std::map<std::string, std::string> ErrorMetadata(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(status);
  if (!info.has_value()) return {};
  return {info->metadata().begin(), info->metadata().end()};
}

std::optional<absl::Duration> RetryDelay(const absl::Status& status) {
  const auto payload = status.GetPayload(kRetryInfoTypeUrl);
  google::rpc::RetryInfo info;
  if (!payload.has_value() || !info.ParseFromString(std::string(*payload)) ||
      !info.has_retry_delay()) {
    return std::nullopt;
  }
  return absl::Seconds(info.retry_delay().seconds()) +
         absl::Nanoseconds(info.retry_delay().nanos());
}

absl::Status FromRpcStatus(const google::rpc::Status& rpc) {
  absl::Status status(static_cast<absl::StatusCode>(rpc.code()), rpc.message());
  for (const google::protobuf::Any& detail : rpc.details()) {
    if (Keeps(status, detail)) {
      status.SetPayload(detail.type_url(), absl::Cord(detail.value()));
    }
  }
  return status;
}

}  // namespace idem
