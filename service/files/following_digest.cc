#include "service/files/following_digest.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "service/files/helper_thread.h"

namespace idem::files {

FollowingDigest::FollowingDigest(int fd, std::string what)
    : reader_(fd, std::move(what)) {
  StartHelperThread(thread_, [this] { Run(); });
}

FollowingDigest::~FollowingDigest() {
  if (thread_.joinable()) Stop();
}

void FollowingDigest::WrittenUpTo(uint64_t end) {
  absl::MutexLock lock(&mu_);
  written_ = end;
}

absl::StatusOr<FileDigest> FollowingDigest::Finish() {
  uint64_t written;
  {
    absl::MutexLock lock(&mu_);
    all_written_ = true;
    written = written_;
  }
  if (thread_.joinable()) {
    thread_.join();
  } else {
    failure_ = HashUpTo(written);
  }
  if (!failure_.ok()) return failure_;
  return reader_.Finish();
}

bool FollowingDigest::HasWork() const {
  return stop_ || written_ > hashed_ || all_written_;
}

void FollowingDigest::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void FollowingDigest::Run() {
  while (true) {
    uint64_t limit;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &FollowingDigest::HasWork));
      if (stop_ || (all_written_ && hashed_ == written_)) return;
      limit = written_;
    }
    if (absl::Status hashed = HashUpTo(limit); !hashed.ok()) {
      failure_ = hashed;
      return;
    }
    absl::MutexLock lock(&mu_);
    hashed_ = limit;
  }
}

absl::Status FollowingDigest::HashUpTo(uint64_t limit) {
  while (reader_.size() < limit) {
    absl::StatusOr<size_t> hashed = reader_.HashNext(limit);
    if (!hashed.ok()) return hashed.status();
    if (*hashed == 0) {
      // Shorter than what was written: something else cut it.
      return absl::InternalError(absl::StrCat("the copy ended at byte ",
                                              reader_.size(), " while ", limit,
                                              " were written"));
    }
  }
  return absl::OkStatus();
}

}  // namespace idem::files
