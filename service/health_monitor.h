#ifndef IDEM_SERVICE_HEALTH_MONITOR_H_
#define IDEM_SERVICE_HEALTH_MONITOR_H_

#include <grpcpp/health_check_service_interface.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/db/database_clock.h"
#include "service/db/pg_session.h"

namespace idem {

// The health service name that answers SERVING while the process is alive.
inline constexpr char kLivenessService[] = "liveness";

// Keeps the gRPC health status (service "") SERVING only while PostgreSQL
// answers a query within `answer_within`, checked on a connection of its
// own so that a busy pool never reads as an outage: readiness. The service
// "liveness" stays SERVING while the process runs, so that a database
// outage takes replicas out of rotation without restarting them.
//
// A database that keeps its connections but stops answering (its disk
// stalled, its processes stopped) never fails the query, and the kernel
// keeps acknowledging, so no TCP timeout fires either: a watchdog ends the
// probe's connection when the answer is late, which fails the query then.
class HealthMonitor {
 public:
  // Sets the status on every one of `health` (the main listener's and the
  // probe listener's). Each probe reads the database's clock into `clock`
  // (borrowed; must outlive the monitor). `unanswered` is told when a
  // probe's answer did not come in time: the database stopped answering,
  // and what else waits on it will not be answered either. `database_up`
  // is told after every probe whether the database answered in time.
  HealthMonitor(std::vector<grpc::HealthCheckServiceInterface*> health,
                std::string database_url, absl::Duration interval,
                absl::Duration answer_within, db::DatabaseClock* clock,
                std::function<void()> unanswered,
                std::function<void(bool)> database_up);
  // Stops checking, without waiting for a query the database does not
  // answer (a connection it does not answer is bounded by `answer_within`
  // per host); the status stays as last set.
  ~HealthMonitor();

 private:
  enum class Outcome { kAnswered, kLate, kFailed };

  void Run();
  // Whether `session` (opened first when needed) answers a query (of the
  // database's clock) in time, or why not (`failure_` says more); the
  // session is dropped when it does not.
  Outcome Probe(std::unique_ptr<db::PgSession>& session);
  // A probe's answer that did not come in time, and why, in `failure_`.
  Outcome Late();
  // Ends the connection of a probe whose answer is late, or of any probe
  // once stopping.
  void Watch();
  // The probe is over: closes the watchdog's descriptor. True when the
  // watchdog did not end the connection.
  bool EndProbe();

  const std::vector<grpc::HealthCheckServiceInterface*> health_;
  const std::string database_url_;
  const absl::Duration interval_;
  const absl::Duration answer_within_;
  db::DatabaseClock* const clock_;
  const std::function<void()> unanswered_;
  const std::function<void(bool)> database_up_;
  absl::Notification stop_;
  absl::Mutex mu_;
  absl::CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // While a probe waits: a duplicate of its socket, and whether the
  // watchdog ended the connection.
  int probe_socket_ ABSL_GUARDED_BY(mu_) = -1;
  bool probe_ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time probe_deadline_ ABSL_GUARDED_BY(mu_);
  // Why the last probe failed, for the log; the probe thread's own.
  std::string failure_;
  std::thread thread_;
  std::thread watchdog_;
};

}  // namespace idem

#endif  // IDEM_SERVICE_HEALTH_MONITOR_H_
