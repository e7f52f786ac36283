#include "service/api/tenant_limiter.h"

#include <gtest/gtest.h>

#include "service/common/retry_delay.h"

namespace idem::api {
namespace {

TEST(TenantLimiterTest, CapsEachTenantOnItsOwn) {
  TenantLimiter limiter(2, 1 << 20);
  auto a1 = limiter.Acquire("a", 10);
  auto a2 = limiter.Acquire("a", 10);
  ASSERT_TRUE(a1.ok() && a2.ok());
  absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> a3 =
      limiter.Acquire("a", 10);
  EXPECT_EQ(a3.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryDelayOf(a3.status()), TenantLimiter::kRetryDelay);
  EXPECT_TRUE(limiter.Acquire("b", 10).ok());
  EXPECT_EQ(limiter.in_flight("a"), 2);
}

TEST(TenantLimiterTest, DroppingAPermitFreesItsSlot) {
  TenantLimiter limiter(1, 1 << 20);
  auto permit = limiter.Acquire("a", 10);
  ASSERT_TRUE(permit.ok());
  EXPECT_FALSE(limiter.Acquire("a", 10).ok());
  permit->reset();
  EXPECT_EQ(limiter.in_flight("a"), 0);
  EXPECT_TRUE(limiter.Acquire("a", 10).ok());
}

// The request bytes of all calls in flight are bounded over all tenants;
// a call alone is let in whatever its size, so that no call is refused for
// ever.
TEST(TenantLimiterTest, BoundsTheRequestBytesInFlight) {
  TenantLimiter limiter(100, 100);
  auto a = limiter.Acquire("a", 60);
  ASSERT_TRUE(a.ok());
  absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> b =
      limiter.Acquire("b", 60);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryDelayOf(b.status()), TenantLimiter::kRetryDelay);
  EXPECT_TRUE(limiter.Acquire("b", 40).ok());
  a->reset();
  EXPECT_TRUE(limiter.Acquire("b", 60).ok());
  EXPECT_TRUE(limiter.Acquire("b", 500).ok());  // alone
}

// An answer waiting for its caller is held whatever the limiter decides,
// and the calls that come meanwhile make room for it.
TEST(TenantLimiterTest, HeldAnswerBytesCountUntilReleased) {
  TenantLimiter limiter(100, 100);
  std::unique_ptr<TenantLimiter::Permit> answer = limiter.HoldBytes(150);
  absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> refused =
      limiter.Acquire("a", 1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  answer.reset();
  EXPECT_TRUE(limiter.Acquire("a", 1).ok());
}

}  // namespace
}  // namespace idem::api
