#include "service/ops/write_batch.h"

#include <algorithm>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "service/common/error_reason.h"
#include "service/common/refusals.h"
#include "service/db/database_error.h"
#include "service/db/transaction.h"
#include "service/keys/finished_call_cache.h"
#include "service/ops/insert_rounds.h"
#include "service/ops/keyed_answers.h"
#include "service/ops/row_locks.h"

namespace idem::ops {
namespace {

// Per call: the finished key record it read or wrote, for the cache of
// finished calls once the transaction has committed.
using Finished = std::vector<std::optional<keys::StoredCall>>;

// When a batch writes the keys that no live record holds.
enum class KeyWrite {
  // After the calls ran, each key's finished record in one insert: one
  // statement and one row version per key, for the common case of fresh
  // keys. Should another transaction record one of the keys meanwhile, the
  // insert finds it and the whole transaction is rolled back.
  kRecordAfter,
  // Before the calls run, a claim of each key (waiting behind a concurrent
  // claim and then answering from its record), completed after them.
  kClaimFirst,
};

// What a lost race of kRecordAfter returns: the batch runs again with
// kClaimFirst.
absl::Status KeyRecordedMeanwhile() {
  return absl::AbortedError(
      "an idempotency key was recorded by a concurrent call");
}

// The calls of a batch that run (their key, if any, was claimed), in
// groups that share one statement.
struct Plan {
  std::vector<std::vector<size_t>> insert_groups;  // same InsertShape
  std::vector<size_t> updates;
  std::vector<size_t> transactions;  // each runs alone, steps in order
};

// Answers each keyed call whose key a live record holds from that record
// (a replay, a mismatch, a call in flight), with one read for all. With
// kClaimFirst, claims the other keys. Returns the first_executed_at of the
// calls that will run: `now` with kRecordAfter.
absl::StatusOr<std::vector<std::optional<absl::Time>>> ClaimKeys(
    const keys::KeyStore& store, db::Transaction& txn,
    const std::vector<WriteCall*>& calls, KeyWrite key_write, absl::Time now,
    std::vector<std::optional<KeyedOutcome>>& answered, Finished& finished) {
  std::vector<const keys::KeyId*> ids;
  std::vector<size_t> keyed;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!calls[i]->key.has_value()) continue;
    ids.push_back(&calls[i]->key->id);
    keyed.push_back(i);
  }
  std::vector<std::optional<absl::Time>> first(calls.size());
  if (keyed.empty()) return first;
  std::vector<std::optional<keys::StoredCall>> stored =
      store.LookupAll(txn, ids);
  std::vector<const keys::KeyClaim*> claims;
  std::vector<size_t> claimed_call;
  for (size_t k = 0; k < keyed.size(); ++k) {
    const keys::KeyClaim& claim = *calls[keyed[k]]->key;
    if (stored[k].has_value()) {
      answered[keyed[k]] = FromStored(*stored[k], claim);
      if (stored[k]->done) finished[keyed[k]] = *stored[k];
      if (answered[keyed[k]].has_value()) continue;
    }
    if (key_write == KeyWrite::kRecordAfter) {
      first[keyed[k]] = now;
      continue;
    }
    claims.push_back(&claim);
    claimed_call.push_back(keyed[k]);
  }
  if (claims.empty()) return first;
  std::vector<std::optional<absl::Time>> won =
      store.ClaimAll(txn, claims, nullptr);
  for (size_t c = 0; c < claims.size(); ++c) {
    size_t i = claimed_call[c];
    if (won[c].has_value()) {
      first[i] = won[c];
      continue;
    }
    // Claimed by a transaction that committed since the read.
    absl::StatusOr<KeyedOutcome> holder =
        AnswerOfHolder(txn, store, *claims[c]);
    if (!holder.ok()) return holder.status();
    answered[i] = *std::move(holder);
  }
  return first;
}

// The order in which a batch's calls touch rows: inserts as they came, then
// updates by table and key, so that two batches updating the same rows
// (hot counters) lock them in the same order instead of deadlocking, then
// transactions as they came (their steps run in the caller's order).
std::vector<size_t> LockOrder(const std::vector<WriteCall*>& calls) {
  enum Rank { kInsert, kUpdate, kTransaction };
  auto rank = [&](size_t i) {
    if (std::holds_alternative<PreparedTransaction>(calls[i]->call)) {
      return kTransaction;
    }
    return std::holds_alternative<PreparedUpdate>(calls[i]->call) ? kUpdate
                                                                  : kInsert;
  };
  std::vector<size_t> order(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (rank(a) != rank(b) || rank(a) != kUpdate) return rank(a) < rank(b);
    return LocksBefore(std::get<PreparedUpdate>(calls[a]->call),
                       std::get<PreparedUpdate>(calls[b]->call));
  });
  return order;
}

