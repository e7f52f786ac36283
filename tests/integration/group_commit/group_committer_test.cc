// GroupCommitter: calls gather while the committer is busy, one tenant and
// one use of a key per batch.
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/transaction>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "service/ops/group_commit.h"
#include "tests/integration/group_commit/group_commit_fixture.h"
#include "tests/support/polling.h"

namespace idem::testing {
namespace {

using keys::Answer;
using ops::WriteCall;

// One call on its own, submitted as the receiving thread does: committer
// threads alone commit, so that a test may park batches from its own
// thread.
void Submit(ops::GroupCommitter& committer, WriteCall call,
            ops::GroupCommitter::Done done,
            ops::RunsOn runs_on = ops::RunsOn::kReceivingThread) {
  ops::PendingWrites writes;
  writes.Add(std::move(call), std::move(done));
  committer.SubmitAll(std::move(writes), runs_on);
}

class GroupCommitterTest : public GroupCommitTest {
 protected:
  // Four committer threads, a tenant's batch running statements holding
  // back the next for `hold`.
  static ops::GroupCommitOptions ParkingOptions(absl::Duration hold) {
    ops::GroupCommitOptions options;
    options.threads = 4;
    options.statements_hold = hold;
    return options;
  }

  // Submits an insert of items row 1, which `holder` has inserted in its
  // open transaction, and returns once it waits on that row's lock: its
  // batch is running its statements until the holder ends. `done` is
  // notified when it is answered.
  void SubmitStuckCall(ops::GroupCommitter& committer,
                       absl::Notification& done) {
    Submit(committer, PlainInsert(1, "stuck"),
           [&done](Answer) { done.Notify(); });
    ASSERT_TRUE(Eventually([&] { return db_.LockWaiters(items_) == 1; }));
  }

  // Submits `call` and expects it committed within 30 s while the call
  // whose `stuck_done` this is is still unanswered.
  static void ExpectCommittedBeside(ops::GroupCommitter& committer,
                                    WriteCall call,
                                    const absl::Notification& stuck_done) {
    struct Outcome {
      absl::Notification done;
      Answer answer;
    };
    auto outcome = std::make_shared<Outcome>();  // outlives a timeout
    Submit(committer, std::move(call), [outcome](Answer answer) {
      outcome->answer = std::move(answer);
      outcome->done.Notify();
    });
    ASSERT_TRUE(
        outcome->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_TRUE(outcome->answer.status.ok()) << outcome->answer.status;
    EXPECT_FALSE(stuck_done.HasBeenNotified());
  }

  std::string HolderOfRowOne() const {
    return "INSERT INTO " + items_ + " VALUES (1, 'holder', 0)";
  }
};

TEST_F(GroupCommitterTest, CallsWaitingForABusyCommitterShareABatch) {
  absl::Mutex mu;
  std::vector<size_t> batches;
  ops::GroupCommitOptions options;
  options.threads = 1;
  options.on_batch = [&](size_t calls) {
    absl::MutexLock lock(&mu);
    batches.push_back(calls);
  };
  ops::GroupCommitter committer(context_, options);

  // The first call waits behind the test's lock on the items table, which
  // keeps the only committer thread busy while the others queue.
  LockHolder lock("LOCK TABLE " + items_ + " IN ACCESS EXCLUSIVE MODE");
  std::vector<WriteCall> calls;
  calls.push_back(PlainInsert(1, "first"));
  calls.push_back(PlainInsert(2, "a"));
  calls.push_back(PlainInsert(3, "a"));
  calls.push_back(PlainInsert(4, "b"));
  calls.push_back(KeyedInsert("k", 5, "a"));
  calls.push_back(KeyedInsert("k", 5, "a"));  // same key: a later batch
  calls[3].tenant = "other tenant";           // another tenant: apart too
  std::vector<Answer> outcomes(calls.size());
  absl::BlockingCounter answered(static_cast<int>(calls.size()));
  auto submit = [&](size_t i) {
    Submit(committer, std::move(calls[i]), [&, i](Answer outcome) {
      outcomes[i] = std::move(outcome);
      answered.DecrementCount();
    });
  };
  submit(0);
  ASSERT_TRUE(Eventually([&] { return db_.LockWaiters(items_) == 1; }));
  for (size_t i = 1; i < calls.size(); ++i) submit(i);
  lock.Commit();
  answered.Wait();

  EXPECT_EQ(batches, (std::vector<size_t>{1, 3, 1, 1}));
  for (size_t i = 0; i < outcomes.size(); ++i) {
    EXPECT_TRUE(outcomes[i].status.ok()) << i << ": " << outcomes[i].status;
  }
  EXPECT_FALSE(outcomes[4].replayed);
  EXPECT_TRUE(outcomes[5].replayed);
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_), "5");
}

TEST_F(GroupCommitterTest, CallsSubmittedTogetherShareABatch) {
  absl::Mutex mu;
  std::vector<size_t> batches;
  ops::GroupCommitOptions options;
  options.threads = 4;  // idle threads that would each take a call
  options.on_batch = [&](size_t calls) {
    absl::MutexLock lock(&mu);
    batches.push_back(calls);
  };
  ops::GroupCommitter committer(context_, options);
  constexpr int kCalls = 20;
  absl::BlockingCounter answered(kCalls);
  ops::PendingWrites writes;
  for (int i = 0; i < kCalls; ++i) {
    writes.Add(PlainInsert(200 + i, "g"), [&](Answer outcome) {
      EXPECT_TRUE(outcome.status.ok()) << outcome.status;
      answered.DecrementCount();
    });
  }
  committer.SubmitAll(std::move(writes), ops::RunsOn::kWorker);
  answered.Wait();
  EXPECT_EQ(batches, (std::vector<size_t>{kCalls}));
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_ +
                       " WHERE id >= 200 AND id < 220"),
            std::to_string(kCalls));
}

