// Tables whose shape the outcome tests' key shapes do not cover: a
// partitioned table, a primary key that INSERT ... ON CONFLICT cannot use
// (DEFERRABLE), and tables altered while the server runs.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/support/polling.h"
#include "tests/support/rich_status.h"

namespace idem::testing {
namespace {

constexpr v1::RowOutcome kInserted = v1::ROW_OUTCOME_INSERTED;
constexpr v1::RowOutcome kDuplicate = v1::ROW_OUTCOME_DUPLICATE;
constexpr v1::RowOutcome kConflict = v1::ROW_OUTCOME_CONFLICT;

class TableShapesTest : public IntegrationTest {
 protected:
  static Columns Row(int id, const std::string& name) {
    return {{"id", Int(id)}, {"name", Str(name)}};
  }
};

// A partitioned table (as time-series and multi-tenant tables often are)
// takes DO_NOTHING inserts, keyed and not, and `returning`. DO_UPDATE must
// tell an inserted row from an updated one, which PostgreSQL does not show
// for a partitioned table: it is refused, and nothing is written.
TEST_F(TableShapesTest, APartitionedTableTakesInsertsButNotDoUpdate) {
  const std::string table = ReserveTable();
  db().Exec("CREATE TABLE " + table +
            " (id bigint PRIMARY KEY, name text) PARTITION BY HASH (id)");
  for (int remainder : {0, 1}) {
    db().Exec("CREATE TABLE " + table + "_p" + std::to_string(remainder) +
              " PARTITION OF " + table +
              " FOR VALUES WITH (MODULUS 2, REMAINDER " +
              std::to_string(remainder) + ")");
  }
  ExpectOutcomes(InsertOk(InsertOf(table, {Row(1, "a"), Row(2, "b")})),
                 {kInserted, kInserted});
  v1::InsertRequest again =
      InsertOf(table, {Row(2, "changed"), Row(1, "a"), Row(3, "c")},
               v1::ON_CONFLICT_DO_NOTHING);
  again.add_returning("name");
  const v1::InsertResponse response = InsertOk(again);
  ExpectOutcomes(response, {kConflict, kDuplicate, kInserted});
  ASSERT_EQ(response.returned_size(), 3);
  EXPECT_EQ(response.returned(0).columns().at("name").string_value(), "b");

  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key(TestDatabase::UniqueName("partitioned"));
  *keyed.mutable_insert() = InsertOf(table, {Row(4, "d")});
  for (bool replayed : {false, true}) {
    v1::KeyedCallResponse answer;
    grpc::ClientContext context;
    const grpc::Status status =
        server().Stub()->KeyedCall(&context, keyed, &answer);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(answer.replayed(), replayed);
    ExpectOutcomes(answer.insert(), {kInserted});
  }
  EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + table), "4");

  ExpectInsertRefused(
      InsertOf(table, {Row(1, "new"), Row(5, "e")}, v1::ON_CONFLICT_DO_UPDATE),
      grpc::StatusCode::FAILED_PRECONDITION, {table});
}

// ON CONFLICT cannot use a DEFERRABLE primary key: a plain refusal that
// says so, not INTERNAL.
TEST_F(TableShapesTest, ADeferrablePrimaryKeyIsRefusedForInsert) {
  const std::string table =
      CreateTable("id bigint, name text, PRIMARY KEY (id) DEFERRABLE");
  ExpectInsertRefused(InsertOf(table, {Row(1, "a")}),
                      grpc::StatusCode::FAILED_PRECONDITION, {table});
}

// A BEFORE trigger that changes a row's key or skips the row leaves no way
// to tell the row's outcome: the insert is refused and rolled back, never
// committed and then answered "retry" (which every retry would meet again).
TEST_F(TableShapesTest, ARowATriggerRekeyedOrSkippedIsRefusedAndNotWritten) {
  const std::string table = CreateTable("code text PRIMARY KEY, name text");
  db().Exec("CREATE FUNCTION " + table +
            "_lower() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.name = 'skip' THEN RETURN NULL; END IF; "
            "NEW.code := lower(NEW.code); RETURN NEW; END $$");
  db().Exec("CREATE TRIGGER lower_code BEFORE INSERT ON " + table +
            " FOR EACH ROW EXECUTE FUNCTION " + table + "_lower()");
  ExpectOutcomes(
      InsertOk(InsertOf(table, {{{"code", Str("bob")}, {"name", Str("b")}}})),
      {kInserted});
  for (const char* name : {"a", "skip"}) {
    SCOPED_TRACE(name);
    ExpectInsertRefused(
        InsertOf(table, {{{"code", Str("Alice")}, {"name", Str(name)}}}),
        grpc::StatusCode::FAILED_PRECONDITION, {table});
  }
}

