#ifndef IDEM_SERVICE_HEALTH_MONITOR_H_
#define IDEM_SERVICE_HEALTH_MONITOR_H_

#include <grpcpp/health_check_service_interface.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace idem {

// The health service name that answers SERVING while the process is alive.
inline constexpr char kLivenessService[] = "liveness";

// Keeps the gRPC health status (service "") SERVING only while PostgreSQL
// answers a query, checked on a connection of its own so that a busy pool
// never reads as an outage: readiness. The service "liveness" stays SERVING
// while the process runs, so that a database outage takes replicas out of
// rotation without restarting them.
class HealthMonitor {
 public:
  // Sets the status on every one of `health` (the main listener's and the
  // probe listener's).
  HealthMonitor(std::vector<grpc::HealthCheckServiceInterface*> health,
                std::string database_url, absl::Duration interval);
  // Stops checking; the status stays as last set.
  ~HealthMonitor();

 private:
  void Run();

  const std::vector<grpc::HealthCheckServiceInterface*> health_;
  const std::string database_url_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace idem

#endif  // IDEM_SERVICE_HEALTH_MONITOR_H_
