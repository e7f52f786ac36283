#include "retry_decision.h"

#include "absl/strings/numbers.h"

namespace idem::internal {
namespace {

Decision Stop(StopReason reason) {
  Decision decision;
  decision.stop_reason = reason;
  return decision;
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
  if (!IsRetryableCode(result.status.code())) {
    return Stop(StopReason::kNotRetryable);
  }
  // idem sends a retry delay with every overload answer. RESOURCE_EXHAUSTED
  // without one is a refusal that no retry mends: a message over the
  // transport's size limit, or a full disk.
  if (result.status.code() == absl::StatusCode::kResourceExhausted &&
      !result.pushback.present) {
    return Stop(StopReason::kNotRetryable);
  }
  const bool budget_left = budget.OnFailure();
  if (!context.idempotent) return Stop(StopReason::kNotIdempotent);
  // A DEADLINE_EXCEEDED that is the overall deadline ends the call like any
  // other failure at that point: no time is left for another attempt.
  if (context.now >= context.deadline) return Stop(StopReason::kDeadline);
  if (context.attempts_done >= context.policy.max_attempts) {
    return Stop(StopReason::kMaxAttempts);
  }
  if (result.pushback.refuses) return Stop(StopReason::kPushbackRefusal);
  if (!budget_left) return Stop(StopReason::kRetryBudget);

  const absl::Duration sleep =
      result.pushback.present
          ? result.pushback.delay
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
