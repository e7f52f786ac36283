// Every error Insert and Update can produce: the gRPC status code, a message
// without SQL in it, and not a byte changed in any table.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/integration/harness.h"
#include "tests/support/raw_unary_call.h"
#include "tests/support/rich_status.h"

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

  void Refused(const v1::InsertRequest& request, const Refusal& refusal) {
    ExpectInsertRefused(request, refusal, {table_, pair_, outside_});
  }

  void Refused(const v1::UpdateRequest& request, const Refusal& refusal) {
    ExpectUpdateRefused(request, refusal, {table_, pair_, outside_});
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
  Refused(InsertOf(ReserveTable(), {Row(3)}), "TABLE_NOT_FOUND");
}

TEST_F(ErrorsTest, InsertIntoTableOutsideAllowListIsPermissionDenied) {
  Refused(InsertOf(outside_, {{{"id", Int(2)}, {"v", Str("w")}}}),
          "TABLE_NOT_ALLOWED");
  Refused(InsertOf("public." + outside_, {{{"id", Int(2)}}}),
          "TABLE_NOT_ALLOWED");
  Refused(InsertOf("pg_catalog.pg_class", {{{"oid", Int(2)}}}),
          "TABLE_NOT_ALLOWED");
}

TEST_F(ErrorsTest, InsertWithEmptyTableNameOrNoRows) {
  Refused(InsertOf("", {Row(3)}), "REQUEST_INVALID");
  Refused(InsertOf(table_, {}), "REQUEST_INVALID");
}

TEST_F(ErrorsTest, InsertWithUnknownColumn) {
  Refused(InsertRow({{"nope", Int(1)}}), "COLUMN_UNKNOWN");
  Refused(InsertRow({{"Name", Str("case matters")}}), "COLUMN_UNKNOWN");
}

TEST_F(ErrorsTest, InsertWithoutEveryKeyColumn) {
  Refused(InsertOf(table_, {{{"name", Str("no id")}}}), "REQUEST_INVALID");
  Refused(InsertOf(pair_, {{{"a", Int(2)}, {"v", Str("no b")}}}),
          "REQUEST_INVALID");
}

TEST_F(ErrorsTest, InsertOfValueThatWillNotCast) {
  Refused(InsertRow({{"n", Str("abc")}}), "VALUE_INVALID");
  Refused(InsertRow({{"small", Int(100000)}}), "VALUE_INVALID");
  Refused(InsertRow({{"data", Str("\\xZZ")}}), "VALUE_INVALID");
  Refused(InsertOf(table_, {{{"id", Str("1.5")}, {"name", Str("x")}}}),
          "VALUE_INVALID");
  Refused(InsertRow({{"note", Str(std::string("nul\0byte", 8))}}),
          "VALUE_INVALID");
}

// The object-identifier types resolve their text when it is cast: a name
// that resolves to nothing is the value's fault, as a number that will not
// parse is, and retrying it cannot help.
TEST_F(ErrorsTest, ANameThatResolvesToNothingIsAnInvalidValue) {
  const std::string names = CreateTable(
      "id bigint PRIMARY KEY, t regtype, p regproc, o regoper, s "
      "regnamespace, r regrole, c regconfig, f regprocedure");
  db().Exec("INSERT INTO " + names + " (id) VALUES (1)");
  const std::vector<std::string> tables = {names, table_};
  for (const char* column : {"t", "p", "o", "s", "r", "c", "f"}) {
    SCOPED_TRACE(column);
    for (const char* value :
         {"no_such_name", "\"Bad name\"", "a.b.c.d", "abs"}) {
      SCOPED_TRACE(value);
      ExpectInsertRefused(
          InsertOf(names, {{{"id", Int(2)}, {column, Str(value)}}}),
          "VALUE_INVALID", tables);
      ExpectUpdateRefused(
          UpdateOf(names, {{"id", Int(1)}}, {{column, Str(value)}}),
          "VALUE_INVALID", tables);
    }
  }
}

