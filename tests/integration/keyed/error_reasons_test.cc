// Errors a program can read: every refusal of a KeyedCall carries
// google.rpc.Status details with an ErrorInfo (domain "idem", the reason of
// the contract, the metadata naming what is at fault) and, where a retry
// after a delay is right, a RetryInfo; a stored failure replays with them,
// and a call of a Batch carries them in BatchResult.status.
#include <pqxx/transaction>
#include <string>

#include "absl/strings/escaping.h"
#include "service/keys/fingerprint.h"
#include "tests/integration/keyed/keyed_fixture.h"
#include "tests/support/rich_status.h"

namespace idem::testing::keyed {
namespace {

class ErrorReasonsTest : public KeyedCallTest {
 public:
  static void SetUpTestSuite() {
    StartServer({{"IDEM_MAX_ROWS", "3"}, {"IDEM_LOCK_TIMEOUT", "300ms"}});
    db().Exec("ALTER TABLE " + items() +
              " ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)");
    // Types whose refusals quote no value: a length, a precision, JSON.
    // A serial number only the table gives, and a trigger with a rule.
    db().Exec("ALTER TABLE " + items() +
              " ADD COLUMN serial bigint GENERATED ALWAYS AS IDENTITY");
    db().Exec("CREATE FUNCTION " + items() +
              "_rule() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "IF NEW.name = 'forbidden' THEN RAISE EXCEPTION "
              "'name forbidden here'; END IF; RETURN NEW; END $$");
    db().Exec("CREATE TRIGGER rule BEFORE INSERT OR UPDATE ON " + items() +
              " FOR EACH ROW EXECUTE FUNCTION " + items() + "_rule()");
    db().Exec("ALTER TABLE " + items() +
              " ADD COLUMN code varchar(3), ADD COLUMN letters char(3),"
              " ADD COLUMN price numeric(5,2), ADD COLUMN doc jsonb,"
              " ADD COLUMN day date, ADD COLUMN flags bit(4),"
              " ADD COLUMN mask varbit(4), ADD COLUMN tally smallint");
  }

  static void TearDownTestSuite() {
    db().Exec("DROP FUNCTION " + items() + "_rule() CASCADE");
    KeyedCallTest::TearDownTestSuite();
  }

