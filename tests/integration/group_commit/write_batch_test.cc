// RunWriteBatch: many calls, one transaction; a failing call fails alone.
#include <gtest/gtest.h>

#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "service/keys/fingerprint.h"
#include "service/ops/transaction_op.h"
#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/polling.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

using keys::Answer;
using ops::WriteCall;

using WriteBatchTest = GroupCommitTest;

TEST_F(WriteBatchTest, EveryCallOfABatchCommitsInOneTransaction) {
  std::vector<WriteCall> calls;
  calls.push_back(PlainInsert(1, "a"));
  calls.push_back(PlainInsert(2, "b"));
  calls.push_back(KeyedInsert("k1", 3, "c"));
  calls.push_back(KeyedIncrement("k2"));
  calls.push_back(KeyedInsert("k3", 4, "d"));
  std::vector<Answer> outcomes = RunBatch(calls);

  ASSERT_EQ(outcomes.size(), 5u);
  for (const Answer& outcome : outcomes) {
    EXPECT_TRUE(outcome.status.ok()) << outcome.status;
    EXPECT_FALSE(outcome.replayed);
  }
  EXPECT_EQ(outcomes[0].response.insert().inserted(), 1);
  EXPECT_EQ(outcomes[2].response.insert().inserted(), 1);
  EXPECT_TRUE(outcomes[2].response.has_first_executed_at());
  EXPECT_EQ(outcomes[3].response.update().outcome(),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(
      db_.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM " + items_),
      "1,2,3,4");
  EXPECT_EQ(db_.Scalar("SELECT n FROM " + counters_ + " WHERE id = 1"), "1");
  for (const char* key : {"k1", "k2", "k3"}) EXPECT_EQ(KeyRecord(key), "2/0");
  // Rows, counter and keys carry one transaction id: one commit for all.
  EXPECT_EQ(
      db_.Scalar("SELECT count(DISTINCT x) FROM (SELECT xmin::text x "
                 "FROM " +
                 items_ + " UNION ALL SELECT xmin::text FROM " + counters_ +
                 " UNION ALL SELECT xmin::text FROM "
                 "idem.idempotency_keys WHERE tenant = '" +
                 tenant_ + "') t"),
      "1");
}

TEST_F(WriteBatchTest, AFailingCallFailsAloneAndItsKeyKeepsTheFailure) {
  std::vector<WriteCall> calls;
  calls.push_back(PlainInsert(1, "good"));
  calls.push_back(PlainInsert(2, "negative", -1));  // CHECK (n >= 0)
  calls.push_back(KeyedInsert("good", 3, "good"));
  calls.push_back(KeyedInsert("bad", 4, "negative", -1));
  calls.push_back(KeyedIncrement("count"));
  std::vector<Answer> outcomes = RunBatch(calls);

  ASSERT_EQ(outcomes.size(), 5u);
  EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status;
  EXPECT_FALSE(outcomes[1].status.ok());
  EXPECT_TRUE(outcomes[2].status.ok()) << outcomes[2].status;
  EXPECT_EQ(outcomes[3].status.code(), outcomes[1].status.code());
  EXPECT_TRUE(outcomes[4].status.ok()) << outcomes[4].status;
  EXPECT_EQ(
      db_.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM " + items_),
      "1,3");
  EXPECT_EQ(db_.Scalar("SELECT n FROM " + counters_ + " WHERE id = 1"), "1");
  EXPECT_EQ(KeyRecord("good"), "2/0");
  EXPECT_EQ(KeyRecord("bad"),
            "2/" + std::to_string(static_cast<int>(outcomes[3].status.code())));

  // The stored failure replays; the stored success too.
  std::vector<WriteCall> again;
  again.push_back(KeyedInsert("bad", 4, "negative", -1));
  again.push_back(KeyedInsert("good", 3, "good"));
  std::vector<Answer> replays = RunBatch(again);
  EXPECT_TRUE(replays[0].replayed);
  EXPECT_EQ(replays[0].status, outcomes[3].status);
  EXPECT_TRUE(replays[1].replayed);
  EXPECT_TRUE(replays[1].status.ok());
  EXPECT_EQ(replays[1].response.insert().inserted(), 1);
}

TEST_F(WriteBatchTest, CallsOnOneRowKeepTheOutcomesTheyWouldHaveAlone) {
  std::vector<WriteCall> calls;
  calls.push_back(PlainInsert(9, "a"));
  calls.push_back(PlainInsert(9, "a"));
  calls.push_back(PlainInsert(9, "b"));
  std::vector<Answer> outcomes = RunBatch(calls);

  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].response.insert().outcomes(0),
            v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(outcomes[1].response.insert().outcomes(0),
            v1::ROW_OUTCOME_DUPLICATE);
  EXPECT_EQ(outcomes[2].response.insert().outcomes(0),
            v1::ROW_OUTCOME_CONFLICT);
  EXPECT_EQ(db_.Scalar("SELECT note FROM " + items_ + " WHERE id = 9"), "a");
}