TEST_F(ErrorsTest, InsertOfNullIntoNotNull) {
  Refused(InsertRow({{"name", Null()}}), "VALUE_INVALID");
  Refused(InsertOf(table_, {{{"id", Int(3)}}}),
          "VALUE_INVALID");  // name omitted
  Refused(InsertOf(table_, {{{"id", Null()}, {"name", Str("x")}}}),
          "VALUE_INVALID");
}

TEST_F(ErrorsTest, InsertOfWrongValueKind) {
  Refused(InsertRow({{"n", Bool(true)}}), "VALUE_INVALID");
  Refused(InsertRow({{"note", Bytes("x")}}), "VALUE_INVALID");
  Refused(InsertRow({{"note", Int(1)}}), "VALUE_INVALID");
  Refused(InsertRow({{"data", Dbl(1.5)}}), "VALUE_INVALID");
  Refused(InsertRow({{"note", v1::Value()}}), "VALUE_INVALID");  // no kind set
}

TEST_F(ErrorsTest, InsertOfTooManyRows) {
  std::vector<Columns> rows;
  for (int id = 10; id < 10 + kMaxRows + 1; ++id) rows.push_back(Row(id));
  Refused(InsertOf(table_, rows), "LIMIT_EXCEEDED");
  rows.pop_back();
  ExpectOutcomes(
      InsertOk(InsertOf(table_, rows)),
      std::vector<v1::RowOutcome>(kMaxRows, v1::ROW_OUTCOME_INSERTED));
}

// A later row naming a column the table lacks, and a value PostgreSQL
// refuses in a later row: refused, and nothing of the earlier rows written.
TEST_F(ErrorsTest, InsertWithABadLaterRowWritesNothing) {
  Refused(
      InsertOf(table_, {Row(3), Row(4), {{"id", Int(5)}, {"nam", Str("x")}}}),
      "COLUMN_UNKNOWN");
  Refused(InsertOf(table_, {Row(3, {{"small", Str("1")}}),
                            Row(4, {{"small", Str("99999")}})}),
          "VALUE_INVALID");
  Refused(InsertOf(table_,
                   {Row(3, {{"n", Str("7")}}), Row(4, {{"n", Str("seven")}})}),
          "VALUE_INVALID");
}

TEST_F(ErrorsTest, InsertWhoseRowsNameDifferentColumns) {
  Refused(InsertOf(table_, {Row(3), Row(4, {{"note", Str("extra")}})}),
          "REQUEST_INVALID");
  Refused(
      InsertOf(table_, {Row(3, {{"note", Str("x")}}), Row(4, {{"n", Int(1)}})}),
      "REQUEST_INVALID");
  Refused(InsertOf(table_, {Row(3, {{"note", Str("x")}}), Row(4)}),
          "REQUEST_INVALID");
}

// Rows naming one key run in successive statements; one failing in a later
// statement still leaves nothing of the earlier ones.
TEST_F(ErrorsTest, InsertWithRepeatedKeysIsAllOrNothing) {
  db().Exec("ALTER TABLE " + table_ + " ADD CHECK (n >= 0)");
  Refused(InsertOf(table_,
                   {{{"id", Int(3)}, {"name", Str("a")}, {"n", Int(1)}},
                    {{"id", Int(4)}, {"name", Str("x")}, {"n", Int(1)}},
                    {{"id", Int(3)}, {"name", Str("b")}, {"n", Int(-1)}}},
                   v1::ON_CONFLICT_DO_UPDATE),
          "CONSTRAINT_VIOLATED");
}

TEST_F(ErrorsTest, InsertReturningAnUnknownColumn) {
  v1::InsertRequest request = InsertRow({});
  request.add_returning("nope");
  Refused(request, "COLUMN_UNKNOWN");
}

