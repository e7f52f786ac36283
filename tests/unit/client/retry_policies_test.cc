// The retry building blocks on their own: backoff, jitter, budget, and the
// decision taken after each attempt.
#include <gtest/gtest.h>

#include <memory>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "idem/backoff_policy.h"
#include "idem/error_info.h"
#include "idem/retry_budget.h"
#include "idem/retry_policy.h"
#include "retry_decision.h"

namespace idem {
namespace {

using internal::AttemptResult;
using internal::DecideAfterAttempt;
using internal::Decision;
using internal::ParsePushback;
using internal::RetryContext;

TEST(BackoffCeiling, GrowsByTheMultiplierUpToTheMaximum) {
  BackoffPolicy policy{absl::Milliseconds(100), absl::Seconds(1), 3.0};
  EXPECT_EQ(BackoffCeiling(policy, 1), absl::Milliseconds(100));
  EXPECT_EQ(BackoffCeiling(policy, 2), absl::Milliseconds(300));
  EXPECT_EQ(BackoffCeiling(policy, 3), absl::Milliseconds(900));
  EXPECT_EQ(BackoffCeiling(policy, 4), absl::Seconds(1));
  EXPECT_EQ(BackoffCeiling(policy, 10'000), absl::Seconds(1));
}

TEST(FullJitter, SpansZeroToTheCeiling) {
  const absl::Duration ceiling = absl::Milliseconds(800);
  EXPECT_EQ(FullJitter(ceiling, 0), absl::ZeroDuration());
  EXPECT_EQ(FullJitter(ceiling, UINT64_MAX), ceiling);
  const absl::Duration middle = FullJitter(ceiling, UINT64_MAX / 2);
  EXPECT_GT(middle, absl::Milliseconds(399));
  EXPECT_LT(middle, absl::Milliseconds(401));
  uint64_t r = 1;
  for (int i = 0; i < 10'000; ++i) {
    r = r * 6364136223846793005u + 1442695040888963407u;  // spread values
    const absl::Duration d = FullJitter(ceiling, r);
    ASSERT_GE(d, absl::ZeroDuration());
    ASSERT_LE(d, ceiling);
  }
}

TEST(RetryBudget, StopsAtHalfTheTokensAndRefillsWithSuccesses) {
  RetryBudget budget({/*max_tokens=*/4, /*token_ratio=*/0.5});
  EXPECT_TRUE(budget.OnFailure());   // 3 > 2
  EXPECT_FALSE(budget.OnFailure());  // 2
  EXPECT_FALSE(budget.OnFailure());  // 1
  budget.OnSuccess();
  budget.OnSuccess();
  budget.OnSuccess();
  budget.OnSuccess();  // 3
  EXPECT_DOUBLE_EQ(budget.tokens(), 3);
  EXPECT_FALSE(budget.OnFailure());  // 2 again: still not above half
  for (int i = 0; i < 100; ++i) budget.OnSuccess();
  EXPECT_DOUBLE_EQ(budget.tokens(), 4);  // capped
}

// A dropped connection ends every call in flight on it at once: one token
// for all of them, and one more for an attempt sent after it.
TEST(RetryBudget, ASharedFailureOfAttemptsInFlightTogetherTakesOneToken) {
  RetryBudget budget({/*max_tokens=*/10, /*token_ratio=*/0.1});
  const absl::Time sent = absl::FromUnixSeconds(100);
  const absl::Time dropped = sent + absl::Milliseconds(5);
  for (int call = 0; call < 20; ++call) {
    EXPECT_TRUE(
        budget.OnSharedFailure(sent, dropped + absl::Microseconds(call)));
  }
  EXPECT_DOUBLE_EQ(budget.tokens(), 9);
  EXPECT_TRUE(budget.OnSharedFailure(dropped + absl::Milliseconds(10),
                                     dropped + absl::Milliseconds(20)));
  EXPECT_DOUBLE_EQ(budget.tokens(), 8);
  // An attempt sent with the first ones, failing a second later: another
  // event (a proxy refusing calls one by one), not part of the drop.
  EXPECT_TRUE(budget.OnSharedFailure(sent, dropped + absl::Seconds(1)));
  EXPECT_DOUBLE_EQ(budget.tokens(), 7);
}

TEST(RetryableCodes, AreTheTransientOnes) {
  for (auto code : {absl::StatusCode::kUnavailable, absl::StatusCode::kAborted,
                    absl::StatusCode::kResourceExhausted,
                    absl::StatusCode::kDeadlineExceeded}) {
    EXPECT_TRUE(IsRetryableCode(code)) << absl::StatusCodeToString(code);
  }
  for (auto code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kFailedPrecondition, absl::StatusCode::kInternal,
        absl::StatusCode::kUnknown, absl::StatusCode::kPermissionDenied,
        absl::StatusCode::kUnauthenticated}) {
    EXPECT_FALSE(IsRetryableCode(code)) << absl::StatusCodeToString(code);
  }
}

TEST(Pushback, ParsesMillisecondsAndRefusals) {
  EXPECT_FALSE(ParsePushback(std::nullopt).present);
  EXPECT_EQ(ParsePushback("250").delay, absl::Milliseconds(250));
  EXPECT_FALSE(ParsePushback("250").refuses);
  EXPECT_TRUE(ParsePushback("-1").refuses);
  EXPECT_TRUE(ParsePushback("soon").refuses);
}

// A failure as the server sends it: with an ErrorInfo of `reason` and, when
// given, a RetryInfo.
absl::Status Failure(absl::StatusCode code, absl::string_view reason,
                     std::optional<absl::Duration> retry_delay = {}) {
  google::rpc::Status status;
  status.set_code(static_cast<int>(code));
  status.set_message("failed");
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain("idem");
  status.add_details()->PackFrom(info);
  if (retry_delay.has_value()) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(*retry_delay)));
    status.add_details()->PackFrom(retry);
  }
  return FromRpcStatus(status);
}

