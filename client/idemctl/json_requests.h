#ifndef IDEM_CLIENT_IDEMCTL_JSON_REQUESTS_H_
#define IDEM_CLIENT_IDEMCTL_JSON_REQUESTS_H_

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "idem/transaction.h"
#include "idem/v1/idem.pb.h"

namespace idemctl {

// Requests from JSON objects whose fields are named after idemctl's flags,
// with rows and values as json_values.h reads them:
//   {"table": "orders", "rows": [{"id": 1}], "on_conflict": "do-update",
//    "version_column": "version"}
//   {"table": "stock", "where": {"sku": "A-1"}, "set": {...},
//    "increment": {"count": -1}, "version_column": "version"}
// "table" and "rows" / "where" are required; an unknown field is refused.
absl::StatusOr<idem::v1::InsertRequest> ToInsertRequest(
    const nlohmann::json& object);
absl::StatusOr<idem::v1::UpdateRequest> ToUpdateRequest(
    const nlohmann::json& object);

// A transaction's steps, in order:
//   [{"insert": {...}}, {"update": {...}, "require_applied": true}]
absl::StatusOr<idem::Transaction> ToTransaction(const nlohmann::json& steps);

}  // namespace idemctl

#endif  // IDEM_CLIENT_IDEMCTL_JSON_REQUESTS_H_