TEST_F(GroupCommitterTest, ATenantWaitingOnALockLeavesAThreadForOthers) {
  ops::GroupCommitOptions options;
  options.threads = 2;
  options.max_batches_per_tenant = 1;
  ops::GroupCommitter committer(context_, options);
  // The test's open transaction holds row 1, so an insert of row 1 waits.
  LockHolder holder("INSERT INTO " + items_ + " VALUES (1, 'holder', 0)");

  absl::Notification stuck_done, second_done, other_done;
  Submit(committer, PlainInsert(1, "stuck"),
         [&](Answer) { stuck_done.Notify(); });
  ASSERT_TRUE(Eventually([&] { return db_.LockWaiters(items_) == 1; }));
  // The tenant's next call waits for its first batch; another tenant's
  // call takes the free thread and commits while the lock is still held.
  Submit(committer, PlainInsert(2, "second"),
         [&](Answer) { second_done.Notify(); });
  WriteCall other = PlainInsert(3, "other");
  other.tenant = "other tenant";
  Answer other_outcome;
  Submit(committer, std::move(other), [&](Answer outcome) {
    other_outcome = std::move(outcome);
    other_done.Notify();
  });
  other_done.WaitForNotification();
  EXPECT_TRUE(other_outcome.status.ok()) << other_outcome.status;
  EXPECT_FALSE(second_done.HasBeenNotified());
  EXPECT_FALSE(stuck_done.HasBeenNotified());

  holder.Abort();
  stuck_done.WaitForNotification();
  second_done.WaitForNotification();
  EXPECT_EQ(
      db_.Scalar("SELECT string_agg(note, ',' ORDER BY id) FROM " + items_),
      "stuck,second,other");
}

// Calls that arrive while their tenant's batch still runs its statements
// gather into one next batch instead of each starting a batch of its own on
// a free thread: fewer, larger batches, less CPU per call.
TEST_F(GroupCommitterTest, CallsArrivingWhileABatchRunsItsStatementsGather) {
  absl::Mutex mu;
  std::vector<size_t> batches;
  ops::GroupCommitOptions options = ParkingOptions(absl::Hours(1));
  options.max_batches_per_tenant = 3;
  options.on_batch = [&](size_t calls) {
    absl::MutexLock lock(&mu);
    batches.push_back(calls);
  };
  ops::GroupCommitter committer(context_, options);
  LockHolder holder(HolderOfRowOne());
  absl::Notification stuck_done;
  SubmitStuckCall(committer, stuck_done);
  constexpr int kLater = 5;
  absl::BlockingCounter answered(kLater);
  for (int id = 2; id < 2 + kLater; ++id) {
    Submit(committer, PlainInsert(id, "later"),
           [&](Answer) { answered.DecrementCount(); });
  }
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(batches, (std::vector<size_t>{1}));
  }
  holder.Abort();
  stuck_done.WaitForNotification();
  answered.Wait();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(batches, (std::vector<size_t>{1, kLater}));
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_), "6");
}