class Decide : public ::testing::Test {
 protected:
  Decision After(absl::Status status, int attempts_done,
                 absl::Duration elapsed = absl::ZeroDuration(),
                 std::optional<absl::string_view> pushback = std::nullopt,
                 bool repeat_answers_alike = true,
                 uint64_t random = UINT64_MAX) {
    const RetryContext context{policy_,
                               backoff_,
                               repeat_answers_alike,
                               attempts_done,
                               start_ + elapsed,
                               start_ + policy_.total_timeout,
                               /*attempt_started=*/start_ + elapsed};
    return DecideAfterAttempt(
        context, AttemptResult{std::move(status), ParsePushback(pushback)},
        *budget_, random);
  }

  RetryPolicy policy_{/*max_attempts=*/4, absl::Seconds(10), absl::Seconds(2)};
  BackoffPolicy backoff_{absl::Milliseconds(100), absl::Seconds(5), 2.0};
  std::unique_ptr<RetryBudget> budget_ = std::make_unique<RetryBudget>(
      RetryBudgetOptions{/*max_tokens=*/1000, /*token_ratio=*/1});
  absl::Time start_ = absl::FromUnixSeconds(1000);
};

TEST_F(Decide, RetriesATransientFailureAfterAJitteredBackoff) {
  Decision d = After(absl::UnavailableError("down"), 3);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.sleep, absl::Milliseconds(400));  // 100 * 2^(3-1), random=max
  EXPECT_EQ(After(absl::UnavailableError("down"), 3, absl::ZeroDuration(),
                  std::nullopt, true, 0)
                .sleep,
            absl::ZeroDuration());
}

TEST_F(Decide, StopsOnSuccessAndOnPermanentErrors) {
  EXPECT_EQ(After(absl::OkStatus(), 1).stop_reason, StopReason::kSucceeded);
  Decision d = After(absl::InvalidArgumentError("bad column"), 1);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.stop_reason, StopReason::kNotRetryable);
}

TEST_F(Decide, RepeatsACallWithoutKeyOnlyAfterAFailureThatSaysItDidNotRun) {
  auto without_key = [&](absl::Status status) {
    return After(std::move(status), 1, absl::ZeroDuration(), std::nullopt,
                 /*repeat_answers_alike=*/false);
  };
  // The attempt may have run: a repeat could answer DUPLICATE, UNCHANGED...
  for (const absl::Status& may_have_run :
       {absl::UnavailableError("reset"), absl::DeadlineExceededError("slow"),
        Failure(absl::StatusCode::kUnavailable, reasons::kCommitUnknown)}) {
    Decision d = without_key(may_have_run);
    EXPECT_FALSE(d.retry) << may_have_run;
    EXPECT_EQ(d.stop_reason, StopReason::kNotIdempotent) << may_have_run;
  }
  // ...but not when the server says it refused or rolled it back.
  for (const absl::Status& did_not_run :
       {Failure(absl::StatusCode::kUnavailable, reasons::kDatabaseUnavailable),
        Failure(absl::StatusCode::kUnavailable, reasons::kShuttingDown),
        Failure(absl::StatusCode::kAborted, reasons::kRowLocked),
        Failure(absl::StatusCode::kAborted, reasons::kKeyInFlight),
        Failure(absl::StatusCode::kResourceExhausted, reasons::kOverloaded),
        Failure(absl::StatusCode::kResourceExhausted, reasons::kTenantLimit)}) {
    EXPECT_TRUE(without_key(did_not_run).retry) << did_not_run;
  }
}

