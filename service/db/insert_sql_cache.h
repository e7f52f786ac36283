#ifndef IDEM_SERVICE_DB_INSERT_SQL_CACHE_H_
#define IDEM_SERVICE_DB_INSERT_SQL_CACHE_H_

#include <cstddef>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "service/db/catalog.h"
#include "service/db/insert_statement.h"

namespace idem::db {

// The SQL of the insert shapes seen lately. Building it costs about a
// quarter of the server's work on a small insert, and a service sees few
// shapes, so each is built once. Thread-safe.
class InsertSqlCache {
 public:
  // Holds at most `capacity` shapes; a new one beyond that empties it (a
  // service with that many shapes is rare, and rebuilding stays correct).
  explicit InsertSqlCache(size_t capacity = 256);

  InsertSqlCache(const InsertSqlCache&) = delete;
  InsertSqlCache& operator=(const InsertSqlCache&) = delete;

  // BuildInsertSql(shape). `table` is the object shape.table points at: the
  // entry keeps it alive, so a cached shape's address never comes to name
  // a reloaded table.
  std::shared_ptr<const InsertSql> Get(std::shared_ptr<const Table> table,
                                       const InsertShape& shape);

  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const Table> table;
    std::shared_ptr<const InsertSql> sql;
  };

  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<InsertShape, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace idem::db

#endif  // IDEM_SERVICE_DB_INSERT_SQL_CACHE_H_