 protected:
  // The ErrorInfo of `answer`, after checking its reason.
  google::rpc::ErrorInfo Expect(const Answer& answer, const char* reason) {
    ExpectRefusal(answer.status, reason);
    std::optional<google::rpc::Status> rich = RichStatusOf(answer.status);
    if (!rich.has_value()) return {};
    return ErrorInfoOf(*rich).value_or(google::rpc::ErrorInfo());
  }
  // `key` of `info`'s metadata; empty when it has none.
  static std::string MetadataValue(const google::rpc::ErrorInfo& info,
                                   const std::string& key) {
    auto it = info.metadata().find(key);
    return it == info.metadata().end() ? "" : it->second;
  }
  std::optional<absl::Duration> RetryDelay(const Answer& answer) {
    std::optional<google::rpc::Status> rich = RichStatusOf(answer.status);
    return rich.has_value() ? RetryDelayOf(*rich) : std::nullopt;
  }
};

TEST_F(ErrorReasonsTest, KeyMismatch) {
  std::string key = NewKey();
  ASSERT_TRUE(Call(stub(), Increment(key, counters(), NewCounter())).ok());
  Expect(Call(stub(), Increment(key, counters(), NewCounter())),
         "KEY_MISMATCH");
}

TEST_F(ErrorReasonsTest, KeyInFlightSaysWhenToComeBack) {
  std::string key = NewKey();
  v1::KeyedCallRequest request = Increment(key, counters(), NewCounter());
  db().Exec(
      "INSERT INTO idem.idempotency_keys (tenant, idempotency_key, "
      "fingerprint, state, first_executed_at, last_seen_at, "
      "lease_expires_at, expires_at) VALUES ('default', " +
      Quote(key) + ", decode(" +
      Quote(absl::BytesToHexString(keys::Fingerprint(request))) +
      ", 'hex'), 1, now(), now(), now() + interval '1 minute', "
      "now() + interval '1 day')");
  Answer held = Call(stub(), request);
  Expect(held, "KEY_IN_FLIGHT");
  ASSERT_TRUE(RetryDelay(held).has_value());
  EXPECT_GT(*RetryDelay(held), absl::ZeroDuration());
  EXPECT_TRUE(held.pushback_ms().has_value());
}

TEST_F(ErrorReasonsTest, RowLockedSaysWhenToComeBack) {
  int64_t id = NewCounter();
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT * FROM " + counters() +
            " WHERE id = " + std::to_string(id) + " FOR UPDATE");
  std::string key = NewKey();
  Answer locked = Call(stub(), Increment(key, counters(), id));
  EXPECT_NE(
      Expect(locked, "ROW_LOCKED").metadata().at("table").find(counters()),
      std::string::npos);
  EXPECT_TRUE(RetryDelay(locked).has_value());
  lock.abort();
  // Transient: nothing stored under the key, nothing changed.
  EXPECT_EQ(KeyRows(key), 0);
  EXPECT_EQ(Counter(id), 0);
}

// Every step of a transaction is held to the same limits and permissions as
// a call of its own, before anything runs.
TEST_F(ErrorReasonsTest, ATransactionIsRefusedWholeForOneStep) {
  int64_t id = NewCounter();
  auto transaction = [&](const v1::Step& last) {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(NewKey());
    v1::Step& increment = *request.mutable_transaction()->add_steps();
    increment.mutable_update()->set_table(counters());
    *increment.mutable_update()->mutable_key() = RowOf({{"id", Int(id)}});
    *increment.mutable_update()->mutable_increment() = RowOf({{"n", Int(1)}});
    *request.mutable_transaction()->add_steps() = last;
    return request;
  };
  v1::Step too_many;  // 1 + 3 rows over IDEM_MAX_ROWS = 3 in all
  too_many.mutable_insert()->set_table(items());
  for (int i = 0; i < 3; ++i) {
    *too_many.mutable_insert()->add_rows() = RowOf({{"id", Int(900 + i)}});
  }
  Expect(Call(stub(), transaction(too_many)), "LIMIT_EXCEEDED");
  v1::Step outside;
  outside.mutable_insert()->set_table("pg_catalog.pg_class");
  *outside.mutable_insert()->add_rows() = RowOf({{"oid", Int(1)}});
  Expect(Call(stub(), transaction(outside)), "TABLE_NOT_ALLOWED");
  EXPECT_EQ(Counter(id), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ItemCount(900 + i), 0);
}

TEST_F(ErrorReasonsTest, KeyInvalid) {
  Expect(Call(stub(), Increment("has space", counters(), NewCounter())),
         "KEY_INVALID");
  Expect(Call(stub(), Increment("", counters(), NewCounter())), "KEY_INVALID");
}

TEST_F(ErrorReasonsTest, RequestInvalid) {
  v1::KeyedCallRequest empty;
  empty.set_idempotency_key(NewKey());
  Expect(Call(stub(), empty), "REQUEST_INVALID");
}

TEST_F(ErrorReasonsTest, ColumnUnknownNamesTableAndColumn) {
  const std::string key = NewKey();
  google::rpc::ErrorInfo info = Expect(
      Call(stub(),
           InsertRow(key, items(), {{"id", Int(1)}, {"colour", Str("red")}})),
      "COLUMN_UNKNOWN");
  EXPECT_EQ(info.metadata().at("column"), "colour");
  EXPECT_EQ(MetadataValue(info, "row"), "0");  // the first row is a row too
  // As the request named it, not as the catalog does ("public.<name>"); and
  // the failure GetKey shows is the one the call answered.
  EXPECT_EQ(info.metadata().at("table"), items());
  grpc::ClientContext context;
  v1::GetKeyRequest get;
  get.set_idempotency_key(key);
  v1::GetKeyResponse stored;
  ASSERT_TRUE(stub().GetKey(&context, get, &stored).ok());
  ASSERT_EQ(stored.failure().details_size(), 1);
  google::rpc::ErrorInfo stored_info;
  ASSERT_TRUE(stored.failure().details(0).UnpackTo(&stored_info));
  EXPECT_EQ(stored_info.metadata().at("table"), items());

  // In a transaction, the table of the step that failed.
  v1::KeyedCallRequest transaction;
  transaction.set_idempotency_key(NewKey());
  v1::Step& first = *transaction.mutable_transaction()->add_steps();
  first.mutable_update()->set_table(counters());
  *first.mutable_update()->mutable_key() = RowOf({{"id", Int(NewCounter())}});
  *first.mutable_update()->mutable_increment() = RowOf({{"n", Int(1)}});
  v1::Step& second = *transaction.mutable_transaction()->add_steps();
  second.mutable_insert()->set_table(items());
  *second.mutable_insert()->add_rows() =
      RowOf({{"id", Int(1)}, {"colour", Str("red")}});
  info = Expect(Call(stub(), transaction), "COLUMN_UNKNOWN");
  EXPECT_EQ(MetadataValue(info, "step"), "1");
  EXPECT_EQ(info.metadata().at("table"), items());
}

// A later row naming a column the table lacks, in place of one or beside
// the others: the unknown column and its row, not "rows differ".
TEST_F(ErrorReasonsTest, ColumnUnknownInALaterRowNamesRowAndColumn) {
  for (const Columns& last :
       {Columns{{"id", Int(3)}, {"qtty", Int(1)}},
        Columns{{"id", Int(3)}, {"qty", Int(1)}, {"colour", Str("red")}}}) {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(NewKey());
    v1::InsertRequest* insert = request.mutable_insert();
    insert->set_table(items());
    *insert->add_rows() = RowOf({{"id", Int(1)}, {"qty", Int(1)}});
    *insert->add_rows() = RowOf({{"id", Int(2)}, {"qty", Int(1)}});
    *insert->add_rows() = RowOf(last);
    google::rpc::ErrorInfo info =
        Expect(Call(stub(), request), "COLUMN_UNKNOWN");
    EXPECT_EQ(info.metadata().at("row"), "2");
    EXPECT_EQ(info.metadata().at("column"),
              last.count("qtty") ? "qtty" : "colour");
  }
}

TEST_F(ErrorReasonsTest, ValueInvalidNamesRowAndColumn) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(NewKey());
  v1::InsertRequest* insert = request.mutable_insert();
  insert->set_table(items());
  *insert->add_rows() = RowOf({{"id", Int(1)}, {"qty", Int(1)}});
  *insert->add_rows() = RowOf({{"id", Int(2)}, {"qty", Str("two")}});
  v1::Value yes;
  yes.set_bool_value(true);
  *insert->add_rows() = RowOf({{"id", Int(3)}, {"qty", yes}});
  google::rpc::ErrorInfo info = Expect(Call(stub(), request), "VALUE_INVALID");
  EXPECT_EQ(info.metadata().at("row"), "2");
  EXPECT_EQ(info.metadata().at("column"), "qty");
  EXPECT_EQ(info.metadata().count("table"), 1u);
}

