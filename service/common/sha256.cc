#include "service/common/sha256.h"

#include "absl/strings/escaping.h"

namespace idem {

namespace {

// The provider's SHA-256, fetched once: EVP_sha256() would make every
// EVP_DigestInit_ex look the implementation up again (OpenSSL 3), which
// cost more than hashing a call.
const EVP_MD* Sha256Algorithm() {
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // Without a fetch (no default provider), the implicit lookup still works.
  return fetched != nullptr ? fetched : EVP_sha256();
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_.get(), Sha256Algorithm(), nullptr);
}

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
}

std::string Sha256::Digest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Sha256::HexDigest() { return absl::BytesToHexString(Digest()); }

std::string Sha256Hex(std::string_view data) {
  Sha256 hash;
  hash.Update(data);
  return hash.HexDigest();
}

}  // namespace idem
