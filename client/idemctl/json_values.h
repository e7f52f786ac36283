#ifndef IDEM_CLIENT_IDEMCTL_JSON_VALUES_H_
#define IDEM_CLIENT_IDEMCTL_JSON_VALUES_H_

#include <nlohmann/json.hpp>
#include <vector>

#include "absl/status/statusor.h"
#include "idem/v1/idem.pb.h"

namespace idemctl {

// JSON to column values:
//   null, true/false, integers, floats, strings map to the Value kinds;
//   {"$base64": "..."} is bytes;
//   any other object or array is sent as its JSON text (for json columns).
absl::StatusOr<idem::v1::Value> ToValue(const nlohmann::json& json);

// A JSON object {"column": value, ...} as a Row.
absl::StatusOr<idem::v1::Row> ToRow(const nlohmann::json& json);

// One object or an array of objects.
absl::StatusOr<std::vector<idem::v1::Row>> ToRows(const nlohmann::json& json);

// Parses `text`, or the contents of a file when it starts with '@', or
// standard input when it is "-".
absl::StatusOr<nlohmann::json> ReadJsonArgument(const std::string& text);

}  // namespace idemctl

#endif  // IDEM_CLIENT_IDEMCTL_JSON_VALUES_H_