TEST_F(ErrorsTest, InsertWithBadConflictPolicyOrVersionColumn) {
  v1::InsertRequest request = InsertRow({{"version", Int(2)}});
  request.set_on_conflict(static_cast<v1::OnConflict>(99));
  Refused(request, "REQUEST_INVALID");
  // version_column: only with DO_UPDATE, a non-key column given in the rows.
  Refused(InsertOf(table_, {Row(1, {{"version", Int(2)}})},
                   v1::ON_CONFLICT_DO_NOTHING, "version"),
          "REQUEST_INVALID");
  Refused(InsertOf(table_, {Row(1)}, v1::ON_CONFLICT_DO_UPDATE, "version"),
          "REQUEST_INVALID");
  Refused(InsertOf(table_, {Row(1)}, v1::ON_CONFLICT_DO_UPDATE, "id"),
          "REQUEST_INVALID");
  Refused(InsertOf(table_, {Row(1)}, v1::ON_CONFLICT_DO_UPDATE, "nope"),
          "REQUEST_INVALID");
  // A version guard without a version, as Update refuses it: a new row
  // would be written with none, a stored one would always be STALE.
  Refused(InsertOf(table_, {Row(1, {{"version", Null()}})},
                   v1::ON_CONFLICT_DO_UPDATE, "version"),
          "REQUEST_INVALID");
  Refused(
      InsertOf(table_,
               {Row(1, {{"version", Int(2)}}), Row(2, {{"version", Null()}})},
               v1::ON_CONFLICT_DO_UPDATE, "version"),
      "REQUEST_INVALID");
}

TEST_F(ErrorsTest, OversizedInsert) {
  Refused(InsertRow({{"note", Str(std::string(kMaxMessageBytes, 'x'))}}),
          "LIMIT_EXCEEDED");
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

// A string that is not UTF-8 (a C++ caller's Latin-1 text) makes a proto3
// request that does not parse: a malformed request, not an unknown method.
TEST_F(ErrorsTest, RequestWithAStringThatIsNotUtf8IsMalformed) {
  const std::string latin1 = "caf\xe9";
  Refused(InsertRow({{"note", Str(latin1)}}), "REQUEST_INVALID");
  Refused(InsertOf(table_ + latin1, {Row(3)}), "REQUEST_INVALID");
  Refused(SetOnRow1({{"note", Str(latin1)}}), "REQUEST_INVALID");
}

// Bytes that are no message at all, to every method: the same refusal.
TEST_F(ErrorsTest, BytesThatAreNoMessageAreMalformed) {
  const std::string before = db().Dump(table_);
  const std::string garbage = "\xff\xff\xff\xff\xff";
  for (const char* method : {"Insert", "Update", "CopyFile", "KeyedCall",
                             "Batch", "GetKey", "ForgetKey"}) {
    SCOPED_TRACE(method);
    grpc::ClientContext context;
    ExpectRefusal(testing::RawUnaryCall(
                      server().Channel(), context,
                      absl::StrCat("/idem.v1.IdemService/", method), garbage),
                  "REQUEST_INVALID");
  }
  EXPECT_EQ(db().Dump(table_), before);
}

TEST_F(ErrorsTest, InsertIsAllOrNothing) {
  // Rows 3 and 4 are fine; the third row fails in PostgreSQL's cast.
  Refused(
      InsertOf(table_, {Row(3, {{"n", Str("3")}}), Row(4, {{"n", Str("4")}}),
                        Row(5, {{"n", Str("five")}})}),
      "VALUE_INVALID");
  // The same with the failure detected by the server, and with DO_UPDATE
  // on rows that exist.
  Refused(InsertOf(table_,
                   {Row(1, {{"n", Int(11)}}), Row(3, {{"n", Int(3)}}),
                    Row(4, {{"n", Str("9223372036854775808")}})},
                   v1::ON_CONFLICT_DO_UPDATE),
          "VALUE_INVALID");
  Refused(InsertOf(table_, {Row(3), Row(4), Row(5, {{"name", Null()}})}),
          "VALUE_INVALID");
}

// --- Update -----------------------------------------------------------------

TEST_F(ErrorsTest, UpdateOfAllowedButAbsentTableIsNotFound) {
  Refused(UpdateOf(ReserveTable(), {{"id", Int(1)}}, {{"name", Str("x")}}),
          "TABLE_NOT_FOUND");
}

TEST_F(ErrorsTest, UpdateOfTableOutsideAllowListIsPermissionDenied) {
  Refused(UpdateOf(outside_, {{"id", Int(1)}}, {{"v", Str("x")}}),
          "TABLE_NOT_ALLOWED");
}

TEST_F(ErrorsTest, UpdateWithEmptyTableNameOrNothingToChange) {
  Refused(UpdateOf("", {{"id", Int(1)}}, {{"name", Str("x")}}),
          "REQUEST_INVALID");
  Refused(SetOnRow1({}), "REQUEST_INVALID");
}

TEST_F(ErrorsTest, UpdateWithUnknownColumn) {
  Refused(SetOnRow1({{"nope", Str("x")}}), "COLUMN_UNKNOWN");
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"nope", Int(1)}}),
          "COLUMN_UNKNOWN");
  Refused(UpdateOf(table_, {{"nope", Int(1)}}, {{"name", Str("x")}}),
          "COLUMN_UNKNOWN");
}

