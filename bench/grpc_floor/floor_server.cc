// grpc_floor_server: idem's gRPC service with handlers that do nothing, on
// gRPC's callback API like idem-server: what gRPC alone costs a server per
// call on this machine. KeyedCall answers OK marked as a replay, Insert
// answers OK, so that idem_loadgen --mix=replay or --mix=insert counts every
// call as a success. Serves until killed.
//
//   grpc_floor_server 127.0.0.1:PORT
#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "idem/v1/idem.grpc.pb.h"

namespace {

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
    context->AddTrailingMetadata("idempotent-replayed", "true");
    response->mutable_insert()->set_inserted(1);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: grpc_floor_server HOST:PORT\n");
    return 2;
  }
  NothingService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(argv[1], grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  std::fprintf(stderr, "listening on %s\n", argv[1]);
  server->Wait();
  return 0;
}
