// SQL in table names, column names and values is never executed: names are
// matched against the catalog and quoted, values travel as parameters and
// are stored verbatim. A canary table must survive every attempt.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace idem::testing {
namespace {

// The canary, and a table whose own name and column name are SQL.
struct Names {
  std::string canary = TestDatabase::UniqueName("canary");
  std::string drop = "; DROP TABLE " + canary + "; --";
  std::string table = "bobby\"" + drop;
  std::string column = "v\"); DELETE FROM " + canary + "; --";
};

// Quoted as an SQL identifier, for the test's own statements.
std::string Quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

const Names& names() {
  static const Names* names = new Names();
  return *names;
}

class InjectionTest : public IntegrationTest {
 public:
  static void SetUpTestSuite() {
    TestDatabase db;
    db.Exec("CREATE TABLE " + names().canary + " (id int PRIMARY KEY)");
    db.Exec("INSERT INTO " + names().canary + " VALUES (1)");
    db.Exec("CREATE TABLE " + Quoted(names().table) +
            " (id bigint PRIMARY KEY, " + Quoted(names().column) + " text)");
    // The allow-list names it the way PostgreSQL reads a name: quoted.
    StartServer({{"IDEM_TABLES", Quoted(names().table)}});
  }

 protected:
  void TearDown() override {
    EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + names().canary), "1");
  }

  std::string StoredValue(int id) {
    return db().Scalar("SELECT " + Quoted(names().column) + " FROM " +
                       Quoted(names().table) +
                       " WHERE id = " + std::to_string(id));
  }
};

const std::vector<std::string>& HostileValues() {
  static const std::vector<std::string> values = {
      names().drop,
      "'); DROP TABLE " + names().canary + "; --",
      "\"}, {\"; DROP TABLE " + names().canary,
      "\\\"; DROP TABLE " + names().canary + "; \\",
      "$1; DROP TABLE " + names().canary,
      "NULL",
      "{}",
      "{\"a\",\"b\"}",
      ",",
      "\\x41",
      "",
      "E'\\''",
      "$$; DROP TABLE " + names().canary + "; $$",
  };
  return values;
}

TEST_F(InjectionTest, HostileValuesAreStoredVerbatim) {
  std::vector<Columns> rows;
  for (size_t i = 0; i < HostileValues().size(); ++i) {
    rows.push_back({{"id", Int(static_cast<int64_t>(i))},
                    {names().column, Str(HostileValues()[i])}});
  }
  v1::InsertRequest request = InsertOf(names().table, rows);
  ExpectOutcomes(InsertOk(request), std::vector<v1::RowOutcome>(
                                        rows.size(), v1::ROW_OUTCOME_INSERTED));
  for (size_t i = 0; i < HostileValues().size(); ++i) {
    EXPECT_EQ(StoredValue(static_cast<int>(i)), HostileValues()[i]);
  }
  EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + Quoted(names().table) +
                        " WHERE " + Quoted(names().column) + " IS NULL"),
            "0");
  ExpectOutcomes(
      InsertOk(request),
      std::vector<v1::RowOutcome>(rows.size(), v1::ROW_OUTCOME_DUPLICATE));
}

TEST_F(InjectionTest, HostileValuesThroughUpdate) {
  InsertOk(InsertOf(names().table, {{{"id", Int(100)}}}));
  for (const std::string& value : HostileValues()) {
    v1::UpdateRequest request = UpdateOf(names().table, {{"id", Int(100)}},
                                         {{names().column, Str(value)}});
    EXPECT_EQ(UpdateOk(request), v1::UPDATE_OUTCOME_UPDATED);
    EXPECT_EQ(StoredValue(100), value);
    EXPECT_EQ(UpdateOk(request), v1::UPDATE_OUTCOME_UNCHANGED);
  }
}

TEST_F(InjectionTest, SchemaQualifiedHostileTableName) {
  ExpectOutcomes(
      InsertOk(InsertOf("public." + names().table,
                        {{{"id", Int(200)}, {names().column, Str("q")}}})),
      {v1::ROW_OUTCOME_INSERTED});
}

TEST_F(InjectionTest, HostileNamesThatAreNotAllowedAreRefused) {
  const std::string& canary = names().canary;
  for (const std::string& table :
       {canary + names().drop, canary + "; DROP TABLE " + canary,
        "\"" + canary + "\"; DROP TABLE " + canary + "; --",
        "public." + canary + " WHERE false; DROP TABLE " + canary,
        Quoted(names().table) + "; DROP TABLE " + canary}) {
    SCOPED_TRACE(table);
    ExpectInsertRefused(InsertOf(table, {{{"id", Int(1)}}}),
                        grpc::StatusCode::PERMISSION_DENIED, {canary});
    ExpectUpdateRefused(UpdateOf(table, {{"id", Int(1)}}, {{"id", Int(2)}}),
                        grpc::StatusCode::PERMISSION_DENIED, {canary});
  }
}

TEST_F(InjectionTest, HostileColumnNamesAreUnknownColumns) {
  std::vector<std::string> tables = {names().canary, Quoted(names().table)};
  for (const std::string& column :
       {names().drop, "id\"" + names().drop,
        "v) VALUES (1); DROP TABLE " + names().canary + "; --"}) {
    SCOPED_TRACE(column);
    ExpectInsertRefused(
        InsertOf(names().table, {{{"id", Int(300)}, {column, Str("x")}}}),
        grpc::StatusCode::INVALID_ARGUMENT, tables);
    ExpectUpdateRefused(
        UpdateOf(names().table, {{"id", Int(0)}}, {{column, Str("x")}}),
        grpc::StatusCode::INVALID_ARGUMENT, tables);
    ExpectUpdateRefused(UpdateOf(names().table, {{column, Int(0)}},
                                 {{names().column, Str("x")}}),
                        grpc::StatusCode::INVALID_ARGUMENT, tables);
  }
}

}  // namespace
}  // namespace idem::testing
