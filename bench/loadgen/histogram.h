#ifndef IDEM_BENCH_LOADGEN_HISTOGRAM_H_
#define IDEM_BENCH_LOADGEN_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace idem::bench {

// Latencies in nanoseconds in fixed log-linear buckets (as HdrHistogram
// does): exact below 128 ns, then 64 buckets per power of two, so a reported
// value is within 1.6% of the recorded one. Record() is lock-free and may run
// on any thread; read after the writers are done.
class LatencyHistogram {
 public:
  void Record(uint64_t nanos);

  uint64_t count() const;
  // The smallest recorded value v such that at least `quantile` (0..1] of
  // the values are <= v (to bucket precision); 0 when empty.
  uint64_t ValueAtQuantile(double quantile) const;
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }

 private:
  static constexpr int kSubBits = 6;
  static constexpr int kBuckets = 64 * (64 - kSubBits) + 128;

  static size_t IndexOf(uint64_t nanos);
  static uint64_t UpperValueOf(size_t index);

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> max_{0};
};

}  // namespace idem::bench

#endif  // IDEM_BENCH_LOADGEN_HISTOGRAM_H_
