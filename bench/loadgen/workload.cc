#include "bench/loadgen/workload.h"

#include <memory>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"

namespace idem::bench {
namespace {

struct MixEntry {
  Mix mix;
  const char* name;
};
constexpr MixEntry kMixes[] = {
    {Mix::kInsert, "insert"},
    {Mix::kKeyedInsert, "keyed_insert"},
    {Mix::kReplay, "replay"},
    {Mix::kKeyedIncrement, "keyed_increment"},
    {Mix::kInsert100, "insert100"},
    {Mix::kEmpty, "empty"},
    {Mix::kTransaction2, "transaction2"},
    {Mix::kUpdate, "update"},
};

// SplitMix64's finaliser: a bijection, so distinct counters give distinct
// values that are spread over the whole range like random ones.
uint64_t Mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

template <typename Response>
Callback<Response> Counting(
    std::function<void(CallResult)> done,
    std::function<bool(const absl::Status&, const CallInfo&)> success) {
  return [done = std::move(done), success = std::move(success)](
             absl::StatusOr<Response> result, CallInfo info) {
    CallResult r;
    r.status = result.status();
    r.attempts = info.attempts;
    r.ok = success(r.status, info);
    if (r.ok) {
      r.status = absl::OkStatus();
    } else if (r.status.ok()) {
      r.status = absl::DataLossError("answered but not replayed");
    }
    done(std::move(r));
  };
}

bool Succeeded(const absl::Status& status, const CallInfo&) {
  return status.ok();
}

}  // namespace

absl::optional<Mix> ParseMix(absl::string_view name) {
  for (const MixEntry& entry : kMixes) {
    if (name == entry.name) return entry.mix;
  }
  return absl::nullopt;
}

const char* MixName(Mix mix) {
  for (const MixEntry& entry : kMixes) {
    if (mix == entry.mix) return entry.name;
  }
  return "?";
}

Workload::Workload(std::vector<Client> clients, WorkloadOptions options,
                   CallOptions call_options)
    : clients_(std::move(clients)),
      options_(std::move(options)),
      call_options_(std::move(call_options)) {
  std::random_device device;
  seed_ = (uint64_t{device()} << 32) ^ device();
  run_tag_ = absl::StrCat("lg-", absl::Hex(seed_ & 0xffffffffffULL));
}

uint64_t Workload::NextRandom() {
  return Mix64(seed_ + counter_.fetch_add(1, std::memory_order_relaxed));
}

std::string Workload::NextKey() {
  return absl::StrCat(run_tag_, "-",
                      counter_.fetch_add(1, std::memory_order_relaxed));
}

v1::InsertRequest Workload::RowsRequest(int rows) {
  v1::InsertRequest request;
  request.set_table(options_.table);
  // Ids in [1, 2^62): fresh, and spread over the index like pgbench's
  // random(); 100-row requests take 100 consecutive ids from a random base.
  uint64_t base = (NextRandom() >> 2) | 1;
  if (rows > 1) base = (base >> 7) * 100 + 1;
  for (int i = 0; i < rows; ++i) {
    *request.add_rows() =
        MakeRow({{"id", static_cast<int64_t>(base + i)},
                 {"payload", absl::string_view(options_.payload)}});
  }
  return request;
}

// `n = n + 1` on one of the counters, chosen at random.
v1::UpdateRequest Workload::IncrementRequest() {
  v1::UpdateRequest update;
  update.set_table(options_.counter_table);
  *update.mutable_key() = MakeRow(
      {{"id", static_cast<int64_t>(NextRandom() % options_.counters + 1)}});
  *update.mutable_increment() = MakeRow({{"n", 1}});
  return update;
}

absl::Status Workload::Prepare() {
  if (options_.mix != Mix::kReplay) return absl::OkStatus();
  const int total = options_.replay_keys;
  replays_.reserve(total);
  for (int i = 0; i < total; ++i) {
    replays_.push_back(ExactlyOnce(RowsRequest(1), NextKey()));
  }
  // Made 32 at a time, each retried as usual until it is stored.
  CallOptions setup;
  setup.retry = RetryPolicy{};
  absl::Mutex mu;
  absl::Status first_error;
  std::atomic<int> next{0};
  absl::BlockingCounter finished(total);
  std::function<void()> launch = [&] {
    int i = next.fetch_add(1);
    if (i >= total) return;
    clients_[0].KeyedCallAsync(
        replays_[i],
        [&](absl::StatusOr<v1::KeyedCallResponse> result, CallInfo) {
          if (!result.ok()) {
            absl::MutexLock lock(&mu);
            if (first_error.ok()) first_error = result.status();
          }
          launch();
          finished.DecrementCount();
        },
        setup);
  };
  for (int i = 0; i < 32; ++i) launch();
  finished.Wait();
  return first_error;
}

void Workload::Start(int caller, std::function<void(CallResult)> done) {
  const Client& client =
      clients_[static_cast<size_t>(caller) % clients_.size()];
  switch (options_.mix) {
    case Mix::kInsert:
      client.InsertAsync(
          RowsRequest(1),
          Counting<v1::InsertResponse>(std::move(done), Succeeded),
          call_options_);
      return;
    case Mix::kInsert100:
      client.InsertAsync(
          RowsRequest(100),
          Counting<v1::InsertResponse>(std::move(done), Succeeded),
          call_options_);
      return;
    case Mix::kKeyedInsert:
      client.KeyedCallAsync(
          ExactlyOnce(RowsRequest(1), NextKey()),
          Counting<v1::KeyedCallResponse>(std::move(done), Succeeded),
          call_options_);
      return;
    case Mix::kReplay: {
      size_t i = NextRandom() % replays_.size();
      client.KeyedCallAsync(
          replays_[i],
          Counting<v1::KeyedCallResponse>(
              std::move(done),
              [](const absl::Status& status, const CallInfo& info) {
                return status.ok() && info.replayed;
              }),
          call_options_);
      return;
    }
    case Mix::kUpdate:
      client.UpdateAsync(
          IncrementRequest(),
          Counting<v1::UpdateResponse>(std::move(done), Succeeded),
          call_options_);
      return;
    case Mix::kKeyedIncrement:
      client.KeyedCallAsync(
          ExactlyOnce(IncrementRequest(), NextKey()),
          Counting<v1::KeyedCallResponse>(std::move(done), Succeeded),
          call_options_);
      return;
    case Mix::kTransaction2:
      client.TransactionAsync(
          Transaction().Insert(RowsRequest(1)).Update(IncrementRequest()),
          NextKey(),
          Counting<v1::TransactionResponse>(std::move(done), Succeeded),
          call_options_);
      return;
    case Mix::kEmpty:
      // No table and no rows: INVALID_ARGUMENT before any database work.
      client.InsertAsync(v1::InsertRequest(),
                         Counting<v1::InsertResponse>(
                             std::move(done),
                             [](const absl::Status& status, const CallInfo&) {
                               return status.code() ==
                                      absl::StatusCode::kInvalidArgument;
                             }),
                         call_options_);
      return;
  }
}

}  // namespace idem::bench
