// Leased claims (a keyed CopyFile's) are fenced by their owner: a run whose
// lease lapsed and was taken over can neither renew, complete nor release
// the claim that took it, and a run that renews is never taken over.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "service/db/transaction.h"
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

}  // namespace
}  // namespace idem::testing
