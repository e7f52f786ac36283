// The key store's sense of time. A batch's transaction can last seconds (a
// row lock, a fallback to savepoints), so "now" must be the moment a key is
// read, not the moment the transaction began.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "service/db/transaction.h"
#include "service/keys/key_store.h"
#include "tests/integration/group_commit/group_commit_fixture.h"

namespace idem::testing {
namespace {

using keys::KeyClaim;
using keys::StoredCall;

class KeyClockTest : public GroupCommitTest {};

// An answer that expires while a transaction runs is expired to the reads
// that transaction makes after: taken for live, a reaper that has since cut
// it to a tombstone would make it a replay with no result.
TEST_F(KeyClockTest, AnAnswerThatExpiresDuringATransactionIsNotReadAsLive) {
  KeyClaim claim{{tenant_, "expiring"}, std::string(32, 'e'), absl::Seconds(1)};
  absl::StatusOr<bool> recorded = db::RunInTransaction(
      *pool_, [&](db::Transaction& txn) -> absl::StatusOr<bool> {
        return key_store_->RecordAll(txn, {{&claim, absl::OkStatus(), "a"}},
                                     absl::Now());
      });
  ASSERT_TRUE(recorded.ok() && *recorded) << recorded.status();

  std::optional<StoredCall> before, after;
  absl::Status read =
      db::RunInTransaction(*pool_, [&](db::Transaction& txn) -> absl::Status {
        before = key_store_->Lookup(txn, claim.id);
        absl::SleepFor(absl::Milliseconds(1500));
        after = key_store_->Lookup(txn, claim.id);
        return absl::OkStatus();
      });
  ASSERT_TRUE(read.ok()) << read;
  ASSERT_TRUE(before.has_value());
  EXPECT_FALSE(before->answer_expired);
  // Gone, or a tombstone where they are kept; never a live answer.
  EXPECT_TRUE(!after.has_value() || after->answer_expired);
}

}  // namespace
}  // namespace idem::testing
