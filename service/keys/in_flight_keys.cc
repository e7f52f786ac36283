#include "service/keys/in_flight_keys.h"

namespace idem::keys {

InFlightKeys::Entry& InFlightKeys::Entry::operator=(Entry&& other) noexcept {
  if (this != &other) {
    Release();
    keys_ = std::exchange(other.keys_, nullptr);
    key_ = std::move(other.key_);
  }
  return *this;
}

void InFlightKeys::Entry::Release() {
  if (keys_ == nullptr) return;
  std::exchange(keys_, nullptr)->Leave(key_);
}

InFlightKeys::Entry InFlightKeys::Enter(const KeyId& id) {
  Entry::Key key(id.tenant, id.key);
  {
    absl::MutexLock lock(&mu_);
    ++calls_[key];
  }
  return Entry(this, std::move(key));
}

bool InFlightKeys::Contains(const KeyId& id) const {
  const Entry::Key key(id.tenant, id.key);
  absl::MutexLock lock(&mu_);
  return calls_.contains(key);
}

void InFlightKeys::Leave(const Entry::Key& key) {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(key);
  if (--it->second == 0) calls_.erase(it);
}

}  // namespace idem::keys
