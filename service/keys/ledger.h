#ifndef IDEM_SERVICE_KEYS_LEDGER_H_
#define IDEM_SERVICE_KEYS_LEDGER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "idem/v1/idem.pb.h"
#include "service/db/connection_pool.h"
#include "service/db/transaction.h"
#include "service/keys/answer.h"
#include "service/keys/finished_call_cache.h"
#include "service/keys/in_flight_keys.h"
#include "service/keys/key_store.h"

namespace idem::keys {

// How a transactional run writes the keys that no live record holds.
enum class KeyWrite {
  // After the calls ran, each key's finished record in one insert: one
  // statement and one row version per key, for the common case of fresh
  // keys. Should another transaction record one of the keys meanwhile, the
  // insert finds it and the whole transaction must roll back.
  kRecordAfter,
  // Before the calls run, a claim of each key (waiting behind a concurrent
  // claim and then answering from its record), completed after them.
  kClaimFirst,
};

// The ledger of idempotency keys: the one way to a key's record, both in
// idem.idempotency_keys (through KeyStore, which holds the SQL) and in this
// replica's cache of finished calls. It decides every answer a key gives
// (run the call, replay, mismatch, in flight), and every path that finishes
// a key goes through it, so the cache is filled the same way for all.
// docs/architecture.md draws a key's states.
//
// A call runs under its key in one of two ways:
// - transactionally (Insert, Update, transactions): the key and the effect
//   commit in one transaction, which the write executor (ops/write_batch)
//   runs for many calls at once: Begin before the calls, Finish after them,
//   Remember once the transaction committed;
// - leased (CopyFile, whose effect is outside the database): RunLeased.
//
// A transactional call under kRecordAfter leaves no trace in the database
// until it commits, so the ledger also holds the keys of the calls this
// replica has accepted and not yet answered (EnterInFlight): Read and
// Forget see them in flight, through this replica only.
class Ledger {
 public:
  // `cache` null: every replay reads the database. A ForgetListener keeps
  // the cache clear of keys forgotten through any replica. All must outlive
  // the ledger.
  Ledger(db::ConnectionPool& pool, const KeyStore& store,
         FinishedCallCache* cache);

  // Holds `id` in flight here from when its transactional call is handed
  // to the write executor until the entry is released, just before the
  // call is answered (or when it is dropped unanswered).
  InFlightKeys::Entry EnterInFlight(const KeyId& id) {
    return in_flight_.Enter(id);
  }

  // How long an answer is kept when its call does not say.
  absl::Duration default_retention() const { return store_.retention(); }

  // The answer of a finished call that this replica remembers: no I/O.
  // `fingerprint` is computed only for a remembered key.
  std::optional<Answer> AnswerFromMemory(
      const KeyId& id, absl::FunctionRef<std::string()> fingerprint) const;

  // What Begin found for one claim.
  struct Turn {
    const KeyClaim* claim = nullptr;
    // A live record answers the call (a replay, a mismatch, a call in
    // flight): it does not run.
    std::optional<Answer> answer;
    // When the call runs: its first execution.
    absl::Time first_executed_at;
    // The finished record read (a replay) or written (by Finish), for
    // Remember.
    std::optional<StoredCall> finished;
  };

  // Reads the records of `claims` in `txn`, with one statement, and answers
  // each claim a live record holds; with kClaimFirst, claims the others.
  // `now`: the first execution of the calls that run under kRecordAfter.
  // The claims' keys must be distinct.
  absl::StatusOr<std::vector<Turn>> Begin(
      db::Transaction& txn, const std::vector<const KeyClaim*>& claims,
      KeyWrite write, absl::Time now) const;

