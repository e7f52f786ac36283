#ifndef IDEM_CLIENT_SRC_RANDOM_BYTES_H_
#define IDEM_CLIENT_SRC_RANDOM_BYTES_H_

#include <cstddef>

namespace idem::internal {

// Fills `out` from the kernel's random source (getrandom). Aborts if the
// kernel has none: a key or seed from a weaker source could repeat, and a
// repeated idempotency key silently swallows a call.
void FillRandom(void* out, size_t size);

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_RANDOM_BYTES_H_
