#ifndef IDEM_RETRY_BUDGET_H_
#define IDEM_RETRY_BUDGET_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace idem {

// Same shape as gRPC's retry throttling: the bucket starts full; every failed
// attempt with a retryable code takes one token, every success puts back
// `token_ratio`; retries are allowed only while more than half the tokens are
// left. During an outage the Client soon stops retrying and sends each call
// once, so retries never multiply the load on a struggling server.
//
// One failure that ends many calls at once (a dropped connection, a Batch
// RPC failing whole) takes one token, not one per call: else a single
// network blip with six calls in flight would use up the budget, and calls
// that committed would be answered UNAVAILABLE instead of being retried
// under their keys.
struct RetryBudgetOptions {
  double max_tokens = 10;
  double token_ratio = 0.1;
};

// Shared by all calls of one Client; thread-safe.
class RetryBudget {
 public:
  explicit RetryBudget(RetryBudgetOptions options = {});

  // Takes a token for a failed attempt; true if a retry is still allowed.
  bool OnFailure();
  // The same for a failure shared by the attempts in flight with it (a
  // dropped connection, a failed Batch RPC): an attempt that started
  // before the last shared failure was charged (`now` then), failing within
  // 100 ms of that charge, is counted in that one and takes no token.
  bool OnSharedFailure(absl::Time attempt_started, absl::Time now);
  void OnSuccess();
  // Whether a retry is allowed now, taking no token.
  bool RetryAllowed() const;
  double tokens() const;

 private:
  const RetryBudgetOptions options_;
  mutable absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_shared_charge_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace idem

#endif  // IDEM_RETRY_BUDGET_H_
