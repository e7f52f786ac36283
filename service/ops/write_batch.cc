#include "service/ops/write_batch.h"

#include <algorithm>
#include <pqxx/transaction>

#include "absl/status/statusor.h"
#include "service/common/retry_delay.h"
#include "service/db/database_error.h"
#include "service/db/transaction.h"
#include "service/ops/keyed_answers.h"

namespace idem::ops {
namespace {

// The calls of a batch that run (their key, if any, was claimed), in
// groups that share one statement.
struct Plan {
  std::vector<std::vector<size_t>> insert_groups;  // same InsertShape
  std::vector<size_t> updates;
};

// Claims the keys of `calls`; a call whose key a live record holds is
// answered from it and does not run. Returns the first_executed_at of the
// calls that run (keyed or not).
absl::StatusOr<std::vector<std::optional<absl::Time>>> ClaimKeys(
    const keys::KeyStore& store, db::PgSession& session,
    pqxx::transaction_base& txn, const std::vector<WriteCall*>& calls,
    std::vector<std::optional<KeyedOutcome>>& answered) {
  std::vector<const keys::KeyClaim*> claims;
  std::vector<size_t> claimed_call;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!calls[i]->key.has_value()) continue;
    claims.push_back(&*calls[i]->key);
    claimed_call.push_back(i);
  }
  std::vector<std::optional<absl::Time>> first(calls.size());
  if (claims.empty()) return first;
  std::vector<std::optional<absl::Time>> won =
      store.ClaimAll(session, txn, claims, std::nullopt);
  for (size_t c = 0; c < claims.size(); ++c) {
    size_t i = claimed_call[c];
    if (won[c].has_value()) {
      first[i] = won[c];
      continue;
    }
    absl::StatusOr<KeyedOutcome> holder =
        AnswerOfHolder(session, txn, store, *claims[c]);
    if (!holder.ok()) return holder.status();
    answered[i] = *std::move(holder);
  }
  return first;
}

Plan PlanRuns(const std::vector<WriteCall*>& calls,
              const std::vector<std::optional<KeyedOutcome>>& answered) {
  Plan plan;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (answered[i].has_value()) continue;
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
    const OpsContext& context, db::PgSession& session,
    pqxx::transaction_base& txn, const std::vector<WriteCall*>& calls) {
  const keys::KeyStore& store = *context.key_store;
  std::vector<std::optional<KeyedOutcome>> answered(calls.size());
  absl::StatusOr<std::vector<std::optional<absl::Time>>> first =
      ClaimKeys(store, session, txn, calls, answered);
  if (!first.ok()) return first.status();
  Plan plan = PlanRuns(calls, answered);

  std::vector<KeyedOutcome> outcomes(calls.size());
  for (const std::vector<size_t>& group : plan.insert_groups) {
    std::vector<const PreparedInsert*> inserts;
    for (size_t i : group) {
      inserts.push_back(&std::get<PreparedInsert>(calls[i]->call));
    }
    absl::StatusOr<std::vector<v1::InsertResponse>> responses =
        ExecuteInserts(session, txn, inserts);
    if (!responses.ok()) return responses.status();
    for (size_t g = 0; g < group.size(); ++g) {
      *outcomes[group[g]].response.mutable_insert() =
          std::move((*responses)[g]);
    }
  }
  for (size_t i : plan.updates) {
    absl::StatusOr<v1::UpdateResponse> response =
        ExecuteUpdate(session, txn, std::get<PreparedUpdate>(calls[i]->call));
    if (!response.ok()) return response.status();
    *outcomes[i].response.mutable_update() = *std::move(response);
  }

  std::vector<keys::KeyCompletion> completions;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (answered[i].has_value()) {
      outcomes[i] = *std::move(answered[i]);
    } else if (calls[i]->key.has_value()) {
      *outcomes[i].response.mutable_first_executed_at() = ToProto(*(*first)[i]);
      completions.push_back({&*calls[i]->key, absl::OkStatus(),
                             outcomes[i].response.SerializeAsString()});
    }
  }
  if (!completions.empty() &&
      store.CompleteAll(session, txn, completions) != completions.size()) {
    return WithRetryDelay(
        absl::AbortedError("idempotency key changed hands; retry"),
        absl::Milliseconds(50));
  }
  return outcomes;
}

// Each call in a savepoint of one transaction: a failing call fails alone.
std::vector<absl::StatusOr<KeyedOutcome>> RunEachAlone(
    const OpsContext& context, const std::vector<WriteCall*>& calls) {
  std::vector<absl::StatusOr<KeyedOutcome>> results(
      calls.size(), absl::UnknownError("not run"));
  absl::Status committed = db::RunInTransaction(
      *context.pool, [&](db::PgSession& session, pqxx::work& txn) {
        for (size_t i = 0; i < calls.size(); ++i) {
          results[i] =
              db::RunInSavepoint(txn, [&]() -> absl::StatusOr<KeyedOutcome> {
                absl::StatusOr<std::vector<KeyedOutcome>> alone =
                    RunTogether(context, session, txn, {calls[i]});
                if (!alone.ok()) return alone.status();
                return std::move(alone->front());
              });
        }
        return absl::OkStatus();
      });
  if (!committed.ok()) results.assign(calls.size(), committed);
  return results;
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
  const auto* insert = std::get_if<PreparedInsert>(&call);
  return insert == nullptr ? 1 : insert->row_count;
}

std::vector<KeyedOutcome> RunWriteBatch(const OpsContext& context,
                                        const std::vector<WriteCall*>& calls) {
  absl::StatusOr<std::vector<KeyedOutcome>> together = db::RunInTransaction(
      *context.pool, [&](db::PgSession& session, pqxx::work& txn) {
        return RunTogether(context, session, txn, calls);
      });
  if (together.ok()) return *std::move(together);

  std::vector<absl::StatusOr<KeyedOutcome>> results;
  if (calls.size() == 1 ||
      together.status().code() == absl::StatusCode::kUnavailable) {
    results.assign(calls.size(), together.status());
  } else {
    results = RunEachAlone(context, calls);
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
