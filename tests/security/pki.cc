#include "tests/security/pki.h"

#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace idem::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void Run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("failed: " + command);
  }
}

KeyPair Load(const std::string& dir, const std::string& name) {
  KeyPair pair;
  pair.cert_path = dir + "/" + name + ".pem";
  pair.key_path = dir + "/" + name + ".key";
  pair.cert_pem = ReadAll(pair.cert_path);
  pair.key_pem = ReadAll(pair.key_path);
  return pair;
}

constexpr char kNewKey[] =
    "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

KeyPair MakeCa(const std::string& dir, const std::string& name) {
  Run("openssl req -x509 " + std::string(kNewKey) + " -keyout " + dir + "/" +
      name + ".key -out " + dir + "/" + name + ".pem -days 2 -subj /CN=" +
      name + " -addext basicConstraints=critical,CA:TRUE" +
      " -addext keyUsage=critical,keyCertSign,cRLSign");
  return Load(dir, name);
}

// `extensions` are lines of an x509v3 extension file; `days` may be -1.
KeyPair Issue(const std::string& dir, const KeyPair& ca,
              const std::string& name, const std::string& subject,
              const std::string& extensions, int days) {
  const std::string base = dir + "/" + name;
  std::ofstream(base + ".ext") << "basicConstraints=CA:FALSE\n" << extensions;
  Run("openssl req " + std::string(kNewKey) + " -keyout " + base +
      ".key -out " + base + ".csr -subj " + subject);
  Run("openssl x509 -req -in " + base + ".csr -CA " + ca.cert_path +
      " -CAkey " + ca.key_path + " -CAcreateserial -out " + base +
      ".pem -days " + std::to_string(days) + " -extfile " + base + ".ext");
  return Load(dir, name);
}

constexpr char kServerExt[] =
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
constexpr char kClientExt[] = "extendedKeyUsage=clientAuth\n";

TestPki Make() {
  char dir_template[] = "/tmp/idem-pki-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp");
  TestPki pki;
  pki.dir = dir_template;
  const std::string& d = pki.dir;
  pki.ca = MakeCa(d, "ca");
  pki.server = Issue(d, pki.ca, "server", "/CN=localhost", kServerExt, 2);
  pki.server_renewed =
      Issue(d, pki.ca, "server_renewed", "/CN=localhost", kServerExt, 2);
  pki.client_a =
      Issue(d, pki.ca, "client_a", "/O=acme/CN=client-a", kClientExt, 2);
  pki.client_b = Issue(d, pki.ca, "client_b", "/CN=client-b", kClientExt, 2);
  pki.expired_client =
      Issue(d, pki.ca, "expired_client", "/O=acme/CN=client-a", kClientExt, -1);
  pki.expired_server =
      Issue(d, pki.ca, "expired_server", "/CN=localhost", kServerExt, -1);
  pki.rogue_ca = MakeCa(d, "rogue_ca");
  pki.rogue_client = Issue(d, pki.rogue_ca, "rogue_client",
                           "/O=acme/CN=client-a", kClientExt, 2);
  pki.rogue_server =
      Issue(d, pki.rogue_ca, "rogue_server", "/CN=localhost", kServerExt, 2);
  return pki;
}

}  // namespace

const TestPki& TestPki::Get() {
  static const TestPki* pki = new TestPki(Make());
  return *pki;
}

}  // namespace idem::testing
