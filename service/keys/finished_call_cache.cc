#include "service/keys/finished_call_cache.h"

#include <algorithm>

namespace idem::keys {
namespace {

// Bytes an entry holds, with a rough allowance for the containers.
size_t SizeOf(const KeyId& id, const StoredCall& call) {
  return id.tenant.size() * 2 + id.key.size() * 2 + call.fingerprint.size() +
         call.response.size() + call.status.message().size() + 160;
}

}  // namespace

void FinishedCallCache::Put(const KeyId& id, const StoredCall& call,
                            Clock::time_point observed_at) {
  if (!call.done || options_.max_bytes == 0) return;
  const Clock::time_point now = options_.now();
  const Clock::time_point valid_until =
      observed_at +
      std::chrono::duration_cast<Clock::duration>(absl::ToChronoNanoseconds(
          std::min(call.expires_in, options_.max_age) - options_.margin));
  if (valid_until <= now) return;
  Entry entry{std::make_shared<const StoredCall>(call), valid_until,
              SizeOf(id, call)};
  if (entry.bytes > options_.max_bytes) return;
  absl::MutexLock lock(&mu_);
  if (!serving_ || observed_at < admit_from_) return;
  Key key{id.tenant, id.key};
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) {
    // A live entry is the same finished record; a stale one is replaced
    // (the key expired and was used again) and keeps its place in line.
    if (it->second.valid_until > now) return;
    bytes_ -= it->second.bytes;
  } else {
    order_.push_back(std::move(key));
  }
  bytes_ += entry.bytes;
  it->second = std::move(entry);
  while (bytes_ > options_.max_bytes) EvictOldest();
}

std::shared_ptr<const StoredCall> FinishedCallCache::Get(const KeyId& id) {
  // Shared: every KeyedCall looks here first, from gRPC's threads.
  absl::ReaderMutexLock lock(&mu_);
  const Clock::time_point now = options_.now();
  if (now >= lease_until_) return nullptr;
  auto it = entries_.find(Key{id.tenant, id.key});
  if (it == entries_.end() || it->second.valid_until <= now) {
    return nullptr;  // a stale entry leaves with the oldest
  }
  return it->second.call;
}

void FinishedCallCache::CountReplay() {
  hits_.fetch_add(1, std::memory_order_relaxed);
}

void FinishedCallCache::Erase(const KeyId& id) {
  absl::MutexLock lock(&mu_);
  admit_from_ = options_.now();
  auto it = entries_.find(Key{id.tenant, id.key});
  if (it == entries_.end()) return;
  // Its place in line stays; EvictOldest skips keys no longer held.
  bytes_ -= it->second.bytes;
  entries_.erase(it);
}

void FinishedCallCache::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  // Nothing enters while off, so the cache is still empty when turned on.
  if (!serving) DropAll();
  admit_from_ = options_.now();
  serving_ = serving;
}

void FinishedCallCache::ServeUntil(Clock::time_point until) {
  absl::MutexLock lock(&mu_);
  lease_until_ = until;
}

FinishedCallCache::Usage FinishedCallCache::usage() {
  absl::ReaderMutexLock lock(&mu_);
  return {bytes_, options_.max_bytes, evicted_live_,
          hits_.load(std::memory_order_relaxed),
          serving_ && options_.now() < lease_until_};
}

void FinishedCallCache::DropAll() {
  entries_.clear();
  order_.clear();
  bytes_ = 0;
}

void FinishedCallCache::EvictOldest() {
  auto it = entries_.find(order_.front());
  if (it == entries_.end()) {  // erased since
    order_.pop_front();
    return;
  }
  if (it->second.valid_until > options_.now()) ++evicted_live_;
  bytes_ -= it->second.bytes;
  entries_.erase(it);
  order_.pop_front();
}

}  // namespace idem::keys