// A full batch does not wait for the tenant's batch running statements:
// gathering longer would not make it larger.
TEST_F(GroupCommitterTest, AFullBatchStartsBesideABatchRunningStatements) {
  ops::GroupCommitOptions options = ParkingOptions(absl::Hours(1));
  options.max_calls = 2;
  ops::GroupCommitter committer(context_, options);
  LockHolder holder(HolderOfRowOne());
  absl::Notification stuck_done;
  SubmitStuckCall(committer, stuck_done);
  absl::BlockingCounter full_batch_done(2);
  for (int id : {2, 3}) {
    Submit(committer, PlainInsert(id, "full"), [&](Answer outcome) {
      EXPECT_TRUE(outcome.status.ok()) << outcome.status;
      full_batch_done.DecrementCount();
    });
  }
  full_batch_done.Wait();  // while the first still waits on the lock
  EXPECT_FALSE(stuck_done.HasBeenNotified());
  holder.Abort();
  stuck_done.WaitForNotification();
}

// A batch that runs its statements longer than `statements_hold` is taken
// to wait on a lock: the tenant's next batch starts beside it.
TEST_F(GroupCommitterTest, ABatchStuckPastTheHoldNoLongerHoldsBackTheNext) {
  ops::GroupCommitter committer(context_,
                                ParkingOptions(absl::Milliseconds(50)));
  LockHolder holder(HolderOfRowOne());
  absl::Notification stuck_done;
  SubmitStuckCall(committer, stuck_done);
  ExpectCommittedBeside(committer, PlainInsert(2, "next"), stuck_done);
  holder.Abort();
  stuck_done.WaitForNotification();
}

// A batch whose statements have run and that waits on its commit holds
// nothing back: the tenant's next batch runs meanwhile, so that commits
// (their WAL flushes) overlap. Here the first batch's commit waits on a
// lock taken by a deferred constraint trigger, which runs at COMMIT.
TEST_F(GroupCommitterTest, ABatchWaitingOnItsCommitDoesNotHoldBackTheNext) {
  const std::string trigger = TestDatabase::UniqueName("gc_slow_commit");
  db_.Exec("CREATE FUNCTION " + trigger +
           "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           "IF NEW.note = 'slow commit' THEN PERFORM n FROM " +
           counters_ + " WHERE id = 1 FOR UPDATE; END IF; RETURN NULL; END $$");
  db_.Exec("CREATE CONSTRAINT TRIGGER " + trigger + " AFTER INSERT ON " +
           items_ + " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE " +
           "FUNCTION " + trigger + "()");
  ops::GroupCommitter committer(context_, ParkingOptions(absl::Hours(1)));
  LockHolder holder("UPDATE " + counters_ + " SET n = n WHERE id = 1");
  absl::Notification slow_done;
  Submit(committer, KeyedInsert("slow", 1, "slow commit"),
         [&](Answer) { slow_done.Notify(); });
  ASSERT_TRUE(Eventually([&] {
    return db_.Scalar(
               "SELECT count(*) FROM pg_stat_activity WHERE "
               "wait_event_type = 'Lock' AND query = 'COMMIT'") == "1";
  }));
  ExpectCommittedBeside(committer, KeyedInsert("next", 2, "next"), slow_done);
  holder.Abort();
  slow_done.WaitForNotification();
  EXPECT_EQ(
      db_.Scalar("SELECT string_agg(note, ',' ORDER BY id) FROM " + items_),
      "slow commit,next");
}

