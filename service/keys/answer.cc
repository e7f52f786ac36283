#include "service/keys/answer.h"

#include <utility>

#include "service/common/refusals.h"

namespace idem::keys {

Answer Answer::OfStatus(absl::Status status) {
  Answer answer;
  answer.status = WithAbortedDelay(std::move(status));
  return answer;
}

}  // namespace idem::keys
