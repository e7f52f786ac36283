// The cache of finished calls: only finished records, never past their
// life, bounded in bytes, never a forgotten key, and nothing while it may
// have missed a forget.
#include "service/keys/finished_call_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace idem::keys {
namespace {

using Clock = FinishedCallCache::Clock;

// A monotonic clock the test moves by hand.
struct FakeClock {
  Clock::time_point now = Clock::time_point() + std::chrono::hours(1000);
  void Advance(absl::Duration by) {
    now += std::chrono::duration_cast<Clock::duration>(
        absl::ToChronoNanoseconds(by));
  }
};

StoredCall Finished(const std::string& response,
                    absl::Duration expires_in = absl::Hours(24)) {
  StoredCall call;
  call.fingerprint = "fingerprint";
  call.done = true;
  call.response = response;
  call.expires_in = expires_in;
  return call;
}

FinishedCallCache::Options Small(size_t max_bytes = 1 << 20) {
  FinishedCallCache::Options options;
  options.max_bytes = max_bytes;
  return options;
}

// Ages count on the cache's monotonic clock, from when the record was
// observed: whatever the wall clock does meanwhile.
TEST(FinishedCallCacheTest, AgesOnItsMonotonicClock) {
  FakeClock clock;
  FinishedCallCache::Options options = Small();
  options.now = [&clock] { return clock.now; };
  FinishedCallCache cache(options);
  cache.Put({"t", "k"}, Finished("a", absl::Minutes(5)), clock.now);
  clock.Advance(absl::Minutes(3));
  EXPECT_NE(cache.Get({"t", "k"}), nullptr);
  clock.Advance(absl::Minutes(1) + absl::Seconds(58));  // 1 s margin left
  EXPECT_NE(cache.Get({"t", "k"}), nullptr);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.Get({"t", "k"}), nullptr);

  // Never longer than max_age (10 minutes), however long the record lives.
  cache.Put({"t", "long"}, Finished("a", absl::Hours(24)), clock.now);
  clock.Advance(absl::Minutes(9));
  EXPECT_NE(cache.Get({"t", "long"}), nullptr);
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ(cache.Get({"t", "long"}), nullptr);
}

TEST(FinishedCallCacheTest, AnswersWhatItWasGiven) {
  FinishedCallCache cache(Small());
  cache.Put({"t", "k"}, Finished("answer"), Clock::now());
  std::shared_ptr<const StoredCall> hit = cache.Get({"t", "k"});
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->response, "answer");
  EXPECT_FALSE(cache.Get({"other tenant", "k"}) != nullptr);
  EXPECT_FALSE(cache.Get({"t", "other key"}) != nullptr);
}

TEST(FinishedCallCacheTest, KeepsNothingInProgress) {
  FinishedCallCache cache(Small());
  StoredCall in_progress = Finished("");
  in_progress.done = false;
  cache.Put({"t", "k"}, in_progress, Clock::now());
  EXPECT_FALSE(cache.Get({"t", "k"}) != nullptr);
}

TEST(FinishedCallCacheTest, NeverOutlivesTheRecordLessTheMargin) {
  FinishedCallCache cache(Small());
  // Observed two seconds ago with three seconds to live, less the one-second
  // margin: already over.
  cache.Put({"t", "old"}, Finished("a", absl::Seconds(3)),
            Clock::now() - std::chrono::seconds(2));
  EXPECT_FALSE(cache.Get({"t", "old"}) != nullptr);
  // A record that lives one second is never kept.
  cache.Put({"t", "short"}, Finished("a", absl::Seconds(1)), Clock::now());
  EXPECT_FALSE(cache.Get({"t", "short"}) != nullptr);
  cache.Put({"t", "live"}, Finished("a", absl::Minutes(1)), Clock::now());
  EXPECT_TRUE(cache.Get({"t", "live"}) != nullptr);
}

TEST(FinishedCallCacheTest, DropsTheOldestBeyondItsBytes) {
  FinishedCallCache cache(Small(2000));
  for (int i = 0; i < 10; ++i) {
    cache.Put({"t", std::to_string(i)}, Finished(std::string(500, 'x')),
              Clock::now());
  }
  EXPECT_FALSE(cache.Get({"t", "0"}) != nullptr);
  EXPECT_TRUE(cache.Get({"t", "9"}) != nullptr);
  // An entry larger than the whole cache is not kept.
  cache.Put({"t", "huge"}, Finished(std::string(5000, 'x')), Clock::now());
  EXPECT_FALSE(cache.Get({"t", "huge"}) != nullptr);
  EXPECT_TRUE(cache.Get({"t", "9"}) != nullptr);
}

