#ifndef IDEM_SERVICE_OPS_COLUMN_RESOLUTION_H_
#define IDEM_SERVICE_OPS_COLUMN_RESOLUTION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/db/catalog.h"

namespace idem::ops {

// The table a request names, reloaded once from the catalog when it lacks
// one of `column_names` (the table may have gained the column since it was
// loaded). The reload happens only on such a miss, never per request.
absl::StatusOr<std::shared_ptr<const db::Table>> FindTableWithColumns(
    db::Catalog& catalog, const std::string& table_name,
    const std::vector<std::string>& column_names);

// Whether the table a request names is loaded with every one of
// `column_names`: FindTableWithColumns then reads nothing from the
// database.
bool LoadedWithColumns(const db::Catalog& catalog,
                       const std::string& table_name,
                       const std::vector<std::string>& column_names);

// Index of `name` in `table`, or INVALID_ARGUMENT naming both. Generated
// columns count as unknown: they can never be written.
absl::StatusOr<size_t> WritableColumn(const db::Table& table,
                                      const std::string& name);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_COLUMN_RESOLUTION_H_
