// Bad-input sweep through one real idem-server: every
// wrong Value kind for every column type of a wide table, oversized
// messages, 10,000 columns, 100,000 rows, invalid UTF-8, huge and
// control-byte keys, empty, whitespace and NUL names, unknown enum numbers.
// Each gets a clear status, nothing is written, and afterwards the server
// still answers health SERVING with its memory back near its baseline.
//
// The tests share one server and run in declaration order; the last one
// checks what the whole sweep left behind.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/raw_unary_call.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"
#include "tests/support/values.h"

namespace idem::testing {
namespace {

using grpc::StatusCode;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr size_t kMaxMessageBytes = 16 << 20;  // IDEM_MAX_MESSAGE_BYTES default
constexpr size_t kMiB = 1 << 20;

// One column of the wide table: its type, a value it takes, and which of the
// sample kinds below it accepts.
struct ColumnSpec {
  std::string name;
  std::string type;
  v1::Value valid;
  std::vector<std::string> accepted_kinds;
};

// One sample value of each kind. The string is one no typed column takes:
// not a number, boolean, date, JSON, UUID, array or address, too long for
// varchar(10), and a bad bytea escape.
struct KindSample {
  std::string kind;
  v1::Value value;
};

std::vector<KindSample> KindSamples() {
  return {{"null", Null()},
          {"bool", Bool(true)},
          {"int", Int(42)},
          {"double", Dbl(1.5)},
          {"string", Str("\\zz not a value")},
          {"bytes", Bytes(std::string("\x00\xff", 2))},
          {"no kind", v1::Value()}};
}

std::vector<ColumnSpec> WideColumns() {
  return {
      {"id", "bigint PRIMARY KEY", Int(1), {"int"}},
      {"c_bigint", "bigint", Int(7), {"null", "int"}},
      {"c_integer", "integer", Int(7), {"null", "int"}},
      {"c_smallint", "smallint", Int(7), {"null", "int"}},
      {"c_numeric", "numeric", Str("1.25"), {"null", "int", "double"}},
      {"c_real", "real", Dbl(0.5), {"null", "int", "double"}},
      {"c_double", "double precision", Dbl(0.5), {"null", "int", "double"}},
      {"c_boolean", "boolean", Bool(true), {"null", "bool"}},
      {"c_text", "text", Str("t"), {"null", "string"}},
      {"c_varchar", "varchar(10)", Str("short"), {"null"}},
      {"c_bytea", "bytea", Bytes(std::string("\0\1", 2)), {"null", "bytes"}},
      {"c_date", "date", Str("2024-01-31"), {"null"}},
      {"c_timestamptz", "timestamptz", Str("2024-01-31T12:00:00Z"), {"null"}},
      {"c_json", "json", Str("{\"a\":1}"), {"null"}},
      {"c_jsonb", "jsonb", Str("{\"a\":1}"), {"null"}},
      {"c_uuid", "uuid", Str("123e4567-e89b-12d3-a456-426614174000"), {"null"}},
      {"c_text_array", "text[]", Str("{a,b}"), {"null"}},
      {"c_inet", "inet", Str("192.0.2.1"), {"null"}},
      {"c_required", "text NOT NULL", Str("r"), {"string"}},
  };
}

bool Accepts(const ColumnSpec& column, const std::string& kind) {
  for (const std::string& k : column.accepted_kinds) {
    if (k == kind) return true;
  }
  return false;
}

// A value the column refuses, with a label for failure messages.
struct BadValue {
  std::string column;
  std::string label;
  v1::Value value;
};

// Every wrong kind for every column, then values of a right kind that are
// still out of the column's range.
std::vector<BadValue> BadValues() {
  std::vector<BadValue> bad;
  for (const ColumnSpec& column : WideColumns()) {
    for (const KindSample& sample : KindSamples()) {
      if (!Accepts(column, sample.kind)) {
        bad.push_back({column.name, sample.kind, sample.value});
      }
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const BadValue& extra : std::vector<BadValue>{
           {"c_smallint", "int over smallint", Int(1 << 20)},
           {"c_integer", "int over integer", Int(int64_t{1} << 40)},
           {"c_bigint", "NaN", Dbl(nan)},
           {"c_bigint", "infinity", Dbl(inf)},
           {"c_real", "double over real", Dbl(1e300)},
           {"c_varchar", "11 characters", Str("12345678901")},
           {"c_text", "NUL in string", Str(std::string("a\0b", 3))},
           {"c_json", "NUL in json", Str(std::string("\"\0\"", 3))},
           {"c_required", "NUL in string", Str(std::string("\0", 1))},
           {"c_date", "no such day", Str("2023-02-29")},
           {"c_text_array", "unbalanced array", Str("{a,")},
       }) {
    bad.push_back(extra);
  }
  return bad;
}

using Request =
    std::variant<v1::InsertRequest, v1::UpdateRequest, v1::KeyedCallRequest>;

struct Case {
  std::string label;
  Request request;
  StatusCode want;
};

std::string Printable(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 60)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char hex[8];
      snprintf(hex, sizeof(hex), "\\x%02x", u);
      out += hex;
    }
  }
  if (text.size() > 60) out += "...(" + std::to_string(text.size()) + ")";
  return out;
}

