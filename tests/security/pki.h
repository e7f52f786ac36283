#ifndef IDEM_TESTS_SECURITY_PKI_H_
#define IDEM_TESTS_SECURITY_PKI_H_

#include <string>

namespace idem::testing {

// A certificate and its private key, as PEM files and their contents.
struct KeyPair {
  std::string cert_path;
  std::string key_path;
  std::string cert_pem;
  std::string key_pem;
};

// Certificates made by the openssl command line in a fresh folder, once
// per test binary (EC P-256 keys: quick to make):
// - `ca`: the trusted CA; `server` (SAN IP:127.0.0.1, DNS:localhost) and
//   `server_renewed` (the same names and CA, a new key),
//   `client_a` (CN=client-a,O=acme), `client_b` (CN=client-b) and
//   `expired_client` / `expired_server` are issued by it.
// - `rogue_ca` with `rogue_client` and `rogue_server`: same names, another
//   CA, which the server and the clients must not trust.
// Expired certificates come from `openssl x509 -req -days -1`: OpenSSL 3.0
// lacks -not_after, and a negative validity puts notAfter a day in the
// past, which every verifier reports as "certificate has expired".
class TestPki {
 public:
  static const TestPki& Get();

  std::string dir;
  KeyPair ca;
  KeyPair server;
  KeyPair server_renewed;  // the same names, a new key: a rotation
  KeyPair client_a;
  KeyPair client_b;
  KeyPair expired_client;
  KeyPair expired_server;
  KeyPair rogue_ca;
  KeyPair rogue_client;
  KeyPair rogue_server;
};

// The subject of client_a as gRPC reports it (RFC 2253).
inline constexpr char kClientASubject[] = "CN=client-a,O=acme";
inline constexpr char kClientBSubject[] = "CN=client-b";

}  // namespace idem::testing

#endif  // IDEM_TESTS_SECURITY_PKI_H_
