#include "service/ops/group_commit.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "service/common/refusals.h"

namespace idem::ops {

GroupCommitter::GroupCommitter(const OpsContext& context,
                               GroupCommitOptions options)
    : context_(context), options_(std::move(options)) {
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

GroupCommitter::~GroupCommitter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

PendingWrites::PendingWrites(std::function<bool()> caller_gone)
    : caller_gone_(std::move(caller_gone)) {}

void PendingWrites::Add(WriteCall call,
                        std::function<void(keys::Answer)> done) {
  writes_.push_back({std::move(call), std::move(done), caller_gone_});
}

void GroupCommitter::SubmitAll(PendingWrites writes, RunsOn runs_on) {
  std::vector<Pending>& calls = writes.writes_;
  size_t queued = 0;
  std::optional<Taken> mine;
  {
    absl::MutexLock lock(&mu_);
    for (; !stopping_ && queued < calls.size() && queued_ < options_.max_queued;
         ++queued, ++queued_) {
      Pending& pending = calls[queued];
      TenantQueue& queue = tenants_[pending.call.tenant];
      if (queue.calls.empty()) turn_.push_back(pending.call.tenant);
      queue.calls.push_back(std::move(pending));
    }
    // Taken before the lock is released, so that no committer wakes for it.
    if (queued > 0 && runs_on == RunsOn::kWorker && BatchReady()) {
      mine = TakeNext();
    }
  }
  for (size_t i = queued; i < calls.size(); ++i) {
    calls[i].done(keys::Answer::OfStatus(Overloaded()));
  }
  if (mine.has_value()) Commit(*std::move(mine));
}

bool GroupCommitter::BatchReady() {
  return running_ < options_.threads && NextTenant() != nullptr;
}

absl::Time GroupCommitter::NextStart() {
  absl::Time next = absl::InfiniteFuture();
  if (running_ >= options_.threads) return next;
  for (const std::string& tenant : turn_) {
    next = std::min(next, MayStartAt(tenants_.at(tenant)));
  }
  return next;
}

GroupCommitter::Taken GroupCommitter::TakeNext() {
  TenantQueue* queue = NextTenant();
  Taken taken;
  taken.tenant = queue->calls.front().call.tenant;
  taken.calls = TakeBatch(*queue);
  ++queue->batches_in_flight;
  ++queue->running_statements;
  queue->statements_since = absl::Now();
  ++running_;
  // Served: the tenant's next batch waits for the others' turns.
  turn_.erase(std::find(turn_.begin(), turn_.end(), taken.tenant));
  if (!queue->calls.empty()) turn_.push_back(taken.tenant);
  return taken;
}

void GroupCommitter::Commit(Taken batch) {
  std::vector<Pending> live;
  for (Pending& pending : batch.calls) {
    if (pending.caller_gone && pending.caller_gone()) {
      pending.done(keys::Answer::OfStatus(absl::CancelledError(
          "the call was cancelled before it ran; nothing was done")));
    } else {
      live.push_back(std::move(pending));
    }
  }
  bool committing = false;
  if (!live.empty()) {
    std::vector<WriteCall*> calls;
    for (Pending& pending : live) calls.push_back(&pending.call);
    if (options_.on_batch) options_.on_batch(calls.size());
    auto statements_ran = [&] {
      absl::MutexLock lock(&mu_);
      if (committing) return;  // told again by a run in savepoints
      committing = true;
      --tenants_.at(batch.tenant).running_statements;
    };
    std::vector<keys::Answer> outcomes =
        RunWriteBatch(context_, calls, statements_ran);
    for (size_t i = 0; i < live.size(); ++i) {
      live[i].done(std::move(outcomes[i]));
    }
  }
  absl::MutexLock lock(&mu_);
  --running_;
  TenantQueue& queue = tenants_.at(batch.tenant);
  if (!committing) --queue.running_statements;
  if (--queue.batches_in_flight == 0 && queue.calls.empty()) {
    tenants_.erase(batch.tenant);
  }
}

absl::Time GroupCommitter::MayStartAt(const TenantQueue& queue) const {
  if (queue.batches_in_flight >= options_.max_batches_per_tenant) {
    return absl::InfiniteFuture();
  }
  if (queue.running_statements == 0 ||
      queue.calls.size() >= options_.max_calls) {
    return absl::InfinitePast();
  }
  return queue.statements_since + options_.statements_hold;
}

GroupCommitter::TenantQueue* GroupCommitter::NextTenant() {
  const absl::Time now = absl::Now();
  for (const std::string& tenant : turn_) {
    TenantQueue& queue = tenants_.at(tenant);
    if (MayStartAt(queue) <= now) return &queue;
  }
  return nullptr;
}

std::vector<GroupCommitter::Pending> GroupCommitter::TakeBatch(
    TenantQueue& queue) {
  std::vector<Pending> batch;
  std::deque<Pending> later;  // a key already in the batch: a later batch
  absl::flat_hash_set<std::string> keys;
  size_t rows = 0;
  while (!queue.calls.empty() && batch.size() < options_.max_calls) {
    Pending& next = queue.calls.front();
    if (!batch.empty() && rows + next.call.rows() > options_.max_rows) break;
    const std::optional<keys::KeyClaim>& key = next.call.key;
    if (key.has_value() && !keys.insert(key->id.key).second) {
      later.push_back(std::move(next));
    } else {
      rows += next.call.rows();
      batch.push_back(std::move(next));
    }
    queue.calls.pop_front();
  }
  while (!later.empty()) {
    queue.calls.push_front(std::move(later.back()));
    later.pop_back();
  }
  queued_ -= batch.size();
  return batch;
}

void GroupCommitter::Run() {
  while (true) {
    Taken batch;
    {
      absl::MutexLock lock(&mu_);
      // A batch held back becomes ready by time alone: the wait ends when
      // the earliest batch may start, or when that time moves nearer (calls
      // arrive, a batch ends or reaches its commit).
      absl::Time next_start = absl::InfiniteFuture();
      auto wake = [&] {
        mu_.AssertHeld();
        return (stopping_ && queued_ == 0) || NextStart() < next_start;
      };
      while (!(stopping_ && queued_ == 0) && !BatchReady()) {
        next_start = NextStart();
        mu_.AwaitWithDeadline(absl::Condition(&wake), next_start);
      }
      if (!BatchReady()) return;  // stopping, and nothing left to commit
      batch = TakeNext();
    }
    Commit(std::move(batch));
  }
}

}  // namespace idem::ops
