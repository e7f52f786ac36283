#include "retry_decision.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "idem/error_info.h"

namespace idem::internal {
namespace {

Decision Stop(StopReason reason) {
  Decision decision;
  decision.stop_reason = reason;
  return decision;
}

// gRPC's transport reset the call with ENHANCE_YOUR_CALM, as a server does
// while its memory quota (IDEM_MAX_TRANSPORT_BYTES) is spent. gRPC names no
// reason but the HTTP/2 code, in the same words since long before 1.51.
bool ResetByTransport(const absl::Status& status) {
  return absl::StrContains(status.message(),
                           "Received RST_STREAM with error code 11");
}

// Whether the failure may pass when the call is attempted again.
bool IsTransient(const absl::Status& status, const std::string& reason,
                 const Pushback& pushback) {
  if (!IsRetryableCode(status.code())) return false;
  if (status.code() != absl::StatusCode::kResourceExhausted) return true;
  if (reason == reasons::kOverloaded || reason == reasons::kTenantLimit) {
    return true;
  }
  if (reason == reasons::kDiskFull) return false;
  // Without one of those reasons (an older server, or gRPC's transport)
  // only a refusal with a retry delay is overload (idem sends one with
  // every overload answer), or a reset under the server's memory quota.
  // A message over gRPC's size limit is neither, and final.
  return pushback.present || (reason.empty() && ResetByTransport(status));
}

// Reasons that say the attempt changed nothing: refused before it ran, or
// rolled back. (COMMIT_UNKNOWN is the one transient reason that does not:
// the commit may have happened.)
bool DidNotRun(const std::string& reason) {
  for (absl::string_view not_run :
       {reasons::kKeyInFlight, reasons::kRowLocked,
        reasons::kDatabaseUnavailable, reasons::kShuttingDown,
        reasons::kOverloaded, reasons::kTenantLimit}) {
    if (reason == not_run) return true;
  }
  return false;
}

// The server's word on when to retry: RetryInfo first, then the trailer.
Pushback ServerPushback(const AttemptResult& result) {
  const std::optional<absl::Duration> delay = RetryDelay(result.status);
  if (!delay.has_value()) return result.pushback;
  Pushback pushback;
  pushback.present = true;
  pushback.delay = std::max(*delay, absl::ZeroDuration());
  return pushback;
}

}  // namespace

Pushback ParsePushback(std::optional<absl::string_view> header) {
  Pushback pushback;
  if (!header.has_value()) return pushback;
  pushback.present = true;
  int64_t ms;
  if (!absl::SimpleAtoi(*header, &ms) || ms < 0) {
    pushback.refuses = true;
  } else {
    pushback.delay = absl::Milliseconds(ms);
  }
  return pushback;
}

Decision DecideAfterAttempt(const RetryContext& context,
                            const AttemptResult& result, RetryBudget& budget,
                            uint64_t random) {
  if (result.status.ok()) {
    budget.OnSuccess();
    return Stop(StopReason::kSucceeded);
  }
  const std::string reason = ErrorReason(result.status);
  const Pushback pushback = ServerPushback(result);
  if (!IsTransient(result.status, reason, pushback)) {
    return Stop(StopReason::kNotRetryable);
  }
  const bool shared = result.whole_batch_failed ||
                      (result.status.code() == absl::StatusCode::kUnavailable &&
                       reason.empty());
  const bool budget_left =
      result.without_connection ? budget.RetryAllowed()
      : shared ? budget.OnSharedFailure(context.attempt_started, context.now)
               : budget.OnFailure();
  // Retries off: that, not the call's kind, is why it stops.
  if (context.policy.max_attempts <= 1) return Stop(StopReason::kMaxAttempts);
  if (!context.repeat_answers_alike && !DidNotRun(reason)) {
    return Stop(StopReason::kNotIdempotent);
  }
  // A DEADLINE_EXCEEDED that is the overall deadline ends the call like any
  // other failure at that point: no time is left for another attempt.
  if (context.now >= context.deadline) return Stop(StopReason::kDeadline);
  if (context.attempts_done >= context.policy.max_attempts) {
    return Stop(StopReason::kMaxAttempts);
  }
  if (pushback.refuses) return Stop(StopReason::kPushbackRefusal);
  if (!budget_left) return Stop(StopReason::kRetryBudget);

  const absl::Duration sleep =
      pushback.present
          ? pushback.delay
          : FullJitter(BackoffCeiling(context.backoff, context.attempts_done),
                       random);
  // Sleeping up to (or past) the deadline would only buy an attempt that has
  // no time to run: stop now with the last real answer instead.
  if (context.now + sleep >= context.deadline) {
    return Stop(StopReason::kDeadline);
  }
  Decision decision;
  decision.retry = true;
  decision.sleep = sleep;
  return decision;
}

}  // namespace idem::internal
