// Every Update outcome (UPDATED, UNCHANGED, NOT_FOUND, STALE) with set,
// increment and the version guard, on three kinds of primary key.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"
#include "tests/integration/key_shapes.h"

namespace idem::testing {
namespace {

constexpr v1::UpdateOutcome kUpdated = v1::UPDATE_OUTCOME_UPDATED;
constexpr v1::UpdateOutcome kUnchanged = v1::UPDATE_OUTCOME_UNCHANGED;
constexpr v1::UpdateOutcome kNotFound = v1::UPDATE_OUTCOME_NOT_FOUND;
constexpr v1::UpdateOutcome kStale = v1::UPDATE_OUTCOME_STALE;

class UpdateOutcomesTest : public IntegrationTest,
                           public ::testing::WithParamInterface<KeyShape> {
 protected:
  void SetUp() override {
    table_ = CreateTable(GetParam().Definition(
        "name text, counter bigint NOT NULL DEFAULT 0, amount numeric, "
        "version bigint"));
    InsertOk(InsertOf(table_, {Key(1) + Columns{{"name", Str("a")},
                                                {"counter", Int(10)},
                                                {"amount", Str("1.5")},
                                                {"version", Int(5)}},
                               Key(2) + Columns{{"name", Str("b")},
                                                {"counter", Int(0)},
                                                {"amount", Null()},
                                                {"version", Null()}}}));
  }

  Columns Key(int n) { return GetParam().key(n); }

  // "name:counter:amount:version" of row n as stored, "" when absent.
  std::string Stored(int n) {
    return db().Scalar(
        "SELECT concat_ws(':', name, counter, amount, "
        "coalesce(version::text, 'null')) FROM " +
        table_ + " WHERE " + GetParam().where(n));
  }

  v1::UpdateOutcome Set(int n, const Columns& set,
                        const std::string& version_column = "") {
    return UpdateOk(UpdateOf(table_, Key(n), set, {}, version_column));
  }

  v1::UpdateOutcome Increment(int n, const Columns& increment,
                              const Columns& set = {},
                              const std::string& version_column = "") {
    return UpdateOk(UpdateOf(table_, Key(n), set, increment, version_column));
  }

  std::string table_;
};

TEST_P(UpdateOutcomesTest, SetIsUpdatedThenUnchanged) {
  EXPECT_EQ(Set(1, {{"name", Str("x")}, {"amount", Dbl(2.5)}}), kUpdated);
  EXPECT_EQ(Stored(1), "x:10:2.5:5");
  std::string before = db().Dump(table_);
  EXPECT_EQ(Set(1, {{"name", Str("x")}, {"amount", Str("2.50")}}), kUnchanged);
  EXPECT_EQ(db().Dump(table_), before);
  EXPECT_EQ(Set(2, {{"name", Null()}}), kUpdated);
  EXPECT_EQ(Set(2, {{"name", Null()}}), kUnchanged);
}

TEST_P(UpdateOutcomesTest, MissingRowIsNotFoundAndNotCreated) {
  std::string before = db().Dump(table_);
  EXPECT_EQ(Set(99, {{"name", Str("x")}}), kNotFound);
  EXPECT_EQ(Increment(99, {{"counter", Int(1)}}), kNotFound);
  EXPECT_EQ(db().Dump(table_), before);
}

TEST_P(UpdateOutcomesTest, IncrementAddsTheDelta) {
  EXPECT_EQ(Increment(1, {{"counter", Int(5)}}), kUpdated);
  EXPECT_EQ(Stored(1), "a:15:1.5:5");
  EXPECT_EQ(Increment(1, {{"amount", Dbl(2.25)}, {"counter", Int(-15)}}),
            kUpdated);
  EXPECT_EQ(Stored(1), "a:0:3.75:5");
  EXPECT_EQ(Increment(1, {{"amount", Str("0.25")}}), kUpdated);
  EXPECT_EQ(Stored(1), "a:0:4.00:5");
  EXPECT_EQ(Increment(1, {{"counter", Int(0)}}), kUnchanged);
  EXPECT_EQ(Increment(1, {{"counter", Int(2)}}, {{"name", Str("y")}}),
            kUpdated);
  EXPECT_EQ(Stored(1), "y:2:4.00:5");
}

TEST_P(UpdateOutcomesTest, VersionGuardRefusesOlderAndEqualVersions) {
  EXPECT_EQ(Set(1, {{"name", Str("new")}, {"version", Int(6)}}, "version"),
            kUpdated);
  EXPECT_EQ(Set(1, {{"name", Str("older")}, {"version", Int(4)}}, "version"),
            kStale);
  EXPECT_EQ(Set(1, {{"name", Str("same")}, {"version", Int(6)}}, "version"),
            kStale);
  EXPECT_EQ(Set(1, {{"name", Str("new")}, {"version", Int(6)}}, "version"),
            kUnchanged);
  EXPECT_EQ(Stored(1), "new:10:1.5:6");
  // A NULL stored version gives way.
  EXPECT_EQ(Set(2, {{"name", Str("b2")}, {"version", Int(1)}}, "version"),
            kUpdated);
  EXPECT_EQ(Stored(2), "b2:0:1");
}

TEST_P(UpdateOutcomesTest, VersionGuardMakesAnIncrementApplyOnce) {
  Columns next_version = {{"version", Int(7)}};
  EXPECT_EQ(Increment(1, {{"counter", Int(1)}}, next_version, "version"),
            kUpdated);
  EXPECT_EQ(Increment(1, {{"counter", Int(1)}}, next_version, "version"),
            kStale);
  EXPECT_EQ(Stored(1), "a:11:1.5:7");
}

INSTANTIATE_TEST_SUITE_P(KeyShapes, UpdateOutcomesTest,
                         ::testing::ValuesIn(AllKeyShapes()), KeyShapeName);

}  // namespace
}  // namespace idem::testing
