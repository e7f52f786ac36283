#ifndef IDEM_KEYED_CALL_H_
#define IDEM_KEYED_CALL_H_

#include <string>

#include "idem/v1/idem.pb.h"

namespace idem {

// A fresh idempotency key: a random (version 4) UUID from the kernel's
// random source, e.g. "3f0c8a7e-51d2-4b8e-9a43-0d6f2b1e7c55".
std::string NewIdempotencyKey();

// Wraps a call into a KeyedCall so the server runs it at most once per key.
// Build the request once per logical operation and reuse it: the key it holds
// is what every retry, and every later resend of it, is matched by.
//
//   auto once = idem::ExactlyOnce(increment);            // new random key
//   auto once = idem::ExactlyOnce(increment, message_id);  // caller's key
//   auto result = client.KeyedCall(once);
v1::KeyedCallRequest ExactlyOnce(v1::InsertRequest call);
v1::KeyedCallRequest ExactlyOnce(v1::UpdateRequest call);
v1::KeyedCallRequest ExactlyOnce(v1::CopyFileRequest call);
v1::KeyedCallRequest ExactlyOnce(v1::TransactionRequest call);
v1::KeyedCallRequest ExactlyOnce(v1::InsertRequest call, std::string key);
v1::KeyedCallRequest ExactlyOnce(v1::UpdateRequest call, std::string key);
v1::KeyedCallRequest ExactlyOnce(v1::CopyFileRequest call, std::string key);
v1::KeyedCallRequest ExactlyOnce(v1::TransactionRequest call, std::string key);

}  // namespace idem

#endif  // IDEM_KEYED_CALL_H_
