// idem_chaos: the chaos driver behind scripts/chaos. Starts 3 idem-server
// replicas against the run's PostgreSQL, drives a multi-threaded workload
// through the client library (directly, through fault proxies and through a
// network namespace), injects faults of every kind, then checks that every
// acknowledged operation took effect exactly once and prints the verdict.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/chaos/cluster.h"
#include "tests/chaos/faults.h"
#include "tests/chaos/netns_relay.h"
#include "tests/chaos/network_namespace.h"
#include "tests/chaos/options.h"
#include "tests/chaos/report.h"
#include "tests/chaos/verdict.h"
#include "tests/chaos/workload.h"

namespace idem::chaos {
namespace {

constexpr int kReplicas = 3;

Client MakeClient(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // A replica comes back within a second or two: reconnect quickly instead
  // of gRPC's default backoff of up to 120 s.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  ClientOptions options;
  options.retry.max_attempts = 10;
  options.retry.total_timeout = absl::Seconds(30);
  options.retry.per_attempt_timeout = absl::Seconds(3);
  options.backoff.initial = absl::Milliseconds(20);
  options.backoff.maximum = absl::Seconds(1);
  // The retry budget protects a real fleet from retry storms; here six
  // workers cannot make one, and a drained budget would only turn faults
  // into fast final errors. The budget has its own unit tests.
  options.retry_budget.max_tokens = 100000;
  options.retry_budget.token_ratio = 1;
  // Workers share a route's Client; with one RPC in flight before calls
  // wait, any two concurrent Inserts or keyed writes on a route travel in
  // one Batch RPC, so the faults also cut batches.
  options.batching.max_in_flight = 1;
  return Client::FromChannel(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                args),
      options);
}

// Source files of several sizes (empty to 1.5 MiB) with random content.
std::vector<SourceFile> PrepareSources(const std::string& root,
                                       std::mt19937_64& random) {
  std::filesystem::create_directories(root + "/src");
  std::filesystem::create_directories(root + "/dst");
  const int sizes[] = {0, 1, 100, 4096, 65536, 65537, 200000, 1500000};
  std::vector<SourceFile> sources;
  for (int i = 0; i < 12; ++i) {
    const int size = i < 8 ? sizes[i] : static_cast<int>(random() % 300000);
    std::string content(static_cast<size_t>(size), '\0');
    for (char& c : content) c = static_cast<char>(random());
    SourceFile source{absl::StrCat("src/s", i, ".bin"), ""};
    std::ofstream(root + "/" + source.path, std::ios::binary) << content;
    bool ok = false;
    source.sha256 = Sha256OfFile(root + "/" + source.path, &ok);
    sources.push_back(source);
  }
  return sources;
}

OpKind PickKind(std::mt19937_64& random) {
  const int draw = static_cast<int>(random() % 100);
  if (draw < 30) return OpKind::kKeyedIncrement;
  if (draw < 50) return OpKind::kKeyedInsert;
  if (draw < 65) return OpKind::kPlainInsert;
  if (draw < 80) return OpKind::kTransfer;
  if (draw < 90) return OpKind::kCopy;
  return OpKind::kKeyedCopy;
}

// Two different counters and an amount.
Transfer PickTransfer(std::mt19937_64& random) {
  Transfer transfer;
  transfer.debit = static_cast<int>(random() % kTransferCounters);
  transfer.credit = static_cast<int>(
      (transfer.debit + 1 + random() % (kTransferCounters - 1)) %
      kTransferCounters);
  transfer.amount = static_cast<int64_t>(1 + random() % 1000);
  return transfer;
}

int Run(const Options& options) {
  const uint64_t seed =
      options.seed != 0 ? options.seed
                        : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::mt19937_64 random(seed);
  const std::string run = absl::StrCat(seed % 1000000007);
  Report report;
  report.seed = seed;

  Database database(options);
  if (!database.Exec(absl::StrCat(
          "CREATE TABLE chaos_counters (worker int PRIMARY KEY, value bigint "
          "NOT NULL DEFAULT 0);"
          "CREATE TABLE chaos_keyed_rows (id text PRIMARY KEY, worker int NOT "
          "NULL, seq bigint NOT NULL, payload text);"
          "CREATE TABLE chaos_plain_rows (LIKE chaos_keyed_rows INCLUDING ALL);"
          "INSERT INTO chaos_counters SELECT g, 0 FROM generate_series(0, ",
          options.workers - 1,
          ") g;"
          "CREATE TABLE chaos_transfer_counters (id int PRIMARY KEY, value "
          "bigint NOT NULL);"
          "CREATE TABLE chaos_transfers (id text PRIMARY KEY, debit int NOT "
          "NULL, credit int NOT NULL, amount bigint NOT NULL);"
          "INSERT INTO chaos_transfer_counters SELECT g, ",
          kTransferOpening, " FROM generate_series(0, ", kTransferCounters - 1,
          ") g;"))) {
    return 2;
  }
  const std::vector<SourceFile> sources =
      PrepareSources(options.storage_root, random);

  Replicas replicas(options, kReplicas);
  if (!replicas.StartAll()) return 2;
  std::vector<std::unique_ptr<testing::FaultProxy>> proxies;
  std::vector<testing::FaultProxy*> proxy_pointers;
  std::vector<Route> routes, direct;
  for (int i = 0; i < kReplicas; ++i) {
    auto proxy = testing::FaultProxy::Start(replicas.Address(i));
    if (!proxy.ok()) {
      std::cerr << "idem_chaos: " << proxy.status() << "\n";
      return 2;
    }
    proxy_pointers.push_back(proxy->get());
    routes.push_back(
        {absl::StrCat("proxy", i), MakeClient((*proxy)->address())});
    proxies.push_back(*std::move(proxy));
    direct.push_back(
        {absl::StrCat("direct", i), MakeClient(replicas.Address(i))});
    routes.push_back(direct.back());
  }
  std::unique_ptr<NetworkNamespace> netns;
  std::unique_ptr<NamespaceFirewall> firewall;
  std::vector<std::unique_ptr<NetnsRelay>> relays;
  report.network = "fault proxies only (no --netns given)";
  if (!options.netns.empty()) {
    absl::StatusOr<std::unique_ptr<NetworkNamespace>> created =
        NetworkNamespace::Create(options.netns);
    if (created.ok()) {
      netns = *std::move(created);
      firewall = std::make_unique<NamespaceFirewall>(*netns);
    }
    if (!created.ok()) {
      report.network =
          absl::StrCat("fault proxies only: ", created.status().message());
    } else if (!firewall->Setup()) {
      firewall.reset();
      report.network =
          "fault proxies only: iptables does not work in the namespace";
    } else {
      for (int i = 0; i < kReplicas; ++i) {
        auto relay =
            NetnsRelay::Start(netns->name(), netns->address(),
                              std::stoi(replicas.Address(i).substr(10)));
        if (!relay.ok()) {
          std::cerr << "idem_chaos: " << relay.status() << "\n";
          return 2;
        }
        routes.push_back(
            {absl::StrCat("netns", i), MakeClient((*relay)->address())});
        relays.push_back(*std::move(relay));
      }
      report.network = absl::StrCat("fault proxies + network namespace ",
                                    netns->name(), " (", netns->address(),
                                    ", iptables statistic DROP / tcp-reset)");
    }
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> issued{0};
  FaultInjector injector(
      replicas, database, proxy_pointers, firewall.get(), options, seed,
      [&] { return static_cast<double>(issued) / options.ops; });
  std::vector<std::vector<Op>> ledgers(options.workers);
  std::vector<std::map<std::string, int>> errors(options.workers);
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  injector.Start();
  for (int w = 0; w < options.workers; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937_64 mine(seed + 7919 * (w + 1));
      for (int64_t seq = 0; !stop; ++seq) {
        Op op;
        op.kind = PickKind(mine);
        op.worker = w;
        op.seq = seq;
        op.source = static_cast<int>(mine() % sources.size());
        op.transfer = PickTransfer(mine);
        const Route& route = routes[mine() % routes.size()];
        ++issued;
        Execute(run, sources, route.client, op, &errors[w]);
        ledgers[w].push_back(std::move(op));
      }
    });
  }
  while (true) {
    absl::SleepFor(absl::Milliseconds(100));
    if (issued >= options.ops && injector.MinimumsMet()) {
      break;
    }
    if (absl::Now() - start > absl::Seconds(options.max_seconds)) {
      report.time_cap_hit = true;
      break;
    }
  }
  injector.Stop();
  stop = true;
  for (std::thread& t : workers) t.join();
  report.workload_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // Heal: every replica up, no proxy or firewall faults left.
  for (testing::FaultProxy* p : proxy_pointers) p->SetFaults({});
  if (firewall != nullptr) firewall->Flush();
  report.healed = database.EnsureUp() && replicas.EnsureAllUp();

