#ifndef IDEM_SERVICE_KEYS_IN_FLIGHT_KEYS_H_
#define IDEM_SERVICE_KEYS_IN_FLIGHT_KEYS_H_

#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "service/keys/key_store.h"

namespace idem::keys {

// The keys of the transactional calls (Insert, Update, transactions) that
// this replica has accepted and not yet answered. Such a call writes its
// key's record in its own transaction, after it ran, so until it commits
// the database holds nothing for the key: this is how GetKey and ForgetKey
// through this replica still see it in flight. Other replicas cannot
// (docs/keyed-call.md, section 10). Thread-safe; memory only.
class InFlightKeys {
 public:
  // Holds one call's key in flight until released or destroyed.
  class Entry {
   public:
    Entry() = default;
    Entry(Entry&& other) noexcept
        : keys_(std::exchange(other.keys_, nullptr)),
          key_(std::move(other.key_)) {}
    Entry& operator=(Entry&& other) noexcept;
    ~Entry() { Release(); }

    // The call is answered: its key is no longer in flight, unless another
    // call holds it too. Once only; then a no-op.
    void Release();

   private:
    friend class InFlightKeys;
    using Key = std::pair<std::string, std::string>;  // tenant, key
    Entry(InFlightKeys* keys, Key key) : keys_(keys), key_(std::move(key)) {}

    InFlightKeys* keys_ = nullptr;  // null: released
    Key key_;
  };

  InFlightKeys() = default;
  InFlightKeys(const InFlightKeys&) = delete;
  InFlightKeys& operator=(const InFlightKeys&) = delete;

  // `id` is in flight until the entry is released. Two calls under one key
  // may be in flight at once (the second waits for the first's batch).
  Entry Enter(const KeyId& id);

  // Whether a call under `id` is in flight here.
  bool Contains(const KeyId& id) const;

 private:
  void Leave(const Entry::Key& key);

  mutable absl::Mutex mu_;
  // Calls in flight per key; a key leaves with its last call.
  absl::flat_hash_map<Entry::Key, int> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_IN_FLIGHT_KEYS_H_
