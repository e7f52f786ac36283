#include "service/ops/transaction_op.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/ops/failure_location.h"

namespace idem::ops {
namespace {

// `status` of step `step`, saying so in its message and metadata.
absl::Status OfStep(const absl::Status& status, size_t step) {
  return WithErrorMetadata(
      WithMessagePrefix(status, absl::StrCat("step ", step, ": ")), "step",
      absl::StrCat(step));
}

absl::StatusOr<std::variant<PreparedInsert, PreparedUpdate>> PrepareStep(
    const OpsContext& context, const v1::Step& step) {
  switch (step.op_case()) {
    case v1::Step::kInsert: {
      absl::StatusOr<PreparedInsert> insert =
          PrepareInsert(context, step.insert());
      if (!insert.ok()) return insert.status();
      return *std::move(insert);
    }
    case v1::Step::kUpdate: {
      absl::StatusOr<PreparedUpdate> update =
          PrepareUpdate(context, step.update());
      if (!update.ok()) return update.status();
      return *std::move(update);
    }
    case v1::Step::OP_NOT_SET:
      break;
  }
  return Error(Reason::kRequestInvalid,
               "a step needs an operation: insert or update");
}

// The outcome that did not apply (an update's, or the first row's of an
// insert that is neither INSERTED nor UPDATED); nothing when all applied.
std::optional<std::string> OutcomeNotApplied(const v1::StepResult& result) {
  if (result.has_update()) {
    const v1::UpdateOutcome outcome = result.update().outcome();
    if (outcome == v1::UPDATE_OUTCOME_UPDATED) return std::nullopt;
    return v1::UpdateOutcome_Name(outcome);
  }
  for (int outcome : result.insert().outcomes()) {
    if (outcome != v1::ROW_OUTCOME_INSERTED &&
        outcome != v1::ROW_OUTCOME_UPDATED) {
      return v1::RowOutcome_Name(static_cast<v1::RowOutcome>(outcome));
    }
  }
  return std::nullopt;
}

}  // namespace

bool PreparesOnReceivingThread(const OpsContext& context,
                               const v1::TransactionRequest& request) {
  size_t rows = 0;
  for (const v1::Step& step : request.steps()) {
    if (step.has_insert()) {
      rows += step.insert().rows_size();
      if (!PreparesOnReceivingThread(context, step.insert())) return false;
    } else if (step.has_update()) {
      rows += 1;
      if (!PreparesOnReceivingThread(context, step.update())) return false;
    }
    if (rows > kMaxRowsOnReceivingThread) return false;
  }
  return true;
}

absl::StatusOr<PreparedTransaction> PrepareTransaction(
    const OpsContext& context, const v1::TransactionRequest& request) {
  if (request.steps().empty()) {
    return Error(Reason::kRequestInvalid, "a transaction needs a step");
  }
  if (request.steps_size() > kMaxTransactionSteps) {
    return Error(
        Reason::kLimitExceeded,
        absl::StrCat("a transaction holds at most ", kMaxTransactionSteps,
                     " steps; got ", request.steps_size()));
  }
  PreparedTransaction transaction;
  for (int i = 0; i < request.steps_size(); ++i) {
    const v1::Step& step = request.steps(i);
    absl::StatusOr<std::variant<PreparedInsert, PreparedUpdate>> op =
        PrepareStep(context, step);
    if (!op.ok()) return OfStep(op.status(), i);
    const auto* insert = std::get_if<PreparedInsert>(&*op);
    transaction.row_count += insert == nullptr ? 1 : insert->row_count;
    transaction.steps.push_back({*std::move(op), step.require_applied()});
  }
  if (transaction.row_count > context.limits.max_rows_per_insert) {
    return Error(
        Reason::kLimitExceeded,
        absl::StrCat("a transaction writes at most ",
                     context.limits.max_rows_per_insert,
                     " rows in all its steps; got ", transaction.row_count));
  }
  return transaction;
}

std::optional<absl::Status> AsStepFailure(
    const PreparedTransaction& transaction, const PreparedUpdate* update,
    const absl::Status& failure) {
  for (size_t i = 0; i < transaction.steps.size(); ++i) {
    if (std::get_if<PreparedUpdate>(&transaction.steps[i].op) == update) {
      return OfStep(LocateFailure(failure, *update), i);
    }
  }
  return std::nullopt;
}

absl::Status LocateCommitFailure(absl::Status failure,
                                 const PreparedTransaction& transaction) {
  if (MetadataOf(failure).count("step") != 0) return failure;
  const bool one_step = transaction.steps.size() == 1;
  std::optional<size_t> found;
  absl::Status located;
  for (size_t i = 0; i < transaction.steps.size(); ++i) {
    const auto& op = transaction.steps[i].op;
    const auto* insert = std::get_if<PreparedInsert>(&op);
    // Among several steps, only a row named by its values tells the step.
    absl::Status of_step =
        insert == nullptr ? LocateFailure(failure, std::get<PreparedUpdate>(op))
        : one_step        ? LocateFailure(failure, *insert)
                          : LocateFailureByValues(failure, *insert);
    if (!one_step && MetadataOf(of_step).count("row") == 0) continue;
    if (found.has_value()) return WithoutDatabaseDetail(std::move(failure));
    found = i;
    located = std::move(of_step);
  }
  if (!found.has_value()) return WithoutDatabaseDetail(std::move(failure));
  return OfStep(located, *found);
}

absl::StatusOr<v1::TransactionResponse> ExecuteTransaction(
    db::Transaction& txn, const PreparedTransaction& transaction) {
  v1::TransactionResponse response;
  for (size_t i = 0; i < transaction.steps.size(); ++i) {
    const PreparedStep& step = transaction.steps[i];
    v1::StepResult& result = *response.add_results();
    if (const auto* insert = std::get_if<PreparedInsert>(&step.op)) {
      absl::StatusOr<std::vector<v1::InsertResponse>> inserted =
          db::Capture([&] { return ExecuteInserts(txn, {insert}); });
      if (!inserted.ok()) {
        return OfStep(LocateFailure(inserted.status(), *insert), i);
      }
      *result.mutable_insert() = std::move(inserted->front());
    } else {
      const PreparedUpdate& update = std::get<PreparedUpdate>(step.op);
      absl::StatusOr<v1::UpdateResponse> updated =
          db::Capture([&] { return ExecuteUpdate(txn, update); });
      if (!updated.ok()) {
        return OfStep(LocateFailure(updated.status(), update), i);
      }
      *result.mutable_update() = *std::move(updated);
    }
    if (!step.require_applied) continue;
    if (std::optional<std::string> outcome = OutcomeNotApplied(result);
        outcome.has_value()) {
      return Error(
          Reason::kStepNotApplied,
          absl::StrCat("step ", i,
                       " requires its change to apply, but its "
                       "outcome is ",
                       *outcome, "; nothing of the transaction was written"),
          {{"step", absl::StrCat(i)}});
    }
  }
  return response;
}

}  // namespace idem::ops
