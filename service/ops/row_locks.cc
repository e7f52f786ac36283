#include "service/ops/row_locks.h"

#include <algorithm>

namespace idem::ops {

bool LocksBefore(const PreparedUpdate& a, const PreparedUpdate& b) {
  if (a.table->name != b.table->name) return a.table->name < b.table->name;
  // The key's values come first among the parameters.
  return std::lexicographical_compare(
      a.params.begin(), a.params.begin() + a.table->primary_key.size(),
      b.params.begin(), b.params.begin() + b.table->primary_key.size());
}

void LockRowsInOrder(db::Transaction& txn,
                     std::vector<const PreparedUpdate*> updates) {
  std::stable_sort(updates.begin(), updates.end(),
                   [](const PreparedUpdate* a, const PreparedUpdate* b) {
                     return LocksBefore(*a, *b);
                   });
  for (const PreparedUpdate* update : updates) {
    // The update's own probe: SELECT ... FOR UPDATE of its row.
    txn.Exec(update->sql.probe, update->params);
  }
}

}  // namespace idem::ops
