#include "call_batcher.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "alarm.h"
#include "attempt_metadata.h"
#include "client_core.h"
#include "google/rpc/status.pb.h"
#include "idem/error_info.h"

namespace idem::internal {

std::optional<v1::BatchCall> AsBatchCall(const v1::InsertRequest& request) {
  v1::BatchCall call;
  *call.mutable_insert() = request;
  return call;
}

std::optional<v1::BatchCall> AsBatchCall(const v1::KeyedCallRequest& request) {
  if (!request.has_insert() && !request.has_update()) return std::nullopt;
  v1::BatchCall call;
  *call.mutable_keyed_call() = request;
  return call;
}

namespace {

// One Batch RPC: what it sends, what it gets, and whose answers they are
// (the attempts, their calls moved into the request).
struct BatchRpc {
  grpc::ClientContext context;
  v1::BatchRequest request;
  v1::BatchResponse response;
  std::vector<CallBatcher::Attempt> attempts;
};

BatchedAttempt FromResult(v1::BatchResult& result) {
  BatchedAttempt attempt;
  google::rpc::Status status = result.status();
  status.set_code(result.code());
  status.set_message(result.message());
  attempt.status = FromRpcStatus(status);
  attempt.replayed = result.replayed();
  if (result.has_retry_delay()) {
    attempt.pushback.present = true;
    attempt.pushback.delay = absl::Seconds(result.retry_delay().seconds()) +
                             absl::Nanoseconds(result.retry_delay().nanos());
  }
  attempt.result = &result;
  return attempt;
}

}  // namespace

CallBatcher::CallBatcher(const BatchingOptions& options) : options_(options) {}

void CallBatcher::Add(std::shared_ptr<ClientCore> core, Attempt attempt) {
  const size_t bytes = attempt.call.ByteSizeLong();
  {
    absl::MutexLock lock(&mu_);
    waiting_.push_back({std::move(attempt), bytes, absl::Now()});
  }
  SendWaiting(core, /*overdue=*/false);
}

std::vector<CallBatcher::Attempt> CallBatcher::TakeLocked() {
  // A batch ends at its most urgent call's deadline: a call with several
  // times more time left waits for the next RPC rather than be cut off by
  // a neighbour's short deadline (with retries off it would fail).
  constexpr int kMostTimeoutSpread = 4;
  std::vector<Attempt> taken;
  std::deque<Waiting> passed_over;
  size_t bytes = 0;
  absl::Duration shortest = absl::InfiniteDuration();
  absl::Duration longest = absl::ZeroDuration();
  // The server takes at most 1000 calls per batch.
  const size_t max_calls =
      static_cast<size_t>(std::clamp(options_.max_calls, 1, 1000));
  while (!waiting_.empty() && taken.size() < max_calls) {
    Waiting& next = waiting_.front();
    if (!taken.empty() && bytes + next.bytes > options_.max_bytes) break;
    const absl::Duration timeout = next.attempt.timeout;
    if (!taken.empty() &&
        std::max(longest, timeout) >
            kMostTimeoutSpread * std::min(shortest, timeout)) {
      passed_over.push_back(std::move(next));
      waiting_.pop_front();
      continue;
    }
    shortest = std::min(shortest, timeout);
    longest = std::max(longest, timeout);
    bytes += next.bytes;
    taken.push_back(std::move(next.attempt));
    waiting_.pop_front();
  }
  // Those passed over keep their places, ahead of the rest.
  waiting_.insert(waiting_.begin(),
                  std::make_move_iterator(passed_over.begin()),
                  std::make_move_iterator(passed_over.end()));
  return taken;
}

void CallBatcher::SendWaiting(const std::shared_ptr<ClientCore>& core,
                              bool overdue) {
  std::optional<absl::Duration> timer;
  while (true) {
    std::vector<Attempt> attempts;
    {
      absl::MutexLock lock(&mu_);
      if (waiting_.empty()) break;
      if (!overdue && in_flight_ >= std::max(options_.max_in_flight, 1)) {
        if (!timer_armed_) {
          timer_armed_ = true;
          timer =
              std::max(waiting_.front().since + options_.max_wait - absl::Now(),
                       absl::ZeroDuration());
        }
        break;
      }
      attempts = TakeLocked();
      ++in_flight_;
    }
    Send(core, std::move(attempts));
  }
  if (timer.has_value()) StartTimer(core, *timer);
}

void CallBatcher::StartTimer(const std::shared_ptr<ClientCore>& core,
                             absl::Duration delay) {
  // Waiting attempts keep the Client alive; with none left it may go.
  RunAfter(delay, [weak = std::weak_ptr<ClientCore>(core)] {
    const CallbackThreadScope on_callback_thread;
    if (std::shared_ptr<ClientCore> core = weak.lock()) {
      core->batcher->OnTimer(core);
    }
  });
}

void CallBatcher::OnTimer(const std::shared_ptr<ClientCore>& core) {
  bool overdue;
  {
    absl::MutexLock lock(&mu_);
    timer_armed_ = false;
    // The attempt the timer was set for may have left since; the one
    // waiting longest now may not be due yet (SendWaiting sets a timer for
    // it then).
    overdue = !waiting_.empty() &&
              absl::Now() - waiting_.front().since >= options_.max_wait;
  }
  SendWaiting(core, overdue);
}

void CallBatcher::Release(const std::shared_ptr<ClientCore>& core) {
  {
    absl::MutexLock lock(&mu_);
    --in_flight_;
  }
  SendWaiting(core, /*overdue=*/false);
}

void CallBatcher::Send(const std::shared_ptr<ClientCore>& core,
                       std::vector<Attempt> attempts) {
  if (attempts.size() == 1) {
    // Alone, as its own RPC: what a lone caller sends with batching off.
    attempts[0].send_alone([this, core] { Release(core); });
    return;
  }
  auto rpc = std::make_shared<BatchRpc>();
  absl::Duration timeout = absl::InfiniteDuration();
  int attempt_number = 0;
  for (Attempt& attempt : attempts) {
    attempt_number = std::max(attempt_number, attempt.number);
    // The batch ends no later than its most urgent call may wait (those
    // taken together have timeouts of one order, see TakeLocked).
    timeout = std::min(timeout, attempt.timeout);
    *rpc->request.add_calls() = std::move(attempt.call);
  }
  rpc->attempts = std::move(attempts);
  // idem-attempt of a batch: the highest attempt number among its calls;
  // the caller's metadata: its first call's.
  PrepareAttempt(rpc->context, timeout, attempt_number,
                 core->options.bearer_token, rpc->attempts.front().metadata);
  const bool connected_at_send = Connected(*core->channel);
  core->stub->async()->Batch(
      &rpc->context, &rpc->request, &rpc->response,
      [this, core = core, rpc, attempt_number,
       connected_at_send](grpc::Status grpc_status) mutable {
        const CallbackThreadScope on_callback_thread;
        if (grpc_status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
          // A server without Batch (an older replica during an upgrade),
          // or an older one whose parser refused a call of the batch (a
          // string that is not UTF-8; a server of this version refuses
          // that call alone): each call is sent again alone and gets the
          // answer it would have alone.
          for (Attempt& attempt : rpc->attempts) attempt.send_alone(nullptr);
          Release(core);
          core.reset();
          return;
        }
        BatchedAttempt failed;
        AttemptStatus read = ReadAttemptStatus(
            grpc_status, attempt_number, connected_at_send, *core->channel);
        failed.status = std::move(read.status);
        failed.without_connection = read.without_connection;
        failed.pushback =
            ParsePushback(FindTrailer(rpc->context, kPushbackTrailer));
        const size_t calls = rpc->attempts.size();
        if (failed.status.ok() &&
            static_cast<size_t>(rpc->response.results_size()) != calls) {
          failed.status = absl::InternalError(
              absl::StrCat("the server answered ", rpc->response.results_size(),
                           " results to a batch of ", calls, " calls"));
        }
        failed.whole_batch_failed = !failed.status.ok();
        for (size_t i = 0; i < calls; ++i) {
          rpc->attempts[i].done(
              failed.status.ok() ? FromResult(*rpc->response.mutable_results(i))
                                 : failed);
        }
        Release(core);
        // The Client may end here, inside the scope (see ClientCore).
        // `rpc` (the context above all) must outlive this callback.
        core.reset();
      });
}

}  // namespace idem::internal
