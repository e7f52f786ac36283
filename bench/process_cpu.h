#ifndef IDEM_BENCH_PROCESS_CPU_H_
#define IDEM_BENCH_PROCESS_CPU_H_

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace idem::bench {

// CPU seconds (user + system) this process has used so far: a load
// generator reports its own cost per call from two readings.
inline double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Another process's CPU seconds so far (utime + stime of /proc/PID/stat, all
// its threads, in clock ticks of 10 ms; with `ended_children`, also the
// cutime + cstime of its children that ended), and its parent's pid; false
// when it cannot be read (gone, or not ours to see).
inline bool OtherProcessCpu(int pid, double* seconds, int* parent = nullptr,
                            bool ended_children = false) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (pid <= 0 || !std::getline(in, line)) return false;
  // "pid (comm) state ppid ..." where comm may hold spaces: fields are
  // counted after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state
    if (i == 4 && parent != nullptr) *parent = std::atoi(field.c_str());
    if (i == 14 || i == 15 || (ended_children && (i == 16 || i == 17))) {
      ticks += std::atof(field.c_str());
    }
    if (i == 17) break;
  }
  *seconds = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  return true;
}

// CPU seconds of `pid` and of its children (not grandchildren), live or
// ended: a PostgreSQL postmaster and its backends and helpers (WAL writer,
// checkpointer, ...).
inline double ProcessAndChildrenCpuSeconds(int pid) {
  double total = 0;
  double own = 0;
  if (OtherProcessCpu(pid, &own, nullptr, true)) total += own;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return total;
  while (dirent* entry = readdir(proc)) {
    int child = std::atoi(entry->d_name);
    if (child <= 0 || child == pid) continue;
    double seconds = 0;
    int parent = 0;
    if (OtherProcessCpu(child, &seconds, &parent) && parent == pid) {
      total += seconds;
    }
  }
  closedir(proc);
  return total;
}

}  // namespace idem::bench

#endif  // IDEM_BENCH_PROCESS_CPU_H_
