// Keys a caller can see and manage: GetKey on every state, ForgetKey, per-call
// retention, tombstones after an answer expires, and the permissions that
// guard them.
#include <algorithm>
#include <fstream>
#include <pqxx/connection>
#include <pqxx/transaction>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/common/sha256.h"
#include "service/keys/fingerprint.h"
#include "tests/integration/keyed/keyed_fixture.h"
#include "tests/support/rich_status.h"

namespace idem::testing::keyed {
namespace {

class KeyManagementTest : public KeyedCallTest {
 protected:
  static v1::GetKeyResponse Get(const std::string& key) {
    grpc::ClientContext context;
    v1::GetKeyRequest request;
    request.set_idempotency_key(key);
    v1::GetKeyResponse response;
    grpc::Status status = stub().GetKey(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  static grpc::Status Forget(const std::string& key,
                             v1::ForgetKeyResponse* response) {
    grpc::ClientContext context;
    v1::ForgetKeyRequest request;
    request.set_idempotency_key(key);
    return stub().ForgetKey(&context, request, response);
  }
};

TEST_F(KeyManagementTest, GetKeyOnEveryState) {
  std::string key = NewKey("get");
  EXPECT_EQ(Get(key).state(), v1::KEY_STATE_ABSENT);

  v1::KeyedCallRequest request = Increment(key, counters(), NewCounter());
  Answer first = Call(stub(), request);
  ASSERT_TRUE(first.ok());
  v1::GetKeyResponse finished = Get(key);
  EXPECT_EQ(finished.state(), v1::KEY_STATE_FINISHED);
  EXPECT_EQ(finished.fingerprint(),
            absl::BytesToHexString(keys::Fingerprint(request)));
  EXPECT_EQ(TimeOf(finished.first_executed_at()),
            TimeOf(first.response.first_executed_at()));
  EXPECT_EQ(TimeOf(finished.expires_at()), TimeOf(first.response.expires_at()));
  EXPECT_EQ(finished.answer().update().outcome(),
            first.response.update().outcome());
  EXPECT_FALSE(finished.has_failure());

  // A stored failure comes back as its status, reason included.
  std::string failed = NewKey("get-failed");
  ASSERT_FALSE(
      Call(stub(), InsertRow(failed, absent(), {{"id", Int(1)}})).ok());
  v1::GetKeyResponse failure = Get(failed);
  EXPECT_EQ(failure.state(), v1::KEY_STATE_FINISHED);
  EXPECT_EQ(failure.failure().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ErrorInfoOf(failure.failure())->reason(), "TABLE_NOT_FOUND");

  // A copy's claim in progress, as a server that died while copying left it.
  std::string leased = NewKey("get-leased");
  db().Exec(
      "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
      "fingerprint, state, first_executed_at, last_seen_at, "
      "lease_expires_at, expires_at) VALUES ('default', " +
      Quote(leased) +
      ", '\\x00', 1, now(), now(), now() + interval '1 minute', "
      "now() + interval '1 day')");
  v1::GetKeyResponse in_flight = Get(leased);
  EXPECT_EQ(in_flight.state(), v1::KEY_STATE_IN_FLIGHT);
  EXPECT_GT(TimeOf(in_flight.expires_at()), absl::Now());
}

// A stored answer that cannot be read is an error, as its replay is, not a
// finished key with an empty answer.
TEST_F(KeyManagementTest, GetKeyOfAnUnreadableAnswerIsInternal) {
  std::string key = NewKey("get-unreadable");
  db().Exec(
      "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
      "fingerprint, state, status_code, response, first_executed_at, "
      "last_seen_at, expires_at) VALUES ('default', " +
      Quote(key) +
      ", '\\x00', 2, 0, '\\xff', now(), now(), now() + interval '1 day')");
  grpc::ClientContext context;
  v1::GetKeyRequest request;
  request.set_idempotency_key(key);
  v1::GetKeyResponse response;
  EXPECT_EQ(stub().GetKey(&context, request, &response).error_code(),
            grpc::StatusCode::INTERNAL);
  EXPECT_EQ(KeyState(key), "2");
}

// "Nothing changed" is checked on the records a malformed key could reach,
// never on the whole key table, which the other tests of the suite write
// to meanwhile: no record under a malformed key, and the records a careless
// ForgetKey could take for one (the 256-character key cut to 255, the parts
// of the key with a tab) as they were.
TEST_F(KeyManagementTest, MalformedKeysAreRefusedAndChangeNothing) {
  const std::vector<std::string> malformed = {
      std::string(), std::string(256, 'k'), std::string("tab\there")};
  const std::vector<std::string> neighbours = {std::string(255, 'k'), "tab",
                                               "here", "tabhere"};
  std::string watched;
  for (const auto* keys : {&malformed, &neighbours}) {
    for (const std::string& key : *keys) {
      absl::StrAppend(&watched, watched.empty() ? "" : ", ", Quote(key));
    }
  }
  for (const std::string& key : neighbours) {
    db().Exec(
        "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
        "fingerprint, state, first_executed_at, last_seen_at, expires_at) "
        "VALUES ('default', " +
        Quote(key) +
        ", '\\x00', 2, now(), now(), now() + interval '1 day') "
        "ON CONFLICT DO NOTHING");
  }
  const std::string snapshot =
      "SELECT string_agg(idempotency_key || ':' || state || ':' || "
      "expires_at, ',' ORDER BY idempotency_key) FROM idem.idempotency_keys "
      "WHERE tenant = 'default' AND idempotency_key IN (" +
      watched + ")";
  const std::string before = db().Scalar(snapshot);
  for (const std::string& key : malformed) {
    grpc::ClientContext get_context;
    v1::GetKeyRequest get;
    get.set_idempotency_key(key);
    v1::GetKeyResponse got;
    ExpectRefusal(stub().GetKey(&get_context, get, &got), "KEY_INVALID");
    v1::ForgetKeyResponse forgotten;
    ExpectRefusal(Forget(key, &forgotten), "KEY_INVALID");
  }
  EXPECT_EQ(db().Scalar(snapshot), before);
  EXPECT_EQ(std::count(before.begin(), before.end(), ','), 3);  // 4 records
}

// A retention finer than the database keeps: the first answer says the
// expiry that the key's record holds, to the microsecond.
TEST_F(KeyManagementTest, TheFirstAnswerSaysTheStoredExpiry) {
  std::string key = NewKey("fine-retention");
  v1::KeyedCallRequest request = Increment(key, counters(), NewCounter());
  request.mutable_retention()->set_seconds(120);
  request.mutable_retention()->set_nanos(500700);
  Answer first = Call(stub(), request);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(TimeOf(first.response.expires_at()), TimeOf(Get(key).expires_at()));
}

TEST_F(KeyManagementTest, ForgetKeyLetsTheCallRunAgain) {
  int64_t counter = NewCounter();
  std::string key = NewKey("forget");
  v1::KeyedCallRequest request = Increment(key, counters(), counter);
  ASSERT_TRUE(Call(stub(), request).ok());
  ASSERT_TRUE(Call(stub(), request).response.replayed());
  EXPECT_EQ(Counter(counter), 1);

  v1::ForgetKeyResponse forgotten;
  ASSERT_TRUE(Forget(key, &forgotten).ok());
  EXPECT_TRUE(forgotten.forgotten());
  EXPECT_EQ(Get(key).state(), v1::KEY_STATE_ABSENT);
  Answer again = Call(stub(), request);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.response.replayed());
  EXPECT_EQ(Counter(counter), 2);

  v1::ForgetKeyResponse nothing;
  ASSERT_TRUE(Forget(NewKey("never-used"), &nothing).ok());
  EXPECT_FALSE(nothing.forgotten());
}

TEST_F(KeyManagementTest, ForgetKeyRefusesAKeyInFlight) {
  std::string key = NewKey("forget-leased");
  db().Exec(
      "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
      "fingerprint, state, first_executed_at, last_seen_at, "
      "lease_expires_at, expires_at) VALUES ('default', " +
      Quote(key) +
      ", '\\x00', 1, now(), now(), now() + interval '1 minute', "
      "now() + interval '1 day')");
  v1::ForgetKeyResponse response;
  grpc::Status status = Forget(key, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "KEY_IN_FLIGHT");
  EXPECT_EQ(KeyState(key), "1");
}

// A claim whose lease lapsed (the server running a keyed CopyFile died and
// nobody resent the call) holds no running call: ForgetKey removes it, as
// a resend would take it over, instead of refusing it KEY_IN_FLIGHT until
// the key's retention ends (a day).
TEST_F(KeyManagementTest, ForgetKeyRemovesAClaimWhoseLeaseLapsed) {
  std::string key = NewKey("forget-lapsed");
  db().Exec(
      "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
      "fingerprint, state, first_executed_at, last_seen_at, "
      "lease_expires_at, expires_at) VALUES ('default', " +
      Quote(key) +
      ", '\\x00', 1, now() - interval '1 minute', now() - interval '1 "
      "minute', now() - interval '30 seconds', now() + interval '1 day')");
  v1::ForgetKeyResponse response;
  grpc::Status status = Forget(key, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.forgotten());
  EXPECT_EQ(KeyState(key), "");
}

// A keyed write is in flight from when the server accepts it, though its
// key's record commits only with the write: one parked behind a row lock
// is IN_FLIGHT to GetKey and refused by ForgetKey, which must not answer
// "nothing to forget" for a key that the call then finishes.
TEST_F(KeyManagementTest, AKeyedWriteBehindARowLockIsInFlight) {
  const int64_t id = NewCounter();
  const std::string key = NewKey("forget-parked");
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT 1 FROM " + counters() +
            " WHERE id = " + std::to_string(id) + " FOR UPDATE");
  Answer parked;
  std::thread caller(
      [&] { parked = Call(stub(), Increment(key, counters(), id)); });
  EXPECT_TRUE(Eventually([&] { return db().LockWaiters(counters()) == 1; }));

