#include "service/db/insert_sql_cache.h"

#include <utility>

namespace idem::db {

InsertSqlCache::InsertSqlCache(size_t capacity) : capacity_(capacity) {}

std::shared_ptr<const InsertSql> InsertSqlCache::Get(
    std::shared_ptr<const Table> table, const InsertShape& shape) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto found = entries_.find(shape);
    if (found != entries_.end()) return found->second.sql;
  }
  // Built outside the lock; two threads may build one shape at once, and
  // the first to store it wins.
  auto sql = std::make_shared<const InsertSql>(BuildInsertSql(shape));
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= capacity_) entries_.clear();
  return entries_.try_emplace(shape, Entry{std::move(table), std::move(sql)})
      .first->second.sql;
}

size_t InsertSqlCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace idem::db
