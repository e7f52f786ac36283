#include "idem/client.h"

#include <future>
#include <utility>

#include "attempt_metadata.h"
#include "channel.h"
#include "client_core.h"
#include "keyed_result.h"
#include "retrying_call.h"

namespace idem {
namespace {

using internal::AsyncStub;
using internal::ClientCore;
using internal::RetryingCall;

// Runs an async call and blocks until its callback has run.
template <typename Response, typename StartAsync>
absl::StatusOr<Response> Await(StartAsync start, CallInfo* info) {
  using Outcome = std::pair<absl::StatusOr<Response>, CallInfo>;
  auto promise = std::make_shared<std::promise<Outcome>>();
  std::future<Outcome> future = promise->get_future();
  start([promise](absl::StatusOr<Response> result, CallInfo call_info) {
    promise->set_value(Outcome(std::move(result), std::move(call_info)));
  });
  Outcome outcome = future.get();
  if (info != nullptr) *info = std::move(outcome.second);
  return std::move(outcome.first);
}

// A KeyedCall whose key is fixed here, before the first attempt, so that
// every attempt of it carries the same one.
void StartKeyed(std::shared_ptr<ClientCore> core, const CallOptions& options,
                v1::KeyedCallRequest request,
                Callback<v1::KeyedCallResponse> done) {
  if (request.idempotency_key().empty()) {
    request.set_idempotency_key(NewIdempotencyKey());
  }
  std::string key = request.idempotency_key();
  RetryingCall<v1::KeyedCallRequest, v1::KeyedCallResponse>::Start(
      std::move(core), options, std::move(request), &AsyncStub::KeyedCall,
      std::move(done), std::move(key));
}

// Insert, Update and CopyFile: under a key of its own when the call may be
// retried and ClientOptions::auto_keys is on, as itself otherwise.
template <typename Request, typename Response>
void StartWrite(std::shared_ptr<ClientCore> core, const CallOptions& options,
                Request request,
                typename RetryingCall<Request, Response>::Method method,
                Callback<Response> done) {
  const RetryPolicy policy = options.retry.value_or(core->options.retry);
  if (core->options.auto_keys && policy.max_attempts > 1) {
    StartKeyed(std::move(core), options, ExactlyOnce(std::move(request)),
               internal::ReturningResult(std::move(done)));
    return;
  }
  RetryingCall<Request, Response>::Start(
      std::move(core), options, std::move(request), method, std::move(done));
}

}  // namespace

absl::string_view StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kSucceeded:
      return "succeeded";
    case StopReason::kNotRetryable:
      return "not_retryable";
    case StopReason::kNotIdempotent:
      return "not_idempotent";
    case StopReason::kMaxAttempts:
      return "max_attempts";
    case StopReason::kDeadline:
      return "deadline";
    case StopReason::kRetryBudget:
      return "retry_budget";
    case StopReason::kPushbackRefusal:
      return "pushback_refusal";
  }
  return "unknown";
}

Client::Client(std::shared_ptr<internal::ClientCore> core)
    : core_(std::move(core)) {}