int64_t RssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestDatabase db;
    table_ = new std::string(TestDatabase::UniqueName("bad_input"));
    key_prefix_ = new std::string(TestDatabase::UniqueName("badin-key"));
    std::string columns;
    for (const ColumnSpec& column : WideColumns()) {
      if (!columns.empty()) columns += ", ";
      columns += column.name + " " + column.type;
    }
    db.Exec("CREATE TABLE " + *table_ + " (" + columns + ")");
    ServerProcess::Options options;
    options.env = {{"IDEM_TABLES", *table_}};
    server_ = ServerProcess::Start(options).release();
    stub_ = server_->Stub().release();
    // Warm-up: the catalog, the pool and gRPC's buffers are in use before
    // the baseline is taken.
    for (int i = 0; i < 20; ++i) {
      v1::InsertRequest warm = OneRow("c_text", Int(i));
      Call(warm);
      *warm.mutable_rows(0) = RowOf({{"id", Int(i)}, {"c_required", Null()}});
      Call(warm);
      Call(OneRow("c_date", Str("not a date")));
    }
    baseline_rss_kib_ = RssKib(server_->pid());
  }

  static void TearDownTestSuite() {
    delete stub_;
    delete server_;
    delete table_;
    delete key_prefix_;
  }

  void TearDown() override {
    // No call of any test may leave a row behind.
    EXPECT_EQ(db_.Dump(*table_), "");
  }

  // A one-row insert of the required columns plus `column` = `value`.
  static v1::InsertRequest OneRow(const std::string& column,
                                  const v1::Value& value) {
    v1::InsertRequest request;
    request.set_table(*table_);
    *request.add_rows() = RowOf({{"id", Int(1)}, {"c_required", Str("r")}});
    (*request.mutable_rows(0)->mutable_columns())[column] = value;
    return request;
  }

  static std::string Key(const std::string& suffix) {
    return *key_prefix_ + suffix;
  }

  static grpc::Status Call(const Request& request,
                           grpc::ClientContext* context = nullptr) {
    grpc::ClientContext own;
    if (context == nullptr) context = &own;
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(30));
    if (const auto* insert = std::get_if<v1::InsertRequest>(&request)) {
      v1::InsertResponse response;
      return stub_->Insert(context, *insert, &response);
    }
    if (const auto* update = std::get_if<v1::UpdateRequest>(&request)) {
      v1::UpdateResponse response;
      return stub_->Update(context, *update, &response);
    }
    v1::KeyedCallResponse response;
    return stub_->KeyedCall(context, std::get<v1::KeyedCallRequest>(request),
                            &response);
  }

  // Sends `bytes` as the serialized request of `method` (e.g.
  // "/idem.v1.IdemService/Insert"), bypassing the client's own encoding.
  static grpc::Status RawCall(const std::string& method,
                              const std::string& bytes) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    return testing::RawUnaryCall(server_->Channel(), context, method, bytes);
  }

  // A clear refusal: the expected code and a message a person can act on,
  // with no SQL in it.
  static void ExpectRefused(const grpc::Status& status, StatusCode want) {
    EXPECT_EQ(status.error_code(), want) << status.error_message();
    EXPECT_FALSE(status.error_message().empty());
    EXPECT_LT(status.error_message().size(), 4096u);
    for (const char* sql : {"SELECT", "INSERT", "UPDATE ", "unnest", "$1"}) {
      EXPECT_EQ(status.error_message().find(sql), std::string::npos)
          << status.error_message();
    }
  }

  static void RunCases(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.label);
      ExpectRefused(Call(c.request), c.want);
    }
  }

  static std::string* table_;
  static std::string* key_prefix_;
  static ServerProcess* server_;
  static v1::IdemService::Stub* stub_;
  static int64_t baseline_rss_kib_;
  TestDatabase db_;
};

