// The server under the role deploy/sql/least_privilege.sql makes: every
// operation works, the role cannot change or drop a table, and injection
// attempts through names and values change nothing.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <pqxx/nontransaction>

#include "tests/security/security_env.h"
#include "tests/support/rich_status.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem::testing {
namespace {

constexpr char kPassword[] = "lp-test-password";

// The tests' URL "postgresql://postgres@host:port/idem" with another user
// and database.
std::string UrlFor(const std::string& user, const std::string& database) {
  std::string url = DatabaseUrl();
  size_t at = url.find('@');
  size_t slash = url.rfind('/');
  return "postgresql://" + user + ":" + kPassword + "@" +
         url.substr(at + 1, slash - at - 1) + "/" + database;
}

// Runs `sql` and returns its SQLSTATE, "" when it succeeds. Through libpq:
// libpqxx leaves sqlstate() empty for some errors (42501 among them).
std::string SqlState(const std::string& url, const std::string& sql) {
  PGconn* connection = PQconnectdb(url.c_str());
  if (PQstatus(connection) != CONNECTION_OK) {
    PQfinish(connection);
    return "connection failed";
  }
  PGresult* result = PQexec(connection, sql.c_str());
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string sqlstate = state == nullptr ? "" : state;
  PQclear(result);
  PQfinish(connection);
  return sqlstate;
}

std::string Scalar(const std::string& url, const std::string& sql) {
  pqxx::connection connection(url);
  pqxx::nontransaction txn(connection);
  pqxx::result result = txn.exec(sql);
  return result.empty() || result[0][0].is_null() ? "" : result[0][0].c_str();
}

// Runs the deploy script through psql; returns its output on failure.
std::string RunLeastPrivilegeScript(const std::string& admin_url,
                                    const std::string& role,
                                    const std::string& tables) {
  const char* source = std::getenv("IDEM_SOURCE_DIR");
  if (source == nullptr) return "IDEM_SOURCE_DIR is not set";
  std::string command =
      "psql -X -q '" + admin_url + "' -v ON_ERROR_STOP=1 -v app_role=" + role +
      " -v app_password=" + kPassword + " -v tables=" + tables + " -f " +
      source + "/deploy/sql/least_privilege.sql 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  return pclose(pipe) == 0 ? "" : "psql failed:\n" + output;
}

class LeastPrivilegeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    database_ = new std::string(TestDatabase::UniqueName("idem_lp"));
    role_ = new std::string(TestDatabase::UniqueName("idem_app"));
    TestDatabase().Exec("CREATE DATABASE " + *database_);
    admin_url_ = new std::string(UrlFor("postgres", *database_));
    app_url_ = new std::string(UrlFor(*role_, *database_));
    ASSERT_EQ(SqlState(*admin_url_,
                       "CREATE TABLE orders (id bigint PRIMARY KEY, note text,"
                       " n bigint NOT NULL DEFAULT 0);"
                       "CREATE TABLE audit (id bigint PRIMARY KEY, "
                       " seq bigserial, what text);"
                       "CREATE TABLE secrets (id bigint PRIMARY KEY, s text);"
                       "INSERT INTO secrets VALUES (1, 'hidden')"),
              "");
    // Run twice: the script must be safe to run again.
    for (int run = 0; run < 2; ++run) {
      std::string failure =
          RunLeastPrivilegeScript(*admin_url_, *role_, "public.orders,audit");
      ASSERT_EQ(failure, "");
    }
    storage_ = new std::string(WriteTempFile("source.txt", "payload"));
    std::string root = storage_->substr(0, storage_->rfind('/'));
    server_ = StartServerWith({{"IDEM_DATABASE_URL", *app_url_},
                               {"IDEM_TABLES", "orders,audit"},
                               {"IDEM_STORAGE_ROOT", root}})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    TestDatabase admin;
    admin.Exec("DROP DATABASE IF EXISTS " + *database_ + " WITH (FORCE)");
    admin.Exec("DROP ROLE IF EXISTS " + *role_);
    for (std::string* s : {database_, role_, admin_url_, app_url_, storage_}) {
      delete s;
    }
  }

  std::string Orders() {
    return Scalar(*admin_url_,
                  "SELECT string_agg(t::text, ';' ORDER BY id) FROM orders t");
  }

  static ServerProcess* server_;
  static std::string* database_;
  static std::string* role_;
  static std::string* admin_url_;
  static std::string* app_url_;
  static std::string* storage_;
};

ServerProcess* LeastPrivilegeTest::server_ = nullptr;
std::string* LeastPrivilegeTest::database_ = nullptr;
std::string* LeastPrivilegeTest::role_ = nullptr;
std::string* LeastPrivilegeTest::admin_url_ = nullptr;
std::string* LeastPrivilegeTest::app_url_ = nullptr;
std::string* LeastPrivilegeTest::storage_ = nullptr;

