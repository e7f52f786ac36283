#include <gtest/gtest.h>

#include "json_output.h"
#include "json_values.h"

namespace idemctl {
namespace {

using nlohmann::json;

TEST(ToRow, MapsJsonTypesToValueKinds) {
  absl::StatusOr<idem::v1::Row> row = ToRow(json::parse(R"({
      "null": null, "flag": false, "n": -3, "big": 9007199254740993,
      "ratio": 1.5, "name": "Ada", "doc": {"a": [1, 2]},
      "blob": {"$base64": "AAE="}})"));
  ASSERT_TRUE(row.ok()) << row.status();
  const auto& c = row->columns();
  EXPECT_TRUE(c.at("null").has_null_value());
  EXPECT_TRUE(c.at("flag").has_bool_value());
  EXPECT_EQ(c.at("n").int_value(), -3);
  EXPECT_EQ(c.at("big").int_value(), 9007199254740993);
  EXPECT_EQ(c.at("ratio").double_value(), 1.5);
  EXPECT_EQ(c.at("name").string_value(), "Ada");
  EXPECT_EQ(c.at("doc").string_value(), R"({"a":[1,2]})");
  EXPECT_EQ(c.at("blob").bytes_value(), std::string("\0\1", 2));
}

TEST(ToRow, RefusesWhatIsNotARow) {
  EXPECT_FALSE(ToRow(json::parse("[1]")).ok());
  EXPECT_FALSE(ToRow(json::parse(R"({"n": 18446744073709551615})")).ok());
  EXPECT_FALSE(ToRow(json::parse(R"({"b": {"$base64": "***"}})")).ok());
}

TEST(ToRows, TakesOneObjectOrAnArray) {
  EXPECT_EQ(ToRows(json::parse(R"({"id": 1})"))->size(), 1u);
  EXPECT_EQ(ToRows(json::parse(R"([{"id": 1}, {"id": 2}])"))->size(), 2u);
  EXPECT_FALSE(ToRows(json::parse(R"([{"id": 1}, 2])")).ok());
}

TEST(ReadJsonArgument, ExplainsBadJson) {
  absl::StatusOr<json> parsed = ReadJsonArgument("{nope");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("not valid JSON"),
            std::string::npos);
  EXPECT_FALSE(ReadJsonArgument("@/nonexistent/rows.json").ok());
}

TEST(CallReport, PrintsTheResponseOrTheError) {
  idem::v1::UpdateResponse response;
  response.set_outcome(idem::v1::UPDATE_OUTCOME_UNCHANGED);
  idem::CallInfo info;
  info.attempts = 2;
  info.idempotency_key = "k";
  json ok = CallReport(&response, info);
  EXPECT_EQ(ok["response"]["outcome"], "UPDATE_OUTCOME_UNCHANGED");
  EXPECT_EQ(ok["attempts"], 2);
  EXPECT_EQ(ok["idempotency_key"], "k");

  info.stop_reason = idem::StopReason::kMaxAttempts;
  json failed = CallReport(absl::UnavailableError("down"), info);
  EXPECT_EQ(failed["error"]["code"], "UNAVAILABLE");
  EXPECT_EQ(failed["error"]["message"], "down");
  EXPECT_EQ(failed["stop_reason"], "max_attempts");
  EXPECT_FALSE(failed.contains("response"));
}

}  // namespace
}  // namespace idemctl
