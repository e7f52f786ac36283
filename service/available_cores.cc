#include "service/available_cores.h"

#include <sched.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "service/common/file_text.h"

namespace idem {
namespace {

std::optional<int64_t> ReadNumber(const char* path) {
  std::optional<std::string> text = ReadRegularFile(path);
  int64_t number = 0;
  if (!text.has_value() ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &number)) {
    return std::nullopt;
  }
  return number;
}

// The quota of this process's cgroup: v2 (one unified hierarchy, as
// Kubernetes nodes have since 1.25), else v1's cpu controller.
std::optional<int> CgroupCores() {
  if (std::optional<std::string> cpu_max =
          ReadRegularFile("/sys/fs/cgroup/cpu.max")) {
    return CoresOfCpuMax(*cpu_max);
  }
  std::optional<int64_t> quota =
      ReadNumber("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  std::optional<int64_t> period =
      ReadNumber("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  if (!quota.has_value() || !period.has_value()) return std::nullopt;
  return CoresOfQuota(*quota, *period);
}

}  // namespace

std::optional<int> CoresOfQuota(int64_t quota, int64_t period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  return static_cast<int>(std::max<int64_t>(1, (quota + period - 1) / period));
}

std::optional<int> CoresOfCpuMax(absl::string_view cpu_max) {
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::StripAsciiWhitespace(cpu_max), ' ', absl::SkipEmpty());
  int64_t quota = 0;
  int64_t period = 0;
  if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &quota) ||
      !absl::SimpleAtoi(fields[1], &period)) {
    return std::nullopt;  // "max 100000": no quota
  }
  return CoresOfQuota(quota, period);
}

int AvailableCores() {
  int cores =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  cpu_set_t affinity;
  if (sched_getaffinity(0, sizeof(affinity), &affinity) == 0) {
    cores = std::min(cores, std::max(1, CPU_COUNT(&affinity)));
  }
  if (std::optional<int> quota = CgroupCores()) {
    cores = std::min(cores, *quota);
  }
  return cores;
}

}  // namespace idem
