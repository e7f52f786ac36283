// The client against a server whose transport is short of memory (its
// IDEM_MAX_TRANSPORT_BYTES quota under a flood of large requests): a plain
// call answers as it ran, or fails.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "idem/client.h"
#include "idem/rows.h"
#include "tests/support/raw_unary_call.h"
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace idem {
namespace {

using testing::ServerProcess;
using testing::TestDatabase;

// Six callers that send 30 MB Inserts, each on a new connection and given
// 300 ms, one after the other until destroyed: the server's transport
// buffers their parts until its quota resets them, in bursts of pressure.
class LargeRequestFlood {
 public:
  explicit LargeRequestFlood(const std::string& address) : address_(address) {
    for (int i = 0; i < 6; ++i) callers_.emplace_back([this] { Send(); });
  }
  ~LargeRequestFlood() {
    stop_ = true;
    for (std::thread& caller : callers_) caller.join();
  }

 private:
  void Send() {
    const std::string large(30 << 20, 'x');
    while (!stop_) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a new connection
      grpc::ClientContext context;
      context.set_deadline(
          absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
      testing::RawUnaryCall(
          grpc::CreateCustomChannel(address_,
                                    grpc::InsecureChannelCredentials(), args),
          context, "/idem.v1.IdemService/Insert", large);
    }
  }

  const std::string address_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> callers_;
};

// Under its memory quota gRPC's server (1.51) ends a connection that has no
// call open with a GOAWAY, and the last stream id that GOAWAY names can be
// below a call it then runs. gRPC clients send a call past that id again by
// themselves (a "transparent retry", meant for calls the server never saw):
// the old client ran plain Inserts twice here and answered DUPLICATE for the
// caller's own new row (24 to 42 times in three runs of 15 s). The client turns
// gRPC's own retries off: such a call fails UNAVAILABLE, which says it may have
// run.
TEST(ClientTransportQuotaTest, APlainCallThatRanIsNotSentAgain) {
  TestDatabase db;
  const std::string table = TestDatabase::UniqueName("quota_rows");
  db.Exec("CREATE TABLE " + table + " (id bigint PRIMARY KEY)");
  ServerProcess::Options server_options;
  server_options.env = {{"IDEM_TABLES", table},
                        {"IDEM_MAX_TRANSPORT_BYTES", absl::StrCat(4 << 20)}};
  const std::unique_ptr<ServerProcess> server =
      ServerProcess::Start(server_options);
  ClientOptions options;
  options.target = server->address();
  options.retry.max_attempts = 1;  // a plain Insert, sent once
  const Client client = *Client::Create(options);

  std::map<std::string, int> answers;
  {
    const LargeRequestFlood flood(server->address());
    const absl::Time end = absl::Now() + absl::Seconds(10);
    for (int64_t id = 1; absl::Now() < end; ++id) {
      v1::InsertRequest request;
      request.set_table(table);
      *request.add_rows() = MakeRow({{"id", id}});
      const absl::StatusOr<v1::InsertResponse> answer = client.Insert(request);
      ++answers[answer.ok()
                    ? v1::RowOutcome_Name(answer->outcomes(0))
                    : std::string(answer.status().message().substr(0, 50))];
    }
  }
  std::string seen;
  for (const auto& [answer, count] : answers) {
    absl::StrAppend(&seen, answer, ": ", count, "; ");
  }
  EXPECT_GT(answers["ROW_OUTCOME_INSERTED"], 0) << seen;
  EXPECT_EQ(answers.count("ROW_OUTCOME_DUPLICATE"), 0) << seen;
  // Rows beyond the INSERTED answers: failed calls that ran.
  RecordProperty("answers", seen);
  RecordProperty("rows", db.Scalar("SELECT count(*) FROM " + table));
}

}  // namespace
}  // namespace idem
