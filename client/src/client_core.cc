#include "client_core.h"

#include <grpcpp/create_channel.h>

#include <chrono>
#include <thread>

namespace idem::internal {
namespace {

thread_local bool t_releasing_on_callback_thread = false;

void DestroyClientCore(ClientCore* core) {
  if (t_releasing_on_callback_thread) {
    std::thread([core] { delete core; }).detach();
  } else {
    delete core;
  }
}

// gRPC 1.51 (Debian 12) serves callback calls from a process-wide queue that
// it tears down when the last channel that used it is destroyed; tearing it
// down while a callback is still finishing corrupts memory. So the first
// Client starts one callback call on a channel that is never destroyed. The
// call has an expired deadline and a target that does not exist: nothing is
// sent anywhere. Kept reachable from a static so leak checkers stay quiet;
// the static is volatile because an optimizer drops a pointer that nothing
// reads, and LeakSanitizer then reported the anchor as leaked.
struct CallbackQueueAnchor {
  CallbackQueueAnchor()
      : channel(grpc::CreateChannel("unix:/nonexistent/idem-client-anchor",
                                    grpc::InsecureChannelCredentials())),
        stub(v1::IdemService::NewStub(channel)) {
    context.set_deadline(std::chrono::system_clock::now());
    stub->async()->Insert(&context, &request, &response, [](grpc::Status) {});
  }
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::IdemService::Stub> stub;
  grpc::ClientContext context;
  v1::InsertRequest request;
  v1::InsertResponse response;
};

void KeepCallbackQueueAlive() {
  static CallbackQueueAnchor* volatile const anchor = new CallbackQueueAnchor;
  (void)anchor;
}

}  // namespace

std::shared_ptr<ClientCore> MakeClientCore(
    std::shared_ptr<grpc::Channel> channel, ClientOptions options) {
  KeepCallbackQueueAlive();
  return std::shared_ptr<ClientCore>(
      new ClientCore(std::move(channel), std::move(options)),
      DestroyClientCore);
}

CallbackThreadScope::CallbackThreadScope()
    : outer_(t_releasing_on_callback_thread) {
  t_releasing_on_callback_thread = true;
}

CallbackThreadScope::~CallbackThreadScope() {
  t_releasing_on_callback_thread = outer_;
}

}  // namespace idem::internal
