#ifndef IDEM_CLIENT_H_
#define IDEM_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "idem/backoff_policy.h"
#include "idem/batching_options.h"
#include "idem/environment.h"
#include "idem/error_info.h"
#include "idem/keyed_call.h"
#include "idem/retry_budget.h"
#include "idem/retry_policy.h"
#include "idem/rows.h"
#include "idem/transaction.h"
#include "idem/v1/idem.pb.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace idem {

// TLS towards the server; files are PEM. With no ca_file the system's roots
// are used. cert_file and key_file together give mutual TLS.
struct TlsOptions {
  bool enabled = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Name checked against the server's certificate instead of the target's
  // host (for tests and for servers reached through an address).
  std::string server_name_override;
};

// Metadata (headers) a caller adds to a call: {{"traceparent", "00-..."}}.
// Keys are lower-case; binary values need a key ending in "-bin".
using CallMetadata = std::vector<std::pair<std::string, std::string>>;

struct ClientOptions {
  std::string target = "localhost:50051";  // any gRPC target ("dns:///h:p")
  TlsOptions tls;
  // Sent as "authorization: Bearer <token>" on every attempt. Sent on
  // plaintext channels too: keep tokens to TLS outside a trusted network.
  // Visible ASCII without spaces; Create refuses any other (a newline read
  // with it from a file, say) with INVALID_ARGUMENT.
  std::string bearer_token;
  // With retries on (a policy with max_attempts > 1), Insert, Update and
  // CopyFile travel as KeyedCalls under a key made once per call, so that a
  // retry after a lost answer gets the first attempt's answer back instead
  // of running again; the caller still gets the plain response, and CallInfo
  // the key. Off, a write is retried only after a failure that says it did
  // not run: a repeat of one that may have run could answer DUPLICATE for
  // the caller's own row, UNCHANGED, or apply an increment twice.
  bool auto_keys = true;
  // Called once per call, on the thread that makes it and before its first
  // attempt; what it returns goes with every attempt of the call: e.g. the
  // W3C "traceparent" of the caller's current span (which a retry on one of
  // gRPC's threads could no longer see). A Batch RPC carries the metadata of
  // the first call in it. Must be thread-safe.
  std::function<CallMetadata()> call_metadata;
  RetryPolicy retry;
  BackoffPolicy backoff;
  RetryBudgetOptions retry_budget;
  BatchingOptions batching;
  RetryEnvironment environment = RetryEnvironment::Real();
};

// Per-call adjustments; unset fields take the Client's options.
struct CallOptions {
  std::optional<RetryPolicy> retry;
};

// Why the client stopped attempting a call.
enum class StopReason {
  kSucceeded,
  kNotRetryable,  // the code (or reason) means repeating cannot help
  // A call without a key whose attempt may have run: a repeat could apply
  // it twice or answer differently (a write with auto_keys off, ForgetKey).
  kNotIdempotent,
  kMaxAttempts,
  kDeadline,         // the next attempt would not start before the deadline
  kRetryBudget,      // too many recent failures on this Client
  kPushbackRefusal,  // the server asked not to retry
};
absl::string_view StopReasonName(StopReason reason);

// What happened to one logical call, for logs and metrics.
struct CallInfo {
  int attempts = 0;
  // The server answered from a stored result (KeyedCall replay), success or
  // stored error; nothing ran again.
  bool replayed = false;
  // The call's last status; ErrorReason(final_status) reads its reason.
  absl::Status final_status;
  StopReason stop_reason = StopReason::kSucceeded;
  // The key the call was sent with: a KeyedCall's or a transaction's
  // (generated when none was given), an auto-keyed write's; for GetKey and
  // ForgetKey the key asked about.
  std::string idempotency_key;
};

template <typename Response>
using Callback = std::function<void(absl::StatusOr<Response>, CallInfo)>;

namespace internal {
struct ClientCore;
}  // namespace internal

