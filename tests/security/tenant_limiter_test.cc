#include "service/api/tenant_limiter.h"

#include <gtest/gtest.h>

#include "service/common/retry_delay.h"

namespace idem::api {
namespace {

TEST(TenantLimiterTest, CapsEachTenantOnItsOwn) {
  TenantLimiter limiter(2);
  auto a1 = limiter.Acquire("a");
  auto a2 = limiter.Acquire("a");
  ASSERT_TRUE(a1.ok() && a2.ok());
  absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> a3 =
      limiter.Acquire("a");
  EXPECT_EQ(a3.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryDelayOf(a3.status()), TenantLimiter::kRetryDelay);
  EXPECT_TRUE(limiter.Acquire("b").ok());
  EXPECT_EQ(limiter.in_flight("a"), 2);
}

TEST(TenantLimiterTest, DroppingAPermitFreesItsSlot) {
  TenantLimiter limiter(1);
  auto permit = limiter.Acquire("a");
  ASSERT_TRUE(permit.ok());
  EXPECT_FALSE(limiter.Acquire("a").ok());
  permit->reset();
  EXPECT_EQ(limiter.in_flight("a"), 0);
  EXPECT_TRUE(limiter.Acquire("a").ok());
}

}  // namespace
}  // namespace idem::api
