#include "idem/environment.h"

#include <grpcpp/alarm.h>

#include <chrono>
#include <memory>
#include <random>

#include "absl/synchronization/mutex.h"
#include "random_bytes.h"

namespace idem {
namespace {

// A fast generator seeded from the kernel: jitter needs spread, not secrecy.
class SeededRandom {
 public:
  SeededRandom() {
    uint64_t seed;
    internal::FillRandom(&seed, sizeof(seed));
    engine_.seed(seed);
  }
  uint64_t Next() {
    absl::MutexLock lock(&mu_);
    return engine_();
  }

 private:
  absl::Mutex mu_;
  std::mt19937_64 engine_ ABSL_GUARDED_BY(mu_);
};

// A gRPC alarm runs `then` on gRPC's own threads, so no thread of ours waits.
// The alarm deletes itself from its callback; gRPC keeps its own reference
// until the callback has returned.
void SleepOnAlarm(absl::Duration delay, std::function<void()> then) {
  auto* alarm = new grpc::Alarm;
  alarm->Set(
      std::chrono::system_clock::now() + absl::ToChronoNanoseconds(delay),
      [alarm, then = std::move(then)](bool) {
        then();
        delete alarm;
      });
}

}  // namespace

RetryEnvironment RetryEnvironment::Real() {
  auto random = std::make_shared<SeededRandom>();
  RetryEnvironment environment;
  environment.now = [] { return absl::Now(); };
  environment.sleep = SleepOnAlarm;
  environment.random = [random] { return random->Next(); };
  return environment;
}

}  // namespace idem
