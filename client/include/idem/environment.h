#ifndef IDEM_ENVIRONMENT_H_
#define IDEM_ENVIRONMENT_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace idem {

// Time and chance as the retry loop sees them. Real() is what production uses;
// tests replace them to drive retries without waiting and to pin the jitter.
// All three must be thread-safe: calls of one Client share them.
struct RetryEnvironment {
  std::function<absl::Time()> now;
  // Runs `then` after `delay` without blocking the caller (the async API's
  // threads must never sleep).
  std::function<void(absl::Duration delay, std::function<void()> then)> sleep;
  // Uniformly distributed 64-bit values for the jitter.
  std::function<uint64_t()> random;

  static RetryEnvironment Real();
};

}  // namespace idem

#endif  // IDEM_ENVIRONMENT_H_
