// grpc_floor_client: keeps N KeyedCalls in flight on gRPC directly (no idem
// client library) for a few seconds and prints calls/s and its own CPU per
// call: what gRPC alone costs a client on this machine. API "callback" (the
// default, as the idem client library calls): each completion, on a gRPC
// thread, starts the next call; "blocking": N threads of the client's own,
// each in a loop of blocking calls, which gRPC completes on the calling
// thread itself (it polls while it waits).
//
//   grpc_floor_client HOST:PORT [IN_FLIGHT=64] [SECONDS=5] [API=callback]
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench/process_cpu.h"
#include "idem/v1/idem.grpc.pb.h"

namespace {

struct Call {
  grpc::ClientContext context;
  idem::v1::KeyedCallRequest request;
  idem::v1::KeyedCallResponse response;
};

class Loop {
 public:
  explicit Loop(std::shared_ptr<grpc::Channel> channel)
      : stub_(idem::v1::IdemService::NewStub(channel)) {}

  // One call; its completion starts the next until Stop.
  void Next() {
    auto* call = new Call;
    call->request.set_idempotency_key("floor");
    call->request.mutable_insert()->set_table("floor");
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(10));
    stub_->async()->KeyedCall(&call->context, &call->request, &call->response,
                              [this, call](grpc::Status) {
                                delete call;
                                done_.fetch_add(1);
                                if (!stopping_.load()) Next();
                              });
  }
  // Blocking calls on the calling thread until Stop.
  void BlockingLoop() {
    while (!stopping_.load()) {
      Call call;
      call.request.set_idempotency_key("floor");
      call.request.mutable_insert()->set_table("floor");
      call.context.set_deadline(std::chrono::system_clock::now() +
                                std::chrono::seconds(10));
      stub_->KeyedCall(&call.context, call.request, &call.response);
      done_.fetch_add(1);
    }
  }
  void Stop() { stopping_.store(true); }
  long done() const { return done_.load(); }

 private:
  std::unique_ptr<idem::v1::IdemService::Stub> stub_;
  std::atomic<long> done_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: grpc_floor_client HOST:PORT [N] [SECONDS]\n");
    return 2;
  }
  const int in_flight = argc > 2 ? std::atoi(argv[2]) : 64;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 5;
  const std::string api = argc > 4 ? argv[4] : "callback";
  Loop loop(grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials()));
  std::vector<std::thread> threads;
  for (int i = 0; i < in_flight; ++i) {
    if (api == "blocking") {
      threads.emplace_back([&loop] { loop.BlockingLoop(); });
    } else {
      loop.Next();
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up
  const long calls_before = loop.done();
  const double cpu_before = idem::bench::ProcessCpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const long calls = loop.done() - calls_before;
  const double cpu = idem::bench::ProcessCpuSeconds() - cpu_before;
  loop.Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // drain
  for (std::thread& thread : threads) thread.detach();
  // total_calls: every call the server answered, warm-up and drain too.
  std::printf(
      "calls=%ld calls_s=%.0f client_cpu_us_per_call=%.1f total_calls=%ld\n",
      calls, calls / static_cast<double>(seconds), cpu / calls * 1e6,
      loop.done());
  std::fflush(stdout);
  std::_Exit(0);  // calls may still be in flight: skip their teardown
}
