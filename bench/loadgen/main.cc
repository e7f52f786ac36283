// idem_loadgen: keeps N calls in flight (or sends at a fixed rate) on the
// client library's async API against one idem-server, and prints one line:
// ops/s, latency percentiles, errors, the server's peak RSS, and CPU per
// call of itself, the server and the database. Only for loopback targets;
// every run ends by itself.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/loadgen/driver.h"
#include "bench/loadgen/workload.h"
#include "bench/process_cpu.h"
#include "idem/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "idem-server address; must be on 127.0.0.1 or localhost");
ABSL_FLAG(std::string, mix, "insert",
          "insert | keyed_insert | replay | keyed_increment | insert100 | "
          "empty | transaction2 | update");
ABSL_FLAG(int, concurrency, 16, "calls in flight (a cap with --rate)");
ABSL_FLAG(double, rate, 0, "calls per second; 0: as fast as --concurrency");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "time before measuring (calls run, nothing is counted)");
ABSL_FLAG(int, attempts, 1,
          "client attempts per call; 1 (default): no retries, so every "
          "server refusal counts as an error");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "deadline of a call");
ABSL_FLAG(bool, auto_keys, idem::ClientOptions().auto_keys,
          "with --attempts above 1: send the Inserts of the insert, "
          "insert100 and empty mixes as KeyedCalls under a key of their own "
          "(ClientOptions::auto_keys); compare true and false for what the "
          "keys cost");
ABSL_FLAG(bool, batching, true,
          "let the client send concurrent calls together in Batch RPCs "
          "(its default; BatchingOptions)");
ABSL_FLAG(int, batch_in_flight, idem::BatchingOptions().max_in_flight,
          "RPCs in flight before calls wait to leave together");
ABSL_FLAG(int, channels, 0,
          "0 (default): every caller shares one Client on one channel, as "
          "the concurrent callers of one service do; N >= 1: N Clients, each "
          "on a channel and TCP connection of its own, caller i using "
          "Client i % N, as N independent services would (with --channels "
          "equal to --concurrency and --batching=false: one RPC per call)");
ABSL_FLAG(int, server_pid, 0,
          "idem-server's pid, for its peak RSS (VmHWM) and its CPU per call");
ABSL_FLAG(int, db_pid, 0,
          "the PostgreSQL postmaster's pid: the CPU per call of it and its "
          "children (backends, WAL writer, checkpointer, ...)");
ABSL_FLAG(std::string, table, "bench_rows",
          "table (id bigint primary key, payload text)");
ABSL_FLAG(std::string, counter_table, "bench_counters",
          "table (id bigint primary key, n bigint) with rows 1..--counters");
ABSL_FLAG(int, counters, 8, "counter rows keyed_increment spreads over");
ABSL_FLAG(int, replay_keys, 1000, "finished keys made before a replay run");
ABSL_FLAG(std::string, label, "", "free text printed first on the line");

namespace idem::bench {
namespace {

// The server's peak resident set in MiB, or -1.
double PeakRssMib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    // "VmHWM:     12345 kB"
    if (absl::StartsWith(line, "VmHWM:")) {
      return std::strtoll(line.c_str() + 6, nullptr, 10) / 1024.0;
    }
  }
  return -1;
}

bool IsLoopback(const std::string& target) {
  for (const char* prefix : {"127.0.0.1:", "localhost:", "ipv4:127.0.0.1:",
                             "dns:///localhost:", "[::1]:", "ipv6:[::1]:"}) {
    if (absl::StartsWith(target, prefix)) return true;
  }
  return false;
}