  // A call that ran on a turn of Begin, and its response.
  struct Ran {
    Turn* turn;
    v1::KeyedCallResponse* response;
  };
  enum class FinishResult {
    kFinished,
    // kRecordAfter: a concurrent call recorded one of the keys since
    // Begin. Roll `txn` back and run again with kClaimFirst.
    kLostRace,
    // kClaimFirst: a claim was taken over meanwhile; nothing may commit.
    kChangedHands,
  };
  // Stamps each response with its first execution and its expiry and
  // stores it under its key in `txn`; each turn's `finished` gets the
  // record.
  FinishResult Finish(db::Transaction& txn, KeyWrite write,
                      const std::vector<Ran>& ran, absl::Time now) const;

  // Hands a finished record to the cache once its transaction committed.
  // `observed_at`: before that transaction began.
  void Remember(const Turn& turn,
                FinishedCallCache::Clock::time_point observed_at) const;

  // What RunLeased gives its `work`.
  struct LeasedRun {
    // The answer a run before this one staged (below) before its lease
    // lapsed: it got as far as its point of no return, so its effect may
    // have happened. `work` decides from the effect itself whether it did.
    std::optional<v1::KeyedCallResponse> staged;
    // To be called by `work` right before its effect becomes irreversible,
    // with the answer it will give: checks in the database that the claim
    // is still this run's, renews its lease and stages that answer under
    // the key. Not OK: `work` must stop without the effect (the claim
    // changed hands, or the database cannot tell).
    std::function<absl::Status(const v1::KeyedCallResponse&)> stage;
  };

  // Runs `work` at most once under `claim`: claims the key with a lease of
  // `lease`, committed on its own, runs `work` while renewing the lease (so
  // a live run is never taken over), then stores its answer. A run that
  // died leaves a lease that the next retry takes over once it lapses;
  // a run that died past its `stage` leaves the answer it staged to the
  // next. The claim's owner token fences it: a run whose claim was taken
  // over cannot stage, complete nor release the new one, and answers with
  // what the key holds instead. A transient failure of `work` releases the
  // claim, so that a retry runs afresh.
  Answer RunLeased(
      const KeyClaim& claim, absl::Duration lease,
      absl::FunctionRef<absl::StatusOr<v1::KeyedCallResponse>(const LeasedRun&)>
          work) const;

  // Stores a deterministic failure under the key, in a transaction of its
  // own (the failed one was rolled back), and answers with it; or replays
  // the answer of whoever stored one first.
  Answer StoreFailure(const KeyClaim& claim, const absl::Status& failure) const;

  // What Read finds under a key.
  struct Found {
    // Its live record, if any.
    std::optional<StoredCall> record;
    // No live record, but a call under the key is in flight here (its
    // record commits with it).
    bool in_flight_here = false;
  };
  // The live record of `id`, if any (one autocommit read), else whether a
  // call under it is in flight here.
  absl::StatusOr<Found> Read(const KeyId& id) const;

  // What Forget did, and when its caller may be told: once every replica's
  // cache has dropped the key or stopped serving (kReplayLease after the
  // forget committed), so that no replica replays it after the answer.
  struct Forgetting {
    Forgotten forgotten;
    absl::Time answer_at;
  };
  // Removes the finished record of `id` (its answer or its tombstone), here
  // and from every replica's cache (see KeyStore::Forget). kInFlight,
  // changing nothing, also while a call under `id` is in flight here.
  absl::StatusOr<Forgetting> Forget(const KeyId& id) const;

 private:
  // The live record of `id`, if any: one autocommit read.
  absl::StatusOr<std::optional<StoredCall>> ReadRecord(const KeyId& id) const;
  // The answer staged under a claim just taken over (RunLeased), if any.
  std::optional<v1::KeyedCallResponse> StagedBefore(
      db::Transaction& txn, const KeyClaim& claim) const;
  // When a claim fails, a live record holds the key: its answer.
  absl::StatusOr<Answer> AnswerOfHolder(db::Transaction& txn,
                                        const KeyClaim& claim) const;
  void Remember(const KeyId& id, const StoredCall& finished,
                FinishedCallCache::Clock::time_point observed_at) const;

  db::ConnectionPool& pool_;
  const KeyStore& store_;
  FinishedCallCache* const cache_;
  InFlightKeys in_flight_;
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_LEDGER_H_
