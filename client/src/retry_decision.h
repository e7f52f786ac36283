#ifndef IDEM_CLIENT_SRC_RETRY_DECISION_H_
#define IDEM_CLIENT_SRC_RETRY_DECISION_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "idem/backoff_policy.h"
#include "idem/client.h"
#include "idem/retry_budget.h"
#include "idem/retry_policy.h"

namespace idem::internal {

// What the server said about retrying outside the status's details: the
// "grpc-retry-pushback-ms" trailer, or a BatchResult's retry_delay.
struct Pushback {
  bool present = false;
  // A negative or unreadable value: the server asks for no retry at all.
  bool refuses = false;
  absl::Duration delay;
};
Pushback ParsePushback(std::optional<absl::string_view> header);

struct AttemptResult {
  absl::Status status;  // with the server's details (error_info.h)
  Pushback pushback;    // a RetryInfo in the status wins over it
  // The failure of a Batch RPC as a whole, which every call in it got.
  bool whole_batch_failed = false;
  // UNAVAILABLE from gRPC itself while the channel had no connection: the
  // attempt reached no server (ReadAttemptStatus in attempt_metadata.h).
  bool without_connection = false;
};

struct RetryContext {
  const RetryPolicy& policy;
  const BackoffPolicy& backoff;
  // A repeat of the request after an attempt that may have run is safe and
  // answers as that attempt would have: a KeyedCall, a read. Other
  // requests are repeated only after a failure that says nothing ran.
  bool repeat_answers_alike;
  int attempts_done;
  absl::Time now;
  absl::Time deadline;
  absl::Time attempt_started = absl::InfinitePast();
};

struct Decision {
  bool retry = false;
  absl::Duration sleep;                             // when retry
  StopReason stop_reason = StopReason::kSucceeded;  // when not
};

// Decides after each attempt whether and when to try again. The budget is
// charged for every retryable failure, retried or not, so that failures of
// calls that may not be retried still throttle the ones that may; once for
// a failure that ended the calls in flight together (a dropped connection:
// UNAVAILABLE from gRPC itself, without idem's details; a failed Batch);
// not at all for an attempt that found no connection: it reached no server,
// and its retry waits for the connection (PrepareAttempt), so retrying it
// adds no load to a server, and calls made while one restarts keep their
// retries.
Decision DecideAfterAttempt(const RetryContext& context,
                            const AttemptResult& result, RetryBudget& budget,
                            uint64_t random);

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_RETRY_DECISION_H_