// A value PostgreSQL refuses (it judges the rows of a statement together)
// still names its row and column, found by the value its message quotes;
// a NULL into a NOT NULL column, by the column it names. Replayed alike.
TEST_F(ErrorReasonsTest, ValueRefusedByTheDatabaseNamesRowAndColumn) {
  struct Case {
    Columns bad;
    std::string column;
  };
  for (const Case& c : {
           Case{{{"id", Int(3)}, {"qty", Str("abc")}, {"name", Str("x")}},
                "qty"},
           Case{{{"id", Int(3)}, {"qty", Str("99999999999")}, {"name", Null()}},
                "qty"},
           Case{{{"id", Str("3x")}, {"qty", Int(1)}, {"name", Null()}}, "id"},
           Case{{{"id", Int(3)}, {"qty", Str("{\"a\": 1}")}, {"name", Null()}},
                "qty"},
       }) {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(NewKey());
    v1::InsertRequest* insert = request.mutable_insert();
    insert->set_table(items());
    *insert->add_rows() =
        RowOf({{"id", Int(1)}, {"qty", Int(1)}, {"name", Str("abc")}});
    *insert->add_rows() =
        RowOf({{"id", Int(2)}, {"qty", Int(2)}, {"name", Null()}});
    *insert->add_rows() = RowOf(c.bad);
    for (int attempt = 0; attempt < 2; ++attempt) {  // the second replays
      google::rpc::ErrorInfo info =
          Expect(Call(stub(), request), "VALUE_INVALID");
      EXPECT_EQ(MetadataValue(info, "row"), "2");
      EXPECT_EQ(MetadataValue(info, "column"), c.column);
    }
  }
}

