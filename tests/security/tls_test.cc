// TLS and mutual TLS with certificates made by openssl for this run (see
// pki.h): who can connect, and how a client certificate becomes a tenant.
#include <gtest/gtest.h>

#include "tests/security/pki.h"
#include "tests/security/security_env.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem::testing {
namespace {

constexpr char kToken[] = "tls-test-token";

class TlsTest : public ::testing::Test {
 protected:
  // One table per server, empty, that only the calls under test write.
  static std::unique_ptr<ServerProcess> StartServer(
      const std::string& table, const KeyPair& server_cert,
      const std::string& client_ca_path = "") {
    std::map<std::string, std::string> env = {
        {"IDEM_ALLOW_PLAINTEXT", "false"},
        {"IDEM_TLS_CERT", server_cert.cert_path},
        {"IDEM_TLS_KEY", server_cert.key_path},
        {"IDEM_TABLES", table},
    };
    std::vector<TokenSpec> tokens = {{kToken, "", "token-tenant"}};
    // Subjects need mutual TLS (the server refuses to start otherwise).
    if (!client_ca_path.empty()) {
      env["IDEM_TLS_CLIENT_CA"] = client_ca_path;
      tokens.push_back({"", kClientASubject, "cert-tenant"});
    }
    env["IDEM_AUTH_TOKENS"] = WriteTokensFile(tokens);
    return StartServerWith(env);
  }

  std::string NewTable() {
    std::string table = TestDatabase::UniqueName("tls");
    db_.Exec("CREATE TABLE " + table + " (id bigint PRIMARY KEY, note text)");
    return table;
  }

  grpc::Status InsertOne(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& table, int id,
                         const std::string& token = kToken) {
    v1::InsertResponse response;
    return v1::IdemService::NewStub(channel)->Insert(
        CallContext(token).get(), InsertOf(table, {RowOf({{"id", Int(id)}})}),
        &response);
  }

  std::string Count(const std::string& table) {
    return db_.Scalar("SELECT count(*) FROM " + table);
  }

