#include "service/db/insert_sql_cache.h"

#include <memory>

#include "gtest/gtest.h"

namespace idem::db {
namespace {

std::shared_ptr<const Table> ItemsTable() {
  auto table = std::make_shared<Table>();
  table->name = "public.items";
  table->sql_name = "\"public\".\"items\"";
  table->columns = {
      {"id", "bigint", "bigint", "bigint", "int8", 'N', true, false},
      {"name", "text", "text", "text", "text", 'S', false, false}};
  table->primary_key = {0};
  return table;
}

InsertShape ShapeOf(const std::shared_ptr<const Table>& table,
                    std::vector<size_t> columns) {
  InsertShape shape;
  shape.table = table.get();
  shape.columns = std::move(columns);
  return shape;
}

TEST(InsertSqlCacheTest, GivesTheBuiltSqlOfEachShape) {
  InsertSqlCache cache;
  std::shared_ptr<const Table> table = ItemsTable();
  for (const InsertShape& shape :
       {ShapeOf(table, {0}), ShapeOf(table, {0, 1})}) {
    const InsertSql built = BuildInsertSql(shape);
    std::shared_ptr<const InsertSql> cached = cache.Get(table, shape);
    EXPECT_EQ(cached->write, built.write);
    EXPECT_EQ(cached->classify, built.classify);
    EXPECT_EQ(cached->returning, built.returning);
  }
  EXPECT_EQ(cache.size(), 2u);
}

TEST(InsertSqlCacheTest, BuildsAShapeOnce) {
  InsertSqlCache cache;
  std::shared_ptr<const Table> table = ItemsTable();
  std::shared_ptr<const InsertSql> first =
      cache.Get(table, ShapeOf(table, {0}));
  EXPECT_EQ(cache.Get(table, ShapeOf(table, {0})), first);
  InsertShape upsert = ShapeOf(table, {0, 1});
  upsert.do_update = true;
  EXPECT_NE(cache.Get(table, upsert), cache.Get(table, ShapeOf(table, {0, 1})));
}

TEST(InsertSqlCacheTest, AReloadedTableGetsItsOwnSql) {
  InsertSqlCache cache;
  std::shared_ptr<const Table> before = ItemsTable();
  std::shared_ptr<const InsertSql> old =
      cache.Get(before, ShapeOf(before, {1}));
  auto renamed = std::make_shared<Table>(*before);
  renamed->columns[1].name = "title";
  std::shared_ptr<const Table> after = renamed;
  std::shared_ptr<const InsertSql> fresh =
      cache.Get(after, ShapeOf(after, {1}));
  EXPECT_NE(fresh->write.find("\"title\""), std::string::npos) << fresh->write;
  EXPECT_EQ(old->write.find("\"title\""), std::string::npos);
}

TEST(InsertSqlCacheTest, StaysWithinItsCapacity) {
  InsertSqlCache cache(/*capacity=*/2);
  std::shared_ptr<const Table> table = ItemsTable();
  cache.Get(table, ShapeOf(table, {0}));
  cache.Get(table, ShapeOf(table, {1}));
  std::shared_ptr<const InsertSql> third =
      cache.Get(table, ShapeOf(table, {0, 1}));
  EXPECT_LE(cache.size(), 2u);
  EXPECT_EQ(third->write, BuildInsertSql(ShapeOf(table, {0, 1})).write);
}

}  // namespace
}  // namespace idem::db