TEST_F(WriteBatchTest, KeysAlreadyHeldAreAnsweredFromTheirRecord) {
  std::vector<WriteCall> first;
  first.push_back(KeyedInsert("done", 20, "x"));
  first.push_back(KeyedInsert("other", 21, "y"));
  std::vector<Answer> before = RunBatch(first);
  ASSERT_TRUE(before[0].status.ok());
  std::string items = db_.Dump(items_);

  std::vector<WriteCall> calls;
  calls.push_back(KeyedInsert("done", 20, "x"));       // the same call
  calls.push_back(KeyedInsert("other", 22, "other"));  // another call
  calls.push_back(PlainInsert(23, "z"));
  std::vector<Answer> outcomes = RunBatch(calls);

  EXPECT_TRUE(outcomes[0].replayed);
  EXPECT_EQ(outcomes[0].response.insert().SerializeAsString(),
            before[0].response.insert().SerializeAsString());
  EXPECT_EQ(outcomes[1].status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(outcomes[1].key_mismatch);
  EXPECT_TRUE(outcomes[2].status.ok());
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_ + " WHERE id = 22"),
            "0");
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_), "3");
}

TEST_F(WriteBatchTest, AKeyRecordedMeanwhileUndoesTheBatchAndReplays) {
  // Another caller's transaction (the test's) records the same call under
  // "raced" as a stored failure after the batch read the key and before it
  // records it: the batch waits on that key, finds it taken, and must undo
  // the call's row and answer from the record instead.
  std::vector<WriteCall> calls;
  calls.push_back(KeyedInsert("raced", 30, "x"));
  calls.push_back(KeyedIncrement("fresh"));
  calls.push_back(PlainInsert(31, "y"));
  LockHolder holder(
      "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
      "fingerprint, state, status_code, status_message, first_executed_at, "
      "last_seen_at, expires_at) VALUES ('" +
      tenant_ + "', 'raced', '\\x" +
      absl::BytesToHexString(calls[0].key->fingerprint) +
      "', 2, 5, 'stored by the other caller', now(), now(), "
      "now() + interval '1 hour')");
  std::vector<Answer> outcomes;
  std::thread batch([&] { outcomes = RunBatch(calls); });
  ASSERT_TRUE(
      Eventually([&] { return db_.LockWaiters("idempotency_keys") == 1; }));
  holder.Commit();
  batch.join();

  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].replayed);
  EXPECT_EQ(outcomes[0].status,
            absl::NotFoundError("stored by the other caller"));
  EXPECT_TRUE(outcomes[1].status.ok()) << outcomes[1].status;
  EXPECT_FALSE(outcomes[1].replayed);
  EXPECT_TRUE(outcomes[2].status.ok()) << outcomes[2].status;
  EXPECT_EQ(
      db_.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM " + items_),
      "31");
  EXPECT_EQ(db_.Scalar("SELECT n FROM " + counters_ + " WHERE id = 1"), "1");
  EXPECT_EQ(KeyRecord("raced"), "2/5");
  EXPECT_EQ(KeyRecord("fresh"), "2/0");
}

