// grpc_floor_server: idem's gRPC service with handlers that do nothing, on
// gRPC's callback API like idem-server: what gRPC alone costs a server per
// call on this machine. KeyedCall answers OK marked as a replay, Insert
// answers OK, so that idem_loadgen --mix=replay or --mix=insert counts every
// call as a success. With "sync", the same handlers on gRPC's synchronous
// API instead, for comparison. Serves until killed.
//
//   grpc_floor_server 127.0.0.1:PORT [callback|sync]
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <string>

#include "idem/v1/idem.grpc.pb.h"

namespace {

// A KeyedCall's answer: an insert of one row, replayed.
void AnswerAsReplay(grpc::ServerContextBase* context,
                    idem::v1::KeyedCallResponse* response) {
  context->AddTrailingMetadata("idempotent-replayed", "true");
  response->mutable_insert()->set_inserted(1);
}

class NothingService final : public idem::v1::IdemService::CallbackService {
  grpc::ServerUnaryReactor* Insert(grpc::CallbackServerContext* context,
                                   const idem::v1::InsertRequest*,
                                   idem::v1::InsertResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* KeyedCall(
      grpc::CallbackServerContext* context, const idem::v1::KeyedCallRequest*,
      idem::v1::KeyedCallResponse* response) override {
    AnswerAsReplay(context, response);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// The same on gRPC's synchronous API: each handler runs on the thread that
// polled for its request.
class SyncNothingService final : public idem::v1::IdemService::Service {
  grpc::Status Insert(grpc::ServerContext*, const idem::v1::InsertRequest*,
                      idem::v1::InsertResponse*) override {
    return grpc::Status::OK;
  }

  grpc::Status KeyedCall(grpc::ServerContext* context,
                         const idem::v1::KeyedCallRequest*,
                         idem::v1::KeyedCallResponse* response) override {
    AnswerAsReplay(context, response);
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: grpc_floor_server HOST:PORT [callback|sync]\n");
    return 2;
  }
  NothingService callback_service;
  SyncNothingService sync_service;
  const bool sync = argc > 2 && std::string(argv[2]) == "sync";
  grpc::ServerBuilder builder;
  builder.AddListeningPort(argv[1], grpc::InsecureServerCredentials());
  if (sync) {
    builder.RegisterService(&sync_service);
  } else {
    builder.RegisterService(&callback_service);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  std::fprintf(stderr, "listening on %s\n", argv[1]);
  server->Wait();
  return 0;
}
