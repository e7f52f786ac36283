#include "service/common/refusals.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/common/retry_delay.h"

namespace idem {
namespace {

constexpr absl::Duration kOverloadDelay = absl::Milliseconds(200);
constexpr absl::Duration kLockDelay = absl::Milliseconds(100);
constexpr absl::Duration kChangedHandsDelay = absl::Milliseconds(50);
constexpr absl::Duration kMinLeaseDelay = absl::Milliseconds(50);
constexpr absl::Duration kMaxLeaseDelay = absl::Seconds(1);

}  // namespace

absl::Status Overloaded() {
  return WithRetryDelay(
      Error(Reason::kOverloaded, "server overloaded; retry after the delay"),
      kOverloadDelay);
}

absl::Status PoolExhausted() {
  return WithRetryDelay(Error(Reason::kDatabaseUnavailable,
                              "all database connections are busy; retry "
                              "after the delay"),
                        kOverloadDelay);
}

absl::Status RowLocked(absl::string_view message) {
  return WithRetryDelay(Error(Reason::kRowLocked, message), kLockDelay);
}

absl::Status KeyInFlight(absl::string_view key,
                         absl::Duration lease_remaining) {
  return WithRetryDelay(
      Error(Reason::kKeyInFlight, absl::StrCat("idempotency key \"", key,
                                               "\" is in flight; retry later")),
      std::clamp(lease_remaining, kMinLeaseDelay, kMaxLeaseDelay));
}

absl::Status KeyChangedHands() {
  return WithRetryDelay(
      Error(Reason::kKeyInFlight, "idempotency key changed hands; retry"),
      kChangedHandsDelay);
}

absl::Status WithAbortedDelay(absl::Status status) {
  if (status.code() != absl::StatusCode::kAborted ||
      RetryDelayOf(status).has_value()) {
    return status;
  }
  return WithRetryDelay(std::move(status), kLockDelay);
}

}  // namespace idem