TEST_F(LeastPrivilegeTest, TheServerRunsAsTheRoleAndOwnsOnlyItsSchema) {
  EXPECT_EQ(Scalar(*admin_url_,
                   "SELECT string_agg(DISTINCT usename, ',') FROM "
                   "pg_stat_activity WHERE datname = current_database() AND "
                   "pid <> pg_backend_pid() AND backend_type = 'client "
                   "backend'"),
            *role_);
  EXPECT_EQ(Scalar(*admin_url_,
                   "SELECT nspowner::regrole::text FROM pg_namespace WHERE "
                   "nspname = 'idem'"),
            *role_);
  EXPECT_EQ(Scalar(*admin_url_,
                   "SELECT tableowner FROM pg_tables WHERE schemaname = "
                   "'idem' AND tablename = 'idempotency_keys'"),
            *role_);
}

TEST_F(LeastPrivilegeTest, EveryOperationWorks) {
  auto stub = server_->Stub();
  v1::InsertResponse inserted;
  ASSERT_TRUE(
      stub->Insert(
              CallContext().get(),
              InsertOf("orders", {RowOf({{"id", Int(1)}, {"note", Str("a")}})}),
              &inserted)
          .ok());
  EXPECT_EQ(inserted.inserted(), 1);
  v1::InsertRequest upsert =
      InsertOf("orders", {RowOf({{"id", Int(1)}, {"note", Str("b")}})});
  upsert.set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
  ASSERT_TRUE(stub->Insert(CallContext().get(), upsert, &inserted).ok());
  EXPECT_EQ(inserted.updated(), 1);
  // A serial column's default draws from the sequence the script granted.
  grpc::Status audit = stub->Insert(
      CallContext().get(),
      InsertOf("audit", {RowOf({{"id", Int(1)}, {"what", Str("x")}})}),
      &inserted);
  EXPECT_TRUE(audit.ok()) << audit.error_message();

  v1::UpdateRequest update;
  update.set_table("orders");
  *update.mutable_key() = RowOf({{"id", Int(1)}});
  *update.mutable_increment() = RowOf({{"n", Int(5)}});
  v1::UpdateResponse updated;
  ASSERT_TRUE(stub->Update(CallContext().get(), update, &updated).ok());
  EXPECT_EQ(updated.outcome(), v1::UPDATE_OUTCOME_UPDATED);

  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key(TestDatabase::UniqueName("lp-key"));
  *keyed.mutable_update() = update;
  v1::KeyedCallResponse first, second;
  ASSERT_TRUE(stub->KeyedCall(CallContext().get(), keyed, &first).ok());
  ASSERT_TRUE(stub->KeyedCall(CallContext().get(), keyed, &second).ok());
  EXPECT_FALSE(first.replayed());
  EXPECT_TRUE(second.replayed());
  EXPECT_EQ(Orders(), "(1,b,10)");

  v1::KeyedCallRequest keyed_copy;
  keyed_copy.set_idempotency_key(TestDatabase::UniqueName("lp-copy"));
  keyed_copy.mutable_copy_file()->set_source_path("source.txt");
  keyed_copy.mutable_copy_file()->set_destination_path("copy.txt");
  grpc::Status copied =
      stub->KeyedCall(CallContext().get(), keyed_copy, &first);
  EXPECT_TRUE(copied.ok()) << copied.error_message();
  EXPECT_EQ(first.copy_file().outcome(), v1::COPY_OUTCOME_COPIED);

  // What the key reaper does.
  EXPECT_EQ(SqlState(*app_url_,
                     "DELETE FROM idem.idempotency_keys WHERE expires_at < "
                     "now() - interval '100 years'"),
            "");
}

