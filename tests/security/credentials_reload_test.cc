// Certificates and tokens rotated under load, without a restart and
// without a failed call: the server reads IDEM_TLS_CERT/KEY and
// IDEM_AUTH_TOKENS again every IDEM_CREDENTIALS_RELOAD (1 s here). The
// files are replaced the way Kubernetes updates a mounted Secret: a new
// folder, then an atomic swap of the "..data" link the files point
// through, so that a reader never sees half a rotation.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/security/pki.h"
#include "tests/security/security_env.h"
#include "tests/support/polling.h"
#include "tests/support/test_database.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A folder laid out like a mounted Secret: name -> ..data/name, with
// ..data a link to the current version's folder.
class SecretVolume {
 public:
  explicit SecretVolume(const std::map<std::string, std::string>& files) {
    char dir[] = "/tmp/idem-secret-XXXXXX";
    if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = dir;
    Update(files);
    for (const auto& [name, content] : files) {
      fs::create_symlink(fs::path("..data") / name, dir_ / name);
    }
  }

  std::string Path(const std::string& name) const { return dir_ / name; }

  void Update(const std::map<std::string, std::string>& files) {
    const fs::path version = dir_ / ("..v" + std::to_string(++versions_));
    fs::create_directory(version);
    for (const auto& [name, content] : files) {
      std::ofstream(version / name) << content;
    }
    const fs::path next = dir_ / "..data_tmp";
    fs::create_symlink(version.filename(), next);
    fs::rename(next, dir_ / "..data");  // atomic: rename(2) over the link
  }

 private:
  fs::path dir_;
  int versions_ = 0;
};

// The certificate the server presented on a fresh connection.
std::string PresentedCertificate(const std::string& address) {
  auto stub =
      v1::IdemService::NewStub(TlsChannel(address, TestPki::Get().ca.cert_pem));
  auto context = CallContext("no-such-token");
  v1::InsertResponse response;
  stub->Insert(context.get(), v1::InsertRequest(), &response);
  auto auth = context->auth_context();
  if (auth == nullptr) return "";
  auto pem = auth->FindPropertyValues("x509_pem_cert");
  return pem.empty() ? "" : std::string(pem[0].data(), pem[0].size());
}

