// KeyedCall against one server: replay, mismatch, stored errors, bad keys,
// and one key raced by 32 callers.
#include <pqxx/transaction>
#include <thread>
#include <vector>

#include "tests/integration/keyed/keyed_fixture.h"

namespace idem::testing::keyed {
namespace {

class KeyedReplayTest : public KeyedCallTest {};

TEST_F(KeyedReplayTest, ReplayIsByteIdenticalAndMarked) {
  int64_t id = NewCounter();
  std::string key = NewKey();
  Answer first = Call(stub(), Increment(key, counters(), id, 5));
  ExpectExecuted(first);
  EXPECT_EQ(first.response.update().outcome(), v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(Counter(id), 5);
  EXPECT_EQ(KeyState(key), "2");

  for (int i = 0; i < 3; ++i) {
    Answer replay = Call(stub(), Increment(key, counters(), id, 5));
    ExpectReplayOf(replay, first);
    EXPECT_EQ(replay.response.first_executed_at().seconds(),
              first.response.first_executed_at().seconds());
    EXPECT_EQ(replay.response.first_executed_at().nanos(),
              first.response.first_executed_at().nanos());
  }
  EXPECT_EQ(Counter(id), 5);
}

TEST_F(KeyedReplayTest, InsertReplayIsByteIdentical) {
  std::string key = NewKey();
  v1::KeyedCallRequest request = InsertRow(
      key, items(), {{"id", Int(1001)}, {"name", Str("a")}, {"qty", Int(2)}});
  request.mutable_insert()->set_on_conflict(v1::ON_CONFLICT_UNSPECIFIED);
  Answer first = Call(stub(), request);
  ExpectExecuted(first);
  ASSERT_EQ(first.response.insert().outcomes_size(), 1);
  EXPECT_EQ(first.response.insert().outcomes(0), v1::ROW_OUTCOME_INSERTED);

  // The same call with the conflict policy spelled out: one fingerprint.
  request.mutable_insert()->set_on_conflict(v1::ON_CONFLICT_DO_NOTHING);
  ExpectReplayOf(Call(stub(), request), first);
}

TEST_F(KeyedReplayTest, ReplayAfterTheRowWasDeletedDoesNotReinsert) {
  std::string key = NewKey();
  v1::KeyedCallRequest request =
      InsertRow(key, items(), {{"id", Int(1002)}, {"name", Str("gone")}});
  Answer first = Call(stub(), request);
  ExpectExecuted(first);
  ASSERT_EQ(ItemCount(1002), 1);

  db().Exec("DELETE FROM " + items() + " WHERE id = 1002");
  Answer replay = Call(stub(), request);
  ExpectReplayOf(replay, first);
  EXPECT_EQ(replay.response.insert().outcomes(0), v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(ItemCount(1002), 0);
}

TEST_F(KeyedReplayTest, ReplayIgnoresLaterChangesToTheTable) {
  int64_t id = NewCounter();
  std::string key = NewKey();
  Answer first = Call(stub(), Increment(key, counters(), id));
  ExpectExecuted(first);
  db().Exec("DELETE FROM " + counters() + " WHERE id = " + std::to_string(id));
  // Run now, the update would find no row: the replay still says UPDATED.
  Answer replay = Call(stub(), Increment(key, counters(), id));
  ExpectReplayOf(replay, first);
  EXPECT_EQ(replay.response.update().outcome(), v1::UPDATE_OUTCOME_UPDATED);
}

TEST_F(KeyedReplayTest, SameKeyForAnotherCallIsRefusedAndNothingRuns) {
  int64_t id = NewCounter();
  std::string key = NewKey("mismatch");
  ExpectExecuted(Call(stub(), Increment(key, counters(), id, 1)));

  for (const v1::KeyedCallRequest& other :
       {Increment(key, counters(), id, 2), Increment(key, counters(), id + 1),
        InsertRow(key, items(), {{"id", Int(1003)}})}) {
    Answer answer = Call(stub(), other);
    EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << answer.status.error_message();
    EXPECT_NE(answer.status.error_message().find(key), std::string::npos)
        << answer.status.error_message();
    EXPECT_FALSE(answer.marked_replayed());
  }
  EXPECT_EQ(Counter(id), 1);
  EXPECT_EQ(ItemCount(1003), 0);
  EXPECT_EQ(KeyRows(key), 1);
}

// A deterministic failure is stored under the key and replayed, even once
// its cause is gone.
TEST_F(KeyedReplayTest, UnknownColumnIsStoredAndReplayed) {
  std::string key = NewKey();
  v1::KeyedCallRequest request =
      InsertRow(key, items(), {{"id", Int(1004)}, {"colour", Str("red")}});
  Answer first = Call(stub(), request);
  ASSERT_EQ(first.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << first.status.error_message();
  EXPECT_FALSE(first.marked_replayed());
  EXPECT_EQ(KeyState(key), "2");
  EXPECT_EQ(db().Scalar("SELECT status_code FROM idem.idempotency_keys WHERE "
                        "idempotency_key = " +
                        Quote(key)),
            "3");

  Answer replay = Call(stub(), request);
  ExpectReplayOf(replay, first);
  EXPECT_EQ(ItemCount(1004), 0);
}

TEST_F(KeyedReplayTest, CastFailureIsStoredAndReplayed) {
  std::string key = NewKey();
  v1::KeyedCallRequest request = InsertRow(
      key, items(), {{"id", Int(1005)}, {"qty", Str("not a number")}});
  Answer first = Call(stub(), request);
  ASSERT_EQ(first.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << first.status.error_message();
  EXPECT_FALSE(first.marked_replayed());
  EXPECT_EQ(KeyState(key), "2");

  Answer replay = Call(stub(), request);
  ExpectReplayOf(replay, first);
  EXPECT_EQ(ItemCount(1005), 0);
}

TEST_F(KeyedReplayTest, MissingRowOutcomeIsReplayed) {
  std::string key = NewKey();
  int64_t missing_id = 999999;
  Answer first = Call(stub(), Increment(key, counters(), missing_id));
  // A missing row is an outcome, not an error.
  ExpectExecuted(first);
  EXPECT_EQ(first.response.update().outcome(), v1::UPDATE_OUTCOME_NOT_FOUND);

  db().Exec("INSERT INTO " + counters() + " (id) VALUES (" +
            std::to_string(missing_id) + ")");
  ExpectReplayOf(Call(stub(), Increment(key, counters(), missing_id)), first);
  EXPECT_EQ(Counter(missing_id), 0);
}

TEST_F(KeyedReplayTest, UnknownTableIsStoredAndReplayed) {
  std::string key = NewKey();
  v1::KeyedCallRequest request = InsertRow(key, absent(), {{"id", Int(1)}});
  Answer first = Call(stub(), request);
  ASSERT_EQ(first.status.error_code(), grpc::StatusCode::NOT_FOUND)
      << first.status.error_message();
  EXPECT_FALSE(first.marked_replayed());

  // Even once the table exists, the key answers what it answered.
  db().Exec("CREATE TABLE " + absent() + " (id bigint PRIMARY KEY)");
  Answer replay = Call(stub(), request);
  ExpectReplayOf(replay, first);
  EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + absent()), "0");
}

TEST_F(KeyedReplayTest, TableOutsideTheAllowListIsStoredAndReplayed) {
  std::string key = NewKey();
  v1::KeyedCallRequest request =
      InsertRow(key, "pg_catalog.pg_class", {{"oid", Int(1)}});
  Answer first = Call(stub(), request);
  ASSERT_EQ(first.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << first.status.error_message();
  ExpectReplayOf(Call(stub(), request), first);
}

TEST_F(KeyedReplayTest, BadKeysAreRefusedAndNothingIsStored) {
  int64_t id = NewCounter();
  for (const std::string& key :
       {std::string(), std::string(256, 'k'), std::string("with space"),
        std::string("cl\xc3\xa9"), std::string("tab\there"),
        std::string("del\x7f")}) {
    SCOPED_TRACE("key of " + std::to_string(key.size()) + " bytes");
    Answer answer = Call(stub(), Increment(key, counters(), id));
    EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << answer.status.error_message();
    EXPECT_NE(answer.status.error_message().find("idempotency_key"),
              std::string::npos)
        << answer.status.error_message();
    EXPECT_EQ(KeyRows(key), 0);
  }
  EXPECT_EQ(Counter(id), 0);

  std::string longest = NewKey() + std::string(200, 'x');
  longest += std::string(255 - longest.size(), '~');
  ExpectExecuted(Call(stub(), Increment(longest, counters(), id)));
  EXPECT_EQ(Counter(id), 1);
  EXPECT_EQ(KeyRows(longest), 1);
}

TEST_F(KeyedReplayTest, KeyedCallWithoutACallIsRefused) {
  std::string key = NewKey();
  v1::KeyedCallRequest request;
  request.set_idempotency_key(key);
  Answer answer = Call(stub(), request);
  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << answer.status.error_message();
  EXPECT_EQ(KeyRows(key), 0);
}

// 32 threads on one channel send the same increment with one key at once:
// the counter moves exactly once and every other caller gets that answer.
TEST_F(KeyedReplayTest, ReplayFromMemoryNeedsNoWorker) {
  // A server with one worker, which the test parks behind a row lock: a
  // call that needs the worker waits, a replay the server remembers does
  // not.
  std::unique_ptr<ServerProcess> server = StartAnotherServer(
      {{"IDEM_WORKERS", "1"}, {"IDEM_LOCK_TIMEOUT", "120s"}});
  std::unique_ptr<v1::IdemService::Stub> stub = server->Stub();
  const int64_t id = NewCounter();
  const std::string key = NewKey();
  Answer first = Call(*stub, Increment(key, counters(), id, 1));
  ExpectExecuted(first);

  const int64_t parked_id = NewCounter();
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT 1 FROM " + counters() +
            " WHERE id = " + std::to_string(parked_id) + " FOR UPDATE");
  // A plain Update (no key): it runs on the worker, waiting for the row.
  const v1::UpdateRequest parked_update =
      Increment("unused", counters(), parked_id, 1).update();
  grpc::Status parked_status;
  std::thread parked([&] {
    grpc::ClientContext context;
    v1::UpdateResponse response;
    parked_status = stub->Update(&context, parked_update, &response);
  });
  ASSERT_TRUE(Eventually([&] { return db().LockWaiters(counters()) == 1; }));

  ExpectReplayOf(Call(*stub, Increment(key, counters(), id, 1)), first);

  lock.commit();
  parked.join();
  EXPECT_TRUE(parked_status.ok()) << parked_status.error_message();
  EXPECT_EQ(Counter(id), 1);
  EXPECT_EQ(Counter(parked_id), 1);
}

TEST_F(KeyedReplayTest, ThirtyTwoConcurrentCallsMoveTheCounterOnce) {
  int64_t id = NewCounter();
  std::string key = NewKey("race");
  constexpr int kCallers = 32;
  std::vector<Answer> answers(kCallers);
  std::vector<int> attempts(kCallers);
  {
    std::vector<std::thread> callers;
    for (int i = 0; i < kCallers; ++i) {
      callers.emplace_back([&, i] {
        answers[i] = CallUntilSettled(stub(), Increment(key, counters(), id),
                                      "", &attempts[i]);
      });
    }
    for (std::thread& caller : callers) caller.join();
  }
  int executed = 0;
  const Answer* first = nullptr;
  for (const Answer& answer : answers) {
    ASSERT_TRUE(answer.ok()) << answer.status.error_message();
    if (!answer.response.replayed()) {
      ++executed;
      first = &answer;
    }
  }
  ASSERT_EQ(executed, 1);
  for (const Answer& answer : answers) {
    if (&answer != first) ExpectReplayOf(answer, *first);
  }
  EXPECT_EQ(Counter(id), 1);
  EXPECT_EQ(KeyRows(key), 1);
}

}  // namespace
}  // namespace idem::testing::keyed
