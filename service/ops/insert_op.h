#ifndef IDEM_SERVICE_OPS_INSERT_OP_H_
#define IDEM_SERVICE_OPS_INSERT_OP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "idem/v1/idem.pb.h"
#include "service/db/catalog.h"
#include "service/db/insert_statement.h"
#include "service/db/transaction.h"
#include "service/ops/ops_context.h"
#include "service/ops/runs_on.h"

namespace idem::ops {

class PendingWrites;

// An InsertRequest checked against the catalog, with its parameters
// encoded: running it can fail only on what PostgreSQL alone can judge
// (a string that does not parse as the column's type, a constraint).
struct PreparedInsert {
  std::shared_ptr<const db::Table> table;
  db::InsertShape shape;
  std::shared_ptr<const db::InsertSql> sql;  // of `shape`
  // values[c][r]: shape column c of row r, in PostgreSQL's text format.
  std::vector<std::vector<db::TextParam>> values;
  size_t row_count = 0;
  // A key value that another spelling could equal (db::SpelledOneWay): two
  // rows' keys are then compared by PostgreSQL, not by their text.
  bool keys_spelled_freely = false;
};

absl::StatusOr<PreparedInsert> PrepareInsert(const OpsContext& context,
                                             const v1::InsertRequest& request);

// Writes the rows of `inserts`, which share one db::InsertShape, in `txn`
// and answers each insert with its own rows' outcomes (and returned rows),
// in order: one statement, or one per repetition of a key, so that rows
// naming one key apply in order, inserts included, as if sent one after
// the other. A non-OK status means the caller must roll back: the rows of
// all `inserts` stand or fall together.
absl::StatusOr<std::vector<v1::InsertResponse>> ExecuteInserts(
    db::Transaction& txn, const std::vector<const PreparedInsert*>& inserts);

// Whether PrepareInsert of `request` needs no database read (its table is
// loaded with every column it names) and little CPU (it holds at most
// kMaxRowsOnReceivingThread rows), so that it may run on the receiving
// thread.
bool PreparesOnReceivingThread(const OpsContext& context,
                               const v1::InsertRequest& request);

// PrepareInsert, then the insert joins `writes`, which the caller hands to
// the group committer: it commits in one transaction with other concurrent
// calls, and `done` gets its answer. A refused insert answers `done` here.
// On the receiving thread, an insert that PreparesOnReceivingThread
// declines is left alone: false, and `done` is not called.
bool RunInsert(
    const OpsContext& context, const std::string& tenant,
    const v1::InsertRequest& request,
    const std::function<void(absl::StatusOr<v1::InsertResponse>)>& done,
    PendingWrites& writes, RunsOn runs_on);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_INSERT_OP_H_