std::string* BadInputTest::table_ = nullptr;
std::string* BadInputTest::key_prefix_ = nullptr;
ServerProcess* BadInputTest::server_ = nullptr;
v1::IdemService::Stub* BadInputTest::stub_ = nullptr;
int64_t BadInputTest::baseline_rss_kib_ = 0;

TEST_F(BadInputTest, EveryWrongValueKindForEveryColumnTypeIsInvalidArgument) {
  // Control: a row of every column's valid value is accepted; it stays as
  // the row the updates below aim at, and must come out unchanged.
  v1::InsertRequest seed;
  seed.set_table(*table_);
  v1::Row* seeded = seed.add_rows();
  for (const ColumnSpec& column : WideColumns()) {
    (*seeded->mutable_columns())[column.name] = column.valid;
  }
  v1::InsertResponse seeded_response;
  grpc::ClientContext seed_context;
  grpc::Status seed_status =
      stub_->Insert(&seed_context, seed, &seeded_response);
  ASSERT_TRUE(seed_status.ok()) << seed_status.error_message();
  ASSERT_EQ(seeded_response.inserted(), 1);
  const std::string before = db_.Dump(*table_);

  std::vector<Case> cases;
  for (const BadValue& bad : BadValues()) {
    const std::string label = bad.column + " <- " + bad.label;
    // Insert: a good new row first, the bad value in the second, so that a
    // refusal must also undo the first row.
    v1::InsertRequest insert =
        OneRow(bad.column, seeded->columns().at(bad.column));
    (*insert.mutable_rows(0)->mutable_columns())["id"] = Int(2);
    *insert.add_rows() = insert.rows(0);
    auto& second = *insert.mutable_rows(1)->mutable_columns();
    second["id"] = Int(3);
    second[bad.column] = bad.value;
    cases.push_back({"Insert " + label, insert, StatusCode::INVALID_ARGUMENT});
    insert.set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
    cases.push_back(
        {"Insert DO_UPDATE " + label, insert, StatusCode::INVALID_ARGUMENT});

    // Update: the bad value in the key, or in set and in increment.
    v1::UpdateRequest update;
    update.set_table(*table_);
    if (bad.column == "id") {
      (*update.mutable_key()->mutable_columns())["id"] = bad.value;
      (*update.mutable_set()->mutable_columns())["c_text"] = Str("x");
      cases.push_back(
          {"Update key " + label, update, StatusCode::INVALID_ARGUMENT});
      continue;
    }
    (*update.mutable_key()->mutable_columns())["id"] = Int(1);
    (*update.mutable_set()->mutable_columns())[bad.column] = bad.value;
    cases.push_back(
        {"Update set " + label, update, StatusCode::INVALID_ARGUMENT});
    update.clear_set();
    (*update.mutable_increment()->mutable_columns())[bad.column] = bad.value;
    cases.push_back(
        {"Update increment " + label, update, StatusCode::INVALID_ARGUMENT});
  }
  // Increments of columns that are not numbers, whatever the value.
  for (const ColumnSpec& column : WideColumns()) {
    if (column.name == "id" || Accepts(column, "double") ||
        Accepts(column, "int")) {
      continue;
    }
    v1::UpdateRequest update;
    update.set_table(*table_);
    (*update.mutable_key()->mutable_columns())["id"] = Int(1);
    (*update.mutable_increment()->mutable_columns())[column.name] = Int(1);
    cases.push_back({"Update increment int into " + column.name, update,
                     StatusCode::INVALID_ARGUMENT});
  }
  RunCases(cases);
  EXPECT_EQ(db_.Dump(*table_), before);
  db_.Exec("DELETE FROM " + *table_);
}

