#include "service/api/answer_at.h"

#include <grpcpp/alarm.h>

#include <utility>

#include "absl/time/clock.h"

namespace idem::api {

void AnswerAt(absl::Time when, std::function<void()> answer) {
  if (when <= absl::Now()) {
    answer();
    return;
  }
  // The alarm owns the callback until the callback has returned, so the
  // callback may delete the alarm.
  auto* alarm = new grpc::Alarm;
  alarm->Set(absl::ToChronoTime(when),
             [alarm, answer = std::move(answer)](bool /*fired*/) {
               answer();
               delete alarm;
             });
}

}  // namespace idem::api