TEST_F(ErrorsTest, UpdateWithMissingOrExtraKeyColumn) {
  Refused(UpdateOf(pair_, {{"a", Int(1)}}, {{"v", Str("x")}}),
          "REQUEST_INVALID");
  Refused(UpdateOf(pair_, {{"a", Int(1)}, {"b", Str("x")}, {"v", Str("v")}},
                   {{"v", Str("x")}}),
          "REQUEST_INVALID");
  Refused(UpdateOf(table_, {}, {{"name", Str("x")}}), "REQUEST_INVALID");
  Refused(UpdateOf(table_, {{"id", Null()}}, {{"name", Str("x")}}),
          "REQUEST_INVALID");
  // set and increment never change the key.
  Refused(SetOnRow1({{"id", Int(5)}}), "REQUEST_INVALID");
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"id", Int(1)}}),
          "REQUEST_INVALID");
}

TEST_F(ErrorsTest, UpdateOfValueThatWillNotCast) {
  Refused(SetOnRow1({{"n", Str("abc")}}), "VALUE_INVALID");
  Refused(SetOnRow1({{"small", Int(100000)}}), "VALUE_INVALID");
  Refused(UpdateOf(table_, {{"id", Str("one")}}, {{"name", Str("x")}}),
          "VALUE_INVALID");
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"n", Str("1x")}}),
          "VALUE_INVALID");
  // The new value overflows.
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"n", Int(INT64_MAX)}}),
          "VALUE_INVALID");
}

TEST_F(ErrorsTest, UpdateOfNullIntoNotNull) {
  Refused(SetOnRow1({{"name", Null()}}), "VALUE_INVALID");
}

TEST_F(ErrorsTest, UpdateIncrementOfNonNumericColumnOrByNull) {
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"name", Int(1)}}),
          "VALUE_INVALID");
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"name", Str("1")}}),
          "VALUE_INVALID");
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"data", Int(1)}}),
          "VALUE_INVALID");
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {}, {{"n", Null()}}),
          "VALUE_INVALID");
}

TEST_F(ErrorsTest, UpdateOfWrongValueKind) {
  Refused(SetOnRow1({{"n", Bool(true)}}), "VALUE_INVALID");
  Refused(SetOnRow1({{"note", Bytes("x")}}), "VALUE_INVALID");
  Refused(SetOnRow1({{"note", v1::Value()}}), "VALUE_INVALID");
}

TEST_F(ErrorsTest, UpdateWithColumnInSetAndIncrement) {
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {{"n", Int(1)}}, {{"n", Int(1)}}),
          "REQUEST_INVALID");
}

TEST_F(ErrorsTest, UpdateWithBadVersionColumn) {
  Refused(
      UpdateOf(table_, {{"id", Int(1)}}, {{"name", Str("x")}}, {}, "version"),
      "REQUEST_INVALID");
  Refused(
      UpdateOf(table_, {{"id", Int(1)}}, {{"version", Null()}}, {}, "version"),
      "REQUEST_INVALID");
  Refused(UpdateOf(table_, {{"id", Int(1)}}, {{"name", Str("x")}}, {}, "nope"),
          "REQUEST_INVALID");
}

