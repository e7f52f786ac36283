#ifndef IDEM_SERVICE_API_REQUEST_LOG_H_
#define IDEM_SERVICE_API_REQUEST_LOG_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "service/observability/metrics.h"

namespace idem::api {

// One JSON log line and the request metrics per request when it finishes:
// method, code, latency, tenant, replayed and the client's attempt number
// (metadata idem-attempt).
class RequestRecord {
 public:
  RequestRecord(const char* method, const grpc::ServerContextBase& context,
                observability::Metrics& metrics);

  void set_tenant(std::string tenant) { tenant_ = std::move(tenant); }
  void set_replayed(bool replayed) { replayed_ = replayed; }
  void Finish(const absl::Status& status);

 private:
  const char* method_;
  observability::Metrics& metrics_;
  std::string attempt_;
  std::string peer_;
  std::string tenant_;
  bool replayed_ = false;
  absl::Time start_;
};

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_REQUEST_LOG_H_
