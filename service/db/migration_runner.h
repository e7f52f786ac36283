#ifndef IDEM_SERVICE_DB_MIGRATION_RUNNER_H_
#define IDEM_SERVICE_DB_MIGRATION_RUNNER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "service/db/connection_pool.h"

namespace idem::db {

// Applies the migrations the database does not have yet, in one
// transaction under a transaction-level advisory lock, so that replicas
// starting together apply each one exactly once. Returns the versions this
// call applied (empty when the schema was current).
absl::StatusOr<std::vector<int>> ApplyMigrations(ConnectionPool& pool);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_MIGRATION_RUNNER_H_
