// A batch is answered as committed only when PostgreSQL committed it: a
// savepoint statement that failed, or a COMMIT answered with ROLLBACK,
// leaves every call of the batch UNAVAILABLE, with nothing written, stored
// or remembered, so that a retry runs it afresh.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "service/common/error_reason.h"
#include "service/db/fault_points.h"
#include "service/keys/finished_call_cache.h"
#include "service/ops/update_op.h"
#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/polling.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

using keys::Answer;
using ops::WriteCall;

class CommitOutcomeTest : public GroupCommitTest {
 protected:
  void SetUp() override {
    GroupCommitTest::SetUp();
    cache_ = std::make_unique<keys::FinishedCallCache>(
        keys::FinishedCallCache::Options{});
    UseReplayCache(cache_.get());
  }
  void TearDown() override { db::testing::Faults() = {}; }

  // Two good keyed calls and a bad one (CHECK n >= 0): the batch fails
  // together and runs again with each call in a savepoint.
  std::vector<WriteCall> GoodGoodBad() {
    std::vector<WriteCall> calls;
    calls.push_back(KeyedInsert("good-1", 1, "a"));
    calls.push_back(KeyedInsert("good-2", 2, "b"));
    calls.push_back(KeyedInsert("bad", 3, "negative", -1));
    return calls;
  }

  void ExpectNothingHappened(const std::vector<Answer>& outcomes) {
    for (const Answer& outcome : outcomes) {
      EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable)
          << outcome.status;
    }
    EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_), "0");
    EXPECT_EQ(db_.Scalar("SELECT count(*) FROM idem.idempotency_keys "
                         "WHERE tenant = '" +
                         tenant_ + "'"),
              "0");
    for (const char* key : {"good-1", "good-2", "bad"}) {
      EXPECT_EQ(cache_->Get({tenant_, key}), nullptr) << key;
    }
  }

  std::unique_ptr<keys::FinishedCallCache> cache_;
};

// The second call's RELEASE fails on the client's side: the database never
// undid that call's savepoint and would have committed its row under an
// answer that says it failed (so a retry would insert it again).
TEST_F(CommitOutcomeTest, AFailedReleaseAbandonsTheBatch) {
  std::atomic<int> releases{0};
  db::testing::Faults().fail_savepoint_statement = [&](absl::string_view sql) {
    return absl::StartsWith(sql, "RELEASE") && ++releases == 2;
  };
  std::vector<WriteCall> calls = GoodGoodBad();
  ExpectNothingHappened(RunBatch(calls));
  ASSERT_EQ(releases.load(), 2) << "the fault point was not reached";

  // Without the fault the same calls run afresh, each with its own answer.
  db::testing::Faults() = {};
  std::vector<WriteCall> again = GoodGoodBad();
  std::vector<Answer> outcomes = RunBatch(again);
  EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status;
  EXPECT_TRUE(outcomes[1].status.ok()) << outcomes[1].status;
  EXPECT_EQ(outcomes[2].status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReasonOf(outcomes[2].status), "CONSTRAINT_VIOLATED");
  EXPECT_FALSE(outcomes[0].replayed);
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_), "2");
}

// The database ends the batch's session between two calls' savepoints
// (pg_terminate_backend, a failover): libpqxx closes the transaction when
// the next savepoint statement fails, and no later call may be run on it
// (it answered INTERNAL, "transaction ... already closed", which clients
// do not retry): the batch is UNAVAILABLE, nothing written.
TEST_F(CommitOutcomeTest, ASessionEndedBetweenSavepointsIsUnavailable) {
  const std::string sessions = TestDatabase::UniqueName("ended");
  UseOwnPool(absl::Minutes(10), sessions);
  std::atomic<int> savepoints{0};
  db::testing::Faults().fail_savepoint_statement = [&](absl::string_view sql) {
    if (absl::StartsWith(sql, "SAVEPOINT") && ++savepoints == 2) {
      db_.Exec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
          "application_name = '" +
          sessions + "'");
      EXPECT_TRUE(Eventually([&] {
        return db_.Scalar(
                   "SELECT count(*) FROM pg_stat_activity WHERE "
                   "application_name = '" +
                   sessions + "'") == "0";
      }));
    }
    return false;  // the statement itself runs, on the ended session
  };
  std::vector<WriteCall> calls = GoodGoodBad();
  ExpectNothingHappened(RunBatch(calls));
  ASSERT_GE(savepoints.load(), 2) << "the fault point was not reached";
}

// The bad call's ROLLBACK TO fails: its row would stay and commit.
TEST_F(CommitOutcomeTest, AFailedRollbackToSavepointAbandonsTheBatch) {
  db::testing::Faults().fail_savepoint_statement = [](absl::string_view sql) {
    return absl::StartsWith(sql, "ROLLBACK TO");
  };
  std::vector<WriteCall> calls = GoodGoodBad();
  ExpectNothingHappened(RunBatch(calls));
}

// A statement failed and nobody noticed: PostgreSQL answers the COMMIT of
// the aborted transaction with ROLLBACK, and that is not a commit.
TEST_F(CommitOutcomeTest, ACommitAnsweredWithRollbackIsNotACommit) {
  db::testing::Faults().abort_before_commit = [] { return true; };
  std::vector<WriteCall> calls;
  calls.push_back(KeyedInsert("good-1", 1, "a"));
  calls.push_back(PlainInsert(2, "b"));
  ExpectNothingHappened(RunBatch(calls));
}

// A lone plain write runs as one statement outside a transaction block: it
// commits by itself, so an answer lost on the way back leaves the commit in
// doubt (COMMIT_UNKNOWN), never "did not run" (DATABASE_UNAVAILABLE), which
// a client would retry without a key and apply twice.
TEST_F(CommitOutcomeTest, ALoneWriteWhoseAnswerIsLostIsInDoubt) {
  db::testing::Faults().lose_autocommit_answer = [] { return true; };
  std::vector<WriteCall> calls;
  calls.push_back(PlainInsert(7, "lost"));
  const std::vector<Answer> inserted = RunBatch(calls);
  EXPECT_EQ(ReasonOf(inserted.at(0).status), "COMMIT_UNKNOWN")
      << inserted[0].status;
  v1::UpdateRequest increment;
  increment.set_table(counters_);
  *increment.mutable_key() = RowOf({{"id", Int(1)}});
  *increment.mutable_increment() = RowOf({{"n", Int(1)}});
  const absl::StatusOr<v1::UpdateResponse> updated =
      ops::RunUpdate(context_, increment);
  EXPECT_EQ(ReasonOf(updated.status()), "COMMIT_UNKNOWN") << updated.status();
  // Both did commit.
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_ + " WHERE id = 7"),
            "1");
  EXPECT_EQ(db_.Scalar("SELECT n FROM " + counters_ + " WHERE id = 1"), "1");
}

}  // namespace
}  // namespace idem::testing