  std::vector<Op> ops;
  for (auto& ledger : ledgers) {
    ops.insert(ops.end(), ledger.begin(), ledger.end());
  }
  for (const auto& per_worker : errors) {
    for (const auto& [error, n] : per_worker) report.final_errors[error] += n;
  }
  report.Collect(ops, injector);
  for (int i = 0; i < kReplicas; ++i) {
    report.proxy_cuts += proxies[i]->connections_cut();
  }
  report.under_faults = CheckState(options.database_url, options.storage_root,
                                   sources, ops, /*final_check=*/false);
  // Resolution: a careful caller resends what was not acknowledged, with the
  // same key. Afterwards everything must have happened exactly once.
  for (Op& op : ops) {
    for (int round = 0; !op.acked && round < 5; ++round) {
      ++report.resent;
      Execute(run, sources, direct[random() % direct.size()].client, op,
              nullptr);
    }
  }
  report.final_state = CheckState(options.database_url, options.storage_root,
                                  sources, ops, /*final_check=*/true);
  report.Print(std::cout, options);
  return report.Passed(options) ? 0 : 1;
}

}  // namespace
}  // namespace idem::chaos

int main(int argc, char** argv) {
  idem::chaos::Options options;
  if (!idem::chaos::ParseOptions(argc, argv, &options)) return 2;
  setenv("IDEM_SERVER_BINARY", options.server_binary.c_str(), 1);
  setenv("IDEM_TEST_DATABASE_URL", options.database_url.c_str(), 1);
  return idem::chaos::Run(options);
}
