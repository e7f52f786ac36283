#ifndef IDEM_TESTS_UNIT_CLIENT_SCRIPTED_SERVER_H_
#define IDEM_TESTS_UNIT_CLIENT_SCRIPTED_SERVER_H_

#include <grpcpp/server.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "idem/v1/idem.grpc.pb.h"

namespace idem::testing {

// What the scripted peer answers to one call.
struct ScriptedReply {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::map<std::string, std::string> trailers;
  absl::Duration delay;  // before answering
  // When set, the answer also waits until the test notifies it.
  std::shared_ptr<absl::Notification> hold = nullptr;
  // Sent as grpc-status-details-bin (BatchResult.status in a batch) when it
  // has details.
  google::rpc::Status details = {};
  // A keyed call's answer is a tombstone's: replayed, its answer expired,
  // no result.
  bool answer_expired = false;
};

// A failure with message "scripted failure".
ScriptedReply Fail(grpc::StatusCode code,
                   std::map<std::string, std::string> trailers = {});

// The same with the rich error model: an ErrorInfo of domain "idem" with
// `reason` and `metadata`, and a RetryInfo when `retry_delay` is given.
ScriptedReply FailBecause(grpc::StatusCode code, const std::string& reason,
                          std::optional<absl::Duration> retry_delay = {},
                          std::map<std::string, std::string> metadata = {});

// What the scripted peer saw of one call.
struct ReceivedCall {
  std::string method;           // "Batch/Insert" for an Insert inside a Batch
  std::string attempt;          // "idem-attempt" metadata
  std::string authorization;    // "authorization" metadata
  std::string idempotency_key;  // of a KeyedCall, GetKey or ForgetKey
  std::string wrapped;          // a KeyedCall's call: "insert", "update", ...
  std::multimap<std::string, std::string> metadata;  // all the client sent
};

// An in-process IdemService on 127.0.0.1 that answers calls from a script,
// in arrival order (each call of a Batch as one), and OK once the script is
// used up. It stands in for the
// network peer in tests of the client's retry logic; it knows nothing of
// data (that is tested against the real server).
class ScriptedServer {
 public:
  ScriptedServer();
  ~ScriptedServer();

  std::string target() const;
  void Script(std::vector<ScriptedReply> replies);
  std::vector<ReceivedCall> received() const;
  // Answers every Batch with UNIMPLEMENTED, as a server without it does.
  void RefuseBatches();

 private:
  class Service;
  ScriptedReply Next(ReceivedCall call);
  bool RefusesBatches() const;

  mutable absl::Mutex mu_;
  std::deque<ScriptedReply> script_ ABSL_GUARDED_BY(mu_);
  std::vector<ReceivedCall> received_ ABSL_GUARDED_BY(mu_);
  bool refuse_batches_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace idem::testing

#endif  // IDEM_TESTS_UNIT_CLIENT_SCRIPTED_SERVER_H_
