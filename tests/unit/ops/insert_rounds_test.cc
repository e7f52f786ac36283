#include "service/ops/insert_rounds.h"

#include <gtest/gtest.h>

#include <vector>

namespace idem::ops {
namespace {

PreparedInsert Insert(size_t rows, bool keys_spelled_freely) {
  PreparedInsert insert;
  insert.row_count = rows;
  insert.keys_spelled_freely = keys_spelled_freely;
  return insert;
}

// Only a call whose own rows may spell one key two ways asks PostgreSQL:
// across the calls of a batch, text decides and a refusal runs each alone.
TEST(InsertRoundsTest, TypedCompareOnlyForOneCallWithSeveralFreeRows) {
  const PreparedInsert one_free = Insert(1, true);
  const PreparedInsert two_free = Insert(2, true);
  const PreparedInsert two_as_sent = Insert(2, false);
  EXPECT_FALSE(KeysNeedTypedCompare({&one_free, &one_free, &one_free}));
  EXPECT_FALSE(KeysNeedTypedCompare({&two_as_sent, &one_free}));
  EXPECT_TRUE(KeysNeedTypedCompare({&one_free, &two_free}));
}

TEST(InsertRoundsTest, RoundsOfPutsEachRowAfterItsEarlierKeys) {
  EXPECT_EQ(RoundsOf({0, 0, 1, 0, 2}),
            (std::vector<std::vector<size_t>>{{0, 1, 3}, {2}, {4}}));
  EXPECT_EQ(RoundsOf({0}), (std::vector<std::vector<size_t>>{{0}}));
}

}  // namespace
}  // namespace idem::ops
