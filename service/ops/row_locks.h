#ifndef IDEM_SERVICE_OPS_ROW_LOCKS_H_
#define IDEM_SERVICE_OPS_ROW_LOCKS_H_

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "service/db/transaction.h"
#include "service/ops/update_op.h"

namespace idem::ops {

// The order in which every batch takes row locks: by table, then by key.
// Two batches that update the same rows (hot counters) then wait for each
// other instead of deadlocking.
bool LocksBefore(const PreparedUpdate& a, const PreparedUpdate& b);

// A lock LockRowsInOrder could not take: a lock timeout, or a value of
// the update that its row's probe cannot cast.
struct LockFailure {
  const PreparedUpdate* update;
  absl::Status status;
};

// Locks the row of each of `updates` in that order, before they run: the
// steps of a transaction run in the caller's order, so without this two
// batches whose transactions touch the same rows in different orders
// would wait on each other in a cycle. Stops at the first lock that fails,
// and says whose it was, for the failure to name the step it came from.
std::optional<LockFailure> LockRowsInOrder(
    db::Transaction& txn, std::vector<const PreparedUpdate*> updates);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_ROW_LOCKS_H_
