#ifndef IDEM_SERVICE_AUTH_AUTHENTICATOR_H_
#define IDEM_SERVICE_AUTH_AUTHENTICATOR_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/auth/caller.h"
#include "service/auth/tokens_file.h"

namespace idem::auth {

// The tenant of every call when authentication is off.
inline constexpr char kDefaultTenant[] = "default";

// Establishes the Caller of a call from its credentials, checked against
// the tokens file (IDEM_AUTH_TOKENS, see tokens_file.h): an
// `authorization: Bearer <token>` header whose SHA-256 is listed, or else a
// verified mutual-TLS client certificate whose subject is listed. Without a
// tokens file every call is the default tenant with every permission.
class Authenticator {
 public:
  // `tokens_path` empty: authentication off.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const std::string& tokens_path);

  // UNAUTHENTICATED without valid credentials. A call that sends an
  // authorization header is judged by it alone: a bad token is refused even
  // with a good certificate, so that a mistake is never papered over.
  absl::StatusOr<Caller> Authenticate(
      const grpc::ServerContextBase& context) const;

  bool enabled() const { return enabled_; }
  // Whether some entry names a client certificate subject: those need
  // mutual TLS (IDEM_TLS_CLIENT_CA) to ever match.
  bool maps_client_certificates() const;

 private:
  Authenticator() = default;
  absl::StatusOr<Caller> FromBearerToken(absl::string_view header) const;
  absl::StatusOr<Caller> FromClientCertificate(
      const grpc::ServerContextBase& context) const;

  bool enabled_ = false;
  std::vector<CredentialEntry> entries_;
};

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_AUTHENTICATOR_H_
