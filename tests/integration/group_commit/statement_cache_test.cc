// A session keeps a bounded number of prepared statements: Insert shapes
// grow with the column subsets callers send, so the least recently used
// statement is deallocated to make room, and every statement still runs.
#include <gtest/gtest.h>

#include <pqxx/nontransaction>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/db/pg_session.h"
#include "tests/support/test_database.h"

namespace idem::testing {
namespace {

TEST(StatementCacheTest, ALongRunningSessionKeepsABoundedNumber) {
  db::PgSession session(DatabaseUrl());
  auto prepared = [&] {
    pqxx::nontransaction txn(session.connection());
    return txn.exec1("SELECT count(*) FROM pg_prepared_statements")[0]
        .as<int>();
  };
  for (int i = 0; i < 600; ++i) {
    pqxx::nontransaction txn(session.connection());
    pqxx::result row =
        session.Exec(txn, absl::StrCat("SELECT $1::int + ", i), {"1"});
    ASSERT_EQ(row[0][0].as<int>(), i + 1);
  }
  EXPECT_LE(prepared(), 256);
  // The first statements were deallocated and come back when used again.
  pqxx::nontransaction txn(session.connection());
  EXPECT_EQ(session.Exec(txn, "SELECT $1::int + 0", {"7"})[0][0].as<int>(), 7);
}

}  // namespace
}  // namespace idem::testing
