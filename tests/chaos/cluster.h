#ifndef IDEM_TESTS_CHAOS_CLUSTER_H_
#define IDEM_TESTS_CHAOS_CLUSTER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/chaos/options.h"
#include "tests/support/server_process.h"

namespace idem::chaos {

// The idem-server replicas of a run, each on a fixed loopback port that
// survives its restarts.
class Replicas {
 public:
  Replicas(const Options& options, int count);
  ~Replicas();

  // Starts every replica; false (with the reason on stderr) if one fails.
  bool StartAll();
  int size() const { return static_cast<int>(ports_.size()); }
  std::string Address(int replica) const;

  // SIGKILL; the replica stays down until Restart.
  void Kill(int replica);
  // Starts a killed replica again on its port, retrying while the database
  // is down (bounded: 90 s). False if it never came back.
  bool Restart(int replica);
  // Restarts every replica that is down.
  bool EnsureAllUp();

 private:
  std::unique_ptr<testing::ServerProcess> StartOne(int port);
  void WritePids();

  const Options& options_;
  absl::Mutex mu_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<testing::ServerProcess>> processes_
      ABSL_GUARDED_BY(mu_);
};

// The run's PostgreSQL, through scripts/pg-local and SQL: a primary and,
// with --standby-dir, a synchronous standby that Failover promotes. The
// roles swap at every failover; options.database_url names both hosts, so
// SQL always reaches the primary.
class Database {
 public:
  explicit Database(const Options& options);

  bool has_standby() const { return !options_.standby_dir.empty(); }
  // pg_ctl stop -m immediate of the primary; started again after `down`.
  bool CrashAndRestart(absl::Duration down);

  struct Failover {
    bool ok = false;
    bool rewound = false;        // rebuilt by pg_rewind, else by pg_basebackup
    absl::Duration to_promoted;  // from the kill to a primary again
    absl::Duration to_rejoined;  // ... to its new standby started
  };
  // What an HA manager does when the primary dies: once the standby has
  // confirmed everything the primary wrote (it only ever promotes a
  // synchronous standby that is in sync), kills the primary, promotes the
  // standby after `down`, and rebuilds the old primary as its standby.
  Failover FailOver(absl::Duration down);

  // Starts whatever is down (the primary, the standby).
  bool EnsureUp();
  // pg_terminate_backend of every idem-server session; returns how many were
  // terminated, -1 when the database could not be reached.
  int TerminateServerSessions();
  // Runs SQL statements, retrying while the database comes back (30 s).
  bool Exec(const std::string& sql);

 private:
  bool WaitForStandbyInSync();

  const Options& options_;
  absl::Mutex mu_;  // one change of the cluster's shape at a time
  std::string primary_ ABSL_GUARDED_BY(mu_);
  std::string standby_ ABSL_GUARDED_BY(mu_);
};

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_CLUSTER_H_