TEST_F(BadInputTest, OversizedMessagesAreRefusedBeforeAnyWork) {
  const std::string just_over(kMaxMessageBytes, 'm');
  v1::InsertRequest insert = OneRow("c_text", Str(just_over));
  v1::UpdateRequest update;
  update.set_table(*table_);
  (*update.mutable_key()->mutable_columns())["id"] = Int(1);
  (*update.mutable_set()->mutable_columns())["c_text"] = Str(just_over);
  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key(Key("-oversized"));
  *keyed.mutable_insert() = insert;
  // Just over the limit: the handler refuses with a message that says why.
  RunCases({{"Insert just over", insert, StatusCode::INVALID_ARGUMENT},
            {"Update just over", update, StatusCode::INVALID_ARGUMENT},
            {"KeyedCall just over", keyed, StatusCode::INVALID_ARGUMENT}});

  // Far over (beyond twice the limit): gRPC's transport refuses it, and the
  // refusal is final: no retry pushback.
  insert = OneRow("c_text", Str(std::string(2 * kMaxMessageBytes + kMiB, 'M')));
  *keyed.mutable_insert() = insert;
  for (const Request& request : {Request(insert), Request(keyed)}) {
    grpc::ClientContext context;
    grpc::Status status = Call(request, &context);
    EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
    EXPECT_EQ(
        context.GetServerTrailingMetadata().count("grpc-retry-pushback-ms"),
        0u);
  }
}

TEST_F(BadInputTest, TenThousandColumnsInOneRowAreInvalidArgument) {
  v1::InsertRequest insert = OneRow("c_text", Str("t"));
  v1::UpdateRequest update;
  update.set_table(*table_);
  (*update.mutable_key()->mutable_columns())["id"] = Int(1);
  auto& row = *insert.mutable_rows(0)->mutable_columns();
  auto& set = *update.mutable_set()->mutable_columns();
  for (int i = 0; i < 10000; ++i) {
    const std::string name = "x" + std::to_string(i);
    row[name] = Int(i);
    set[name] = Int(i);
  }
  RunCases({{"Insert", insert, StatusCode::INVALID_ARGUMENT},
            {"Update", update, StatusCode::INVALID_ARGUMENT}});
}

TEST_F(BadInputTest, AHundredThousandRowsAreOverTheRowLimit) {
  v1::InsertRequest insert = OneRow("c_text", Str("t"));
  const v1::Row first = insert.rows(0);
  insert.mutable_rows()->Reserve(100000);
  for (int i = 1; i < 100000; ++i) {
    v1::Row* row = insert.add_rows();
    *row = first;
    (*row->mutable_columns())["id"].set_int_value(i + 1);
  }
  grpc::Status status = Call(insert);
  ExpectRefused(status, StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("10000"), std::string::npos)
      << status.error_message();
}