TEST(FinishedCallCacheTest, ZeroBytesKeepsNothing) {
  FinishedCallCache cache(Small(0));
  cache.Put({"t", "k"}, Finished("a"), Clock::now());
  EXPECT_FALSE(cache.Get({"t", "k"}) != nullptr);
}

TEST(FinishedCallCacheTest, ForgetsAnErasedKey) {
  FinishedCallCache cache(Small());
  cache.Put({"t", "k"}, Finished("a"), Clock::now());
  cache.Put({"t", "other"}, Finished("b"), Clock::now());
  cache.Erase({"t", "k"});
  EXPECT_EQ(cache.Get({"t", "k"}), nullptr);
  EXPECT_NE(cache.Get({"t", "other"}), nullptr);
}

// A call that read the record before its key was forgotten hands it over
// after the forget was heard: it must not enter.
TEST(FinishedCallCacheTest, RefusesARecordReadBeforeAnErase) {
  FakeClock clock;
  FinishedCallCache::Options options = Small();
  options.now = [&clock] { return clock.now; };
  FinishedCallCache cache(options);
  const Clock::time_point read_at = clock.now;
  clock.Advance(absl::Milliseconds(5));
  cache.Erase({"t", "k"});
  cache.Put({"t", "k"}, Finished("a"), read_at);
  EXPECT_EQ(cache.Get({"t", "k"}), nullptr);
  clock.Advance(absl::Milliseconds(5));
  cache.Put({"t", "k"}, Finished("a"), clock.now);  // read after the erase
  EXPECT_NE(cache.Get({"t", "k"}), nullptr);
}

TEST(FinishedCallCacheTest, ServesNothingWhileOffAndStartsEmpty) {
  FakeClock clock;
  FinishedCallCache::Options options = Small();
  options.now = [&clock] { return clock.now; };
  FinishedCallCache cache(options);
  EXPECT_TRUE(cache.usage().serving);
  cache.Put({"t", "k"}, Finished("a"), clock.now);
  const Clock::time_point read_while_on = clock.now;

  cache.SetServing(false);
  EXPECT_FALSE(cache.usage().serving);
  EXPECT_EQ(cache.usage().bytes, 0u);
  EXPECT_EQ(cache.Get({"t", "k"}), nullptr);
  clock.Advance(absl::Milliseconds(5));
  const Clock::time_point read_while_off = clock.now;
  cache.Put({"t", "off"}, Finished("a"), read_while_off);
  EXPECT_EQ(cache.Get({"t", "off"}), nullptr);

  clock.Advance(absl::Milliseconds(5));
  cache.SetServing(true);
  EXPECT_EQ(cache.Get({"t", "k"}), nullptr);
  // Reads from before it was on again may be of keys forgotten unheard.
  cache.Put({"t", "k"}, Finished("a"), read_while_on);
  cache.Put({"t", "off"}, Finished("a"), read_while_off);
  EXPECT_EQ(cache.Get({"t", "k"}), nullptr);
  EXPECT_EQ(cache.Get({"t", "off"}), nullptr);
  cache.Put({"t", "k"}, Finished("a"), clock.now);
  EXPECT_NE(cache.Get({"t", "k"}), nullptr);
}

// Past the lease its listener last renewed, the cache answers nothing: a
// forget it has not heard yet may have been answered by then. It keeps
// what it holds, and answers again once the lease is renewed.
TEST(FinishedCallCacheTest, AnswersNothingPastItsLease) {
  FakeClock clock;
  FinishedCallCache::Options options = Small();
  options.now = [&clock] { return clock.now; };
  FinishedCallCache cache(options);
  cache.Put({"t", "k"}, Finished("a"), clock.now);
  cache.ServeUntil(clock.now + std::chrono::milliseconds(500));
  clock.Advance(absl::Milliseconds(499));
  EXPECT_NE(cache.Get({"t", "k"}), nullptr);
  EXPECT_TRUE(cache.usage().serving);
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(cache.Get({"t", "k"}), nullptr);
  EXPECT_FALSE(cache.usage().serving);
  cache.ServeUntil(clock.now + std::chrono::milliseconds(500));
  EXPECT_NE(cache.Get({"t", "k"}), nullptr);
}

}  // namespace
}  // namespace idem::keys
