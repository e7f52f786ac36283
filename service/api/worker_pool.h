#ifndef IDEM_SERVICE_API_WORKER_POOL_H_
#define IDEM_SERVICE_API_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace idem {

// The server's own threads for blocking database and file work, so that no
// gRPC thread ever waits on PostgreSQL. The queue is bounded: when it is
// full, Submit refuses and the caller answers RESOURCE_EXHAUSTED.
class WorkerPool {
 public:
  WorkerPool(int threads, int max_queued);
  // Runs every queued task, then joins.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False when the queue is full or the pool is stopping.
  bool Submit(std::function<void()> task);

 private:
  void Run();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace idem

#endif  // IDEM_SERVICE_API_WORKER_POOL_H_
