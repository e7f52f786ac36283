#include "idem/environment.h"

#include <memory>
#include <random>

#include "absl/synchronization/mutex.h"
#include "alarm.h"
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

}  // namespace

RetryEnvironment RetryEnvironment::Real() {
  auto random = std::make_shared<SeededRandom>();
  RetryEnvironment environment;
  environment.now = [] { return absl::Now(); };
  environment.sleep = internal::RunAfter;
  environment.random = [random] { return random->Next(); };
  return environment;
}

}  // namespace idem
