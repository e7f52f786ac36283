#ifndef IDEM_SERVICE_API_REQUEST_LOG_H_
#define IDEM_SERVICE_API_REQUEST_LOG_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "service/observability/metrics.h"

namespace idem::api {

// The request metrics of every request when it finishes, and a JSON log
// line for those that did not end OK (or for all, `log_every_request`):
// method, code, latency, tenant, replayed, peer, the client's attempt
// number (metadata idem-attempt), the trace id of a W3C `traceparent`
// header, and for a call under an idempotency key the key's hash
// (`key_hash`: the first 12 hex digits of SHA-256 over the tenant, "\n" and
// the key), never the key itself, which may carry a business identifier:
// the message names it by the hash too, and keeps no value of the request
// that PostgreSQL quoted (LogSafeMessage). Successful calls are not logged one
// by one by default: at thousands of calls a second the line cost the
// server a fifth of its CPU, and the metrics count them.
class RequestRecord {
 public:
  // `context` must outlive Finish.
  RequestRecord(const char* method, const grpc::ServerContextBase& context,
                observability::Metrics& metrics, bool log_every_request);

  void set_tenant(std::string tenant) { tenant_ = std::move(tenant); }
  void set_replayed(bool replayed) { replayed_ = replayed; }
  void set_idempotency_key(std::string key) { key_ = std::move(key); }
  void Finish(const absl::Status& status);

 private:
  const char* method_;
  const grpc::ServerContextBase& context_;
  observability::Metrics& metrics_;
  const bool log_every_request_;
  std::string tenant_;
  std::string key_;
  bool replayed_ = false;
  absl::Time start_;
};

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_REQUEST_LOG_H_
