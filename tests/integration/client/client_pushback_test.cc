// The client honours the real server's pushback: while a tenant is at its
// in-flight limit the server answers RESOURCE_EXHAUSTED with
// grpc-retry-pushback-ms (100 ms), and the client waits at least that long
// before each new attempt, then succeeds once the limit frees.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <pqxx/pqxx>
#include <thread>

#include "idem/client.h"
#include "idem/rows.h"
#include "tests/support/polling.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem {
namespace {

using testing::DatabaseUrl;
using testing::Eventually;
using testing::ServerProcess;
using testing::TestDatabase;

// The server's delay for a tenant over its limit (service/api).
constexpr auto kServerDelay = std::chrono::milliseconds(100);

int CountOf(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST(ClientPushbackTest, WaitsAtLeastTheServersDelayBetweenAttempts) {
  TestDatabase db;
  const std::string table = db.CreateCounters("pushback", "(1, 0)");
  ServerProcess::Options options;
  options.env = {{"IDEM_TABLES", table},
                 {"IDEM_TENANT_MAX_IN_FLIGHT", "1"},
                 {"IDEM_LOCK_TIMEOUT", "120s"}};
  auto server = ServerProcess::Start(options);

  // One call parked behind a row lock holds the tenant's only slot.
  pqxx::connection holder(DatabaseUrl());
  pqxx::work lock(holder);
  lock.exec("SELECT * FROM " + table + " WHERE id = 1 FOR UPDATE");
  v1::UpdateRequest parked_request;
  parked_request.set_table(table);
  *parked_request.mutable_key() = MakeRow({{"id", 1}});
  *parked_request.mutable_set() = MakeRow({{"n", 5}});
  grpc::Status parked_status;
  std::thread parked([&] {
    grpc::ClientContext context;
    v1::UpdateResponse response;
    parked_status = server->Stub()->Update(&context, parked_request, &response);
  });
  ASSERT_TRUE(Eventually([&] { return db.LockWaiters(table) == 1; }))
      << server->Log();

  ClientOptions client_options;
  client_options.target = server->address();
  client_options.retry =
      RetryPolicy{/*max_attempts=*/1000, absl::Seconds(60), absl::Seconds(5)};
  client_options.retry_budget = {/*max_tokens=*/1e9, /*token_ratio=*/1};
  absl::StatusOr<Client> client = Client::Create(client_options);
  ASSERT_TRUE(client.ok()) << client.status();

  v1::InsertRequest insert;
  insert.set_table(table);
  *insert.add_rows() = MakeRow({{"id", 2}, {"n", 2}});
  CallInfo info;
  absl::StatusOr<v1::InsertResponse> inserted;
  auto start = std::chrono::steady_clock::now();
  std::thread caller([&] { inserted = client->Insert(insert, {}, &info); });
  // Let the client meet the limit a few times, then free the slot.
  const std::string refusal = "\"code\":\"RESOURCE_EXHAUSTED\"";
  ASSERT_TRUE(Eventually([&] { return CountOf(server->Log(), refusal) >= 3; }))
      << server->Log();
  lock.commit();
  caller.join();
  auto elapsed = std::chrono::steady_clock::now() - start;
  parked.join();

  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_EQ(inserted->inserted(), 1);
  EXPECT_TRUE(parked_status.ok()) << parked_status.error_message();
  EXPECT_GE(info.attempts, 4);
  // Every attempt after a refusal waited at least the server's delay.
  EXPECT_GE(elapsed, (info.attempts - 1) * kServerDelay);
  EXPECT_EQ(db.Scalar("SELECT n FROM " + table + " WHERE id = 2"), "2");
}

}  // namespace
}  // namespace idem