TEST_F(BadInputTest, InvalidUtf8InStringFieldsIsRefusedCleanly) {
  // Valid requests with an 8-byte placeholder, serialized, then the
  // placeholder replaced by invalid UTF-8 of the same length: the lengths
  // in the encoding stay right and only the text is bad.
  const std::string placeholder = "@UTF8@@@";
  const std::string invalid = "\xff\xfe\xc3\x28\xa0\xa1\xe2\x28";
  v1::KeyedCallRequest keyed;
  keyed.set_idempotency_key(Key(placeholder));
  *keyed.mutable_insert() = OneRow("c_text", Str("t"));
  v1::InsertRequest bad_table = OneRow("c_text", Str("t"));
  bad_table.set_table(placeholder);
  v1::UpdateRequest update;
  update.set_table(*table_);
  (*update.mutable_key()->mutable_columns())["id"] = Int(1);
  (*update.mutable_set()->mutable_columns())["c_text"] = Str(placeholder);
  struct RawCase {
    std::string label;
    std::string method;
    std::string bytes;
  };
  std::vector<RawCase> cases = {
      {"string_value", "Insert",
       OneRow("c_text", Str(placeholder)).SerializeAsString()},
      {"column name", "Insert",
       OneRow(placeholder, Str("t")).SerializeAsString()},
      {"table", "Insert", bad_table.SerializeAsString()},
      {"set value", "Update", update.SerializeAsString()},
      {"idempotency_key", "KeyedCall", keyed.SerializeAsString()},
  };
  for (RawCase& c : cases) {
    SCOPED_TRACE(c.label);
    size_t at = c.bytes.find(placeholder);
    ASSERT_NE(at, std::string::npos);
    c.bytes.replace(at, placeholder.size(), invalid);
    grpc::Status status = RawCall("/idem.v1.IdemService/" + c.method, c.bytes);
    // The proto3 parser refuses the message; the server parses requests
    // itself (api/typed_rpc.h), so the caller hears a malformed request,
    // not gRPC's UNIMPLEMENTED. Nothing run, the server unharmed.
    ExpectRefused(status, StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("does not parse"), std::string::npos)
        << status.error_message();
  }
  // Control: the raw path itself reaches the handler with a parseable
  // message (a null into the NOT NULL column, refused by the server).
  ExpectRefused(RawCall("/idem.v1.IdemService/Insert",
                        OneRow("c_required", Null()).SerializeAsString()),
                StatusCode::INVALID_ARGUMENT);
}

TEST_F(BadInputTest, BadIdempotencyKeysAndKeyedCallsWithoutACallAreRefused) {
  std::vector<Case> cases;
  auto keyed = [](const std::string& key) {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(key);
    *request.mutable_insert() = OneRow("c_text", Str("t"));
    return request;
  };
  cases.push_back({"1 MiB key", keyed(Key(std::string(kMiB, 'k'))),
                   StatusCode::INVALID_ARGUMENT});
  cases.push_back({"256-byte key", keyed(Key(std::string(256, 'k'))),
                   StatusCode::INVALID_ARGUMENT});
  cases.push_back({"empty key", keyed(""), StatusCode::INVALID_ARGUMENT});
  for (const std::string& bytes :
       {std::string("\0", 1), std::string("\x01"), std::string("\t"),
        std::string("\n"), std::string("\r"), std::string("\x1b[31m"),
        std::string(" "), std::string("\x7f")}) {
    for (const std::string& key :
         {Key(bytes), bytes + Key(""), Key("") + bytes + "x"}) {
      cases.push_back(
          {"key " + Printable(key), keyed(key), StatusCode::INVALID_ARGUMENT});
    }
  }
  v1::KeyedCallRequest no_call;
  no_call.set_idempotency_key(Key("-no-call"));
  cases.push_back({"no call", no_call, StatusCode::INVALID_ARGUMENT});
  RunCases(cases);
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM idem.idempotency_keys WHERE "
                       "strpos(idempotency_key, '" +
                       *key_prefix_ + "') > 0"),
            "0");
}

