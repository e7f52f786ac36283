#ifndef IDEM_SERVICE_API_WORKER_POOL_H_
#define IDEM_SERVICE_API_WORKER_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace idem {

// The server's own threads for blocking database and file work, so that no
// gRPC thread ever waits on PostgreSQL. The queue is bounded: when it is
// full, Submit refuses and the caller answers RESOURCE_EXHAUSTED.
//
// Tasks belong to tenants, and a tenant whose calls wait (behind a row
// lock, on a long copy) must not stall everyone else's. So one thread in
// eight (at least one) is kept for tenants that run nothing: a tenant that
// already runs a task takes a free thread only while that many stay free,
// and a tenant that runs nothing may take any. With sixteen threads, two
// tenants whose calls wait hold fifteen between them, and a third still
// runs. A free thread takes the oldest task of the tenant that runs the
// fewest, so that the threads are shared evenly among the tenants that have
// work.
class WorkerPool {
 public:
  WorkerPool(int threads, int max_queued);
  // Runs every queued task, then joins.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False when the queue is full or the pool is stopping.
  bool Submit(const std::string& tenant, std::function<void()> task);

 private:
  struct TenantTasks {
    // Each task with its place in the order of submission.
    std::deque<std::pair<uint64_t, std::function<void()>>> queued;
    int running = 0;
  };

  void Run();
  // The tenant whose task runs next, or end() when no queued task may run
  // now (none is queued, or only by tenants that may not take a thread).
  absl::flat_hash_map<std::string, TenantTasks>::iterator Next()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int thread_count_;
  const size_t max_queued_;
  // Threads kept free for tenants that run nothing.
  const int kept_free_;
  absl::Mutex mu_;
  // Tenants with tasks queued or running; erased when they have none.
  absl::flat_hash_map<std::string, TenantTasks> tenants_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t submitted_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace idem

#endif  // IDEM_SERVICE_API_WORKER_POOL_H_
