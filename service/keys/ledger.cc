#include "service/keys/ledger.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/common/error_reason.h"
#include "service/common/proto_time.h"
#include "service/common/refusals.h"
#include "service/db/database_error.h"
#include "service/keys/forget_listener.h"
#include "service/keys/lease_keeper.h"

namespace idem::keys {
namespace {

using Clock = FinishedCallCache::Clock;

// The answer a stored record gives, or nullopt when the caller may claim
// the key (an in-progress record whose lease has lapsed).
std::optional<Answer> AnswerOf(const StoredCall& stored,
                               const KeyClaim& claim) {
  Answer answer;
  if (stored.fingerprint != claim.fingerprint) {
    answer.key_mismatch = true;
    answer.status = Error(
        Reason::kKeyMismatch,
        absl::StrCat("idempotency key \"", claim.id.key,
                     "\" was already used for a different call; use a new "
                     "key for a new call"));
    return answer;
  }
  if (!stored.done && !stored.answer_expired) {
    if (stored.lease_remaining <= absl::ZeroDuration()) return std::nullopt;
    answer.status = KeyInFlight(claim.id.key, stored.lease_remaining);
    return answer;
  }
  answer.replayed = true;
  if (stored.answer_expired) {
    // A tombstone: the call ran, its answer is gone; nothing runs again.
    answer.response.set_answer_expired(true);
  } else {
    answer.status = stored.status;
    if (stored.status.ok() &&
        !answer.response.ParseFromString(stored.response)) {
      answer.status = absl::InternalError("stored response is unreadable");
    }
  }
  answer.response.set_replayed(true);
  *answer.response.mutable_first_executed_at() =
      ToTimestamp(stored.first_executed_at);
  *answer.response.mutable_expires_at() = ToTimestamp(stored.expires_at);
  return answer;
}

// The record of a call finished now under `claim`, its answer kept `kept`
// after `first_executed_at`: what the cache keeps.
StoredCall FinishedRecord(const KeyClaim& claim, absl::Status status,
                          std::string response, absl::Time first_executed_at,
                          absl::Duration kept, absl::Time now) {
  StoredCall record;
  record.fingerprint = claim.fingerprint;
  record.done = true;
  record.status = std::move(status);
  record.response = std::move(response);
  record.first_executed_at = first_executed_at;
  record.expires_at = first_executed_at + kept;
  record.expires_in = record.expires_at - now;
  return record;
}

// The answer's own times: when the call first ran and until when its
// answer is kept.
void Stamp(v1::KeyedCallResponse& response, absl::Time first_executed_at,
           absl::Duration kept) {
  *response.mutable_first_executed_at() = ToTimestamp(first_executed_at);
  *response.mutable_expires_at() = ToTimestamp(first_executed_at + kept);
}

}  // namespace

Ledger::Ledger(db::ConnectionPool& pool, const KeyStore& store,
               FinishedCallCache* cache)
    : pool_(pool), store_(store), cache_(cache) {}

std::optional<Answer> Ledger::AnswerFromMemory(
    const KeyId& id, absl::FunctionRef<std::string()> fingerprint) const {
  if (cache_ == nullptr) return std::nullopt;
  std::shared_ptr<const StoredCall> finished = cache_->Get(id);
  if (finished == nullptr) return std::nullopt;
  std::optional<Answer> answer =
      AnswerOf(*finished, KeyClaim{id, fingerprint()});
  if (answer.has_value() && answer->replayed) cache_->CountReplay();
  return answer;
}

absl::StatusOr<std::vector<Ledger::Turn>> Ledger::Begin(
    db::Transaction& txn, const std::vector<const KeyClaim*>& claims,
    KeyWrite write, absl::Time now) const {
  std::vector<Turn> turns(claims.size());
  if (claims.empty()) return turns;
  std::vector<const KeyId*> ids;
  for (const KeyClaim* claim : claims) ids.push_back(&claim->id);
  std::vector<std::optional<StoredCall>> stored = store_.LookupAll(txn, ids);
  std::vector<const KeyClaim*> to_claim;
  std::vector<Turn*> claiming;
  for (size_t k = 0; k < claims.size(); ++k) {
    Turn& turn = turns[k];
    turn.claim = claims[k];
    if (stored[k].has_value()) {
      turn.answer = AnswerOf(*stored[k], *turn.claim);
      if (stored[k]->done) turn.finished = *std::move(stored[k]);
      if (turn.answer.has_value()) continue;
    }
    if (write == KeyWrite::kRecordAfter) {
      turn.first_executed_at = now;
      continue;
    }
    to_claim.push_back(turn.claim);
    claiming.push_back(&turn);
  }
  if (to_claim.empty()) return turns;
  std::vector<std::optional<absl::Time>> won =
      store_.ClaimAll(txn, to_claim, nullptr);
  for (size_t c = 0; c < to_claim.size(); ++c) {
    if (won[c].has_value()) {
      claiming[c]->first_executed_at = *won[c];
      continue;
    }
    // Claimed by a transaction that committed since the read.
    absl::StatusOr<Answer> holder = AnswerOfHolder(txn, *to_claim[c]);
    if (!holder.ok()) return holder.status();
    claiming[c]->answer = *std::move(holder);
  }
  return turns;
}

Ledger::FinishResult Ledger::Finish(db::Transaction& txn, KeyWrite write,
                                    const std::vector<Ran>& ran,
                                    absl::Time now) const {
  if (ran.empty()) return FinishResult::kFinished;
  std::vector<KeyCompletion> completions;
  const absl::Time finished_at = pool_.clock().Now();
  for (const Ran& call : ran) {
    Turn& turn = *call.turn;
    const absl::Duration kept =
        AnswerKept(turn.claim->retention, turn.first_executed_at, finished_at);
    Stamp(*call.response, turn.first_executed_at, kept);
    turn.finished = FinishedRecord(*turn.claim, absl::OkStatus(),
                                   call.response->SerializeAsString(),
                                   turn.first_executed_at, kept, now);
    completions.push_back(
        {turn.claim, absl::OkStatus(), turn.finished->response, nullptr, kept});
  }
  if (write == KeyWrite::kRecordAfter) {
    return store_.RecordAll(txn, completions, now) ? FinishResult::kFinished
                                                   : FinishResult::kLostRace;
  }
  return store_.CompleteAll(txn, completions) == completions.size()
             ? FinishResult::kFinished
             : FinishResult::kChangedHands;
}

void Ledger::Remember(const Turn& turn, Clock::time_point observed_at) const {
  if (turn.finished.has_value()) {
    Remember(turn.claim->id, *turn.finished, observed_at);
  }
}

void Ledger::Remember(const KeyId& id, const StoredCall& finished,
                      Clock::time_point observed_at) const {
  if (cache_ != nullptr) cache_->Put(id, finished, observed_at);
}

Answer Ledger::RunLeased(
    const KeyClaim& claim, absl::Duration lease_length,
    absl::FunctionRef<absl::StatusOr<v1::KeyedCallResponse>(const LeasedRun&)>
        work) const {
  const Clock::time_point started = Clock::now();
  // A finished key is answered from a single autocommit read: replays
  // write nothing and cost one round trip.
  absl::StatusOr<std::optional<StoredCall>> stored = ReadRecord(claim.id);
  if (!stored.ok()) return Answer::OfStatus(stored.status());
  if (stored->has_value()) {
    if (std::optional<Answer> answer = AnswerOf(**stored, claim)) {
      if ((*stored)->done) Remember(claim.id, **stored, started);
      return *std::move(answer);
    }
  }
  const LeaseTerms lease{NewLeaseOwner(), lease_length};
  std::optional<absl::Time> first;
  LeasedRun run;
  absl::StatusOr<std::optional<Answer>> claimed = db::RunInTransaction(
      pool_,
      [&](db::Transaction& txn) -> absl::StatusOr<std::optional<Answer>> {
        first = store_.Claim(txn, claim, &lease);
        if (first.has_value()) {
          run.staged = StagedBefore(txn, claim);
          return std::optional<Answer>();
        }
        absl::StatusOr<Answer> holder = AnswerOfHolder(txn, claim);
        if (!holder.ok()) return holder.status();
        return std::optional<Answer>(*std::move(holder));
      });
  if (!claimed.ok()) return Answer::OfStatus(claimed.status());
  if (claimed->has_value()) return **std::move(claimed);

  bool changed_hands = false;
  run.stage = [&](const v1::KeyedCallResponse& intended) -> absl::Status {
    const std::string staged = intended.SerializeAsString();
    absl::StatusOr<bool> held =
        db::RunAutocommit(pool_, [&](db::Transaction& txn) {
          return absl::StatusOr<bool>(store_.Renew(txn, claim, lease, &staged));
        });
    if (!held.ok()) return held.status();
    changed_hands = !*held;
    return changed_hands ? KeyChangedHands() : absl::OkStatus();
  };
  absl::StatusOr<v1::KeyedCallResponse> ran = [&] {
    LeaseKeeper keeper(pool_, store_, claim, lease);
    return work(run);
  }();
  std::optional<StoredCall> finished;
  absl::StatusOr<Answer> answer = db::RunInTransaction(
      pool_, [&](db::Transaction& txn) -> absl::StatusOr<Answer> {
        if (changed_hands) return AnswerOfHolder(txn, claim);
        if (!ran.ok() && db::IsTransient(ran.status())) {
          store_.Release(txn, claim, lease.owner);
          return Answer::OfStatus(ran.status());
        }
        Answer result = Answer::OfStatus(ran.status());
        const absl::Time finished_at = pool_.clock().Now();
        const absl::Duration kept =
            AnswerKept(claim.retention, *first, finished_at);
        if (ran.ok()) {
          result.response = *std::move(ran);
          Stamp(result.response, *first, kept);
        }
        StoredCall record =
            FinishedRecord(claim, ran.status(),
                           ran.ok() ? result.response.SerializeAsString() : "",
                           *first, kept, finished_at);
        if (!store_.Complete(txn, {&claim, record.status, record.response,
                                   &lease.owner, kept})) {
          return AnswerOfHolder(txn, claim);
        }
        finished = std::move(record);
        return result;
      });
  if (!answer.ok()) return Answer::OfStatus(answer.status());
  if (finished.has_value()) Remember(claim.id, *finished, started);
  return *std::move(answer);
}

Answer Ledger::StoreFailure(const KeyClaim& claim,
                            const absl::Status& failure) const {
  const Clock::time_point started = Clock::now();
  std::optional<StoredCall> finished;
  absl::StatusOr<Answer> stored = db::RunInTransaction(
      pool_, [&](db::Transaction& txn) -> absl::StatusOr<Answer> {
        std::optional<absl::Time> first = store_.Claim(txn, claim, nullptr);
        if (!first.has_value()) return AnswerOfHolder(txn, claim);
        store_.Complete(txn, {&claim, failure, ""});
        finished = FinishedRecord(claim, failure, "", *first, claim.retention,
                                  pool_.clock().Now());
        return Answer{failure, {}, false};
      });
  if (!stored.ok()) return Answer::OfStatus(stored.status());
  if (finished.has_value()) Remember(claim.id, *finished, started);
  return *std::move(stored);
}

absl::StatusOr<Ledger::Found> Ledger::Read(const KeyId& id) const {
  // Asked before the database: a call that commits in between is found by
  // the read, and one in flight when asked was in flight during this Read.
  const bool in_flight_here = in_flight_.Contains(id);
  absl::StatusOr<std::optional<StoredCall>> record = ReadRecord(id);
  if (!record.ok()) return record.status();
  Found found;
  found.in_flight_here = in_flight_here && !record->has_value();
  found.record = *std::move(record);
  return found;
}

absl::StatusOr<std::optional<StoredCall>> Ledger::ReadRecord(
    const KeyId& id) const {
  return db::RunAutocommit(
      pool_,
      [&](db::Transaction& txn) -> absl::StatusOr<std::optional<StoredCall>> {
        return store_.Lookup(txn, id);
      });
}

absl::StatusOr<Ledger::Forgetting> Ledger::Forget(const KeyId& id) const {
  // Such a call has no record before it commits: the database alone would
  // find nothing to forget, and the call would then finish the key.
  if (in_flight_.Contains(id)) {
    return Forgetting{Forgotten::kInFlight, absl::Now()};
  }
  absl::StatusOr<Forgotten> forgotten = db::RunInTransaction(
      pool_, [&](db::Transaction& txn) -> absl::StatusOr<Forgotten> {
        return store_.Forget(txn, id);
      });
  if (!forgotten.ok()) return forgotten.status();
  const absl::Time committed = absl::Now();
  if (*forgotten != Forgotten::kForgotten)
    return Forgetting{*forgotten, committed};
  if (cache_ != nullptr) cache_->Erase(id);
  // The other replicas' listeners may hear it later than this one: each
  // cache stops serving a lease after its listener last showed that it had
  // heard every forget committed until then. Whether this replica listens
  // or not, other replicas may.
  return Forgetting{*forgotten, committed + kReplayLease};
}

std::optional<v1::KeyedCallResponse> Ledger::StagedBefore(
    db::Transaction& txn, const KeyClaim& claim) const {
  std::optional<StoredCall> stored = store_.Lookup(txn, claim.id);
  v1::KeyedCallResponse staged;
  if (!stored.has_value() || stored->response.empty() ||
      !staged.ParseFromString(stored->response)) {
    return std::nullopt;
  }
  return staged;
}

absl::StatusOr<Answer> Ledger::AnswerOfHolder(db::Transaction& txn,
                                              const KeyClaim& claim) const {
  std::optional<StoredCall> stored = store_.Lookup(txn, claim.id);
  std::optional<Answer> answer;
  if (stored.has_value()) answer = AnswerOf(*stored, claim);
  if (!answer.has_value()) return KeyChangedHands();
  return *std::move(answer);
}

}  // namespace idem::keys
