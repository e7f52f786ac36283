#ifndef IDEM_CLIENT_SRC_CLIENT_CORE_H_
#define IDEM_CLIENT_SRC_CLIENT_CORE_H_

#include <grpcpp/channel.h>

#include <memory>

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
        budget(this->options.retry_budget) {}

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::IdemService::Stub> stub;
  const ClientOptions options;
  RetryBudget budget;
};

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_CLIENT_CORE_H_
