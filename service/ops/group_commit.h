#ifndef IDEM_SERVICE_OPS_GROUP_COMMIT_H_
#define IDEM_SERVICE_OPS_GROUP_COMMIT_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/keys/answer.h"
#include "service/ops/ops_context.h"
#include "service/ops/runs_on.h"
#include "service/ops/write_batch.h"

namespace idem::ops {

struct GroupCommitOptions {
  // Batches committed at the same time, each on its own connection: while
  // some wait for their commit to reach the disk, others run.
  int threads = 4;
  size_t max_calls = 64;     // calls per batch
  size_t max_rows = 10000;   // rows per batch (a larger call goes alone)
  size_t max_queued = 4096;  // calls waiting; then RESOURCE_EXHAUSTED
  // Batches of one tenant committed at once: fewer than `threads`, so that
  // one tenant's batches waiting on locks never hold every thread.
  int max_batches_per_tenant = 3;
  // While a batch of a tenant still runs its statements, the tenant's next
  // batch is not started: the calls that arrive meanwhile gather into it
  // (fewer, larger batches, so less CPU per call where CPU is short). A
  // batch that only waits for its commit's WAL flush holds nothing back, so
  // flushes still overlap the next batch's statements; nor does a full
  // batch (`max_calls`) wait. Past `statements_hold` a batch is taken to
  // wait on a row lock and no longer holds the next one back.
  absl::Duration statements_hold = absl::Milliseconds(5);
  // Told the size of every batch run (for metrics); may be empty.
  std::function<void(size_t calls)> on_batch;
};

// The writes of calls that arrive together (the calls of one Batch RPC, or
// one lone call), gathered by the operations that prepare them and handed
// to the committer at once (GroupCommitter::SubmitAll).
class PendingWrites {
 public:
  // `caller_gone` (may be empty): whether the caller of these writes has
  // given up (cancelled, or its deadline passed) and been answered; asked
  // when a write's batch is about to run.
  explicit PendingWrites(std::function<bool()> caller_gone = nullptr);
  void Add(WriteCall call, std::function<void(keys::Answer)> done);
  bool empty() const { return writes_.empty(); }

 private:
  friend class GroupCommitter;
  struct Write {
    WriteCall call;
    std::function<void(keys::Answer)> done;
    std::function<bool()> caller_gone;  // may be empty
  };
  const std::function<bool()> caller_gone_;
  std::vector<Write> writes_;
};

// Gathers concurrent Insert and KeyedCall writes into batches and commits
// each batch in one transaction (RunWriteBatch), so that one commit, one
// WAL flush and a few statements serve many calls.
//
// A batch is whatever waited while the committer threads were busy, or
// while its tenant's previous batch still ran its statements (at most
// `statements_hold`). An idle server commits a lone call at once; a busy
// one gathers calls as fast as batches get through their statements, and
// the commits' flushes overlap the next batch's statements. A batch holds
// the calls of one tenant, and a tenant has fewer batches in flight than
// there are threads, so that one tenant's lock waits and failing calls
// never hold up another's commit. Two calls under the same key never share
// a batch: the second waits for the first's batch and then replays its
// answer.
class GroupCommitter {
 public:
  using Done = std::function<void(keys::Answer)>;
  using Pending = PendingWrites::Write;

  GroupCommitter(const OpsContext& context, GroupCommitOptions options);
  // Commits everything still queued, then joins.
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queues `calls` together, so that they are taken in one batch instead of
  // a committer waking for the first (the calls of one Batch RPC). When
  // fewer batches run than there are committer threads, a worker takes the
  // next batch and commits it itself, as an idle committer would, and
  // returns once it has: a lone call then makes no hand-off to a committer
  // and back. The receiving thread, which must not wait on the database,
  // leaves every batch to the committer threads. Each `done` runs on the
  // thread that committed the call's batch. Calls that find the queue full
  // are answered at once with RESOURCE_EXHAUSTED and a retry delay; calls
  // whose caller gave up while they waited (PendingWrites) are answered
  // CANCELLED when their batch comes, and not run: no effect lands after
  // their caller was answered.
  void SubmitAll(PendingWrites writes, RunsOn runs_on);

 private:
  // The calls of one tenant waiting for a batch, and its batches running.
  struct TenantQueue {
    std::deque<Pending> calls;
    int batches_in_flight = 0;
    // Batches of it still running their statements (not yet committing),
    // and when the latest of them started.
    int running_statements = 0;
    absl::Time statements_since;
  };

  // A batch taken from the queue, and its tenant.
  struct Taken {
    std::string tenant;
    std::vector<Pending> calls;
  };

  void Run();
  // Whether a batch may start now: a thread is free and calls wait.
  bool BatchReady() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The earliest time a waiting batch may start: InfiniteFuture when none
  // may before a batch ends or calls arrive (every thread busy, or every
  // tenant with calls at its limit of batches in flight).
  absl::Time NextStart() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The next batch, counted as running; call only when BatchReady().
  Taken TakeNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Commits `batch`, answers its calls and counts it as done.
  void Commit(Taken batch) ABSL_LOCKS_EXCLUDED(mu_);
  // When `queue`, which has calls waiting, may start a batch, threads
  // allowing: InfinitePast when it may now; `statements_hold` after its
  // latest batch began while a batch of it runs statements and fewer than
  // `max_calls` wait; InfiniteFuture at its limit of batches in flight.
  absl::Time MayStartAt(const TenantQueue& queue) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first tenant, in turn, with calls waiting that may start a batch;
  // null when there is none.
  TenantQueue* NextTenant() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // At least one call of `queue`, in order, skipping a key already taken.
  std::vector<Pending> TakeBatch(TenantQueue& queue)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const OpsContext& context_;
  const GroupCommitOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, TenantQueue> tenants_ ABSL_GUARDED_BY(mu_);
  // Tenants with calls waiting, in the order they are served: a tenant
  // goes to the back when a batch of it is taken.
  std::deque<std::string> turn_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  // Batches being committed, by committer threads or submitting threads;
  // at most options_.threads.
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_GROUP_COMMIT_H_
