#ifndef IDEM_CLIENT_IDEMCTL_JSON_OUTPUT_H_
#define IDEM_CLIENT_IDEMCTL_JSON_OUTPUT_H_

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "idem/client.h"

namespace idemctl {

// What idemctl prints for a finished call:
//   {"response": <the response in proto JSON>, "attempts": 2,
//    "replayed": false, "idempotency_key": "...", "stop_reason": "..."}
// with "error": {"code": "NOT_FOUND", "message": "...", "reason":
// "TABLE_NOT_FOUND", "metadata": {"table": "..."}} instead of "response"
// when the call failed (reason and metadata when the server sent them).
nlohmann::json CallReport(
    const absl::StatusOr<const google::protobuf::Message*>& response,
    const idem::CallInfo& info);

}  // namespace idemctl

#endif  // IDEM_CLIENT_IDEMCTL_JSON_OUTPUT_H_
