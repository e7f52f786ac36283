// An upsert's outcome describes the row version its decision was made on:
// when the stored row changed while the upsert waited for its lock, the
// label compares with the row as it was when the lock was granted, not as
// the statement's snapshot saw it.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/polling.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

using keys::Answer;
using ops::WriteCall;

class UpsertOutcomeTest : public GroupCommitTest {
 protected:
  void SetUp() override {
    GroupCommitTest::SetUp();
    versioned_ = CreateServedTable(
        "gc_versioned", "id bigint PRIMARY KEY, label text, v bigint",
        "1, 'a', 1");
    db_.Exec("INSERT INTO " + items_ + " VALUES (1, 'a', 0)");
  }

  v1::InsertRequest Upsert(const std::string& note) {
    v1::InsertRequest request;
    request.set_table(items_);
    request.set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
    *request.add_rows() =
        RowOf({{"id", Int(1)}, {"note", Str(note)}, {"n", Int(0)}});
    return request;
  }

  v1::InsertRequest VersionedUpsert(const std::string& label, int64_t v) {
    v1::InsertRequest request;
    request.set_table(versioned_);
    request.set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
    request.set_version_column("v");
    *request.add_rows() =
        RowOf({{"id", Int(1)}, {"label", Str(label)}, {"v", Int(v)}});
    return request;
  }

  // Runs `request` while another transaction holds row 1 of `table` after
  // running `change`, which commits once the upsert waits for the row.
  v1::RowOutcome OutcomeBehindLock(const std::string& table,
                                   const std::string& change,
                                   const v1::InsertRequest& request) {
    LockHolder holder(change);
    std::vector<WriteCall> calls;
    calls.push_back(InsertCall(request));
    std::vector<Answer> outcomes;
    std::thread upsert([&] { outcomes = RunBatch(calls); });
    EXPECT_TRUE(Eventually([&] { return db_.LockWaiters(table) == 1; }));
    holder.Commit();
    upsert.join();
    EXPECT_TRUE(outcomes.at(0).status.ok()) << outcomes[0].status;
    return outcomes[0].response.insert().outcomes(0);
  }

  std::string versioned_;
};

TEST_F(UpsertOutcomeTest, TheValuesCommittedWhileWaitingAreADuplicate) {
  EXPECT_EQ(OutcomeBehindLock(
                items_, "UPDATE " + items_ + " SET note = 'b' WHERE id = 1",
                Upsert("b")),
            v1::ROW_OUTCOME_DUPLICATE);
  EXPECT_EQ(db_.Scalar("SELECT note FROM " + items_), "b");
}

TEST_F(UpsertOutcomeTest, OtherValuesCommittedWhileWaitingAreUpdated) {
  EXPECT_EQ(OutcomeBehindLock(
                items_, "UPDATE " + items_ + " SET note = 'b' WHERE id = 1",
                Upsert("c")),
            v1::ROW_OUTCOME_UPDATED);
  EXPECT_EQ(db_.Scalar("SELECT note FROM " + items_), "c");
}

TEST_F(UpsertOutcomeTest, AVersionCommittedWhileWaitingWithTheSameValues) {
  EXPECT_EQ(OutcomeBehindLock(
                versioned_,
                "UPDATE " + versioned_ + " SET label = 'b', v = 2 WHERE id = 1",
                VersionedUpsert("b", 2)),
            v1::ROW_OUTCOME_DUPLICATE);
}

TEST_F(UpsertOutcomeTest, ANewerVersionCommittedWhileWaitingMakesItStale) {
  EXPECT_EQ(OutcomeBehindLock(
                versioned_,
                "UPDATE " + versioned_ + " SET label = 'c', v = 3 WHERE id = 1",
                VersionedUpsert("b", 2)),
            v1::ROW_OUTCOME_STALE);
  EXPECT_EQ(db_.Scalar("SELECT label || v FROM " + versioned_), "c3");
}

TEST_F(UpsertOutcomeTest, AnOlderVersionCommittedWhileWaitingIsUpdated) {
  EXPECT_EQ(OutcomeBehindLock(
                versioned_,
                "UPDATE " + versioned_ + " SET label = 'c', v = 2 WHERE id = 1",
                VersionedUpsert("b", 5)),
            v1::ROW_OUTCOME_UPDATED);
  EXPECT_EQ(db_.Scalar("SELECT label || v FROM " + versioned_), "b5");
}

}  // namespace
}  // namespace idem::testing
