// Every error Insert and Update can produce: the gRPC status code, a message
// without SQL in it, and not a byte changed in any table.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace idem::testing {
namespace {

using grpc::StatusCode;

constexpr int kMaxRows = 5;
constexpr int kMaxMessageBytes = 4096;

class ErrorsTest : public IntegrationTest {
 public:
  static void SetUpTestSuite() {
    StartServer({{"IDEM_MAX_ROWS", std::to_string(kMaxRows)},
                 {"IDEM_MAX_MESSAGE_BYTES", std::to_string(kMaxMessageBytes)}});
  }

 protected:
  void SetUp() override {
    table_ = CreateTable(
        "id bigint PRIMARY KEY, name text NOT NULL, note text, n bigint, "
        "small smallint, data bytea, version bigint");
    db().Exec("INSERT INTO " + table_ +
              " VALUES (1, 'one', NULL, 10, 1, '\\x01', 1), "
              "(2, 'two', 'b', 20, 2, NULL, 1)");
    pair_ = CreateTable("a bigint, b text, v text, PRIMARY KEY (a, b)");
    db().Exec("INSERT INTO " + pair_ + " VALUES (1, 'x', 'v')");
    outside_ = TestDatabase::UniqueName("not_allowed");
    db().Exec("CREATE TABLE " + outside_ + " (id bigint PRIMARY KEY, v text)");
    db().Exec("INSERT INTO " + outside_ + " VALUES (1, 'v')");
  }

  void Refused(const v1::InsertRequest& request,
               StatusCode code = StatusCode::INVALID_ARGUMENT) {
    ExpectInsertRefused(request, code, {table_, pair_, outside_});
  }

  void Refused(const v1::UpdateRequest& request,
               StatusCode code = StatusCode::INVALID_ARGUMENT) {
    ExpectUpdateRefused(request, code, {table_, pair_, outside_});
  }

  // A valid new row of table_ with `changes` applied.
  Columns Row(int id, const Columns& changes = {}) {
    return Columns{{"id", Int(id)}, {"name", Str("row")}} + changes;
  }

  v1::InsertRequest InsertRow(const Columns& changes) {
    return InsertOf(table_, {Row(3, changes)});
  }

  v1::UpdateRequest SetOnRow1(const Columns& set) {
    return UpdateOf(table_, {{"id", Int(1)}}, set);
  }

