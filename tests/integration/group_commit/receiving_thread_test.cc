// What Insert and KeyedCall do on the thread that received the call
// (RunsOn::kReceivingThread), which must not wait on I/O: prepare a write
// that needs none for the group committer, answer a refusal that needs
// none, and decline the rest untouched, which a worker then runs whole.

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "service/keys/answer.h"
#include "service/ops/group_commit.h"
#include "service/ops/insert_op.h"
#include "service/ops/keyed_call_op.h"
#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

using ops::RunsOn;

class ReceivingThreadTest : public GroupCommitTest {
 protected:
  // An insert of `rows` items rows from id 1, their n given by `n`.
  v1::InsertRequest ItemsInsert(int rows, const v1::Value& n = Int(0)) const {
    v1::InsertRequest request;
    request.set_table(items_);
    for (int id = 1; id <= rows; ++id) {
      *request.add_rows() =
          RowOf({{"id", Int(id)}, {"note", Str("r")}, {"n", n}});
    }
    return request;
  }

  v1::KeyedCallRequest Keyed(const std::string& key,
                             const v1::InsertRequest& insert) const {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(key);
    *request.mutable_insert() = insert;
    return request;
  }

  // RunInsert on `runs_on`: whether it took the call, and the answer it
  // gave at once, if any; `writes_` holds what it prepared.
  bool Insert(const v1::InsertRequest& request, RunsOn runs_on) {
    return ops::RunInsert(
        context_, tenant_, request,
        [this](absl::StatusOr<v1::InsertResponse> result) {
          answered_ = result.status();
        },
        writes_, runs_on);
  }

  bool KeyedCall(const v1::KeyedCallRequest& request, RunsOn runs_on) {
    return ops::RunKeyedCall(
        context_, tenant_, request,
        [this](keys::Answer answer) { answered_ = answer.status; }, writes_,
        runs_on);
  }

  ops::PendingWrites writes_;
  std::optional<absl::Status> answered_;
};

TEST_F(ReceivingThreadTest, PreparesAnInsertIntoALoadedTable) {
  EXPECT_TRUE(Insert(ItemsInsert(1), RunsOn::kReceivingThread));
  EXPECT_FALSE(writes_.empty());
  EXPECT_FALSE(answered_.has_value());  // the committer answers it
}

TEST_F(ReceivingThreadTest, PreparesAKeyedInsertIntoALoadedTable) {
  EXPECT_TRUE(KeyedCall(Keyed("k", ItemsInsert(1)), RunsOn::kReceivingThread));
  EXPECT_FALSE(writes_.empty());
  EXPECT_FALSE(answered_.has_value());
}

TEST_F(ReceivingThreadTest, AnswersAnInsertRefusedWithoutIo) {
  EXPECT_TRUE(Insert(ItemsInsert(1, Bool(true)), RunsOn::kReceivingThread));
  ASSERT_TRUE(answered_.has_value());
  EXPECT_EQ(answered_->code(), absl::StatusCode::kInvalidArgument)
      << *answered_;
  EXPECT_TRUE(writes_.empty());
}

TEST_F(ReceivingThreadTest, DeclinesAnInsertOfManyRows) {
  const v1::InsertRequest large =
      ItemsInsert(ops::kMaxRowsOnReceivingThread + 1);
  EXPECT_FALSE(Insert(large, RunsOn::kReceivingThread));
  EXPECT_FALSE(answered_.has_value());
  EXPECT_TRUE(writes_.empty());
  EXPECT_TRUE(Insert(large, RunsOn::kWorker));
  EXPECT_FALSE(writes_.empty());
}

// A table allow-listed but created after the catalog loaded: finding it
// reads the database, so the receiving thread leaves it to a worker, after
// which it is loaded.
TEST_F(ReceivingThreadTest, DeclinesATableTheCatalogHasNotLoaded) {
  const std::string late = TestDatabase::UniqueName("gc_late");
  AllowTables({late});
  db_.Exec("CREATE TABLE " + late + " (id bigint PRIMARY KEY)");
  v1::InsertRequest request;
  request.set_table(late);
  *request.add_rows() = RowOf({{"id", Int(1)}});
  EXPECT_FALSE(Insert(request, RunsOn::kReceivingThread));
  EXPECT_FALSE(KeyedCall(Keyed("late", request), RunsOn::kReceivingThread));
  EXPECT_FALSE(answered_.has_value());
  EXPECT_TRUE(writes_.empty());

  EXPECT_TRUE(Insert(request, RunsOn::kWorker));
  EXPECT_FALSE(answered_.has_value()) << *answered_;
  EXPECT_TRUE(Insert(request, RunsOn::kReceivingThread));
}

