#ifndef IDEM_SERVICE_OPS_RUNS_ON_H_
#define IDEM_SERVICE_OPS_RUNS_ON_H_

#include <cstddef>

namespace idem::ops {

// The thread an operation runs on. A worker may wait on the database and
// the file system, and spend long on a large call. The thread that
// received the call (gRPC's) serves other calls' I/O too: an operation
// runs there only as far as it needs no I/O and little CPU, and declines
// the rest, which the caller hands to a worker. Preparing a lone call
// there spares it a hand-off to a worker, and the server that CPU.
enum class RunsOn { kWorker, kReceivingThread };

// The most rows a call prepared on the receiving thread may hold: encoding
// a large call's values is CPU that thread owes other calls' I/O.
inline constexpr size_t kMaxRowsOnReceivingThread = 100;

}  // namespace idem::ops

#endif  // IDEM_SERVICE_OPS_RUNS_ON_H_
