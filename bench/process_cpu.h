#ifndef IDEM_BENCH_PROCESS_CPU_H_
#define IDEM_BENCH_PROCESS_CPU_H_

#include <sys/resource.h>

namespace idem::bench {

// CPU seconds (user + system) this process has used so far: a load
// generator reports its own cost per call from two readings.
inline double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace idem::bench

#endif  // IDEM_BENCH_PROCESS_CPU_H_
