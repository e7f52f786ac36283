#ifndef IDEM_TESTS_UNIT_CLIENT_FAKE_ENVIRONMENT_H_
#define IDEM_TESTS_UNIT_CLIENT_FAKE_ENVIRONMENT_H_

#include <cstdint>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "idem/environment.h"

namespace idem::testing {

// A clock that moves only when the client sleeps, sleeps that return at once
// (and are recorded), and a fixed "random" value. Must outlive the clients
// that use environment().
class FakeEnvironment {
 public:
  RetryEnvironment environment() {
    RetryEnvironment env;
    env.now = [this] {
      absl::MutexLock lock(&mu_);
      return now_;
    };
    env.sleep = [this](absl::Duration delay, std::function<void()> then) {
      {
        absl::MutexLock lock(&mu_);
        now_ += delay;
        sleeps_.push_back(delay);
      }
      then();
    };
    env.random = [this] {
      absl::MutexLock lock(&mu_);
      return random_;
    };
    return env;
  }

  void set_random(uint64_t value) {
    absl::MutexLock lock(&mu_);
    random_ = value;
  }
  std::vector<absl::Duration> sleeps() const {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }
  absl::Time now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  static absl::Time start() { return absl::FromUnixSeconds(1'700'000'000); }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = start();
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
  uint64_t random_ ABSL_GUARDED_BY(mu_) = UINT64_MAX;
};

}  // namespace idem::testing

#endif  // IDEM_TESTS_UNIT_CLIENT_FAKE_ENVIRONMENT_H_
