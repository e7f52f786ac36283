#include "idem/keyed_call.h"

#include <array>
#include <cstdint>
#include <utility>

#include "absl/strings/str_format.h"
#include "random_bytes.h"

namespace idem {
namespace {

template <typename Call>
v1::KeyedCallRequest Keyed(Call call, std::string key,
                           Call* (v1::KeyedCallRequest::*field)()) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(std::move(key));
  *(request.*field)() = std::move(call);
  return request;
}

}  // namespace

std::string NewIdempotencyKey() {
  std::array<uint8_t, 16> b;
  internal::FillRandom(b.data(), b.size());
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4: random
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return absl::StrFormat(
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
      b[12], b[13], b[14], b[15]);
}

v1::KeyedCallRequest ExactlyOnce(v1::InsertRequest call, std::string key) {
  return Keyed(std::move(call), std::move(key),
               &v1::KeyedCallRequest::mutable_insert);
}

v1::KeyedCallRequest ExactlyOnce(v1::UpdateRequest call, std::string key) {
  return Keyed(std::move(call), std::move(key),
               &v1::KeyedCallRequest::mutable_update);
}

v1::KeyedCallRequest ExactlyOnce(v1::CopyFileRequest call, std::string key) {
  return Keyed(std::move(call), std::move(key),
               &v1::KeyedCallRequest::mutable_copy_file);
}

v1::KeyedCallRequest ExactlyOnce(v1::TransactionRequest call, std::string key) {
  return Keyed(std::move(call), std::move(key),
               &v1::KeyedCallRequest::mutable_transaction);
}

v1::KeyedCallRequest ExactlyOnce(v1::InsertRequest call) {
  return ExactlyOnce(std::move(call), NewIdempotencyKey());
}

v1::KeyedCallRequest ExactlyOnce(v1::UpdateRequest call) {
  return ExactlyOnce(std::move(call), NewIdempotencyKey());
}

v1::KeyedCallRequest ExactlyOnce(v1::CopyFileRequest call) {
  return ExactlyOnce(std::move(call), NewIdempotencyKey());
}

v1::KeyedCallRequest ExactlyOnce(v1::TransactionRequest call) {
  return ExactlyOnce(std::move(call), NewIdempotencyKey());
}

}  // namespace idem
