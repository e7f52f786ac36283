#include "service/auth/client_certificate.h"

#include <grpc/grpc_security_constants.h>

namespace idem::auth {

std::optional<std::string> VerifiedClientSubject(
    const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  // gRPC marks the peer authenticated only when the handshake verified its
  // certificate; the server always requires verification when it asks for
  // one (server.cc), so an unverified certificate never gets this far.
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return std::nullopt;
  std::vector<grpc::string_ref> transport =
      auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  // "tls": gRPC's TLS credentials, which server.cc uses to reload files.
  if (transport.size() != 1 ||
      transport[0] != GRPC_TLS_TRANSPORT_SECURITY_TYPE) {
    return std::nullopt;
  }
  std::vector<grpc::string_ref> subjects =
      auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME);
  if (subjects.size() != 1 || subjects[0].empty()) return std::nullopt;
  return std::string(subjects[0].data(), subjects[0].size());
}

}  // namespace idem::auth
