#include "service/common/proto_time.h"

#include "google/protobuf/util/time_util.h"

namespace idem {

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(time));
}

}  // namespace idem
