#ifndef IDEM_SERVICE_DB_MIGRATION_RUNNER_H_
#define IDEM_SERVICE_DB_MIGRATION_RUNNER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "service/db/connection_pool.h"

namespace idem::db {

struct MigrationOutcome {
  std::vector<int> applied;  // by this call; empty when the schema was current
  int schema_version = 0;    // the database's, afterwards
  int known_version = 0;     // the newest this binary has
};

// Applies the migrations the database does not have yet, in one
// transaction under a transaction-level advisory lock, so that replicas
// starting together apply each one exactly once. A schema newer than this
// binary knows (a rollback after a newer release migrated) is left as it
// is: `schema_version` > `known_version` says so.
absl::StatusOr<MigrationOutcome> ApplyMigrations(ConnectionPool& pool);

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_MIGRATION_RUNNER_H_
