#include "service/api/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace idem {
namespace {

// A tenant whose tasks block keeps one thread free for the others, and a
// free thread takes the task of the tenant that runs the fewest, whatever
// the order of submission.
TEST(WorkerPoolTest, OneTenantNeverHoldsEveryThread) {
  absl::Notification release;
  std::atomic<int> blocked_started{0};
  absl::Notification other_ran;
  {
    WorkerPool pool(3, 100);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(pool.Submit("blocking", [&] {
        ++blocked_started;
        release.WaitForNotification();
      }));
    }
    ASSERT_TRUE(pool.Submit("other", [&] { other_ran.Notify(); }));
    // The old pool gave the blocking tenant all three threads.
    EXPECT_TRUE(other_ran.WaitForNotificationWithTimeout(absl::Seconds(20)));
    EXPECT_LE(blocked_started.load(), 2);
    release.Notify();
  }  // the destructor runs the rest
  EXPECT_EQ(blocked_started.load(), 5);
}

// With one thread, a tenant may use it: the share never drops below one.
TEST(WorkerPoolTest, ASingleThreadRunsEveryTenant) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(1, 100);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(pool.Submit("only", [&] { ++ran; }));
    }
  }
  EXPECT_EQ(ran.load(), 3);
}

TEST(WorkerPoolTest, AFullQueueRefuses) {
  absl::Notification release;
  WorkerPool pool(1, 1);
  ASSERT_TRUE(pool.Submit("a", [&] { release.WaitForNotification(); }));
  // The first task may not have been taken yet: fill the queue either way.
  bool refused = false;
  for (int i = 0; i < 3 && !refused; ++i) refused = !pool.Submit("b", [] {});
  EXPECT_TRUE(refused);
  release.Notify();
}

}  // namespace
}  // namespace idem