// A column added since the table was loaded: the catalog reloads it.
TEST_F(ReceivingThreadTest, DeclinesAColumnTheCatalogHasNotLoaded) {
  db_.Exec("ALTER TABLE " + items_ + " ADD COLUMN extra text");
  v1::InsertRequest request;
  request.set_table(items_);
  *request.add_rows() = RowOf({{"id", Int(1)}, {"extra", Str("x")}});
  EXPECT_FALSE(Insert(request, RunsOn::kReceivingThread));
  EXPECT_TRUE(writes_.empty());
  EXPECT_TRUE(Insert(request, RunsOn::kWorker));
  EXPECT_FALSE(writes_.empty());
}

// A keyed call refused for good is stored under its key, which writes to
// the database: the receiving thread declines it and stores nothing.
TEST_F(ReceivingThreadTest, DeclinesAKeyedCallWhoseFailureIsStored) {
  const v1::KeyedCallRequest refused = Keyed("bad", ItemsInsert(1, Bool(true)));
  EXPECT_FALSE(KeyedCall(refused, RunsOn::kReceivingThread));
  EXPECT_FALSE(answered_.has_value());
  EXPECT_EQ(KeyRecord("bad"), "");

  EXPECT_TRUE(KeyedCall(refused, RunsOn::kWorker));
  ASSERT_TRUE(answered_.has_value());
  EXPECT_EQ(answered_->code(), absl::StatusCode::kInvalidArgument)
      << *answered_;
  EXPECT_NE(KeyRecord("bad"), "");
  EXPECT_TRUE(writes_.empty());
}

// The row limit counts a transaction's steps together: two inserts of 60
// rows each are declined, though each alone would be prepared here.
TEST_F(ReceivingThreadTest, DeclinesATransactionWhoseStepsHoldManyRows) {
  const int half = ops::kMaxRowsOnReceivingThread / 2 + 10;
  v1::KeyedCallRequest one_step;
  one_step.set_idempotency_key("steps");
  *one_step.mutable_transaction()->add_steps()->mutable_insert() =
      ItemsInsert(half);
  v1::KeyedCallRequest two_steps = one_step;
  *two_steps.mutable_transaction()->add_steps()->mutable_insert() =
      ItemsInsert(half);

  EXPECT_FALSE(KeyedCall(two_steps, RunsOn::kReceivingThread));
  EXPECT_FALSE(answered_.has_value());
  EXPECT_TRUE(writes_.empty());
  EXPECT_TRUE(KeyedCall(one_step, RunsOn::kReceivingThread));
  EXPECT_FALSE(answered_.has_value());
  EXPECT_FALSE(writes_.empty());
}

TEST_F(ReceivingThreadTest, DeclinesAKeyedCopyFile) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key("copy");
  request.mutable_copy_file()->set_source_path("in");
  request.mutable_copy_file()->set_destination_path("out");
  EXPECT_FALSE(KeyedCall(request, RunsOn::kReceivingThread));
  EXPECT_FALSE(answered_.has_value());
  EXPECT_EQ(KeyRecord("copy"), "");
}

// A malformed key is refused before anything is stored: at once, here.
TEST_F(ReceivingThreadTest, AnswersAMalformedKeyWithoutIo) {
  EXPECT_TRUE(KeyedCall(Keyed("", ItemsInsert(1)), RunsOn::kReceivingThread));
  ASSERT_TRUE(answered_.has_value());
  EXPECT_EQ(answered_->code(), absl::StatusCode::kInvalidArgument)
      << *answered_;
  EXPECT_TRUE(writes_.empty());
}

}  // namespace
}  // namespace idem::testing
