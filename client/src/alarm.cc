#include "alarm.h"

#include <grpcpp/alarm.h>

#include <chrono>
#include <utility>

namespace idem::internal {

// The alarm deletes itself from its callback; gRPC keeps its own reference
// until the callback has returned.
void RunAfter(absl::Duration delay, std::function<void()> then) {
  auto* alarm = new grpc::Alarm;
  alarm->Set(
      std::chrono::system_clock::now() + absl::ToChronoNanoseconds(delay),
      [alarm, then = std::move(then)](bool) {
        then();
        delete alarm;
      });
}

}  // namespace idem::internal
