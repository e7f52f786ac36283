#ifndef IDEM_TESTS_CHAOS_REPORT_H_
#define IDEM_TESTS_CHAOS_REPORT_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "tests/chaos/faults.h"
#include "tests/chaos/options.h"
#include "tests/chaos/verdict.h"
#include "tests/chaos/workload.h"

namespace idem::chaos {

// The figures of a run and its verdict.
struct Report {
  uint64_t seed = 0;
  std::string network;
  bool time_cap_hit = false;
  bool healed = false;
  double workload_seconds = 0;
  int64_t ops = 0;
  int64_t by_kind[kOpKinds] = {}, acked[kOpKinds] = {}, replayed[kOpKinds] = {};
  int64_t retries = 0;  // sum over logical ops of (attempts - 1)
  int64_t resent = 0;   // resends of unacknowledged ops after the faults
  std::map<std::string, int64_t> final_errors;  // code (stop reason) -> ops
  int faults[kFaultKinds] = {}, fault_failures[kFaultKinds] = {};
  bool fault_enabled[kFaultKinds] = {};
  int64_t sessions_terminated = 0, proxy_cuts = 0;
  int64_t netns_dropped = 0, netns_reset = 0;
  int failovers_rewound = 0;
  int64_t to_promoted_ms[2] = {}, to_rejoined_ms[2] = {};  // total, longest
  Check under_faults, final_state;

  void Collect(const std::vector<Op>& ops, const FaultInjector& injector);
  void Print(std::ostream& out, const Options& options) const;
  bool CoverageMet(const Options& options) const;
  bool Passed(const Options& options) const;
};

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_REPORT_H_