// Every update the batch runs, plain or a step of a transaction.
std::vector<const PreparedUpdate*> UpdatesOf(
    const std::vector<WriteCall*>& calls, const Plan& plan) {
  std::vector<const PreparedUpdate*> updates;
  for (size_t i : plan.updates) {
    updates.push_back(&std::get<PreparedUpdate>(calls[i]->call));
  }
  for (size_t i : plan.transactions) {
    for (const PreparedStep& step :
         std::get<PreparedTransaction>(calls[i]->call).steps) {
      if (const auto* update = std::get_if<PreparedUpdate>(&step.op)) {
        updates.push_back(update);
      }
    }
  }
  return updates;
}

Plan PlanRuns(const std::vector<WriteCall*>& calls,
              const std::vector<std::optional<KeyedOutcome>>& answered) {
  Plan plan;
  for (size_t i : LockOrder(calls)) {
    if (answered[i].has_value()) continue;
    if (std::holds_alternative<PreparedTransaction>(calls[i]->call)) {
      plan.transactions.push_back(i);
      continue;
    }
    const auto* insert = std::get_if<PreparedInsert>(&calls[i]->call);
    if (insert == nullptr) {
      plan.updates.push_back(i);
      continue;
    }
    auto group = std::find_if(
        plan.insert_groups.begin(), plan.insert_groups.end(),
        [&](const std::vector<size_t>& members) {
          return std::get<PreparedInsert>(calls[members[0]]->call).shape ==
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

// Runs `calls` with set-based statements in `txn`. A non-OK status means
// `txn` must be rolled back: the calls stand or fall together.
absl::StatusOr<std::vector<KeyedOutcome>> RunTogether(
    const OpsContext& context, db::Transaction& txn,
    const std::vector<WriteCall*>& calls, KeyWrite key_write,
    Finished& finished) {
  const keys::KeyStore& store = *context.key_store;
  // The database keeps microseconds: so do the response and the record.
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  std::vector<std::optional<KeyedOutcome>> answered(calls.size());
  absl::StatusOr<std::vector<std::optional<absl::Time>>> first =
      ClaimKeys(store, txn, calls, key_write, now, answered, finished);
  if (!first.ok()) return first.status();
  Plan plan = PlanRuns(calls, answered);

  std::vector<KeyedOutcome> outcomes(calls.size());
  for (const std::vector<size_t>& group : plan.insert_groups) {
    std::vector<const PreparedInsert*> inserts;
    for (size_t i : group) {
      inserts.push_back(&std::get<PreparedInsert>(calls[i]->call));
    }
    absl::StatusOr<std::vector<v1::InsertResponse>> responses =
        ExecuteInserts(txn, inserts);
    if (!responses.ok()) return responses.status();
    for (size_t g = 0; g < group.size(); ++g) {
      *outcomes[group[g]].response.mutable_insert() =
          std::move((*responses)[g]);
    }
  }
  if (!plan.transactions.empty()) {
    // Transactions update rows in their callers' order: the batch locks
    // every row it updates in the one lock order first.
    LockRowsInOrder(txn, UpdatesOf(calls, plan));
  }
  for (size_t i : plan.updates) {
    absl::StatusOr<v1::UpdateResponse> response =
        ExecuteUpdate(txn, std::get<PreparedUpdate>(calls[i]->call));
    if (!response.ok()) return response.status();
    *outcomes[i].response.mutable_update() = *std::move(response);
  }
  for (size_t i : plan.transactions) {
    absl::StatusOr<v1::TransactionResponse> response =
        ExecuteTransaction(txn, std::get<PreparedTransaction>(calls[i]->call));
    if (!response.ok()) return response.status();
    *outcomes[i].response.mutable_transaction() = *std::move(response);
  }

  std::vector<keys::KeyCompletion> completions;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (answered[i].has_value()) {
      outcomes[i] = *std::move(answered[i]);
    } else if (calls[i]->key.has_value()) {
      const keys::KeyClaim& claim = *calls[i]->key;
      const absl::Time first_executed_at = *(*first)[i];
      *outcomes[i].response.mutable_first_executed_at() =
          ToProto(first_executed_at);
      *outcomes[i].response.mutable_expires_at() =
          ToProto(first_executed_at + claim.retention);
      keys::StoredCall& record = finished[i].emplace();
      record.fingerprint = claim.fingerprint;
      record.done = true;
      record.response = outcomes[i].response.SerializeAsString();
      record.first_executed_at = first_executed_at;
      record.expires_at = first_executed_at + claim.retention;
      record.expires_in = record.expires_at - now;
      completions.push_back(
          {&*calls[i]->key, absl::OkStatus(), record.response});
    }
  }
  if (completions.empty()) return outcomes;
  if (key_write == KeyWrite::kRecordAfter) {
    if (!store.RecordAll(txn, completions, now)) {
      return KeyRecordedMeanwhile();
    }
  } else if (store.CompleteAll(txn, completions) != completions.size()) {
    return KeyChangedHands();
  }
  return outcomes;
}

// Each call in a savepoint of one transaction, claiming its key before it
// runs: a failing call fails alone. Lock waits share one lock timeout: a
// batch stuck behind held rows is answered after one timeout, not one per
// call. Not OK when the transaction did not commit (no result stands).
absl::Status RunEachInSavepoint(
    const OpsContext& context, const std::vector<WriteCall*>& calls,
    std::vector<absl::StatusOr<KeyedOutcome>>& results, Finished& finished) {
  const absl::Duration lock_budget = context.pool->lock_timeout();
  const absl::Time start = absl::Now();
  return db::RunInTransaction(*context.pool, [&](db::Transaction& txn) {
    bool first = true;
    for (size_t i : LockOrder(calls)) {
      if (!first) txn.SetLockTimeout(lock_budget - (absl::Now() - start));
      first = false;
      results[i] = txn.InSavepoint([&]() -> absl::StatusOr<KeyedOutcome> {
        Finished record(1);
        absl::StatusOr<std::vector<KeyedOutcome>> alone = RunTogether(
            context, txn, {calls[i]}, KeyWrite::kClaimFirst, record);
        if (!alone.ok()) return alone.status();
        finished[i] = std::move(record[0]);
        return std::move(alone->front());
      });
    }
    return absl::OkStatus();
  });
}

// Hands the finished records of a committed transaction to the cache.
void Remember(const OpsContext& context, const std::vector<WriteCall*>& calls,
              const Finished& finished,
              keys::FinishedCallCache::Clock::time_point observed_at) {
  if (context.finished_calls == nullptr) return;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (finished[i].has_value()) {
      context.finished_calls->Put(calls[i]->key->id, *finished[i], observed_at);
    }
  }
}

// The answer to a call that failed: a deterministic failure under a key is
// stored, so that a retry replays it.
KeyedOutcome AnswerFailure(const OpsContext& context, const WriteCall& call,
                           const absl::Status& failure) {
  if (call.key.has_value() && !db::IsTransient(failure)) {
    return StoreFailure(context, *call.key, failure);
  }
  return StatusOnly(failure);
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

std::vector<KeyedOutcome> RunWriteBatch(const OpsContext& context,
                                        const std::vector<WriteCall*>& calls) {
  const auto started = keys::FinishedCallCache::Clock::now();
  Finished finished(calls.size());
  auto run_together = [&](db::Transaction& txn) {
    return RunTogether(context, txn, calls, KeyWrite::kRecordAfter, finished);
  };
  // A lone plain insert that is one statement needs no BEGIN and COMMIT
  // round trips: the statement is atomic on its own.
  const auto* lone_insert = calls.size() == 1 && !calls[0]->key.has_value()
                                ? std::get_if<PreparedInsert>(&calls[0]->call)
                                : nullptr;
  absl::StatusOr<std::vector<KeyedOutcome>> together =
      lone_insert != nullptr && IsOneStatement(*lone_insert)
          ? db::RunAutocommit(*context.pool, run_together)
          : db::RunInTransaction(*context.pool, run_together);
  if (together.ok()) {
    Remember(context, calls, finished, started);
    return *std::move(together);
  }

  std::vector<absl::StatusOr<KeyedOutcome>> results(
      calls.size(), absl::UnknownError("not run"));
  finished.assign(calls.size(), std::nullopt);
  // A lone call runs again only to claim its key first: its own failure
  // would only repeat.
  const bool lost_race = together.status() == KeyRecordedMeanwhile();
  if ((calls.size() == 1 && !lost_race) ||
      together.status().code() == absl::StatusCode::kUnavailable) {
    results.assign(calls.size(), together.status());
  } else if (absl::Status committed =
                 RunEachInSavepoint(context, calls, results, finished);
             committed.ok()) {
    Remember(context, calls, finished, started);
  } else if (!db::IsTransient(committed)) {
    // A constraint checked at COMMIT (DEFERRABLE INITIALLY DEFERRED) failed,
    // which savepoints do not check: which call broke it is known only to
    // a transaction that holds that call alone.
    std::vector<KeyedOutcome> outcomes;
    for (WriteCall* call : calls) {
      outcomes.push_back(std::move(RunWriteBatch(context, {call}).front()));
    }
    return outcomes;
  } else {
    results.assign(calls.size(), committed);
    finished.assign(calls.size(), std::nullopt);
  }
  std::vector<KeyedOutcome> outcomes;
  for (size_t i = 0; i < calls.size(); ++i) {
    outcomes.push_back(results[i].ok() ? *std::move(results[i])
                                       : AnswerFailure(context, *calls[i],
                                                       results[i].status()));
  }
  return outcomes;
}

}  // namespace idem::ops