// A grant the role lost is the deployment's fault, not the call's: the
// database's refusal reads as one, and a key it came back under is not
// kept, so that the call runs once the grant is back.
TEST_F(LeastPrivilegeTest, AGrantTakenAwayIsNotAllowedAndNotKeptUnderAKey) {
  auto stub = server_->Stub();
  v1::InsertRequest insert =
      InsertOf("orders", {RowOf({{"id", Int(40)}, {"note", Str("g")}})});
  v1::InsertResponse inserted;
  ASSERT_TRUE(stub->Insert(CallContext().get(), insert, &inserted).ok());
  v1::UpdateRequest update;
  update.set_table("orders");
  *update.mutable_key() = RowOf({{"id", Int(40)}});
  *update.mutable_increment() = RowOf({{"n", Int(1)}});
  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key(TestDatabase::UniqueName("lp-revoked"));
  *keyed.mutable_update() = update;
  const std::string before = Orders();

  ASSERT_EQ(SqlState(*admin_url_, "REVOKE UPDATE ON orders FROM " + *role_),
            "");
  v1::UpdateResponse updated;
  const grpc::Status refused =
      stub->Update(CallContext().get(), update, &updated);
  ExpectRefusal(refused, "OPERATION_NOT_ALLOWED");
  // Which table the grant is missing on (brief 8.1: `table`), as the
  // request named it.
  std::optional<google::rpc::Status> rich = RichStatusOf(refused);
  ASSERT_TRUE(rich.has_value());
  std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(*rich);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->metadata().count("table") ? info->metadata().at("table") : "",
            "orders");
  v1::KeyedCallResponse answer;
  ExpectRefusal(stub->KeyedCall(CallContext().get(), keyed, &answer),
                "OPERATION_NOT_ALLOWED");
  EXPECT_EQ(Orders(), before);

  ASSERT_EQ(SqlState(*admin_url_, "GRANT UPDATE ON orders TO " + *role_), "");
  grpc::Status granted = stub->KeyedCall(CallContext().get(), keyed, &answer);
  ASSERT_TRUE(granted.ok()) << granted.error_message();
  EXPECT_FALSE(answer.replayed());
  EXPECT_EQ(answer.update().outcome(), v1::UPDATE_OUTCOME_UPDATED);
}

TEST_F(LeastPrivilegeTest, TheRoleCannotChangeAnySchemaButItsOwn) {
  const std::string kInsufficientPrivilege = "42501";
  for (const char* sql : {
           "ALTER TABLE orders ADD COLUMN evil int",
           "ALTER TABLE orders DROP COLUMN note",
           "DROP TABLE orders",
           "TRUNCATE orders",
           "DELETE FROM orders",
           "CREATE INDEX evil ON orders (note)",
           "CREATE TABLE public.evil (x int)",
           "CREATE SCHEMA evil",
           "SELECT * FROM secrets",
       }) {
    EXPECT_EQ(SqlState(*app_url_, sql), kInsufficientPrivilege) << sql;
  }
  EXPECT_EQ(Scalar(*admin_url_,
                   "SELECT count(*) FROM information_schema.columns WHERE "
                   "table_name = 'orders'"),
            "3");
}

TEST_F(LeastPrivilegeTest, InjectionThroughNamesAndValuesChangesNothing) {
  auto stub = server_->Stub();
  ASSERT_EQ(SqlState(*admin_url_,
                     "INSERT INTO orders VALUES (50, 'before', 0) "
                     "ON CONFLICT DO NOTHING"),
            "");
  const std::string before = Orders();
  v1::InsertResponse response;
  for (const std::string table :
       {"orders; DROP TABLE orders; --", "orders\" ; DROP TABLE orders; --",
        "secrets", "pg_catalog.pg_authid", "idem.idempotency_keys",
        "public.orders'--"}) {
    grpc::Status status =
        stub->Insert(CallContext().get(),
                     InsertOf(table, {RowOf({{"id", Int(60)}})}), &response);
    EXPECT_FALSE(status.ok()) << table;
  }
  for (const std::string column :
       {"note\"; DROP TABLE orders; --", "note) VALUES (1); DROP TABLE x; --",
        "n = n + 1000, note"}) {
    grpc::Status status = stub->Insert(
        CallContext().get(),
        InsertOf("orders", {RowOf({{"id", Int(61)}, {column, Str("x")}})}),
        &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << column;
  }
  v1::UpdateRequest update;
  update.set_table("orders");
  *update.mutable_key() = RowOf({{"id", Str("50 OR true")}});
  *update.mutable_set() = RowOf({{"note", Str("hijacked")}});
  v1::UpdateResponse updated;
  EXPECT_FALSE(stub->Update(CallContext().get(), update, &updated).ok());
  EXPECT_EQ(Orders(), before);

  // A hostile value and key are stored as data, verbatim.
  const std::string value = "'); DROP TABLE orders; --";
  const std::string key = TestDatabase::UniqueName("k');DROP-TABLE-orders;--");
  v1::KeyedCallResponse keyed;
  ASSERT_TRUE(
      stub->KeyedCall(
              CallContext().get(),
              KeyedInsertOf(key, "orders",
                            {RowOf({{"id", Int(62)}, {"note", Str(value)}})}),
              &keyed)
          .ok());
  EXPECT_EQ(Scalar(*admin_url_, "SELECT note FROM orders WHERE id = 62"),
            value);
  EXPECT_EQ(Scalar(*admin_url_,
                   "SELECT count(*) FROM idem.idempotency_keys WHERE "
                   "idempotency_key = " +
                       pqxx::connection(*admin_url_).quote(key)),
            "1");
  EXPECT_EQ(Scalar(*admin_url_, "SELECT s FROM secrets WHERE id = 1"),
            "hidden");
}

}  // namespace
}  // namespace idem::testing
