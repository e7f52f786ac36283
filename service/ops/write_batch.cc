#include "service/ops/write_batch.h"

#include <algorithm>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "service/common/error_reason.h"
#include "service/common/refusals.h"
#include "service/db/database_error.h"
#include "service/db/transaction.h"
#include "service/keys/finished_call_cache.h"
#include "service/keys/ledger.h"
#include "service/ops/failure_location.h"
#include "service/ops/insert_rounds.h"
#include "service/ops/requested_table.h"
#include "service/ops/row_locks.h"

namespace idem::ops {
namespace {

using keys::Answer;
using keys::KeyWrite;
using keys::Ledger;

// One call of a batch as the batch runs it.
struct Slot {
  explicit Slot(WriteCall* call) : call(call) {}

  WriteCall* call;
  // A keyed call's turn in the ledger: whether a live record answers it,
  // when it first ran, the record it read or wrote.
  std::optional<Ledger::Turn> turn;
  // Its response once it ran.
  Answer ran;
  // Savepoint mode: why the call failed alone.
  absl::Status failure;

  // A live record answers the call: it does not run.
  bool answered() const { return turn.has_value() && turn->answer; }
  Answer TakeAnswer() {
    return answered() ? *std::move(turn->answer) : std::move(ran);
  }
};

// The slots of a batch that run, by position, in groups that share one
// statement.
struct Plan {
  std::vector<std::vector<size_t>> insert_groups;  // same InsertShape
  std::vector<size_t> updates;
  std::vector<size_t> transactions;  // each runs alone, steps in order
};

// The order in which a batch's calls touch rows: inserts as they came, then
// updates by table and key, so that two batches updating the same rows
// (hot counters) lock them in the same order instead of deadlocking, then
// transactions as they came (their steps run in the caller's order).
std::vector<size_t> LockOrder(absl::Span<const Slot> slots) {
  enum Rank { kInsert, kUpdate, kTransaction };
  auto rank = [&](size_t i) {
    const auto& call = slots[i].call->call;
    if (std::holds_alternative<PreparedTransaction>(call)) return kTransaction;
    return std::holds_alternative<PreparedUpdate>(call) ? kUpdate : kInsert;
  };
  std::vector<size_t> order(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (rank(a) != rank(b) || rank(a) != kUpdate) return rank(a) < rank(b);
    return LocksBefore(std::get<PreparedUpdate>(slots[a].call->call),
                       std::get<PreparedUpdate>(slots[b].call->call));
  });
  return order;
}

// Every update the batch runs, plain or a step of a transaction.
std::vector<const PreparedUpdate*> UpdatesOf(absl::Span<const Slot> slots,
                                             const Plan& plan) {
  std::vector<const PreparedUpdate*> updates;
  for (size_t i : plan.updates) {
    updates.push_back(&std::get<PreparedUpdate>(slots[i].call->call));
  }
  for (size_t i : plan.transactions) {
    for (const PreparedStep& step :
         std::get<PreparedTransaction>(slots[i].call->call).steps) {
      if (const auto* update = std::get_if<PreparedUpdate>(&step.op)) {
        updates.push_back(update);
      }
    }
  }
  return updates;
}

Plan PlanRuns(absl::Span<const Slot> slots) {
  Plan plan;
  for (size_t i : LockOrder(slots)) {
    if (slots[i].answered()) continue;
    const auto& call = slots[i].call->call;
    if (std::holds_alternative<PreparedTransaction>(call)) {
      plan.transactions.push_back(i);
      continue;
    }
    const auto* insert = std::get_if<PreparedInsert>(&call);
    if (insert == nullptr) {
      plan.updates.push_back(i);
      continue;
    }
    auto group = std::find_if(
        plan.insert_groups.begin(), plan.insert_groups.end(),
        [&](const std::vector<size_t>& members) {
          return std::get<PreparedInsert>(slots[members[0]].call->call).shape ==
                 insert->shape;
        });
    if (group == plan.insert_groups.end()) {
      plan.insert_groups.push_back({i});
    } else {
      group->push_back(i);
    }
  }
  return plan;
}

// Runs the planned calls' statements in `txn`, each response into its
// slot.
absl::Status Execute(db::Transaction& txn, absl::Span<Slot> slots,
                     const Plan& plan) {
  for (const std::vector<size_t>& group : plan.insert_groups) {
    std::vector<const PreparedInsert*> inserts;
    for (size_t i : group) {
      inserts.push_back(&std::get<PreparedInsert>(slots[i].call->call));
    }
    absl::StatusOr<std::vector<v1::InsertResponse>> responses =
        ExecuteInserts(txn, inserts);
    if (!responses.ok()) return responses.status();
    for (size_t g = 0; g < group.size(); ++g) {
      *slots[group[g]].ran.response.mutable_insert() =
          std::move((*responses)[g]);
    }
  }
  if (!plan.transactions.empty()) {
    // Transactions update rows in their callers' order: the batch locks
    // every row it updates in the one lock order first.
    if (std::optional<LockFailure> failed =
            LockRowsInOrder(txn, UpdatesOf(slots, plan))) {
      for (size_t i : plan.transactions) {
        if (std::optional<absl::Status> of_step = AsStepFailure(
                std::get<PreparedTransaction>(slots[i].call->call),
                failed->update, failed->status)) {
          return *of_step;
        }
      }
      return failed->status;  // a plain update's: AnswerFailure locates it
    }
  }
  for (size_t i : plan.updates) {
    absl::StatusOr<v1::UpdateResponse> response =
        ExecuteUpdate(txn, std::get<PreparedUpdate>(slots[i].call->call));
    if (!response.ok()) return response.status();
    *slots[i].ran.response.mutable_update() = *std::move(response);
  }
  for (size_t i : plan.transactions) {
    absl::StatusOr<v1::TransactionResponse> response = ExecuteTransaction(
        txn, std::get<PreparedTransaction>(slots[i].call->call));
    if (!response.ok()) return response.status();
    *slots[i].ran.response.mutable_transaction() = *std::move(response);
  }
  return absl::OkStatus();
}

// Runs `slots` with set-based statements in `txn`: the ledger's turns
// first (one read of every key), then the calls that run, then their keys'
// records. Anything but kFinished means `txn` must roll back: the calls
// stand or fall together.
absl::StatusOr<Ledger::FinishResult> RunTogether(const OpsContext& context,
                                                 db::Transaction& txn,
                                                 absl::Span<Slot> slots,
                                                 KeyWrite key_write) {
  const Ledger& ledger = *context.ledger;
  // The database keeps microseconds: so do the response and the record. On
  // the database's clock, with which every replica reads the record.
  const absl::Time now =
      absl::FromUnixMicros(absl::ToUnixMicros(context.pool->clock().Now()));
  std::vector<const keys::KeyClaim*> claims;
  std::vector<Slot*> keyed;
  for (Slot& slot : slots) {
    slot.turn.reset();
    slot.ran = Answer{};
    if (!slot.call->key.has_value()) continue;
    claims.push_back(&*slot.call->key);
    keyed.push_back(&slot);
  }
  absl::StatusOr<std::vector<Ledger::Turn>> turns =
      ledger.Begin(txn, claims, key_write, now);
  if (!turns.ok()) return turns.status();
  for (size_t k = 0; k < keyed.size(); ++k) {
    keyed[k]->turn = std::move((*turns)[k]);
  }
  if (absl::Status executed = Execute(txn, slots, PlanRuns(slots));
      !executed.ok()) {
    return executed;
  }
  std::vector<Ledger::Ran> ran;
  for (Slot* slot : keyed) {
    if (!slot->answered()) ran.push_back({&*slot->turn, &slot->ran.response});
  }
  return ledger.Finish(txn, key_write, ran, now);
}

// A run of RunTogether as a transaction's body: OK only when it may
// commit. `lost_race` says whether a concurrent call recorded a key first.
absl::Status MayCommit(const absl::StatusOr<Ledger::FinishResult>& run,
                       bool& lost_race) {
  if (!run.ok()) return run.status();
  switch (*run) {
    case Ledger::FinishResult::kFinished:
      return absl::OkStatus();
    case Ledger::FinishResult::kLostRace:
      lost_race = true;
      return absl::AbortedError(
          "an idempotency key was recorded by a concurrent call");
    case Ledger::FinishResult::kChangedHands:
      break;
  }
  return KeyChangedHands();
}

// Each call in a savepoint of one transaction, claiming its key before it
// runs: a failing call fails alone (its slot's `failure`). Lock waits end
// at `lock_deadline`, the one the batch's first attempt had: a batch stuck
// behind held rows is answered after one lock timeout in all, not one per
// call nor one per attempt, and a call that meets a lock past it fails
// ROW_LOCKED at once. Not OK when the transaction did not commit (no
// result stands).
absl::Status RunEachInSavepoint(const OpsContext& context,
                                absl::Span<Slot> slots,
                                const std::function<void()>& committing,
                                absl::Time lock_deadline) {
  return db::RunInTransaction(*context.pool, [&](db::Transaction& txn) {
    for (size_t i : LockOrder(slots)) {
      // After a failed savepoint statement the transaction can only roll
      // back (libpqxx may have closed it already): nothing more runs on it.
      if (!txn.poisoned().ok()) break;
      txn.SetLockTimeout(lock_deadline - absl::Now());
      Slot& slot = slots[i];
      slot.failure = txn.InSavepoint([&] {
        bool lost_race = false;  // claiming first, no race is lost
        return MayCommit(RunTogether(context, txn, absl::MakeSpan(&slot, 1),
                                     KeyWrite::kClaimFirst),
                         lost_race);
      });
      if (!slot.failure.ok()) slot.turn.reset();
    }
    if (committing) committing();
    return absl::OkStatus();
  });
}

// Hands the finished records of a committed transaction to the cache.
void Remember(const OpsContext& context, absl::Span<const Slot> slots,
              keys::FinishedCallCache::Clock::time_point observed_at) {
  for (const Slot& slot : slots) {
    if (slot.failure.ok() && slot.turn.has_value()) {
      context.ledger->Remember(*slot.turn, observed_at);
    }
  }
}

// The answer to a call that failed: a deterministic failure under a key is
// stored, so that a retry replays it.
Answer AnswerFailure(const OpsContext& context, const WriteCall& call,
                     absl::Status failure) {
  if (const auto* insert = std::get_if<PreparedInsert>(&call.call)) {
    failure = LocateFailure(std::move(failure), *insert);
  } else if (const auto* update = std::get_if<PreparedUpdate>(&call.call)) {
    failure = LocateFailure(std::move(failure), *update);
  } else {
    failure = LocateCommitFailure(std::move(failure),
                                  std::get<PreparedTransaction>(call.call));
  }
  if (call.key.has_value() && !db::IsTransient(failure)) {
    if (call.keyed_request != nullptr) {
      failure = WithTableAsRequested(std::move(failure), *call.keyed_request,
                                     *context.catalog);
    }
    return context.ledger->StoreFailure(*call.key, failure);
  }
  return Answer::OfStatus(failure);
}

}  // namespace

