#include "tests/chaos/faults.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace idem::chaos {
namespace {

absl::Duration Uniform(std::mt19937_64& random, int min_ms, int max_ms) {
  return absl::Milliseconds(
      std::uniform_int_distribution<int>(min_ms, max_ms)(random));
}

// Gap before the next fault of a kind, and how long a fault lasts, in ms.
struct Pace {
  int gap_min, gap_max, length_min, length_max;
};
Pace PaceOf(FaultKind kind) {
  switch (kind) {
    case FaultKind::kReplicaKill:
      return {300, 1500, 0, 1000};
    case FaultKind::kPgCrash:
      return {500, 2000, 0, 1000};
    case FaultKind::kPgTerminate:
      return {200, 1000, 0, 0};
    case FaultKind::kFailover:  // length: until the standby is promoted
      return {1000, 3000, 0, 1000};
    default:
      return {200, 1000, 300, 1500};  // network windows
  }
}

}  // namespace

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kReplicaKill:
      return "replica_sigkill_restart";
    case FaultKind::kPgCrash:
      return "postgres_crash_restart";
    case FaultKind::kPgTerminate:
      return "pg_terminate_backend";
    case FaultKind::kProxyDrop:
      return "proxy_drop_window";
    case FaultKind::kProxyReset:
      return "proxy_reset_window";
    case FaultKind::kNetnsDrop:
      return "netns_iptables_drop_window";
    case FaultKind::kNetnsReset:
      return "netns_iptables_reset_window";
    case FaultKind::kFailover:
      return "postgres_failover";
  }
  return "?";
}

void FailoverTimes::Add(absl::Duration took) {
  const int64_t ms = absl::ToInt64Milliseconds(took);
  total_ms += ms;
  longest_ms = std::max<int64_t>(longest_ms, ms);
}

int MinimumFaults(const Options& options, FaultKind kind) {
  return kind == FaultKind::kFailover ? options.min_failovers
                                      : options.min_faults;
}

namespace {

int Target(const Options& options, FaultKind kind) {
  const int minimum = MinimumFaults(options, kind);
  return minimum + std::max(1, minimum / 10);
}

}  // namespace

FaultInjector::FaultInjector(Replicas& replicas, Database& database,
                             std::vector<testing::FaultProxy*> proxies,
                             NamespaceFirewall* firewall,
                             const Options& options, uint64_t seed,
                             std::function<double()> progress)
    : replicas_(replicas),
      database_(database),
      proxies_(std::move(proxies)),
      firewall_(firewall),
      options_(options),
      seed_(seed),
      progress_(std::move(progress)) {}

FaultInjector::~FaultInjector() { Stop(); }

bool FaultInjector::Enabled(FaultKind kind) const {
  if (kind == FaultKind::kNetnsDrop || kind == FaultKind::kNetnsReset) {
    return firewall_ != nullptr;
  }
  if (kind == FaultKind::kFailover) {
    return database_.has_standby() && options_.min_failovers > 0;
  }
  return true;
}

bool FaultInjector::MinimumsMet() const {
  for (int k = 0; k < kFaultKinds; ++k) {
    const FaultKind kind = static_cast<FaultKind>(k);
    if (Enabled(kind) && counts_.injected[k] < MinimumFaults(options_, kind)) {
      return false;
    }
  }
  return true;
}

void FaultInjector::Start() {
  for (int k = 0; k < kFaultKinds; ++k) {
    if (!Enabled(static_cast<FaultKind>(k))) continue;
    threads_.emplace_back([this, k] { Loop(static_cast<FaultKind>(k)); });
  }
}

void FaultInjector::Stop() {
  stopping_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void FaultInjector::Loop(FaultKind kind) {
  std::mt19937_64 random(seed_ * 1000003 + static_cast<int>(kind));
  const Pace pace = PaceOf(kind);
  const int k = static_cast<int>(kind);
  const int target = Target(options_, kind);
  while (!stopping_ && counts_.injected[k] < target) {
    const absl::Time next =
        absl::Now() + Uniform(random, pace.gap_min, pace.gap_max);
    const double due = static_cast<double>(counts_.injected[k]) / target;
    while (!stopping_ && (absl::Now() < next || progress_() < due)) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (stopping_) break;
    const Outcome outcome = InjectOne(kind, random);
    if (outcome == Outcome::kInjected) {
      ++counts_.injected[k];
    } else if (outcome == Outcome::kFailed) {
      ++counts_.failed[k];
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
}

FaultInjector::Outcome FaultInjector::InjectOne(FaultKind kind,
                                                std::mt19937_64& random) {
  const Pace pace = PaceOf(kind);
  const absl::Duration length =
      Uniform(random, pace.length_min, pace.length_max);
  switch (kind) {
    case FaultKind::kReplicaKill: {
      const int victim =
          std::uniform_int_distribution<int>(0, replicas_.size() - 1)(random);
      replicas_.Kill(victim);
      absl::SleepFor(length);
      return replicas_.Restart(victim) ? Outcome::kInjected : Outcome::kFailed;
    }
    case FaultKind::kPgCrash:
      return database_.CrashAndRestart(length) ? Outcome::kInjected
                                               : Outcome::kFailed;
    case FaultKind::kFailover:
      return FailOver(length);
    case FaultKind::kPgTerminate: {
      const int n = database_.TerminateServerSessions();
      if (n < 0) return Outcome::kFailed;    // database down (a crash)
      if (n == 0) return Outcome::kNothing;  // no sessions open right now
      counts_.sessions_terminated += n;
      return Outcome::kInjected;
    }
    case FaultKind::kProxyDrop:
    case FaultKind::kProxyReset: {
      const bool reset = kind == FaultKind::kProxyReset;
      testing::FaultProxy::Faults faults;
      (reset ? faults.reset_probability : faults.drop_probability) =
          std::uniform_real_distribution<double>(0.02, 0.1)(random);
      faults.seed = random() | 1;
      // Both proxy kinds share the proxies: serialise their windows.
      static absl::Mutex window;
      absl::MutexLock lock(&window);
      for (testing::FaultProxy* p : proxies_) p->SetFaults(faults);
      absl::SleepFor(length);
      for (testing::FaultProxy* p : proxies_) p->SetFaults({});
      return Outcome::kInjected;
    }
    case FaultKind::kNetnsDrop:
    case FaultKind::kNetnsReset: {
      const bool reset = kind == FaultKind::kNetnsReset;
      const double p =
          reset ? std::uniform_real_distribution<double>(0.01, 0.05)(random)
                : std::uniform_real_distribution<double>(0.05, 0.2)(random);
      // Both netns kinds share the chain: serialise their windows.
      static absl::Mutex window;
      absl::MutexLock lock(&window);
      if (!firewall_->Add(absl::StrCat(p), reset)) return Outcome::kFailed;
      absl::SleepFor(length);
      const int64_t hit = firewall_->Flush();
      (reset ? counts_.netns_packets_reset : counts_.netns_packets_dropped) +=
          hit;
      return Outcome::kInjected;
    }
  }
  return Outcome::kFailed;
}

FaultInjector::Outcome FaultInjector::FailOver(absl::Duration down) {
  const Database::Failover failover = database_.FailOver(down);
  if (!failover.ok) return Outcome::kFailed;
  counts_.failovers_rewound += failover.rewound;
  counts_.to_promoted.Add(failover.to_promoted);
  counts_.to_rejoined.Add(failover.to_rejoined);
  return Outcome::kInjected;
}

}  // namespace idem::chaos
