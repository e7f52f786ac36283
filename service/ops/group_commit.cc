#include "service/ops/group_commit.h"

#include <string>
#include <utility>

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

void GroupCommitter::Submit(WriteCall call, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      queue_.push_back({std::move(call), std::move(done)});
      return;
    }
  }
  done(StatusOnly(WithRetryDelay(
      absl::ResourceExhaustedError("server overloaded; retry after the delay"),
      absl::Milliseconds(200))));
}

std::vector<GroupCommitter::Pending> GroupCommitter::TakeBatch() {
  std::vector<Pending> batch;
  std::deque<Pending> later;  // another tenant, or a key already taken
  absl::flat_hash_set<std::string> keys;
  const std::string tenant = queue_.front().call.tenant;
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
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GroupCommitter* committer)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(committer->mu_) {
                 return committer->stopping_ || !committer->queue_.empty();
               },
          this));
      if (queue_.empty()) return;  // stopping, and nothing left to commit
      batch = TakeBatch();
    }
    std::vector<WriteCall*> calls;
    for (Pending& pending : batch) calls.push_back(&pending.call);
    if (options_.on_batch) options_.on_batch(calls.size());
    std::vector<KeyedOutcome> outcomes = RunWriteBatch(context_, calls);
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(std::move(outcomes[i]));
    }
  }
}

}  // namespace idem::ops
