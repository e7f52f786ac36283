#include "bench/loadgen/histogram.h"

#include <algorithm>
#include <cmath>

namespace idem::bench {

size_t LatencyHistogram::IndexOf(uint64_t nanos) {
  constexpr uint64_t kLinear = uint64_t{2} << kSubBits;  // 128
  if (nanos < kLinear) return static_cast<size_t>(nanos);
  int exponent = 63 - __builtin_clzll(nanos);  // >= 7
  int shift = exponent - kSubBits;             // >= 1
  // (nanos >> shift) is in [64, 128): the bucket within this power of two.
  return static_cast<size_t>(shift) * (uint64_t{1} << kSubBits) +
         static_cast<size_t>(nanos >> shift);
}

uint64_t LatencyHistogram::UpperValueOf(size_t index) {
  constexpr size_t kLinear = size_t{2} << kSubBits;
  if (index < kLinear) return index;
  size_t shift = index / (size_t{1} << kSubBits) - 1;
  uint64_t mantissa = index - shift * (size_t{1} << kSubBits);
  return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t nanos) {
  counts_[std::min(IndexOf(nanos), counts_.size() - 1)].fetch_add(
      1, std::memory_order_relaxed);
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (nanos > seen &&
         !max_.compare_exchange_weak(seen, nanos, std::memory_order_relaxed)) {
  }
}

uint64_t LatencyHistogram::count() const {
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
  return total;
}

uint64_t LatencyHistogram::ValueAtQuantile(double quantile) const {
  uint64_t total = count();
  if (total == 0) return 0;
  auto wanted = static_cast<uint64_t>(std::ceil(quantile * total));
  wanted = std::clamp<uint64_t>(wanted, 1, total);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= wanted) return std::min(UpperValueOf(i), max());
  }
  return max();
}

}  // namespace idem::bench
