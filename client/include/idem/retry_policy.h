#ifndef IDEM_RETRY_POLICY_H_
#define IDEM_RETRY_POLICY_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace idem {

// How long and how often one logical call may be attempted. Every attempt gets
// its own deadline, min(now + per_attempt_timeout, start + total_timeout), so
// a hung attempt is abandoned in time for another one.
struct RetryPolicy {
  int max_attempts = 5;  // 1 disables retries
  absl::Duration total_timeout = absl::Seconds(30);
  absl::Duration per_attempt_timeout = absl::Seconds(10);
};

// The codes after which a call that is safe to repeat is attempted again:
// UNAVAILABLE, ABORTED, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED (of one
// attempt; the overall deadline ends the call).
bool IsRetryableCode(absl::StatusCode code);

}  // namespace idem

#endif  // IDEM_RETRY_POLICY_H_
