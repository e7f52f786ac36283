#ifndef IDEM_BATCHING_OPTIONS_H_
#define IDEM_BATCHING_OPTIONS_H_

#include <cstddef>

#include "absl/time/time.h"

namespace idem {

// Concurrent Insert calls and KeyedCalls wrapping an Insert or an Update
// travel together in Batch RPCs, so that many calls cost one round trip and
// one gRPC call. Each call keeps everything it has alone: its own status and
// response, its retries and deadline, its CallInfo, exactly once under its
// key.
//
// There is no timer on the way out: a call made while fewer than
// `max_in_flight` RPCs of this Client are out is sent at once (alone, as
// its own RPC, when nothing else waits); one made while they are all out
// waits for one of them to finish and then leaves with everything that
// waited. A lone caller therefore never waits, and a busy one sends as
// fast as the server answers.
struct BatchingOptions {
  bool enabled = true;
  // RPCs (batches and lone calls) out at once before calls wait; at
  // least 1.
  int max_in_flight = 2;
  // Calls (1 to 1000, the server's limit) and request bytes per batch; a
  // call larger than max_bytes goes alone. The server refuses a message over
  // twice its IDEM_MAX_MESSAGE_BYTES (16 MiB by default) whole: keep below
  // that.
  int max_calls = 64;
  size_t max_bytes = 256 << 10;
  // The longest a call waits for an RPC in flight to finish before it is
  // sent anyway: a batch held up by a row lock does not hold up the calls
  // after it for longer than this.
  absl::Duration max_wait = absl::Milliseconds(5);
};

}  // namespace idem

#endif  // IDEM_BATCHING_OPTIONS_H_
