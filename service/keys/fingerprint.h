#ifndef IDEM_SERVICE_KEYS_FINGERPRINT_H_
#define IDEM_SERVICE_KEYS_FINGERPRINT_H_

#include <string>

#include "idem/v1/idem.pb.h"

namespace idem::keys {

// SHA-256 (32 raw bytes) of the canonical encoding of the call inside a
// KeyedCallRequest. Two requests that mean the same call have the same
// fingerprint whatever their map order, field order or client language;
// any changed value changes it. The encoding is specified in
// docs/keyed-call.md and never changes within a major version, because
// stored keys outlive server releases.
std::string Fingerprint(const v1::KeyedCallRequest& request);

// The canonical encoding itself (exposed for tests and fuzzing).
std::string CanonicalEncoding(const v1::KeyedCallRequest& request);

}  // namespace idem::keys

#endif  // IDEM_SERVICE_KEYS_FINGERPRINT_H_
