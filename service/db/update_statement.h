#ifndef IDEM_SERVICE_DB_UPDATE_STATEMENT_H_
#define IDEM_SERVICE_DB_UPDATE_STATEMENT_H_

#include <optional>
#include <string>
#include <vector>

#include "service/db/catalog.h"

namespace idem::db {

// What varies between Update statements. Parameters are numbered keys
// first, then set values, then increments, each in the order given here.
struct UpdateShape {
  const Table* table = nullptr;
  std::vector<size_t> set_columns;
  std::vector<size_t> increment_columns;
  std::optional<size_t> version_column;  // one of set_columns
};

struct UpdateSql {
  // Locks the row and returns (differs, fresh): whether applying would
  // change it, and whether the version guard lets it. No row: not found.
  std::string probe;
  // Applies the change to the locked row.
  std::string apply;
};

UpdateSql BuildUpdateSql(const UpdateShape& shape);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_UPDATE_STATEMENT_H_
