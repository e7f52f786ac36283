#include "tests/chaos/workload.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace idem::chaos {
namespace {

v1::InsertRequest RowInsert(const char* table, const Op& op) {
  v1::InsertRequest insert;
  insert.set_table(table);
  *insert.add_rows() = MakeRow({{"id", RowId(op)},
                                {"worker", op.worker},
                                {"seq", op.seq},
                                {"payload", absl::StrCat("p", op.seq * 31)}});
  return insert;
}

v1::KeyedCallRequest Increment(const std::string& key, const Op& op) {
  v1::UpdateRequest update;
  update.set_table("chaos_counters");
  *update.mutable_key() = MakeRow({{"worker", op.worker}});
  *update.mutable_increment() = MakeRow({{"value", 1}});
  return ExactlyOnce(update, key);
}

v1::UpdateRequest Move(int counter, int64_t delta) {
  v1::UpdateRequest update;
  update.set_table("chaos_transfer_counters");
  *update.mutable_key() = MakeRow({{"id", counter}});
  *update.mutable_increment() = MakeRow({{"value", delta}});
  return update;
}

// Both counters in id order, so that two transfers between the same pair
// lock them in the same order and never deadlock; then the journal row.
Transaction TransferOf(const Op& op) {
  const Transfer& t = op.transfer;
  Transaction transaction;
  if (t.debit < t.credit) {
    transaction.Update(Move(t.debit, -t.amount))
        .Update(Move(t.credit, t.amount));
  } else {
    transaction.Update(Move(t.credit, t.amount))
        .Update(Move(t.debit, -t.amount));
  }
  v1::InsertRequest journal;
  journal.set_table("chaos_transfers");
  *journal.add_rows() = MakeRow({{"id", RowId(op)},
                                 {"debit", t.debit},
                                 {"credit", t.credit},
                                 {"amount", t.amount}});
  return transaction.Insert(std::move(journal));
}

// Checks a transfer's answer; returns the anomaly, empty when it is right.
std::string CheckTransfer(const v1::TransactionResponse& r) {
  if (r.results_size() != 3 ||
      r.results(0).update().outcome() != v1::UPDATE_OUTCOME_UPDATED ||
      r.results(1).update().outcome() != v1::UPDATE_OUTCOME_UPDATED) {
    return "transfer: a counter was not UPDATED";
  }
  const v1::InsertResponse& journal = r.results(2).insert();
  if (journal.outcomes_size() != 1 ||
      journal.outcomes(0) != v1::ROW_OUTCOME_INSERTED) {
    return "transfer found its journal row already there";
  }
  return "";
}

v1::CopyFileRequest Copy(const std::vector<SourceFile>& sources, const Op& op) {
  v1::CopyFileRequest copy;
  copy.set_source_path(sources[op.source].path);
  copy.set_destination_path(Destination(op));
  return copy;
}

// Checks a copy's answer; returns the anomaly, empty when it is right.
std::string CheckCopy(const v1::CopyFileResponse& r, const SourceFile& src) {
  if (r.sha256() != src.sha256) return "copy answered another sha256";
  if (r.outcome() != v1::COPY_OUTCOME_COPIED &&
      r.outcome() != v1::COPY_OUTCOME_UNCHANGED) {
    return absl::StrCat("copy to a new destination answered ",
                        v1::CopyOutcome_Name(r.outcome()));
  }
  return "";
}

}  // namespace

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kKeyedIncrement:
      return "keyed_increment";
    case OpKind::kKeyedInsert:
      return "keyed_insert";
    case OpKind::kPlainInsert:
      return "plain_insert";
    case OpKind::kCopy:
      return "copy_file";
    case OpKind::kKeyedCopy:
      return "keyed_copy_file";
    case OpKind::kTransfer:
      return "keyed_transfer";
  }
  return "?";
}

std::string RowId(const Op& op) {
  return absl::StrCat("w", op.worker, "-", op.seq);
}

std::string IdempotencyKey(const std::string& run, const Op& op) {
  return absl::StrCat("chaos-", run, "-", OpKindName(op.kind), "-w", op.worker,
                      "-", op.seq);
}

std::string Destination(const Op& op) {
  return absl::StrCat("dst/w", op.worker, "/", op.seq, ".bin");
}

void Execute(const std::string& run, const std::vector<SourceFile>& sources,
             const Client& client, Op& op, std::map<std::string, int>* errors) {
  CallInfo info;
  absl::Status status;
  std::string anomaly;
  const std::string key = IdempotencyKey(run, op);
  switch (op.kind) {
    case OpKind::kKeyedIncrement: {
      auto r = client.KeyedCall(Increment(key, op), {}, &info);
      status = r.status();
      if (r.ok() && r->update().outcome() != v1::UPDATE_OUTCOME_UPDATED) {
        anomaly = "keyed increment not UPDATED";
      }
      break;
    }
    case OpKind::kKeyedInsert: {
      auto r = client.KeyedCall(
          ExactlyOnce(RowInsert("chaos_keyed_rows", op), key), {}, &info);
      status = r.status();
      if (r.ok() && (r->insert().outcomes_size() != 1 ||
                     r->insert().outcomes(0) != v1::ROW_OUTCOME_INSERTED)) {
        anomaly = "keyed insert found its row already there";
      }
      break;
    }
    case OpKind::kPlainInsert: {
      auto r = client.Insert(RowInsert("chaos_plain_rows", op), {}, &info);
      status = r.status();
      if (r.ok() && (r->outcomes_size() != 1 ||
                     (r->outcomes(0) != v1::ROW_OUTCOME_INSERTED &&
                      r->outcomes(0) != v1::ROW_OUTCOME_DUPLICATE))) {
        anomaly = "plain insert neither INSERTED nor DUPLICATE";
      }
      break;
    }
    case OpKind::kCopy: {
      auto r = client.CopyFile(Copy(sources, op), {}, &info);
      status = r.status();
      if (r.ok()) anomaly = CheckCopy(*r, sources[op.source]);
      break;
    }
    case OpKind::kKeyedCopy: {
      auto r = client.KeyedCall(ExactlyOnce(Copy(sources, op), key), {}, &info);
      status = r.status();
      if (r.ok()) anomaly = CheckCopy(r->copy_file(), sources[op.source]);
      break;
    }
    case OpKind::kTransfer: {
      auto r = client.Transaction(TransferOf(op), key, {}, &info);
      status = r.status();
      if (r.ok()) anomaly = CheckTransfer(*r);
      break;
    }
  }
  op.attempts += info.attempts;
  op.replayed = op.replayed || info.replayed;
  if (status.ok()) {
    op.acked = true;
    if (!anomaly.empty()) op.anomaly = anomaly;
  } else if (errors != nullptr) {
    // Retries running out is what faults do; an answer the client would not
    // retry at all is not, and its message says where it came from.
    const bool final_answer = info.stop_reason == StopReason::kNotRetryable;
    ++(*errors)[absl::StrCat(absl::StatusCodeToString(status.code()), " (",
                             StopReasonName(info.stop_reason), ")",
                             final_answer ? ": " : "",
                             final_answer ? status.message() : "")];
  }
}

}  // namespace idem::chaos
