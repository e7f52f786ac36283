#include "bench/loadgen/driver.h"

#include <atomic>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "bench/process_cpu.h"

namespace idem::bench {
namespace {

using Clock = std::chrono::steady_clock;

class Run {
 public:
  Run(Workload& workload, const DriveOptions& options)
      : workload_(workload), options_(options) {
    result_.latencies = std::make_unique<LatencyHistogram>();
  }

  DriveResult Go() {
    Clock::time_point start = Clock::now();
    measure_from_ = start + options_.warmup;
    end_ = measure_from_ + options_.duration;
    std::thread pacer;
    if (options_.rate > 0) {
      pacer = std::thread([this, start] { Pace(start); });
    } else {
      for (int i = 0; i < options_.concurrency; ++i) Launch(i, Clock::now());
    }
    std::this_thread::sleep_until(measure_from_);
    std::vector<double> other_from = OtherCpu();
    double cpu_from = ProcessCpuSeconds();
    std::this_thread::sleep_until(end_);
    double cpu_to = ProcessCpuSeconds();
    std::vector<double> other_to = OtherCpu();
    if (pacer.joinable()) pacer.join();
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](int* n) { return *n == 0; }, &in_flight_));
    }
    result_.seconds = std::chrono::duration<double>(options_.duration).count();
    result_.cpu_seconds = cpu_to - cpu_from;
    for (size_t i = 0; i < other_to.size() && i < other_from.size(); ++i) {
      result_.other_cpu_seconds.push_back(other_to[i] - other_from[i]);
    }
    return std::move(result_);
  }

 private:
  std::vector<double> OtherCpu() const {
    return options_.other_cpu ? options_.other_cpu() : std::vector<double>();
  }

  // Rate mode: one call per 1/rate seconds, each when it is due, waiting
  // for a free slot when `concurrency` calls are in flight.
  void Pace(Clock::time_point start) {
    const auto interval =
        std::chrono::nanoseconds(static_cast<int64_t>(1e9 / options_.rate));
    for (int64_t i = 0;; ++i) {
      Clock::time_point due = start + i * interval;
      // Calls are not tied to callers here: the clients take turns.
      const int caller = static_cast<int>(i % options_.concurrency);
      if (due >= end_) return;
      std::this_thread::sleep_until(due);
      {
        absl::MutexLock lock(&mu_);
        if (in_flight_ >= options_.concurrency) {
          if (due >= measure_from_) ++result_.late;
          mu_.Await(absl::Condition(this, &Run::HasSlot));
        }
        ++in_flight_;
      }
      Start(caller, due);
    }
  }

  bool HasSlot() const { return in_flight_ < options_.concurrency; }

  void Launch(int caller, Clock::time_point due) {
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
    }
    Start(caller, due);
  }

  // Closed loop: caller `caller` makes its next call when one ends.
  void Start(int caller, Clock::time_point due) {
    workload_.Start(caller, [this, caller, due](CallResult r) {
      Finish(caller, due, std::move(r));
    });
  }

  void Finish(int caller, Clock::time_point due, CallResult r) {
    Clock::time_point now = Clock::now();
    bool counted = now >= measure_from_ && now <= end_;
    bool again = options_.rate <= 0 && now < end_;
    if (counted && r.ok) {
      result_.latencies->Record(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - due)
              .count());
    }
    if (counted) Count(r);
    if (again) {
      Start(caller, now);
    } else {
      absl::MutexLock lock(&mu_);
      --in_flight_;
    }
  }

  void Count(const CallResult& r) {
    absl::MutexLock lock(&mu_);
    result_.attempts += r.attempts;
    if (r.ok) {
      ++result_.ok;
    } else {
      ++result_.errors;
      ++result_.errors_by_code[r.status.code()];
      if (result_.first_error.empty()) {
        result_.first_error = r.status.ToString();
      }
    }
  }

  Workload& workload_;
  const DriveOptions options_;
  Clock::time_point measure_from_;
  Clock::time_point end_;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  DriveResult result_;
};

}  // namespace

DriveResult Drive(Workload& workload, const DriveOptions& options) {
  Run run(workload, options);
  return run.Go();
}

}  // namespace idem::bench