  std::string table_, pair_, outside_;
};

// --- Insert -----------------------------------------------------------------

TEST_F(ErrorsTest, InsertIntoAllowedButAbsentTableIsNotFound) {
  Refused(InsertOf(ReserveTable(), {Row(3)}), StatusCode::NOT_FOUND);
}

TEST_F(ErrorsTest, InsertIntoTableOutsideAllowListIsPermissionDenied) {
  Refused(InsertOf(outside_, {{{"id", Int(2)}, {"v", Str("w")}}}),
          StatusCode::PERMISSION_DENIED);
  Refused(InsertOf("public." + outside_, {{{"id", Int(2)}}}),
          StatusCode::PERMISSION_DENIED);
  Refused(InsertOf("pg_catalog.pg_class", {{{"oid", Int(2)}}}),
          StatusCode::PERMISSION_DENIED);
}

TEST_F(ErrorsTest, InsertWithEmptyTableNameOrNoRows) {
  Refused(InsertOf("", {Row(3)}));
  Refused(InsertOf(table_, {}));
}

TEST_F(ErrorsTest, InsertWithUnknownColumn) {
  Refused(InsertRow({{"nope", Int(1)}}));
  Refused(InsertRow({{"Name", Str("case matters")}}));
}

TEST_F(ErrorsTest, InsertWithoutEveryKeyColumn) {
  Refused(InsertOf(table_, {{{"name", Str("no id")}}}));
  Refused(InsertOf(pair_, {{{"a", Int(2)}, {"v", Str("no b")}}}));
}

TEST_F(ErrorsTest, InsertOfValueThatWillNotCast) {
  Refused(InsertRow({{"n", Str("abc")}}));
  Refused(InsertRow({{"small", Int(100000)}}));
  Refused(InsertRow({{"data", Str("\\xZZ")}}));
  Refused(InsertOf(table_, {{{"id", Str("1.5")}, {"name", Str("x")}}}));
  Refused(InsertRow({{"note", Str(std::string("nul\0byte", 8))}}));
}

TEST_F(ErrorsTest, InsertOfNullIntoNotNull) {
  Refused(InsertRow({{"name", Null()}}));
  Refused(InsertOf(table_, {{{"id", Int(3)}}}));  // name omitted
  Refused(InsertOf(table_, {{{"id", Null()}, {"name", Str("x")}}}));
}

TEST_F(ErrorsTest, InsertOfWrongValueKind) {
  Refused(InsertRow({{"n", Bool(true)}}));
  Refused(InsertRow({{"note", Bytes("x")}}));
  Refused(InsertRow({{"note", Int(1)}}));
  Refused(InsertRow({{"data", Dbl(1.5)}}));
  Refused(InsertRow({{"note", v1::Value()}}));  // no kind set
}

TEST_F(ErrorsTest, InsertOfTooManyRows) {
  std::vector<Columns> rows;
  for (int id = 10; id < 10 + kMaxRows + 1; ++id) rows.push_back(Row(id));
  Refused(InsertOf(table_, rows));
  rows.pop_back();
  ExpectOutcomes(
      InsertOk(InsertOf(table_, rows)),
      std::vector<v1::RowOutcome>(kMaxRows, v1::ROW_OUTCOME_INSERTED));
}

TEST_F(ErrorsTest, InsertWhoseRowsNameDifferentColumns) {
  Refused(InsertOf(table_, {Row(3), Row(4, {{"note", Str("extra")}})}));
  Refused(InsertOf(table_,
                   {Row(3, {{"note", Str("x")}}), Row(4, {{"n", Int(1)}})}));
  Refused(InsertOf(table_, {Row(3, {{"note", Str("x")}}), Row(4)}));
}

TEST_F(ErrorsTest, InsertWithTheSameKeyTwice) {
  for (v1::OnConflict policy :
       {v1::ON_CONFLICT_DO_NOTHING, v1::ON_CONFLICT_DO_UPDATE}) {
    SCOPED_TRACE(v1::OnConflict_Name(policy));
    Refused(InsertOf(table_, {Row(3), Row(4), Row(3)}, policy));
    Refused(
        InsertOf(table_, {Row(1), Row(1, {{"name", Str("other")}})}, policy));
    Refused(InsertOf(
        pair_,
        {{{"a", Int(5)}, {"b", Str("y")}}, {{"a", Int(5)}, {"b", Str("y")}}},
        policy));
  }
}

TEST_F(ErrorsTest, InsertWithBadConflictPolicyOrVersionColumn) {
  v1::InsertRequest request = InsertRow({{"version", Int(2)}});
  request.set_on_conflict(static_cast<v1::OnConflict>(99));
  Refused(request);
  // version_column: only with DO_UPDATE, a non-key column given in the rows.
  Refused(InsertOf(table_, {Row(1, {{"version", Int(2)}})},
                   v1::ON_CONFLICT_DO_NOTHING, "version"));
  Refused(InsertOf(table_, {Row(1)}, v1::ON_CONFLICT_DO_UPDATE, "version"));
  Refused(InsertOf(table_, {Row(1)}, v1::ON_CONFLICT_DO_UPDATE, "id"));
  Refused(InsertOf(table_, {Row(1)}, v1::ON_CONFLICT_DO_UPDATE, "nope"));
}

TEST_F(ErrorsTest, OversizedInsert) {
  Refused(InsertRow({{"note", Str(std::string(kMaxMessageBytes, 'x'))}}));
}

// Past what the transport accepts (twice the limit) the refusal must still
// be INVALID_ARGUMENT: RESOURCE_EXHAUSTED means "overload, retry later".
// Past twice the limit gRPC's transport refuses the message before the
// handler sees it, with RESOURCE_EXHAUSTED and no retry delay (which the
// client library does not retry); nothing is written either way.
TEST_F(ErrorsTest, FarOversizedInsertIsRefusedByTheTransport) {
  Refused(InsertRow({{"note", Str(std::string(4 * kMaxMessageBytes, 'x'))}}),
          StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(ErrorsTest, InsertIsAllOrNothing) {
  // Rows 3 and 4 are fine; the third row fails in PostgreSQL's cast.
  Refused(
      InsertOf(table_, {Row(3, {{"n", Str("3")}}), Row(4, {{"n", Str("4")}}),
                        Row(5, {{"n", Str("five")}})}));
  // The same with the failure detected by the server, and with DO_UPDATE
  // on rows that exist.
  Refused(InsertOf(table_,
                   {Row(1, {{"n", Int(11)}}), Row(3, {{"n", Int(3)}}),
                    Row(4, {{"n", Str("9223372036854775808")}})},
                   v1::ON_CONFLICT_DO_UPDATE));
  Refused(InsertOf(table_, {Row(3), Row(4), Row(5, {{"name", Null()}})}));
}

// --- Update -----------------------------------------------------------------

TEST_F(ErrorsTest, UpdateOfAllowedButAbsentTableIsNotFound) {
  Refused(UpdateOf(ReserveTable(), {{"id", Int(1)}}, {{"name", Str("x")}}),
          StatusCode::NOT_FOUND);
}

TEST_F(ErrorsTest, UpdateOfTableOutsideAllowListIsPermissionDenied) {
  Refused(UpdateOf(outside_, {{"id", Int(1)}}, {{"v", Str("x")}}),
          StatusCode::PERMISSION_DENIED);
}

TEST_F(ErrorsTest, UpdateWithEmptyTableNameOrNothingToChange) {
  Refused(UpdateOf("", {{"id", Int(1)}}, {{"name", Str("x")}}));
  Refused(SetOnRow1({}));
}

TEST_F(ErrorsTest, UpdateWithUnknownColumn) {
  Refused(SetOnRow1({{"nope", Str("x")}}));
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"nope", Int(1)}}));
  Refused(UpdateOf(table_, {{"nope", Int(1)}}, {{"name", Str("x")}}));
}