TEST_F(WriteBatchTest, UpdatesLockRowsInKeyOrderWhateverTheCallOrder) {
  db_.Exec("INSERT INTO " + counters_ + " VALUES (2, 0)");
  // The test holds counter 2; a batch that updates 2, then 1 must take 1
  // first (key order), as every batch does: two batches on the same rows
  // then wait for each other instead of deadlocking.
  LockHolder holder("SELECT n FROM " + counters_ + " WHERE id = 2 FOR UPDATE");
  std::vector<WriteCall> calls;
  calls.push_back(KeyedIncrement("two", 2));
  calls.push_back(KeyedIncrement("one", 1));
  std::vector<Answer> outcomes;
  std::thread batch([&] { outcomes = RunBatch(calls); });
  ASSERT_TRUE(Eventually([&] { return db_.LockWaiters(counters_) == 1; }));
  pqxx::connection probe(DatabaseUrl());
  pqxx::work probing(probe);
  EXPECT_THROW(probing.exec("SELECT n FROM " + counters_ +
                            " WHERE id = 1 FOR UPDATE NOWAIT"),
               pqxx::sql_error);
  probing.abort();
  holder.Commit();
  batch.join();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status;
  EXPECT_TRUE(outcomes[1].status.ok()) << outcomes[1].status;
  EXPECT_EQ(db_.Scalar("SELECT string_agg(n::text, ',' ORDER BY id) FROM " +
                       counters_),
            "1,1");
}

// Every update of a batch waits on a row the test holds: the batch waits
// one lock timeout in all, not one per call nor one per attempt (the old
// batch waited one together, then one more with each call in a savepoint:
// 4 s here), and the call that needs no lock commits. README promises a
// call of a batch waits for another's lock at most IDEM_LOCK_TIMEOUT.
TEST_F(WriteBatchTest, AStuckBatchWaitsOneLockTimeoutInAll) {
  AddCounters(7);
  UseOwnPool(absl::Seconds(2));
  LockHolder holder("UPDATE " + counters_ + " SET n = n");
  std::vector<WriteCall> calls;
  for (int id = 1; id <= 7; ++id) {
    calls.push_back(KeyedIncrement("stuck-" + std::to_string(id), id));
  }
  calls.push_back(PlainInsert(1, "free"));
  const absl::Time start = absl::Now();
  std::vector<Answer> outcomes = RunBatch(calls);
  const absl::Duration took = absl::Now() - start;

  // One lock timeout (2 s) and the statements around it; two would be 4 s.
  EXPECT_GE(took, absl::Seconds(2));
  EXPECT_LT(took, absl::Seconds(3));
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(outcomes[i].status.code(), absl::StatusCode::kAborted)
        << outcomes[i].status;
    EXPECT_EQ(KeyRecord("stuck-" + std::to_string(i + 1)), "");
  }
  EXPECT_TRUE(outcomes[7].status.ok()) << outcomes[7].status;
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_), "1");
}

