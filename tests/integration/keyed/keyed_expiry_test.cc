// KeyedCall retention, reaping, and keys scoped per tenant.
#include <fstream>
#include <pqxx/connection>
#include <pqxx/transaction>
#include <thread>

#include "absl/time/clock.h"
#include "service/common/sha256.h"
#include "tests/integration/keyed/keyed_fixture.h"
#include "tests/support/scratch_database.h"

namespace idem::testing::keyed {
namespace {

// Keys live one second; this suite's own server never reaps them.
class KeyedExpiryTest : public KeyedCallTest {
 public:
  static void SetUpTestSuite() {
    // Without tombstones: an expired key is a new key (key_management_test
    // has expiry with them).
    StartServer({{"IDEM_KEY_RETENTION", "1s"},
                 {"IDEM_COPY_LEASE", "1s"},
                 {"IDEM_TOMBSTONE_RETENTION", "0s"},
                 {"IDEM_REAPER_INTERVAL", "1h"}});
  }

 protected:
  // Waits until the key's record has expired (it may still be present).
  void WaitUntilExpired(const std::string& key) {
    ASSERT_TRUE(Eventually([&] {
      return db().Scalar(
                 "SELECT count(*) FROM idem.idempotency_keys WHERE "
                 "idempotency_key = " +
                 Quote(key) + " AND expires_at > now()") == "0";
    }));
  }
};

TEST_F(KeyedExpiryTest, ExpiredKeyIsNewEvenBeforeItIsDeleted) {
  int64_t id = NewCounter();
  std::string key = NewKey("expiry");
  Answer first = Call(stub(), Increment(key, counters(), id));
  ExpectExecuted(first);
  WaitUntilExpired(key);
  EXPECT_EQ(KeyRows(key), 1) << "expired, not yet deleted";

  Answer again = Call(stub(), Increment(key, counters(), id));
  ExpectExecuted(again);
  EXPECT_EQ(Counter(id), 2);
  EXPECT_EQ(KeyRows(key), 1);
  auto micros = [](const google::protobuf::Timestamp& t) {
    return t.seconds() * 1000000 + t.nanos() / 1000;
  };
  EXPECT_GT(micros(again.response.first_executed_at()),
            micros(first.response.first_executed_at()));
}

// A call that runs longer than its retention (behind a row lock here; a
// large CopyFile) must not answer with an answer that has already expired:
// the caller's retry would run it again. It is kept at least half the
// retention after it was given.
TEST_F(KeyedExpiryTest, AnAnswerOutlivesItsCallByHalfItsRetention) {
  const int64_t id = NewCounter();
  const std::string key = NewKey("slow");
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT 1 FROM " + counters() +
            " WHERE id = " + std::to_string(id) + " FOR UPDATE");
  Answer first;
  std::thread caller(
      [&] { first = Call(stub(), Increment(key, counters(), id)); });
  EXPECT_TRUE(Eventually([&] { return db().LockWaiters(counters()) == 1; }));
  absl::SleepFor(absl::Milliseconds(1500));  // past the 1 s retention
  lock.commit();
  caller.join();
  ExpectExecuted(first);
  EXPECT_GT(TimeOf(first.response.expires_at()), absl::Now());
  // The expiry the caller was told is the one the record holds, which
  // another replica (or GetKey) reads back.
  EXPECT_EQ(
      db().Scalar("SELECT (extract(epoch FROM expires_at) * 1000000)"
                  "::bigint FROM idem.idempotency_keys WHERE "
                  "idempotency_key = " +
                  Quote(key)),
      std::to_string(absl::ToUnixMicros(TimeOf(first.response.expires_at()))));
  EXPECT_EQ(first.response.expires_at().nanos() % 1000, 0)
      << "finer than the record's microseconds";

