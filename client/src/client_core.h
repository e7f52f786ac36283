#ifndef IDEM_CLIENT_SRC_CLIENT_CORE_H_
#define IDEM_CLIENT_SRC_CLIENT_CORE_H_

#include <grpcpp/channel.h>

#include <memory>

#include "call_batcher.h"
#include "idem/client.h"
#include "idem/retry_budget.h"
#include "idem/v1/idem.grpc.pb.h"

namespace idem::internal {

// What the copies of one Client share. Calls in flight hold it too, so a
// Client may be destroyed while its async calls are still retrying.
struct ClientCore {
  ClientCore(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
      : channel(channel),
        stub(v1::IdemService::NewStub(channel)),
        options(std::move(options)),
        budget(this->options.retry_budget),
        batcher(this->options.batching.enabled
                    ? std::make_unique<CallBatcher>(this->options.batching)
                    : nullptr) {}

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::IdemService::Stub> stub;
  const ClientOptions options;
  RetryBudget budget;
  std::unique_ptr<CallBatcher> batcher;  // null when batching is off
};

// A ClientCore whose last owner may be a call finishing on a gRPC thread.
std::shared_ptr<ClientCore> MakeClientCore(
    std::shared_ptr<grpc::Channel> channel, ClientOptions options);

// Marks code that runs inside a gRPC callback. A ClientCore whose last
// reference goes away there (the caller dropped every Client, maybe from its
// own callback) is destroyed on a thread of its own: gRPC corrupts its
// completion queue when a channel is destroyed on a thread that serves that
// channel's callbacks.
class CallbackThreadScope {
 public:
  CallbackThreadScope();
  ~CallbackThreadScope();
  CallbackThreadScope(const CallbackThreadScope&) = delete;
  CallbackThreadScope& operator=(const CallbackThreadScope&) = delete;

 private:
  const bool outer_;
};

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_CLIENT_CORE_H_
