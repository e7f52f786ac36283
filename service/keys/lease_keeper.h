#ifndef IDEM_SERVICE_KEYS_LEASE_KEEPER_H_
#define IDEM_SERVICE_KEYS_LEASE_KEEPER_H_

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "service/db/connection_pool.h"
#include "service/keys/key_store.h"

namespace idem::keys {

// Keeps a leased claim alive while its work runs (a file copy that waits
// for its folder or moves a large file): renews the lease every third of
// its length, on a thread of its own, until destroyed. A live run is so
// never taken over; only a run that died lets its lease lapse. A renewal
// that fails for a moment is tried again at the next tick; one that finds
// the claim held by another owner stops, and lost() says so.
class LeaseKeeper {
 public:
  // `pool`, `store` and `claim` must outlive the keeper.
  LeaseKeeper(db::ConnectionPool& pool, const KeyStore& store,
              const KeyClaim& claim, LeaseTerms lease);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // True once a renewal found that another owner holds the claim.
  bool lost() const { return lost_.load(std::memory_order_acquire); }

 private:
  void Run();

  db::ConnectionPool& pool_;
  const KeyStore& store_;
  const KeyClaim& claim_;
  const LeaseTerms lease_;
  std::atomic<bool> lost_{false};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_LEASE_KEEPER_H_
