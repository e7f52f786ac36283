#ifndef IDEM_SERVICE_API_ANSWER_AT_H_
#define IDEM_SERVICE_API_ANSWER_AT_H_

#include <functional>

#include "absl/time/time.h"

namespace idem::api {

// Calls `answer` at `when` (at once if that has passed), holding no thread
// while it waits: a gRPC alarm calls it from gRPC's own executor. For an
// answer that must not be given before a time (ForgetKey's), so that a
// worker thread is not held meanwhile.
void AnswerAt(absl::Time when, std::function<void()> answer);

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_ANSWER_AT_H_
