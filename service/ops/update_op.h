#ifndef IDEM_SERVICE_OPS_UPDATE_OP_H_
#define IDEM_SERVICE_OPS_UPDATE_OP_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "idem/v1/idem.pb.h"
#include "service/db/catalog.h"
#include "service/db/transaction.h"
#include "service/db/update_statement.h"
#include "service/ops/ops_context.h"
#include "service/ops/runs_on.h"

namespace idem::ops {

// An UpdateRequest checked against the catalog, with its parameters
// encoded (keys, then set values, then increments).
struct PreparedUpdate {
  std::shared_ptr<const db::Table> table;
  db::UpdateShape shape;
  db::UpdateSql sql;  // built once, for the row lock and the update
  std::vector<db::TextParam> params;
};

absl::StatusOr<PreparedUpdate> PrepareUpdate(const OpsContext& context,
                                             const v1::UpdateRequest& request);

// Whether PrepareUpdate of `request` needs no database read: its table is
// loaded with every column it names.
bool PreparesOnReceivingThread(const OpsContext& context,
                               const v1::UpdateRequest& request);

// Locks the row, decides the outcome and applies the change in `txn`, in
// one statement.
absl::StatusOr<v1::UpdateResponse> ExecuteUpdate(db::Transaction& txn,
                                                 const PreparedUpdate& update);

// PrepareUpdate, then ExecuteUpdate's one statement committing on its own
// (autocommit), not through the group committer: a plain update has no key
// to record with it, and alone, a row lock it waits for (up to
// IDEM_LOCK_TIMEOUT) holds up no other call; in a batch it would hold up
// every write batched with it.
absl::StatusOr<v1::UpdateResponse> RunUpdate(const OpsContext& context,
                                             const v1::UpdateRequest& request);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_UPDATE_OP_H_
