// A constraint checked at COMMIT (DEFERRABLE INITIALLY DEFERRED) that one
// call of a batch breaks fails that call alone: savepoints do not check
// deferred constraints, so the calls of such a batch end in transactions of
// their own, and every other call commits and keeps its own answer.
#include <gtest/gtest.h>

#include <map>
#include <pqxx/nontransaction>
#include <string>
#include <vector>

#include "service/common/error_reason.h"
#include "service/keys/fingerprint.h"
#include "service/ops/transaction_op.h"
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

  // A keyed transaction of `steps`, each an Insert.
  WriteCall TransactionCall(const std::vector<v1::InsertRequest>& steps,
                            const std::string& key) {
    v1::KeyedCallRequest keyed;
    keyed.set_idempotency_key(key);
    for (const v1::InsertRequest& step : steps) {
      *keyed.mutable_transaction()->add_steps()->mutable_insert() = step;
    }
    absl::StatusOr<ops::PreparedTransaction> transaction =
        ops::PrepareTransaction(context_, keyed.transaction());
    EXPECT_TRUE(transaction.ok()) << transaction.status();
    return WriteCall{tenant_, *std::move(transaction),
                     keys::KeyClaim{{tenant_, key}, keys::Fingerprint(keyed)}};
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

// A batch whose deferred constraint fails at COMMIT while some of its
// calls wait on rows the test holds: its calls end in transactions of their
// own, which share the batch's one lock timeout (README: a call of a batch
// waits for a lock at most IDEM_LOCK_TIMEOUT), not one each (the old
// fallback: 1 s for the batch, then 1 s for each held row, 4 s here).
TEST_F(DeferredConstraintTest, CallsEndingAloneShareTheBatchsLockTimeout) {
  AddCounters(3);
  UseOwnPool(absl::Seconds(1));
  LockHolder holder("UPDATE " + counters_ + " SET n = n");
  std::vector<WriteCall> calls;
  calls.push_back(InsertCall(Child(1), "orphan"));  // no parent 1
  for (int id = 1; id <= 3; ++id) {
    calls.push_back(KeyedIncrement("held-" + std::to_string(id), id));
  }
  calls.push_back(InsertCall(Child(2), "adopted"));
  const absl::Time start = absl::Now();
  std::vector<Answer> outcomes = RunBatch(calls);
  const absl::Duration took = absl::Now() - start;

  EXPECT_GE(took, absl::Seconds(1));
  EXPECT_LT(took, absl::Milliseconds(2500));
  EXPECT_EQ(idem::ReasonOf(outcomes[0].status).value_or(""),
            "CONSTRAINT_VIOLATED")
      << outcomes[0].status;
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(idem::ReasonOf(outcomes[i].status).value_or(""), "ROW_LOCKED")
        << outcomes[i].status;
    EXPECT_EQ(KeyRecord("held-" + std::to_string(i)), "");
  }
  EXPECT_TRUE(outcomes[4].status.ok()) << outcomes[4].status;
  holder.Abort();
  EXPECT_EQ(db_.Scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM " +
                       children_),
            "2");
  EXPECT_EQ(db_.Scalar("SELECT sum(n) FROM " + counters_), "0");
}

}  // namespace
}  // namespace idem::testing

namespace idem::testing {
namespace {

// A transaction whose step breaks a deferred constraint fails at COMMIT,
// after every step ran: the failure still names that step (brief 8.3: "a
// failing step fails the call with its index in ErrorInfo metadata step")
// and its row, found by the values PostgreSQL's DETAIL shows; stored and
// replayed so, nothing written.
TEST_F(DeferredConstraintTest, ATransactionsDeferredFailureNamesItsStep) {
  v1::InsertRequest children = Child(6);  // parent 6 exists, 11 does not
  *children.add_rows() = RowOf({{"id", Int(11)}, {"parent", Int(11)}});
  std::vector<WriteCall> calls;
  calls.push_back(TransactionCall({Code(10, "ten"), Child(4), children},
                                  "deferred-transaction"));
  const Answer first = RunBatch(calls).front();
  EXPECT_EQ(idem::ReasonOf(first.status).value_or(""), "CONSTRAINT_VIOLATED")
      << first.status;
  const std::map<std::string, std::string> metadata =
      idem::MetadataOf(first.status);
  EXPECT_EQ(metadata.count("step") ? metadata.at("step") : "", "2")
      << first.status;
  EXPECT_EQ(metadata.count("row") ? metadata.at("row") : "", "1")
      << first.status;
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + codes_), "0");

  std::vector<WriteCall> again;
  again.push_back(TransactionCall({Code(10, "ten"), Child(4), children},
                                  "deferred-transaction"));
  const Answer replayed = RunBatch(again).front();
  EXPECT_TRUE(replayed.replayed);
  EXPECT_EQ(idem::MetadataOf(replayed.status), metadata);
}

}  // namespace
}  // namespace idem::testing
