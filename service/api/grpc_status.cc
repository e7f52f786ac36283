#include "service/api/grpc_status.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "idem/v1/wire_names.h"
#include "service/common/error_reason.h"
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

namespace {

// The reason of a status no code path named: its code's name, so that every
// failure carries an ErrorInfo a program can switch on.
std::string ReasonOrCodeName(const absl::Status& status) {
  std::optional<std::string> reason = ReasonOf(status);
  if (reason.has_value()) return *reason;
  return absl::AsciiStrToUpper(absl::StatusCodeToString(status.code()));
}

google::protobuf::Duration ToDuration(absl::Duration delay) {
  const int64_t micros = absl::ToInt64Microseconds(delay);
  google::protobuf::Duration duration;
  duration.set_seconds(micros / 1000000);
  duration.set_nanos(static_cast<int32_t>(micros % 1000000 * 1000));
  return duration;
}

}  // namespace

google::rpc::Status RichStatus(const absl::Status& status) {
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(BoundedStatusMessage(status.message()));
  google::rpc::ErrorInfo info;
  info.set_reason(ReasonOrCodeName(status));
  info.set_domain(v1::wire::kErrorDomain);
  for (const auto& [key, value] : MetadataOf(status)) {
    (*info.mutable_metadata())[key] = BoundedStatusMessage(value);
  }
  rich.add_details()->PackFrom(info);
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    google::rpc::RetryInfo retry;
    *retry.mutable_retry_delay() = ToDuration(*delay);
    rich.add_details()->PackFrom(retry);
  }
  return rich;
}

grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase& context) {
  if (status.ok()) return grpc::Status::OK;
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    context.AddTrailingMetadata(
        v1::wire::kPushbackTrailer,
        absl::StrCat(absl::ToInt64Milliseconds(*delay)));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      BoundedStatusMessage(status.message()),
                      RichStatus(status).SerializeAsString());
}

void ToBatchResult(const absl::Status& status, bool replayed,
                   v1::BatchResult& result) {
  result.set_replayed(replayed);
  if (status.ok()) return;
  result.clear_result();
  result.set_code(static_cast<int>(status.code()));
  result.set_message(BoundedStatusMessage(status.message()));
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    *result.mutable_retry_delay() = ToDuration(*delay);
  }
  *result.mutable_status() = RichStatus(status);
}

}  // namespace idem::api