// Rows naming one key apply in order across the calls of a batch and
// within a call, keyed or not; returned rows are part of the stored answer.
TEST_F(WriteBatchTest, RepeatedKeysApplyInOrderAndReturnedRowsReplay) {
  v1::InsertRequest repeated;
  repeated.set_table(items_);
  for (const char* note : {"a", "a", "b"}) {
    *repeated.add_rows() =
        RowOf({{"id", Int(5)}, {"note", Str(note)}, {"n", Int(0)}});
  }
  repeated.add_returning("note");
  v1::InsertRequest upsert = repeated;
  upsert.set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
  upsert.clear_returning();
  *upsert.mutable_rows(0)->mutable_columns() =
      RowOf({{"id", Int(6)}, {"note", Str("x")}, {"n", Int(0)}}).columns();
  *upsert.mutable_rows(1)->mutable_columns() =
      RowOf({{"id", Int(6)}, {"note", Str("y")}, {"n", Int(0)}}).columns();
  *upsert.mutable_rows(2)->mutable_columns() =
      RowOf({{"id", Int(5)}, {"note", Str("z")}, {"n", Int(0)}}).columns();

  std::vector<WriteCall> calls;
  calls.push_back(InsertCall(repeated, "repeated"));
  calls.push_back(PlainInsert(5, "c"));
  calls.push_back(InsertCall(upsert));
  std::vector<Answer> outcomes = RunBatch(calls);
  ASSERT_EQ(outcomes.size(), 3u);
  for (const Answer& outcome : outcomes) {
    ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  }
  const v1::InsertResponse& first = outcomes[0].response.insert();
  ASSERT_EQ(first.outcomes_size(), 3);
  EXPECT_EQ(first.outcomes(0), v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(first.outcomes(1), v1::ROW_OUTCOME_DUPLICATE);
  EXPECT_EQ(first.outcomes(2), v1::ROW_OUTCOME_CONFLICT);
  ASSERT_EQ(first.returned_size(), 3);
  EXPECT_EQ(first.returned(2).columns().at("note").string_value(), "a");
  EXPECT_EQ(outcomes[1].response.insert().outcomes(0),
            v1::ROW_OUTCOME_CONFLICT);
  const v1::InsertResponse& third = outcomes[2].response.insert();
  EXPECT_EQ(third.outcomes(0), v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(third.outcomes(1), v1::ROW_OUTCOME_UPDATED);
  EXPECT_EQ(third.outcomes(2), v1::ROW_OUTCOME_UPDATED);
  EXPECT_EQ(
      db_.Scalar("SELECT string_agg(note, ',' ORDER BY id) FROM " + items_),
      "z,y");

  std::vector<WriteCall> again;
  again.push_back(InsertCall(repeated, "repeated"));
  std::vector<Answer> replayed = RunBatch(again);
  EXPECT_TRUE(replayed[0].replayed);
  EXPECT_EQ(replayed[0].response.insert().SerializeAsString(),
            first.SerializeAsString());
}

// One key spelled two ways by two calls of a batch ("7" and "07"): the
// batch compares keys across calls by their text, the statement refuses
// the pair, and the calls run again one at a time, in order, each answered
// as if alone; DO_UPDATE and DO_NOTHING alike.
TEST_F(WriteBatchTest, OneKeySpelledTwoWaysByTwoCallsAppliesInOrder) {
  for (v1::OnConflict policy :
       {v1::ON_CONFLICT_DO_NOTHING, v1::ON_CONFLICT_DO_UPDATE}) {
    SCOPED_TRACE(v1::OnConflict_Name(policy));
    const std::string id = policy == v1::ON_CONFLICT_DO_NOTHING ? "7" : "8";
    std::vector<WriteCall> calls;
    for (const std::string& spelling : {id, "0" + id}) {
      v1::InsertRequest insert;
      insert.set_table(items_);
      insert.set_on_conflict(policy);
      *insert.add_rows() = RowOf(
          {{"id", Str(spelling)}, {"note", Str(spelling)}, {"n", Int(0)}});
      calls.push_back(InsertCall(insert));
    }
    std::vector<Answer> answers = RunBatch(calls);
    ASSERT_EQ(answers.size(), 2u);
    ASSERT_TRUE(answers[0].status.ok()) << answers[0].status;
    ASSERT_TRUE(answers[1].status.ok()) << answers[1].status;
    EXPECT_EQ(answers[0].response.insert().outcomes(0),
              v1::ROW_OUTCOME_INSERTED);
    EXPECT_EQ(answers[1].response.insert().outcomes(0),
              policy == v1::ON_CONFLICT_DO_NOTHING ? v1::ROW_OUTCOME_CONFLICT
                                                   : v1::ROW_OUTCOME_UPDATED);
    EXPECT_EQ(db_.Scalar("SELECT note FROM " + items_ + " WHERE id = " + id),
              policy == v1::ON_CONFLICT_DO_NOTHING ? id : "0" + id);
  }
}

// Two calls of one statement shape writing one key: each call's returned
// row is the row as its own insert left it, as if it had run alone, not as
// the later call left it.
TEST_F(WriteBatchTest, EachCallReturnsTheRowAsItsOwnInsertLeftIt) {
  std::vector<WriteCall> calls;
  for (const char* note : {"p", "q"}) {
    v1::InsertRequest upsert;
    upsert.set_table(items_);
    upsert.set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
    *upsert.add_rows() =
        RowOf({{"id", Int(7)}, {"note", Str(note)}, {"n", Int(0)}});
    upsert.add_returning("note");
    calls.push_back(InsertCall(upsert, std::string("returning-") + note));
  }
  std::vector<Answer> outcomes = RunBatch(calls);
  ASSERT_EQ(outcomes.size(), 2u);
  for (const Answer& outcome : outcomes) {
    ASSERT_TRUE(outcome.status.ok()) << outcome.status;
    ASSERT_EQ(outcome.response.insert().returned_size(), 1);
  }
  auto note = [](const Answer& outcome) {
    return outcome.response.insert()
        .returned(0)
        .columns()
        .at("note")
        .string_value();
  };
  EXPECT_EQ(outcomes[0].response.insert().outcomes(0),
            v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(note(outcomes[0]), "p");
  EXPECT_EQ(outcomes[1].response.insert().outcomes(0), v1::ROW_OUTCOME_UPDATED);
  EXPECT_EQ(note(outcomes[1]), "q");
}

// Transactions run their steps in the caller's order; batches holding
// them still lock rows in one order, so two batches moving amounts between
// the same counters in opposite directions never deadlock.
class BatchLockOrderTest : public GroupCommitTest {
 protected:
  void SetUp() override {
    tenant_ = TestDatabase::UniqueName("tenant");
    items_ = TestDatabase::UniqueName("order_items");
    counters_ = TestDatabase::UniqueName("order_counters");
    OpenOwnDatabase(4);
  }
  void TearDown() override { CloseOwnDatabase(); }

  // Deadlocks PostgreSQL broke in the test's database, once its sessions
  // have ended (a session reports them as it exits).
  std::string Deadlocks() {
    const std::string database = own_database_;
    pool_.reset();
    EXPECT_TRUE(Eventually([&] {
      return db_.Scalar(
                 "SELECT count(*) FROM pg_stat_activity WHERE "
                 "datname = '" +
                 database + "'") == "0";
    }));
    return db_.Scalar(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = '" + database +
        "'");
  }
};

TEST_F(BatchLockOrderTest, TransactionsInConcurrentBatchesDoNotDeadlock) {
  {
    pqxx::connection own(own_url_);
    pqxx::nontransaction(own).exec0("INSERT INTO " + counters_ +
                                    " VALUES (2, 0)");
  }
  auto transfer = [&](const std::string& key, int64_t from, int64_t to) {
    v1::TransactionRequest request;
    for (auto [id, delta] : {std::pair{from, -1}, std::pair{to, 1}}) {
      v1::UpdateRequest* update = request.add_steps()->mutable_update();
      update->set_table(counters_);
      *update->mutable_key() = RowOf({{"id", Int(id)}});
      *update->mutable_increment() = RowOf({{"n", Int(delta)}});
    }
    absl::StatusOr<ops::PreparedTransaction> prepared =
        ops::PrepareTransaction(context_, request);
    EXPECT_TRUE(prepared.ok()) << prepared.status();
    v1::KeyedCallRequest keyed;
    keyed.set_idempotency_key(key);
    *keyed.mutable_transaction() = request;
    return WriteCall{tenant_, *std::move(prepared),
                     keys::KeyClaim{{tenant_, key}, keys::Fingerprint(keyed)}};
  };
  for (int round = 0; round < 20; ++round) {
    std::vector<WriteCall> one, other;
    const std::string r = std::to_string(round);
    one.push_back(transfer("a" + r, 1, 2));
    one.push_back(transfer("b" + r, 2, 1));
    other.push_back(transfer("c" + r, 2, 1));
    other.push_back(transfer("d" + r, 1, 2));
    std::vector<Answer> first, second;
    std::thread racing([&] { second = RunBatch(other); });
    first = RunBatch(one);
    racing.join();
    for (const auto* outcomes : {&first, &second}) {
      for (const Answer& outcome : *outcomes) {
        ASSERT_TRUE(outcome.status.ok()) << round << ": " << outcome.status;
      }
    }
  }
  {
    pqxx::connection own(own_url_);
    EXPECT_EQ(pqxx::nontransaction(own)
                  .exec1("SELECT sum(n) FROM " + counters_)[0]
                  .as<int>(),
              0);
  }
  EXPECT_EQ(Deadlocks(), "0");
}

}  // namespace
}  // namespace idem::testing
