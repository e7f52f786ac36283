// Limits that keep one caller from hurting the others: calls in flight per
// tenant, message size, rows per request, key length.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <pqxx/transaction>
#include <thread>
#include <vector>

#include "tests/security/security_env.h"
#include "tests/support/polling.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem::testing {
namespace {

constexpr char kNoisy[] = "noisy-token";
constexpr char kQuiet[] = "quiet-token";
constexpr int kMaxInFlight = 2;
constexpr int kMaxRows = 3;
constexpr int kMaxMessageBytes = 4096;

class LimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestDatabase db;
    locked_ = new std::string(TestDatabase::UniqueName("limits_locked"));
    free_ = new std::string(TestDatabase::UniqueName("limits_free"));
    for (const std::string* t : {locked_, free_}) {
      db.Exec("CREATE TABLE " + *t + " (id bigint PRIMARY KEY, note text)");
    }
    server_ =
        StartServerWith(
            {{"IDEM_AUTH_TOKENS",
              WriteTokensFile({{kNoisy, "", "noisy"}, {kQuiet, "", "quiet"}})},
             {"IDEM_TABLES", *locked_ + "," + *free_},
             {"IDEM_TENANT_MAX_IN_FLIGHT", std::to_string(kMaxInFlight)},
             {"IDEM_MAX_ROWS", std::to_string(kMaxRows)},
             {"IDEM_MAX_MESSAGE_BYTES", std::to_string(kMaxMessageBytes)},
             // Calls parked behind the test's table lock wait for
             // the test, not for a timeout.
             {"IDEM_LOCK_TIMEOUT", "10m"},
             // One call per transaction, so that each parked call shows
             // as a lock waiter of its own.
             {"IDEM_BATCH_MAX_CALLS", "1"},
             {"IDEM_STATEMENT_TIMEOUT", "10m"}})
            .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete locked_;
    delete free_;
  }

  grpc::Status Insert(const std::string& token,
                      const v1::InsertRequest& request,
                      grpc::ClientContext* context = nullptr) {
    std::unique_ptr<grpc::ClientContext> own = CallContext(token);
    v1::InsertResponse response;
    return server_->Stub()->Insert(context ? context : own.get(), request,
                                   &response);
  }
  v1::InsertRequest OneRow(const std::string& table, int id,
                           const std::string& note = "") {
    return InsertOf(table, {RowOf({{"id", Int(id)}, {"note", Str(note)}})});
  }

  static ServerProcess* server_;
  static std::string* locked_;
  static std::string* free_;
  TestDatabase db_;
};

ServerProcess* LimitsTest::server_ = nullptr;
std::string* LimitsTest::locked_ = nullptr;
std::string* LimitsTest::free_ = nullptr;

TEST_F(LimitsTest, ANoisyTenantIsCappedWhileAnotherIsServed) {
  // Park kMaxInFlight of the noisy tenant's calls behind a table lock.
  pqxx::connection blocker(DatabaseUrl());
  auto lock = std::make_unique<pqxx::work>(blocker);
  lock->exec("LOCK TABLE " + *locked_ + " IN ACCESS EXCLUSIVE MODE");
  std::vector<std::thread> parked;
  std::vector<grpc::Status> parked_status(kMaxInFlight);
  for (int i = 0; i < kMaxInFlight; ++i) {
    parked.emplace_back([&, i] {
      parked_status[i] = Insert(kNoisy, OneRow(*locked_, 100 + i));
    });
  }
  // Both are in flight once PostgreSQL shows them waiting for the lock.
  const std::string waiting =
      "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '" +
      *locked_ + "'::regclass";
  for (int polls = 0; db_.Scalar(waiting) != std::to_string(kMaxInFlight);
       ++polls) {
    ASSERT_LT(polls, 3000) << "the parked calls never reached the lock";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  std::unique_ptr<grpc::ClientContext> refused = CallContext(kNoisy);
  grpc::Status over = Insert(kNoisy, OneRow(*free_, 1), refused.get());
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto pushback =
      refused->GetServerTrailingMetadata().find("grpc-retry-pushback-ms");
  ASSERT_NE(pushback, refused->GetServerTrailingMetadata().end());
  EXPECT_GT(
      std::stoi(std::string(pushback->second.data(), pushback->second.size())),
      0);
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + *free_ + " WHERE id = 1"),
            "0");
  grpc::Status quiet = Insert(kQuiet, OneRow(*free_, 2));
  EXPECT_TRUE(quiet.ok()) << quiet.error_message();

  lock->commit();
  for (std::thread& t : parked) t.join();
  for (const grpc::Status& s : parked_status) {
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  // The slots were freed before the answers left.
  EXPECT_TRUE(Insert(kNoisy, OneRow(*free_, 3)).ok());
}

