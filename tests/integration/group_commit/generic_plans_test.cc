// The server's sessions run prepared statements on generic plans, made once
// and kept however the tables grow (service/db/connection_pool.cc). This
// checks every statement a batch prepares: on its generic plan, each table
// is read through an index condition, never scanned whole, so a plan made
// while a table was empty stays right once it holds millions of rows.
#include <gtest/gtest.h>

#include <pqxx/transaction>
#include <regex>
#include <string>
#include <vector>

#include "service/db/transaction.h"
#include "tests/integration/group_commit/group_commit_fixture.h"

namespace idem::testing {
namespace {

using GenericPlansTest = GroupCommitTest;

// Table reads in an EXPLAIN text ("Seq Scan on t", "Index Scan using i on
// t", ...), not scans of a function, a CTE or a subquery.
int TableScans(const std::string& plan) {
  static const std::regex kScan(
      R"((Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan) (using \S+ )?on )");
  return static_cast<int>(
      std::distance(std::sregex_iterator(plan.begin(), plan.end(), kScan),
                    std::sregex_iterator()));
}

int IndexConditions(const std::string& plan) {
  int n = 0;
  for (size_t at = plan.find("Index Cond:"); at != std::string::npos;
       at = plan.find("Index Cond:", at + 1)) {
    ++n;
  }
  return n;
}

TEST_F(GenericPlansTest, EveryPreparedStatementReadsTablesByIndex) {
  // One session, so that it prepares every statement the calls need.
  db::PoolOptions options;
  options.url = DatabaseUrl();
  options.size = 1;
  db::ConnectionPool pool(options);
  context_.pool = &pool;

  std::vector<ops::WriteCall> first;
  first.push_back(PlainInsert(1, "a"));
  first.push_back(KeyedInsert("k1", 2, "b"));
  first.push_back(KeyedIncrement("k2"));
  ASSERT_TRUE(RunBatch(first)[1].status.ok());
  std::vector<ops::WriteCall> again;  // a replay, a duplicate, a conflict
  again.push_back(KeyedInsert("k1", 2, "b"));
  again.push_back(PlainInsert(1, "a"));
  again.push_back(PlainInsert(2, "other"));
  ASSERT_TRUE(RunBatch(again)[0].replayed);

  absl::Status checked = db::RunInTransaction(
      pool, [&](db::PgSession&, pqxx::work& txn) -> absl::Status {
        txn.exec0("SET LOCAL plan_cache_mode = force_generic_plan");
        pqxx::result statements = txn.exec(
            "SELECT name, statement, cardinality(parameter_types) "
            "FROM pg_prepared_statements ORDER BY name");
        EXPECT_GE(statements.size(), 4u) << "lookup, insert, record, update";
        for (const pqxx::row& statement : statements) {
          // A generic plan does not depend on the values: NULL for each.
          std::string nulls;
          for (int i = 0; i < statement[2].as<int>(); ++i) {
            nulls += i == 0 ? "NULL" : ", NULL";
          }
          std::string plan;
          for (const pqxx::row& line :
               txn.exec(std::string("EXPLAIN EXECUTE ") + statement[0].c_str() +
                        "(" + nulls + ")")) {
            plan += std::string(line[0].c_str()) + "\n";
          }
          EXPECT_EQ(plan.find("Seq Scan"), std::string::npos)
              << statement[1].c_str() << "\n"
              << plan;
          EXPECT_EQ(TableScans(plan), IndexConditions(plan))
              << "a table read without an index condition:\n"
              << statement[1].c_str() << "\n"
              << plan;
        }
        return absl::OkStatus();
      });
  EXPECT_TRUE(checked.ok()) << checked;
  context_.pool = pool_.get();
}

}  // namespace
}  // namespace idem::testing
