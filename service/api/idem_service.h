#ifndef IDEM_SERVICE_API_IDEM_SERVICE_H_
#define IDEM_SERVICE_API_IDEM_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "idem/v1/idem.grpc.pb.h"
#include "service/api/admission.h"
#include "service/api/request_log.h"
#include "service/api/tenant_limiter.h"
#include "service/api/typed_rpc.h"
#include "service/api/worker_pool.h"
#include "service/auth/authenticator.h"
#include "service/keys/answer.h"
#include "service/observability/metrics.h"
#include "service/ops/group_commit.h"
#include "service/ops/ops_context.h"
#include "service/ops/runs_on.h"

namespace idem::api {

// Where every request enters: the five RPCs on gRPC's callback API. A
// handler authenticates and checks what needs no I/O, then hands the
// operation to the worker pool and returns at once; the worker authorizes
// the table and runs the operation, which finishes the call itself or, for
// Insert and KeyedCall writes, hands it to the group committer, whose
// thread finishes it after the batch's commit. A Batch runs each of its
// calls the same way and answers when the last one has finished.
//
// Every method takes its request as raw bytes and parses it itself
// (typed_rpc.h), so that a request that does not parse is refused as a
// malformed request, not as an unknown method.
class IdemService final
    : public v1::IdemService::WithRawCallbackMethod_Insert<
          v1::IdemService::WithRawCallbackMethod_Update<
              v1::IdemService::WithRawCallbackMethod_CopyFile<
                  v1::IdemService::WithRawCallbackMethod_KeyedCall<
                      v1::IdemService::WithRawCallbackMethod_Batch<
                          v1::IdemService::WithRawCallbackMethod_GetKey<
                              v1::IdemService::WithRawCallbackMethod_ForgetKey<
                                  v1::IdemService::Service>>>>>>> {
 public:
  IdemService(ops::OpsContext& ops, WorkerPool& workers,
              const Admission& admission, observability::Metrics& metrics,
              bool log_every_request);

  grpc::ServerUnaryReactor* Insert(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* wire_request,
                                   grpc::ByteBuffer* wire_response) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* wire_request,
                                   grpc::ByteBuffer* wire_response) override;
  grpc::ServerUnaryReactor* CopyFile(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* wire_request,
                                     grpc::ByteBuffer* wire_response) override;
  grpc::ServerUnaryReactor* KeyedCall(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* wire_request,
                                      grpc::ByteBuffer* wire_response) override;
  grpc::ServerUnaryReactor* Batch(grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* wire_request,
                                  grpc::ByteBuffer* wire_response) override;
  grpc::ServerUnaryReactor* GetKey(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* wire_request,
                                   grpc::ByteBuffer* wire_response) override;
  grpc::ServerUnaryReactor* ForgetKey(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* wire_request,
                                      grpc::ByteBuffer* wire_response) override;

  // The most calls one Batch may hold.
  static constexpr int kMaxBatchCalls = 1000;

 private:
  // What a call asks to do, for authorization and the request log: one
  // access, or one per step of a transaction, and the key it is under.
  struct CallInfo {
    const char* method;
    std::vector<Access> accesses;
    const std::string* idempotency_key = nullptr;
  };
  // Ends a call with its status; `replayed` marks an answer from the key
  // store. May run on a gRPC, worker or group-commit thread.
  using Done = std::function<void(const absl::Status&, bool replayed)>;
  // The operation proper: fills the response, then calls `done` once (it
  // may hand the work on and return first), and is true. A write joins
  // `writes`, which the caller hands to the group committer with the other
  // calls' writes. On the receiving thread it may decline a call that would
  // wait on I/O: false, without calling `done`, and the call goes to a
  // worker, where it runs whole.
  using Operation =
      std::function<bool(const auth::Caller&, const Done& done,
                         ops::PendingWrites& writes, ops::RunsOn runs_on)>;
  // Ends the call at once, on the gRPC thread, when that needs no I/O and
  // no worker (a replay from memory): true when it called `done`.
  using AnswerNow = std::function<bool(const auth::Caller&, const Done&)>;
  // One call as the server runs it, alone or in a batch.
  struct Call {
    CallInfo info;
    Operation operation;
    AnswerNow answer_now = nullptr;
    Done done = nullptr;  // set when the call is admitted
  };

  // An operation that always waits on I/O: it declines the receiving
  // thread and runs on a worker.
  static Operation OnWorker(
      std::function<void(const auth::Caller&, const Done&)> run);
  Call MakeInsert(const v1::InsertRequest& request,
                  v1::InsertResponse* response);
  Call MakeKeyedCall(const v1::KeyedCallRequest& request,
                     v1::KeyedCallResponse* response);

  // The caller of `context`, when it is authenticated; sets the record's
  // tenant.
  absl::StatusOr<auth::Caller> Authenticate(
      grpc::CallbackServerContext& context, RequestRecord& record);
  // `answer` wrapped with what ends every admitted call: its tenant slot
  // freed and its record finished.
  static Done Admitted(std::shared_ptr<RequestRecord> record,
                       std::unique_ptr<TenantLimiter::Permit> permit,
                       Done answer);
  // Runs a lone call: admits it, takes its tenant slot, starts it.
  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* context,
                                     Rpc* rpc,
                                     const google::protobuf::Message& request,
                                     Call call);
  // Ends an RPC whose request did not parse: REQUEST_INVALID, CANCELLED
  // when no request arrived, or the caller's authentication failure first.
  grpc::ServerUnaryReactor* RefuseMalformed(
      const char* method, grpc::CallbackServerContext* context, Rpc* rpc);
  // Starts admitted calls. When the caller's permissions need no catalog
  // lookup, each `answer_now` is tried here on the gRPC thread, and a lone
  // call's operation too; else both are tried on the worker. The calls they
  // decline run on one worker, in order, unless the RPC of `context` was
  // cancelled meanwhile. `context` must outlive the calls' answers.
  void Start(const grpc::CallbackServerContext& context, auth::Caller caller,
             std::vector<Call> calls);
  // Ends a KeyedCall with `outcome`: metrics, response, `done`.
  void FinishKeyedCall(const std::string& tenant,
                       v1::KeyedCallResponse* response, keys::Answer outcome,
                       const Done& done);

  ops::OpsContext& ops_;
  WorkerPool& workers_;
  const Admission& admission_;
  observability::Metrics& metrics_;
  const bool log_every_request_;
};

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_IDEM_SERVICE_H_
