// Typed values: native kinds, text-carried values the server casts to the
// column's type (timestamptz, numeric, json, jsonb, uuid, bytea, bigint,
// boolean), bytes into bytea, and NULLs; equality for DUPLICATE and
// UNCHANGED follows the column's type, not the text that carried it.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace idem::testing {
namespace {

class TypedValuesTest : public IntegrationTest {
 protected:
  void SetUp() override {
    table_ = CreateTable(
        "id bigint PRIMARY KEY, ts timestamptz, num numeric, js json, "
        "jb jsonb, u uuid, b bytea, flag boolean, f double precision, "
        "i integer, t text, d date");
  }

  // One column of row `id`, rendered by PostgreSQL from `expression`.
  std::string Read(int id, const std::string& expression) {
    return db().Scalar("SELECT " + expression + " FROM " + table_ +
                       " WHERE id = " + std::to_string(id));
  }

  v1::RowOutcome InsertOne(const Columns& row) {
    v1::InsertResponse response = InsertOk(InsertOf(table_, {row}));
    return response.outcomes_size() == 1
               ? static_cast<v1::RowOutcome>(response.outcomes(0))
               : v1::ROW_OUTCOME_UNSPECIFIED;
  }

  std::string table_;
};

const std::string kBinary("\x00\x01\xff'\"\\{},", 9);

Columns TextCarried() {
  return {{"id", Int(1)},
          {"ts", Str("2024-02-29T23:59:58.123456Z")},
          {"num", Str("12345678901234567890.000000000000000001")},
          {"js", Str(R"({"b": [1, 2], "a": null})")},
          {"jb", Str(R"({"b": [1, 2], "a": "x"})")},
          {"u", Str("0B5A4A8E-1D2C-4F00-9A3B-7C6D5E4F3A2B")},
          {"b", Str("\\x00ff10")},
          {"flag", Str("true")},
          {"f", Str("-1.25e-3")},
          {"i", Str("42")},
          {"t", Str("plain text")},
          {"d", Str("2024-03-01")}};
}

TEST_F(TypedValuesTest, TextCarriedValuesAreCastToTheColumnType) {
  EXPECT_EQ(InsertOne(TextCarried()), v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(Read(1, "ts = '2024-02-29 23:59:58.123456+00'"), "t");
  EXPECT_EQ(Read(1, "num::text"), "12345678901234567890.000000000000000001");
  EXPECT_EQ(Read(1, "js::text"), R"({"b": [1, 2], "a": null})");
  EXPECT_EQ(Read(1, "jb = '{\"a\": \"x\", \"b\": [1, 2]}'::jsonb"), "t");
  EXPECT_EQ(Read(1, "jsonb_typeof(jb)"), "object");
  EXPECT_EQ(Read(1, "u::text"), "0b5a4a8e-1d2c-4f00-9a3b-7c6d5e4f3a2b");
  EXPECT_EQ(Read(1, "encode(b, 'hex')"), "00ff10");
  EXPECT_EQ(Read(1, "flag"), "t");
  EXPECT_EQ(Read(1, "f = -0.00125"), "t");
  EXPECT_EQ(Read(1, "i"), "42");
  EXPECT_EQ(Read(1, "d"), "2024-03-01");
}

TEST_F(TypedValuesTest, EqualValuesInOtherSpellingsAreDuplicates) {
  EXPECT_EQ(InsertOne(TextCarried()), v1::ROW_OUTCOME_INSERTED);
  Columns respelled =
      TextCarried() +
      Columns{{"ts", Str("2024-03-01T01:59:58.123456+02:00")},
              {"num", Str("12345678901234567890.0000000000000000010")},
              {"js", Str(R"({"a":null,"b":[1,2]})")},
              {"jb", Str(R"({"a":"x","b":[1,2]})")},
              {"u", Str("0b5a4a8e1d2c4f009a3b7c6d5e4f3a2b")},
              {"b", Bytes(std::string("\x00\xff\x10", 3))},
              {"flag", Bool(true)},
              {"f", Dbl(-0.00125)},
              {"i", Int(42)}};
  EXPECT_EQ(InsertOne(respelled), v1::ROW_OUTCOME_DUPLICATE);
  EXPECT_EQ(InsertOne(respelled + Columns{{"jb", Str(R"({"a":"y"})")}}),
            v1::ROW_OUTCOME_CONFLICT);
  v1::UpdateRequest same =
      UpdateOf(table_, {{"id", Int(1)}},
               {{"ts", Str("2024-02-29 18:59:58.123456-05")},
                {"js", Str(R"({ "b":[1,2], "a":null })")}});
  EXPECT_EQ(UpdateOk(same), v1::UPDATE_OUTCOME_UNCHANGED);
}

TEST_F(TypedValuesTest, NativeKindsAndBytes) {
  EXPECT_EQ(InsertOne({{"id", Int(2)},
                       {"b", Bytes(kBinary)},
                       {"flag", Bool(false)},
                       {"f", Dbl(0.1)},
                       {"num", Dbl(2.5)},
                       {"i", Int(-7)},
                       {"t", Str("ünïcödé ✓")}}),
            v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(Read(2, "encode(b, 'hex')"), "0001ff27225c7b7d2c");
  EXPECT_EQ(Read(2, "flag"), "f");
  EXPECT_EQ(Read(2, "f = 0.1::float8"), "t");
  EXPECT_EQ(Read(2, "num"), "2.5");
  EXPECT_EQ(Read(2, "i"), "-7");
  EXPECT_EQ(Read(2, "t"), "ünïcödé ✓");
  EXPECT_EQ(InsertOne({{"id", Int(3)}, {"f", Dbl(1e300)}, {"num", Int(1)}}),
            v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(Read(3, "f = 1e300::float8"), "t");
}

TEST_F(TypedValuesTest, NullsAreStoredAndCompared) {
  Columns nulls = {{"id", Int(4)}};
  for (const char* column :
       {"ts", "num", "js", "jb", "u", "b", "flag", "f", "i", "t", "d"}) {
    nulls[column] = Null();
  }
  EXPECT_EQ(InsertOne(nulls), v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(Read(4, "num_nulls(ts, num, js, jb, u, b, flag, f, i, t, d)"),
            "11");
  EXPECT_EQ(InsertOne(nulls), v1::ROW_OUTCOME_DUPLICATE);
  // NULL differs from any value, and from the text "NULL".
  EXPECT_EQ(InsertOne(nulls + Columns{{"t", Str("NULL")}}),
            v1::ROW_OUTCOME_CONFLICT);
  EXPECT_EQ(UpdateOk(UpdateOf(table_, {{"id", Int(4)}}, {{"t", Str("NULL")}})),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(Read(4, "t IS NOT NULL AND t = 'NULL'"), "t");
  EXPECT_EQ(UpdateOk(UpdateOf(table_, {{"id", Int(4)}}, {{"t", Null()}})),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(Read(4, "t IS NULL"), "t");
}

// A type's length, precision or scale: a char(n) or bit(n) value is stored
// as sent, not cut to one character by the cast of its parameter, and keys
// that differ stay apart; a value the column rounds (numeric(p,s),
// timestamptz(0), interval(0)) is compared as stored, so that sending it
// again is a DUPLICATE or UNCHANGED, not a CONFLICT or STALE.
TEST_F(TypedValuesTest, LengthsAndPrecisionsOfTheColumnHold) {
  std::string table = CreateTable(
      "code char(3) PRIMARY KEY, tag char(4), bits bit(8), "
      "price numeric(10,2), at timestamptz(0), span interval(0)");
  const Columns row = {{"code", Str("qrs")},
                       {"tag", Str("ab")},
                       {"bits", Str("10110011")},
                       {"price", Str("1.234")},
                       {"at", Str("2024-01-01 10:00:00.7+00")},
                       {"span", Str("1.6 seconds")}};
  auto stored = [&](const std::string& code) {
    return db().Scalar(
        "SELECT concat_ws('|', code, tag || '.', bits, price, "
        "at = '2024-01-01 10:00:01+00', span) FROM " +
        table + " WHERE code = '" + code + "'");
  };
  ExpectOutcomes(InsertOk(InsertOf(table, {row})), {v1::ROW_OUTCOME_INSERTED});
  EXPECT_EQ(stored("qrs"), "qrs|ab.|10110011|1.23|t|00:00:02");
  ExpectOutcomes(InsertOk(InsertOf(table, {row})), {v1::ROW_OUTCOME_DUPLICATE});
  ExpectOutcomes(InsertOk(InsertOf(table, {row}, v1::ON_CONFLICT_DO_UPDATE)),
                 {v1::ROW_OUTCOME_DUPLICATE});
  ExpectOutcomes(
      InsertOk(InsertOf(table, {row + Columns{{"code", Str("qzz")}}})),
      {v1::ROW_OUTCOME_INSERTED});
  EXPECT_EQ(db().Scalar("SELECT count(*) FROM " + table), "2");

  const Columns key = {{"code", Str("qrs")}};
  EXPECT_EQ(UpdateOk(UpdateOf(table, key,
                              {{"price", Str("1.229")},
                               {"at", Str("2024-01-01 10:00:01.2+00")}})),
            v1::UPDATE_OUTCOME_UNCHANGED);
  EXPECT_EQ(UpdateOk(UpdateOf(table, key, {{"tag", Str("wxyz")}})),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(stored("qrs"), "qrs|wxyz.|10110011|1.23|t|00:00:02");

  // Too long for its column: refused, not cut.
  ExpectInsertRefused(InsertOf(table, {row + Columns{{"code", Str("abcd")}}}),
                      "VALUE_INVALID", {table});
  ExpectUpdateRefused(UpdateOf(table, key, {{"tag", Str("abcde")}}),
                      "VALUE_INVALID", {table});
  ExpectInsertRefused(InsertOf(table, {row + Columns{{"code", Str("new")},
                                                     {"bits", Str("101")}}}),
                      "VALUE_INVALID", {table});
}

// An increment whose result the column stores as the value it had (a NULL,
// which stays NULL, or a delta below the column's scale) is UNCHANGED, not
// UPDATED.
TEST_F(TypedValuesTest, AnIncrementThatChangesNothingIsUnchanged) {
  std::string table =
      CreateTable("id bigint PRIMARY KEY, n bigint, price numeric(10,2)");
  InsertOk(InsertOf(table,
                    {{{"id", Int(1)}, {"n", Null()}, {"price", Str("1.23")}}}));
  const Columns key = {{"id", Int(1)}};
  EXPECT_EQ(UpdateOk(UpdateOf(table, key, {}, {{"n", Int(5)}})),
            v1::UPDATE_OUTCOME_UNCHANGED);
  EXPECT_EQ(UpdateOk(UpdateOf(table, key, {}, {{"price", Str("0.001")}})),
            v1::UPDATE_OUTCOME_UNCHANGED);
  EXPECT_EQ(
      db().Scalar("SELECT concat_ws('|', n IS NULL, price) FROM " + table),
      "t|1.23");
  EXPECT_EQ(UpdateOk(UpdateOf(table, key, {}, {{"price", Str("0.005")}})),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(db().Scalar("SELECT price FROM " + table), "1.24");
}

// PostgreSQL's = takes '1 mon' for '30 days' and '1 day' for '24:00:00',
// yet each adds differently to a date (across a month's end, a daylight
// saving change): as values they differ, and a write of one over the other
// is a change, not a duplicate. Another spelling of the same interval is.
TEST_F(TypedValuesTest, IntervalsThatAddDifferentlyAreDifferentValues) {
  std::string table =
      CreateTable("id bigint PRIMARY KEY, every interval, during interval[]");
  auto insert = [&](const char* every, v1::OnConflict on_conflict) {
    v1::InsertResponse response = InsertOk(InsertOf(
        table,
        {{{"id", Int(1)}, {"every", Str(every)}, {"during", Str("{1 day}")}}},
        on_conflict));
    return response.outcomes_size() == 1
               ? static_cast<v1::RowOutcome>(response.outcomes(0))
               : v1::ROW_OUTCOME_UNSPECIFIED;
  };
  EXPECT_EQ(insert("1 mon", v1::ON_CONFLICT_DO_NOTHING),
            v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(insert("1 month", v1::ON_CONFLICT_DO_NOTHING),
            v1::ROW_OUTCOME_DUPLICATE);
  EXPECT_EQ(insert("30 days", v1::ON_CONFLICT_DO_NOTHING),
            v1::ROW_OUTCOME_CONFLICT);
  EXPECT_EQ(insert("30 days", v1::ON_CONFLICT_DO_UPDATE),
            v1::ROW_OUTCOME_UPDATED);
  EXPECT_EQ(db().Scalar("SELECT every FROM " + table), "30 days");
  const Columns key = {{"id", Int(1)}};
  EXPECT_EQ(UpdateOk(UpdateOf(table, key, {{"during", Str("{24:00:00}")}})),
            v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(UpdateOk(UpdateOf(table, key, {{"during", Str("{24:00:00}")}})),
            v1::UPDATE_OUTCOME_UNCHANGED);
  EXPECT_EQ(db().Scalar("SELECT during FROM " + table), "{24:00:00}");
}

// Types without an equality operator (xml, jsonpath, the geometric ones,
// json) and arrays of them: a resend of a row is still DUPLICATE and an
// Update to the stored values UNCHANGED. The old statements asked
// PostgreSQL for an = it does not have: every jsonpath write, and the
// resend of any row with such an array, failed VALUE_INVALID (a retry of a
// write that had committed answered as the caller's mistake).
TEST_F(TypedValuesTest, TypesWithoutEqualityCompareAsTheyPrint) {
  const std::string table = CreateTable(
      "id bigint PRIMARY KEY, p jsonpath, ps jsonpath[], x xml[], pt point[], "
      "j json[]");
  const Columns row = {{"id", Int(1)},
                       {"p", Str("$.a")},
                       {"ps", Str(R"v({"$.a","$[*] ? (@ > 1)"})v")},
                       {"x", Str("{<a>1</a>}")},
                       {"pt", Str("{\"(1,2)\"}")},
                       {"j", Str(R"({"{\"a\": 1}"})")}};
  auto insert = [&](const Columns& values) {
    v1::InsertResponse response = InsertOk(InsertOf(table, {values}));
    return response.outcomes_size() == 1
               ? static_cast<v1::RowOutcome>(response.outcomes(0))
               : v1::ROW_OUTCOME_UNSPECIFIED;
  };
  EXPECT_EQ(insert(row), v1::ROW_OUTCOME_INSERTED);
  EXPECT_EQ(insert(row), v1::ROW_OUTCOME_DUPLICATE);
  EXPECT_EQ(insert(row + Columns{{"j", Str(R"({"{\"a\":1}"})")}}),
            v1::ROW_OUTCOME_DUPLICATE);  // json compares as jsonb
  EXPECT_EQ(insert(row + Columns{{"pt", Str("{\"(1,3)\"}")}}),
            v1::ROW_OUTCOME_CONFLICT);
  const Columns key = {{"id", Int(1)}};
  for (const char* column : {"p", "ps", "x", "pt", "j"}) {
    SCOPED_TRACE(column);
    EXPECT_EQ(UpdateOk(UpdateOf(table, key, {{column, row.at(column)}})),
              v1::UPDATE_OUTCOME_UNCHANGED);
  }
  EXPECT_EQ(UpdateOk(UpdateOf(table, key, {{"p", Str("$.b")}})),
            v1::UPDATE_OUTCOME_UPDATED);
}

}  // namespace
}  // namespace idem::testing
