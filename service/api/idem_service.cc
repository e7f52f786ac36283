#include "service/api/idem_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/api/grpc_status.h"
#include "service/api/request_log.h"
#include "service/common/retry_delay.h"
#include "service/db/catalog.h"
#include "service/ops/copy_file_op.h"
#include "service/ops/insert_op.h"
#include "service/ops/keyed_call_op.h"
#include "service/ops/update_op.h"

namespace idem::api {
namespace {

// Moves an operation's result into the response; the status is the call's.
template <typename Response>
absl::Status Into(absl::StatusOr<Response> result, Response* response) {
  if (result.ok()) *response = *std::move(result);
  return result.status();
}

// The operation and table a KeyedCall wraps: permissions are those of the
// wrapped call.
auth::Operation WrappedOperation(const v1::KeyedCallRequest& request) {
  if (request.has_update()) return auth::Operation::kUpdate;
  if (request.has_copy_file()) return auth::Operation::kCopyFile;
  return auth::Operation::kInsert;
}

std::string WrappedTable(const v1::KeyedCallRequest& request) {
  if (request.has_insert()) return request.insert().table();
  if (request.has_update()) return request.update().table();
  return "";
}

}  // namespace

IdemService::IdemService(ops::OpsContext& ops, WorkerPool& workers,
                         const auth::Authenticator& authenticator,
                         TenantLimiter& limiter,
                         observability::Metrics& metrics,
                         size_t max_message_bytes, bool log_every_request)
    : ops_(ops),
      workers_(workers),
      authenticator_(authenticator),
      limiter_(limiter),
      metrics_(metrics),
      max_message_bytes_(max_message_bytes),
      log_every_request_(log_every_request) {}

absl::Status IdemService::Authorize(const auth::Caller& caller,
                                    const CallInfo& info) {
  if (!caller.Allows(info.operation)) {
    return absl::PermissionDeniedError(
        absl::StrCat("tenant \"", caller.tenant, "\" may not call ",
                     auth::OperationName(info.operation)));
  }
  if (info.table.empty() || caller.all_tables) return absl::OkStatus();
  // Permissions name tables as the catalog does; an unknown table is left
  // for the operation to refuse with its own status.
  absl::StatusOr<std::shared_ptr<const db::Table>> table =
      ops_.catalog->Find(info.table);
  if (table.ok() && !caller.AllowsTable((*table)->name)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tenant \"", caller.tenant, "\" may not use table ", (*table)->name));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* IdemService::Dispatch(
    grpc::CallbackServerContext* context,
    const google::protobuf::Message& request, CallInfo info,
    Operation operation, AnswerNow answer_now) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto record = std::make_shared<RequestRecord>(info.method, *context, metrics_,
                                                log_every_request_);
  // The caller's slot in the tenant limiter, freed before the answer leaves
  // so that a caller holding its answer may call again at once.
  auto slot = std::make_shared<std::unique_ptr<TenantLimiter::Permit>>();
  auto finish = [context, reactor, record, slot](const absl::Status& status) {
    slot->reset();
    record->Finish(status);
    reactor->Finish(ToGrpcStatus(status, *context));
  };

  absl::StatusOr<auth::Caller> caller = authenticator_.Authenticate(*context);
  if (!caller.ok()) {
    finish(caller.status());
    return reactor;
  }
  record->set_tenant(caller->tenant);
  if (request.ByteSizeLong() > max_message_bytes_) {
    finish(absl::InvalidArgumentError(
        absl::StrCat("request of ", request.ByteSizeLong(),
                     " bytes exceeds the limit of ", max_message_bytes_)));
    return reactor;
  }
  absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> permit =
      limiter_.Acquire(caller->tenant);
  if (!permit.ok()) {
    finish(permit.status());
    return reactor;
  }
  *slot = *std::move(permit);
  Done done = [record, finish](const absl::Status& status, bool replayed) {
    record->set_replayed(replayed);
    finish(status);
  };
  // `answer_now` is tried once: here when the caller's permissions need no
  // catalog lookup (which may read the database), else on the worker once
  // they are checked.
  const bool authorized_here = caller->Allows(info.operation) &&
                               (info.table.empty() || caller->all_tables);
  if (answer_now && authorized_here && answer_now(*caller, *context, done)) {
    return reactor;
  }
  if (authorized_here) answer_now = nullptr;
  bool queued =
      workers_.Submit([this, context, finish, done, caller = *std::move(caller),
                       info = std::move(info), operation = std::move(operation),
                       answer_now = std::move(answer_now)] {
        absl::Status allowed = Authorize(caller, info);
        if (!allowed.ok()) {
          finish(allowed);
          return;
        }
        if (answer_now && answer_now(caller, *context, done)) return;
        operation(caller, *context, done);
      });
  if (!queued) {
    finish(WithRetryDelay(absl::ResourceExhaustedError(
                              "server overloaded; retry after the delay"),
                          absl::Milliseconds(200)));
  }
  return reactor;
}