// PostgreSQL's messages for a value too long, a numeric overflow, bad JSON
// or a date out of range quote no value or name no type: the row and
// column are found from the column's declared type and the value itself.
TEST_F(ErrorReasonsTest, ValueRefusedWithoutItsTextQuotedNamesRowAndColumn) {
  for (const auto& [column, bad] :
       std::vector<std::pair<std::string, v1::Value>>{
           {"code", Str("abcd")},
           {"letters", Str("\u00e9t\u00e9s")},
           {"price", Str("1000")},
           {"price", Int(99999)},
           {"doc", Str("{\"a\": }")},
           {"day", Str("2020-13-01")},
           {"flags", Str("10101")},
           {"mask", Str("10101")},
       }) {
    SCOPED_TRACE(column);
    v1::KeyedCallRequest request;
    request.set_idempotency_key(NewKey());
    v1::InsertRequest* insert = request.mutable_insert();
    insert->set_table(items());
    // The earlier rows hold values of the same column that fit: "abc" is
    // as long as varchar(3) takes; "\u00e9\u00e9  " is four characters in
    // six bytes, whose trailing spaces char(3) cuts.
    Columns fits = {
        {"code", Str("abc")},       {"letters", Str("\u00e9\u00e9  ")},
        {"price", Str("999.99")},   {"doc", Str("{\"a\": 1}")},
        {"day", Str("2020-12-01")}, {"flags", Str("1010")},
        {"mask", Str("101")}};
    for (int id = 1; id <= 3; ++id) {
      Columns row = fits;
      row["id"] = Int(id);
      if (id == 3) row[column] = bad;
      *insert->add_rows() = RowOf(row);
    }
    for (int attempt = 0; attempt < 2; ++attempt) {  // the second replays
      google::rpc::ErrorInfo info =
          Expect(Call(stub(), request), "VALUE_INVALID");
      EXPECT_EQ(MetadataValue(info, "row"), "2");
      EXPECT_EQ(MetadataValue(info, "column"), column);
    }
    EXPECT_EQ(ItemCount(1), 0);
  }
}

// An Update's refused value names its column: a set value, and a delta
// whose sum leaves the column's range.
TEST_F(ErrorReasonsTest, UpdateValueRefusedNamesColumn) {
  v1::Value yes;
  yes.set_bool_value(true);
  db().Exec("INSERT INTO " + items() + " (id, tally) VALUES (77, 32000)");
  auto update = [&](const Columns& set, const Columns& increment) {
    v1::KeyedCallRequest request;
    request.set_idempotency_key(NewKey());
    v1::UpdateRequest* update = request.mutable_update();
    update->set_table(items());
    *update->mutable_key() = RowOf({{"id", Int(77)}});
    *update->mutable_set() = RowOf(set);
    *update->mutable_increment() = RowOf(increment);
    return request;
  };
  for (const auto& [request, column] :
       std::vector<std::pair<v1::KeyedCallRequest, std::string>>{
           {update({{"qty", Str("many")}}, {}), "qty"},
           {update({{"code", Str("abcd")}}, {}), "code"},
           {update({{"qty", yes}}, {}), "qty"},  // judged by the server
           {update({{"name", Str("x")}}, {{"tally", Int(1000)}}), "tally"},
       }) {
    SCOPED_TRACE(column);
    google::rpc::ErrorInfo info =
        Expect(Call(stub(), request), "VALUE_INVALID");
    EXPECT_EQ(MetadataValue(info, "column"), column);
    EXPECT_EQ(info.metadata().count("table"), 1u);
    EXPECT_EQ(info.metadata().count("row"), 0u);
  }
  EXPECT_EQ(db().Scalar("SELECT tally || coalesce(name, '-') FROM " + items() +
                        " WHERE id = 77"),
            "32000-");
}

// What the table itself refuses, beyond its constraints, is as
// deterministic: a value for an identity column GENERATED ALWAYS, and a
// row its trigger raises an exception for. Stored, and replayed.
TEST_F(ErrorReasonsTest, WhatTheTableRefusesIsStoredNotInternal) {
  for (const auto& [row, reason] : std::vector<std::pair<Columns, std::string>>{
           {{{"id", Int(601)}, {"serial", Int(7)}}, "VALUE_INVALID"},
           {{{"id", Int(602)}, {"name", Str("forbidden")}},
            "CONSTRAINT_VIOLATED"},
       }) {
    SCOPED_TRACE(reason);
    v1::KeyedCallRequest request = InsertRow(NewKey(), items(), row);
    Answer first = Call(stub(), request);
    google::rpc::ErrorInfo info = Expect(first, reason.c_str());
    EXPECT_EQ(info.metadata().count("table"), 1u);
    if (row.count("serial") != 0) {
      EXPECT_EQ(MetadataValue(info, "column"), "serial");
    }
    Answer replay = Call(stub(), request);
    EXPECT_TRUE(replay.marked_replayed());
    EXPECT_EQ(replay.status.error_code(), first.status.error_code());
  }
  EXPECT_EQ(ItemCount(601) + ItemCount(602), 0);
}

TEST_F(ErrorReasonsTest, LimitExceeded) {
  v1::KeyedCallRequest request;
  request.set_idempotency_key(NewKey());
  request.mutable_insert()->set_table(items());
  for (int i = 0; i < 4; ++i) {
    *request.mutable_insert()->add_rows() = RowOf({{"id", Int(i)}});
  }
  Expect(Call(stub(), request), "LIMIT_EXCEEDED");
}

