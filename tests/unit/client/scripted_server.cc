#include "scripted_server.h"

#include <grpcpp/server_builder.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace idem::testing {
namespace {

std::string ClientMetadata(const grpc::ServerContext& context,
                           const std::string& name) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(name);
  return it == metadata.end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

// Waits as `reply` says.
void Delay(const ScriptedReply& reply) {
  std::this_thread::sleep_for(absl::ToChronoNanoseconds(reply.delay));
  if (reply.hold != nullptr) reply.hold->WaitForNotification();
}

}  // namespace

ScriptedReply Fail(grpc::StatusCode code,
                   std::map<std::string, std::string> trailers) {
  return ScriptedReply{code, "scripted failure", std::move(trailers),
                       absl::ZeroDuration()};
}

class ScriptedServer::Service final : public v1::IdemService::Service {
 public:
  explicit Service(ScriptedServer& owner) : owner_(owner) {}

  grpc::Status Insert(grpc::ServerContext* context, const v1::InsertRequest*,
                      v1::InsertResponse*) override {
    return Answer(*context, "Insert", "", nullptr);
  }
  grpc::Status Update(grpc::ServerContext* context, const v1::UpdateRequest*,
                      v1::UpdateResponse*) override {
    return Answer(*context, "Update", "", nullptr);
  }
  grpc::Status CopyFile(grpc::ServerContext* context,
                        const v1::CopyFileRequest*,
                        v1::CopyFileResponse*) override {
    return Answer(*context, "CopyFile", "", nullptr);
  }
  grpc::Status KeyedCall(grpc::ServerContext* context,
                         const v1::KeyedCallRequest* request,
                         v1::KeyedCallResponse* response) override {
    return Answer(*context, "KeyedCall", request->idempotency_key(), response);
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
          ReceivedCall{keyed ? "Batch/KeyedCall" : "Batch/Insert",
                       ClientMetadata(*context, "idem-attempt"),
                       ClientMetadata(*context, "authorization"),
                       keyed ? call.keyed_call().idempotency_key() : ""});
      v1::BatchResult& result = *response->add_results();
      result.set_code(reply.code);
      result.set_message(reply.message);
      result.set_replayed(reply.trailers.count("idempotent-replayed") > 0);
      if (const auto pushback = reply.trailers.find("grpc-retry-pushback-ms");
          pushback != reply.trailers.end()) {
        const int64_t ms = std::stoll(pushback->second);
        result.mutable_retry_delay()->set_seconds(ms / 1000);
        result.mutable_retry_delay()->set_nanos(ms % 1000 * 1000000);
      }
      if (reply.code == grpc::StatusCode::OK) {
        if (keyed) {
          result.mutable_keyed_call()->set_replayed(result.replayed());
        } else {
          result.mutable_insert();
        }
      }
      replies.push_back(std::move(reply));
    }
    for (const ScriptedReply& reply : replies) Delay(reply);
    return grpc::Status::OK;
  }

 private:
  grpc::Status Answer(grpc::ServerContext& context, std::string method,
                      std::string key, v1::KeyedCallResponse* keyed) {
    ScriptedReply reply = owner_.Next(
        ReceivedCall{std::move(method), ClientMetadata(context, "idem-attempt"),
                     ClientMetadata(context, "authorization"), std::move(key)});
    Delay(reply);
    for (const auto& [name, value] : reply.trailers) {
      context.AddTrailingMetadata(name, value);
    }
    if (keyed != nullptr) {
      keyed->set_replayed(reply.trailers.count("idempotent-replayed") > 0);
    }
    return grpc::Status(reply.code, reply.message);
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
