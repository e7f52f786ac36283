#include "service/api/tenant_limiter.h"

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"
#include "service/common/retry_delay.h"

namespace idem::api {

TenantLimiter::Permit::~Permit() { limiter_.Release(tenant_, bytes_); }

TenantLimiter::TenantLimiter(int max_in_flight, size_t max_bytes_in_flight)
    : max_in_flight_(max_in_flight),
      max_bytes_in_flight_(max_bytes_in_flight) {}

absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> TenantLimiter::Acquire(
    const std::string& tenant, size_t bytes) {
  {
    absl::MutexLock lock(&mu_);
    if (bytes_in_flight_ > 0 &&
        bytes_in_flight_ + bytes > max_bytes_in_flight_) {
      return WithRetryDelay(
          Error(Reason::kOverloaded,
                absl::StrCat("the calls in flight hold ", bytes_in_flight_,
                             " bytes of requests and unsent answers; with "
                             "this call's ",
                             bytes, " that is over IDEM_MAX_BYTES_IN_FLIGHT (",
                             max_bytes_in_flight_, "); retry after the delay")),
          kRetryDelay);
    }
    int& count = in_flight_[tenant];
    if (count >= max_in_flight_) {
      return WithRetryDelay(
          Error(Reason::kTenantLimit,
                absl::StrCat("tenant \"", tenant, "\" already has ", count,
                             " calls in flight, the most allowed; retry "
                             "after the delay")),
          kRetryDelay);
    }
    ++count;
    bytes_in_flight_ += bytes;
  }
  return std::unique_ptr<Permit>(new Permit(*this, tenant, bytes));
}

std::unique_ptr<TenantLimiter::Permit> TenantLimiter::HoldBytes(size_t bytes) {
  {
    absl::MutexLock lock(&mu_);
    bytes_in_flight_ += bytes;
  }
  return std::unique_ptr<Permit>(new Permit(*this, std::nullopt, bytes));
}

int TenantLimiter::in_flight(const std::string& tenant) const {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(tenant);
  return it == in_flight_.end() ? 0 : it->second;
}

std::map<std::string, int> TenantLimiter::in_flight_by_tenant() const {
  absl::MutexLock lock(&mu_);
  return {in_flight_.begin(), in_flight_.end()};
}

void TenantLimiter::Release(const std::optional<std::string>& tenant,
                            size_t bytes) {
  absl::MutexLock lock(&mu_);
  bytes_in_flight_ -= bytes;
  if (!tenant.has_value()) return;
  auto it = in_flight_.find(*tenant);
  if (it != in_flight_.end() && --it->second <= 0) in_flight_.erase(it);
}

}  // namespace idem::api
