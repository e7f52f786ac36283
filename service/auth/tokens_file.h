#ifndef IDEM_SERVICE_AUTH_TOKENS_FILE_H_
#define IDEM_SERVICE_AUTH_TOKENS_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/auth/caller.h"

namespace idem::auth {

// One credential of the tokens file (IDEM_AUTH_TOKENS) and who presents it.
// An entry names a bearer token by its hash, a client certificate by its
// subject, or both (then either credential is that caller).
struct CredentialEntry {
  std::string sha256;               // 32 raw bytes; empty: no token
  std::string client_cert_subject;  // RFC 2253 subject; empty: no cert
  Caller caller;
};

// Parses the tokens file:
// {"tokens": [{"sha256": hex, "client_cert_subject": "CN=...",
//              "tenant": name, "tables": [...], "operations": [...]}]}
// with "*" granting all tables or operations. INVALID_ARGUMENT names the
// file and what is wrong with it (never a token or a hash).
absl::StatusOr<std::vector<CredentialEntry>> LoadTokensFile(
    const std::string& path);
// Its parts: the file's content (INVALID_ARGUMENT when it cannot be read),
// and the parsing of `content`, where `path` names the file in messages.
absl::StatusOr<std::string> ReadTokensFile(const std::string& path);
absl::StatusOr<std::vector<CredentialEntry>> ParseTokensFile(
    const std::string& path, const std::string& content);

}  // namespace idem::auth

#endif  // IDEM_SERVICE_AUTH_TOKENS_FILE_H_
