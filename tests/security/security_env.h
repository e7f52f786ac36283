#ifndef IDEM_TESTS_SECURITY_SECURITY_ENV_H_
#define IDEM_TESTS_SECURITY_SECURITY_ENV_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "idem/v1/idem.pb.h"
#include "tests/security/pki.h"
#include "tests/support/server_process.h"
#include "tests/support/values.h"

namespace idem::testing {

// A real idem-server with `env` on top of ServerProcess's defaults.
std::unique_ptr<ServerProcess> StartServerWith(
    const std::map<std::string, std::string>& env);

// One entry of a tokens file, with the token in clear (the file gets its
// hash).
struct TokenSpec {
  std::string token;    // empty: no sha256 in the entry
  std::string subject;  // client_cert_subject; empty: none
  std::string tenant;
  std::vector<std::string> tables = {"*"};
  std::vector<std::string> operations = {"*"};
};

// A new file in a fresh temporary folder; returns its path.
std::string WriteTempFile(const std::string& name, const std::string& content);
// IDEM_AUTH_TOKENS content for `specs`, and the same written to a temporary
// file (returns its path).
std::string TokensFileContent(const std::vector<TokenSpec>& specs);
std::string WriteTokensFile(const std::vector<TokenSpec>& specs);

// A context with a deadline far enough away never to be what decides a
// test, and `authorization: Bearer <token>` unless the token is empty.
std::unique_ptr<grpc::ClientContext> CallContext(const std::string& token = "");

// A plaintext channel on a connection of its own: a connection another
// call broke on purpose is never shared with it.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address);

// A channel over TLS that trusts `root_pem`, optionally presenting a client
// certificate.
std::shared_ptr<grpc::Channel> TlsChannel(const std::string& address,
                                          const std::string& root_pem,
                                          const KeyPair* client = nullptr);

// grpc.health.v1.Health/Check for the whole server, through a generic stub
// (no generated code needed); `serving` tells whether it answered SERVING.
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                         bool* serving = nullptr);
// One list_services request to server reflection: OK when it is on,
// UNIMPLEMENTED when it is off.
grpc::Status ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel);

v1::InsertRequest InsertOf(const std::string& table,
                           const std::vector<v1::Row>& rows);
v1::KeyedCallRequest KeyedInsertOf(const std::string& key,
                                   const std::string& table,
                                   const std::vector<v1::Row>& rows);

}  // namespace idem::testing

#endif  // IDEM_TESTS_SECURITY_SECURITY_ENV_H_