absl::StatusOr<Client> Client::Create(ClientOptions options) {
  // Refused here rather than at every call (RetryingCall::Start).
  if (absl::Status token = internal::CheckHeaders(options.bearer_token, {});
      !token.ok()) {
    return token;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      internal::OpenChannel(options);
  if (!channel.ok()) return channel.status();
  return FromChannel(*std::move(channel), std::move(options));
}

Client Client::FromChannel(std::shared_ptr<grpc::Channel> channel,
                           ClientOptions options) {
  return Client(
      internal::MakeClientCore(std::move(channel), std::move(options)));
}

double Client::retry_budget_tokens() const { return core_->budget.tokens(); }

void Client::InsertAsync(v1::InsertRequest request,
                         Callback<v1::InsertResponse> done,
                         const CallOptions& options) const {
  StartWrite(core_, options, std::move(request), &AsyncStub::Insert,
             std::move(done));
}

void Client::UpdateAsync(v1::UpdateRequest request,
                         Callback<v1::UpdateResponse> done,
                         const CallOptions& options) const {
  StartWrite(core_, options, std::move(request), &AsyncStub::Update,
             std::move(done));
}

void Client::CopyFileAsync(v1::CopyFileRequest request,
                           Callback<v1::CopyFileResponse> done,
                           const CallOptions& options) const {
  StartWrite(core_, options, std::move(request), &AsyncStub::CopyFile,
             std::move(done));
}

void Client::KeyedCallAsync(v1::KeyedCallRequest request,
                            Callback<v1::KeyedCallResponse> done,
                            const CallOptions& options) const {
  StartKeyed(core_, options, std::move(request), std::move(done));
}

void Client::TransactionAsync(const idem::Transaction& transaction,
                              std::string key,
                              Callback<v1::TransactionResponse> done,
                              const CallOptions& options) const {
  StartKeyed(core_, options, ExactlyOnce(transaction.request(), std::move(key)),
             internal::ReturningResult(std::move(done)));
}

void Client::GetKeyAsync(std::string key, Callback<v1::GetKeyResponse> done,
                         const CallOptions& options) const {
  v1::GetKeyRequest request;
  request.set_idempotency_key(key);
  RetryingCall<v1::GetKeyRequest, v1::GetKeyResponse>::Start(
      core_, options, std::move(request), &AsyncStub::GetKey, std::move(done),
      std::move(key));
}

void Client::ForgetKeyAsync(std::string key,
                            Callback<v1::ForgetKeyResponse> done,
                            const CallOptions& options) const {
  v1::ForgetKeyRequest request;
  request.set_idempotency_key(key);
  RetryingCall<v1::ForgetKeyRequest, v1::ForgetKeyResponse>::Start(
      core_, options, std::move(request), &AsyncStub::ForgetKey,
      std::move(done), std::move(key));
}

absl::StatusOr<v1::InsertResponse> Client::Insert(
    const v1::InsertRequest& request, const CallOptions& options,
    CallInfo* info) const {
  return Await<v1::InsertResponse>(
      [&](auto done) { InsertAsync(request, std::move(done), options); }, info);
}

absl::StatusOr<v1::UpdateResponse> Client::Update(
    const v1::UpdateRequest& request, const CallOptions& options,
    CallInfo* info) const {
  return Await<v1::UpdateResponse>(
      [&](auto done) { UpdateAsync(request, std::move(done), options); }, info);
}

absl::StatusOr<v1::CopyFileResponse> Client::CopyFile(
    const v1::CopyFileRequest& request, const CallOptions& options,
    CallInfo* info) const {
  return Await<v1::CopyFileResponse>(
      [&](auto done) { CopyFileAsync(request, std::move(done), options); },
      info);
}

absl::StatusOr<v1::KeyedCallResponse> Client::KeyedCall(
    const v1::KeyedCallRequest& request, const CallOptions& options,
    CallInfo* info) const {
  return Await<v1::KeyedCallResponse>(
      [&](auto done) { KeyedCallAsync(request, std::move(done), options); },
      info);
}

absl::StatusOr<v1::TransactionResponse> Client::Transaction(
    const idem::Transaction& transaction, std::string key,
    const CallOptions& options, CallInfo* info) const {
  return Await<v1::TransactionResponse>(
      [&](auto done) {
        TransactionAsync(transaction, std::move(key), std::move(done), options);
      },
      info);
}

absl::StatusOr<v1::GetKeyResponse> Client::GetKey(const std::string& key,
                                                  const CallOptions& options,
                                                  CallInfo* info) const {
  return Await<v1::GetKeyResponse>(
      [&](auto done) { GetKeyAsync(key, std::move(done), options); }, info);
}

absl::StatusOr<v1::ForgetKeyResponse> Client::ForgetKey(
    const std::string& key, const CallOptions& options, CallInfo* info) const {
  return Await<v1::ForgetKeyResponse>(
      [&](auto done) { ForgetKeyAsync(key, std::move(done), options); }, info);
}

}  // namespace idem