// A key column with a case-insensitive (nondeterministic) collation: two
// spellings are one key, as PostgreSQL compares them. The second row of a
// request meets the first, as if sent after it; never two INSERTED for one
// stored row.
TEST_F(TableShapesTest,
       KeysOfACaseInsensitiveCollationAreOneKeyInEverySpelling) {
  db().Exec(
      "CREATE COLLATION IF NOT EXISTS idem_test_ci "
      "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)");
  const std::string table =
      CreateTable("code text COLLATE idem_test_ci PRIMARY KEY, name text");
  auto row = [](const char* code, const char* name) {
    return Columns{{"code", Str(code)}, {"name", Str(name)}};
  };
  ExpectOutcomes(InsertOk(InsertOf(table, {row("Alice", "a"), row("ALICE", "a"),
                                           row("alice", "other")})),
                 {kInserted, kDuplicate, kConflict});
  EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + table), "1");
  ExpectOutcomes(InsertOk(InsertOf(table, {row("Bob", "b"), row("BOB", "B")},
                                   v1::ON_CONFLICT_DO_UPDATE)),
                 {kInserted, v1::ROW_OUTCOME_UPDATED});
  EXPECT_EQ(db().Scalar("SELECT code || ':' || name FROM " + table +
                        " WHERE code = 'bob'"),
            "Bob:B");
}

// varchar(n) keeps what an INSERT assigns it: a value whose excess over n
// is all spaces is stored cut to n, and is that value from then on: the
// key it names is the stored key, a resend of it is DUPLICATE, an Update
// finds it. Any other excess is refused, also through a domain, whose cast
// would cut it: never stored cut.
TEST_F(TableShapesTest, ABoundedLengthValueIsTheValueStoredAndNeverCut) {
  const std::string table = ReserveTable();
  db().Exec("CREATE DOMAIN " + table + "_short AS varchar(3)");
  db().Exec("CREATE TABLE " + table +
            " (code varchar(3) PRIMARY KEY, name varchar(3), tag " + table +
            "_short)");
  const Columns padded_key{{"code", Str("ab    ")}, {"name", Str("x")}};
  ExpectOutcomes(InsertOk(InsertOf(table, {padded_key})), {kInserted});
  ExpectOutcomes(InsertOk(InsertOf(table, {padded_key})), {kDuplicate});
  const Columns padded_value{{"code", Str("cd")}, {"name", Str("yz     ")}};
  ExpectOutcomes(
      InsertOk(InsertOf(table, {padded_value}, v1::ON_CONFLICT_DO_NOTHING)),
      {kInserted});
  ExpectOutcomes(
      InsertOk(InsertOf(table, {padded_value}, v1::ON_CONFLICT_DO_NOTHING)),
      {kDuplicate});
  EXPECT_EQ(db().Scalar("SELECT string_agg(code || '|' || name, ',' ORDER BY "
                        "code) FROM " +
                        table),
            "ab |x,cd|yz ");
  EXPECT_EQ(UpdateOk(UpdateOf(table, {{"code", Str("ab     ")}},
                              {{"name", Str("x")}})),
            v1::UPDATE_OUTCOME_UNCHANGED);

  ExpectInsertRefused(
      InsertOf(table, {{{"code", Str("ef")}, {"tag", Str("abcdef")}}}),
      "VALUE_INVALID", {table});
  ExpectInsertRefused(InsertOf(table, {{{"code", Str("abcd")}}}),
                      "VALUE_INVALID", {table});
}