size_t WriteCall::rows() const {
  if (const auto* insert = std::get_if<PreparedInsert>(&call)) {
    return insert->row_count;
  }
  if (const auto* transaction = std::get_if<PreparedTransaction>(&call)) {
    return transaction->row_count;
  }
  return 1;
}

namespace {

// RunWriteBatch, whose lock waits end at `shared_lock_deadline` when it is
// set (a batch's call run again alone) rather than one lock timeout from
// now.
std::vector<Answer> RunBatchUntil(
    const OpsContext& context, const std::vector<WriteCall*>& calls,
    const std::function<void()>& committing,
    std::optional<absl::Time> shared_lock_deadline) {
  const auto started = keys::FinishedCallCache::Clock::now();
  const absl::Time lock_deadline =
      shared_lock_deadline.value_or(absl::Now() + context.pool->lock_timeout());
  std::vector<Slot> slots;
  for (WriteCall* call : calls) slots.emplace_back(call);
  bool lost_race = false;
  auto run_together = [&](db::Transaction& txn) {
    if (shared_lock_deadline.has_value()) {
      txn.SetLockTimeout(lock_deadline - absl::Now());
    }
    absl::Status may_commit =
        MayCommit(RunTogether(context, txn, absl::MakeSpan(slots),
                              KeyWrite::kRecordAfter),
                  lost_race);
    if (may_commit.ok() && committing) committing();
    return may_commit;
  };
  // A lone plain insert that is one statement needs no BEGIN and COMMIT
  // round trips: the statement is atomic on its own.
  // (A lock timeout of its own needs a transaction to be set in.)
  const auto* lone_insert = calls.size() == 1 && !calls[0]->key.has_value() &&
                                    !shared_lock_deadline.has_value()
                                ? std::get_if<PreparedInsert>(&calls[0]->call)
                                : nullptr;
  absl::Status together =
      lone_insert != nullptr && IsOneStatement(*lone_insert)
          ? db::RunAutocommit(*context.pool, run_together)
          : db::RunInTransaction(*context.pool, run_together);
  std::vector<Answer> answers;
  if (together.ok()) {
    Remember(context, slots, started);
    for (Slot& slot : slots) answers.push_back(slot.TakeAnswer());
    return answers;
  }

  // A lone call runs again only to claim its key first: its own failure
  // would only repeat.
  if ((calls.size() == 1 && !lost_race) ||
      together.code() == absl::StatusCode::kUnavailable) {
    for (Slot& slot : slots) slot.failure = together;
  } else if (absl::Status committed = RunEachInSavepoint(
                 context, absl::MakeSpan(slots), committing, lock_deadline);
             committed.ok()) {
    Remember(context, slots, started);
  } else if (!db::IsTransient(committed)) {
    // A constraint checked at COMMIT (DEFERRABLE INITIALLY DEFERRED) failed,
    // which savepoints do not check: which call broke it is known only to
    // a transaction that holds that call alone. Their lock waits share the
    // batch's one lock timeout.
    for (WriteCall* call : calls) {
      answers.push_back(std::move(
          RunBatchUntil(context, {call}, nullptr, lock_deadline).front()));
    }
    return answers;
  } else {
    for (Slot& slot : slots) slot.failure = committed;
  }
  for (Slot& slot : slots) {
    answers.push_back(slot.failure.ok()
                          ? slot.TakeAnswer()
                          : AnswerFailure(context, *slot.call, slot.failure));
  }
  return answers;
}

}  // namespace

std::vector<Answer> RunWriteBatch(const OpsContext& context,
                                  const std::vector<WriteCall*>& calls,
                                  const std::function<void()>& committing) {
  return RunBatchUntil(context, calls, committing, std::nullopt);
}

}  // namespace idem::ops
