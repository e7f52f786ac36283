#ifndef IDEM_SERVICE_OPS_KEYED_CALL_OP_H_
#define IDEM_SERVICE_OPS_KEYED_CALL_OP_H_

#include <functional>
#include <optional>
#include <string>

#include "idem/v1/idem.pb.h"
#include "service/keys/answer.h"
#include "service/ops/ops_context.h"
#include "service/ops/runs_on.h"

namespace idem::ops {

class PendingWrites;

// Runs the wrapped call at most once per (tenant, idempotency key) and
// gives `done` its answer (try AnswerFromMemory first, which this does not
// repeat):
// - a finished key replays its stored answer, writing nothing (Insert and
//   Update read their keys in their batch, CopyFile on its own);
// - the same key with another call is FAILED_PRECONDITION;
// - Insert, Update and transactions commit together with their key record:
//   they join `writes`, which the caller hands to the group committer (and
//   `done` runs on its thread); their key is in flight in the ledger until
//   just before `done`;
// - CopyFile holds the key with a lease while it copies (on this thread);
// - deterministic failures are stored, transient ones are not.
// On the receiving thread it declines (false, `done` not called) a call it
// cannot finish or prepare there: a CopyFile, a table or column not loaded
// in the catalog, more than kMaxRowsOnReceivingThread rows, a failure to
// store; the caller hands it to a worker, which runs it whole.
bool RunKeyedCall(const OpsContext& context, const std::string& tenant,
                  const v1::KeyedCallRequest& request,
                  const std::function<void(keys::Answer)>& done,
                  PendingWrites& writes, RunsOn runs_on);

// The answer to `request` when this replica remembers its key finished
// (the replay cache): no I/O, so that it may run on a gRPC thread. nullopt
// when the key is not remembered or the request is not well formed:
// RunKeyedCall then decides. A key that is not remembered costs one lookup,
// no fingerprint.
std::optional<keys::Answer> AnswerFromMemory(
    const OpsContext& context, const std::string& tenant,
    const v1::KeyedCallRequest& request);

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_KEYED_CALL_OP_H_
