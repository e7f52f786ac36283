#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "idem/keyed_call.h"
#include "idem/rows.h"
#include "idem/transaction.h"

namespace idem {
namespace {

using ::testing::MatchesRegex;

TEST(NewIdempotencyKey, IsARandomVersion4Uuid) {
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = NewIdempotencyKey();
    ASSERT_THAT(key, MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                                  "[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 1000u);
}

TEST(ExactlyOnce, WrapsTheCallWithANewOrGivenKey) {
  v1::UpdateRequest increment;
  increment.set_table("counters");
  *increment.mutable_key() = MakeRow({{"id", 7}});
  *increment.mutable_increment() = MakeRow({{"n", 1}});

  const v1::KeyedCallRequest fresh = ExactlyOnce(increment);
  EXPECT_EQ(fresh.idempotency_key().size(), 36u);
  EXPECT_EQ(fresh.update().SerializeAsString(), increment.SerializeAsString());
  EXPECT_NE(ExactlyOnce(increment).idempotency_key(), fresh.idempotency_key());

  const v1::KeyedCallRequest given = ExactlyOnce(increment, "msg-42");
  EXPECT_EQ(given.idempotency_key(), "msg-42");
  EXPECT_TRUE(given.has_update());

  v1::CopyFileRequest copy;
  copy.set_source_path("a");
  EXPECT_EQ(ExactlyOnce(copy, "k").copy_file().source_path(), "a");
  v1::InsertRequest insert;
  insert.set_table("t");
  EXPECT_EQ(ExactlyOnce(insert, "k").insert().table(), "t");
}

TEST(Transaction, BuildsItsStepsInOrder) {
  v1::InsertRequest order;
  order.set_table("orders");
  *order.add_rows() = MakeRow({{"id", 42}});
  v1::UpdateRequest stock;
  stock.set_table("stock");
  *stock.mutable_key() = MakeRow({{"sku", "A-1"}});
  *stock.mutable_increment() = MakeRow({{"count", -1}});

  const Transaction transaction = Transaction()
                                      .Insert(order)
                                      .Update(stock, /*require_applied=*/true)
                                      .Insert(order, /*require_applied=*/true);
  const v1::TransactionRequest& request = transaction.request();
  ASSERT_EQ(request.steps_size(), 3);
  EXPECT_EQ(request.steps(0).insert().SerializeAsString(),
            order.SerializeAsString());
  EXPECT_FALSE(request.steps(0).require_applied());
  EXPECT_EQ(request.steps(1).update().SerializeAsString(),
            stock.SerializeAsString());
  EXPECT_TRUE(request.steps(1).require_applied());
  EXPECT_TRUE(request.steps(2).has_insert());
  EXPECT_TRUE(request.steps(2).require_applied());

  const v1::KeyedCallRequest keyed = ExactlyOnce(request, "order-42");
  EXPECT_EQ(keyed.idempotency_key(), "order-42");
  EXPECT_EQ(keyed.transaction().steps_size(), 3);
  EXPECT_EQ(ExactlyOnce(request).idempotency_key().size(), 36u);
}

TEST(MakeRow, MapsCppValuesToValueKinds) {
  const std::string text = "hello";
  const v1::Row row = MakeRow({{"null", nullptr},
                               {"flag", true},
                               {"small", 7},
                               {"big", int64_t{1} << 40},
                               {"unsigned", 3u},
                               {"ratio", 0.5},
                               {"literal", "abc"},
                               {"text", text},
                               {"blob", Cell::Bytes(std::string("\0\1", 2))}});
  const auto& c = row.columns();
  EXPECT_TRUE(c.at("null").has_null_value());
  EXPECT_TRUE(c.at("flag").bool_value());
  EXPECT_EQ(c.at("small").int_value(), 7);
  EXPECT_EQ(c.at("big").int_value(), int64_t{1} << 40);
  EXPECT_EQ(c.at("unsigned").int_value(), 3);
  EXPECT_EQ(c.at("ratio").double_value(), 0.5);
  EXPECT_EQ(c.at("literal").string_value(), "abc");
  EXPECT_EQ(c.at("text").string_value(), "hello");
  EXPECT_EQ(c.at("blob").bytes_value(), std::string("\0\1", 2));
}

}  // namespace
}  // namespace idem