  TestDatabase db_;
};

TEST_F(TlsTest, ServesAClientThatTrustsItsCa) {
  const TestPki& pki = TestPki::Get();
  std::string table = NewTable();
  auto server = StartServer(table, pki.server);
  auto channel = TlsChannel(server->address(), pki.ca.cert_pem);
  grpc::Status status = InsertOne(channel, table, 1);
  EXPECT_TRUE(status.ok()) << status.error_message();
  bool serving = false;
  EXPECT_TRUE(CheckHealth(channel, &serving).ok());
  EXPECT_TRUE(serving);
  EXPECT_EQ(Count(table), "1");
}

TEST_F(TlsTest, RefusesPlaintextClientsAndClientsTrustingAnotherCa) {
  const TestPki& pki = TestPki::Get();
  std::string table = NewTable();
  auto server = StartServer(table, pki.server);
  EXPECT_EQ(InsertOne(server->Channel(), table, 1).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(
      InsertOne(TlsChannel(server->address(), pki.rogue_ca.cert_pem), table, 2)
          .error_code(),
      grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Count(table), "0");
  EXPECT_TRUE(server->Running());
}

TEST_F(TlsTest, ClientsRefuseAnExpiredServerCertificate) {
  const TestPki& pki = TestPki::Get();
  std::string table = NewTable();
  auto server = StartServer(table, pki.expired_server);
  EXPECT_EQ(InsertOne(TlsChannel(server->address(), pki.ca.cert_pem), table, 1)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Count(table), "0");
}

TEST_F(TlsTest, MutualTlsRefusesMissingForeignAndExpiredClientCertificates) {
  const TestPki& pki = TestPki::Get();
  std::string table = NewTable();
  auto server = StartServer(table, pki.server, pki.ca.cert_path);
  const std::string& address = server->address();
  const std::string& ca = pki.ca.cert_pem;
  EXPECT_EQ(InsertOne(TlsChannel(address, ca), table, 1).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(InsertOne(TlsChannel(address, ca, &pki.rogue_client), table, 2)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(InsertOne(TlsChannel(address, ca, &pki.expired_client), table, 3)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Count(table), "0");
  grpc::Status good =
      InsertOne(TlsChannel(address, ca, &pki.client_b), table, 4);
  EXPECT_TRUE(good.ok()) << good.error_message();
  EXPECT_EQ(Count(table), "1");
}

TEST_F(TlsTest, AMappedClientCertificateIsItsTenantWithoutAToken) {
  const TestPki& pki = TestPki::Get();
  std::string table = NewTable();
  auto server = StartServer(table, pki.server, pki.ca.cert_path);
  auto stub = v1::IdemService::NewStub(
      TlsChannel(server->address(), pki.ca.cert_pem, &pki.client_a));
  std::string key = TestDatabase::UniqueName("cert-key");
  v1::KeyedCallResponse response;
  grpc::Status status = stub->KeyedCall(
      CallContext().get(), KeyedInsertOf(key, table, {RowOf({{"id", Int(1)}})}),
      &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(db_.Scalar("SELECT string_agg(tenant, ',') FROM "
                       "idem.idempotency_keys WHERE idempotency_key = '" +
                       key + "'"),
            "cert-tenant");
}

TEST_F(TlsTest, AnAuthorizationHeaderIsJudgedAloneEvenWithAMappedCertificate) {
  const TestPki& pki = TestPki::Get();
  std::string table = NewTable();
  auto server = StartServer(table, pki.server, pki.ca.cert_path);
  auto mapped = TlsChannel(server->address(), pki.ca.cert_pem, &pki.client_a);
  EXPECT_EQ(InsertOne(mapped, table, 1, "not-the-token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Count(table), "0");
}

TEST_F(TlsTest, AVerifiedButUnmappedCertificateStillNeedsAToken) {
  const TestPki& pki = TestPki::Get();
  std::string table = NewTable();
  auto server = StartServer(table, pki.server, pki.ca.cert_path);
  auto unmapped = TlsChannel(server->address(), pki.ca.cert_pem, &pki.client_b);
  grpc::Status status = InsertOne(unmapped, table, 1, "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message().find("client-b"), std::string::npos);
  EXPECT_EQ(Count(table), "0");
  EXPECT_TRUE(InsertOne(unmapped, table, 2).ok());
}

TEST(TlsSettingsTest, CertificateSubjectsWithoutMutualTlsDoNotStart) {
  const TestPki& pki = TestPki::Get();
  std::string log;
  int exit_status = RunServerCommand(
      {{"IDEM_ALLOW_PLAINTEXT", "false"},
       {"IDEM_TLS_CERT", pki.server.cert_path},
       {"IDEM_TLS_KEY", pki.server.key_path},
       {"IDEM_AUTH_TOKENS", WriteTokensFile({{"", kClientASubject, "t"}})}},
      {}, &log);
  EXPECT_NE(exit_status, 0);
  EXPECT_NE(log.find("IDEM_TLS_CLIENT_CA"), std::string::npos) << log;
}

TEST(TlsSettingsTest, NoTlsAndNoPlaintextOptInDoesNotStart) {
  std::string log;
  EXPECT_EQ(RunServerCommand({{"IDEM_ALLOW_PLAINTEXT", "false"}}, {}, &log), 2)
      << log;
  EXPECT_NE(log.find("IDEM_ALLOW_PLAINTEXT"), std::string::npos) << log;
}

// TLS files that exist but cannot serve stop the start with a message
// naming the setting, instead of a server that takes connections and fails
// every handshake (gRPC only logs such files): text that is no PEM, a key
// of another certificate, a folder, a client CA that holds no certificate.
TEST(TlsSettingsTest, UnusableTlsFilesDoNotStart) {
  const TestPki& pki = TestPki::Get();
  const std::string garbage = WriteTempFile("garbage.pem", "garbage\n");
  struct Case {
    std::string cert, key, client_ca, says;
  };
  for (const Case& bad : {
           Case{garbage, pki.server.key_path, "", "IDEM_TLS_CERT"},
           Case{pki.server.cert_path, garbage, "", "IDEM_TLS_KEY"},
           Case{pki.server.cert_path, pki.client_a.key_path, "",
                "IDEM_TLS_KEY"},
           Case{pki.dir, pki.server.key_path, "", "IDEM_TLS_CERT"},
           Case{pki.server.cert_path, pki.server.key_path, garbage,
                "IDEM_TLS_CLIENT_CA"},
       }) {
    SCOPED_TRACE(bad.cert + " " + bad.key + " " + bad.client_ca);
    std::map<std::string, std::string> env = {{"IDEM_ALLOW_PLAINTEXT", "false"},
                                              {"IDEM_TLS_CERT", bad.cert},
                                              {"IDEM_TLS_KEY", bad.key}};
    if (!bad.client_ca.empty()) env["IDEM_TLS_CLIENT_CA"] = bad.client_ca;
    std::string log;
    EXPECT_EQ(RunServerCommand(env, {}, &log), 1) << log;
    EXPECT_NE(log.find(bad.says), std::string::npos) << log;
  }
}

// gRPC serves copies of the TLS files from a private folder under $TMPDIR;
// where none can be made, the start stops and says where it tried.
TEST(TlsSettingsTest, ATmpdirWithoutRoomForTheServedCopiesDoesNotStart) {
  const TestPki& pki = TestPki::Get();
  std::string log;
  EXPECT_EQ(RunServerCommand({{"IDEM_ALLOW_PLAINTEXT", "false"},
                              {"IDEM_TLS_CERT", pki.server.cert_path},
                              {"IDEM_TLS_KEY", pki.server.key_path},
                              {"TMPDIR", "/proc/self"}},
                             {}, &log),
            1)
      << log;
  EXPECT_NE(log.find("TMPDIR"), std::string::npos) << log;
  EXPECT_NE(log.find("/proc/self/idem-tls-"), std::string::npos) << log;
}

}  // namespace
}  // namespace idem::testing
