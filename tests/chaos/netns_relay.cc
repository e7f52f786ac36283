#include "tests/chaos/netns_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tests/support/socket_io.h"

namespace idem::chaos {
namespace {

using testing::SendAll;

// Creates the listening socket from a thread that joined the namespace: a
// socket belongs to the namespace it was created in, whichever thread uses
// it later. The process's other threads never leave their namespace.
absl::StatusOr<int> ListenInNamespace(const std::string& netns,
                                      const std::string& host, int* port) {
  absl::StatusOr<int> result = absl::InternalError("not run");
  std::thread worker([&] {
    const int ns_fd =
        open(absl::StrCat("/run/netns/", netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0 || setns(ns_fd, CLONE_NEWNET) != 0) {
      result = absl::FailedPreconditionError(absl::StrCat(
          "cannot enter namespace ", netns, ": ", std::strerror(errno)));
      if (ns_fd >= 0) close(ns_fd);
      return;
    }
    close(ns_fd);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    socklen_t length = sizeof(address);
    if (fd < 0 ||
        bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(fd, 128) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      result = absl::InternalError(
          absl::StrCat("listen on ", host, ": ", std::strerror(errno)));
      if (fd >= 0) close(fd);
      return;
    }
    *port = ntohs(address.sin_port);
    result = fd;
  });
  worker.join();
  return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetnsRelay>> NetnsRelay::Start(
    const std::string& netns, const std::string& address, int upstream_port) {
  std::unique_ptr<NetnsRelay> relay(new NetnsRelay);
  relay->host_ = address;
  relay->upstream_port_ = upstream_port;
  absl::StatusOr<int> fd = ListenInNamespace(netns, address, &relay->port_);
  if (!fd.ok()) return fd.status();
  relay->listen_fd_ = *fd;
  relay->acceptor_ = std::thread([r = relay.get()] { r->AcceptLoop(); });
  return relay;
}

NetnsRelay::~NetnsRelay() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  close(listen_fd_);
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* live) { return *live == 0; }, &live_pumps_));
}

std::string NetnsRelay::address() const {
  return absl::StrCat(host_, ":", port_);
}

void NetnsRelay::AcceptLoop() {
  while (!stopping_) {
    const int client_fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client_fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    const int server_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in upstream{};
    upstream.sin_family = AF_INET;
    upstream.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    upstream.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (server_fd < 0 ||
        connect(server_fd, reinterpret_cast<sockaddr*>(&upstream),
                sizeof(upstream)) != 0) {
      if (server_fd >= 0) close(server_fd);
      close(client_fd);  // replica down: the client sees the connection end
      continue;
    }
    const int one = 1;
    for (int fd : {client_fd, server_fd}) {
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    absl::MutexLock lock(&mu_);
    ++live_pumps_;
    std::thread([this, client_fd, server_fd] {
      Pump(client_fd, server_fd);
    }).detach();
  }
}

// Copies both ways until either side ends, an error, or the relay stops
// (checked every 200 ms).
void NetnsRelay::Pump(int client_fd, int server_fd) {
  char buffer[16384];
  pollfd fds[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
  bool open = true;
  while (open && !stopping_) {
    const int ready = poll(fds, 2, 200);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2 && open && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = recv(fds[i].fd, buffer, sizeof(buffer), 0);
      open = n > 0 && SendAll(fds[1 - i].fd, buffer, static_cast<size_t>(n));
    }
  }
  // A reset on one side is passed on as a reset on the other.
  linger hard{1, 0};
  setsockopt(client_fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  setsockopt(server_fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  close(client_fd);
  close(server_fd);
  absl::MutexLock lock(&mu_);
  --live_pumps_;
}

}  // namespace idem::chaos
