#ifndef IDEM_SERVICE_API_BATCH_CALLS_H_
#define IDEM_SERVICE_API_BATCH_CALLS_H_

#include <grpcpp/support/byte_buffer.h>

#include <vector>

#include "idem/v1/idem.pb.h"

namespace idem::api {

// A BatchRequest that did not parse whole, parsed call by call, so that
// one malformed call (a string that is not UTF-8) is refused alone and the
// others run, as they would have sent alone; a client that sends such a
// batch (idem's C++ client of 0.1.0 does) expects that. Every call that
// parses goes into `request` in order; one that does not is an empty
// BatchCall there, and true at its index in `malformed`. False when the
// bytes around the calls are no BatchRequest either.
bool ParseBatchCallByCall(const grpc::ByteBuffer& wire,
                          v1::BatchRequest& request,
                          std::vector<bool>& malformed);

}  // namespace idem::api

#endif  // IDEM_SERVICE_API_BATCH_CALLS_H_
