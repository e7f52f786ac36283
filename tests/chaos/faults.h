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
};
constexpr int kFaultKinds = 7;
const char* FaultKindName(FaultKind kind);

struct FaultCounts {
  std::atomic<int> injected[kFaultKinds] = {};
  std::atomic<int> failed[kFaultKinds] = {};  // injection or recovery failed
  std::atomic<int64_t> sessions_terminated{0};
  std::atomic<int64_t> netns_packets_dropped{0};
  std::atomic<int64_t> netns_packets_reset{0};
};

// One thread per fault kind, each injecting one fault at a time, bounded in
// duration, at random intervals, until Stop() or until its kind reached
// `per_kind` faults. The faults are spread over the workload: fault i of a
// kind waits until progress() (0 to 1: the share of the workload done)
// reached i / per_kind.
class FaultInjector {
 public:
  FaultInjector(Replicas& replicas, Database& database,
                std::vector<testing::FaultProxy*> proxies,
                NamespaceFirewall* firewall, int per_kind, uint64_t seed,
                std::function<double()> progress);
  ~FaultInjector();

  void Start();
  // Stops injecting, lets the current faults end and heals everything.
  void Stop();
  bool Enabled(FaultKind kind) const;
  const FaultCounts& counts() const { return counts_; }

 private:
  enum class Outcome { kInjected, kNothing, kFailed };
  void Loop(FaultKind kind);
  Outcome InjectOne(FaultKind kind, std::mt19937_64& random);

  Replicas& replicas_;
  Database& database_;
  std::vector<testing::FaultProxy*> proxies_;
  NamespaceFirewall* firewall_;
  const int per_kind_;
  const uint64_t seed_;
  const std::function<double()> progress_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  FaultCounts counts_;
};

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_FAULTS_H_
