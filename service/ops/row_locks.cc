#include "service/ops/row_locks.h"

#include <algorithm>
#include <utility>

namespace idem::ops {

bool LocksBefore(const PreparedUpdate& a, const PreparedUpdate& b) {
  if (a.table->name != b.table->name) return a.table->name < b.table->name;
  // The key's values come first among the parameters.
  return std::lexicographical_compare(
      a.params.begin(), a.params.begin() + a.table->primary_key.size(),
      b.params.begin(), b.params.begin() + b.table->primary_key.size());
}

std::optional<LockFailure> LockRowsInOrder(
    db::Transaction& txn, std::vector<const PreparedUpdate*> updates) {
  std::stable_sort(updates.begin(), updates.end(),
                   [](const PreparedUpdate* a, const PreparedUpdate* b) {
                     return LocksBefore(*a, *b);
                   });
  for (const PreparedUpdate* update : updates) {
    // The update's own probe: SELECT ... FOR UPDATE of its row.
    absl::Status locked = db::Capture([&] {
      txn.Exec(update->sql.probe, update->params);
      return absl::OkStatus();
    });
    if (!locked.ok()) return LockFailure{update, std::move(locked)};
  }
  return std::nullopt;
}

}  // namespace idem::ops
