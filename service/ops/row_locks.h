#ifndef IDEM_SERVICE_OPS_ROW_LOCKS_H_
#define IDEM_SERVICE_OPS_ROW_LOCKS_H_

#include <vector>

#include "service/db/transaction.h"
#include "service/ops/update_op.h"

namespace idem::ops {

// The order in which every batch takes row locks: by table, then by key.
// Two batches that update the same rows (hot counters) then wait for each
// other instead of deadlocking.
bool LocksBefore(const PreparedUpdate& a, const PreparedUpdate& b);

// Locks the row of each of `updates` in that order, before they run: the
// steps of a transaction run in the caller's order, so without this two
// batches whose transactions touch the same rows in different orders
// would wait on each other in a cycle. Throws what the statements throw
// (a lock timeout ends it).
void LockRowsInOrder(db::Transaction& txn,
                     std::vector<const PreparedUpdate*> updates);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_ROW_LOCKS_H_
