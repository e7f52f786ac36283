#include "service/api/worker_pool.h"

#include <algorithm>

namespace idem {

WorkerPool::WorkerPool(int threads, int max_queued)
    : thread_count_(threads),
      max_queued_(static_cast<size_t>(max_queued)),
      kept_free_(std::max(1, threads / 8)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

bool WorkerPool::Submit(const std::string& tenant, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queued_ >= max_queued_) return false;
  tenants_[tenant].queued.emplace_back(submitted_++, std::move(task));
  ++queued_;
  return true;
}

absl::flat_hash_map<std::string, WorkerPool::TenantTasks>::iterator
WorkerPool::Next() {
  const int free = thread_count_ - running_;
  if (free == 0) return tenants_.end();
  auto next = tenants_.end();
  for (auto it = tenants_.begin(); it != tenants_.end(); ++it) {
    const TenantTasks& tasks = it->second;
    if (tasks.queued.empty() || (tasks.running > 0 && free - 1 < kept_free_)) {
      continue;
    }
    if (next == tenants_.end() || tasks.running < next->second.running ||
        (tasks.running == next->second.running &&
         tasks.queued.front().first < next->second.queued.front().first)) {
      next = it;
    }
  }
  return next;
}

void WorkerPool::Run() {
  while (true) {
    std::string tenant;
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkerPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return (pool->stopping_ && pool->queued_ == 0) ||
                   pool->Next() != pool->tenants_.end();
          },
          this));
      auto next = Next();
      if (next == tenants_.end()) return;  // stopping, and nothing left
      tenant = next->first;
      task = std::move(next->second.queued.front().second);
      next->second.queued.pop_front();
      ++next->second.running;
      ++running_;
      --queued_;
    }
    task();
    task = nullptr;  // what it holds goes before its thread counts as free
    absl::MutexLock lock(&mu_);
    --running_;
    auto it = tenants_.find(tenant);
    if (--it->second.running == 0 && it->second.queued.empty()) {
      tenants_.erase(it);
    }
  }
}

}  // namespace idem
