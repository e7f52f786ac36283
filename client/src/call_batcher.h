#ifndef IDEM_CLIENT_SRC_CALL_BATCHER_H_
#define IDEM_CLIENT_SRC_CALL_BATCHER_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "idem/batching_options.h"
#include "idem/v1/idem.pb.h"
#include "retry_decision.h"

namespace idem::internal {

struct ClientCore;

// A request as a call of a Batch RPC; nullopt for calls that go alone:
// those Batch does not take, and KeyedCalls wrapping a CopyFile or a
// transaction, which may take long and would hold up the answers of the
// whole batch.
std::optional<v1::BatchCall> AsBatchCall(const v1::InsertRequest& request);
std::optional<v1::BatchCall> AsBatchCall(const v1::KeyedCallRequest& request);
template <typename Request>
std::optional<v1::BatchCall> AsBatchCall(const Request&) {
  return std::nullopt;
}

// One attempt's answer as a batch delivers it: the batch's own failure
// (status and pushback of the RPC) or the call's result.
struct BatchedAttempt {
  absl::Status status;
  Pushback pushback;
  bool replayed = false;
  v1::BatchResult* result = nullptr;  // when status is OK
  bool whole_batch_failed = false;    // the Batch RPC's own failure
  bool without_connection = false;    // see AttemptResult
};

// Gathers the attempts of a Client's concurrent calls into Batch RPCs, as
// BatchingOptions describes. It only decides what travels together: each
// call's retry loop stays with the call.
class CallBatcher {
 public:
  struct Attempt {
    v1::BatchCall call;
    absl::Duration timeout;  // of this attempt
    int number;              // of this attempt, 1 for the first
    CallMetadata metadata;   // the caller's (ClientOptions::call_metadata)
    // Sends the attempt as its own RPC; the batcher's `release` (may be
    // empty) must run once that RPC's callback has delivered its answer.
    std::function<void(std::function<void()> release)> send_alone;
    std::function<void(BatchedAttempt)> done;  // when it went in a batch
  };

  explicit CallBatcher(const BatchingOptions& options);

  // Sends `attempt` now, alone or with others waiting, or queues it for
  // the next RPC to leave. `core` is the Client's, kept by the RPC.
  void Add(std::shared_ptr<ClientCore> core, Attempt attempt);

 private:
  struct Waiting {
    Attempt attempt;
    size_t bytes;
    absl::Time since;  // real time: max_wait is not a retry delay
  };

  // Up to max_calls waiting attempts within max_bytes (at least one),
  // whose timeouts differ at most fourfold.
  std::vector<Attempt> TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends what may leave now: while fewer than max_in_flight RPCs are out,
  // or everything waiting when `overdue`.
  void SendWaiting(const std::shared_ptr<ClientCore>& core, bool overdue);
  void Send(const std::shared_ptr<ClientCore>& core,
            std::vector<Attempt> attempts);
  // An RPC has delivered its answers: its place is free.
  void Release(const std::shared_ptr<ClientCore>& core);
  // Calls OnTimer after `delay` (on a gRPC thread), while the Client lives.
  void StartTimer(const std::shared_ptr<ClientCore>& core,
                  absl::Duration delay);
  // When the oldest waiting attempt has waited max_wait, everything
  // waiting leaves now.
  void OnTimer(const std::shared_ptr<ClientCore>& core);

  const BatchingOptions& options_;
  absl::Mutex mu_;
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool timer_armed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_CALL_BATCHER_H_
