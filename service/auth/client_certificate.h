#ifndef IDEM_SERVICE_AUTH_CLIENT_CERTIFICATE_H_
#define IDEM_SERVICE_AUTH_CLIENT_CERTIFICATE_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>

namespace idem::auth {

// The subject of the client certificate a call was made with, as gRPC
// renders it (RFC 2253, most specific first: "CN=payments,O=Acme", the
// form `openssl x509 -noout -subject -nameopt RFC2253` prints). Only a
// certificate the TLS handshake verified against IDEM_TLS_CLIENT_CA counts;
// nullopt for plaintext, server-only TLS, or anything ambiguous.
std::optional<std::string> VerifiedClientSubject(
    const grpc::ServerContextBase& context);

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_CLIENT_CERTIFICATE_H_
