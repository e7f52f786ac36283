#include "tests/chaos/report.h"

#include <iomanip>

namespace idem::chaos {
namespace {

void PrintDeltas(std::ostream& out, const char* title, const Check& check) {
  out << title << ": " << check.deltas.size() << " delta(s); checked "
      << check.counters_checked << " counters, " << check.rows_checked
      << " row operations, " << check.transfers_checked << " transfers, "
      << check.files_checked
      << " copy destinations; temporary files present: " << check.temp_files
      << "\n";
  const int64_t opening = int64_t{kTransferCounters} * kTransferOpening;
  out << "  transfers: sum of all counters "
      << (check.transfer_sum == opening ? "unchanged" : "CHANGED") << " ("
      << kTransferCounters << " counters, " << opening << " before, "
      << check.transfer_sum << " after)\n";
  const size_t shown = std::min<size_t>(check.deltas.size(), 25);
  for (size_t i = 0; i < shown; ++i)
    out << "  DELTA " << check.deltas[i] << "\n";
  if (shown < check.deltas.size()) {
    out << "  ... and " << check.deltas.size() - shown << " more\n";
  }
}

}  // namespace

void Report::Collect(const std::vector<Op>& all,
                     const FaultInjector& injector) {
  ops = static_cast<int64_t>(all.size());
  for (const Op& op : all) {
    const int k = static_cast<int>(op.kind);
    ++by_kind[k];
    acked[k] += op.acked;
    replayed[k] += op.replayed;
    retries += op.attempts > 0 ? op.attempts - 1 : 0;
  }
  const FaultCounts& counts = injector.counts();
  for (int k = 0; k < kFaultKinds; ++k) {
    faults[k] = counts.injected[k];
    fault_failures[k] = counts.failed[k];
    fault_enabled[k] = injector.Enabled(static_cast<FaultKind>(k));
  }
  failovers_rewound = counts.failovers_rewound;
  to_promoted_ms[0] = counts.to_promoted.total_ms;
  to_promoted_ms[1] = counts.to_promoted.longest_ms;
  to_rejoined_ms[0] = counts.to_rejoined.total_ms;
  to_rejoined_ms[1] = counts.to_rejoined.longest_ms;
  sessions_terminated = counts.sessions_terminated;
  netns_dropped = counts.netns_packets_dropped;
  netns_reset = counts.netns_packets_reset;
}

bool Report::CoverageMet(const Options& options) const {
  if (ops < options.ops) return false;
  for (int k = 0; k < kFaultKinds; ++k) {
    if (fault_enabled[k] &&
        faults[k] < MinimumFaults(options, static_cast<FaultKind>(k))) {
      return false;
    }
  }
  return true;
}

bool Report::Passed(const Options& options) const {
  return healed && CoverageMet(options) && under_faults.deltas.empty() &&
         final_state.deltas.empty();
}

void Report::Print(std::ostream& out, const Options& options) const {
  out << "\n=== idem chaos verdict (seed " << seed << ") ===\n"
      << "network faults: " << network << "\n"
      << "workload: " << std::fixed << std::setprecision(1) << workload_seconds
      << " s, " << options.workers << " workers, 3 "
      << "replicas" << (time_cap_hit ? " (time cap reached)" : "") << "\n\n"
      << "logical operations: " << ops << "\n";
  int64_t acked_total = 0;
  for (int k = 0; k < kOpKinds; ++k) {
    acked_total += acked[k];
    out << "  " << std::left << std::setw(18)
        << OpKindName(static_cast<OpKind>(k)) << std::right << std::setw(8)
        << by_kind[k] << "  acknowledged " << std::setw(8) << acked[k]
        << "  unacknowledged " << std::setw(5) << by_kind[k] - acked[k]
        << "  acknowledged from a replay " << replayed[k] << "\n";
  }
  out << "client retries (sum of attempts-1): " << retries << "\n"
      << "final errors (unacknowledged ops): " << ops - acked_total << "\n";
  for (const auto& [error, n] : final_errors) {
    out << "  " << error << ": " << n << "\n";
  }
  out << "\nfaults injected:\n";
  for (int k = 0; k < kFaultKinds; ++k) {
    out << "  " << std::left << std::setw(28)
        << FaultKindName(static_cast<FaultKind>(k)) << std::right;
    if (!fault_enabled[k]) {
      out << "     - (not available here)\n";
      continue;
    }
    out << std::setw(6) << faults[k];
    if (fault_failures[k] > 0) out << "  (+" << fault_failures[k] << " missed)";
    out << "\n";
  }
  out << "  server sessions terminated: " << sessions_terminated
      << "; proxy connections cut: " << proxy_cuts
      << "; netns packets dropped: " << netns_dropped
      << ", reset: " << netns_reset << "\n";
  const int failovers = faults[static_cast<int>(FaultKind::kFailover)];
  if (failovers > 0) {
    out << "  failovers: old primary rebuilt by pg_rewind " << failovers_rewound
        << ", by pg_basebackup " << failovers - failovers_rewound
        << "\n  from the kill to the standby promoted: mean "
        << to_promoted_ms[0] / failovers << " ms, longest " << to_promoted_ms[1]
        << " ms; to the old primary back as its standby: mean "
        << to_rejoined_ms[0] / failovers << " ms, longest " << to_rejoined_ms[1]
        << " ms\n";
  }
  out << "\n";
  PrintDeltas(out,
              "check after the faults (acknowledged exactly once, "
              "unacknowledged at most once)",
              under_faults);
  out << "resent after the faults (same keys): " << resent << "\n";
  PrintDeltas(out, "check after resending (every op exactly once)",
              final_state);
  if (!healed) out << "FAILED: the cluster did not come back after the run\n";
  if (!CoverageMet(options)) {
    out << "FAILED: fewer than " << options.ops << " operations, "
        << options.min_faults << " faults of some kind or "
        << options.min_failovers << " failovers\n";
  }
  out << "\nVERDICT: " << (Passed(options) ? "PASS" : "FAIL")
      << " (lost: 0 and doubled: 0 is required)\n";
}

}  // namespace idem::chaos