// Calls that wait on the database (here Updates behind a row lock, for as
// long as the lock timeout) hold a worker thread each: one tenant with
// enough of them must not hold every worker and stall the others' calls.
TEST_F(LimitsTest, ATenantWaitingOnALockLeavesAWorkerToTheOthers) {
  constexpr int kWorkers = 2;
  auto server = StartServerWith(
      {{"IDEM_AUTH_TOKENS",
        WriteTokensFile({{kNoisy, "", "noisy"}, {kQuiet, "", "quiet"}})},
       {"IDEM_TABLES", *locked_ + "," + *free_},
       {"IDEM_WORKERS", std::to_string(kWorkers)},
       {"IDEM_LOCK_TIMEOUT", "10m"},
       {"IDEM_STATEMENT_TIMEOUT", "10m"}});
  db_.Exec("INSERT INTO " + *locked_ +
           " VALUES (50, '') ON CONFLICT DO NOTHING");
  db_.Exec("INSERT INTO " + *free_ + " VALUES (50, '') ON CONFLICT DO NOTHING");
  auto update = [&](const std::string& token, const std::string& table,
                    std::chrono::seconds deadline) {
    v1::UpdateRequest request;
    request.set_table(table);
    *request.mutable_key() = RowOf({{"id", Int(50)}});
    *request.mutable_set() = RowOf({{"note", Str(token)}});
    std::unique_ptr<grpc::ClientContext> context = CallContext(token);
    context->set_deadline(std::chrono::system_clock::now() + deadline);
    v1::UpdateResponse response;
    return server->Stub()->Update(context.get(), request, &response);
  };

  pqxx::connection blocker(DatabaseUrl());
  auto lock = std::make_unique<pqxx::work>(blocker);
  lock->exec("SELECT 1 FROM " + *locked_ + " WHERE id = 50 FOR UPDATE");
  std::vector<std::thread> parked;
  std::vector<grpc::Status> parked_status(2 * kWorkers);
  for (size_t i = 0; i < parked_status.size(); ++i) {
    parked.emplace_back([&, i] {
      parked_status[i] = update(kNoisy, *locked_, std::chrono::seconds(120));
    });
  }
  ASSERT_TRUE(Eventually([&] { return db_.LockWaiters(*locked_) >= 1; }));

  // The old pool gave the noisy tenant both workers, and this call waited
  // behind its queued Updates until its deadline.
  grpc::Status quiet = update(kQuiet, *free_, std::chrono::seconds(20));
  EXPECT_TRUE(quiet.ok()) << quiet.error_message();
  EXPECT_EQ(db_.Scalar("SELECT note FROM " + *free_ + " WHERE id = 50"),
            kQuiet);

  lock->commit();
  for (std::thread& t : parked) t.join();
  for (const grpc::Status& s : parked_status) {
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
}

TEST_F(LimitsTest, AnOversizedRequestIsRefusedAndWritesNothing) {
  std::string before = db_.Dump(*free_);
  grpc::Status status =
      Insert(kQuiet, OneRow(*free_, 200, std::string(kMaxMessageBytes, 'm')));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("limit"), std::string::npos);
  // Beyond twice the limit the transport refuses it before the handler.
  status = Insert(kQuiet,
                  OneRow(*free_, 201, std::string(4 * kMaxMessageBytes, 'm')));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(db_.Dump(*free_), before);
  EXPECT_TRUE(Insert(kQuiet, OneRow(*free_, 202, "small")).ok());
}