// Tenant A's batches all wait on a row lock while hundreds of its calls
// queue in front of tenant B's: B's call is still taken and committed, and
// no committer thread runs an empty batch meanwhile.
TEST_F(GroupCommitterTest, AnotherTenantIsServedPastAStuckTenantsQueue) {
  absl::Mutex mu;
  std::vector<size_t> batches;
  ops::GroupCommitOptions options;
  options.threads = 4;
  options.max_calls = 4;
  options.max_batches_per_tenant = 3;
  options.on_batch = [&](size_t calls) {
    absl::MutexLock lock(&mu);
    batches.push_back(calls);
  };
  ops::GroupCommitter committer(context_, options);
  LockHolder holder("UPDATE " + counters_ + " SET n = n WHERE id = 1");
  constexpr int kStuck = 100;
  absl::BlockingCounter stuck_answered(kStuck);
  for (int i = 0; i < kStuck; ++i) {
    Submit(committer, KeyedIncrement("stuck-" + std::to_string(i)),
           [&](Answer) { stuck_answered.DecrementCount(); });
  }
  ASSERT_TRUE(Eventually([&] { return db_.LockWaiters(counters_) == 3; }));

  WriteCall other = PlainInsert(1, "other");
  other.tenant = "other tenant";
  absl::Notification other_done;
  Answer other_outcome;
  Submit(committer, std::move(other), [&](Answer outcome) {
    other_outcome = std::move(outcome);
    other_done.Notify();
  });
  EXPECT_TRUE(other_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(other_outcome.status.ok()) << other_outcome.status;

  holder.Commit();
  stuck_answered.Wait();
  EXPECT_EQ(db_.Scalar("SELECT n FROM " + counters_ + " WHERE id = 1"),
            std::to_string(kStuck));
  absl::MutexLock lock(&mu);
  for (size_t calls : batches) EXPECT_GT(calls, 0u);
}

// With committer threads idle, a lone call a worker submits is committed on
// that worker, before SubmitAll returns: no hand-off and back.
TEST_F(GroupCommitterTest, ALoneCallCommitsOnTheSubmittingWorker) {
  ops::GroupCommitter committer(context_, ops::GroupCommitOptions{});
  std::thread::id committed_on;
  bool answered = false;
  Submit(
      committer, PlainInsert(1, "lone"),
      [&](Answer outcome) {
        EXPECT_TRUE(outcome.status.ok()) << outcome.status;
        committed_on = std::this_thread::get_id();
        answered = true;
      },
      ops::RunsOn::kWorker);
  EXPECT_TRUE(answered);
  EXPECT_EQ(committed_on, std::this_thread::get_id());
  EXPECT_EQ(db_.Scalar("SELECT note FROM " + items_ + " WHERE id = 1"), "lone");
}

// The receiving thread must not wait on the database: even with every
// committer thread idle, what it submits is committed by one of them.
TEST_F(GroupCommitterTest, TheReceivingThreadLeavesItsCallToACommitter) {
  ops::GroupCommitter committer(context_, ops::GroupCommitOptions{});
  absl::Notification answered;
  std::thread::id committed_on;
  Submit(committer, PlainInsert(1, "lone"), [&](Answer outcome) {
    EXPECT_TRUE(outcome.status.ok()) << outcome.status;
    committed_on = std::this_thread::get_id();
    answered.Notify();
  });
  answered.WaitForNotification();
  EXPECT_NE(committed_on, std::this_thread::get_id());
  EXPECT_EQ(db_.Scalar("SELECT note FROM " + items_ + " WHERE id = 1"), "lone");
}

TEST_F(GroupCommitterTest, QueuedCallsAreCommittedBeforeItStops) {
  std::vector<Answer> outcomes(20);
  {
    ops::GroupCommitOptions options;
    options.threads = 2;
    ops::GroupCommitter committer(context_, options);
    for (int i = 0; i < 20; ++i) {
      Submit(committer, PlainInsert(100 + i, "n"),
             [&, i](Answer outcome) { outcomes[i] = std::move(outcome); });
    }
  }
  for (const Answer& outcome : outcomes) {
    EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  }
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_), "20");
}

TEST_F(GroupCommitterTest, AFullQueueRefusesWithADelay) {
  ops::GroupCommitOptions options;
  options.threads = 1;
  options.max_queued = 1;
  ops::GroupCommitter committer(context_, options);
  LockHolder lock("LOCK TABLE " + items_ + " IN ACCESS EXCLUSIVE MODE");
  absl::BlockingCounter answered(3);
  std::vector<Answer> outcomes(3);
  auto submit = [&](int i) {
    Submit(committer, PlainInsert(i, "x"), [&, i](Answer outcome) {
      outcomes[i] = std::move(outcome);
      answered.DecrementCount();
    });
  };
  submit(0);  // taken by the committer, waits for the lock
  ASSERT_TRUE(Eventually([&] { return db_.LockWaiters(items_) == 1; }));
  submit(1);  // queued
  submit(2);  // over the queue's bound: refused at once
  EXPECT_EQ(outcomes[2].status.code(), absl::StatusCode::kResourceExhausted);
  lock.Commit();
  answered.Wait();
  EXPECT_TRUE(outcomes[0].status.ok());
  EXPECT_TRUE(outcomes[1].status.ok());
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + items_ + " WHERE id = 2"),
            "0");
}

}  // namespace
}  // namespace idem::testing
