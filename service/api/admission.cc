#include "service/api/admission.h"

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"

namespace idem::api {

Admission::Admission(const auth::Authenticator& authenticator,
                     TenantLimiter& limiter, db::Catalog& catalog,
                     size_t max_message_bytes)
    : authenticator_(authenticator),
      limiter_(limiter),
      catalog_(catalog),
      max_message_bytes_(max_message_bytes) {}

absl::StatusOr<auth::Caller> Admission::Authenticate(
    grpc::CallbackServerContext& context) const {
  return authenticator_.Authenticate(context);
}

absl::StatusOr<std::unique_ptr<TenantLimiter::Permit>> Admission::Admit(
    const auth::Caller& caller, const google::protobuf::Message& call) const {
  const size_t bytes = call.ByteSizeLong();
  if (bytes > max_message_bytes_) {
    return Error(
        Reason::kLimitExceeded,
        absl::StrCat("request of ", bytes, " bytes exceeds the limit of ",
                     max_message_bytes_));
  }
  return limiter_.Acquire(caller.tenant, bytes);
}

bool Admission::AllowedWithoutCatalog(const auth::Caller& caller,
                                      const std::vector<Access>& accesses) {
  for (const Access& access : accesses) {
    if (!caller.Allows(access.operation) ||
        (!access.table.empty() && !caller.all_tables)) {
      return false;
    }
  }
  return true;
}

absl::Status Admission::Authorize(const auth::Caller& caller,
                                  const std::vector<Access>& accesses) const {
  for (const Access& access : accesses) {
    if (absl::Status allowed = Authorize(caller, access); !allowed.ok()) {
      return allowed;
    }
  }
  return absl::OkStatus();
}

absl::Status Admission::Authorize(const auth::Caller& caller,
                                  const Access& access) const {
  if (!caller.Allows(access.operation)) {
    return Error(Reason::kOperationNotAllowed,
                 absl::StrCat("tenant \"", caller.tenant, "\" may not call ",
                              auth::OperationName(access.operation)));
  }
  if (access.table.empty() || caller.all_tables) return absl::OkStatus();
  // Permissions name tables as the catalog does.
  absl::StatusOr<std::shared_ptr<const db::Table>> table =
      catalog_.Find(access.table);
  if (table.ok() && !caller.AllowsTable((*table)->name)) {
    return Error(Reason::kTableNotAllowed,
                 absl::StrCat("tenant \"", caller.tenant,
                              "\" may not use table ", (*table)->name),
                 {{"table", (*table)->name}});
  }
  return absl::OkStatus();
}

}  // namespace idem::api