  EXPECT_EQ(Get(key).state(), v1::KEY_STATE_IN_FLIGHT);
  v1::ForgetKeyResponse refused;
  grpc::Status status = Forget(key, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "KEY_IN_FLIGHT");

  lock.commit();
  caller.join();
  ExpectExecuted(parked);
  EXPECT_EQ(Counter(id), 1);
  EXPECT_EQ(Get(key).state(), v1::KEY_STATE_FINISHED);
  v1::ForgetKeyResponse forgotten;
  ASSERT_TRUE(Forget(key, &forgotten).ok());
  EXPECT_TRUE(forgotten.forgotten());
}

TEST_F(KeyManagementTest, RetentionPerCallWithinBounds) {
  v1::KeyedCallRequest request = Increment(NewKey(), counters(), NewCounter());
  request.mutable_retention()->set_seconds(120);
  Answer kept = Call(stub(), request);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(TimeOf(kept.response.expires_at()) -
                TimeOf(kept.response.first_executed_at()),
            absl::Minutes(2));

  // Out of bounds, and Durations that are none (google.protobuf.Duration:
  // nanos within +-999,999,999 and of the seconds' sign).
  for (const auto& [seconds, nanos] : std::vector<std::pair<int64_t, int32_t>>{
           {30, 0},
           {8 * 24 * 3600, 0},
           {60, 1000000000},
           {120, -1},
       }) {
    int64_t counter = NewCounter();
    v1::KeyedCallRequest bad = Increment(NewKey(), counters(), counter);
    bad.mutable_retention()->set_seconds(seconds);
    bad.mutable_retention()->set_nanos(nanos);
    ExpectRefusal(Call(stub(), bad).status, "REQUEST_INVALID");
    EXPECT_EQ(Counter(counter), 0);
  }
  // Also for a replay this replica answers from memory.
  v1::KeyedCallRequest replay = request;
  replay.mutable_retention()->set_seconds(5);
  ExpectRefusal(Call(stub(), replay).status, "REQUEST_INVALID");
}

// Answers kept one second and tombstones an hour: after the answer
// expired, the same call is told it ran (and runs nothing), another call
// under the key is a mismatch, and the reaper slims the record.
class TombstoneTest : public KeyManagementTest {
 public:
  static void SetUpTestSuite() {
    StartServer({{"IDEM_KEY_RETENTION", "1s"},
                 {"IDEM_COPY_LEASE", "1s"},
                 {"IDEM_TOMBSTONE_RETENTION", "1h"},
                 {"IDEM_REAPER_INTERVAL", "200ms"}});
  }
};

TEST_F(TombstoneTest, AnExpiredAnswerLeavesATombstone) {
  int64_t counter = NewCounter();
  std::string key = NewKey("tomb");
  v1::KeyedCallRequest request = Increment(key, counters(), counter);
  ASSERT_TRUE(Call(stub(), request).ok());
  ASSERT_TRUE(
      Eventually([&] { return Get(key).state() == v1::KEY_STATE_EXPIRED; }));

  Answer late = Call(stub(), request);
  ASSERT_TRUE(late.ok()) << late.status.error_message();
  EXPECT_TRUE(late.response.replayed());
  EXPECT_TRUE(late.response.answer_expired());
  EXPECT_EQ(late.response.result_case(), v1::KeyedCallResponse::RESULT_NOT_SET);
  EXPECT_EQ(Counter(counter), 1);

  ExpectRefusal(Call(stub(), Increment(key, counters(), counter, 5)).status,
                "KEY_MISMATCH");
  EXPECT_EQ(Counter(counter), 1);

  // The reaper keeps the fingerprint, first execution and outcome code.
  EXPECT_TRUE(Eventually([&] {
    return db().Scalar(
               "SELECT response IS NULL FROM idem.idempotency_keys "
               "WHERE idempotency_key = " +
               Quote(key)) == "t";
  }));
  EXPECT_EQ(KeyState(key), "2");
  EXPECT_TRUE(Call(stub(), request).response.answer_expired());
}

// Tokens without read_keys and forget_keys may neither look nor forget.
class KeyPermissionsTest : public KeyManagementTest {
 public:
  static void SetUpTestSuite() {
    tokens_path_ = "/tmp/" + TestDatabase::UniqueName("key_tokens") + ".json";
    std::ofstream(tokens_path_)
        << R"({"tokens": [{"sha256": ")" << Sha256Hex(kToken)
        << R"(", "tenant": "default", "tables": ["*"],)"
        << R"( "operations": ["update", "keyed_call"]}]})";
    StartServer({{"IDEM_AUTH_TOKENS", tokens_path_}});
  }
  static void TearDownTestSuite() {
    KeyedCallTest::TearDownTestSuite();
    std::remove(tokens_path_.c_str());
  }

 protected:
  static constexpr char kToken[] = "keys-token";
  static std::string tokens_path_;
};

std::string KeyPermissionsTest::tokens_path_;

TEST_F(KeyPermissionsTest, WithoutTheOperationsNothingIsReadOrForgotten) {
  std::string key = NewKey("guarded");
  ASSERT_TRUE(
      Call(stub(), Increment(key, counters(), NewCounter()), kToken).ok());
  for (bool forget : {false, true}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    grpc::Status status;
    if (forget) {
      v1::ForgetKeyRequest request;
      request.set_idempotency_key(key);
      v1::ForgetKeyResponse response;
      status = stub().ForgetKey(&context, request, &response);
    } else {
      v1::GetKeyRequest request;
      request.set_idempotency_key(key);
      v1::GetKeyResponse response;
      status = stub().GetKey(&context, request, &response);
    }
    ExpectRefusal(status, "OPERATION_NOT_ALLOWED");
  }
  EXPECT_EQ(KeyState(key), "2");
}

}  // namespace
}  // namespace idem::testing::keyed
