// idem through PgBouncer 1.18 in transaction mode (the "pgbouncer" CTest
// fixture, scripts/pgbouncer-local): IDEM_PREPARED_STATEMENTS=false sends
// every statement unnamed and sets the timeouts inside each transaction,
// so calls work whichever server connection PgBouncer lends, and no
// setting of idem's is left behind on a connection another client gets.
// PgBouncer has 3 server connections for the 12 of idem's pool. The replay
// cache's forget listener connects to PostgreSQL directly
// (IDEM_NOTIFY_DATABASE_URL): it refuses a session through PgBouncer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/keyed/keyed_fixture.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem::testing::keyed {
namespace {

std::string PgBouncerUrl() {
  const char* url = std::getenv("IDEM_TEST_PGBOUNCER_URL");
  return url != nullptr ? url : "";
}

class PgBouncerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = std::make_unique<TestDatabase>();
    table_ = TestDatabase::UniqueName("pgbouncer");
    db_->Exec("CREATE TABLE " + table_ +
              " (id bigint PRIMARY KEY, n bigint NOT NULL DEFAULT 0, note "
              "text)");
    server_ = ServerProcess::Start(
        {.env =
             ServerEnv({table_}, {{"IDEM_DATABASE_URL", PgBouncerUrl()},
                                  {"IDEM_NOTIFY_DATABASE_URL", DatabaseUrl()},
                                  {"IDEM_PREPARED_STATEMENTS", "false"},
                                  {"IDEM_POOL_SIZE", "12"},
                                  {"IDEM_WORKERS", "8"},
                                  {"IDEM_BATCH_THREADS", "4"},
                                  {"IDEM_LOCK_TIMEOUT", "1s"}}),
         .args = {}});
  }
  static void TearDownTestSuite() {
    server_.reset();
    db_.reset();
  }

  std::unique_ptr<v1::IdemService::Stub> stub_ = server_->Stub();
  static std::unique_ptr<TestDatabase> db_;
  static std::unique_ptr<ServerProcess> server_;
  static std::string table_;
};

std::unique_ptr<TestDatabase> PgBouncerTest::db_;
std::unique_ptr<ServerProcess> PgBouncerTest::server_;
std::string PgBouncerTest::table_;

TEST_F(PgBouncerTest, InsertThenDuplicate) {
  v1::InsertRequest insert;
  insert.set_table(table_);
  *insert.add_rows() = RowOf({{"id", Int(100)}, {"note", Str("a")}});
  for (v1::RowOutcome want :
       {v1::ROW_OUTCOME_INSERTED, v1::ROW_OUTCOME_DUPLICATE}) {
    grpc::ClientContext context;
    v1::InsertResponse response;
    grpc::Status status = stub_->Insert(&context, insert, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.outcomes_size(), 1);
    EXPECT_EQ(response.outcomes(0), want);
  }
}

TEST_F(PgBouncerTest, KeyedInsertReplays) {
  const std::string key = TestDatabase::UniqueName("insert");
  v1::KeyedCallRequest request =
      InsertRow(key, table_, {{"id", Int(200)}, {"note", Str("keyed")}});
  Answer first = Call(*stub_, request);
  ExpectExecuted(first);
  ExpectReplayOf(Call(*stub_, request), first);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM " + table_ + " WHERE id = 200"),
            "1");
}

TEST_F(PgBouncerTest, UpdateAndKeyedIncrement) {
  db_->Exec("INSERT INTO " + table_ + " VALUES (300, 0, NULL)");
  v1::UpdateRequest update;
  update.set_table(table_);
  *update.mutable_key() = RowOf({{"id", Int(300)}});
  *update.mutable_set() = RowOf({{"note", Str("set")}});
  grpc::ClientContext context;
  v1::UpdateResponse response;
  ASSERT_TRUE(stub_->Update(&context, update, &response).ok());
  EXPECT_EQ(response.outcome(), v1::UPDATE_OUTCOME_UPDATED);

  const std::string key = TestDatabase::UniqueName("increment");
  Answer first = Call(*stub_, Increment(key, table_, 300, 5));
  ExpectExecuted(first);
  ExpectReplayOf(Call(*stub_, Increment(key, table_, 300, 5)), first);
  EXPECT_EQ(db_->Scalar("SELECT n FROM " + table_ + " WHERE id = 300"), "5");
}

// 16 callers, 12 idem connections, 3 server connections: every
// transaction of idem's may land on another server connection.
TEST_F(PgBouncerTest, ConcurrentKeyedIncrementsApplyOnce) {
  db_->Exec("INSERT INTO " + table_ + " VALUES (400, 0, NULL)");
  const std::string prefix = TestDatabase::UniqueName("many");
  constexpr int kThreads = 16;
  constexpr int kCalls = 25;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = server_->Stub();
      for (int i = 0; i < kCalls; ++i) {
        v1::KeyedCallRequest request = Increment(
            prefix + "-" + std::to_string(t) + "-" + std::to_string(i), table_,
            400);
        // Each key twice: the second call replays.
        if (!CallUntilSettled(*stub, request).ok()) ++failed;
        if (!CallUntilSettled(*stub, request).ok()) ++failed;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(db_->Scalar("SELECT n FROM " + table_ + " WHERE id = 400"),
            std::to_string(kThreads * kCalls));
}

// Runs `call` on a context with a 20 s deadline and checks that it gave up
// on a row lock (ABORTED) after IDEM_LOCK_TIMEOUT, well before the deadline.
void ExpectGivesUpOnTheLock(
    const std::function<grpc::Status(grpc::ClientContext&)>& call) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  auto start = std::chrono::steady_clock::now();
  grpc::Status status = call(context);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED)
      << status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// lock_timeout reaches the server connection that runs the transaction
