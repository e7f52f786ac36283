#include "service/api/request_log.h"

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "idem/v1/wire_names.h"
#include "service/api/grpc_status.h"
#include "service/observability/log.h"

namespace idem::api {

RequestRecord::RequestRecord(const char* method,
                             const grpc::ServerContextBase& context,
                             observability::Metrics& metrics,
                             bool log_every_request)
    : method_(method),
      context_(context),
      metrics_(metrics),
      log_every_request_(log_every_request),
      start_(absl::Now()) {}

void RequestRecord::Finish(const absl::Status& status) {
  absl::Duration latency = absl::Now() - start_;
  metrics_.RecordRequest(method_, status.code(), tenant_, latency, replayed_);
  if (status.ok() && !log_every_request_) return;
  nlohmann::json fields = {{"method", method_},
                           {"code", absl::StatusCodeToString(status.code())},
                           {"latency_ms", absl::ToDoubleMilliseconds(latency)},
                           {"tenant", tenant_},
                           {"replayed", replayed_},
                           {"peer", context_.peer()}};
  auto attempt = context_.client_metadata().find(v1::wire::kAttemptHeader);
  int number = 0;
  if (attempt != context_.client_metadata().end() &&
      absl::SimpleAtoi(
          absl::string_view(attempt->second.data(),
                            std::min<size_t>(attempt->second.size(), 16)),
          &number)) {
    fields["attempt"] = number;
  }
  if (!status.ok()) fields["message"] = BoundedStatusMessage(status.message());
  log::Info("request", std::move(fields));
}

}  // namespace idem::api
