#ifndef IDEM_SERVICE_AUTH_TLS_FILES_H_
#define IDEM_SERVICE_AUTH_TLS_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace idem::auth {

// Where the server's TLS files are: IDEM_TLS_CERT, IDEM_TLS_KEY and
// IDEM_TLS_CLIENT_CA (empty when unset).
struct TlsFilePaths {
  std::string cert;
  std::string key;
  std::string client_ca;
};

// What those files hold, read at one time.
struct TlsFileContents {
  std::string cert;
  std::string key;
  std::string client_ca;

  bool operator==(const TlsFileContents& other) const {
    return cert == other.cert && key == other.key &&
           client_ca == other.client_ca;
  }
};

// Reads the server's TLS files and checks them as gRPC will load them: a
// PEM certificate (chain) in `cert`, the private key of its first
// certificate in `key`, and, when `client_ca` is set, at least one PEM
// certificate there. gRPC only logs a file it cannot use and then fails
// every handshake, so a server serving one would pass its health checks
// and serve no one. INVALID_ARGUMENT naming the setting (IDEM_TLS_CERT,
// IDEM_TLS_KEY, IDEM_TLS_CLIENT_CA) and the file.
absl::StatusOr<TlsFileContents> ReadTlsFiles(const TlsFilePaths& paths);

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_TLS_FILES_H_
