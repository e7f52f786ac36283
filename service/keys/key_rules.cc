#include "service/keys/key_rules.h"

#include "absl/strings/str_cat.h"
#include "service/common/error_reason.h"

namespace idem::keys {

absl::Status ValidateIdempotencyKey(const std::string& key) {
  if (key.empty() || key.size() > 255) {
    return Error(Reason::kKeyInvalid,
                 absl::StrCat("idempotency_key must be 1 to 255 characters "
                              "long; got ",
                              key.size()));
  }
  for (size_t i = 0; i < key.size(); ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x21 || c > 0x7e) {
      return Error(Reason::kKeyInvalid,
                   absl::StrCat("idempotency_key may hold only printable "
                                "ASCII (0x21 to 0x7E); byte ",
                                i, " is 0x", absl::Hex(c, absl::kZeroPad2)));
    }
  }
  return absl::OkStatus();
}

}  // namespace idem::keys
