#include "idem/retry_budget.h"

#include <algorithm>

namespace idem {

RetryBudget::RetryBudget(RetryBudgetOptions options)
    : options_(options), tokens_(options.max_tokens) {}

bool RetryBudget::OnFailure() {
  absl::MutexLock lock(&mu_);
  tokens_ = std::max(0.0, tokens_ - 1);
  return tokens_ > options_.max_tokens / 2;
}

bool RetryBudget::OnSharedFailure(absl::Time attempt_started, absl::Time now) {
  absl::MutexLock lock(&mu_);
  // One event ends its calls together: within a moment of the charge. A
  // failure later than that is a failure of its own (a proxy refusing each
  // call in turn), however long its attempt had been in flight.
  constexpr absl::Duration kTogether = absl::Milliseconds(100);
  if (attempt_started >= last_shared_charge_ ||
      now - last_shared_charge_ > kTogether) {
    tokens_ = std::max(0.0, tokens_ - 1);
    last_shared_charge_ = now;
  }
  return tokens_ > options_.max_tokens / 2;
}

void RetryBudget::OnSuccess() {
  absl::MutexLock lock(&mu_);
  tokens_ = std::min(options_.max_tokens, tokens_ + options_.token_ratio);
}

bool RetryBudget::RetryAllowed() const {
  absl::MutexLock lock(&mu_);
  return tokens_ > options_.max_tokens / 2;
}

double RetryBudget::tokens() const {
  absl::MutexLock lock(&mu_);
  return tokens_;
}

}  // namespace idem