  const Answer retried = Call(stub(), Increment(key, counters(), id));
  ASSERT_TRUE(retried.ok()) << retried.status.error_message();
  EXPECT_TRUE(retried.response.replayed());
  EXPECT_EQ(Counter(id), 1);
}

TEST_F(KeyedExpiryTest, ExpiredKeyMayCarryAnotherCall) {
  int64_t id = NewCounter();
  std::string key = NewKey("expiry");
  ExpectExecuted(Call(stub(), Increment(key, counters(), id, 1)));
  WaitUntilExpired(key);
  ExpectExecuted(Call(stub(), Increment(key, counters(), id, 10)));
  EXPECT_EQ(Counter(id), 11);
}

TEST_F(KeyedExpiryTest, ExpiredStoredErrorIsForgotten) {
  std::string key = NewKey("expiry");
  v1::KeyedCallRequest request = InsertRow(key, items(), {{"id", Int(1)}});
  (*request.mutable_insert()->mutable_rows(0)->mutable_columns())["colour"] =
      Str("red");
  Answer failed = Call(stub(), request);
  ASSERT_EQ(failed.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  WaitUntilExpired(key);
  request.mutable_insert()->mutable_rows(0)->mutable_columns()->erase("colour");
  ExpectExecuted(Call(stub(), request));
  EXPECT_EQ(ItemCount(1), 1);
}

// On a database of its own: every other test's server reaps the suite's
// database too (each one's reaper walks every tenant), and one of them may
// get to these keys first.
TEST_F(KeyedExpiryTest, ReaperDeletesExpiredKeysInBatches) {
  ScratchDatabase database("idem_reaper");
  TestDatabase scratch(database.url());
  scratch.Exec("CREATE TABLE counters (id bigint PRIMARY KEY, n bigint)");
  scratch.Exec("INSERT INTO counters VALUES (1, 0)");
  std::unique_ptr<ServerProcess> reaping =
      StartAnotherServer({{"IDEM_DATABASE_URL", database.url()},
                          {"IDEM_TABLES", "counters"},
                          {"IDEM_REAPER_INTERVAL", "200ms"},
                          {"IDEM_REAPER_BATCH", "2"}});
  std::unique_ptr<v1::IdemService::Stub> reaping_stub = reaping->Stub();
  for (int i = 0; i < 5; ++i) {
    ExpectExecuted(Call(*reaping_stub, Increment("reaped-" + std::to_string(i),
                                                 "counters", 1)));
  }
  EXPECT_TRUE(Eventually(
      [&] {
        return scratch.Scalar("SELECT count(*) FROM idem.idempotency_keys") ==
               "0";
      },
      60s))
      << reaping->Log();
  // The reaper logs its pass after the pass committed.
  EXPECT_TRUE(Eventually([&] {
    return reaping->Log().find("reaper") != std::string::npos;
  })) << reaping->Log();
  EXPECT_EQ(scratch.Scalar("SELECT n FROM counters"), "5");
}

// Two tenants, each with its own token, send the same key string.
class KeyedTenantTest : public KeyedCallTest {
 public:
  static void SetUpTestSuite() {
    tokens_path_ = "/tmp/" + TestDatabase::UniqueName("keyed_tokens") + ".json";
    std::ofstream(tokens_path_)
        << R"({"tokens": [{"sha256": ")" << Sha256Hex(kAlphaToken)
        << R"(", "tenant": "alpha", "tables": ["*"], "operations": ["*"]},)"
        << R"({"sha256": ")" << Sha256Hex(kBetaToken)
        << R"(", "tenant": "beta", "tables": ["*"], "operations": ["*"]}]})";
    StartServer({{"IDEM_AUTH_TOKENS", tokens_path_}});
  }
  static void TearDownTestSuite() {
    KeyedCallTest::TearDownTestSuite();
    std::remove(tokens_path_.c_str());
  }

 protected:
  static constexpr char kAlphaToken[] = "alpha-secret-token";
  static constexpr char kBetaToken[] = "beta-secret-token";
  static std::string tokens_path_;
};

std::string KeyedTenantTest::tokens_path_;

TEST_F(KeyedTenantTest, SameKeyStringIsTwoKeys) {
  int64_t id = NewCounter();
  std::string key = NewKey("shared");
  // Different calls under one key string: no mismatch across tenants.
  Answer alpha = Call(stub(), Increment(key, counters(), id, 1), kAlphaToken);
  ExpectExecuted(alpha);
  Answer beta = Call(stub(), Increment(key, counters(), id, 100), kBetaToken);
  ExpectExecuted(beta);
  EXPECT_EQ(Counter(id), 101);
  EXPECT_EQ(KeyRows(key, "alpha"), 1);
  EXPECT_EQ(KeyRows(key, "beta"), 1);
  EXPECT_EQ(KeyRows(key, "default"), 0);

  ExpectReplayOf(Call(stub(), Increment(key, counters(), id, 1), kAlphaToken),
                 alpha);
  ExpectReplayOf(Call(stub(), Increment(key, counters(), id, 100), kBetaToken),
                 beta);
  // Each tenant's key holds its own call.
  EXPECT_EQ(Call(stub(), Increment(key, counters(), id, 100), kAlphaToken)
                .status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Counter(id), 101);
}

TEST_F(KeyedTenantTest, SameCallSameKeyRunsOncePerTenant) {
  int64_t id = NewCounter();
  std::string key = NewKey("shared");
  Answer alpha = Call(stub(), Increment(key, counters(), id), kAlphaToken);
  Answer beta = Call(stub(), Increment(key, counters(), id), kBetaToken);
  ExpectExecuted(alpha);
  ExpectExecuted(beta);
  EXPECT_EQ(Counter(id), 2);
  ExpectReplayOf(Call(stub(), Increment(key, counters(), id), kBetaToken),
                 beta);
  ExpectReplayOf(Call(stub(), Increment(key, counters(), id), kAlphaToken),
                 alpha);
  EXPECT_EQ(Counter(id), 2);
}

TEST_F(KeyedTenantTest, NoTokenNoCall) {
  int64_t id = NewCounter();
  std::string key = NewKey("anonymous");
  Answer answer = Call(stub(), Increment(key, counters(), id));
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Counter(id), 0);
  EXPECT_EQ(
      std::stoll(db().Scalar("SELECT count(*) FROM idem.idempotency_keys WHERE "
                             "idempotency_key = " +
                             Quote(key))),
      0);
}

}  // namespace
}  // namespace idem::testing::keyed
