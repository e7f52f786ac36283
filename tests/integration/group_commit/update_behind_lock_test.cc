// An Update decides its outcome, and applies its change, on the row version
// its lock was granted on: what another transaction committed while the
// update waited is seen (an increment adds to it, the same values are
// UNCHANGED, a newer version is STALE, a deleted row is NOT_FOUND). On both
// paths an Update takes: alone (ops::RunUpdate) and under a key, in a batch.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "service/keys/fingerprint.h"
#include "service/ops/update_op.h"
#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/polling.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

enum class Path { kAlone, kKeyed };

class UpdateBehindLockTest : public GroupCommitTest,
                             public ::testing::WithParamInterface<Path> {
 protected:
  void SetUp() override {
    GroupCommitTest::SetUp();
    versioned_ = CreateServedTable(
        "gc_versioned", "id bigint PRIMARY KEY, label text, v bigint, n bigint",
        "1, 'a', 1, 0");
  }

  v1::UpdateRequest Update(const Columns& set, const Columns& increment = {},
                           const std::string& version_column = "") {
    v1::UpdateRequest request;
    request.set_table(versioned_);
    *request.mutable_key() = RowOf({{"id", Int(1)}});
    *request.mutable_set() = RowOf(set);
    *request.mutable_increment() = RowOf(increment);
    request.set_version_column(version_column);
    return request;
  }

  v1::UpdateOutcome Run(const v1::UpdateRequest& request) {
    if (GetParam() == Path::kAlone) {
      absl::StatusOr<v1::UpdateResponse> response =
          ops::RunUpdate(context_, request);
      EXPECT_TRUE(response.ok()) << response.status();
      return response.ok() ? response->outcome()
                           : v1::UPDATE_OUTCOME_UNSPECIFIED;
    }
    absl::StatusOr<ops::PreparedUpdate> prepared =
        ops::PrepareUpdate(context_, request);
    EXPECT_TRUE(prepared.ok()) << prepared.status();
    v1::KeyedCallRequest keyed;
    keyed.set_idempotency_key("behind-lock");
    *keyed.mutable_update() = request;
    std::vector<ops::WriteCall> calls;
    calls.push_back(ops::WriteCall{
        tenant_, *std::move(prepared),
        keys::KeyClaim{{tenant_, "behind-lock"}, keys::Fingerprint(keyed)}});
    std::vector<keys::Answer> answers = RunBatch(calls);
    EXPECT_TRUE(answers.at(0).status.ok()) << answers[0].status;
    return answers[0].response.update().outcome();
  }

  // Runs `request` while another transaction holds row 1 after running
  // `change`, which commits once the update waits for the row.
  v1::UpdateOutcome OutcomeBehindLock(const std::string& change,
                                      const v1::UpdateRequest& request) {
    LockHolder holder(change);
    v1::UpdateOutcome outcome = v1::UPDATE_OUTCOME_UNSPECIFIED;
    std::thread update([&] { outcome = Run(request); });
    EXPECT_TRUE(Eventually([&] { return db_.LockWaiters(versioned_) == 1; }));
    holder.Commit();
    update.join();
    return outcome;
  }

  std::string Stored() {
    return db_.Scalar("SELECT concat_ws(':', label, v, n) FROM " + versioned_);
  }

  std::string Change(const std::string& assignments) {
    return "UPDATE " + versioned_ + " SET " + assignments + " WHERE id = 1";
  }

  std::string versioned_;
};

TEST_P(UpdateBehindLockTest, AnIncrementAddsToTheValueCommittedWhileWaiting) {
  EXPECT_EQ(OutcomeBehindLock(Change("n = n + 5"), Update({}, {{"n", Int(1)}})),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(Stored(), "a:1:6");
}

TEST_P(UpdateBehindLockTest, TheValuesCommittedWhileWaitingAreUnchanged) {
  EXPECT_EQ(
      OutcomeBehindLock(Change("label = 'b'"), Update({{"label", Str("b")}})),
      v1::UPDATE_OUTCOME_UNCHANGED);
  EXPECT_EQ(Stored(), "b:1:0");
}

TEST_P(UpdateBehindLockTest, OtherValuesCommittedWhileWaitingAreUpdated) {
  EXPECT_EQ(OutcomeBehindLock(Change("label = 'b', n = 3"),
                              Update({{"label", Str("c")}})),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(Stored(), "c:1:3");
}

TEST_P(UpdateBehindLockTest, ANewerVersionCommittedWhileWaitingMakesItStale) {
  EXPECT_EQ(OutcomeBehindLock(Change("label = 'c', v = 3"),
                              Update({{"label", Str("b")}, {"v", Int(2)}},
                                     {{"n", Int(1)}}, "v")),
            v1::UPDATE_OUTCOME_STALE);
  EXPECT_EQ(Stored(), "c:3:0");
}

TEST_P(UpdateBehindLockTest, AnOlderVersionCommittedWhileWaitingIsUpdated) {
  EXPECT_EQ(OutcomeBehindLock(Change("label = 'c', v = 2"),
                              Update({{"label", Str("b")}, {"v", Int(5)}},
                                     {{"n", Int(1)}}, "v")),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(Stored(), "b:5:1");
}

TEST_P(UpdateBehindLockTest, ARowDeletedWhileWaitingIsNotFound) {
  EXPECT_EQ(OutcomeBehindLock("DELETE FROM " + versioned_ + " WHERE id = 1",
                              Update({}, {{"n", Int(1)}})),
            v1::UPDATE_OUTCOME_NOT_FOUND);
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + versioned_), "0");
}

INSTANTIATE_TEST_SUITE_P(Paths, UpdateBehindLockTest,
                         ::testing::Values(Path::kAlone, Path::kKeyed),
                         [](const ::testing::TestParamInfo<Path>& info) {
                           return info.param == Path::kAlone ? "Alone"
                                                             : "Keyed";
                         });

}  // namespace
}  // namespace idem::testing