TEST_F(ErrorReasonsTest, TableNotFoundAndNotAllowed) {
  google::rpc::ErrorInfo info =
      Expect(Call(stub(), InsertRow(NewKey(), absent(), {{"id", Int(1)}})),
             "TABLE_NOT_FOUND");
  EXPECT_EQ(info.metadata().count("table"), 1u);
  Expect(Call(stub(),
              InsertRow(NewKey(), "pg_catalog.pg_class", {{"oid", Int(1)}})),
         "TABLE_NOT_ALLOWED");
}

// STORAGE_NOT_CONFIGURED belongs to the replica that answered, not to the
// call: nothing is stored under the key, so that a replica with a storage
// root (on the same database) runs the call rather than replay a refusal.
TEST_F(ErrorReasonsTest, StorageNotConfiguredIsNotStored) {
  const std::string key = NewKey();
  Expect(Call(stub(), Copy(key, "a", "b")), "STORAGE_NOT_CONFIGURED");
  EXPECT_EQ(KeyRows(key), 0);
  const Answer again = Call(stub(), Copy(key, "a", "b"));
  EXPECT_FALSE(again.marked_replayed());
}

// A CHECK constraint the row breaks: the call's failure is stored under its
// key, and the replay carries the same reason and constraint.
TEST_F(ErrorReasonsTest, ConstraintViolatedIsStoredWithItsReason) {
  std::string key = NewKey();
  v1::KeyedCallRequest request =
      InsertRow(key, items(), {{"id", Int(9)}, {"qty", Int(-1)}});
  Answer first = Call(stub(), request);
  google::rpc::ErrorInfo info = Expect(first, "CONSTRAINT_VIOLATED");
  EXPECT_NE(info.metadata().at("constraint").find("qty"), std::string::npos);
  EXPECT_NE(info.metadata().at("table").find(items()), std::string::npos);
  EXPECT_FALSE(first.marked_replayed());

  Answer replay = Call(stub(), request);
  EXPECT_TRUE(replay.marked_replayed());
  google::rpc::ErrorInfo replayed = Expect(replay, "CONSTRAINT_VIOLATED");
  EXPECT_EQ(replayed.metadata().at("constraint"),
            info.metadata().at("constraint"));
  EXPECT_EQ(replay.status.error_message(), first.status.error_message());
}

TEST_F(ErrorReasonsTest, ABatchCallCarriesTheSameDetails) {
  v1::BatchRequest batch;
  *batch.add_calls()->mutable_keyed_call() =
      InsertRow(NewKey(), items(), {{"id", Int(1)}, {"colour", Str("red")}});
  *batch.add_calls()->mutable_keyed_call() =
      Increment("has space", counters(), NewCounter());
  grpc::ClientContext context;
  v1::BatchResponse response;
  ASSERT_TRUE(stub().Batch(&context, batch, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  for (const auto& [result, reason] :
       {std::pair{&response.results(0), "COLUMN_UNKNOWN"},
        std::pair{&response.results(1), "KEY_INVALID"}}) {
    ASSERT_TRUE(result->has_status());
    EXPECT_EQ(result->status().code(), result->code());
    EXPECT_EQ(result->status().message(), result->message());
    std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(result->status());
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->domain(), "idem");
    EXPECT_EQ(info->reason(), reason);
  }
}

// A call of a batch that does not parse (a string that is not UTF-8) is
// refused alone; the others run, as they would have sent alone. A client
// that batches (idem's C++ client of 0.1.0) sends such batches.
TEST_F(ErrorReasonsTest, AMalformedCallOfABatchIsRefusedAlone) {
  const int64_t counter = NewCounter();
  v1::BatchRequest batch;
  *batch.add_calls()->mutable_keyed_call() =
      Increment(NewKey(), counters(), counter);
  *batch.add_calls()->mutable_keyed_call() = InsertRow(
      NewKey(), items(), {{"id", Int(701)}, {"name", Str("caf\xe9")}});
  *batch.add_calls()->mutable_keyed_call() =
      Increment(NewKey(), counters(), counter);
  grpc::ClientContext context;
  v1::BatchResponse response;
  grpc::Status status = stub().Batch(&context, batch, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << " "
                           << status.error_message();
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).code(), 0);
  EXPECT_EQ(ErrorInfoOf(response.results(1).status())
                .value_or(google::rpc::ErrorInfo())
                .reason(),
            "REQUEST_INVALID");
  EXPECT_EQ(response.results(2).code(), 0);
  EXPECT_EQ(Counter(counter), 2);
  EXPECT_EQ(ItemCount(701), 0);
}

}  // namespace
}  // namespace idem::testing::keyed
