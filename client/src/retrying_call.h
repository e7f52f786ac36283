#ifndef IDEM_CLIENT_SRC_RETRYING_CALL_H_
#define IDEM_CLIENT_SRC_RETRYING_CALL_H_

#include <grpcpp/client_context.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "attempt_metadata.h"
#include "call_batcher.h"
#include "client_core.h"
#include "idem/client.h"
#include "retry_decision.h"

namespace idem::internal {

using AsyncStub = v1::IdemService::StubInterface::async_interface;

// Whether a repeat of the request after an attempt that may have run is
// safe and answers as that attempt would have (RetryContext): a KeyedCall
// replays its first answer, GetKey reads. A write sent without a key may
// not: a repeat of an Insert answers DUPLICATE for the caller's own row, of
// a set-only Update UNCHANGED (after overwriting whatever another writer
// set since), of a CopyFile UNCHANGED without the backup path, of an
// increment applies it twice; a repeated ForgetKey answers forgotten =
// false.
template <typename Request>
inline constexpr bool kRepeatAnswersAlike = false;
template <>
inline constexpr bool kRepeatAnswersAlike<v1::KeyedCallRequest> = true;
template <>
inline constexpr bool kRepeatAnswersAlike<v1::GetKeyRequest> = true;

// One logical call: attempts it, and after each failed attempt asks
// DecideAfterAttempt whether to sleep and attempt again. Every attempt sends
// the same request (so a KeyedCall keeps its key), alone with a fresh
// ClientContext or, through the Client's CallBatcher, in a Batch RPC.
// Keeps itself alive through the callbacks it hands to gRPC and the sleep.
template <typename Request, typename Response>
class RetryingCall
    : public std::enable_shared_from_this<RetryingCall<Request, Response>> {
 public:
  // The RPC, a method of the callback API: &AsyncStub::Insert, ...
  using Method = void (AsyncStub::*)(grpc::ClientContext*, const Request*,
                                     Response*,
                                     std::function<void(grpc::Status)>);

  // Runs on the caller's thread up to the first attempt, so that
  // ClientOptions::call_metadata sees the caller's context.
  static void Start(std::shared_ptr<ClientCore> core,
                    const CallOptions& options, Request request, Method method,
                    Callback<Response> done, std::string idempotency_key = "") {
    const RetryPolicy policy = options.retry.value_or(core->options.retry);
    CallMetadata metadata;
    if (core->options.call_metadata) metadata = core->options.call_metadata();
    std::shared_ptr<RetryingCall> call(
        new RetryingCall(std::move(core), policy, std::move(metadata),
                         std::move(request), method, std::move(done)));
    call->info_.idempotency_key = std::move(idempotency_key);
    call->deadline_ = call->env().now() + call->policy_.total_timeout;
    // A Client from FromChannel has had no check of its token, and the call
    // metadata is new with every call: gRPC would abort on either.
    if (absl::Status sendable =
            CheckHeaders(call->core_->options.bearer_token, call->metadata_);
        !sendable.ok()) {
      return call->EndSoon(std::move(sendable), StopReason::kNotRetryable);
    }
    call->Attempt();
  }

 private:
  RetryingCall(std::shared_ptr<ClientCore> core, RetryPolicy policy,
               CallMetadata metadata, Request request, Method method,
               Callback<Response> done)
      : core_(std::move(core)),
        policy_(policy),
        metadata_(std::move(metadata)),
        request_(std::move(request)),
        method_(method),
        done_(std::move(done)) {}

  const RetryEnvironment& env() const { return core_->options.environment; }

  void Attempt() {
    // A caller that passes what is left of its own deadline may pass zero or
    // less: an attempt past the deadline could still run on the server, so
    // none is sent.
    if (deadline_ <= env().now()) {
      return EndSoon(absl::DeadlineExceededError(
                         info_.attempts == 0
                             ? "the call's time was spent before its first "
                               "attempt: nothing was sent"
                             : "the call's deadline passed before its next "
                               "attempt"),
                     StopReason::kDeadline);
    }
    ++info_.attempts;
    attempt_started_ = env().now();
    const absl::Duration timeout =
        std::min(policy_.per_attempt_timeout, deadline_ - env().now());
    std::optional<v1::BatchCall> batch_call;
    if (core_->batcher != nullptr) batch_call = AsBatchCall(request_);
    if (!batch_call.has_value()) return SendAlone(timeout, nullptr);
    auto self = this->shared_from_this();
    core_->batcher->Add(
        core_, {*std::move(batch_call), timeout, info_.attempts, metadata_,
                [self, timeout](std::function<void()> release) {
                  self->SendAlone(timeout, std::move(release));
                },
                [self](BatchedAttempt attempt) {
                  self->OnBatchedAttemptDone(attempt);
                }});
  }

  // Sends this attempt as its own RPC; `release` (may be empty) runs after
  // its answer has been delivered.
  void SendAlone(absl::Duration timeout, std::function<void()> release) {
    // Contexts of earlier attempts stay alive with the call: this may run
    // inside the previous attempt's completion callback, and gRPC still uses
    // that attempt's context until its callback has returned.
    contexts_.push_back(std::make_unique<grpc::ClientContext>());
    grpc::ClientContext& context = *contexts_.back();
    PrepareAttempt(context, timeout, info_.attempts,
                   core_->options.bearer_token, metadata_);
    response_.Clear();
    const bool connected_at_send = Connected(*core_->channel);
    (core_->stub->async()->*method_)(
        &context, &request_, &response_,
        [self = this->shared_from_this(), release = std::move(release),
         connected_at_send](grpc::Status status) mutable {
          const CallbackThreadScope on_callback_thread;
          self->OnAttemptDone(status, connected_at_send);
          if (release) {
            release();
            // It holds the Client, which may end here, inside the scope.
            release = nullptr;
          }
        });
  }

  void OnAttemptDone(const grpc::Status& grpc_status, bool connected_at_send) {
    AttemptStatus read = ReadAttemptStatus(grpc_status, info_.attempts,
                                           connected_at_send, *core_->channel);
    AttemptResult result;
    result.status = std::move(read.status);
    result.without_connection = read.without_connection;
    result.pushback =
        ParsePushback(FindTrailer(*contexts_.back(), kPushbackTrailer));
    info_.replayed =
        FindTrailer(*contexts_.back(), kReplayedTrailer) == "true" ||
        ReplayedField(response_);
    Conclude(result);
  }

  void OnBatchedAttemptDone(BatchedAttempt attempt) {
    response_.Clear();
    if (attempt.result != nullptr) TakeResponse(*attempt.result, &response_);
    info_.replayed = attempt.replayed || ReplayedField(response_);
    Conclude({std::move(attempt.status), attempt.pushback,
              attempt.whole_batch_failed, attempt.without_connection});
  }

  // Retries after a failed attempt, or ends the call.
  void Conclude(const AttemptResult& result) {
    const RetryContext retry_context{policy_,
                                     core_->options.backoff,
                                     kRepeatAnswersAlike<Request>,
                                     info_.attempts,
                                     env().now(),
                                     deadline_,
                                     attempt_started_};
    const Decision decision = DecideAfterAttempt(retry_context, result,
                                                 core_->budget, env().random());
    if (first_connect_failure_.empty() &&
        result.status.code() == absl::StatusCode::kUnavailable &&
        ErrorReason(result.status).empty()) {
      first_connect_failure_ = std::string(result.status.message());
    }
    if (decision.retry) {
      env().sleep(decision.sleep,
                  [self = this->shared_from_this()] { self->Attempt(); });
      return;
    }
    if (result.without_connection && !first_connect_failure_.empty() &&
        first_connect_failure_ != result.status.message()) {
      // A retry that waited for a connection says only that none came; the
      // first failure to connect says why (refused, a TLS mistake, a wrong
      // name), which the caller needs. Neither has details of idem's.
      return End(absl::Status(result.status.code(),
                              absl::StrCat(result.status.message(),
                                           "; the first attempt: ",
                                           first_connect_failure_)),
                 decision.stop_reason);
    }
    End(result.status, decision.stop_reason);
  }

  // End, from a gRPC thread: a call that ends before its first attempt
  // answers as every call does, never inside the caller's InsertAsync, where
  // a lock the caller holds would deadlock its callback.
  void EndSoon(absl::Status status, StopReason stop_reason) {
    env().sleep(absl::ZeroDuration(),
                [self = this->shared_from_this(), status = std::move(status),
                 stop_reason] { self->End(status, stop_reason); });
  }

  // Ends the call: its response when `status` is OK, else `status`.
  void End(const absl::Status& status, StopReason stop_reason) {
    info_.final_status = status;
    info_.stop_reason = stop_reason;
    // Released here, inside the caller's CallbackThreadScope, rather than
    // when gRPC destroys this call's last callback.
    core_.reset();
    Callback<Response> done = std::move(done_);
    if (status.ok()) {
      done(std::move(response_), std::move(info_));
    } else {
      done(status, std::move(info_));
    }
  }

  static void TakeResponse(v1::BatchResult& result,
                           v1::InsertResponse* response) {
    response->Swap(result.mutable_insert());
  }
  static void TakeResponse(v1::BatchResult& result,
                           v1::KeyedCallResponse* response) {
    response->Swap(result.mutable_keyed_call());
  }
  // Other calls never travel in a batch (AsBatchCall).
  template <typename Other>
  static void TakeResponse(v1::BatchResult&, Other*) {}

  static bool ReplayedField(const v1::KeyedCallResponse& r) {
    return r.replayed();
  }
  template <typename Other>
  static bool ReplayedField(const Other&) {
    return false;
  }

  std::shared_ptr<ClientCore> core_;  // null once the call is over
  const RetryPolicy policy_;
  const CallMetadata metadata_;
  const Request request_;
  const Method method_;
  Callback<Response> done_;
  absl::Time deadline_;
  absl::Time attempt_started_;  // of the latest attempt
  // The first UNAVAILABLE from gRPC itself (no reason of idem's).
  std::string first_connect_failure_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  Response response_;
  CallInfo info_;
};

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_RETRYING_CALL_H_
