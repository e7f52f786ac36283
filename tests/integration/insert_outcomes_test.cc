// Every Insert outcome, with counts and in request order, for DO_NOTHING and
// DO_UPDATE with and without a version column, on three kinds of primary key.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"
#include "tests/integration/key_shapes.h"

namespace idem::testing {
namespace {

constexpr v1::RowOutcome kInserted = v1::ROW_OUTCOME_INSERTED;
constexpr v1::RowOutcome kDuplicate = v1::ROW_OUTCOME_DUPLICATE;
constexpr v1::RowOutcome kConflict = v1::ROW_OUTCOME_CONFLICT;
constexpr v1::RowOutcome kUpdated = v1::ROW_OUTCOME_UPDATED;
constexpr v1::RowOutcome kStale = v1::ROW_OUTCOME_STALE;

class InsertOutcomesTest : public IntegrationTest,
                           public ::testing::WithParamInterface<KeyShape> {
 protected:
  void SetUp() override {
    table_ = CreateTable(GetParam().Definition("name text, version bigint"));
  }

  Columns Row(int n, const std::string& name, v1::Value version = Int(1)) {
    return GetParam().key(n) +
           Columns{{"name", Str(name)}, {"version", version}};
  }

  // "name:version" of row n as stored, "" when absent.
  std::string Stored(int n) {
    return db().Scalar(
        "SELECT name || ':' || coalesce(version::text, 'null') "
        "FROM " +
        table_ + " WHERE " + GetParam().where(n));
  }

  std::string RowCount() {
    return db().Scalar("SELECT count(*) FROM " + table_);
  }

  std::string table_;
};

TEST_P(InsertOutcomesTest, DoNothingReportsDuplicateAndConflictInOrder) {
  // UNSPECIFIED means DO_NOTHING.
  ExpectOutcomes(InsertOk(InsertOf(table_, {Row(1, "a"), Row(2, "b")})),
                 {kInserted, kInserted});
  ExpectOutcomes(InsertOk(InsertOf(table_,
                                   {Row(3, "c"), Row(2, "changed"), Row(1, "a"),
                                    Row(4, "d"), Row(0, "z")},
                                   v1::ON_CONFLICT_DO_NOTHING)),
                 {kInserted, kConflict, kDuplicate, kInserted, kInserted});
  EXPECT_EQ(Stored(2), "b:1");  // a conflict leaves the row untouched
  EXPECT_EQ(Stored(3), "c:1");
  EXPECT_EQ(RowCount(), "5");
}

TEST_P(InsertOutcomesTest, ReplayedRequestIsAllDuplicateAndChangesNothing) {
  for (v1::OnConflict policy :
       {v1::ON_CONFLICT_DO_NOTHING, v1::ON_CONFLICT_DO_UPDATE}) {
    SCOPED_TRACE(v1::OnConflict_Name(policy));
    int first = policy * 10;
    v1::InsertRequest request = InsertOf(
        table_, {Row(first + 2, "b"), Row(first + 1, "a", Null())}, policy);
    ExpectOutcomes(InsertOk(request), {kInserted, kInserted});
    std::string before = db().Dump(table_);
    ExpectOutcomes(InsertOk(request), {kDuplicate, kDuplicate});
    EXPECT_EQ(db().Dump(table_), before);
  }
}

TEST_P(InsertOutcomesTest, DoUpdateWithoutVersionReplacesDifferentRows) {
  InsertOk(InsertOf(table_, {Row(1, "a"), Row(2, "b", Int(7))}));
  ExpectOutcomes(
      InsertOk(InsertOf(table_, {Row(2, "B", Int(3)), Row(3, "c"), Row(1, "a")},
                        v1::ON_CONFLICT_DO_UPDATE)),
      {kUpdated, kInserted, kDuplicate});
  // Without a version column an older version still wins.
  EXPECT_EQ(Stored(2), "B:3");
  EXPECT_EQ(Stored(3), "c:1");
  EXPECT_EQ(Stored(1), "a:1");
}

TEST_P(InsertOutcomesTest, DoUpdateWithVersionColumnKeepsNewerRows) {
  InsertOk(InsertOf(
      table_, {Row(1, "a", Int(5)), Row(2, "b", Int(5)), Row(3, "c", Int(5)),
               Row(4, "d", Int(5)), Row(5, "e", Null())}));
  ExpectOutcomes(InsertOk(InsertOf(table_,
                                   {Row(1, "a2", Int(6)), Row(2, "b2", Int(4)),
                                    Row(3, "c2", Int(5)), Row(4, "d", Int(5)),
                                    Row(6, "f", Int(1)), Row(5, "e2", Int(1))},
                                   v1::ON_CONFLICT_DO_UPDATE, "version")),
                 {kUpdated, kStale, kStale, kDuplicate, kInserted, kUpdated});
  EXPECT_EQ(Stored(1), "a2:6");
  EXPECT_EQ(Stored(2), "b:5");   // an older event never wins
  EXPECT_EQ(Stored(3), "c:5");   // nor does an equal version
  EXPECT_EQ(Stored(5), "e2:1");  // a NULL stored version gives way
  EXPECT_EQ(Stored(6), "f:1");
}

// Rows of one request that name one key apply in request order, as if sent
// one after the other: a later row meets the earlier one.
TEST_P(InsertOutcomesTest, OneKeyTwiceInARequestAppliesInOrder) {
  ExpectOutcomes(
      InsertOk(InsertOf(table_, {Row(1, "a"), Row(2, "b"), Row(1, "a"),
                                 Row(1, "other"), Row(2, "b")})),
      {kInserted, kInserted, kDuplicate, kConflict, kDuplicate});
  EXPECT_EQ(Stored(1), "a:1");
  EXPECT_EQ(RowCount(), "2");

  ExpectOutcomes(InsertOk(InsertOf(table_,
                                   {Row(1, "x"), Row(1, "x"), Row(1, "y"),
                                    Row(3, "c"), Row(3, "d")},
                                   v1::ON_CONFLICT_DO_UPDATE)),
                 {kUpdated, kDuplicate, kUpdated, kInserted, kUpdated});
  EXPECT_EQ(Stored(1), "y:1");
  EXPECT_EQ(Stored(3), "d:1");

  ExpectOutcomes(InsertOk(InsertOf(table_,
                                   {Row(4, "v5", Int(5)), Row(4, "v3", Int(3)),
                                    Row(4, "v7", Int(7)), Row(4, "v7", Int(7))},
                                   v1::ON_CONFLICT_DO_UPDATE, "version")),
                 {kInserted, kStale, kUpdated, kDuplicate});
  EXPECT_EQ(Stored(4), "v7:7");
}

// InsertRequest.returning: for every row, whatever its outcome, the named
// columns of the stored row as it is after the insert.
TEST_P(InsertOutcomesTest, ReturningGivesTheStoredRowOfEveryRow) {
  InsertOk(InsertOf(table_, {Row(1, "stored", Int(9))}));
  v1::InsertRequest request =
      InsertOf(table_, {Row(2, "new"), Row(1, "other"), Row(2, "new")});
  request.add_returning("name");
  request.add_returning("version");
  v1::InsertResponse response = InsertOk(request);
  ExpectOutcomes(response, {kInserted, kConflict, kDuplicate});
  ASSERT_EQ(response.returned_size(), 3);
  EXPECT_EQ(response.returned(0).columns().at("name").string_value(), "new");
  EXPECT_EQ(response.returned(1).columns().at("name").string_value(), "stored");
  EXPECT_EQ(response.returned(1).columns().at("version").int_value(), 9);
  EXPECT_EQ(response.returned(2).columns().at("version").int_value(), 1);
}

INSTANTIATE_TEST_SUITE_P(KeyShapes, InsertOutcomesTest,
                         ::testing::ValuesIn(AllKeyShapes()), KeyShapeName);

// An allow-listed table may be named with or without its schema.
class TableNameTest : public IntegrationTest {
 protected:
  std::string NewTable() {
    return CreateTable("id bigint PRIMARY KEY, v text");
  }
};

TEST_F(TableNameTest, SchemaQualifiedAfterBareNameWasUsed) {
  std::string table = NewTable();
  ExpectOutcomes(InsertOk(InsertOf(table, {{{"id", Int(1)}}})), {kInserted});
  ExpectOutcomes(InsertOk(InsertOf("public." + table, {{{"id", Int(1)}}})),
                 {kDuplicate});
}

// The table did not exist when the server started and was never used by
// its bare name: "public.<name>" must find it all the same.
TEST_F(TableNameTest, SchemaQualifiedBeforeBareNameWasUsed) {
  std::string table = NewTable();
  ExpectOutcomes(InsertOk(InsertOf("public." + table, {{{"id", Int(1)}}})),
                 {kInserted});
  EXPECT_EQ(UpdateOk(UpdateOf("public." + NewTable(), {{"id", Int(1)}},
                              {{"v", Str("x")}})),
            v1::UPDATE_OUTCOME_NOT_FOUND);
}

// One key in two spellings in one request ("7" and "07" into bigint, a
// uuid in upper and lower case, "1.0" and "1" into numeric) is one key:
// its rows apply in request order like rows that spell it the same.
class KeySpellingsTest : public IntegrationTest {};

TEST_F(KeySpellingsTest, OneKeyInTwoSpellingsAppliesInOrder) {
  std::string table = CreateTable(
      "id bigint, u uuid, n numeric, name text, PRIMARY KEY (id, u, n)");
  const std::string uuid = "0b5a4a8e-1d2c-4f00-9a3b-7c6d5e4f3a2b";
  auto row = [&](const char* id, const std::string& u, const char* n,
                 const char* name) {
    return Columns{
        {"id", Str(id)}, {"u", Str(u)}, {"n", Str(n)}, {"name", Str(name)}};
  };
  std::string upper = uuid;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  ExpectOutcomes(InsertOk(InsertOf(table, {row("7", uuid, "1", "a"),
                                           row("07", upper, "1.0", "a"),
                                           row("+7", uuid, "1.00", "b")})),
                 {kInserted, kDuplicate, kConflict});
  ExpectOutcomes(InsertOk(InsertOf(
                     table,
                     {row("8", uuid, "2", "a"), row("7", upper, "1.0", "c"),
                      row("08", uuid, "2.0", "d"), row("007", uuid, "1", "c")},
                     v1::ON_CONFLICT_DO_UPDATE)),
                 {kInserted, kUpdated, kUpdated, kDuplicate});
  EXPECT_EQ(db().Scalar("SELECT string_agg(id || ':' || name, ',' ORDER BY id) "
                        "FROM " +
                        table),
            "7:c,8:d");
}

// Returned values come back in the kind a caller would send them, and
// columns the insert left to their defaults come back too.
class ReturningTest : public IntegrationTest {};

TEST_F(ReturningTest, DefaultsAndEveryKindComeBack) {
  std::string table = CreateTable(
      "id bigint PRIMARY KEY, seq bigserial, flag boolean DEFAULT true, "
      "ratio double precision DEFAULT 0.5, amount numeric DEFAULT 1.10, "
      "data bytea DEFAULT '\\x0102', note text");
  v1::InsertRequest request = InsertOf(table, {{{"id", Int(1)}}});
  for (const char* column :
       {"seq", "flag", "ratio", "amount", "data", "note"}) {
    request.add_returning(column);
  }
  v1::InsertResponse response = InsertOk(request);
  ASSERT_EQ(response.returned_size(), 1);
  const auto& row = response.returned(0).columns();
  EXPECT_GT(row.at("seq").int_value(), 0);
  EXPECT_TRUE(row.at("flag").bool_value());
  EXPECT_EQ(row.at("ratio").double_value(), 0.5);
  EXPECT_EQ(row.at("amount").string_value(), "1.10");
  EXPECT_EQ(row.at("data").bytes_value(), std::string("\x01\x02"));
  EXPECT_TRUE(row.at("note").has_null_value());
}

// A column added after the server read the table comes back when asked
// for, as when written: the server looks the table up again.
TEST_F(ReturningTest, AColumnAddedSinceTheTableWasReadComesBack) {
  std::string table = CreateTable("id bigint PRIMARY KEY");
  ExpectOutcomes(InsertOk(InsertOf(table, {{{"id", Int(1)}}})), {kInserted});
  db().Exec("ALTER TABLE " + table + " ADD COLUMN note text DEFAULT 'new'");
  v1::InsertRequest request = InsertOf(table, {{{"id", Int(2)}}});
  request.add_returning("note");
  v1::InsertResponse response = InsertOk(request);
  ASSERT_EQ(response.returned_size(), 1);
  EXPECT_EQ(response.returned(0).columns().at("note").string_value(), "new");
}

}  // namespace
}  // namespace idem::testing
