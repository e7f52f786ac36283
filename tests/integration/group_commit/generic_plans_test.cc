// The server's sessions run prepared statements on generic plans, made once
// and kept however the tables grow (service/db/connection_pool.cc). This
// makes them as a fresh installation does, on empty tables in a database of
// the test's own, and checks every statement a batch prepared: each table
// is read through an index that alone selects the rows (an index condition
// and no filter), so the plan stays right once a table holds millions of
// rows. (A lookup that also filtered on expiry was read through the expiry
// index on an empty table: every live key of the tenant, later.)
#include <gtest/gtest.h>

#include <pqxx/transaction>
#include <regex>
#include <string>
#include <vector>

#include "service/db/transaction.h"
#include "service/ops/insert_op.h"
#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

int Count(const std::string& text, const std::regex& pattern) {
  return static_cast<int>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), pattern),
                    std::sregex_iterator()));
}

class GenericPlansTest : public GroupCommitTest {
 protected:
  // An upsert of one items row that replaces it only for a greater n.
  ops::WriteCall VersionedUpsert(int64_t id, int64_t n) {
    v1::InsertRequest request;
    request.set_table(items_);
    request.set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
    request.set_version_column("n");
    *request.add_rows() =
        RowOf({{"id", Int(id)}, {"note", Str("upsert")}, {"n", Int(n)}});
    absl::StatusOr<ops::PreparedInsert> insert =
        ops::PrepareInsert(context_, request);
    EXPECT_TRUE(insert.ok()) << insert.status();
    return ops::WriteCall{tenant_, *std::move(insert), std::nullopt};
  }

  void SetUp() override {
    tenant_ = TestDatabase::UniqueName("tenant");
    items_ = TestDatabase::UniqueName("plan_items");
    counters_ = TestDatabase::UniqueName("plan_counters");
    // One session, so that it prepares every statement the calls need.
    OpenOwnDatabase(1);
  }

  void TearDown() override { CloseOwnDatabase(); }
};

TEST_F(GenericPlansTest, EveryPreparedStatementReadsTablesByIndexAlone) {
  // Enough runs of each statement for PostgreSQL to settle on its generic
  // plan, while the tables are still (nearly) empty.
  for (int round = 0; round < 6; ++round) {
    const std::string n = std::to_string(round);
    std::vector<ops::WriteCall> calls;
    calls.push_back(PlainInsert(100 + round, "a"));
    calls.push_back(KeyedInsert("insert-" + n, 200 + round, "b"));
    calls.push_back(KeyedIncrement("increment-" + n));
    ASSERT_TRUE(RunBatch(calls)[1].status.ok());
    std::vector<ops::WriteCall> failing;  // run again, each claiming first
    failing.push_back(KeyedInsert("good-" + n, 300 + round, "c"));
    failing.push_back(KeyedInsert("negative-" + n, 400 + round, "d", -1));
    ASSERT_TRUE(RunBatch(failing)[0].status.ok());
    std::vector<ops::WriteCall> again;  // a replay, a duplicate, a conflict
    again.push_back(KeyedInsert("insert-" + n, 200 + round, "b"));
    again.push_back(PlainInsert(100 + round, "a"));
    again.push_back(PlainInsert(200 + round, "other"));
    again.push_back(VersionedUpsert(500 + round, 1));
    ASSERT_TRUE(RunBatch(again)[0].replayed);
  }

  static const std::regex kTableRead(
      R"((Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan) (using \S+ )?on )");
  static const std::regex kIndexCondition(R"(Index Cond: )");
  static const std::regex kFilter(R"(\n *Filter: )");
  int statements_seen = 0;
  absl::Status checked =
      db::RunInTransaction(*pool_, [&](db::Transaction& txn) -> absl::Status {
        txn.ExecScript("SET LOCAL plan_cache_mode = force_generic_plan");
        for (const pqxx::row& statement : txn.ExecScript(
                 "SELECT name, statement, cardinality(parameter_types) "
                 "FROM pg_prepared_statements ORDER BY name")) {
          ++statements_seen;
          // A generic plan does not depend on the values: NULL for each.
          std::string nulls;
          for (int i = 0; i < statement[2].as<int>(); ++i) {
            nulls += i == 0 ? "NULL" : ", NULL";
          }
          std::string plan;
          for (const pqxx::row& line :
               txn.ExecScript(std::string("EXPLAIN EXECUTE ") +
                              statement[0].c_str() + "(" + nulls + ")")) {
            plan += std::string(line[0].c_str()) + "\n";
          }
          const std::string where =
              std::string(statement[1].c_str()) + "\n" + plan;
          EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << where;
          EXPECT_EQ(Count(plan, kTableRead), Count(plan, kIndexCondition))
              << "a table read without an index condition:\n"
              << where;
          EXPECT_EQ(Count(plan, kFilter), 0) << "rows read and then filtered:\n"
                                             << where;
        }
        return absl::OkStatus();
      });
  EXPECT_TRUE(checked.ok()) << checked;
  // Lookup, two insert shapes, key record, claim, update (one statement).
  EXPECT_GE(statements_seen, 6);
}

}  // namespace
}  // namespace idem::testing