TEST_F(LimitsTest, EachCallOfABatchIsHeldToTheMessageLimit) {
  const std::string before = db_.Dump(*free_);
  v1::BatchRequest request;
  *request.add_calls()->mutable_insert() = OneRow(*free_, 210, "small");
  *request.add_calls()->mutable_insert() =
      OneRow(*free_, 211, std::string(kMaxMessageBytes, 'm'));
  v1::BatchResponse response;
  ASSERT_TRUE(server_->Stub()
                  ->Batch(CallContext(kQuiet).get(), request, &response)
                  .ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).code(), grpc::StatusCode::OK);
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(response.results(1).message().find("limit"), std::string::npos);
  EXPECT_EQ(
      db_.Scalar("SELECT count(*) FROM " + *free_ + " WHERE id IN (210, 211)"),
      "1");
  // A batch beyond twice the limit is refused by the transport, whole.
  const std::string after_small = db_.Dump(*free_);
  request.Clear();
  for (int id : {212, 213, 214}) {
    *request.add_calls()->mutable_insert() =
        OneRow(*free_, id, std::string(kMaxMessageBytes * 9 / 10, 'm'));
  }
  response.Clear();
  EXPECT_EQ(server_->Stub()
                ->Batch(CallContext(kQuiet).get(), request, &response)
                .error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_EQ(db_.Dump(*free_), after_small);
  EXPECT_NE(after_small, before);
}

TEST_F(LimitsTest, EachCallOfABatchTakesATenantSlot) {
  const std::string before = db_.Dump(*free_);
  // The slots are taken before any call runs: the call past the tenant's
  // limit is refused with a retry delay, the others run.
  v1::BatchRequest request;
  for (int id = 220; id < 220 + kMaxInFlight + 1; ++id) {
    *request.add_calls()->mutable_insert() = OneRow(*free_, id);
  }
  v1::BatchResponse response;
  ASSERT_TRUE(server_->Stub()
                  ->Batch(CallContext(kNoisy).get(), request, &response)
                  .ok());
  ASSERT_EQ(response.results_size(), kMaxInFlight + 1);
  for (int i = 0; i < kMaxInFlight; ++i) {
    EXPECT_EQ(response.results(i).code(), grpc::StatusCode::OK);
  }
  const v1::BatchResult& refused = response.results(kMaxInFlight);
  EXPECT_EQ(refused.code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(refused.has_retry_delay());
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + *free_ +
                       " WHERE id >= 220 AND id < 230"),
            std::to_string(kMaxInFlight));
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + *free_ +
                       " WHERE id = " + std::to_string(220 + kMaxInFlight)),
            "0");
}

TEST_F(LimitsTest, TooManyRowsAreRefusedAndWriteNothing) {
  std::string before = db_.Dump(*free_);
  std::vector<v1::Row> rows;
  for (int i = 0; i <= kMaxRows; ++i)
    rows.push_back(RowOf({{"id", Int(300 + i)}}));
  EXPECT_EQ(Insert(kQuiet, InsertOf(*free_, rows)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(db_.Dump(*free_), before);
  rows.pop_back();
  EXPECT_TRUE(Insert(kQuiet, InsertOf(*free_, rows)).ok());
}

TEST_F(LimitsTest, KeysOutsideTheirRulesAreRefusedAndNotStored) {
  std::string before = db_.Dump(*free_);
  const std::string base = TestDatabase::UniqueName("k");
  for (const std::string& key :
       {std::string(), base + std::string(256 - base.size(), 'k'),
        base + " space", base + "\xc3\xa9", base + std::string("\0", 1)}) {
    SCOPED_TRACE(key.size());
    v1::KeyedCallResponse response;
    EXPECT_EQ(
        server_->Stub()
            ->KeyedCall(CallContext(kQuiet).get(),
                        KeyedInsertOf(key, *free_, {RowOf({{"id", Int(400)}})}),
                        &response)
            .error_code(),
        grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(db_.Dump(*free_), before);
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM idem.idempotency_keys WHERE "
                       "idempotency_key LIKE '" +
                       base + "%'"),
            "0");
  const std::string longest = base + std::string(255 - base.size(), 'k');
  v1::KeyedCallResponse response;
  EXPECT_TRUE(server_->Stub()
                  ->KeyedCall(CallContext(kQuiet).get(),
                              KeyedInsertOf(longest, *free_,
                                            {RowOf({{"id", Int(401)}})}),
                              &response)
                  .ok());
}

}  // namespace
}  // namespace idem::testing
