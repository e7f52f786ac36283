#ifndef IDEM_SERVICE_API_IDEM_SERVICE_H_
#define IDEM_SERVICE_API_IDEM_SERVICE_H_

#include <functional>

#include "absl/status/statusor.h"
#include "idem/v1/idem.grpc.pb.h"
#include "service/ops/ops_context.h"
#include "service/worker_pool.h"

// The tenant every call belongs to while authentication is off.
inline constexpr char kDefaultTenant[] = "default";

namespace idem::api {

// Where every request enters: the four RPCs on gRPC's callback API. A
// handler checks what needs no I/O, then hands the operation to the worker
// pool and returns at once; the worker finishes the call.
class IdemService final : public v1::IdemService::CallbackService {
 public:
  IdemService(ops::OpsContext& ops, WorkerPool& workers,
              size_t max_message_bytes);

  grpc::ServerUnaryReactor* Insert(grpc::CallbackServerContext* context,
                                   const v1::InsertRequest* request,
                                   v1::InsertResponse* response) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* context,
                                   const v1::UpdateRequest* request,
                                   v1::UpdateResponse* response) override;
  grpc::ServerUnaryReactor* CopyFile(grpc::CallbackServerContext* context,
                                     const v1::CopyFileRequest* request,
                                     v1::CopyFileResponse* response) override;
  grpc::ServerUnaryReactor* KeyedCall(grpc::CallbackServerContext* context,
                                      const v1::KeyedCallRequest* request,
                                      v1::KeyedCallResponse* response) override;

 private:
  // Runs `operation` on a worker and finishes the call with the status it
  // returns; the operation fills the response and may add trailing
  // metadata.
  using Operation = std::function<absl::Status(grpc::CallbackServerContext&)>;
  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* context,
                                     const google::protobuf::Message& request,
                                     Operation operation);

  ops::OpsContext& ops_;
  WorkerPool& workers_;
  const size_t max_message_bytes_;
};

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_IDEM_SERVICE_H_
