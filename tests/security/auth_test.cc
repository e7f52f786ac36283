// Bearer tokens against a plaintext server: who is refused, what each
// tenant may do, tenant isolation of idempotency keys, what answers without
// credentials, and a sweep of odd metadata.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/security/security_env.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem::testing {
namespace {

constexpr char kAlpha[] = "alpha-token";
constexpr char kBeta[] = "beta-token";
constexpr char kOtherTableOnly[] = "gamma-token";
constexpr char kNoKeyedCall[] = "delta-token";

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestDatabase db;
    table_ = new std::string(TestDatabase::UniqueName("auth"));
    other_table_ = new std::string(TestDatabase::UniqueName("auth_other"));
    for (const std::string* t : {table_, other_table_}) {
      db.Exec("CREATE TABLE " + *t + " (id bigint PRIMARY KEY, note text)");
    }
    std::string tokens = WriteTokensFile(
        {{kAlpha, "", "alpha"},
         {kBeta, "", "beta"},
         {kOtherTableOnly, "", "gamma", {*other_table_}},
         {kNoKeyedCall, "", "delta", {"*"}, {"insert", "update"}}});
    server_ = StartServerWith({{"IDEM_AUTH_TOKENS", tokens},
                               {"IDEM_TABLES", *table_ + "," + *other_table_}})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete table_;
    delete other_table_;
  }

  grpc::Status Insert(const std::string& token, const std::string& table,
                      int id) {
    v1::InsertResponse response;
    return server_->Stub()->Insert(CallContext(token).get(),
                                   InsertOf(table, {RowOf({{"id", Int(id)}})}),
                                   &response);
  }
  grpc::Status KeyedInsert(const std::string& token, const std::string& key,
                           const std::string& table, int id,
                           v1::KeyedCallResponse* response) {
    return server_->Stub()->KeyedCall(
        CallContext(token).get(),
        KeyedInsertOf(key, table, {RowOf({{"id", Int(id)}})}), response);
  }
  grpc::Status Batch(const std::string& token,
                     const std::vector<v1::BatchCall>& calls,
                     v1::BatchResponse* response) {
    v1::BatchRequest request;
    for (const v1::BatchCall& call : calls) *request.add_calls() = call;
    return server_->Stub()->Batch(CallContext(token).get(), request, response);
  }
  static v1::BatchCall PlainCall(const std::string& table, int id) {
    v1::BatchCall call;
    *call.mutable_insert() = InsertOf(table, {RowOf({{"id", Int(id)}})});
    return call;
  }
  static v1::BatchCall KeyedCall(const std::string& key,
                                 const std::string& table, int id) {
    v1::BatchCall call;
    *call.mutable_keyed_call() =
        KeyedInsertOf(key, table, {RowOf({{"id", Int(id)}})});
    return call;
  }
  grpc::Status GetKey(const std::string& token, const std::string& key,
                      v1::GetKeyResponse* response) {
    v1::GetKeyRequest request;
    request.set_idempotency_key(key);
    return server_->Stub()->GetKey(CallContext(token).get(), request, response);
  }
  grpc::Status ForgetKey(const std::string& token, const std::string& key,
                         v1::ForgetKeyResponse* response) {
    v1::ForgetKeyRequest request;
    request.set_idempotency_key(key);
    return server_->Stub()->ForgetKey(CallContext(token).get(), request,
                                      response);
  }
  std::string KeysStored(const std::string& key) {
    return db_.Scalar(
        "SELECT coalesce(string_agg(tenant, ',' ORDER BY tenant), '') FROM "
        "idem.idempotency_keys WHERE idempotency_key = '" +
        key + "'");
  }

  static ServerProcess* server_;
  static std::string* table_;
  static std::string* other_table_;
  TestDatabase db_;
};

ServerProcess* AuthTest::server_ = nullptr;
std::string* AuthTest::table_ = nullptr;
std::string* AuthTest::other_table_ = nullptr;

