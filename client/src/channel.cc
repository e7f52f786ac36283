#include "channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace idem::internal {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read TLS file ", path));
  }
  if (contents.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS file ", path, " is missing or empty"));
  }
  return contents.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const TlsOptions& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs its key and a key its certificate");
  }
  grpc::SslCredentialsOptions ssl;
  for (auto [path, field] : {std::pair{&tls.ca_file, &ssl.pem_root_certs},
                             std::pair{&tls.cert_file, &ssl.pem_cert_chain},
                             std::pair{&tls.key_file, &ssl.pem_private_key}}) {
    absl::StatusOr<std::string> pem = ReadPem(*path);
    if (!pem.ok()) return pem.status();
    *field = *std::move(pem);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const ClientOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError(
        "ClientOptions::target is empty: give the server's address, e.g. "
        "\"localhost:50051\"");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  // The client does its own retries. A service config from DNS could turn on
  // gRPC's retryPolicy as well and multiply attempts, so none is taken.
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  // gRPC's transparent retries are off too. They resend a call the server
  // "never saw" by gRPC's reckoning; but gRPC's server (1.51, under its
  // memory quota) can name in a GOAWAY a last stream below a call it goes on
  // to run, and a plain write then ran twice. Such a call now fails
  // UNAVAILABLE (it may have run), and keyed calls are retried here.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // While the server is down gRPC tries to reconnect with a growing backoff,
  // up to 2 minutes by default; a call waiting for the channel (a retry,
  // see attempt_metadata.cc) would wait that long past a server's restart.
  // Two seconds at most keeps the wait short and the connection attempts
  // of many clients spread.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // An answer is received whatever its size (gRPC's default stops at
  // 4 MiB): it describes a write that has committed, so refusing it here
  // would report a failure for a write that happened, and a replay under
  // its key would be refused the same way. The server bounds requests, and
  // with them what an answer can return.
  args.SetMaxReceiveMessageSize(-1);
  if (!options.tls.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.tls.server_name_override);
  }
  return grpc::CreateCustomChannel(options.target, *credentials, args);
}

}  // namespace idem::internal
