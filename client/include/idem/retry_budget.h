#ifndef IDEM_RETRY_BUDGET_H_
#define IDEM_RETRY_BUDGET_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace idem {

// Same shape as gRPC's retry throttling: the bucket starts full; every failed
// attempt with a retryable code takes one token, every success puts back
// `token_ratio`; retries are allowed only while more than half the tokens are
// left. During an outage the Client soon stops retrying and sends each call
// once, so retries never multiply the load on a struggling server.
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
  void OnSuccess();
  double tokens() const;

 private:
  const RetryBudgetOptions options_;
  mutable absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace idem

#endif  // IDEM_RETRY_BUDGET_H_
