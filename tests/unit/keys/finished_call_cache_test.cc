// The cache of finished calls: only finished records, never past their
// life, bounded in bytes.
#include "service/keys/finished_call_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/time/clock.h"

namespace idem::keys {
namespace {

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

TEST(FinishedCallCacheTest, AnswersWhatItWasGiven) {
  FinishedCallCache cache(Small());
  cache.Put({"t", "k"}, Finished("answer"), absl::Now());
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
  cache.Put({"t", "k"}, in_progress, absl::Now());
  EXPECT_FALSE(cache.Get({"t", "k"}) != nullptr);
}

TEST(FinishedCallCacheTest, NeverOutlivesTheRecordLessTheMargin) {
  FinishedCallCache cache(Small());
  // Observed two seconds ago with three seconds to live, less the one-second
  // margin: already over.
  cache.Put({"t", "old"}, Finished("a", absl::Seconds(3)),
            absl::Now() - absl::Seconds(2));
  EXPECT_FALSE(cache.Get({"t", "old"}) != nullptr);
  // A record that lives one second is never kept.
  cache.Put({"t", "short"}, Finished("a", absl::Seconds(1)), absl::Now());
  EXPECT_FALSE(cache.Get({"t", "short"}) != nullptr);
  cache.Put({"t", "live"}, Finished("a", absl::Minutes(1)), absl::Now());
  EXPECT_TRUE(cache.Get({"t", "live"}) != nullptr);
}

TEST(FinishedCallCacheTest, DropsTheOldestBeyondItsBytes) {
  FinishedCallCache cache(Small(2000));
  for (int i = 0; i < 10; ++i) {
    cache.Put({"t", std::to_string(i)}, Finished(std::string(500, 'x')),
              absl::Now());
  }
  EXPECT_FALSE(cache.Get({"t", "0"}) != nullptr);
  EXPECT_TRUE(cache.Get({"t", "9"}) != nullptr);
  // An entry larger than the whole cache is not kept.
  cache.Put({"t", "huge"}, Finished(std::string(5000, 'x')), absl::Now());
  EXPECT_FALSE(cache.Get({"t", "huge"}) != nullptr);
  EXPECT_TRUE(cache.Get({"t", "9"}) != nullptr);
}

TEST(FinishedCallCacheTest, ZeroBytesKeepsNothing) {
  FinishedCallCache cache(Small(0));
  cache.Put({"t", "k"}, Finished("a"), absl::Now());
  EXPECT_FALSE(cache.Get({"t", "k"}) != nullptr);
}

}  // namespace
}  // namespace idem::keys
