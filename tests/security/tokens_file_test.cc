#include "service/auth/tokens_file.h"

#include <gtest/gtest.h>

#include "service/common/sha256.h"
#include "tests/security/security_env.h"

namespace idem::auth {
namespace {

using ::idem::testing::WriteTempFile;

absl::StatusOr<std::vector<CredentialEntry>> Load(const std::string& json) {
  return LoadTokensFile(WriteTempFile("tokens.json", json));
}

const std::string kHash = Sha256Hex("secret");

TEST(TokensFileTest, ReadsTokensAndCertificateSubjects) {
  auto entries = Load(R"({"tokens": [
      {"sha256": ")" + kHash +
                      R"(", "tenant": "a", "tables": ["t"],
       "operations": ["insert", "keyed_call"]},
      {"client_cert_subject": "CN=svc,O=acme", "tenant": "b",
       "tables": ["*"], "operations": ["*"]}]})");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].sha256.size(), 32u);
  EXPECT_TRUE((*entries)[0].client_cert_subject.empty());
  EXPECT_TRUE((*entries)[0].caller.Allows(Operation::kKeyedCall));
  EXPECT_FALSE((*entries)[0].caller.Allows(Operation::kUpdate));
  EXPECT_FALSE((*entries)[0].caller.AllowsTable("public.other"));
  EXPECT_TRUE((*entries)[1].sha256.empty());
  EXPECT_EQ((*entries)[1].client_cert_subject, "CN=svc,O=acme");
  EXPECT_TRUE((*entries)[1].caller.AllowsTable("public.anything"));
}

TEST(TokensFileTest, RefusesAmbiguousOrIncompleteEntries) {
  const std::string token = R"({"sha256": ")" + kHash + R"(", "tenant": "a"})";
  for (const std::string& json : {
           std::string(R"({"tokens": [{"tenant": "a"}]})"),
           std::string(R"({"tokens": [{"sha256": "abc", "tenant": "a"}]})"),
           R"({"tokens": [{"sha256": ")" + kHash + R"("}]})",
           R"({"tokens": [)" + token + "," + token + "]}",
           std::string(
               R"({"tokens": [{"client_cert_subject": "CN=x", "tenant": "a"},
                          {"client_cert_subject": "CN=x", "tenant": "b"}]})"),
           std::string(
               R"({"tokens": [{"client_cert_subject": 7, "tenant": "a"}]})"),
           std::string(
               R"({"tokens": [{"client_cert_subject": "CN=x", "tenant": "a",
                          "operations": ["drop"]}]})"),
           std::string("not json"),
           // A typo must not pass as a permission never granted.
           std::string(
               R"({"tokens": [{"client_cert_subject": "CN=x", "tenant": "a",
                          "tabels": ["t"]}]})"),
           std::string(R"({"tokens": [], "tokenz": []})"),
       }) {
    absl::StatusOr<std::vector<CredentialEntry>> entries = Load(json);
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument)
        << json;
    EXPECT_EQ(entries.status().message().find(kHash), std::string::npos);
  }
}

}  // namespace
}  // namespace idem::auth
