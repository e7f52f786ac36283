// db::Transaction, the unit of work every write runs in: each kind of
// statement may be the first of a transaction, and whichever it is, it sees
// exactly the values sent, in both statement modes (prepared, and unnamed
// with per-transaction settings for PgBouncer); a unit of work that fails at
// any statement, or whose body gives up, leaves nothing behind and its
// session serves the next one.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <pqxx/binarystring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "service/common/error_reason.h"
#include "service/common/retry_delay.h"
#include "service/db/connection_pool.h"
#include "service/db/transaction.h"
#include "tests/integration/group_commit/group_commit_fixture.h"

namespace idem::testing {
namespace {

// Text that quoting must carry as it is: quotes, backslashes, what looks
// like an array or a placeholder, a statement separator, non-ASCII.
const std::vector<db::TextParam>& AwkwardValues() {
  static const auto* values = new std::vector<db::TextParam>{
      std::string("it's"),
      std::string("back\\slash \\x00 E'\\n'"),
      std::nullopt,
      std::string(""),
      std::string("{\"a,b\",NULL}"),
      std::string("$1; COMMIT; SELECT 1"),
      std::string("gr\xC3\xBC\xC3\x9F dich \xE2\x9C\x93"),
  };
  return *values;
}

constexpr char kEchoSql[] =
    "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, "
    "$7::text";

class UnitOfWorkTest : public GroupCommitTest,
                       public ::testing::WithParamInterface<db::StatementMode> {
 protected:
  void SetUp() override {
    GroupCommitTest::SetUp();
    db::PoolOptions options;
    options.url = DatabaseUrl();
    options.size = 1;  // every unit of work on the same session
    options.statements = GetParam();
    work_pool_ = std::make_unique<db::ConnectionPool>(options);
  }

  // One unit of work on the test's session.
  absl::Status Unit(const std::function<absl::Status(db::Transaction&)>& body) {
    return db::RunInTransaction(*work_pool_, body);
  }

  // Inserts items row `id` with n = `n` (refused below 0) in `txn`.
  void InsertItem(db::Transaction& txn, int id, int n) {
    txn.Exec("INSERT INTO " + items_ + " VALUES ($1, 'x', $2)",
             {std::to_string(id), std::to_string(n)});
  }

  std::string Rows() { return db_.Scalar("SELECT count(*) FROM " + items_); }

  std::unique_ptr<db::ConnectionPool> work_pool_;
};

// Checks that `row` holds AwkwardValues() in order.
void ExpectAwkwardValues(const pqxx::row& row) {
  const std::vector<db::TextParam>& sent = AwkwardValues();
  ASSERT_EQ(row.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    if (!sent[i].has_value()) {
      EXPECT_TRUE(row[static_cast<int>(i)].is_null()) << "column " << i;
    } else {
      EXPECT_EQ(row[static_cast<int>(i)].c_str(), *sent[i]) << "column " << i;
    }
  }
}

TEST_P(UnitOfWorkTest, TheFirstStatementSeesTheValuesSent) {
  for (int run = 0; run < 2; ++run) {  // the statement new, then prepared
    absl::Status done = Unit([&](db::Transaction& txn) {
      ExpectAwkwardValues(txn.Exec(kEchoSql, AwkwardValues())[0]);
      ExpectAwkwardValues(txn.Exec(kEchoSql, AwkwardValues())[0]);
      return absl::OkStatus();
    });
    ASSERT_TRUE(done.ok()) << done;
  }
  absl::Status unprepared = Unit([&](db::Transaction& txn) {
    ExpectAwkwardValues(txn.ExecUnprepared(kEchoSql, AwkwardValues())[0]);
    return absl::OkStatus();
  });
  ASSERT_TRUE(unprepared.ok()) << unprepared;
}

TEST_P(UnitOfWorkTest, BytesAndArraysArriveWhole) {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  absl::Status done = Unit([&](db::Transaction& txn) {
    pqxx::result echoed = txn.Exec(
        "SELECT decode($1, 'hex'), array_length($2::text[], 1), "
        "($2::text[])[2]",
        {absl::BytesToHexString(bytes), std::string("{a,\"b'\\\\c\"}")});
    EXPECT_EQ(pqxx::binarystring(echoed[0][0]).str(), bytes);
    EXPECT_EQ(echoed[0][1].as<int>(), 2);
    EXPECT_EQ(std::string(echoed[0][2].c_str()), "b'\\c");
    return absl::OkStatus();
  });
  ASSERT_TRUE(done.ok()) << done;
}

TEST_P(UnitOfWorkTest, EveryStatementIsInsideOneTransaction) {
  // Two statements of one unit of work see the same transaction, whichever
  // kind came first.
  absl::Status done = Unit([&](db::Transaction& txn) {
    txn.SetLockTimeout(absl::Seconds(3));
    const std::string first =
        txn.Exec("SELECT txid_current()::text", {})[0][0].c_str();
    EXPECT_EQ(txn.ExecScript("SELECT txid_current()::text")[0][0].c_str(),
              first);
    EXPECT_EQ(std::string(txn.ExecScript("SHOW lock_timeout")[0][0].c_str()),
              "3s");
    return absl::OkStatus();
  });
  ASSERT_TRUE(done.ok()) << done;
  // The setting was the transaction's own.
  absl::Status after = Unit([&](db::Transaction& txn) {
    EXPECT_NE(std::string(txn.ExecScript("SHOW lock_timeout")[0][0].c_str()),
              "3s");
    return absl::OkStatus();
  });
  ASSERT_TRUE(after.ok()) << after;
}

TEST_P(UnitOfWorkTest, AFailedFirstStatementLeavesNothingAndTheSessionServes) {
  absl::Status failed = Unit([&](db::Transaction& txn) {
    InsertItem(txn, 1, -1);
    return absl::OkStatus();
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kFailedPrecondition) << failed;
  absl::Status written = Unit([&](db::Transaction& txn) {
    InsertItem(txn, 2, 0);
    return absl::OkStatus();
  });
  ASSERT_TRUE(written.ok()) << written;
  EXPECT_EQ(Rows(), "1");
}

TEST_P(UnitOfWorkTest, ALaterFailureOrAGivenUpBodyUndoesTheFirstStatement) {
  absl::Status failed = Unit([&](db::Transaction& txn) {
    InsertItem(txn, 1, 0);
    txn.ExecScript("SELECT 1 / 0");
    return absl::OkStatus();
  });
  EXPECT_FALSE(failed.ok());
  absl::Status given_up = Unit([&](db::Transaction& txn) {
    InsertItem(txn, 2, 0);
    return absl::AbortedError("the body gives up");
  });
  EXPECT_EQ(given_up.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Rows(), "0");
  absl::Status savepointed = Unit([&](db::Transaction& txn) {
    absl::Status inner = txn.InSavepoint([&] {
      InsertItem(txn, 3, -1);
      return absl::OkStatus();
    });
    EXPECT_FALSE(inner.ok());
    InsertItem(txn, 4, 0);
    return absl::OkStatus();
  });
  ASSERT_TRUE(savepointed.ok()) << savepointed;
  EXPECT_EQ(Rows(), "1");
}

TEST_P(UnitOfWorkTest, AUnitOfWorkWithoutStatementsSucceeds) {
  absl::Status empty = Unit([](db::Transaction&) { return absl::OkStatus(); });
  EXPECT_TRUE(empty.ok()) << empty;
  absl::Status next = Unit([&](db::Transaction& txn) {
    EXPECT_EQ(txn.Exec("SELECT 7", {})[0][0].as<int>(), 7);
    return absl::OkStatus();
  });
  EXPECT_TRUE(next.ok()) << next;
}

INSTANTIATE_TEST_SUITE_P(BothStatementModes, UnitOfWorkTest,
                         ::testing::Values(db::StatementMode::kPrepared,
                                           db::StatementMode::kUnnamed));

}  // namespace
}  // namespace idem::testing

namespace idem::testing {
namespace {

// Every connection busy past the acquire timeout: UNAVAILABLE
// DATABASE_UNAVAILABLE with a retry delay (brief 8.1: a RetryInfo whenever
// retrying after a delay is right), so clients wait instead of retrying at
// once into the same full pool.
TEST(ConnectionPoolTest, AFullPoolAsksForARetryAfterADelay) {
  db::PoolOptions options;
  options.url = DatabaseUrl();
  options.size = 1;
  options.acquire_timeout = absl::Milliseconds(50);
  db::ConnectionPool pool(options);
  absl::StatusOr<db::ConnectionPool::Lease> held = pool.Acquire();
  ASSERT_TRUE(held.ok()) << held.status();
  absl::StatusOr<db::ConnectionPool::Lease> refused = pool.Acquire();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReasonOf(refused.status()).value_or(""), "DATABASE_UNAVAILABLE");
  EXPECT_TRUE(RetryDelayOf(refused.status()).has_value()) << refused.status();
}

}  // namespace
}  // namespace idem::testing