// With retries off (max_attempts 1) a call stops because of that, whether
// or not a repeat would have been safe: "not_idempotent" would send the
// caller looking at keys.
TEST_F(Decide, WithRetriesOffEveryCallStopsAtMaxAttempts) {
  policy_.max_attempts = 1;
  for (bool repeat_answers_alike : {true, false}) {
    Decision d = After(absl::UnavailableError("reset"), 1, absl::ZeroDuration(),
                       std::nullopt, repeat_answers_alike);
    EXPECT_FALSE(d.retry);
    EXPECT_EQ(d.stop_reason, StopReason::kMaxAttempts) << repeat_answers_alike;
  }
}

TEST_F(Decide, ReasonsTellOverloadFromAFullDisk) {
  // Overload passes: retried, after the backoff when no delay came with it.
  for (absl::string_view overload :
       {reasons::kOverloaded, reasons::kTenantLimit}) {
    Decision d =
        After(Failure(absl::StatusCode::kResourceExhausted, overload), 1);
    EXPECT_TRUE(d.retry) << overload;
    EXPECT_EQ(d.sleep, absl::Milliseconds(100)) << overload;
  }
  // A full disk does not, whatever delay came with it.
  Decision d = After(Failure(absl::StatusCode::kResourceExhausted,
                             reasons::kDiskFull, absl::Seconds(1)),
                     1, absl::ZeroDuration(), "1000");
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.stop_reason, StopReason::kNotRetryable);
  // Without a reason, only a refusal with a delay is overload (as before
  // the reasons): an unknown reason follows its code.
  EXPECT_EQ(After(absl::ResourceExhaustedError("too big"), 1).stop_reason,
            StopReason::kNotRetryable);
  EXPECT_TRUE(After(Failure(absl::StatusCode::kResourceExhausted, "NEW"), 1,
                    absl::ZeroDuration(), "100")
                  .retry);
  EXPECT_TRUE(After(Failure(absl::StatusCode::kAborted, "NEW"), 1).retry);
  EXPECT_EQ(
      After(Failure(absl::StatusCode::kInvalidArgument, reasons::kRowLocked), 1)
          .stop_reason,
      StopReason::kNotRetryable);
}

// gRPC's transport resets a call (RST_STREAM, ENHANCE_YOUR_CALM) while the
// server's memory quota (IDEM_MAX_TRANSPORT_BYTES) is spent: it passes with
// the flood, but the call may have run, so only a call whose repeat answers
// alike (under a key) is sent again. A message over gRPC's size limit is
// RESOURCE_EXHAUSTED without a reason too, and final.
TEST_F(Decide, ATransportResetIsRetriedUnderAKeyOnly) {
  const absl::Status reset =
      absl::ResourceExhaustedError("Received RST_STREAM with error code 11");
  Decision keyed = After(reset, 1);
  EXPECT_TRUE(keyed.retry);
  EXPECT_EQ(keyed.sleep, absl::Milliseconds(100));
  EXPECT_EQ(After(reset, 1, absl::ZeroDuration(), std::nullopt,
                  /*repeat_answers_alike=*/false)
                .stop_reason,
            StopReason::kNotIdempotent);
  EXPECT_EQ(After(absl::ResourceExhaustedError(
                      "Received message larger than max (9 vs. 4)"),
                  1)
                .stop_reason,
            StopReason::kNotRetryable);
}

TEST_F(Decide, RetryInfoWinsOverThePushbackTrailer) {
  const absl::Status locked = Failure(
      absl::StatusCode::kAborted, reasons::kRowLocked, absl::Milliseconds(300));
  EXPECT_EQ(After(locked, 1, absl::ZeroDuration(), "1500").sleep,
            absl::Milliseconds(300));
  EXPECT_TRUE(After(locked, 1, absl::ZeroDuration(), "-1").retry);
  EXPECT_EQ(After(locked, 1, absl::ZeroDuration(), std::nullopt, true, 0).sleep,
            absl::Milliseconds(300));  // not the jittered backoff
}

TEST_F(Decide, StopsAtMaxAttempts) {
  EXPECT_TRUE(After(absl::AbortedError("busy"), 3).retry);
  EXPECT_EQ(After(absl::AbortedError("busy"), 4).stop_reason,
            StopReason::kMaxAttempts);
}

TEST_F(Decide, NeverSleepsUpToOrPastTheDeadline) {
  // 9.7 s of 10 s gone; the next backoff (400 ms) would end past the deadline.
  Decision d =
      After(absl::UnavailableError("down"), 3, absl::Milliseconds(9700));
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.stop_reason, StopReason::kDeadline);
  // The same with a short enough draw of the jitter retries.
  EXPECT_TRUE(After(absl::UnavailableError("down"), 3, absl::Milliseconds(9700),
                    std::nullopt, true, UINT64_MAX / 2)
                  .retry);
}

