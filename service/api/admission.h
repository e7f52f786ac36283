#ifndef IDEM_SERVICE_API_ADMISSION_H_
#define IDEM_SERVICE_API_ADMISSION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "service/api/tenant_limiter.h"
#include "service/auth/authenticator.h"
#include "service/auth/caller.h"
#include "service/db/catalog.h"

namespace idem::api {

// One operation on one table (empty for CopyFile and the key RPCs) that a
// call makes; a transaction makes one per step.
struct Access {
  auth::Operation operation;
  std::string table;
};

// The checks every call passes before it runs, lone or in a Batch, each
// once and in this order: the caller's credentials (once per RPC), the
// call's size (as if sent alone), a slot of its tenant, and its
// permissions (every access: operation and table).
class Admission {
 public:
  Admission(const auth::Authenticator& authenticator, TenantLimiter& limiter,
            db::Catalog& catalog, size_t max_message_bytes);

  // UNAUTHENTICATED unless the RPC's credentials name a caller.
  absl::StatusOr<auth::Caller> Authenticate(
      grpc::CallbackServerContext& context) const;

  // INVALID_ARGUMENT over IDEM_MAX_MESSAGE_BYTES, RESOURCE_EXHAUSTED when
  // the tenant has its most calls in flight; else the call's tenant slot,
  // freed when the permit goes.
  absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> Admit(
      const auth::Caller& caller, const google::protobuf::Message& call) const;

  // The limiter that admitted calls hold slots and bytes of.
  TenantLimiter& limiter() const { return limiter_; }

  // Whether `caller` may make every access without asking the catalog
  // (which may read the database): so on a gRPC thread.
  static bool AllowedWithoutCatalog(const auth::Caller& caller,
                                    const std::vector<Access>& accesses);

  // PERMISSION_DENIED unless `caller` may make every access. An unknown
  // table is left for the operation to refuse with its own status.
  absl::Status Authorize(const auth::Caller& caller,
                         const std::vector<Access>& accesses) const;

 private:
  absl::Status Authorize(const auth::Caller& caller,
                         const Access& access) const;

  const auth::Authenticator& authenticator_;
  TenantLimiter& limiter_;
  db::Catalog& catalog_;
  const size_t max_message_bytes_;
};

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_ADMISSION_H_
