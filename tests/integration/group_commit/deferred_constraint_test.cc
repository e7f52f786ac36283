// A constraint checked at COMMIT (DEFERRABLE INITIALLY DEFERRED) that one
// call of a batch breaks fails that call alone: savepoints do not check
// deferred constraints, so the calls of such a batch end in transactions of
// their own, and every other call commits and keeps its own answer.
#include <gtest/gtest.h>

#include <pqxx/nontransaction>
#include <string>
#include <vector>

#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

using keys::Answer;
using ops::WriteCall;

class DeferredConstraintTest : public GroupCommitTest {
 protected:
  void SetUp() override {
    GroupCommitTest::SetUp();
    parents_ = TestDatabase::UniqueName("gc_parents");
    children_ = TestDatabase::UniqueName("gc_children");
    codes_ = TestDatabase::UniqueName("gc_codes");
    pqxx::connection connection(DatabaseUrl());
    pqxx::nontransaction arrange(connection);
    arrange.exec("CREATE TABLE " + parents_ + " (id bigint PRIMARY KEY)");
    arrange.exec("INSERT INTO " + parents_ + " VALUES (0), (2), (4), (6)");
    arrange.exec("CREATE TABLE " + children_ +
                 " (id bigint PRIMARY KEY, parent bigint REFERENCES " +
                 parents_ + " DEFERRABLE INITIALLY DEFERRED)");
    arrange.exec("CREATE TABLE " + codes_ +
                 " (id bigint PRIMARY KEY, code text UNIQUE "
                 "DEFERRABLE INITIALLY DEFERRED)");
    AllowTables({children_, codes_});
  }

  v1::InsertRequest Child(int64_t id) {
    v1::InsertRequest request;
    request.set_table(children_);
    *request.add_rows() = RowOf({{"id", Int(id)}, {"parent", Int(id)}});
    return request;
  }

  v1::InsertRequest Code(int64_t id, const std::string& code) {
    v1::InsertRequest request;
    request.set_table(codes_);
    *request.add_rows() = RowOf({{"id", Int(id)}, {"code", Str(code)}});
    return request;
  }

  std::string parents_, children_, codes_;
};

// Children 0..7: the even ones have a parent, the odd ones do not.
TEST_F(DeferredConstraintTest, KeyedCallsFailAloneAndReplayTheirOwnAnswers) {
  auto make = [&] {
    std::vector<WriteCall> calls;
    for (int i = 0; i < 8; ++i) {
      calls.push_back(InsertCall(Child(i), "child-" + std::to_string(i)));
    }
    return calls;
  };
  std::vector<WriteCall> calls = make();
  std::vector<Answer> first = RunBatch(calls);
  ASSERT_EQ(first.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(i);
    if (i % 2 == 0) {
      EXPECT_TRUE(first[i].status.ok()) << first[i].status;
      EXPECT_EQ(first[i].response.insert().inserted(), 1);
      EXPECT_EQ(KeyRecord("child-" + std::to_string(i)), "2/0");
    } else {
      EXPECT_EQ(first[i].status.code(), absl::StatusCode::kFailedPrecondition)
          << first[i].status;
      EXPECT_EQ(KeyRecord("child-" + std::to_string(i)), "2/9");
    }
  }
  EXPECT_EQ(db_.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM " +
                       children_),
            "0,2,4,6");

  std::vector<WriteCall> again = make();
  std::vector<Answer> replayed = RunBatch(again);
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(replayed[i].replayed);
    EXPECT_EQ(replayed[i].status.code(), first[i].status.code());
  }
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + children_), "4");
}

TEST_F(DeferredConstraintTest, PlainInsertsFailAlone) {
  std::vector<WriteCall> calls;
  for (int i = 0; i < 8; ++i) calls.push_back(InsertCall(Child(i)));
  std::vector<Answer> outcomes = RunBatch(calls);
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(outcomes[i].status.ok(), i % 2 == 0) << outcomes[i].status;
  }
  EXPECT_EQ(db_.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM " +
                       children_),
            "0,2,4,6");
}

// Two calls of the batch break a deferred unique constraint only together:
// as if sent one after the other, the first commits and the second fails.
TEST_F(DeferredConstraintTest, ADeferredUniqueConstraintFailsOnlyTheLaterCall) {
  std::vector<WriteCall> calls;
  calls.push_back(InsertCall(Code(1, "a"), "code-1"));
  calls.push_back(InsertCall(Code(2, "b"), "code-2"));
  calls.push_back(InsertCall(Code(3, "a"), "code-3"));
  calls.push_back(InsertCall(Code(4, "c")));
  std::vector<Answer> outcomes = RunBatch(calls);
  EXPECT_TRUE(outcomes[0].status.ok()) << outcomes[0].status;
  EXPECT_TRUE(outcomes[1].status.ok()) << outcomes[1].status;
  EXPECT_FALSE(outcomes[2].status.ok());
  EXPECT_TRUE(outcomes[3].status.ok()) << outcomes[3].status;
  EXPECT_EQ(
      db_.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM " + codes_),
      "1,2,4");
  EXPECT_EQ(KeyRecord("code-3"),
            "2/" + std::to_string(static_cast<int>(outcomes[2].status.code())));
}

}  // namespace
}  // namespace idem::testing
