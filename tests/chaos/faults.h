#ifndef IDEM_TESTS_CHAOS_FAULTS_H_
#define IDEM_TESTS_CHAOS_FAULTS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/chaos/cluster.h"
#include "tests/chaos/network_namespace.h"
#include "tests/support/fault_proxy.h"

namespace idem::chaos {

enum class FaultKind {
  kReplicaKill,  // SIGKILL a replica, restart it on its port
  kPgCrash,      // pg_ctl stop -m immediate, then start
  kPgTerminate,  // pg_terminate_backend of the servers' sessions
  kProxyDrop,    // fault proxies close connections quietly (lost chunks)
  kProxyReset,   // fault proxies reset connections (RST)
  kNetnsDrop,    // iptables DROP of a share of the namespace's packets
  kNetnsReset,   // iptables REJECT --reject-with tcp-reset
  kFailover,     // primary killed, standby promoted, old primary rebuilt
};
constexpr int kFaultKinds = 8;
const char* FaultKindName(FaultKind kind);

// How many faults of `kind` a run must inject at least.
int MinimumFaults(const Options& options, FaultKind kind);

// How long a step of the failovers took; written by the failover thread.
struct FailoverTimes {
  std::atomic<int64_t> total_ms{0}, longest_ms{0};
  void Add(absl::Duration took);
};

struct FaultCounts {
  std::atomic<int> injected[kFaultKinds] = {};
  std::atomic<int> failed[kFaultKinds] = {};  // injection or recovery failed
  std::atomic<int64_t> sessions_terminated{0};
  std::atomic<int64_t> netns_packets_dropped{0};
  std::atomic<int64_t> netns_packets_reset{0};
  std::atomic<int> failovers_rewound{0};  // the rest by pg_basebackup
  FailoverTimes to_promoted, to_rejoined;
};

// One thread per fault kind, each injecting one fault at a time, bounded in
// duration, at random intervals, until Stop() or until its kind reached its
// target: a few more than its minimum. The faults are spread over the
// workload: fault i of a kind waits until progress() (0 to 1: the share of
// the workload done) reached i / target.
class FaultInjector {
 public:
  FaultInjector(Replicas& replicas, Database& database,
                std::vector<testing::FaultProxy*> proxies,
                NamespaceFirewall* firewall, const Options& options,
                uint64_t seed, std::function<double()> progress);
  ~FaultInjector();

  void Start();
  // Stops injecting, lets the current faults end and heals everything.
  void Stop();
  bool Enabled(FaultKind kind) const;
  // Every enabled kind reached its minimum.
  bool MinimumsMet() const;
  const FaultCounts& counts() const { return counts_; }

 private:
  enum class Outcome { kInjected, kNothing, kFailed };
  void Loop(FaultKind kind);
  Outcome InjectOne(FaultKind kind, std::mt19937_64& random);
  Outcome FailOver(absl::Duration down);

  Replicas& replicas_;
  Database& database_;
  std::vector<testing::FaultProxy*> proxies_;
  NamespaceFirewall* firewall_;
  const Options& options_;
  const uint64_t seed_;
  const std::function<double()> progress_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  FaultCounts counts_;
};

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_FAULTS_H_
