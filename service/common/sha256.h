#ifndef IDEM_SERVICE_COMMON_SHA256_H_
#define IDEM_SERVICE_COMMON_SHA256_H_

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace idem {

// Incremental SHA-256 over OpenSSL's EVP interface. Used for call
// fingerprints, token hashes and file contents, which all need the same
// lower-case hex digest.
class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // The 32 raw digest bytes. Ends the computation: call once.
  std::string Digest();
  // Digest() as 64 lower-case hex characters.
  std::string HexDigest();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// SHA-256 of `data` as lower-case hex.
std::string Sha256Hex(std::string_view data);

}  // namespace idem

#endif  // IDEM_SERVICE_COMMON_SHA256_H_
