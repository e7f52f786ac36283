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
  // The probe, and the change applied when it says so, in one statement
  // that returns what the probe returned. Both are decided on the row
  // version the lock was granted on: the change finds that version even
  // though the statement's snapshot is older (READ COMMITTED follows a row
  // updated since to its latest version).
  std::string probe_and_apply;
};

UpdateSql BuildUpdateSql(const UpdateShape& shape);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_UPDATE_STATEMENT_H_
