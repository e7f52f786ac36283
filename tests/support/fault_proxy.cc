#include "tests/support/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/support/socket_io.h"

namespace idem::testing {

struct FaultProxy::Connection {
  int client_fd = -1;
  int server_fd = -1;
  std::atomic<bool> cut{false};
};

namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// SO_LINGER with a zero timeout makes close() send RST instead of FIN.
void ResetSocket(int fd) {
  linger hard{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  shutdown(fd, SHUT_RDWR);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Start(
    const std::string& upstream) {
  std::unique_ptr<FaultProxy> proxy(new FaultProxy);
  const size_t colon = upstream.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(upstream.substr(colon + 1), &proxy->upstream_port_)) {
    return absl::InvalidArgumentError("upstream must be host:port");
  }
  proxy->upstream_host_ = upstream.substr(0, colon);
  if (proxy->upstream_host_ == "localhost") proxy->upstream_host_ = "127.0.0.1";

  proxy->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (proxy->listen_fd_ < 0) return Errno("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&address), length) !=
          0 ||
      listen(proxy->listen_fd_, 64) != 0 ||
      getsockname(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&address),
                  &length) != 0) {
    return Errno("listen on 127.0.0.1");
  }
  proxy->port_ = ntohs(address.sin_port);
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  close(listen_fd_);
  ResetAll();
  std::vector<std::thread> pumps;
  {
    absl::MutexLock lock(&mu_);
    pumps.swap(pumps_);
  }
  for (std::thread& pump : pumps) pump.join();
}

std::string FaultProxy::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void FaultProxy::SetFaults(const Faults& faults) {
  absl::MutexLock lock(&mu_);
  faults_ = faults;
  rng_ = faults.seed;
}

void FaultProxy::ResetAll() {
  absl::MutexLock lock(&mu_);
  for (const auto& connection : connections_) {
    CutConnection(*connection, Cut::kReset);
  }
}

FaultProxy::Cut FaultProxy::NextFault() {
  absl::MutexLock lock(&mu_);
  // xorshift64: reproducible from the seed, good enough for coin flips.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const double draw = static_cast<double>(rng_ >> 11) / 9007199254740992.0;
  if (draw < faults_.reset_probability) return Cut::kReset;
  if (draw < faults_.reset_probability + faults_.drop_probability) {
    return Cut::kDrop;
  }
  return Cut::kNone;
}

void FaultProxy::CutConnection(Connection& connection, Cut how) {
  if (connection.cut.exchange(true)) return;
  ++cuts_;
  for (int fd : {connection.client_fd, connection.server_fd}) {
    if (how == Cut::kReset) {
      ResetSocket(fd);
    } else {
      shutdown(fd, SHUT_RDWR);
    }
  }
}

void FaultProxy::AcceptLoop() {
  while (!stopping_) {
    const int client_fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client_fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // the listening socket was shut down
    }
    auto connection = std::make_shared<Connection>();
    connection->client_fd = client_fd;
    connection->server_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in upstream{};
    upstream.sin_family = AF_INET;
    upstream.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    inet_pton(AF_INET, upstream_host_.c_str(), &upstream.sin_addr);
    if (connect(connection->server_fd, reinterpret_cast<sockaddr*>(&upstream),
                sizeof(upstream)) != 0) {
      close(connection->server_fd);
      close(client_fd);
      continue;
    }
    for (int fd : {client_fd, connection->server_fd}) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    absl::MutexLock lock(&mu_);
    connections_.push_back(connection);
    pumps_.emplace_back([this, connection] { Pump(connection); });
  }
}

// Copies both directions until either side closes or a fault cuts the
// connection.
void FaultProxy::Pump(std::shared_ptr<Connection> connection) {
  char buffer[16384];
  pollfd fds[2] = {{connection->client_fd, POLLIN, 0},
                   {connection->server_fd, POLLIN, 0}};
  while (!connection->cut) {
    if (poll(fds, 2, 100) < 0 && errno != EINTR) break;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = recv(fds[i].fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      const bool from_server = i == 1;
      absl::Duration delay;
      {
        absl::MutexLock lock(&mu_);
        delay = faults_.response_delay;
      }
      if (from_server && delay > absl::ZeroDuration()) absl::SleepFor(delay);
      if (const Cut cut = NextFault(); cut != Cut::kNone) {
        CutConnection(*connection, cut);
        closed = true;
        break;
      }
      if (connection->cut || !SendAll(fds[1 - i].fd, buffer, n)) closed = true;
    }
    if (closed) break;
  }
  {
    absl::MutexLock lock(&mu_);
    connections_.erase(
        std::remove(connections_.begin(), connections_.end(), connection),
        connections_.end());
  }
  close(connection->client_fd);
  close(connection->server_fd);
}

}  // namespace idem::testing
