#include "service/ops/copy_file_op.h"

#include "service/common/error_reason.h"

namespace idem::ops {

absl::StatusOr<v1::CopyFileResponse> RunCopyFile(
    const OpsContext& context, const v1::CopyFileRequest& request,
    const files::PointOfNoReturn& point_of_no_return) {
  if (context.storage_root == nullptr) {
    return Error(
        Reason::kStorageNotConfigured,
        "CopyFile is off: this server has no storage root (IDEM_STORAGE_ROOT)");
  }
  // A copy waits for another copy into its folder as a statement waits for
  // a row lock: at most IDEM_LOCK_TIMEOUT.
  return files::CopyFile(*context.storage_root, request,
                         context.pool->lock_timeout(), point_of_no_return);
}

}  // namespace idem::ops
