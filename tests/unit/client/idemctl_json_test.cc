#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "json_output.h"
#include "json_requests.h"
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
  EXPECT_FALSE(failed["error"].contains("reason"));
}

TEST(CallReport, PrintsTheReasonAndMetadata) {
  google::rpc::Status status;
  status.set_code(static_cast<int>(absl::StatusCode::kNotFound));
  status.set_message("no table orderz");
  google::rpc::ErrorInfo info;
  info.set_reason("TABLE_NOT_FOUND");
  info.set_domain("idem");
  (*info.mutable_metadata())["table"] = "orderz";
  status.add_details()->PackFrom(info);
  json failed = CallReport(idem::FromRpcStatus(status), idem::CallInfo());
  EXPECT_EQ(failed["error"],
            json::parse(R"({"code": "NOT_FOUND", "message": "no table orderz",
                            "reason": "TABLE_NOT_FOUND",
                            "metadata": {"table": "orderz"}})"));
}

TEST(ToTransaction, ReadsStepsWithTheRowSyntaxOfTheOtherCommands) {
  absl::StatusOr<idem::Transaction> transaction = ToTransaction(json::parse(R"([
      {"insert": {"table": "orders", "rows": [{"id": 42, "sku": "A-1"}],
                  "on_conflict": "do-update", "version_column": "v"}},
      {"update": {"table": "stock", "where": {"sku": "A-1"},
                  "set": {"note": null}, "increment": {"count": -1}},
       "require_applied": true}])"));
  ASSERT_TRUE(transaction.ok()) << transaction.status();
  const idem::v1::TransactionRequest& request = transaction->request();
  ASSERT_EQ(request.steps_size(), 2);
  const idem::v1::InsertRequest& insert = request.steps(0).insert();
  EXPECT_EQ(insert.table(), "orders");
  EXPECT_EQ(insert.on_conflict(), idem::v1::ON_CONFLICT_DO_UPDATE);
  EXPECT_EQ(insert.version_column(), "v");
  ASSERT_EQ(insert.rows_size(), 1);
  EXPECT_EQ(insert.rows(0).columns().at("sku").string_value(), "A-1");
  EXPECT_FALSE(request.steps(0).require_applied());
  const idem::v1::UpdateRequest& update = request.steps(1).update();
  EXPECT_EQ(update.table(), "stock");
  EXPECT_EQ(update.key().columns().at("sku").string_value(), "A-1");
  EXPECT_TRUE(update.set().columns().at("note").has_null_value());
  EXPECT_EQ(update.increment().columns().at("count").int_value(), -1);
  EXPECT_TRUE(request.steps(1).require_applied());
}

TEST(ToTransaction, SaysWhichStepIsWrongAndWhy) {
  auto error = [](const char* steps) {
    return std::string(ToTransaction(json::parse(steps)).status().message());
  };
  EXPECT_NE(error("[]").find("non-empty JSON array"), std::string::npos);
  EXPECT_NE(error(R"({"insert": {}})").find("non-empty JSON array"),
            std::string::npos);
  EXPECT_EQ(error(R"([{"insert": {"table": "t", "rows": {"id": 1}}},
                      {"delete": {}}])"),
            "step 1: a step has no field \"delete\" (it has insert, update, "
            "require_applied)");
  EXPECT_EQ(error(R"([{"insert": {"table": "t", "rows": []},
                       "update": {"table": "t", "where": {}}}])"),
            "step 0: a step is one \"insert\" or one \"update\"");
  EXPECT_EQ(error(R"([{"update": {"table": "t", "where": {"id": 1}},
                       "require_applied": "yes"}])"),
            "step 0: \"require_applied\" is true or false");
  EXPECT_EQ(error(R"([{"update": {"table": "t"}}])"),
            "step 0: an update needs \"where\"");
  EXPECT_EQ(error(R"([{"update": {"table": "t", "where": [1]}}])"),
            "step 0: \"where\": a row is a JSON object of columns, not [1]");
  EXPECT_EQ(error(R"([{"insert": {"table": 7, "rows": []}}])"),
            "step 0: \"table\" is a string, not 7");
  EXPECT_EQ(error(R"([{"insert": {"table": "t", "rows": [],
                                  "on_conflict": "replace"}}])"),
            "step 0: \"on_conflict\" is do-nothing or do-update, not replace");
  EXPECT_EQ(error(R"([{"insert": {"table": "t", "rows": [], "key": {}}}])"),
            "step 0: an insert has no field \"key\" (it has table, rows, "
            "on_conflict, version_column)");
}

}  // namespace
}  // namespace idemctl
