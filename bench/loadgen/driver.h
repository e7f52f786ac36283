#ifndef IDEM_BENCH_LOADGEN_DRIVER_H_
#define IDEM_BENCH_LOADGEN_DRIVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/loadgen/histogram.h"
#include "bench/loadgen/workload.h"

namespace idem::bench {

struct DriveOptions {
  int concurrency = 16;  // calls in flight (the cap, with a rate)
  double rate = 0;       // calls per second; 0: closed loop at concurrency
  std::chrono::nanoseconds warmup = std::chrono::seconds(1);
  std::chrono::nanoseconds duration = std::chrono::seconds(5);
  // Read at the start and the end of the measured window, beside this
  // process's own CPU: other processes' CPU seconds (the server's, the
  // database's), one value each. May be empty.
  std::function<std::vector<double>()> other_cpu;
};

// What was measured between the end of the warm-up and the end of the run:
// calls that completed in that window. With a rate, a call's latency counts
// from when it was due, so waiting for a free slot is part of it.
struct DriveResult {
  double seconds = 0;  // the measured window
  uint64_t ok = 0;
  uint64_t errors = 0;
  uint64_t attempts = 0;
  uint64_t late = 0;  // rate mode: calls that waited for a free slot
  std::unique_ptr<LatencyHistogram> latencies;  // successful calls only
  std::map<absl::StatusCode, uint64_t> errors_by_code;
  std::string first_error;
  double cpu_seconds = 0;  // this process, user + system, in the window
  std::vector<double> other_cpu_seconds;  // DriveOptions::other_cpu's, ditto
};

// Runs `workload` for warmup + duration, then waits for the calls in flight.
DriveResult Drive(Workload& workload, const DriveOptions& options);

}  // namespace idem::bench

#endif  // IDEM_BENCH_LOADGEN_DRIVER_H_