grpc::ServerUnaryReactor* IdemService::Insert(
    grpc::CallbackServerContext* context, const v1::InsertRequest* request,
    v1::InsertResponse* response) {
  return Dispatch(
      context, *request, {"Insert", auth::Operation::kInsert, request->table()},
      [=](const auth::Caller& caller, grpc::CallbackServerContext&, Done done) {
        ops::RunInsert(ops_, caller.tenant, *request,
                       [=, tenant = caller.tenant](
                           absl::StatusOr<v1::InsertResponse> result) {
                         absl::Status status =
                             Into(std::move(result), response);
                         metrics_.RecordRowConflicts(
                             tenant, response->conflicts(), response->stale());
                         done(status, false);
                       });
      });
}

grpc::ServerUnaryReactor* IdemService::Update(
    grpc::CallbackServerContext* context, const v1::UpdateRequest* request,
    v1::UpdateResponse* response) {
  return Dispatch(
      context, *request, {"Update", auth::Operation::kUpdate, request->table()},
      [=](const auth::Caller&, grpc::CallbackServerContext&, Done done) {
        done(Into(ops::RunUpdate(ops_, *request), response), false);
      });
}

grpc::ServerUnaryReactor* IdemService::CopyFile(
    grpc::CallbackServerContext* context, const v1::CopyFileRequest* request,
    v1::CopyFileResponse* response) {
  return Dispatch(
      context, *request, {"CopyFile", auth::Operation::kCopyFile, ""},
      [=](const auth::Caller&, grpc::CallbackServerContext&, Done done) {
        done(Into(ops::RunCopyFile(ops_, *request), response), false);
      });
}

void IdemService::FinishKeyedCall(const std::string& tenant,
                                  grpc::CallbackServerContext& call,
                                  v1::KeyedCallResponse* response,
                                  ops::KeyedOutcome outcome, const Done& done) {
  if (outcome.key_mismatch) metrics_.RecordKeyMismatch(tenant);
  if (!outcome.replayed && outcome.response.has_insert()) {
    metrics_.RecordRowConflicts(tenant, outcome.response.insert().conflicts(),
                                outcome.response.insert().stale());
  }
  if (outcome.replayed) {
    call.AddTrailingMetadata("idempotent-replayed", "true");
  }
  if (outcome.status.ok()) *response = std::move(outcome.response);
  done(outcome.status, outcome.replayed);
}

grpc::ServerUnaryReactor* IdemService::KeyedCall(
    grpc::CallbackServerContext* context, const v1::KeyedCallRequest* request,
    v1::KeyedCallResponse* response) {
  return Dispatch(
      context, *request,
      {"KeyedCall", WrappedOperation(*request), WrappedTable(*request)},
      [=](const auth::Caller& caller, grpc::CallbackServerContext& call,
          Done done) {
        if (!caller.Allows(auth::Operation::kKeyedCall)) {
          return done(
              absl::PermissionDeniedError(absl::StrCat(
                  "tenant \"", caller.tenant, "\" may not call keyed_call")),
              false);
        }
        ops::RunKeyedCall(
            ops_, caller.tenant, *request,
            [=, &call, tenant = caller.tenant](ops::KeyedOutcome outcome) {
              FinishKeyedCall(tenant, call, response, std::move(outcome), done);
            });
      },
      [=](const auth::Caller& caller, grpc::CallbackServerContext& call,
          const Done& done) {
        if (!caller.Allows(auth::Operation::kKeyedCall)) return false;
        std::optional<ops::KeyedOutcome> remembered =
            ops::AnswerFromMemory(ops_, caller.tenant, *request);
        if (!remembered.has_value()) return false;
        FinishKeyedCall(caller.tenant, call, response, *std::move(remembered),
                        done);
        return true;
      });
}

}  // namespace idem::api
