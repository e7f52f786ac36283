#include "service/api/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
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

// Threads are kept free for tenants that run nothing: when two tenants'
// tasks block, a third still runs. Sixteen threads keep two: the first
// tenant runs on fourteen, the second on one, the third on the last.
TEST(WorkerPoolTest, TwoBlockingTenantsLeaveAThreadToAThird) {
  absl::Notification release;
  std::atomic<int> first_started{0};
  std::atomic<int> second_started{0};
  absl::Notification third_ran;
  auto blocking = [&](std::atomic<int>& started) {
    return [&] {
      ++started;
      release.WaitForNotification();
    };
  };
  auto reaches = [](const std::atomic<int>& started, int count) {
    for (int i = 0; i < 2000 && started.load() < count; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return started.load() >= count;
  };
  {
    WorkerPool pool(16, 100);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(pool.Submit("first", blocking(first_started)));
    }
    ASSERT_TRUE(reaches(first_started, 14));
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(pool.Submit("second", blocking(second_started)));
    }
    ASSERT_TRUE(reaches(second_started, 1));
    ASSERT_TRUE(pool.Submit("third", [&] { third_ran.Notify(); }));
    // The old pool gave the first tenant fifteen threads and the second the
    // last one.
    EXPECT_TRUE(third_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
    EXPECT_LE(first_started.load(), 14);
    EXPECT_LE(second_started.load(), 1);
    release.Notify();
  }
  EXPECT_EQ(first_started.load(), 20);
  EXPECT_EQ(second_started.load(), 5);
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
