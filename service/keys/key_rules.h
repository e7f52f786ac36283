#ifndef IDEM_SERVICE_KEYS_KEY_RULES_H_
#define IDEM_SERVICE_KEYS_KEY_RULES_H_

#include <string>

#include "absl/status/status.h"

namespace idem::keys {

// An idempotency key is 1 to 255 printable ASCII characters (0x21 to 0x7E):
// no spaces, no control bytes, nothing that a log or a header could mangle.
absl::Status ValidateIdempotencyKey(const std::string& key);

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_KEY_RULES_H_
