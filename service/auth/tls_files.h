#ifndef IDEM_SERVICE_AUTH_TLS_FILES_H_
#define IDEM_SERVICE_AUTH_TLS_FILES_H_

#include <string>

#include "absl/status/status.h"

namespace idem::auth {

// Checks the server's TLS files as gRPC will load them: a PEM certificate
// (chain) in `cert_path`, the private key of its first certificate in
// `key_path`, and, when `client_ca_path` is set, at least one PEM
// certificate there. gRPC only logs a file it cannot use and then fails
// every handshake, so a server started with one would pass its health
// checks and serve no one. INVALID_ARGUMENT naming the setting
// (IDEM_TLS_CERT, IDEM_TLS_KEY, IDEM_TLS_CLIENT_CA) and the file.
absl::Status CheckTlsFiles(const std::string& cert_path,
                           const std::string& key_path,
                           const std::string& client_ca_path);

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_TLS_FILES_H_
