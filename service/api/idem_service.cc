#include "service/api/idem_service.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "idem/v1/wire_names.h"
#include "service/api/answer_at.h"
#include "service/api/batch_calls.h"
#include "service/api/grpc_status.h"
#include "service/api/request_log.h"
#include "service/common/error_reason.h"
#include "service/common/refusals.h"
#include "service/ops/copy_file_op.h"
#include "service/ops/group_commit.h"
#include "service/ops/insert_op.h"
#include "service/ops/key_management_op.h"
#include "service/ops/keyed_call_op.h"
#include "service/ops/requested_table.h"
#include "service/ops/update_op.h"

namespace idem::api {
namespace {

// Moves an operation's result into the response; the status is the call's.
template <typename Response>
absl::Status Into(absl::StatusOr<Response> result, Response* response) {
  if (result.ok()) *response = *std::move(result);
  return result.status();
}

// The accesses of the call a KeyedCall wraps: every step of a transaction.
std::vector<Access> WrappedAccesses(const v1::KeyedCallRequest& request) {
  switch (request.call_case()) {
    case v1::KeyedCallRequest::kUpdate:
      return {{auth::Operation::kUpdate, request.update().table()}};
    case v1::KeyedCallRequest::kCopyFile:
      return {{auth::Operation::kCopyFile, ""}};
    case v1::KeyedCallRequest::kTransaction: {
      std::vector<Access> accesses;
      for (const v1::Step& step : request.transaction().steps()) {
        if (step.has_update()) {
          accesses.push_back({auth::Operation::kUpdate, step.update().table()});
        } else {
          accesses.push_back({auth::Operation::kInsert, step.insert().table()});
        }
      }
      return accesses;
    }
    default:
      return {{auth::Operation::kInsert, request.insert().table()}};
  }
}

// A KeyedCall needs the wrapped call's permissions, then keyed_call.
std::vector<Access> KeyedCallAccesses(const v1::KeyedCallRequest& request) {
  std::vector<Access> accesses = WrappedAccesses(request);
  accesses.push_back({auth::Operation::kKeyedCall, ""});
  return accesses;
}

}  // namespace

IdemService::IdemService(ops::OpsContext& ops, WorkerPool& workers,
                         const Admission& admission,
                         observability::Metrics& metrics,
                         bool log_every_request)
    : ops_(ops),
      workers_(workers),
      admission_(admission),
      metrics_(metrics),
      log_every_request_(log_every_request) {}

absl::StatusOr<auth::Caller> IdemService::Authenticate(
    grpc::CallbackServerContext& context, RequestRecord& record) {
  absl::StatusOr<auth::Caller> caller = admission_.Authenticate(context);
  if (caller.ok()) record.set_tenant(caller->tenant);
  return caller;
}

IdemService::Done IdemService::Admitted(
    std::shared_ptr<RequestRecord> record,
    std::unique_ptr<TenantLimiter::Permit> permit, Done answer) {
  // The caller's slot in the tenant limiter is freed before the answer
  // leaves, so that a caller holding its answer may call again at once.
  auto slot = std::make_shared<std::unique_ptr<TenantLimiter::Permit>>(
      std::move(permit));
  return [record = std::move(record), slot, answer = std::move(answer)](
             const absl::Status& status, bool replayed) {
    slot->reset();
    record->set_replayed(replayed);
    record->Finish(status);
    answer(status, replayed);
  };
}

grpc::ServerUnaryReactor* IdemService::Dispatch(
    grpc::CallbackServerContext* context, Rpc* rpc,
    const google::protobuf::Message& request, Call call) {
  auto record = std::make_shared<RequestRecord>(call.info.method, *context,
                                                metrics_, log_every_request_);
  if (call.info.idempotency_key != nullptr) {
    record->set_idempotency_key(*call.info.idempotency_key);
  }
  const db::Catalog& catalog = *ops_.catalog;
  auto refuse = [&](const absl::Status& status) {
    record->Finish(status);
    rpc->Send(ToGrpcStatus(ops::WithTableAsRequested(status, request, catalog),
                           *context));
    return rpc;
  };
  absl::StatusOr<auth::Caller> caller = Authenticate(*context, *record);
  if (!caller.ok()) return refuse(caller.status());
  absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> permit =
      admission_.Admit(*caller, request);
  if (!permit.ok()) return refuse(permit.status());
  call.done = Admitted(
      std::move(record), *std::move(permit),
      [context, rpc, request = &request, catalog = &catalog](
          const absl::Status& status, bool replayed) {
        if (replayed) {
          context->AddTrailingMetadata(v1::wire::kReplayedTrailer, "true");
        }
        rpc->Send(ToGrpcStatus(
            ops::WithTableAsRequested(status, *request, *catalog), *context));
      });
  std::vector<Call> calls;
  calls.push_back(std::move(call));
  Start(*context, *std::move(caller), std::move(calls));
  return rpc;
}

grpc::ServerUnaryReactor* IdemService::RefuseMalformed(
    const char* method, grpc::CallbackServerContext* context, Rpc* rpc) {
  RequestRecord record(method, *context, metrics_, log_every_request_);
  absl::StatusOr<auth::Caller> caller = Authenticate(*context, record);
  absl::Status refused;
  if (!caller.ok()) {
    refused = caller.status();
  } else if (!rpc->request_arrived()) {
    // Most often a call that the transport reset under its quota: logged
    // as what it is, not as a client that sends garbage.
    refused = absl::CancelledError(
        "the call ended before its request arrived whole (cancelled, reset "
        "by the server's transport, or its connection lost), or it was "
        "sent without one");
  } else {
    refused = Error(Reason::kRequestInvalid,
                    absl::StrCat("the request is not a valid idem.v1 ", method,
                                 " request: it does not parse (a string field "
                                 "that is not UTF-8, or bytes that are no "
                                 "protobuf message)"));
  }
  record.Finish(refused);
  rpc->Send(ToGrpcStatus(refused, *context));
  return rpc;
}

IdemService::Operation IdemService::OnWorker(
    std::function<void(const auth::Caller&, const Done&)> run) {
  return [run = std::move(run)](const auth::Caller& caller, const Done& done,
                                ops::PendingWrites&, ops::RunsOn runs_on) {
    if (runs_on == ops::RunsOn::kReceivingThread) return false;
    run(caller, done);
    return true;
  };
}

void IdemService::Start(const grpc::CallbackServerContext& context,
                        auth::Caller caller, std::vector<Call> calls) {
  // A call whose permissions need no catalog lookup (which may read the
  // database) may run right here, as far as that needs no I/O: a replay
  // from memory, or a lone call's write prepared for the group committer
  // (no hand-off to a worker). The calls of a Batch RPC that holds more
  // than one are prepared on a worker, so that a large batch does not hold
  // this thread.
  const bool lone = calls.size() == 1;
  // The caller gave up while its calls waited (its deadline passed, it went
  // away, or the server's shutdown grace ran out) and was answered: what
  // has not run yet must not, so that no effect lands after that answer.
  // The deadline is checked too: gRPC marks the call cancelled only once
  // one of its threads has handled the deadline's timer.
  auto caller_gone = [&context] {
    return context.IsCancelled() ||
           context.deadline() <= std::chrono::system_clock::now();
  };
  ops::PendingWrites prepared_here(caller_gone);
  std::vector<Call> for_worker;
  for (Call& call : calls) {
    if (Admission::AllowedWithoutCatalog(caller, call.info.accesses)) {
      if (call.answer_now && call.answer_now(caller, call.done)) continue;
      call.answer_now = nullptr;
      if (lone && call.operation(caller, call.done, prepared_here,
                                 ops::RunsOn::kReceivingThread)) {
        continue;
      }
    }
    for_worker.push_back(std::move(call));
  }
  if (!prepared_here.empty()) {
    ops_.committer->SubmitAll(std::move(prepared_here),
                              ops::RunsOn::kReceivingThread);
  }
  if (for_worker.empty()) return;
  auto work = std::make_shared<std::vector<Call>>(std::move(for_worker));
  const std::string tenant = caller.tenant;
  bool queued = workers_.Submit(tenant, [this, caller_gone,
                                         caller = std::move(caller), work] {
    if (caller_gone()) {
      const absl::Status cancelled = absl::CancelledError(
          "the call was cancelled before it ran; nothing was done");
      for (Call& call : *work) call.done(cancelled, false);
      return;
    }
    // The writes among them reach the group committer together.
    ops::PendingWrites writes(caller_gone);
    for (Call& call : *work) {
      absl::Status allowed = admission_.Authorize(caller, call.info.accesses);
      if (!allowed.ok()) {
        call.done(allowed, false);
      } else if (!call.answer_now || !call.answer_now(caller, call.done)) {
        call.operation(caller, call.done, writes, ops::RunsOn::kWorker);
      }
    }
    if (!writes.empty()) {
      ops_.committer->SubmitAll(std::move(writes), ops::RunsOn::kWorker);
    }
  });
  if (!queued) {
    const absl::Status overloaded = Overloaded();
    for (Call& call : *work) call.done(overloaded, false);
  }
}

IdemService::Call IdemService::MakeInsert(const v1::InsertRequest& request,
                                          v1::InsertResponse* response) {
  return {{"Insert", {{auth::Operation::kInsert, request.table()}}},
          [this, &request, response](
              const auth::Caller& caller, const Done& done,
              ops::PendingWrites& writes, ops::RunsOn runs_on) {
            return ops::RunInsert(
                ops_, caller.tenant, request,
                [this, response, done, tenant = caller.tenant](
                    absl::StatusOr<v1::InsertResponse> result) {
                  absl::Status status = Into(std::move(result), response);
                  metrics_.RecordRowConflicts(tenant, response->conflicts(),
                                              response->stale());
                  done(status, false);
                },
                writes, runs_on);
          }};
}

IdemService::Call IdemService::MakeKeyedCall(
    const v1::KeyedCallRequest& request, v1::KeyedCallResponse* response) {
  return {
      {"KeyedCall", KeyedCallAccesses(request), &request.idempotency_key()},
      [this, &request, response](const auth::Caller& caller, const Done& done,
                                 ops::PendingWrites& writes,
                                 ops::RunsOn runs_on) {
        return ops::RunKeyedCall(
            ops_, caller.tenant, request,
            [this, response, done,
             tenant = caller.tenant](keys::Answer outcome) {
              FinishKeyedCall(tenant, response, std::move(outcome), done);
            },
            writes, runs_on);
      },
      [this, &request, response](const auth::Caller& caller, const Done& done) {
        std::optional<keys::Answer> remembered =
            ops::AnswerFromMemory(ops_, caller.tenant, request);
        if (!remembered.has_value()) return false;
        FinishKeyedCall(caller.tenant, response, *std::move(remembered), done);
        return true;
      }};
}

grpc::ServerUnaryReactor* IdemService::Insert(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* wire_request,
    grpc::ByteBuffer* wire_response) {
  auto* rpc = new TypedRpc<v1::InsertRequest, v1::InsertResponse>(
      wire_response, admission_.limiter());
  if (!rpc->Parse(*wire_request))
    return RefuseMalformed("Insert", context, rpc);
  return Dispatch(context, rpc, rpc->request(),
                  MakeInsert(rpc->request(), rpc->response()));
}

grpc::ServerUnaryReactor* IdemService::Update(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* wire_request,
    grpc::ByteBuffer* wire_response) {
  auto* rpc = new TypedRpc<v1::UpdateRequest, v1::UpdateResponse>(
      wire_response, admission_.limiter());
  if (!rpc->Parse(*wire_request))
    return RefuseMalformed("Update", context, rpc);
  const v1::UpdateRequest* request = &rpc->request();
  v1::UpdateResponse* response = rpc->response();
  return Dispatch(
      context, rpc, *request,
      {{"Update", {{auth::Operation::kUpdate, request->table()}}},
       OnWorker(
           [this, request, response](const auth::Caller&, const Done& done) {
             done(Into(ops::RunUpdate(ops_, *request), response), false);
           })});
}

grpc::ServerUnaryReactor* IdemService::GetKey(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* wire_request,
    grpc::ByteBuffer* wire_response) {
  auto* rpc = new TypedRpc<v1::GetKeyRequest, v1::GetKeyResponse>(
      wire_response, admission_.limiter());
  if (!rpc->Parse(*wire_request))
    return RefuseMalformed("GetKey", context, rpc);
  const v1::GetKeyRequest* request = &rpc->request();
  v1::GetKeyResponse* response = rpc->response();
  return Dispatch(context, rpc, *request,
                  {{"GetKey",
                    {{auth::Operation::kReadKeys, ""}},
                    &request->idempotency_key()},
                   OnWorker([this, request, response](
                                const auth::Caller& caller, const Done& done) {
                     absl::StatusOr<ops::KeyView> view =
                         ops::RunGetKey(ops_, caller.tenant, *request);
                     if (view.ok()) {
                       *response = std::move(view->response);
                       if (!view->failure.ok()) {
                         *response->mutable_failure() =
                             RichStatus(view->failure);
                       }
                     }
                     done(view.status(), false);
                   })});
}

grpc::ServerUnaryReactor* IdemService::ForgetKey(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* wire_request,
    grpc::ByteBuffer* wire_response) {
  auto* rpc = new TypedRpc<v1::ForgetKeyRequest, v1::ForgetKeyResponse>(
      wire_response, admission_.limiter());
  if (!rpc->Parse(*wire_request)) {
    return RefuseMalformed("ForgetKey", context, rpc);
  }
  const v1::ForgetKeyRequest* request = &rpc->request();
  v1::ForgetKeyResponse* response = rpc->response();
  return Dispatch(context, rpc, *request,
                  {{"ForgetKey",
                    {{auth::Operation::kForgetKeys, ""}},
                    &request->idempotency_key()},
                   OnWorker([this, request, response](
                                const auth::Caller& caller, const Done& done) {
                     absl::StatusOr<ops::ForgetKeyAnswer> answer =
                         ops::RunForgetKey(ops_, caller.tenant, *request);
                     if (!answer.ok()) {
                       done(answer.status(), false);
                       return;
                     }
                     *response = std::move(answer->response);
                     AnswerAt(answer->answer_at,
                              [done] { done(absl::OkStatus(), false); });
                   })});
}

grpc::ServerUnaryReactor* IdemService::CopyFile(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* wire_request,
    grpc::ByteBuffer* wire_response) {
  auto* rpc = new TypedRpc<v1::CopyFileRequest, v1::CopyFileResponse>(
      wire_response, admission_.limiter());
  if (!rpc->Parse(*wire_request)) {
    return RefuseMalformed("CopyFile", context, rpc);
  }
  const v1::CopyFileRequest* request = &rpc->request();
  v1::CopyFileResponse* response = rpc->response();
  return Dispatch(
      context, rpc, *request,
      {{"CopyFile", {{auth::Operation::kCopyFile, ""}}},
       OnWorker(
           [this, request, response](const auth::Caller&, const Done& done) {
             done(Into(ops::RunCopyFile(ops_, *request), response), false);
           })});
}

void IdemService::FinishKeyedCall(const std::string& tenant,
                                  v1::KeyedCallResponse* response,
                                  keys::Answer outcome, const Done& done) {
  if (outcome.key_mismatch) metrics_.RecordKeyMismatch(tenant);
  if (outcome.response.answer_expired()) metrics_.RecordTombstoneHit(tenant);
  if (!outcome.replayed) {
    auto record = [&](const v1::InsertResponse& insert) {
      metrics_.RecordRowConflicts(tenant, insert.conflicts(), insert.stale());
    };
    if (outcome.response.has_insert()) record(outcome.response.insert());
    for (const v1::StepResult& step :
         outcome.response.transaction().results()) {
      if (step.has_insert()) record(step.insert());
    }
  }
  if (outcome.status.ok()) *response = std::move(outcome.response);
  done(outcome.status, outcome.replayed);
}

grpc::ServerUnaryReactor* IdemService::KeyedCall(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* wire_request,
    grpc::ByteBuffer* wire_response) {
  auto* rpc = new TypedRpc<v1::KeyedCallRequest, v1::KeyedCallResponse>(
      wire_response, admission_.limiter());
  if (!rpc->Parse(*wire_request)) {
    return RefuseMalformed("KeyedCall", context, rpc);
  }
  return Dispatch(context, rpc, rpc->request(),
                  MakeKeyedCall(rpc->request(), rpc->response()));
}

grpc::ServerUnaryReactor* IdemService::Batch(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* wire_request,
    grpc::ByteBuffer* wire_response) {
  auto* rpc = new TypedRpc<v1::BatchRequest, v1::BatchResponse>(
      wire_response, admission_.limiter());
  std::vector<bool> malformed;  // calls refused alone: they do not parse
  if (!rpc->Parse(*wire_request) &&
      !ParseBatchCallByCall(*wire_request, *rpc->mutable_request(),
                            malformed)) {
    return RefuseMalformed("Batch", context, rpc);
  }
  const v1::BatchRequest* request = &rpc->request();
  v1::BatchResponse* response = rpc->response();
  auto record = std::make_shared<RequestRecord>("Batch", *context, metrics_,
                                                log_every_request_);
  auto finish = [context, rpc, record](const absl::Status& status) {
    record->Finish(status);
    rpc->Send(ToGrpcStatus(status, *context));
  };
  absl::StatusOr<auth::Caller> caller = Authenticate(*context, *record);
  if (!caller.ok()) {
    finish(caller.status());
    return rpc;
  }
  const int size = request->calls_size();
  if (size > kMaxBatchCalls) {
    finish(Error(Reason::kLimitExceeded,
                 absl::StrCat("a batch of ", size, " calls; at most ",
                              kMaxBatchCalls, " allowed")));
    return rpc;
  }
  if (size == 0) {
    finish(absl::OkStatus());
    return rpc;
  }
  // Results are added up front: calls finish on several threads, each into
  // its own result, and the batch answers when the last one has.
  for (int i = 0; i < size; ++i) response->add_results();
  auto unfinished = std::make_shared<std::atomic<int>>(size);
  std::vector<Call> calls;
  for (int i = 0; i < size; ++i) {
    const v1::BatchCall& item = request->calls(i);
    v1::BatchResult* result = response->mutable_results(i);
    Done answer = [result, unfinished, finish, item = &item,
                   catalog = ops_.catalog](const absl::Status& status,
                                           bool replayed) {
      ToBatchResult(ops::WithTableAsRequested(status, *item, *catalog),
                    replayed, *result);
      if (unfinished->fetch_sub(1, std::memory_order_acq_rel) == 1) {
        finish(absl::OkStatus());
      }
    };
    // A call of a batch is counted and logged as the call it holds, with
    // the batch's tenant, whether it runs or is refused here.
    auto call_record =
        std::make_shared<RequestRecord>(item.has_keyed_call() ? "KeyedCall"
                                        : item.has_insert()   ? "Insert"
                                                              : "BatchCall",
                                        *context, metrics_, log_every_request_);
    call_record->set_tenant(caller->tenant);
    if (item.has_keyed_call()) {
      call_record->set_idempotency_key(item.keyed_call().idempotency_key());
    }
    // Each call is held to the size limit as if sent alone; the batch as
    // a whole is bounded by gRPC's receive limit (twice this one).
    absl::Status refused =
        i < static_cast<int>(malformed.size()) && malformed[i]
            ? Error(Reason::kRequestInvalid,
                    "this call of the batch does not parse (a string field "
                    "that is not UTF-8?)")
        : item.call_case() == v1::BatchCall::CALL_NOT_SET
            ? Error(Reason::kRequestInvalid,
                    "a batch call must hold an insert or a keyed_call")
            : absl::OkStatus();
    std::unique_ptr<TenantLimiter::Permit> permit;
    if (refused.ok()) {
      absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> admitted =
          admission_.Admit(*caller, item);
      if (admitted.ok()) permit = *std::move(admitted);
      refused = admitted.status();
    }
    if (!refused.ok()) {
      call_record->Finish(refused);
      answer(refused, false);
      continue;
    }
    Call call =
        item.has_keyed_call()
            ? MakeKeyedCall(item.keyed_call(), result->mutable_keyed_call())
            : MakeInsert(item.insert(), result->mutable_insert());
    call.done =
        Admitted(std::move(call_record), std::move(permit), std::move(answer));
    calls.push_back(std::move(call));
  }
  Start(*context, *std::move(caller), std::move(calls));
  return rpc;
}

}  // namespace idem::api
