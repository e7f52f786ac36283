#include "json_output.h"

#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/status/status.h"

namespace idemctl {

nlohmann::json CallReport(
    const absl::StatusOr<const google::protobuf::Message*>& response,
    const idem::CallInfo& info) {
  nlohmann::json report;
  if (response.ok()) {
    google::protobuf::util::JsonPrintOptions options;
    // Counts of zero and default outcomes are answers too: print them.
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    std::string text;
    // Cannot fail for a message of the generated types.
    (void)google::protobuf::util::MessageToJsonString(**response, &text,
                                                      options);
    report["response"] = nlohmann::json::parse(text);
  } else {
    const absl::Status& status = response.status();
    report["error"] = {{"code", absl::StatusCodeToString(status.code())},
                       {"message", std::string(status.message())}};
    if (const std::string reason = idem::ErrorReason(status); !reason.empty()) {
      report["error"]["reason"] = reason;
      report["error"]["metadata"] = idem::ErrorMetadata(status);
    }
  }
  report["attempts"] = info.attempts;
  report["replayed"] = info.replayed;
  report["stop_reason"] = std::string(idem::StopReasonName(info.stop_reason));
  if (!info.idempotency_key.empty()) {
    report["idempotency_key"] = info.idempotency_key;
  }
  return report;
}

}  // namespace idemctl
