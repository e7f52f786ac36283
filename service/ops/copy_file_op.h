#ifndef IDEM_SERVICE_OPS_COPY_FILE_OP_H_
#define IDEM_SERVICE_OPS_COPY_FILE_OP_H_

#include "absl/status/statusor.h"
#include "idem/v1/idem.pb.h"
#include "service/files/copy_file.h"
#include "service/ops/ops_context.h"

namespace idem::ops {

// CopyFile inside the storage root (service/files), or FAILED_PRECONDITION
// when the server has none. `point_of_no_return`: see files::CopyFile.
absl::StatusOr<v1::CopyFileResponse> RunCopyFile(
    const OpsContext& context, const v1::CopyFileRequest& request,
    const files::PointOfNoReturn& point_of_no_return = nullptr);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_COPY_FILE_OP_H_
