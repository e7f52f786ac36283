#include "service/files/following_digest.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace idem::files {

FollowingDigest::FollowingDigest(int fd, std::string what)
    : reader_(fd, std::move(what)), thread_([this] { Run(); }) {}

FollowingDigest::~FollowingDigest() {
  if (thread_.joinable()) Stop();
}

void FollowingDigest::WrittenUpTo(uint64_t end) {
  absl::MutexLock lock(&mu_);
  written_ = end;
}

absl::StatusOr<FileDigest> FollowingDigest::Finish() {
  {
    absl::MutexLock lock(&mu_);
    all_written_ = true;
  }
  thread_.join();
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
    absl::StatusOr<size_t> hashed = reader_.HashNext(limit);
    if (!hashed.ok()) {
      failure_ = hashed.status();
      return;
    }
    if (*hashed == 0) {
      // Shorter than what was written: something else cut it.
      failure_ = absl::InternalError(absl::StrCat("the copy ended at byte ",
                                                  reader_.size(), " while ",
                                                  limit, " were written"));
      return;
    }
    absl::MutexLock lock(&mu_);
    hashed_ = reader_.size();
  }
}

}  // namespace idem::files
