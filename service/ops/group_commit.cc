#include "service/ops/group_commit.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "service/common/retry_delay.h"
#include "service/ops/keyed_answers.h"

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

thread_local const GroupCommitter* GroupCommitter::gathering_for_ = nullptr;
thread_local std::vector<GroupCommitter::Pending>* GroupCommitter::gathered_ =
    nullptr;

GroupCommitter::Gathering::Gathering(GroupCommitter* committer)
    : committer_(committer) {
  if (committer_ == nullptr) return;
  gathering_for_ = committer_;
  gathered_ = &calls_;
}

GroupCommitter::Gathering::~Gathering() {
  if (committer_ == nullptr) return;
  gathering_for_ = nullptr;
  gathered_ = nullptr;
  committer_->Enqueue(std::move(calls_));
}

void GroupCommitter::Submit(WriteCall call, Done done) {
  if (gathering_for_ == this) {
    gathered_->push_back({std::move(call), std::move(done)});
    return;
  }
  std::vector<Pending> calls;
  calls.push_back({std::move(call), std::move(done)});
  Enqueue(std::move(calls));
}

void GroupCommitter::Enqueue(std::vector<Pending> calls) {
  size_t queued = 0;
  {
    absl::MutexLock lock(&mu_);
    while (!stopping_ && queued < calls.size() &&
           queue_.size() < options_.max_queued) {
      queue_.push_back(std::move(calls[queued++]));
    }
  }
  for (size_t i = queued; i < calls.size(); ++i) {
    calls[i].done(StatusOnly(
        WithRetryDelay(absl::ResourceExhaustedError(
                           "server overloaded; retry after the delay"),
                       absl::Milliseconds(200))));
  }
}

const std::string* GroupCommitter::NextTenant() const {
  for (const Pending& pending : queue_) {
    auto busy = batches_in_flight_.find(pending.call.tenant);
    if (busy == batches_in_flight_.end() ||
        busy->second < options_.max_batches_per_tenant) {
      return &pending.call.tenant;
    }
  }
  return nullptr;
}

std::vector<GroupCommitter::Pending> GroupCommitter::TakeBatch(
    const std::string& tenant) {
  std::vector<Pending> batch;
  std::deque<Pending> later;  // another tenant, or a key already taken
  absl::flat_hash_set<std::string> keys;
  size_t rows = 0;
  // Looks this far past the front for calls of the same tenant.
  const size_t max_scanned = 4 * options_.max_calls;
  for (size_t scanned = 0; !queue_.empty() && scanned < max_scanned &&
                           batch.size() < options_.max_calls;
       ++scanned) {
    Pending& next = queue_.front();
    if (!batch.empty() && rows + next.call.rows() > options_.max_rows) break;
    const std::optional<keys::KeyClaim>& key = next.call.key;
    if (next.call.tenant != tenant ||
        (key.has_value() && !keys.insert(key->id.key).second)) {
      later.push_back(std::move(next));
    } else {
      rows += next.call.rows();
      batch.push_back(std::move(next));
    }
    queue_.pop_front();
  }
  while (!later.empty()) {
    queue_.push_front(std::move(later.back()));
    later.pop_back();
  }
  return batch;
}

void GroupCommitter::Run() {
  while (true) {
    std::vector<Pending> batch;
    std::string tenant;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GroupCommitter* committer)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(committer->mu_) {
                 return (committer->stopping_ && committer->queue_.empty()) ||
                        committer->NextTenant() != nullptr;
               },
          this));
      const std::string* next = NextTenant();
      if (next == nullptr) return;  // stopping, and nothing left to commit
      tenant = *next;
      batch = TakeBatch(tenant);
      ++batches_in_flight_[tenant];
    }
    std::vector<WriteCall*> calls;
    for (Pending& pending : batch) calls.push_back(&pending.call);
    if (options_.on_batch) options_.on_batch(calls.size());
    std::vector<KeyedOutcome> outcomes = RunWriteBatch(context_, calls);
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(std::move(outcomes[i]));
    }
    absl::MutexLock lock(&mu_);
    if (--batches_in_flight_[tenant] == 0) batches_in_flight_.erase(tenant);
  }
}

}  // namespace idem::ops