int Main() {
  const std::string target = absl::GetFlag(FLAGS_target);
  if (!IsLoopback(target)) {
    std::fprintf(stderr, "idem_loadgen: only loopback targets, not %s\n",
                 target.c_str());
    return 2;
  }
  absl::optional<Mix> mix = ParseMix(absl::GetFlag(FLAGS_mix));
  if (!mix.has_value()) {
    std::fprintf(stderr, "idem_loadgen: unknown --mix %s\n",
                 absl::GetFlag(FLAGS_mix).c_str());
    return 2;
  }
  DriveOptions drive;
  drive.concurrency = absl::GetFlag(FLAGS_concurrency);
  drive.rate = absl::GetFlag(FLAGS_rate);
  drive.duration = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
  drive.warmup = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_warmup));
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  const int db_pid = absl::GetFlag(FLAGS_db_pid);
  drive.other_cpu = [server_pid, db_pid] {
    double server = 0;
    if (!OtherProcessCpu(server_pid, &server)) server = -1;
    double db = db_pid > 0 ? ProcessAndChildrenCpuSeconds(db_pid) : -1;
    return std::vector<double>{server, db};
  };
  if (drive.concurrency < 1 || drive.rate < 0 || drive.duration.count() <= 0 ||
      absl::GetFlag(FLAGS_duration) > absl::Hours(1)) {
    std::fprintf(stderr,
                 "idem_loadgen: need --concurrency >= 1, --rate >= 0 and "
                 "0 < --duration <= 1h\n");
    return 2;
  }

  const int channels = absl::GetFlag(FLAGS_channels);
  if (channels < 0 || channels > 4096) {
    std::fprintf(stderr, "idem_loadgen: need 0 <= --channels <= 4096\n");
    return 2;
  }
  ClientOptions client_options;
  client_options.target = target;
  client_options.retry.max_attempts = absl::GetFlag(FLAGS_attempts);
  client_options.auto_keys = absl::GetFlag(FLAGS_auto_keys);
  client_options.retry.total_timeout = absl::GetFlag(FLAGS_timeout);
  client_options.retry.per_attempt_timeout = absl::GetFlag(FLAGS_timeout);
  client_options.batching.enabled = absl::GetFlag(FLAGS_batching);
  client_options.batching.max_in_flight = absl::GetFlag(FLAGS_batch_in_flight);
  std::vector<Client> clients;
  if (channels == 0) {
    absl::StatusOr<Client> client = Client::Create(client_options);
    if (!client.ok()) {
      std::fprintf(stderr, "idem_loadgen: %s\n",
                   client.status().ToString().c_str());
      return 1;
    }
    clients.push_back(*std::move(client));
  }
  for (int i = 0; i < channels; ++i) {
    // gRPC shares one connection among channels with equal arguments (its
    // global subchannel pool): a local pool and an argument of its own give
    // each channel its own connection. The rest as Client::Create does.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("idem.loadgen.channel", i);
    clients.push_back(Client::FromChannel(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                  args),
        client_options));
  }
  WorkloadOptions workload_options;
  workload_options.mix = *mix;
  workload_options.table = absl::GetFlag(FLAGS_table);
  workload_options.counter_table = absl::GetFlag(FLAGS_counter_table);
  workload_options.counters = std::max(1, absl::GetFlag(FLAGS_counters));
  workload_options.replay_keys = std::max(1, absl::GetFlag(FLAGS_replay_keys));
  Workload workload(std::move(clients), workload_options, CallOptions{});
  if (absl::Status prepared = workload.Prepare(); !prepared.ok()) {
    std::fprintf(stderr, "idem_loadgen: preparing %s: %s\n", MixName(*mix),
                 prepared.ToString().c_str());
    return 1;
  }

  DriveResult r = Drive(workload, drive);
  const LatencyHistogram& h = *r.latencies;
  auto ms = [](uint64_t nanos) { return nanos / 1e6; };
  std::string label = absl::GetFlag(FLAGS_label);
  // CPU milliseconds per successful call; -1 when not measured.
  auto per_call = [&](double cpu_seconds, bool measured) {
    return measured && r.ok > 0 ? 1e3 * cpu_seconds / r.ok : -1.0;
  };
  const double server_cpu = per_call(r.other_cpu_seconds.at(0), server_pid > 0);
  const double db_cpu = per_call(r.other_cpu_seconds.at(1), db_pid > 0);
  const double client_cpu = per_call(r.cpu_seconds, true);
  std::printf(
      "%smix=%s concurrency=%d rate=%.0f seconds=%.2f ops=%llu ops_s=%.0f "
      "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f errors=%llu "
      "attempts=%llu late=%llu server_peak_rss_mib=%.1f loadgen_cpu_s=%.2f "
      "loadgen_cpu_pct=%.0f channels=%d batching=%d client_cpu_ms=%.4f "
      "server_cpu_ms=%.4f db_cpu_ms=%.4f\n",
      label.empty() ? "" : (label + " ").c_str(), MixName(*mix),
      drive.concurrency, drive.rate, r.seconds,
      static_cast<unsigned long long>(r.ok), r.ok / r.seconds,
      ms(h.ValueAtQuantile(0.5)), ms(h.ValueAtQuantile(0.99)),
      ms(h.ValueAtQuantile(0.999)), ms(h.max()),
      static_cast<unsigned long long>(r.errors),
      static_cast<unsigned long long>(r.attempts),
      static_cast<unsigned long long>(r.late), PeakRssMib(server_pid),
      r.cpu_seconds, 100 * r.cpu_seconds / r.seconds, channels,
      absl::GetFlag(FLAGS_batching) ? 1 : 0, client_cpu, server_cpu, db_cpu);
  for (const auto& [code, count] : r.errors_by_code) {
    std::fprintf(stderr, "idem_loadgen: %llu x %s\n",
                 static_cast<unsigned long long>(count),
                 absl::StatusCodeToString(code).c_str());
  }
  if (!r.first_error.empty()) {
    std::fprintf(stderr, "idem_loadgen: first error: %s\n",
                 r.first_error.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace idem::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "load generator for idem-server: idem_loadgen --target=127.0.0.1:PORT "
      "--mix=keyed_insert --concurrency=64 --duration=5s --server_pid=PID");
  absl::ParseCommandLine(argc, argv);
  // As in idem-server: Debian's abseil checks lock order on every
  // absl::Mutex, which would charge the load generator for a debugging aid.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return idem::bench::Main();
}
