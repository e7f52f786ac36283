#ifndef IDEM_SERVICE_KEYS_FINISHED_CALL_CACHE_H_
#define IDEM_SERVICE_KEYS_FINISHED_CALL_CACHE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/keys/key_store.h"

namespace idem::keys {

// Finished calls this replica has committed or read, so that a replay is
// answered from memory. Only a finished record enters, and only once its
// transaction has committed: it can never answer for a call that did not
// happen. A finished record does not change until it expires, so an entry
// is right for as long as it lives: the time the database gave the record
// (or max_age, if shorter), minus `margin` for the time between the
// caller's observation and the database's clock. Bounded in bytes; the
// oldest entries go first. Thread-safe.
//
// A key forgotten (ForgetKey) through any replica is erased here when the
// forget listener hears of it; while the listener cannot hear, the cache
// does not serve (SetServing), nor past the lease the listener last renewed
// (ServeUntil): the time until which a forget this replica has not heard
// yet cannot have been answered (kReplayLease). A record read before a key was
// forgotten may reach Put after that key was erased: Put refuses every record
// observed before the last Erase or before serving resumed, so that such a
// record never enters.
class FinishedCallCache {
 public:
  // Ages are measured on a monotonic clock: a step of the wall clock (NTP,
  // a resumed VM) neither keeps an entry past its record's life nor drops
  // it early.
  using Clock = std::chrono::steady_clock;

  struct Options {
    size_t max_bytes = 16 << 20;
    absl::Duration max_age = absl::Minutes(10);
    absl::Duration margin = absl::Seconds(1);
    std::function<Clock::time_point()> now = Clock::now;  // tests: a fake
  };

  explicit FinishedCallCache(Options options) : options_(options) {}

  // Remembers `call` (finished) under `id`. `observed_at`: a time before the
  // statement that read or wrote the record began; `call.expires_in` counts
  // from that statement. Stores nothing while not serving, nor a record
  // observed before the last Erase or before serving resumed.
  void Put(const KeyId& id, const StoredCall& call,
           Clock::time_point observed_at);

  // The finished call under `id`, if remembered and still live and the
  // cache is serving; null otherwise. Shared, not copied: the response stays
  // where it is.
  std::shared_ptr<const StoredCall> Get(const KeyId& id);
  // A call was answered with a replay of what Get returned (not refused as
  // a KEY_MISMATCH): counted in usage().hits.
  void CountReplay();

  // Drops `id` (its key was forgotten).
  void Erase(const KeyId& id);

  // Off: drops everything and answers nothing until turned on again (keys
  // forgotten meanwhile would go unheard). On: serves again, empty, taking
  // only records observed from now on. Serving from construction.
  void SetServing(bool serving);

  // Answers nothing from `until` on, unless renewed. Without a call, no
  // limit: a cache that no listener keeps.
  void ServeUntil(Clock::time_point until);

  // For the metrics: what the cache holds, how many entries it dropped for
  // room while still live (a replay of one of those reads the database: the
  // cache is too small for the replays it serves), how many replays it
  // answered, and whether it serves.
  struct Usage {
    size_t bytes = 0;
    size_t max_bytes = 0;
    uint64_t evicted_live = 0;
    uint64_t hits = 0;
    bool serving = false;
  };
  Usage usage();

 private:
  using Key = std::pair<std::string, std::string>;  // tenant, key
  struct Entry {
    std::shared_ptr<const StoredCall> call;
    Clock::time_point valid_until;
    size_t bytes = 0;
  };

  void EvictOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<Key> order_ ABSL_GUARDED_BY(mu_);  // oldest first
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evicted_live_ ABSL_GUARDED_BY(mu_) = 0;
  bool serving_ ABSL_GUARDED_BY(mu_) = true;
  Clock::time_point lease_until_ ABSL_GUARDED_BY(mu_) =
      Clock::time_point::max();
  // Records observed before this may be of keys forgotten since.
  Clock::time_point admit_from_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> hits_{0};  // counted under the shared lock
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_FINISHED_CALL_CACHE_H_
