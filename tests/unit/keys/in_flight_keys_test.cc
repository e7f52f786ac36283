// The keys of calls in flight on this replica: a key stays while any call
// under it is unanswered, and leaves with the last, however its entry ends.
#include "service/keys/in_flight_keys.h"

#include <gtest/gtest.h>

#include <utility>

namespace idem::keys {
namespace {

TEST(InFlightKeysTest, AKeyLeavesWithItsLastCall) {
  InFlightKeys keys;
  InFlightKeys::Entry first = keys.Enter({"t", "k"});
  InFlightKeys::Entry second = keys.Enter({"t", "k"});
  EXPECT_TRUE(keys.Contains({"t", "k"}));
  EXPECT_FALSE(keys.Contains({"other", "k"}));  // scoped by tenant
  EXPECT_FALSE(keys.Contains({"t", "k2"}));

  first.Release();
  first.Release();  // once only: the second call still holds the key
  EXPECT_TRUE(keys.Contains({"t", "k"}));
  second.Release();
  EXPECT_FALSE(keys.Contains({"t", "k"}));
}

TEST(InFlightKeysTest, AnEntryMovedOrDroppedReleasesOnce) {
  InFlightKeys keys;
  {
    InFlightKeys::Entry moved;
    {
      InFlightKeys::Entry entry = keys.Enter({"t", "k"});
      moved = std::move(entry);
    }  // the moved-from entry holds nothing
    EXPECT_TRUE(keys.Contains({"t", "k"}));
    InFlightKeys::Entry other = keys.Enter({"t", "other"});
    moved = std::move(other);  // releases "k", takes over "other"
    EXPECT_FALSE(keys.Contains({"t", "k"}));
    EXPECT_TRUE(keys.Contains({"t", "other"}));
  }
  EXPECT_FALSE(keys.Contains({"t", "other"}));
}

}  // namespace
}  // namespace idem::keys
