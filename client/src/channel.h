#ifndef IDEM_CLIENT_SRC_CHANNEL_H_
#define IDEM_CLIENT_SRC_CHANNEL_H_

#include <grpcpp/channel.h>

#include <memory>

#include "absl/status/statusor.h"
#include "idem/client.h"

namespace idem::internal {

// A channel to options.target, TLS as options.tls says.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const ClientOptions& options);

}  // namespace idem::internal

#endif  // IDEM_CLIENT_SRC_CHANNEL_H_
