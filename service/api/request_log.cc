#include "service/api/request_log.h"

#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "idem/v1/wire_names.h"
#include "service/api/grpc_status.h"
#include "service/api/log_safe_message.h"
#include "service/api/trace_context.h"
#include "service/common/error_reason.h"
#include "service/common/sha256.h"
#include "service/observability/log.h"

namespace idem::api {
namespace {

// A key holds no newline, so no two (tenant, key) pairs hash the same text.
std::string KeyHash(const std::string& tenant, const std::string& key) {
  return Sha256Hex(absl::StrCat(tenant, "\n", key)).substr(0, 12);
}

// The value of `name` in the client's metadata, if sent.
std::optional<absl::string_view> Metadata(
    const grpc::ServerContextBase& context, const char* name) {
  auto found = context.client_metadata().find(name);
  if (found == context.client_metadata().end()) return std::nullopt;
  return absl::string_view(found->second.data(), found->second.size());
}

}  // namespace

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
  std::optional<absl::string_view> attempt =
      Metadata(context_, v1::wire::kAttemptHeader);
  int number = 0;
  if (attempt.has_value() &&
      absl::SimpleAtoi(attempt->substr(0, 16), &number)) {
    fields["attempt"] = number;
  }
  if (std::optional<absl::string_view> traceparent =
          Metadata(context_, v1::wire::kTraceparentHeader)) {
    if (std::optional<std::string> trace_id = TraceIdOf(*traceparent)) {
      fields["trace_id"] = *std::move(trace_id);
    }
  }
  std::string message(status.message());
  if (!key_.empty()) {
    const std::string hash = KeyHash(tenant_, key_);
    fields["key_hash"] = hash;
    // A message names a key in quotes.
    absl::StrReplaceAll(
        {{absl::StrCat("\"", key_, "\""), absl::StrCat("<key ", hash, ">")}},
        &message);
  }
  if (!status.ok()) {
    fields["message"] = BoundedStatusMessage(LogSafeMessage(message));
  }
  if (std::optional<std::string> cause = OperatorCauseOf(status)) {
    fields["cause"] = *std::move(cause);
  }
  // The operator's to look at: the server's own faults, and the database
  // or the server unable to serve; a caller's mistakes and refusals stay
  // information.
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      log::Error("request", std::move(fields));
      break;
    case absl::StatusCode::kUnavailable:
      log::Warn("request", std::move(fields));
      break;
    default:
      log::Info("request", std::move(fields));
  }
}

}  // namespace idem::api
