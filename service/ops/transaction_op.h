#ifndef IDEM_SERVICE_OPS_TRANSACTION_OP_H_
#define IDEM_SERVICE_OPS_TRANSACTION_OP_H_

#include <optional>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "idem/v1/idem.pb.h"
#include "service/db/transaction.h"
#include "service/ops/insert_op.h"
#include "service/ops/ops_context.h"
#include "service/ops/update_op.h"

namespace idem::ops {

// The most steps one transaction may hold.
inline constexpr int kMaxTransactionSteps = 100;

// One step of a TransactionRequest, checked against the catalog.
struct PreparedStep {
  std::variant<PreparedInsert, PreparedUpdate> op;
  bool require_applied = false;
};

// A TransactionRequest checked against the catalog: 1 to 100 steps, each
// an insert or an update, their rows together within the insert row limit.
// A step's refusal names the step (message prefix and metadata "step").
struct PreparedTransaction {
  std::vector<PreparedStep> steps;
  size_t row_count = 0;
};

absl::StatusOr<PreparedTransaction> PrepareTransaction(
    const OpsContext& context, const v1::TransactionRequest& request);

// Whether PrepareTransaction of `request` needs no database read and
// little CPU: every step PreparesOnReceivingThread, and the steps hold at
// most kMaxRowsOnReceivingThread rows together.
bool PreparesOnReceivingThread(const OpsContext& context,
                               const v1::TransactionRequest& request);

// The failure of `update`, when it is one of the steps of `transaction`,
// as that step's failure (its index in metadata "step", and where in the
// step it lies); nullopt when `update` is none of its steps.
std::optional<absl::Status> AsStepFailure(
    const PreparedTransaction& transaction, const PreparedUpdate* update,
    const absl::Status& failure);

// A failure of `transaction` that names no step yet: one raised at its
// COMMIT, after every step ran (a constraint checked then, DEFERRABLE
// INITIALLY DEFERRED). Names the step, and its row, whose values
// PostgreSQL's DETAIL shows (LocateFailure), when exactly one Insert step's
// rows do; the only step of a one-step transaction. Any other failure
// comes back as it is, without the DETAIL.
absl::Status LocateCommitFailure(absl::Status failure,
                                 const PreparedTransaction& transaction);

// Runs the steps in order in `txn`. A step that fails, or that says
// require_applied and was not applied (an outcome other than INSERTED or
// UPDATED), fails the whole transaction: FAILED_PRECONDITION
// STEP_NOT_APPLIED, or the step's own status, with its index in metadata
// "step"; the caller rolls back what the steps did.
absl::StatusOr<v1::TransactionResponse> ExecuteTransaction(
    db::Transaction& txn, const PreparedTransaction& transaction);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_TRANSACTION_OP_H_
