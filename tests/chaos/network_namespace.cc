#include "tests/chaos/network_namespace.h"

#include <unistd.h>

#include <random>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/chaos/command.h"

namespace idem::chaos {
namespace {

// A /30 in 10.213.0.0/16 that no route of the host uses yet.
absl::StatusOr<int> FreeSubnet() {
  std::string routes;
  if (RunCommand({"ip", "route", "show"}, &routes) != 0) {
    return absl::FailedPreconditionError("`ip route show` does not work here");
  }
  std::mt19937 random(static_cast<unsigned>(getpid()));
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int octet = static_cast<int>(random() % 250) + 1;
    if (routes.find(absl::StrCat("10.213.", octet, ".")) == std::string::npos) {
      return octet;
    }
  }
  return absl::FailedPreconditionError("no free subnet in 10.213.0.0/16");
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetworkNamespace>> NetworkNamespace::Create(
    const std::string& tag) {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError("not root: no network namespace");
  }
  if (RunCommand({"iptables", "--version"}) != 0) {
    return absl::FailedPreconditionError(
        "iptables missing (scripts/packages/chaos.txt)");
  }
  absl::StatusOr<int> octet = FreeSubnet();
  if (!octet.ok()) return octet.status();
  std::unique_ptr<NetworkNamespace> netns(new NetworkNamespace);
  const std::string name = absl::StrCat("idem-", tag);
  if (RunCommand({"ip", "netns", "add", name}) != 0) {
    return absl::FailedPreconditionError(
        "`ip netns add` does not work here (a container without "
        "CAP_SYS_ADMIN?)");
  }
  netns->name_ = name;
  const std::string host_if = absl::StrCat("idem", tag, "h");
  const std::string ns_if = absl::StrCat("idem", tag, "n");
  const std::string host_ip = absl::StrCat("10.213.", *octet, ".1");
  const std::string ns_ip = absl::StrCat("10.213.", *octet, ".2");
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if},
      {"ip", "link", "set", ns_if, "netns", name},
      {"ip", "addr", "add", host_ip + "/30", "dev", host_if},
      {"ip", "link", "set", host_if, "up"},
      {"ip", "-n", name, "addr", "add", ns_ip + "/30", "dev", ns_if},
      {"ip", "-n", name, "link", "set", ns_if, "up"},
      {"ip", "-n", name, "link", "set", "lo", "up"}};
  netns->host_interface_ = host_if;
  for (const std::vector<std::string>& step : steps) {
    std::string output;
    if (RunCommand(step, &output) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("veth pair failed: ", output));
    }
  }
  netns->address_ = ns_ip;
  return netns;
}

NetworkNamespace::~NetworkNamespace() {
  if (name_.empty()) return;
  // Deleting the namespace deletes its end of the pair, and so the pair; the
  // host end goes too, in case the pair was half made.
  RunCommand({"ip", "netns", "del", name_});
  RunCommand({"ip", "link", "del", host_interface_});
}

int NamespaceFirewall::Iptables(std::vector<std::string> args,
                                std::string* out) {
  std::vector<std::string> argv = {"ip",       "netns", "exec", netns_,
                                   "iptables", "-w",    "5"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, out);
}

bool NamespaceFirewall::Setup() {
  return Iptables({"-N", "IDEM_CHAOS"}) == 0 &&
         Iptables({"-I", "INPUT", "-d", address_, "-p", "tcp", "-j",
                   "IDEM_CHAOS"}) == 0 &&
         Iptables({"-I", "OUTPUT", "-s", address_, "-p", "tcp", "-j",
                   "IDEM_CHAOS"}) == 0;
}

bool NamespaceFirewall::Add(const std::string& probability, bool reset) {
  std::vector<std::string> rule = {"-A",  "IDEM_CHAOS", "-p",
                                   "tcp", "-m",         "statistic"};
  rule.insert(rule.end(),
              {"--mode", "random", "--probability", probability, "-j"});
  if (reset) {
    rule.insert(rule.end(), {"REJECT", "--reject-with", "tcp-reset"});
  } else {
    rule.push_back("DROP");
  }
  return Iptables(rule) == 0;
}

int64_t NamespaceFirewall::Flush() {
  std::string listing;
  Iptables({"-L", "IDEM_CHAOS", "-v", "-x", "-n"}, &listing);
  Iptables({"-F", "IDEM_CHAOS"});
  int64_t packets = 0;
  std::istringstream lines(listing);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first;
    int64_t n = 0;
    if (words >> first && absl::SimpleAtoi(first, &n)) packets += n;
  }
  return packets;
}

}  // namespace idem::chaos
