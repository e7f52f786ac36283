#ifndef IDEM_SERVICE_OPS_KEYED_CALL_OP_H_
#define IDEM_SERVICE_OPS_KEYED_CALL_OP_H_

#include <string>

#include "absl/status/status.h"
#include "idem/v1/idem.pb.h"
#include "service/ops/ops_context.h"

namespace idem::ops {

// The answer to a KeyedCall: a status and, when OK, the response. `replayed`
// marks an answer that came from the key store (success or stored error).
struct KeyedOutcome {
  absl::Status status;
  v1::KeyedCallResponse response;
  bool replayed = false;
  bool key_mismatch = false;  // the key was used for another call
};

// Runs the wrapped call at most once per (tenant, idempotency key):
// - a finished key replays its stored answer, writing nothing;
// - the same key with another call is FAILED_PRECONDITION;
// - Insert and Update commit together with their key record;
// - CopyFile holds the key with a lease while it copies;
// - deterministic failures are stored, transient ones are not.
KeyedOutcome RunKeyedCall(const OpsContext& context, const std::string& tenant,
                          const v1::KeyedCallRequest& request);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_KEYED_CALL_OP_H_
