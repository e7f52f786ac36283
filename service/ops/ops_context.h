#ifndef IDEM_SERVICE_OPS_OPS_CONTEXT_H_
#define IDEM_SERVICE_OPS_OPS_CONTEXT_H_

#include <cstddef>
#include <memory>

#include "absl/time/time.h"
#include "service/db/insert_sql_cache.h"

namespace idem {
namespace db {
class Catalog;
class ConnectionPool;
}  // namespace db
namespace files {
class StorageRoot;
}  // namespace files
namespace keys {
class Ledger;
}  // namespace keys

namespace ops {

class GroupCommitter;

// Request limits beyond the message size (which the server checks first).
struct Limits {
  size_t max_rows_per_insert = 10000;
  // The longest retention a KeyedCall may ask for.
  absl::Duration max_key_retention = absl::Hours(24 * 7);
};

// What the operations share: where rows, files and keys go.
struct OpsContext {
  db::ConnectionPool* pool = nullptr;
  db::Catalog* catalog = nullptr;
  // Every key's record and answer.
  keys::Ledger* ledger = nullptr;
  // Commits Insert and keyed Insert/Update calls in batches.
  GroupCommitter* committer = nullptr;
  files::StorageRoot* storage_root = nullptr;  // null: CopyFile is off
  // How long a keyed CopyFile holds its key before a retry may take over.
  absl::Duration copy_lease = absl::Seconds(15);
  Limits limits;
  // Shared by copies of the context.
  std::shared_ptr<db::InsertSqlCache> insert_sql =
      std::make_shared<db::InsertSqlCache>();
};

}  // namespace ops
}  // namespace idem

#endif  // IDEM_SERVICE_OPS_OPS_CONTEXT_H_
