#ifndef IDEM_SERVICE_KEYS_KEY_REAPER_H_
#define IDEM_SERVICE_KEYS_KEY_REAPER_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/db/connection_pool.h"

namespace idem::keys {

// Deletes expired idempotency keys in the background, tenant by tenant, in
// small batches: each batch is one short transaction that locks only the
// rows it changes (SKIP LOCKED), walking an index of the tenant and the time
// the record is due. A record goes once its answer and its tombstone (if
// any) have expired; one whose answer expired while its tombstone lives is
// slimmed to the tombstone. Records are already treated as absent (or as
// tombstones) before the reaper reaches them: it only reclaims space.
class KeyReaper {
 public:
  // `on_pass` is told the outcome of each pass: how many keys it deleted
  // (also none), or why it failed (it runs again at the next interval).
  KeyReaper(db::ConnectionPool& pool, absl::Duration interval, int batch,
            std::function<void(const absl::StatusOr<int64_t>&)> on_pass);
  ~KeyReaper();  // stops the background pass

  // One full pass; returns how many keys it deleted.
  static absl::StatusOr<int64_t> RunOnce(db::ConnectionPool& pool, int batch);

 private:
  void Run();

  db::ConnectionPool& pool_;
  const absl::Duration interval_;
  const int batch_;
  const std::function<void(const absl::StatusOr<int64_t>&)> on_pass_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_KEY_REAPER_H_
