#include "service/api/idem_service.h"

#include "absl/strings/str_cat.h"
#include "service/api/grpc_status.h"
#include "service/common/retry_delay.h"
#include "service/ops/insert_op.h"
#include "service/ops/update_op.h"

namespace idem::api {

IdemService::IdemService(ops::OpsContext& ops, WorkerPool& workers,
                         size_t max_message_bytes)
    : ops_(ops), workers_(workers), max_message_bytes_(max_message_bytes) {}

template <typename Response>
grpc::ServerUnaryReactor* IdemService::Dispatch(
    grpc::CallbackServerContext* context,
    const google::protobuf::Message& request, Response* response,
    std::function<absl::StatusOr<Response>()> operation) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (request.ByteSizeLong() > max_message_bytes_) {
    reactor->Finish(
        ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
                         "request of ", request.ByteSizeLong(),
                         " bytes exceeds the limit of ", max_message_bytes_)),
                     *context));
    return reactor;
  }
  bool queued = workers_.Submit(
      [context, reactor, response, operation = std::move(operation)] {
        absl::StatusOr<Response> result = operation();
        if (result.ok()) *response = *std::move(result);
        reactor->Finish(ToGrpcStatus(result.status(), *context));
      });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(
        WithRetryDelay(absl::ResourceExhaustedError(
                           "server overloaded; retry after the delay"),
                       absl::Milliseconds(200)),
        *context));
  }
  return reactor;
}

grpc::ServerUnaryReactor* IdemService::Insert(
    grpc::CallbackServerContext* context, const v1::InsertRequest* request,
    v1::InsertResponse* response) {
  return Dispatch<v1::InsertResponse>(
      context, *request, response,
      [this, request] { return ops::RunInsert(ops_, *request); });
}

grpc::ServerUnaryReactor* IdemService::Update(
    grpc::CallbackServerContext* context, const v1::UpdateRequest* request,
    v1::UpdateResponse* response) {
  return Dispatch<v1::UpdateResponse>(
      context, *request, response,
      [this, request] { return ops::RunUpdate(ops_, *request); });
}

grpc::ServerUnaryReactor* IdemService::CopyFile(
    grpc::CallbackServerContext* context, const v1::CopyFileRequest* request,
    v1::CopyFileResponse* response) {
  return Dispatch<v1::CopyFileResponse>(
      context, *request, response,
      []() -> absl::StatusOr<v1::CopyFileResponse> {
        return absl::UnimplementedError("CopyFile is not available yet");
      });
}

grpc::ServerUnaryReactor* IdemService::KeyedCall(
    grpc::CallbackServerContext* context, const v1::KeyedCallRequest* request,
    v1::KeyedCallResponse* response) {
  return Dispatch<v1::KeyedCallResponse>(
      context, *request, response,
      []() -> absl::StatusOr<v1::KeyedCallResponse> {
        return absl::UnimplementedError("KeyedCall is not available yet");
      });
}

}  // namespace idem::api
