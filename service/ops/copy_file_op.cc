#include "service/ops/copy_file_op.h"

#include "service/common/error_reason.h"
#include "service/files/copy_file.h"

namespace idem::ops {

absl::StatusOr<v1::CopyFileResponse> RunCopyFile(
    const OpsContext& context, const v1::CopyFileRequest& request) {
  if (context.storage_root == nullptr) {
    return Error(
        Reason::kStorageNotConfigured,
        "CopyFile is off: this server has no storage root (IDEM_STORAGE_ROOT)");
  }
  return files::CopyFile(*context.storage_root, request);
}

}  // namespace idem::ops
