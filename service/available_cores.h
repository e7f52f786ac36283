#ifndef IDEM_SERVICE_AVAILABLE_CORES_H_
#define IDEM_SERVICE_AVAILABLE_CORES_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace idem {

// The cores this process may use: the machine's, or fewer when its CPU
// affinity or its cgroup's CPU quota (a Kubernetes CPU limit) allows fewer.
// The thread and connection defaults scale with it: the machine's count
// alone would give a pod limited to 2 CPUs on a 64-core node 256 workers
// and a database connection for each.
int AvailableCores();

// The cores a CPU quota of `quota` per `period` allows, rounded up (1.5
// CPUs: 2); nullopt for no quota (negative or zero) or a bad period.
std::optional<int> CoresOfQuota(int64_t quota, int64_t period);

// The same for cgroup v2's cpu.max: "150000 100000", or "max 100000" (no
// quota); nullopt for no quota or text it cannot read.
std::optional<int> CoresOfCpuMax(absl::string_view cpu_max);

}  // namespace idem

#endif  // IDEM_SERVICE_AVAILABLE_CORES_H_