TEST_F(Decide, DeadlineExceededOfTheWholeCallIsFinal) {
  EXPECT_TRUE(
      After(absl::DeadlineExceededError("attempt"), 1, absl::Seconds(2)).retry);
  EXPECT_EQ(After(absl::DeadlineExceededError("call"), 1, absl::Seconds(10))
                .stop_reason,
            StopReason::kDeadline);
}

TEST_F(Decide, PushbackReplacesTheBackoff) {
  Decision d = After(absl::ResourceExhaustedError("overload"), 1,
                     absl::ZeroDuration(), "1500", true, 0);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.sleep, absl::Milliseconds(1500));
  EXPECT_EQ(After(absl::AbortedError("busy"), 1, absl::ZeroDuration(), "-1")
                .stop_reason,
            StopReason::kPushbackRefusal);
  // A pushback past the deadline ends the call now rather than at the deadline.
  EXPECT_EQ(After(absl::AbortedError("busy"), 1, absl::ZeroDuration(), "60000")
                .stop_reason,
            StopReason::kDeadline);
}

// Twenty calls in flight when their connection drops (UNAVAILABLE from
// gRPC, without idem's details), or in a Batch that failed whole: each is
// retried, for one token. idem's own UNAVAILABLE (the database is down)
// is each call's answer and takes a token each.
TEST(DecideTogether, ADroppedConnectionOrBatchIsOneFailureForTheBudget) {
  const RetryPolicy policy{/*max_attempts=*/5, absl::Seconds(10),
                           absl::Seconds(2)};
  const BackoffPolicy backoff{absl::Milliseconds(100), absl::Seconds(5), 2.0};
  RetryBudget budget({/*max_tokens=*/10, /*token_ratio=*/0.1});
  const absl::Time sent = absl::FromUnixSeconds(1000);
  const RetryContext context{policy,
                             backoff,
                             /*repeat_answers_alike=*/true,
                             /*attempts_done=*/1,
                             sent + absl::Milliseconds(5),
                             sent + absl::Seconds(10),
                             /*attempt_started=*/sent};
  for (int call = 0; call < 20; ++call) {
    EXPECT_TRUE(DecideAfterAttempt(
                    context,
                    AttemptResult{absl::UnavailableError("Socket closed"), {}},
                    budget, 0)
                    .retry);
    AttemptResult batch{absl::DeadlineExceededError("Deadline Exceeded"), {}};
    batch.whole_batch_failed = true;
    EXPECT_TRUE(DecideAfterAttempt(context, batch, budget, 0).retry);
  }
  EXPECT_DOUBLE_EQ(budget.tokens(), 9);
  const AttemptResult database_down{
      Failure(absl::StatusCode::kUnavailable, reasons::kDatabaseUnavailable),
      {}};
  for (int call = 0; call < 3; ++call) {
    EXPECT_TRUE(DecideAfterAttempt(context, database_down, budget, 0).retry);
  }
  EXPECT_DOUBLE_EQ(budget.tokens(), 6);
  EXPECT_EQ(DecideAfterAttempt(context, database_down, budget, 0).stop_reason,
            StopReason::kRetryBudget);  // 5: not above half
}

// An attempt that failed because the channel had no connection reached no
// server: it takes no token (its retry waits for the connection, so
// retrying adds no load to a server), and many calls failing so while a
// server restarts keep their retries.
TEST_F(Decide, AFailureWithoutAConnectionTakesNoToken) {
  budget_ = std::make_unique<RetryBudget>(
      RetryBudgetOptions{/*max_tokens=*/4, /*token_ratio=*/0.1});
  for (int call = 0; call < 20; ++call) {
    const RetryContext context{policy_,
                               backoff_,
                               true,
                               1,
                               start_ + absl::Seconds(call),
                               start_ + absl::Hours(1),
                               start_ + absl::Seconds(call)};
    AttemptResult refused{absl::UnavailableError("connection refused"), {}};
    refused.without_connection = true;
    EXPECT_TRUE(DecideAfterAttempt(context, refused, *budget_, 0).retry)
        << call;
  }
  EXPECT_DOUBLE_EQ(budget_->tokens(), 4);
}

TEST_F(Decide, AnEmptyBudgetStopsRetries) {
  budget_ = std::make_unique<RetryBudget>(
      RetryBudgetOptions{/*max_tokens=*/2, /*token_ratio=*/0.1});
  Decision d = After(absl::UnavailableError("down"), 1);  // 1 token: not > 1
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.stop_reason, StopReason::kRetryBudget);
}

}  // namespace
}  // namespace idem
