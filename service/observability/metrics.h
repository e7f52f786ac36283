#ifndef IDEM_SERVICE_OBSERVABILITY_METRICS_H_
#define IDEM_SERVICE_OBSERVABILITY_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prometheus {
class Collectable;
class Exposer;
class Registry;
}  // namespace prometheus

namespace idem::observability {

// The server's Prometheus metrics (prometheus-cpp), served over HTTP at
// /metrics when an address is configured. Every method is thread-safe and
// cheap enough for the request path.
class Metrics {
 public:
  // Gauges read at scrape time, e.g. from the connection pool.
  struct PoolGauges {
    std::function<int()> in_use;
    std::function<int()> waiting;
    int size = 0;
  };
  struct ReplayCacheUsage {
    double bytes = 0;
    double max_bytes = 0;
    double evicted_live = 0;          // a counter
    double hits = 0;                  // a counter: replays answered from memory
    double serving = 0;               // 1 while the forget listener listens
    double forget_notifications = 0;  // a counter
  };

  // `listen_address` empty: metrics are kept but not served.
  // `replay_cache` empty: no replay cache.
  static absl::StatusOr<std::unique_ptr<Metrics>> Create(
      const std::string& listen_address, PoolGauges pool,
      std::function<ReplayCacheUsage()> replay_cache);
  ~Metrics();

  void RecordRequest(absl::string_view method, absl::StatusCode code,
                     absl::string_view tenant, absl::Duration latency,
                     bool replayed);
  // Insert rows that met a different stored row (CONFLICT) or lost to the
  // version guard (STALE).
  void RecordRowConflicts(absl::string_view tenant, int64_t conflicts,
                          int64_t stale);
  void RecordKeyMismatch(absl::string_view tenant);
  // A KeyedCall answered from a tombstone: its answer had expired.
  void RecordTombstoneHit(absl::string_view tenant);
  // A reaper pass finished, deleting `keys` expired keys.
  void RecordReaped(int64_t keys);
  // The key table's live records by state, counted by a reaper pass.
  void RecordKeys(int64_t in_flight, int64_t finished, int64_t expired);
  // Calls committed together by the group committer.
  void RecordBatch(size_t calls);
  // Whether the database answered the health probe in time (readiness
  // follows it, but also turns NOT_SERVING while draining, and is not
  // scraped).
  void RecordDatabaseUp(bool up);

 private:
  struct Families;
  Metrics();

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  // The exposer holds collectables weakly: they live here.
  std::shared_ptr<prometheus::Collectable> scrape_collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace idem::observability

#endif  // IDEM_SERVICE_OBSERVABILITY_METRICS_H_
