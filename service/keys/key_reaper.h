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
// tombstones) before the reaper reaches them: it only reclaims space. Each
// pass also counts the live records by state, for the metrics: exactly in
// a table of up to 10,000 pages (about 450,000 keys), estimated from 10,000
// of its pages in a larger one.
class KeyReaper {
 public:
  // Live records as GetKey names their states.
  struct KeyCounts {
    int64_t in_flight = 0;
    int64_t finished = 0;  // holding their answer
    int64_t expired = 0;   // tombstones
  };
  // What one pass did and found.
  struct Pass {
    int64_t deleted = 0;
    KeyCounts keys;
  };

  // `on_pass` is told of each pass that finished: a pass that fails is
  // logged and not reported.
  KeyReaper(db::ConnectionPool& pool, absl::Duration interval, int batch,
            std::function<void(const Pass&)> on_pass);
  ~KeyReaper();  // stops the background pass

  // One full pass.
  static absl::StatusOr<Pass> RunOnce(db::ConnectionPool& pool, int batch);

 private:
  void Run();

  db::ConnectionPool& pool_;
  const absl::Duration interval_;
  const int batch_;
  const std::function<void(const Pass&)> on_pass_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_KEY_REAPER_H_
