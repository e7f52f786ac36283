#include "service/keys/lease_keeper.h"

#include <utility>

#include "absl/status/statusor.h"

namespace idem::keys {

LeaseKeeper::LeaseKeeper(db::ConnectionPool& pool, const KeyStore& store,
                         const KeyClaim& claim, LeaseTerms lease)
    : pool_(pool),
      store_(store),
      claim_(claim),
      lease_(std::move(lease)),
      thread_([this] { Run(); }) {}

LeaseKeeper::~LeaseKeeper() {
  stop_.Notify();
  thread_.join();
}

void LeaseKeeper::Run() {
  while (!stop_.WaitForNotificationWithTimeout(lease_.length / 3)) {
    absl::StatusOr<bool> held =
        db::RunAutocommit(pool_, [&](db::Transaction& txn) {
          return absl::StatusOr<bool>(store_.Renew(txn, claim_, lease_));
        });
    if (held.ok() && !*held) {
      lost_.store(true, std::memory_order_release);
      return;
    }
  }
}

}  // namespace idem::keys