TEST_F(BadInputTest, EmptyWhitespaceNulAndHugeNamesAreRefused) {
  std::vector<Case> cases;
  const std::string huge(kMiB, 'n');
  // Tables: empty is malformed; any other name not on the allow-list is
  // refused as such.
  for (const auto& [name, want] :
       std::vector<std::pair<std::string, StatusCode>>{
           {"", StatusCode::INVALID_ARGUMENT},
           {" ", StatusCode::PERMISSION_DENIED},
           {"\t\n ", StatusCode::PERMISSION_DENIED},
           {" " + *table_, StatusCode::PERMISSION_DENIED},
           {*table_ + std::string("\0", 1), StatusCode::PERMISSION_DENIED},
           {std::string("\0", 1) + *table_, StatusCode::PERMISSION_DENIED},
           {huge, StatusCode::PERMISSION_DENIED}}) {
    v1::InsertRequest insert = OneRow("c_text", Str("t"));
    insert.set_table(name);
    cases.push_back({"Insert table " + Printable(name), insert, want});
    v1::UpdateRequest update;
    update.set_table(name);
    (*update.mutable_key()->mutable_columns())["id"] = Int(1);
    (*update.mutable_set()->mutable_columns())["c_text"] = Str("t");
    cases.push_back({"Update table " + Printable(name), update, want});
  }
  // Columns and version columns: never a column of the table.
  for (const std::string& name :
       {std::string(), std::string(" "), std::string("\t"),
        std::string(" c_text"), std::string("c_text "),
        std::string("c_text\0", 7), std::string("\0c_text", 7), huge}) {
    const std::string label = Printable(name);
    cases.push_back({"Insert column " + label, OneRow(name, Str("t")),
                     StatusCode::INVALID_ARGUMENT});
    v1::UpdateRequest update;
    update.set_table(*table_);
    (*update.mutable_key()->mutable_columns())["id"] = Int(1);
    (*update.mutable_set()->mutable_columns())[name] = Str("t");
    cases.push_back(
        {"Update set column " + label, update, StatusCode::INVALID_ARGUMENT});
    update.clear_set();
    (*update.mutable_set()->mutable_columns())["c_text"] = Str("t");
    (*update.mutable_key()->mutable_columns())[name] = Int(1);
    cases.push_back(
        {"Update key column " + label, update, StatusCode::INVALID_ARGUMENT});
    update.mutable_key()->mutable_columns()->erase(name);
    if (name.empty()) continue;  // no version_column: no guard
    update.set_version_column(name);
    cases.push_back({"Update version_column " + label, update,
                     StatusCode::INVALID_ARGUMENT});
    v1::InsertRequest insert = OneRow("c_text", Str("t"));
    insert.set_on_conflict(v1::ON_CONFLICT_DO_UPDATE);
    insert.set_version_column(name);
    cases.push_back({"Insert version_column " + label, insert,
                     StatusCode::INVALID_ARGUMENT});
  }
  RunCases(cases);
}

TEST_F(BadInputTest, UnknownOnConflictNumbersAreInvalidArgument) {
  std::vector<Case> cases;
  for (int number : {3, 7, -1, 1 << 20, std::numeric_limits<int>::max(),
                     std::numeric_limits<int>::min()}) {
    v1::InsertRequest insert = OneRow("c_text", Str("t"));
    insert.set_on_conflict(static_cast<v1::OnConflict>(number));
    cases.push_back({"on_conflict " + std::to_string(number), insert,
                     StatusCode::INVALID_ARGUMENT});
  }
  RunCases(cases);
}

// Runs last: what the whole sweep left behind.
TEST_F(BadInputTest, AfterTheSweepTheServerIsHealthyAndNothingChanged) {
  auto health = Health::NewStub(server_->Channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  HealthCheckResponse response;
  grpc::Status status =
      health->Check(&context, HealthCheckRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message() << server_->Log();
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  // Memory returns near its baseline: polled with a generous bound, since
  // freeing buffers is not instantaneous.
  constexpr int64_t kSlackKib = 64 * 1024;
  int64_t rss = RssKib(server_->pid());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (rss > baseline_rss_kib_ + kSlackKib &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    rss = RssKib(server_->pid());
  }
  RecordProperty("baseline_rss_kib", std::to_string(baseline_rss_kib_));
  RecordProperty("final_rss_kib", std::to_string(rss));
  EXPECT_GT(baseline_rss_kib_, 0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitized server keeps freed memory in quarantine or shadow memory:
  // its RSS says nothing about leaks (LeakSanitizer checks those).
#else
  EXPECT_LE(rss, baseline_rss_kib_ + kSlackKib)
      << "baseline " << baseline_rss_kib_ << " KiB, now " << rss << " KiB";
#endif

  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM " + *table_), "0");
  EXPECT_EQ(db_.Scalar("SELECT count(*) FROM idem.idempotency_keys WHERE "
                       "strpos(idempotency_key, '" +
                       *key_prefix_ + "') > 0"),
            "0");
  EXPECT_TRUE(server_->Running());
  const std::string log = server_->Log();
  for (const char* crash :
       {"FATAL", "terminate called", "Segmentation", "Check failed"}) {
    EXPECT_EQ(log.find(crash), std::string::npos) << crash << "\n" << log;
  }
}

}  // namespace
}  // namespace idem::testing
