#ifndef IDEM_CLIENT_SRC_ALARM_H_
#define IDEM_CLIENT_SRC_ALARM_H_

#include <functional>

#include "absl/time/time.h"

namespace idem::internal {

// Runs `then` on one of gRPC's threads after `delay`, so that no thread of
// ours waits.
void RunAfter(absl::Duration delay, std::function<void()> then);

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_ALARM_H_
