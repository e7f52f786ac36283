#include "service/api/idem_service.h"

#include "absl/strings/str_cat.h"
#include "service/api/grpc_status.h"
#include "service/common/retry_delay.h"
#include "service/ops/copy_file_op.h"
#include "service/ops/insert_op.h"
#include "service/ops/keyed_call_op.h"
#include "service/ops/update_op.h"

namespace idem::api {

IdemService::IdemService(ops::OpsContext& ops, WorkerPool& workers,
                         size_t max_message_bytes)
    : ops_(ops), workers_(workers), max_message_bytes_(max_message_bytes) {}

namespace {

// Moves an operation's result into the response; the status is the call's.
template <typename Response>
absl::Status Into(absl::StatusOr<Response> result, Response* response) {
  if (result.ok()) *response = *std::move(result);
  return result.status();
}

}  // namespace

grpc::ServerUnaryReactor* IdemService::Dispatch(
    grpc::CallbackServerContext* context,
    const google::protobuf::Message& request,
    IdemService::Operation operation) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (request.ByteSizeLong() > max_message_bytes_) {
    reactor->Finish(
        ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
                         "request of ", request.ByteSizeLong(),
                         " bytes exceeds the limit of ", max_message_bytes_)),
                     *context));
    return reactor;
  }
  bool queued =
      workers_.Submit([context, reactor, operation = std::move(operation)] {
        absl::Status status = operation(*context);
        reactor->Finish(ToGrpcStatus(status, *context));
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
  return Dispatch(context, *request, [=](grpc::CallbackServerContext&) {
    return Into(ops::RunInsert(ops_, *request), response);
  });
}

grpc::ServerUnaryReactor* IdemService::Update(
    grpc::CallbackServerContext* context, const v1::UpdateRequest* request,
    v1::UpdateResponse* response) {
  return Dispatch(context, *request, [=](grpc::CallbackServerContext&) {
    return Into(ops::RunUpdate(ops_, *request), response);
  });
}

grpc::ServerUnaryReactor* IdemService::CopyFile(
    grpc::CallbackServerContext* context, const v1::CopyFileRequest* request,
    v1::CopyFileResponse* response) {
  return Dispatch(context, *request, [=](grpc::CallbackServerContext&) {
    return Into(ops::RunCopyFile(ops_, *request), response);
  });
}

grpc::ServerUnaryReactor* IdemService::KeyedCall(
    grpc::CallbackServerContext* context, const v1::KeyedCallRequest* request,
    v1::KeyedCallResponse* response) {
  return Dispatch(context, *request, [=](grpc::CallbackServerContext& call) {
    ops::KeyedOutcome outcome =
        ops::RunKeyedCall(ops_, kDefaultTenant, *request);
    if (outcome.replayed) {
      call.AddTrailingMetadata("idempotent-replayed", "true");
    }
    if (outcome.status.ok()) *response = std::move(outcome.response);
    return outcome.status;
  });
}

}  // namespace idem::api
