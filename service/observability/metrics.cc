#include "service/observability/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <exception>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

#ifndef IDEM_VERSION
#define IDEM_VERSION "dev"
#endif

namespace idem::observability {
namespace {

// Pool occupancy and replay-cache usage, read when Prometheus scrapes
// rather than on every change.
class ScrapeCollector : public prometheus::Collectable {
 public:
  ScrapeCollector(Metrics::PoolGauges pool,
                  std::function<Metrics::ReplayCacheUsage()> replay_cache)
      : pool_(std::move(pool)), replay_cache_(std::move(replay_cache)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families = {
        Family("idem_db_connections_in_use",
               "Database connections leased to a request",
               pool_.in_use ? pool_.in_use() : 0),
        Family("idem_db_connections_waiting",
               "Requests waiting for a database connection",
               pool_.waiting ? pool_.waiting() : 0),
        Family("idem_db_connections_max",
               "Database connections the pool may open (IDEM_POOL_SIZE)",
               pool_.size)};
    if (replay_cache_) {
      const Metrics::ReplayCacheUsage usage = replay_cache_();
      families.push_back(Family("idem_replay_cache_bytes",
                                "Memory held by finished KeyedCall answers",
                                usage.bytes));
      families.push_back(Family("idem_replay_cache_max_bytes",
                                "IDEM_REPLAY_CACHE_BYTES", usage.max_bytes));
      families.push_back(Family(
          "idem_replay_cache_evicted_live_total",
          "Answers dropped for room while still replayable: their replays "
          "read the database",
          usage.evicted_live, prometheus::MetricType::Counter));
      families.push_back(Family("idem_replay_cache_hits_total",
                                "KeyedCall replays answered from memory",
                                usage.hits, prometheus::MetricType::Counter));
      families.push_back(Family(
          "idem_replay_cache_serving",
          "1 while the replay cache answers: its forget listener listens",
          usage.serving));
      families.push_back(Family(
          "idem_forget_notifications_total",
          "Keys forgotten through any replica that this replica heard of",
          usage.forget_notifications, prometheus::MetricType::Counter));
    }
    return families;
  }

 private:
  static prometheus::MetricFamily Family(
      const std::string& name, const std::string& help, double value,
      prometheus::MetricType type = prometheus::MetricType::Gauge) {
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    return {name, help, type, {metric}};
  }

