#ifndef IDEM_SERVICE_API_TENANT_LIMITER_H_
#define IDEM_SERVICE_API_TENANT_LIMITER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace idem::api {

// Caps the calls one tenant has in flight (accepted, not yet answered), so
// that a noisy tenant fills at most its share of the worker queue and the
// other tenants' calls still reach a worker (IDEM_TENANT_MAX_IN_FLIGHT);
// and the bytes that all calls hold, which bound the server's memory
// (IDEM_MAX_BYTES_IN_FLIGHT; a call alone is always let in): a call's
// request while it runs, then its request and answer until the answer has
// left, however slowly its caller reads.
class TenantLimiter {
 public:
  // Holds one of a tenant's slots, or none (HoldBytes), and bytes in
  // flight, until destroyed.
  class Permit {
   public:
    ~Permit();
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;

   private:
    friend class TenantLimiter;
    Permit(TenantLimiter& limiter, std::optional<std::string> tenant,
           size_t bytes)
        : limiter_(limiter), tenant_(std::move(tenant)), bytes_(bytes) {}
    TenantLimiter& limiter_;
    const std::optional<std::string> tenant_;  // the slot's; none: no slot
    const size_t bytes_;
  };

  // How long a refused caller is asked to wait before trying again.
  static constexpr absl::Duration kRetryDelay = absl::Milliseconds(100);

  TenantLimiter(int max_in_flight, size_t max_bytes_in_flight);
  TenantLimiter(const TenantLimiter&) = delete;
  TenantLimiter& operator=(const TenantLimiter&) = delete;

  // A slot for a call of `tenant` whose request is `bytes` long, or
  // RESOURCE_EXHAUSTED with a retry delay: TENANT_LIMIT when the tenant
  // already has max_in_flight calls running, OVERLOADED when the calls in
  // flight hold max_bytes_in_flight with this one (and are not none).
  absl::StatusOr<std::unique_ptr<Permit>> Acquire(const std::string& tenant,
                                                  size_t bytes);

  // Counts `bytes` in flight, without a tenant's slot, until the permit
  // goes: bytes the server holds whatever it decides (an answer waiting to
  // be sent), which calls admitted meanwhile make room for.
  std::unique_ptr<Permit> HoldBytes(size_t bytes);

  int in_flight(const std::string& tenant) const;
  // The calls in flight of every tenant that has some.
  std::map<std::string, int> in_flight_by_tenant() const;

 private:
  void Release(const std::optional<std::string>& tenant, size_t bytes);

  const int max_in_flight_;
  const size_t max_bytes_in_flight_;
  size_t bytes_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  mutable absl::Mutex mu_;
  // Tenants without calls in flight are erased: the map stays as small as
  // the set of busy tenants.
  absl::flat_hash_map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_TENANT_LIMITER_H_
