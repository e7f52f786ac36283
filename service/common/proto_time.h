#ifndef IDEM_SERVICE_COMMON_PROTO_TIME_H_
#define IDEM_SERVICE_COMMON_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace idem {

// `time` as a protobuf Timestamp, to the microsecond (what PostgreSQL
// keeps).
google::protobuf::Timestamp ToTimestamp(absl::Time time);

}  // namespace idem

#endif  // IDEM_SERVICE_COMMON_PROTO_TIME_H_