// A refusal names what it knows of where the fault lies (brief 8.1: the
// `table`, `column` and `row` metadata, "where they apply"): the table of
// every refusal of a request that named an existing one, the version
// column a guard names, and row 0 of a request that holds one row.
TEST_F(ErrorsTest, ARefusalNamesItsTableColumnAndRow) {
  db().Exec("ALTER TABLE " + table_ + " ADD COLUMN amount numeric(10, 2) " +
            "CHECK (amount >= 0), ADD COLUMN tags bigint[]");
  auto metadata_of = [](const grpc::Status& status) {
    std::map<std::string, std::string> metadata;
    std::optional<google::rpc::Status> rich = RichStatusOf(status);
    if (!rich.has_value()) return metadata;
    std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(*rich);
    if (!info.has_value()) return metadata;
    metadata.insert(info->metadata().begin(), info->metadata().end());
    return metadata;
  };
  using Expected = std::map<std::string, std::string>;
  auto expect = [&](const grpc::Status& status, const Expected& expected,
                    const std::string& what) {
    EXPECT_FALSE(status.ok()) << what;
    std::map<std::string, std::string> metadata = metadata_of(status);
    for (const auto& [key, value] : expected) {
      EXPECT_EQ(metadata[key], value)
          << what << ": " << key << " (" << status.error_message() << ")";
    }
  };
  auto update = [](const v1::UpdateRequest& request) {
    v1::UpdateResponse response;
    return Update(request, &response);
  };
  auto insert = [](const v1::InsertRequest& request) {
    v1::InsertResponse response;
    return Insert(request, &response);
  };
  const std::string before = db().Dump(table_);
  // The table as the request named it, not as the catalog does
  // ("public.<name>"): a program compares it with what it sent.
  const std::string qualified = table_;
  const Expected table_only = {{"table", qualified}};
  expect(update(UpdateOf(table_, {}, {{"name", Str("x")}})), table_only,
         "update without its key");
  expect(update(UpdateOf(table_, {{"id", Null()}}, {{"name", Str("x")}})),
         table_only, "update with a NULL key");
  expect(update(SetOnRow1({{"id", Int(5)}})), table_only,
         "update that sets the key");
  expect(update(UpdateOf(table_, {{"id", Int(1)}}, {{"n", Int(1)}},
                         {{"n", Int(1)}})),
         table_only, "update with a column in set and increment");
  expect(update(UpdateOf(table_, {{"id", Int(1)}}, {{"name", Str("x")}}, {},
                         "version")),
         {{"table", qualified}, {"column", "version"}},
         "update guarded by a column not in set");
  expect(
      insert(InsertOf(table_, {Row(1)}, v1::ON_CONFLICT_DO_UPDATE, "version")),
      {{"table", qualified}, {"column", "version"}},
      "insert guarded by a column not in its rows");
  expect(insert(InsertOf(table_, {Row(3), Row(4, {{"note", Str("x")}})})),
         {{"table", qualified}, {"row", "1"}}, "rows that name other columns");
  expect(insert(InsertRow({{"amount", Int(-1)}})),
         {{"table", qualified},
          {"row", "0"},
          {"constraint", table_ + "_amount_check"}},
         "one row a check refuses");
  expect(insert(InsertRow({{"tags", Str("{1,x}")}})),
         {{"table", qualified}, {"row", "0"}}, "one row with a bad array");
  // Named with its schema, it comes back with its schema.
  expect(update(UpdateOf("public." + table_, {}, {{"name", Str("x")}})),
         {{"table", "public." + table_}}, "a qualified name as sent");
  EXPECT_EQ(db().Dump(table_), before);
}

TEST_F(ErrorsTest, OversizedUpdate) {
  Refused(SetOnRow1({{"note", Str(std::string(kMaxMessageBytes, 'x'))}}),
          "LIMIT_EXCEEDED");
}

}  // namespace
}  // namespace idem::testing
