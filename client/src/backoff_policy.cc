#include "idem/backoff_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace idem {

absl::Duration BackoffCeiling(const BackoffPolicy& policy, int retry) {
  // Computed in seconds as a double so that large retry numbers saturate at
  // the maximum instead of overflowing.
  const double growth = std::pow(policy.multiplier, std::max(0, retry - 1));
  const double ceiling = absl::ToDoubleSeconds(policy.initial) * growth;
  const double maximum = absl::ToDoubleSeconds(policy.maximum);
  if (!std::isfinite(ceiling) || ceiling >= maximum) return policy.maximum;
  return absl::Seconds(std::max(0.0, ceiling));
}

absl::Duration FullJitter(absl::Duration ceiling, uint64_t random) {
  // 53 random bits give a double in [0, 1] without rounding bias.
  constexpr double kScale = 1.0 / static_cast<double>((uint64_t{1} << 53) - 1);
  const double fraction = static_cast<double>(random >> 11) * kScale;
  return ceiling * fraction;
}

}  // namespace idem