  const Metrics::PoolGauges pool_;
  const std::function<Metrics::ReplayCacheUsage()> replay_cache_;
};

// The series of one family by a key made of their label values, found again
// with one hash lookup under a shared lock: the request path builds no label
// map (prometheus-cpp's Family::Add hashes a std::map of the labels under
// the family's lock on every call).
template <typename Metric>
class SeriesCache {
 public:
  // The series under `key`; `make` adds it to its family on first use.
  template <typename Make>
  Metric& Get(absl::string_view key, Make make) {
    {
      absl::ReaderMutexLock lock(&mu_);
      auto found = series_.find(key);
      if (found != series_.end()) return *found->second;
    }
    // Family::Add returns the existing series when two threads get here.
    Metric& metric = make();
    absl::MutexLock lock(&mu_);
    series_.emplace(key, &metric);
    return metric;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Metric*> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

struct Metrics::Families {
  explicit Families(prometheus::Registry& registry)
      : requests(prometheus::BuildCounter()
                     .Name("idem_requests_total")
                     .Help("Finished requests by method, gRPC code and tenant")
                     .Register(registry)),
        latency(prometheus::BuildHistogram()
                    .Name("idem_request_duration_seconds")
                    .Help("Request latency by method")
                    .Register(registry)),
        replays(prometheus::BuildCounter()
                    .Name("idem_replays_total")
                    .Help("KeyedCall answers replayed from the key store")
                    .Register(registry)),
        row_conflicts(prometheus::BuildCounter()
                          .Name("idem_row_conflicts_total")
                          .Help("Inserted rows that met a different stored row")
                          .Register(registry)),
        key_mismatches(prometheus::BuildCounter()
                           .Name("idem_key_mismatches_total")
                           .Help("Idempotency keys reused with another call")
                           .Register(registry)),
        tombstone_hits(prometheus::BuildCounter()
                           .Name("idem_tombstone_hits_total")
                           .Help("KeyedCalls answered from a tombstone: the "
                                 "call ran, its answer had expired")
                           .Register(registry)),
        keys(prometheus::BuildGauge()
                 .Name("idem_keys")
                 .Help("Live idempotency keys by state, counted by the "
                       "reaper's last pass")
                 .Register(registry)),
        reaped(prometheus::BuildCounter()
                   .Name("idem_reaper_deleted_total")
                   .Help("Expired idempotency keys deleted")
                   .Register(registry)
                   .Add({})),
        reaper_pass(prometheus::BuildGauge()
                        .Name("idem_reaper_last_pass_timestamp_seconds")
                        .Help("When the last reaper pass finished (Unix "
                              "time); 0 before the first")
                        .Register(registry)
                        .Add({})),
        batch_calls(
            prometheus::BuildHistogram()
                .Name("idem_batch_calls")
                .Help("Calls one group commit took, keyed calls it answered "
                      "from the key store included")
                .Register(registry)
                .Add({},
                     prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32,
                                                             64, 128, 256})),
        database_up(prometheus::BuildGauge()
                        .Name("idem_database_up")
                        .Help("1 while PostgreSQL answers the health probe "
                              "within 3 s (every second); 0 before the first "
                              "answer")
                        .Register(registry)
                        .Add({})),
        build_info(prometheus::BuildGauge()
                       .Name("idem_build_info")
                       .Help("Always 1; labels name the build")
                       .Register(registry)) {
    build_info.Add({{"version", IDEM_VERSION}}).Set(1);
  }

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Family<prometheus::Counter>& replays;
  prometheus::Family<prometheus::Counter>& row_conflicts;
  prometheus::Family<prometheus::Counter>& key_mismatches;
  prometheus::Family<prometheus::Counter>& tombstone_hits;
  prometheus::Family<prometheus::Gauge>& keys;
  prometheus::Counter& reaped;
  prometheus::Gauge& reaper_pass;
  prometheus::Histogram& batch_calls;
  prometheus::Gauge& database_up;
  prometheus::Family<prometheus::Gauge>& build_info;
  SeriesCache<prometheus::Counter> request_series;    // method, code, tenant
  SeriesCache<prometheus::Histogram> latency_series;  // method
  SeriesCache<prometheus::Counter> replay_series;     // tenant
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)) {}

Metrics::~Metrics() = default;

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Create(
    const std::string& listen_address, PoolGauges pool,
    std::function<ReplayCacheUsage()> replay_cache) {
  std::unique_ptr<Metrics> metrics(new Metrics());
  if (listen_address.empty()) return metrics;
  try {
    metrics->exposer_ = std::make_unique<prometheus::Exposer>(listen_address);
  } catch (const std::exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("IDEM_METRICS_LISTEN: cannot listen on ", listen_address));
  }
  metrics->exposer_->RegisterCollectable(metrics->registry_);
  metrics->scrape_collector_ = std::make_shared<ScrapeCollector>(
      std::move(pool), std::move(replay_cache));
  metrics->exposer_->RegisterCollectable(metrics->scrape_collector_);
  return metrics;
}

void Metrics::RecordRequest(absl::string_view method, absl::StatusCode code,
                            absl::string_view tenant, absl::Duration latency,
                            bool replayed) {
  families_->request_series
      .Get(absl::StrCat(method, "\n", static_cast<int>(code), "\n", tenant),
           [&]() -> prometheus::Counter& {
             return families_->requests.Add(
                 {{"method", std::string(method)},
                  {"code", absl::StatusCodeToString(code)},
                  {"tenant", std::string(tenant)}});
           })
      .Increment();
  families_->latency_series
      .Get(method,
           [&]() -> prometheus::Histogram& {
             static const prometheus::Histogram::BucketBoundaries kBuckets = {
                 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
             return families_->latency.Add({{"method", std::string(method)}},
                                           kBuckets);
           })
      .Observe(absl::ToDoubleSeconds(latency));
  if (replayed) {
    families_->replay_series
        .Get(tenant,
             [&]() -> prometheus::Counter& {
               return families_->replays.Add({{"tenant", std::string(tenant)}});
             })
        .Increment();
  }
}

void Metrics::RecordRowConflicts(absl::string_view tenant, int64_t conflicts,
                                 int64_t stale) {
  if (conflicts > 0) {
    families_->row_conflicts
        .Add({{"tenant", std::string(tenant)}, {"outcome", "CONFLICT"}})
        .Increment(static_cast<double>(conflicts));
  }
  if (stale > 0) {
    families_->row_conflicts
        .Add({{"tenant", std::string(tenant)}, {"outcome", "STALE"}})
        .Increment(static_cast<double>(stale));
  }
}

void Metrics::RecordKeyMismatch(absl::string_view tenant) {
  families_->key_mismatches.Add({{"tenant", std::string(tenant)}}).Increment();
}

void Metrics::RecordTombstoneHit(absl::string_view tenant) {
  families_->tombstone_hits.Add({{"tenant", std::string(tenant)}}).Increment();
}

void Metrics::RecordKeys(int64_t in_flight, int64_t finished, int64_t expired) {
  families_->keys.Add({{"state", "in_flight"}})
      .Set(static_cast<double>(in_flight));
  families_->keys.Add({{"state", "finished"}})
      .Set(static_cast<double>(finished));
  families_->keys.Add({{"state", "expired"}}).Set(static_cast<double>(expired));
}

void Metrics::RecordReaped(int64_t keys) {
  families_->reaped.Increment(static_cast<double>(keys));
  families_->reaper_pass.Set(absl::ToUnixMicros(absl::Now()) / 1e6);
}

void Metrics::RecordBatch(size_t calls) {
  families_->batch_calls.Observe(static_cast<double>(calls));
}

void Metrics::RecordDatabaseUp(bool up) {
  families_->database_up.Set(up ? 1 : 0);
}

}  // namespace idem::observability
