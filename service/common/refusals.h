#ifndef IDEM_SERVICE_COMMON_REFUSALS_H_
#define IDEM_SERVICE_COMMON_REFUSALS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace idem {

// The refusals that tell a caller to come back, each with its delay: one
// place for the policy, whichever layer refuses.

// RESOURCE_EXHAUSTED OVERLOADED: the server's queues are full.
absl::Status Overloaded();

// UNAVAILABLE DATABASE_UNAVAILABLE: every database connection stayed busy
// past the acquire timeout; some will be free in a moment.
absl::Status PoolExhausted();

// ABORTED ROW_LOCKED: a lock timeout, serialization failure or deadlock;
// the lock may be gone in a moment.
absl::Status RowLocked(absl::string_view message);

// ABORTED KEY_IN_FLIGHT: the key's call runs elsewhere; come back about when
// its lease ends (`lease_remaining`), within bounds.
absl::Status KeyInFlight(absl::string_view key, absl::Duration lease_remaining);

// ABORTED KEY_IN_FLIGHT: a claim was taken over while this call held it, or
// released between a failed claim and the read of its holder.
absl::Status KeyChangedHands();

// `status`, which says when to come back if it is ABORTED: a lock wait
// that ended in a timeout has no delay of its own.
absl::Status WithAbortedDelay(absl::Status status);

}  // namespace idem

#endif  // IDEM_SERVICE_COMMON_REFUSALS_H_
