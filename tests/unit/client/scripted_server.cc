#include "scripted_server.h"

#include <grpcpp/server_builder.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"

namespace idem::testing {
namespace {

// What the peer saw of a call: its method and metadata.
ReceivedCall Received(const grpc::ServerContext& context, std::string method) {
  ReceivedCall call;
  call.method = std::move(method);
  for (const auto& [name, value] : context.client_metadata()) {
    call.metadata.emplace(std::string(name.data(), name.size()),
                          std::string(value.data(), value.size()));
  }
  for (auto [name, field] : {std::pair{"idem-attempt", &call.attempt},
                             std::pair{"authorization", &call.authorization}}) {
    if (const auto it = call.metadata.find(name); it != call.metadata.end()) {
      *field = it->second;
    }
  }
  return call;
}

ReceivedCall ReceivedKeyed(const grpc::ServerContext& context,
                           std::string method,
                           const v1::KeyedCallRequest& request) {
  ReceivedCall call = Received(context, std::move(method));
  call.idempotency_key = request.idempotency_key();
  if (request.call_case() != v1::KeyedCallRequest::CALL_NOT_SET) {
    call.wrapped =
        request.GetDescriptor()->FindFieldByNumber(request.call_case())->name();
  }
  return call;
}

bool IsReplayed(const ScriptedReply& reply) {
  return reply.answer_expired ||
         reply.trailers.count("idempotent-replayed") > 0;
}

// An empty result of the kind the keyed call asks for, or a tombstone's
// answer.
void AnswerKeyed(const v1::KeyedCallRequest& request,
                 const ScriptedReply& reply, v1::KeyedCallResponse* response) {
  response->set_replayed(IsReplayed(reply));
  if (reply.answer_expired) return response->set_answer_expired(true);
  switch (request.call_case()) {
    case v1::KeyedCallRequest::kInsert:
      response->mutable_insert();
      break;
    case v1::KeyedCallRequest::kUpdate:
      response->mutable_update();
      break;
    case v1::KeyedCallRequest::kCopyFile:
      response->mutable_copy_file();
      break;
    case v1::KeyedCallRequest::kTransaction:
      response->mutable_transaction();
      break;
    case v1::KeyedCallRequest::CALL_NOT_SET:
      break;
  }
}

// Waits as `reply` says.
void Delay(const ScriptedReply& reply) {
  std::this_thread::sleep_for(absl::ToChronoNanoseconds(reply.delay));
  if (reply.hold != nullptr) reply.hold->WaitForNotification();
}

// The reply's status with its details, as gRPC carries it.
google::rpc::Status DetailedStatus(const ScriptedReply& reply) {
  google::rpc::Status status = reply.details;
  status.set_code(reply.code);
  status.set_message(reply.message);
  return status;
}

}  // namespace

ScriptedReply Fail(grpc::StatusCode code,
                   std::map<std::string, std::string> trailers) {
  ScriptedReply reply;
  reply.code = code;
  reply.message = "scripted failure";
  reply.trailers = std::move(trailers);
  return reply;
}

ScriptedReply FailBecause(grpc::StatusCode code, const std::string& reason,
                          std::optional<absl::Duration> retry_delay,
                          std::map<std::string, std::string> metadata) {
  ScriptedReply reply = Fail(code);
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain("idem");
  info.mutable_metadata()->insert(metadata.begin(), metadata.end());
  reply.details.add_details()->PackFrom(info);
  if (retry_delay.has_value()) {
    google::rpc::RetryInfo retry;
    const int64_t nanos = absl::ToInt64Nanoseconds(*retry_delay);
    retry.mutable_retry_delay()->set_seconds(nanos / 1'000'000'000);
    retry.mutable_retry_delay()->set_nanos(nanos % 1'000'000'000);
    reply.details.add_details()->PackFrom(retry);
  }
  return reply;
}

class ScriptedServer::Service final : public v1::IdemService::Service {
 public:
  explicit Service(ScriptedServer& owner) : owner_(owner) {}

  grpc::Status Insert(grpc::ServerContext* context, const v1::InsertRequest*,
                      v1::InsertResponse*) override {
    return StatusOf(Reply(*context, Received(*context, "Insert")));
  }
  grpc::Status Update(grpc::ServerContext* context, const v1::UpdateRequest*,
                      v1::UpdateResponse*) override {
    return StatusOf(Reply(*context, Received(*context, "Update")));
  }
  grpc::Status CopyFile(grpc::ServerContext* context,
                        const v1::CopyFileRequest*,
                        v1::CopyFileResponse*) override {
    return StatusOf(Reply(*context, Received(*context, "CopyFile")));
  }
  grpc::Status KeyedCall(grpc::ServerContext* context,
                         const v1::KeyedCallRequest* request,
                         v1::KeyedCallResponse* response) override {
    const ScriptedReply reply =
        Reply(*context, ReceivedKeyed(*context, "KeyedCall", *request));
    AnswerKeyed(*request, reply, response);
    return StatusOf(reply);
  }
  grpc::Status GetKey(grpc::ServerContext* context,
                      const v1::GetKeyRequest* request,
                      v1::GetKeyResponse* response) override {
    ReceivedCall call = Received(*context, "GetKey");
    call.idempotency_key = request->idempotency_key();
    response->set_state(v1::KEY_STATE_FINISHED);
    return StatusOf(Reply(*context, std::move(call)));
  }
  grpc::Status ForgetKey(grpc::ServerContext* context,
                         const v1::ForgetKeyRequest* request,
                         v1::ForgetKeyResponse* response) override {
    ReceivedCall call = Received(*context, "ForgetKey");
    call.idempotency_key = request->idempotency_key();
    response->set_forgotten(true);
    return StatusOf(Reply(*context, std::move(call)));
  }
  // Each call of a batch takes the next reply, as a lone call would; the
  // batch waits as each of them says.
  grpc::Status Batch(grpc::ServerContext* context,
                     const v1::BatchRequest* request,
                     v1::BatchResponse* response) override {
    if (owner_.RefusesBatches()) {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
    }
    std::vector<ScriptedReply> replies;
    for (const v1::BatchCall& call : request->calls()) {
      const bool keyed = call.has_keyed_call();
      ScriptedReply reply = owner_.Next(
          keyed ? ReceivedKeyed(*context, "Batch/KeyedCall", call.keyed_call())
                : Received(*context, "Batch/Insert"));
      v1::BatchResult& result = *response->add_results();
      result.set_code(reply.code);
      result.set_message(reply.message);
      result.set_replayed(IsReplayed(reply));
      if (const auto pushback = reply.trailers.find("grpc-retry-pushback-ms");
          pushback != reply.trailers.end()) {
        const int64_t ms = std::stoll(pushback->second);
        result.mutable_retry_delay()->set_seconds(ms / 1000);
        result.mutable_retry_delay()->set_nanos(ms % 1000 * 1000000);
      }
      if (reply.code != grpc::StatusCode::OK) {
        *result.mutable_status() = DetailedStatus(reply);
      } else if (keyed) {
        AnswerKeyed(call.keyed_call(), reply, result.mutable_keyed_call());
      } else {
        result.mutable_insert();
      }
      replies.push_back(std::move(reply));
    }
    for (const ScriptedReply& reply : replies) Delay(reply);
    return grpc::Status::OK;
  }

 private:
  // Takes the next reply for `call`, waits as it says and sets its trailers.
  ScriptedReply Reply(grpc::ServerContext& context, ReceivedCall call) {
    ScriptedReply reply = owner_.Next(std::move(call));
    Delay(reply);
    for (const auto& [name, value] : reply.trailers) {
      context.AddTrailingMetadata(name, value);
    }
    return reply;
  }

  static grpc::Status StatusOf(const ScriptedReply& reply) {
    if (reply.details.details().empty()) {
      return grpc::Status(reply.code, reply.message);
    }
    return grpc::Status(reply.code, reply.message,
                        DetailedStatus(reply).SerializeAsString());
  }

  ScriptedServer& owner_;
};

ScriptedServer::ScriptedServer() : service_(std::make_unique<Service>(*this)) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
}

ScriptedServer::~ScriptedServer() { server_->Shutdown(); }

std::string ScriptedServer::target() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void ScriptedServer::Script(std::vector<ScriptedReply> replies) {
  absl::MutexLock lock(&mu_);
  script_.assign(replies.begin(), replies.end());
}

void ScriptedServer::RefuseBatches() {
  absl::MutexLock lock(&mu_);
  refuse_batches_ = true;
}

bool ScriptedServer::RefusesBatches() const {
  absl::MutexLock lock(&mu_);
  return refuse_batches_;
}

std::vector<ReceivedCall> ScriptedServer::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

ScriptedReply ScriptedServer::Next(ReceivedCall call) {
  absl::MutexLock lock(&mu_);
  received_.push_back(std::move(call));
  if (script_.empty()) return ScriptedReply{};
  ScriptedReply reply = std::move(script_.front());
  script_.pop_front();
  return reply;
}

}  // namespace idem::testing
