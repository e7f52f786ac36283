#ifndef IDEM_BACKOFF_POLICY_H_
#define IDEM_BACKOFF_POLICY_H_

#include <cstdint>

#include "absl/time/time.h"

namespace idem {

// Exponential backoff with full jitter: before retry n (1-based) the client
// sleeps a uniformly random time in [0, min(maximum, initial *
// multiplier^(n-1))]. Full jitter spreads the retries of many clients that
// failed together, so a recovering server is not hit by synchronized waves.
struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(50);
  absl::Duration maximum = absl::Seconds(5);
  double multiplier = 2.0;
};

// The upper bound of the sleep before retry `retry` (1 for the first retry).
absl::Duration BackoffCeiling(const BackoffPolicy& policy, int retry);

// A duration uniformly spread over [0, ceiling], drawn from `random` (a
// uniformly distributed 64-bit value).
absl::Duration FullJitter(absl::Duration ceiling, uint64_t random);

}  // namespace idem

#endif  // IDEM_BACKOFF_POLICY_H_