TEST(CredentialsReloadTest, RotatedUnderLoadWithoutAFailedCall) {
  const TestPki& pki = TestPki::Get();
  TestDatabase db;
  const std::string table = TestDatabase::UniqueName("reload");
  db.Exec("CREATE TABLE " + table + " (id bigint PRIMARY KEY, who text)");
  const TokenSpec steady{
      .token = "steady-token", .subject = "", .tenant = "acme"};
  const TokenSpec added{
      .token = "added-token", .subject = "", .tenant = "acme"};

  SecretVolume tls(
      {{"tls.crt", pki.server.cert_pem}, {"tls.key", pki.server.key_pem}});
  SecretVolume auth({{"tokens.json", TokensFileContent({steady})}});
  auto server = StartServerWith({{"IDEM_TLS_CERT", tls.Path("tls.crt")},
                                 {"IDEM_TLS_KEY", tls.Path("tls.key")},
                                 {"IDEM_AUTH_TOKENS", auth.Path("tokens.json")},
                                 {"IDEM_CREDENTIALS_RELOAD", "1s"},
                                 {"IDEM_ALLOW_PLAINTEXT", "false"},
                                 {"IDEM_TABLES", table}});
  ASSERT_EQ(PresentedCertificate(server->address()), pki.server.cert_pem);

  // The load: callers on long-lived connections, and callers that make a
  // new connection (a new handshake) for every call.
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::atomic<int> failed{0};
  std::atomic<int64_t> next_id{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      auto shared = TlsChannel(server->address(), pki.ca.cert_pem);
      while (!stop) {
        auto channel = t % 2 == 0
                           ? shared
                           : TlsChannel(server->address(), pki.ca.cert_pem);
        auto context = CallContext(steady.token);
        v1::InsertResponse response;
        grpc::Status status = v1::IdemService::NewStub(channel)->Insert(
            context.get(),
            InsertOf(table,
                     {RowOf({{"id", Int(++next_id)}, {"who", Str("load")}})}),
            &response);
        ++calls;
        if (!status.ok()) {
          ++failed;
          ADD_FAILURE() << status.error_code() << " " << status.error_message();
        }
      }
    });
  }
  auto accepted = [&](const std::string& token) {
    auto context = CallContext(token);
    v1::InsertResponse response;
    return v1::IdemService::NewStub(
               TlsChannel(server->address(), pki.ca.cert_pem))
        ->Insert(context.get(), InsertOf(table, {}), &response)
        .error_code();
  };
  auto more_calls = [&] {
    const int from = calls;
    return Eventually([&] { return calls >= from + 20; }, 30s);
  };
  ASSERT_TRUE(more_calls());
  EXPECT_EQ(accepted(added.token), grpc::StatusCode::UNAUTHENTICATED);

  // Rotation: a renewed certificate and key, a tokens file with one more.
  tls.Update({{"tls.crt", pki.server_renewed.cert_pem},
              {"tls.key", pki.server_renewed.key_pem}});
  auth.Update({{"tokens.json", TokensFileContent({steady, added})}});
  EXPECT_TRUE(Eventually(
      [&] {
        return PresentedCertificate(server->address()) ==
               pki.server_renewed.cert_pem;
      },
      15s));
  EXPECT_TRUE(Eventually(
      [&] {
        return accepted(added.token) == grpc::StatusCode::INVALID_ARGUMENT;
      },
      15s))
      << "the added token is not accepted";

  // A broken tokens file is logged and ignored: both tokens still work.
  auth.Update({{"tokens.json", "{\"tokens\": [{\"sha256\": \"zz\"}]}"}});
  EXPECT_TRUE(Eventually(
      [&] {
        return server->Log().find("\"reloaded\":false") != std::string::npos;
      },
      15s));
  EXPECT_EQ(accepted(added.token), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(more_calls());

  // A tokens file that is gone is logged and ignored the same way.
  auto refusals_logged = [&] {
    const std::string log = server->Log();
    size_t count = 0;
    for (size_t at = log.find("\"reloaded\":false"); at != std::string::npos;
         at = log.find("\"reloaded\":false", at + 1)) {
      ++count;
    }
    return count;
  };
  const size_t before = refusals_logged();
  auth.Update({});
  EXPECT_TRUE(Eventually([&] { return refusals_logged() > before; }, 15s));
  EXPECT_EQ(accepted(added.token), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(more_calls());

  stop = true;
  for (std::thread& thread : load) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(calls.load(), 50);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM " + table),
            std::to_string(calls.load()));
  EXPECT_NE(server->Log().find("\"reloaded\":true"), std::string::npos);
}

// A rotation that writes files the server cannot serve (a certificate
// with the key of another, a certificate file that holds no certificate)
// is named in the log and ignored: new connections still get the last good
// pair, until a good one arrives. gRPC's own file watcher would take the
// broken files and fail every new handshake.
TEST(CredentialsReloadTest, ABrokenRotationKeepsTheLastGoodCertificate) {
  const TestPki& pki = TestPki::Get();
  SecretVolume tls(
      {{"tls.crt", pki.server.cert_pem}, {"tls.key", pki.server.key_pem}});
  auto server = StartServerWith({{"IDEM_TLS_CERT", tls.Path("tls.crt")},
                                 {"IDEM_TLS_KEY", tls.Path("tls.key")},
                                 {"IDEM_CREDENTIALS_RELOAD", "1s"},
                                 {"IDEM_ALLOW_PLAINTEXT", "false"}});
  ASSERT_EQ(PresentedCertificate(server->address()), pki.server.cert_pem);
  auto logged = [&](const std::string& text) {
    return Eventually(
        [&] { return server->Log().find(text) != std::string::npos; }, 15s);
  };

  tls.Update({{"tls.crt", pki.server_renewed.cert_pem},
              {"tls.key", pki.server.key_pem}});
  EXPECT_TRUE(logged("is not the key of the certificate in"));
  std::this_thread::sleep_for(3s);  // gRPC's own reads of the files
  EXPECT_EQ(PresentedCertificate(server->address()), pki.server.cert_pem);

  tls.Update({{"tls.crt", "not a certificate"},
              {"tls.key", pki.server_renewed.key_pem}});
  EXPECT_TRUE(logged("holds no PEM certificate"));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(PresentedCertificate(server->address()), pki.server.cert_pem);

  tls.Update({{"tls.crt", pki.server_renewed.cert_pem},
              {"tls.key", pki.server_renewed.key_pem}});
  EXPECT_TRUE(Eventually(
      [&] {
        return PresentedCertificate(server->address()) ==
               pki.server_renewed.cert_pem;
      },
      15s));
}

}  // namespace
}  // namespace idem::testing
