#ifndef IDEM_SERVICE_AUTH_AUTHENTICATOR_H_
#define IDEM_SERVICE_AUTH_AUTHENTICATOR_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/auth/caller.h"

namespace idem::auth {

// The tenant of every call when authentication is off.
inline constexpr char kDefaultTenant[] = "default";

// Establishes the Caller of a call from its `authorization: Bearer <token>`
// metadata, checked against the tokens file (IDEM_AUTH_TOKENS), which holds
// only SHA-256 hashes of tokens. Without a tokens file every call is the
// default tenant with every permission.
class Authenticator {
 public:
  // `tokens_path` empty: authentication off. Otherwise the file must parse:
  // {"tokens": [{"sha256": hex, "tenant": name, "tables": [...],
  //              "operations": [...]}]}, "*" granting all.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const std::string& tokens_path);

  // UNAUTHENTICATED without a valid token.
  absl::StatusOr<Caller> Authenticate(
      const grpc::ServerContextBase& context) const;

  bool enabled() const { return enabled_; }

 private:
  struct Entry {
    std::string sha256;  // 32 raw bytes
    Caller caller;
  };
  Authenticator() = default;

  bool enabled_ = false;
  std::vector<Entry> entries_;
};

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_AUTHENTICATOR_H_
