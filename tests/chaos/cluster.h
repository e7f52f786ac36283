#ifndef IDEM_TESTS_CHAOS_CLUSTER_H_
#define IDEM_TESTS_CHAOS_CLUSTER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
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

// The run's PostgreSQL cluster, through scripts/pg-local and SQL.
class Database {
 public:
  explicit Database(const Options& options) : options_(options) {}

  bool Crash();
  bool Restart();
  // Starts the cluster unless it runs already.
  bool EnsureUp();
  // pg_terminate_backend of every idem-server session; returns how many were
  // terminated, -1 when the database could not be reached.
  int TerminateServerSessions();
  // Runs SQL statements, retrying while the database comes back (30 s).
  bool Exec(const std::string& sql);

 private:
  const Options& options_;
};

}  // namespace idem::chaos

#endif  // IDEM_TESTS_CHAOS_CLUSTER_H_
