// Leased claims (a keyed CopyFile's) are fenced by their owner: a run whose
// lease lapsed and was taken over can neither renew, complete nor release
// the claim that took it, and a run that renews is never taken over.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "service/db/transaction.h"
#include "service/keys/key_reaper.h"
#include "service/keys/key_store.h"
#include "service/keys/lease_keeper.h"
#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/polling.h"

namespace idem::testing {
namespace {

using keys::KeyClaim;
using keys::LeaseTerms;

class LeaseTest : public GroupCommitTest {
 protected:
  void SetUp() override {
    GroupCommitTest::SetUp();
    claim_ = {{tenant_, "copy"}, std::string(32, 'f')};
  }

  std::optional<absl::Time> Claim(const LeaseTerms& lease) {
    absl::StatusOr<std::optional<absl::Time>> first = db::RunInTransaction(
        *pool_,
        [&](db::Transaction& txn) -> absl::StatusOr<std::optional<absl::Time>> {
          return key_store_->Claim(txn, claim_, &lease);
        });
    EXPECT_TRUE(first.ok()) << first.status();
    return first.value_or(std::nullopt);
  }
  bool Renew(const LeaseTerms& lease) {
    return Run([&](db::Transaction& txn) {
      return key_store_->Renew(txn, claim_, lease);
    });
  }
  bool Complete(const LeaseTerms& lease) {
    return Run([&](db::Transaction& txn) {
      return key_store_->Complete(
          txn, {&claim_, absl::OkStatus(), "answer", &lease.owner});
    });
  }
  void Release(const LeaseTerms& lease) {
    Run([&](db::Transaction& txn) {
      key_store_->Release(txn, claim_, lease.owner);
      return true;
    });
  }
  template <typename Body>
  bool Run(Body body) {
    absl::StatusOr<bool> done = db::RunInTransaction(
        *pool_, [&](db::Transaction& txn) -> absl::StatusOr<bool> {
          return body(txn);
        });
    EXPECT_TRUE(done.ok()) << done.status();
    return done.value_or(false);
  }
  bool LeaseLapsed() {
    return db_.Scalar(
               "SELECT lease_expires_at <= now() FROM "
               "idem.idempotency_keys WHERE tenant = '" +
               tenant_ + "' AND idempotency_key = 'copy'") == "t";
  }

  KeyClaim claim_;
};

TEST_F(LeaseTest, ARunWhoseLeaseWasTakenOverCannotTouchTheNewClaim) {
  const LeaseTerms first{keys::NewLeaseOwner(), absl::Milliseconds(200)};
  const LeaseTerms second{keys::NewLeaseOwner(), absl::Minutes(1)};
  ASSERT_TRUE(Claim(first).has_value());
  ASSERT_TRUE(Eventually([&] { return LeaseLapsed(); }));
  ASSERT_TRUE(Claim(second).has_value()) << "the lapsed lease was not taken";

  EXPECT_FALSE(Renew(first));
  EXPECT_FALSE(Complete(first));
  Release(first);
  EXPECT_EQ(KeyRecord("copy"), "1/-1") << "the taker's claim was touched";

  EXPECT_TRUE(Renew(second));
  EXPECT_TRUE(Complete(second));
  EXPECT_EQ(KeyRecord("copy"), "2/0");
}

TEST_F(LeaseTest, ARenewedLeaseIsNeverTakenOver) {
  const LeaseTerms live{keys::NewLeaseOwner(), absl::Milliseconds(300)};
  ASSERT_TRUE(Claim(live).has_value());
  {
    keys::LeaseKeeper keeper(*pool_, *key_store_, claim_, live);
    const absl::Time until = absl::Now() + absl::Seconds(2);
    while (absl::Now() < until) {
      EXPECT_FALSE(
          Claim({keys::NewLeaseOwner(), absl::Minutes(1)}).has_value());
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_FALSE(keeper.lost());
  }
  EXPECT_TRUE(Complete(live));
}

TEST_F(LeaseTest, AKeeperNoticesItsClaimWasTaken) {
  const LeaseTerms stale{keys::NewLeaseOwner(), absl::Milliseconds(150)};
  ASSERT_TRUE(Claim(stale).has_value());
  ASSERT_TRUE(Eventually([&] { return LeaseLapsed(); }));
  ASSERT_TRUE(Claim({keys::NewLeaseOwner(), absl::Minutes(1)}).has_value());
  keys::LeaseKeeper keeper(*pool_, *key_store_, claim_, stale);
  EXPECT_TRUE(Eventually([&] { return keeper.lost(); }));
}

// A run that renews its lease keeps its claim past the call's retention: the
// key is neither free for another call nor expired before the run ends.
TEST_F(LeaseTest, ARenewedClaimOutlivesItsRetention) {
  claim_.retention = absl::Milliseconds(300);
  const LeaseTerms live{keys::NewLeaseOwner(), absl::Milliseconds(300)};
  ASSERT_TRUE(Claim(live).has_value());
  keys::LeaseKeeper keeper(*pool_, *key_store_, claim_, live);
  absl::SleepFor(absl::Seconds(1));
  KeyClaim other = claim_;
  other.fingerprint = std::string(32, 'e');
  const LeaseTerms taker{keys::NewLeaseOwner(), absl::Minutes(1)};
  EXPECT_FALSE(Run([&](db::Transaction& txn) {
    return key_store_->Claim(txn, other, &taker).has_value();
  })) << "another call took a claim whose run still renews its lease";
  ASSERT_TRUE(keys::KeyReaper::RunOnce(*pool_, 100).ok());
  EXPECT_EQ(KeyRecord("copy"), "1/-1");
  EXPECT_TRUE(Complete(live));
}

// A claim that takes over a record whose answer and tombstone have both
// expired is a claim, not a tombstone: the reaper leaves it.
TEST_F(LeaseTest, AClaimOverAnExpiredTombstoneIsNotReaped) {
  db_.Exec(
      "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
      "fingerprint, state, status_code, first_executed_at, last_seen_at, "
      "expires_at, tombstone_until) VALUES ('" +
      tenant_ +
      "', 'copy', '\\x00', 2, 0, now() - interval '2 days', "
      "now() - interval '2 days', now() - interval '2 days', "
      "now() - interval '1 day')");
  const LeaseTerms live{keys::NewLeaseOwner(), absl::Minutes(1)};
  ASSERT_TRUE(Claim(live).has_value());
  ASSERT_TRUE(keys::KeyReaper::RunOnce(*pool_, 100).ok());
  EXPECT_EQ(KeyRecord("copy"), "1/-1") << "the reaper removed a live claim";
  EXPECT_TRUE(Complete(live));
}

}  // namespace
}  // namespace idem::testing
