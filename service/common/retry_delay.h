#ifndef IDEM_SERVICE_COMMON_RETRY_DELAY_H_
#define IDEM_SERVICE_COMMON_RETRY_DELAY_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace idem {

// A retryable status can carry the delay after which the caller should try
// again; the gRPC layer sends it as `grpc-retry-pushback-ms`.
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);
std::optional<absl::Duration> RetryDelayOf(const absl::Status& status);

}  // namespace idem

#endif  // IDEM_SERVICE_COMMON_RETRY_DELAY_H_
