#include "service/api/request_log.h"

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "service/api/grpc_status.h"
#include "service/observability/log.h"

namespace idem::api {

RequestRecord::RequestRecord(const char* method,
                             const grpc::ServerContextBase& context,
                             observability::Metrics& metrics)
    : method_(method),
      metrics_(metrics),
      peer_(context.peer()),
      start_(absl::Now()) {
  auto attempt = context.client_metadata().find("idem-attempt");
  if (attempt != context.client_metadata().end()) {
    attempt_.assign(attempt->second.data(),
                    std::min<size_t>(attempt->second.size(), 16));
  }
}

void RequestRecord::Finish(const absl::Status& status) {
  absl::Duration latency = absl::Now() - start_;
  metrics_.RecordRequest(method_, status.code(), tenant_, latency, replayed_);
  nlohmann::json fields = {{"method", method_},
                           {"code", absl::StatusCodeToString(status.code())},
                           {"latency_ms", absl::ToDoubleMilliseconds(latency)},
                           {"tenant", tenant_},
                           {"replayed", replayed_},
                           {"peer", peer_}};
  int attempt = 0;
  if (absl::SimpleAtoi(attempt_, &attempt)) fields["attempt"] = attempt;
  if (!status.ok()) fields["message"] = BoundedStatusMessage(status.message());
  log::Info("request", std::move(fields));
}

}  // namespace idem::api
