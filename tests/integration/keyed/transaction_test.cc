// Several writes under one key, in one PostgreSQL transaction with the key's
// record: all commit or none does, a step that must apply and does not
// fails the whole call (stored and replayed), and every step is authorized
// before anything runs.
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/keyed/keyed_fixture.h"
#include "tests/support/rich_status.h"

namespace idem::testing::keyed {
namespace {

class TransactionTest : public KeyedCallTest {
 protected:
  static v1::Step InsertStep(const std::string& table, const Columns& row,
                             bool require_applied = false) {
    v1::Step step;
    step.mutable_insert()->set_table(table);
    *step.mutable_insert()->add_rows() = RowOf(row);
    step.set_require_applied(require_applied);
    return step;
  }
  static v1::Step IncrementStep(const std::string& table, int64_t id,
                                int64_t delta, bool require_applied = false) {
    v1::Step step;
    v1::UpdateRequest* update = step.mutable_update();
    update->set_table(table);
    *update->mutable_key() = RowOf({{"id", Int(id)}});
    *update->mutable_increment() = RowOf({{"n", Int(delta)}});
    step.set_require_applied(require_applied);
    return step;
  }
  static v1::KeyedCallRequest Transaction(const std::string& key,
                                          const std::vector<v1::Step>& steps) {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(key);
    for (const v1::Step& step : steps) {
      *request.mutable_transaction()->add_steps() = step;
    }
    return request;
  }
};

TEST_F(TransactionTest, EveryStepCommitsWithTheKeyAndReplays) {
  int64_t debit = NewCounter(), credit = NewCounter();
  std::string key = NewKey("transfer");
  v1::KeyedCallRequest request = Transaction(
      key,
      {IncrementStep(counters(), debit, -5),
       IncrementStep(counters(), credit, 5),
       InsertStep(items(), {{"id", Int(debit)}, {"name", Str("transfer")}})});
  Answer first = Call(stub(), request);
  ASSERT_TRUE(first.ok()) << first.status.error_message();
  EXPECT_FALSE(first.response.replayed());
  const v1::TransactionResponse& results = first.response.transaction();
  ASSERT_EQ(results.results_size(), 3);
  EXPECT_EQ(results.results(0).update().outcome(), v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(results.results(1).update().outcome(), v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(results.results(2).insert().inserted(), 1);
  EXPECT_TRUE(first.response.has_expires_at());
  EXPECT_EQ(Counter(debit), -5);
  EXPECT_EQ(Counter(credit), 5);

  Answer replay = Call(stub(), request);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay.response.replayed());
  EXPECT_EQ(replay.response.transaction().SerializeAsString(),
            results.SerializeAsString());
  EXPECT_EQ(Counter(debit), -5);
  EXPECT_EQ(Counter(credit), 5);
}

// A later step fails on a value PostgreSQL refuses: the earlier steps are
// undone, the failure names the step, and it is stored under the key.
TEST_F(TransactionTest, AFailingLaterStepUndoesEverything) {
  int64_t counter = NewCounter();
  std::string key = NewKey("failing");
  v1::KeyedCallRequest request = Transaction(
      key, {IncrementStep(counters(), counter, 1),
            InsertStep(items(), {{"id", Int(counter)}, {"qty", Str("many")}})});
  Answer first = Call(stub(), request);
  ExpectRefusal(first.status, "VALUE_INVALID");
  std::optional<google::rpc::Status> rich = RichStatusOf(first.status);
  ASSERT_TRUE(rich.has_value());
  EXPECT_EQ(ErrorInfoOf(*rich)->metadata().at("step"), "1");
  EXPECT_EQ(Counter(counter), 0);
  EXPECT_EQ(ItemCount(counter), 0);

  Answer replay = Call(stub(), request);
  EXPECT_TRUE(replay.marked_replayed());
  EXPECT_EQ(replay.status.error_code(), first.status.error_code());
  EXPECT_EQ(Counter(counter), 0);
}

// An Update step with a value PostgreSQL refuses fails when its row is
// locked, before the steps run: the failure still names that step and the
// column, stored and replayed so.
TEST_F(TransactionTest, AnUpdateStepRefusedWhileLockingNamesItsStep) {
  int64_t counter = NewCounter();
  v1::Step bad_update;
  bad_update.mutable_update()->set_table(items());
  *bad_update.mutable_update()->mutable_key() = RowOf({{"id", Int(counter)}});
  *bad_update.mutable_update()->mutable_set() = RowOf({{"qty", Str("many")}});
  v1::KeyedCallRequest request = Transaction(
      NewKey("lock-step"), {IncrementStep(counters(), counter, 1), bad_update});
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second replays
    Answer refused = Call(stub(), request);
    ExpectRefusal(refused.status, "VALUE_INVALID");
    std::optional<google::rpc::Status> rich = RichStatusOf(refused.status);
    ASSERT_TRUE(rich.has_value());
    google::rpc::ErrorInfo info =
        ErrorInfoOf(*rich).value_or(google::rpc::ErrorInfo());
    EXPECT_EQ(info.metadata().count("step") ? info.metadata().at("step") : "",
              "1");
    EXPECT_EQ(
        info.metadata().count("column") ? info.metadata().at("column") : "",
        "qty");
  }
  EXPECT_EQ(Counter(counter), 0);
}

// require_applied: every outcome but INSERTED and UPDATED fails the whole
// call with STEP_NOT_APPLIED naming the step; nothing of it stays.
TEST_F(TransactionTest, RequireAppliedRefusesEveryOtherOutcome) {
  int64_t id = NewCounter();
  ASSERT_TRUE(Call(stub(), InsertRow(NewKey(), items(),
                                     {{"id", Int(id)}, {"name", Str("a")}}))
                  .ok());
  int64_t missing = id + 1000000;
  v1::Step unchanged;
  unchanged.mutable_update()->set_table(items());
  *unchanged.mutable_update()->mutable_key() = RowOf({{"id", Int(id)}});
  *unchanged.mutable_update()->mutable_set() = RowOf({{"name", Str("a")}});
  unchanged.set_require_applied(true);
  const std::vector<std::pair<std::string, v1::Step>> cases = {
      {"DUPLICATE",
       InsertStep(items(), {{"id", Int(id)}, {"name", Str("a")}}, true)},
      {"CONFLICT",
       InsertStep(items(), {{"id", Int(id)}, {"name", Str("b")}}, true)},
      {"UNCHANGED", unchanged},
      {"NOT_FOUND", IncrementStep(counters(), missing, 1, true)},
  };
  for (const auto& [outcome, step] : cases) {
    SCOPED_TRACE(outcome);
    std::string key = NewKey("guard");
    v1::KeyedCallRequest request =
        Transaction(key, {IncrementStep(counters(), id, 1), step});
    Answer refused = Call(stub(), request);
    ExpectRefusal(refused.status, "STEP_NOT_APPLIED");
    EXPECT_NE(refused.status.error_message().find(outcome), std::string::npos)
        << refused.status.error_message();
    std::optional<google::rpc::Status> rich = RichStatusOf(refused.status);
    ASSERT_TRUE(rich.has_value());
    EXPECT_EQ(ErrorInfoOf(*rich)->metadata().at("step"), "1");
    EXPECT_EQ(Counter(id), 0);
    Answer replay = Call(stub(), request);
    EXPECT_TRUE(replay.marked_replayed());
    ExpectRefusal(replay.status, "STEP_NOT_APPLIED");
  }
  // The same steps without require_applied commit.
  Answer applied =
      Call(stub(), Transaction(NewKey(), {IncrementStep(counters(), id, 1)}));
  EXPECT_TRUE(applied.ok());
  EXPECT_EQ(Counter(id), 1);
}

TEST_F(TransactionTest, RequireAppliedRefusesAStaleVersion) {
  int64_t id = NewCounter();
  v1::Step versioned;
  v1::InsertRequest* insert = versioned.mutable_insert();
  insert->set_table(counters());
  insert->set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
  insert->set_version_column("n");
  *insert->add_rows() = RowOf({{"id", Int(id)}, {"n", Int(-1)}});
  versioned.set_require_applied(true);
  Answer stale = Call(stub(), Transaction(NewKey(), {versioned}));
  ExpectRefusal(stale.status, "STEP_NOT_APPLIED");
  EXPECT_NE(stale.status.error_message().find("STALE"), std::string::npos);
}

// Thirty-two deliveries of one transaction at once run it once.
TEST_F(TransactionTest, ConcurrentDeliveriesRunOnce) {
  int64_t counter = NewCounter();
  v1::KeyedCallRequest request = Transaction(
      NewKey("concurrent"), {IncrementStep(counters(), counter, 1),
                             IncrementStep(counters(), counter, 1)});
  constexpr int kCallers = 32;
  std::vector<Answer> answers(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back(
        [&, i] { answers[i] = CallUntilSettled(stub(), request); });
  }
  for (std::thread& caller : callers) caller.join();
  int executed = 0;
  for (const Answer& answer : answers) {
    ASSERT_TRUE(answer.ok()) << answer.status.error_message();
    if (!answer.response.replayed()) ++executed;
  }
  EXPECT_EQ(executed, 1);
  EXPECT_EQ(Counter(counter), 2);
}

TEST_F(TransactionTest, MalformedTransactionsAreRefusedAndWriteNothing) {
  int64_t counter = NewCounter();
  ExpectRefusal(Call(stub(), Transaction(NewKey(), {})).status,
                "REQUEST_INVALID");
  v1::Step empty;
  Answer no_op = Call(
      stub(),
      Transaction(NewKey(), {IncrementStep(counters(), counter, 1), empty}));
  ExpectRefusal(no_op.status, "REQUEST_INVALID");
  // Over the 100 steps a transaction may hold: a limit, as too many rows or
  // calls are.
  std::vector<v1::Step> too_many(101, IncrementStep(counters(), counter, 1));
  ExpectRefusal(Call(stub(), Transaction(NewKey(), too_many)).status,
                "LIMIT_EXCEEDED");
  ExpectRefusal(
      Call(stub(),
           Transaction(NewKey(), {IncrementStep(counters(), counter, 1),
                                  InsertStep(absent(), {{"id", Int(1)}})}))
          .status,
      "TABLE_NOT_FOUND");
  EXPECT_EQ(Counter(counter), 0);
}

}  // namespace
}  // namespace idem::testing::keyed
