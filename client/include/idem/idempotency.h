#ifndef IDEM_IDEMPOTENCY_H_
#define IDEM_IDEMPOTENCY_H_

#include "idem/v1/idem.pb.h"

namespace idem {

// Whether sending a request twice has the same effect as sending it once,
// which is what makes a blind retry safe. Insert (ON CONFLICT), set-only
// Update, CopyFile and KeyedCall are; an Update with `increment` is not: a
// lost answer does not tell whether the increment happened. Send it through
// ExactlyOnce() (keyed_call.h) to make it retryable.
bool IsIdempotent(const v1::InsertRequest& request);
bool IsIdempotent(const v1::UpdateRequest& request);
bool IsIdempotent(const v1::CopyFileRequest& request);
bool IsIdempotent(const v1::KeyedCallRequest& request);

}  // namespace idem

#endif  // IDEM_IDEMPOTENCY_H_