// A client of idem.v1.IdemService over one channel. Thread-safe; copies share
// the channel and the retry budget. Calls retry transient failures (see
// retry_policy.h) only when a repeat is safe and answers as the first
// attempt would (ClientOptions::auto_keys); the attempt number travels as
// "idem-attempt" metadata. Failures carry the server's reason
// (error_info.h).
class Client {
 public:
  // Opens a channel as `options` say (lazily: no server is contacted yet).
  static absl::StatusOr<Client> Create(ClientOptions options);
  // Uses a channel the caller built; options.target and options.tls are
  // ignored.
  static Client FromChannel(std::shared_ptr<grpc::Channel> channel,
                            ClientOptions options = {});

  absl::StatusOr<v1::InsertResponse> Insert(const v1::InsertRequest& request,
                                            const CallOptions& options = {},
                                            CallInfo* info = nullptr) const;
  absl::StatusOr<v1::UpdateResponse> Update(const v1::UpdateRequest& request,
                                            const CallOptions& options = {},
                                            CallInfo* info = nullptr) const;
  absl::StatusOr<v1::CopyFileResponse> CopyFile(
      const v1::CopyFileRequest& request, const CallOptions& options = {},
      CallInfo* info = nullptr) const;
  // A request without a key gets a new one (NewIdempotencyKey), used by all
  // its attempts and reported in CallInfo. Prefer ExactlyOnce() so that the
  // key survives your own resends too.
  absl::StatusOr<v1::KeyedCallResponse> KeyedCall(
      const v1::KeyedCallRequest& request, const CallOptions& options = {},
      CallInfo* info = nullptr) const;
  // Runs the transaction's steps in one database transaction, at most once
  // per key: `key` (e.g. the id of the message being handled, so that a
  // redelivery replays too), or a new one when empty (see CallInfo).
  //   client.Transaction(
  //       idem::Transaction().Insert(order).Update(stock, true), msg.id());
  absl::StatusOr<v1::TransactionResponse> Transaction(
      const idem::Transaction& transaction, std::string key = {},
      const CallOptions& options = {}, CallInfo* info = nullptr) const;
  // The state of a key of this tenant and its stored answer. Retried like
  // any read.
  absl::StatusOr<v1::GetKeyResponse> GetKey(const std::string& key,
                                            const CallOptions& options = {},
                                            CallInfo* info = nullptr) const;
  // Removes a finished key, so that the next call under it runs again. Not
  // retried after a failure that may have forgotten the key already: the
  // repeat would answer forgotten = false about the caller's own success.
  absl::StatusOr<v1::ForgetKeyResponse> ForgetKey(
      const std::string& key, const CallOptions& options = {},
      CallInfo* info = nullptr) const;

  // The same calls without blocking: `done` runs once, on a gRPC thread, when
  // the call (with its retries) is over. It must not block for long.
  void InsertAsync(v1::InsertRequest request, Callback<v1::InsertResponse> done,
                   const CallOptions& options = {}) const;
  void UpdateAsync(v1::UpdateRequest request, Callback<v1::UpdateResponse> done,
                   const CallOptions& options = {}) const;
  void CopyFileAsync(v1::CopyFileRequest request,
                     Callback<v1::CopyFileResponse> done,
                     const CallOptions& options = {}) const;
  void KeyedCallAsync(v1::KeyedCallRequest request,
                      Callback<v1::KeyedCallResponse> done,
                      const CallOptions& options = {}) const;
  void TransactionAsync(const idem::Transaction& transaction, std::string key,
                        Callback<v1::TransactionResponse> done,
                        const CallOptions& options = {}) const;
  void GetKeyAsync(std::string key, Callback<v1::GetKeyResponse> done,
                   const CallOptions& options = {}) const;
  void ForgetKeyAsync(std::string key, Callback<v1::ForgetKeyResponse> done,
                      const CallOptions& options = {}) const;

  // Tokens left in the retry budget shared by this client's calls.
  double retry_budget_tokens() const;

 private:
  explicit Client(std::shared_ptr<internal::ClientCore> core);

  std::shared_ptr<internal::ClientCore> core_;
};

}  // namespace idem

#endif  // IDEM_CLIENT_H_