TEST_F(ErrorsTest, UpdateWithMissingOrExtraKeyColumn) {
  Refused(UpdateOf(pair_, {{"a", Int(1)}}, {{"v", Str("x")}}));
  Refused(UpdateOf(pair_, {{"a", Int(1)}, {"b", Str("x")}, {"v", Str("v")}},
                   {{"v", Str("x")}}));
  Refused(UpdateOf(table_, {}, {{"name", Str("x")}}));
  Refused(UpdateOf(table_, {{"id", Null()}}, {{"name", Str("x")}}));
  // set and increment never change the key.
  Refused(SetOnRow1({{"id", Int(5)}}));
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"id", Int(1)}}));
}

TEST_F(ErrorsTest, UpdateOfValueThatWillNotCast) {
  Refused(SetOnRow1({{"n", Str("abc")}}));
  Refused(SetOnRow1({{"small", Int(100000)}}));
  Refused(UpdateOf(table_, {{"id", Str("one")}}, {{"name", Str("x")}}));
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"n", Str("1x")}}));
  // The new value overflows.
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"n", Int(INT64_MAX)}}));
}

TEST_F(ErrorsTest, UpdateOfNullIntoNotNull) {
  Refused(SetOnRow1({{"name", Null()}}));
}

TEST_F(ErrorsTest, UpdateIncrementOfNonNumericColumnOrByNull) {
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"name", Int(1)}}));
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"name", Str("1")}}));
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"data", Int(1)}}));
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"n", Null()}}));
}

TEST_F(ErrorsTest, UpdateOfWrongValueKind) {
  Refused(SetOnRow1({{"n", Bool(true)}}));
  Refused(SetOnRow1({{"note", Bytes("x")}}));
  Refused(SetOnRow1({{"note", v1::Value()}}));
}

TEST_F(ErrorsTest, UpdateWithColumnInSetAndIncrement) {
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {{"n", Int(1)}}, {{"n", Int(1)}}));
}

TEST_F(ErrorsTest, UpdateWithBadVersionColumn) {
  Refused(
      UpdateOf(table_, {{"id", Int(1)}}, {{"name", Str("x")}}, {}, "version"));
  Refused(
      UpdateOf(table_, {{"id", Int(1)}}, {{"version", Null()}}, {}, "version"));
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {{"name", Str("x")}}, {}, "nope"));
}

TEST_F(ErrorsTest, OversizedUpdate) {
  Refused(SetOnRow1({{"note", Str(std::string(kMaxMessageBytes, 'x'))}}));
}

}  // namespace
}  // namespace idem::testing