// (SET LOCAL): a call behind a row lock gives up after IDEM_LOCK_TIMEOUT.
TEST_F(PgBouncerTest, LockTimeoutHoldsInEveryTransaction) {
  db_->Exec("INSERT INTO " + table_ + " VALUES (500, 0, NULL)");
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT 1 FROM " + table_ + " WHERE id = 500 FOR UPDATE");
  for (int i = 0; i < 4; ++i) {
    v1::UpdateRequest update;
    update.set_table(table_);
    *update.mutable_key() = RowOf({{"id", Int(500)}});
    *update.mutable_set() = RowOf({{"note", Str("blocked")}});
    ExpectGivesUpOnTheLock([&](grpc::ClientContext& context) {
      v1::UpdateResponse response;
      return stub_->Update(&context, update, &response);
    });
  }
}

// A lone insert runs as one statement; it too waits for a row no longer
// than IDEM_LOCK_TIMEOUT, and writes nothing when it gives up.
TEST_F(PgBouncerTest, LockTimeoutHoldsForALoneInsert) {
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("INSERT INTO " + table_ + " VALUES (501, 0, 'holder')");
  v1::InsertRequest insert;
  insert.set_table(table_);
  *insert.add_rows() = RowOf({{"id", Int(501)}, {"note", Str("blocked")}});
  ExpectGivesUpOnTheLock([&](grpc::ClientContext& context) {
    v1::InsertResponse response;
    return stub_->Insert(&context, insert, &response);
  });
  lock.abort();
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM " + table_ + " WHERE id = 501"),
            "0");
}

// What a later client of PgBouncer's server connections sees: PostgreSQL's
// defaults, no statement of idem's prepared.
TEST_F(PgBouncerTest, NoSessionStateLeftOnServerConnections) {
  Call(*stub_, Increment(TestDatabase::UniqueName("warm"), table_, 300));
  pqxx::connection other(PgBouncerUrl());
  for (int i = 0; i < 12; ++i) {
    pqxx::nontransaction txn(other);
    pqxx::row row = txn.exec1(
        "SELECT current_setting('lock_timeout'), "
        "current_setting('statement_timeout'), "
        "current_setting('enable_seqscan'), "
        "(SELECT count(*) FROM pg_prepared_statements)");
    EXPECT_EQ(row[0].as<std::string>(), "0");
    EXPECT_EQ(row[1].as<std::string>(), "0");
    EXPECT_EQ(row[2].as<std::string>(), "on");
    EXPECT_EQ(row[3].as<int>(), 0);
  }
}

// The forget goes through PgBouncer, the listener past it: the key this
// replica remembered is dropped, and the next call under it runs again.
TEST_F(PgBouncerTest, AKeyForgottenThroughPgBouncerRunsAgain) {
  const std::string key = TestDatabase::UniqueName("forget");
  const v1::KeyedCallRequest request = Increment(key, table_, 500);
  const Answer first = Call(*stub_, request);
  ExpectExecuted(first);
  ExpectReplayOf(Call(*stub_, request), first);
  grpc::ClientContext context;
  v1::ForgetKeyRequest forget;
  forget.set_idempotency_key(key);
  v1::ForgetKeyResponse response;
  ASSERT_TRUE(stub_->ForgetKey(&context, forget, &response).ok());
  EXPECT_TRUE(response.forgotten());
  ExpectExecuted(Call(*stub_, request));
}

// A LISTEN through PgBouncer in transaction mode would hear nothing once
// PgBouncer lends its server connection to another client: the listener
// refuses such a session, leaves no LISTEN on it, and the replay cache
// stays off, so that every replay reads the database.
TEST_F(PgBouncerTest, ForgetListenerRefusesASessionThroughPgBouncer) {
  std::unique_ptr<ServerProcess> server = ServerProcess::Start(
      {.env = ServerEnv({table_}, {{"IDEM_DATABASE_URL", PgBouncerUrl()},
                                   {"IDEM_PREPARED_STATEMENTS", "false"}}),
       .args = {}});
  // The server waited for the listener, which said why it does not listen.
  EXPECT_NE(server->Log().find("is a connection pooler in between?"),
            std::string::npos)
      << server->Log();
  const v1::KeyedCallRequest request =
      Increment(TestDatabase::UniqueName("unlistened"), table_, 400);
  Answer first = Call(*server->Stub(), request);
  ExpectReplayOf(Call(*server->Stub(), request), first);
  pqxx::connection other(PgBouncerUrl());
  for (int i = 0; i < 6; ++i) {
    pqxx::nontransaction txn(other);
    EXPECT_EQ(
        txn.exec1("SELECT count(*) FROM pg_listening_channels()")[0].as<int>(),
        0);
  }
}

// Prepared statements (the default) through a pooler in transaction mode
// collide with other clients' or vanish with the server connection: every
// call would fail (42P05, 26000). A start through a pooler says so at once,
// naming the setting; the suite's server, with them off, does not.
TEST_F(PgBouncerTest, PreparedStatementsThroughAPoolerAreNamedAtStart) {
  std::unique_ptr<ServerProcess> server = ServerProcess::Start(
      {.env =
           ServerEnv({table_}, {{"IDEM_DATABASE_URL", PgBouncerUrl()},
                                {"IDEM_NOTIFY_DATABASE_URL", DatabaseUrl()}}),
       .args = {}});
  EXPECT_NE(server->Log().find(R"("event":"pooler")"), std::string::npos)
      << server->Log();
  EXPECT_NE(server->Log().find("IDEM_PREPARED_STATEMENTS=false"),
            std::string::npos)
      << server->Log();
  EXPECT_EQ(server_->Log().find(R"("event":"pooler")"), std::string::npos)
      << server_->Log();
}

}  // namespace
}  // namespace idem::testing::keyed