TEST_F(AuthTest, EveryRpcRefusesCallsWithoutAValidToken) {
  // A key alpha stored, which GetKey and ForgetKey without a token try.
  const std::string stored = TestDatabase::UniqueName("stored-key");
  v1::KeyedCallResponse first;
  ASSERT_TRUE(KeyedInsert(kAlpha, stored, *table_, 50, &first).ok());
  std::string before = db_.Dump(*table_);
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    SCOPED_TRACE("token \"" + token + "\"");
    auto stub = server_->Stub();
    EXPECT_EQ(Insert(token, *table_, 1).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::UpdateRequest update;
    update.set_table(*table_);
    v1::UpdateResponse update_response;
    EXPECT_EQ(stub->Update(CallContext(token).get(), update, &update_response)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::CopyFileRequest copy;
    v1::CopyFileResponse copy_response;
    EXPECT_EQ(stub->CopyFile(CallContext(token).get(), copy, &copy_response)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::KeyedCallResponse keyed;
    EXPECT_EQ(
        KeyedInsert(token, "no-token-key", *table_, 1, &keyed).error_code(),
        grpc::StatusCode::UNAUTHENTICATED);
    v1::BatchResponse batch;
    EXPECT_EQ(
        Batch(token,
              {PlainCall(*table_, 1), KeyedCall("no-token-key", *table_, 1)},
              &batch)
            .error_code(),
        grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(batch.results_size(), 0);
    v1::GetKeyResponse read;
    EXPECT_EQ(GetKey(token, stored, &read).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(read.state(), v1::KEY_STATE_UNSPECIFIED);
    v1::ForgetKeyResponse forgot;
    EXPECT_EQ(ForgetKey(token, stored, &forgot).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(db_.Dump(*table_), before);
  EXPECT_EQ(KeysStored("no-token-key"), "");
  EXPECT_EQ(KeysStored(stored), "alpha");
}

TEST_F(AuthTest, ATokenWithoutTheTablesPermissionWritesNothing) {
  std::string key = TestDatabase::UniqueName("gamma-key");
  std::string before = db_.Dump(*table_);
  grpc::Status plain = Insert(kOtherTableOnly, *table_, 10);
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::KeyedCallResponse response;
  EXPECT_EQ(
      KeyedInsert(kOtherTableOnly, key, *table_, 11, &response).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(db_.Dump(*table_), before);
  EXPECT_EQ(KeysStored(key), "");
  // The same token may use the table it was given.
  EXPECT_TRUE(Insert(kOtherTableOnly, *other_table_, 12).ok());
}

TEST_F(AuthTest, ATokenWithoutKeyedCallCannotKeyedCall) {
  std::string key = TestDatabase::UniqueName("delta-key");
  std::string before = db_.Dump(*table_);
  v1::KeyedCallResponse response;
  grpc::Status status = KeyedInsert(kNoKeyedCall, key, *table_, 20, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("keyed_call"), std::string::npos);
  EXPECT_EQ(db_.Dump(*table_), before);
  EXPECT_EQ(KeysStored(key), "");
}

TEST_F(AuthTest, PermissionsApplyToEachCallOfABatch) {
  const std::string key = TestDatabase::UniqueName("batch-gamma-key");
  const std::string delta_key = TestDatabase::UniqueName("batch-delta-key");
  const std::string before = db_.Dump(*table_);
  v1::BatchResponse gamma;
  ASSERT_TRUE(Batch(kOtherTableOnly,
                    {PlainCall(*table_, 40), PlainCall(*other_table_, 41),
                     KeyedCall(key, *table_, 42)},
                    &gamma)
                  .ok());
  ASSERT_EQ(gamma.results_size(), 3);
  EXPECT_EQ(gamma.results(0).code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(gamma.results(1).code(), grpc::StatusCode::OK);
  EXPECT_EQ(gamma.results(2).code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::BatchResponse delta;
  ASSERT_TRUE(
      Batch(kNoKeyedCall, {KeyedCall(delta_key, *table_, 43)}, &delta).ok());
  ASSERT_EQ(delta.results_size(), 1);
  EXPECT_EQ(delta.results(0).code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(delta.results(0).message().find("keyed_call"), std::string::npos);
  EXPECT_EQ(db_.Dump(*table_), before);
  EXPECT_EQ(KeysStored(key), "");
  EXPECT_EQ(KeysStored(delta_key), "");
  EXPECT_EQ(
      db_.Scalar("SELECT count(*) FROM " + *other_table_ + " WHERE id = 41"),
      "1");
}

TEST_F(AuthTest, TenantsUsingTheSameKeyStringNeverSeeEachOther) {
  std::string key = TestDatabase::UniqueName("shared-key");
  v1::KeyedCallResponse alpha, beta;
  ASSERT_TRUE(KeyedInsert(kAlpha, key, *table_, 30, &alpha).ok());
  ASSERT_TRUE(KeyedInsert(kBeta, key, *table_, 31, &beta).ok());
  EXPECT_FALSE(alpha.replayed());
  EXPECT_FALSE(beta.replayed());
  EXPECT_EQ(alpha.insert().inserted(), 1);
  EXPECT_EQ(beta.insert().inserted(), 1);
  EXPECT_EQ(KeysStored(key), "alpha,beta");
  EXPECT_EQ(
      db_.Scalar("SELECT count(*) FROM " + *table_ + " WHERE id IN (30, 31)"),
      "2");
  // Each replays its own answer; beta sending alpha's call under the key is
  // a different call for beta's key, not a look at alpha's.
  v1::KeyedCallResponse again;
  ASSERT_TRUE(KeyedInsert(kAlpha, key, *table_, 30, &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(KeyedInsert(kBeta, key, *table_, 30, &again).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(AuthTest, GetKeyAndForgetKeyNeverReachAnotherTenantsKey) {
  std::string key = TestDatabase::UniqueName("forget-key");
  v1::KeyedCallResponse alpha;
  ASSERT_TRUE(KeyedInsert(kAlpha, key, *table_, 60, &alpha).ok());
  v1::GetKeyResponse read;
  ASSERT_TRUE(GetKey(kBeta, key, &read).ok());
  EXPECT_EQ(read.state(), v1::KEY_STATE_ABSENT);
  EXPECT_FALSE(read.has_answer());
  v1::ForgetKeyResponse forgot;
  ASSERT_TRUE(ForgetKey(kBeta, key, &forgot).ok());
  EXPECT_FALSE(forgot.forgotten());
  // Alpha's key is where it was: its call still replays, runs nothing.
  EXPECT_EQ(KeysStored(key), "alpha");
  v1::KeyedCallResponse again;
  ASSERT_TRUE(KeyedInsert(kAlpha, key, *table_, 60, &again).ok());
  EXPECT_TRUE(again.replayed());
  ASSERT_TRUE(GetKey(kAlpha, key, &read).ok());
  EXPECT_EQ(read.state(), v1::KEY_STATE_FINISHED);
}

TEST_F(AuthTest, HealthAnswersWithoutCredentialsAndReflectionIsOff) {
  bool serving = false;
  grpc::Status health = CheckHealth(server_->Channel(), &serving);
  EXPECT_TRUE(health.ok()) << health.error_message();
  EXPECT_TRUE(serving);
  // IDEM_REFLECTION defaults to off when authentication is on.
  EXPECT_EQ(ListServicesByReflection(server_->Channel()).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST(ReflectionSettingTest, OnWhenAskedForEvenWithAuthentication) {
  auto server = StartServerWith(
      {{"IDEM_AUTH_TOKENS", WriteTokensFile({{kAlpha, "", "alpha"}})},
       {"IDEM_REFLECTION", "true"}});
  EXPECT_TRUE(ListServicesByReflection(server->Channel()).ok());
}

TEST(ReflectionSettingTest, OffWhenAskedForWithoutAuthentication) {
  auto server = StartServerWith({{"IDEM_REFLECTION", "false"}});
  EXPECT_EQ(ListServicesByReflection(server->Channel()).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

// Odd metadata gets a clean UNAUTHENTICATED that repeats no credential, and
// the server stays healthy and writes nothing.
TEST_F(AuthTest, OddAuthorizationMetadataIsRefusedCleanly) {
  const std::string huge_token(7 * 1024, 'x');
  struct Case {
    const char* name;
    std::vector<std::pair<std::string, std::string>> metadata;
  };
  const std::vector<Case> cases = {
      {"huge token", {{"authorization", "Bearer " + huge_token}}},
      {"binary header only",
       {{"authorization-bin", std::string("\x00\xff\x01"
                                          "Bearer",
                                          9)}}},
      {"binary header beside a wrong token",
       {{"authorization-bin", std::string(kAlpha)},
        {"authorization", "Bearer nope"}}},
      {"two valid tokens",
       {{"authorization", std::string("Bearer ") + kAlpha},
        {"authorization", std::string("Bearer ") + kAlpha}}},
      {"empty bearer", {{"authorization", "Bearer "}}},
      {"bare scheme", {{"authorization", "Bearer"}}},
      {"lower-case scheme, wrong token", {{"authorization", "bearer nope"}}},
      {"basic auth", {{"authorization", "Basic YWxwaGE6dG9rZW4="}}},
      {"token without scheme", {{"authorization", kAlpha}}},
      {"empty header", {{"authorization", ""}}},
  };
  std::string before = db_.Dump(*table_);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<grpc::ClientContext> context = CallContext();
    for (const auto& [name, value] : c.metadata)
      context->AddMetadata(name, value);
    v1::InsertResponse response;
    grpc::Status status = server_->Stub()->Insert(
        context.get(), InsertOf(*table_, {RowOf({{"id", Int(40)}})}),
        &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_LT(status.error_message().size(), 200u);
    EXPECT_EQ(status.error_message().find("xxxx"), std::string::npos);
    EXPECT_EQ(status.error_message().find(kAlpha), std::string::npos);
  }
  // Far beyond gRPC's metadata limit: the transport refuses it before the
  // service sees it, and may drop the connection, so it gets its own.
  std::unique_ptr<grpc::ClientContext> context = CallContext();
  context->AddMetadata("authorization",
                       "Bearer " + std::string(64 * 1024, 'y'));
  v1::InsertResponse response;
  EXPECT_FALSE(v1::IdemService::NewStub(OwnChannel(server_->address()))
                   ->Insert(context.get(),
                            InsertOf(*table_, {RowOf({{"id", Int(41)}})}),
                            &response)
                   .ok());
  EXPECT_EQ(db_.Dump(*table_), before);
  bool serving = false;
  grpc::Status health = CheckHealth(OwnChannel(server_->address()), &serving);
  EXPECT_TRUE(health.ok()) << health.error_message();
  EXPECT_TRUE(serving);
  EXPECT_TRUE(server_->Running());
}

// RFC 7235: the scheme is case-insensitive; the token is not.
TEST_F(AuthTest, TheSchemeIsCaseInsensitiveButTheTokenIsNot) {
  std::unique_ptr<grpc::ClientContext> lower = CallContext();
  lower->AddMetadata("authorization", std::string("bearer ") + kAlpha);
  v1::InsertResponse response;
  EXPECT_TRUE(server_->Stub()
                  ->Insert(lower.get(),
                           InsertOf(*table_, {RowOf({{"id", Int(50)}})}),
                           &response)
                  .ok());
  EXPECT_EQ(Insert("ALPHA-TOKEN", *table_, 51).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace idem::testing
