#ifndef IDEM_SERVICE_OPS_KEYED_OUTCOME_H_
#define IDEM_SERVICE_OPS_KEYED_OUTCOME_H_

#include "absl/status/status.h"
#include "idem/v1/idem.pb.h"

namespace idem::ops {

// The answer to a KeyedCall, or to a plain Insert committed by the group
// committer (its response in `response.insert()`): a status and, when OK,
// the response. `replayed` marks an answer that came from the key store
// (success or stored error).
struct KeyedOutcome {
  absl::Status status;
  v1::KeyedCallResponse response;
  bool replayed = false;
  bool key_mismatch = false;  // the key was used for another call
};

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_KEYED_OUTCOME_H_