// A constraint a row of a multi-row Insert breaks names that row (brief
// 8.1: `row` where it applies) when PostgreSQL's detail shows its values:
// a CHECK (the failing row), a UNIQUE key met in the table (the key's
// values). Nothing is written.
TEST_F(TableShapesTest, AConstraintViolationNamesTheRowThatBrokeIt) {
  const std::string table = CreateTable(
      "id bigint PRIMARY KEY, email text UNIQUE, qty int CHECK (qty >= 0), "
      "added timestamptz DEFAULT now()");
  auto row = [](int id, const char* email, int qty) {
    return Columns{{"id", Int(id)}, {"email", Str(email)}, {"qty", Int(qty)}};
  };
  ExpectOutcomes(InsertOk(InsertOf(table, {row(10, "x@example.com", 1)})),
                 {kInserted});
  for (const auto& [rows, broken] :
       std::vector<std::pair<std::vector<Columns>, std::string>>{
           {{row(1, "a@example.com", 1), row(2, "b@example.com", -1),
             row(3, "c@example.com", 1)},
            "1"},
           {{row(4, "d@example.com", 1), row(5, "e@example.com", 2),
             row(6, "x@example.com", 3)},
            "2"}}) {
    v1::InsertResponse response;
    const grpc::Status status = Insert(InsertOf(table, rows), &response);
    ExpectRefusal(status, "CONSTRAINT_VIOLATED");
    std::optional<google::rpc::Status> rich = RichStatusOf(status);
    ASSERT_TRUE(rich.has_value());
    std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(*rich);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->metadata().count("constraint"), 1u);
    auto named = info->metadata().find("row");
    EXPECT_EQ(named == info->metadata().end() ? "" : named->second, broken)
        << status.error_message();
  }
  EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + table), "1");
}

// Two spellings of one varchar(n) key in one request, one padded past the
// length: PostgreSQL stores them as one key, so the second row meets the
// first, as if sent after it; never two outcomes for one stored row.
TEST_F(TableShapesTest, TwoSpellingsOfOneBoundedKeyInOneRequestAreOneKey) {
  const std::string table =
      CreateTable("code varchar(3) PRIMARY KEY, name text");
  ExpectOutcomes(
      InsertOk(InsertOf(table, {{{"code", Str("ab    ")}, {"name", Str("x")}},
                                {{"code", Str("ab ")}, {"name", Str("x")}}})),
      {kInserted, kDuplicate});
  EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + table), "1");
}

// A migration that widens a column while the server runs: values must
// reach the table as the new type takes them, not cast to the old one
// (numeric(10,2) would store 1.2345 as 1.23), within seconds.
TEST_F(TableShapesTest, AColumnWidenedWhileServingTakesWiderValues) {
  const std::string table =
      CreateTable("id bigint PRIMARY KEY, amount numeric(10,2)");
  InsertOk(InsertOf(table, {{{"id", Int(0)}, {"amount", Str("1.23")}}}));
  db().Exec("ALTER TABLE " + table + " ALTER COLUMN amount TYPE numeric(12,4)");
  int id = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        ++id;
        InsertOk(
            InsertOf(table, {{{"id", Int(id)}, {"amount", Str("1.2345")}}}));
        return db().Scalar("SELECT amount::text FROM " + table +
                           " WHERE id = " + std::to_string(id)) == "1.2345";
      },
      std::chrono::seconds(15)));
}

// A column returned by `returning` whose type changed: PostgreSQL refuses
// to run a statement prepared before with the old result type. That is
// the session's, not the call's: a retry runs, and nothing is refused for
// good.
TEST_F(TableShapesTest, AReturnedColumnRetypedWhileServingIsReturnedAgain) {
  const std::string table =
      CreateTable("id bigint PRIMARY KEY, code varchar(4)");
  auto insert = [&](int id) {
    v1::InsertRequest request =
        InsertOf(table, {{{"id", Int(id)}, {"code", Str("abc")}}});
    request.add_returning("code");
    v1::InsertResponse response;
    return Insert(request, &response);
  };
  // Every session of the server prepares the statement.
  for (int id = 0; id < 20; ++id) ASSERT_TRUE(insert(id).ok());
  db().Exec("ALTER TABLE " + table + " ALTER COLUMN code TYPE varchar(8)");
  int id = 100;
  grpc::Status status;
  EXPECT_TRUE(Eventually(
      [&] {
        status = insert(++id);
        EXPECT_TRUE(status.ok() ||
                    status.error_code() == grpc::StatusCode::UNAVAILABLE)
            << status.error_code() << " " << status.error_message();
        return status.ok();
      },
      std::chrono::seconds(15)));
}

}  // namespace
}  // namespace idem::testing
