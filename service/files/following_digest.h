#ifndef IDEM_SERVICE_FILES_FOLLOWING_DIGEST_H_
#define IDEM_SERVICE_FILES_FOLLOWING_DIGEST_H_

#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "service/files/file_digest.h"

namespace idem::files {

// Hashes a file on a thread of its own while the caller writes it, a few
// chunks behind the writer: the hash of a large copy overlaps the copy and
// its fsync instead of following them (on two cores, most of its cost
// disappears). It reads back what was written, from the page cache, never
// what was read from the source: the digest describes the copy.
class FollowingDigest {
 public:
  // Starts hashing `fd` (open for reading) from offset 0. `what` names the
  // file in errors. Without a thread to be had, it hashes everything in
  // Finish instead.
  FollowingDigest(int fd, std::string what);
  // Stops the thread when Finish was not called (the write failed).
  ~FollowingDigest();
  FollowingDigest(const FollowingDigest&) = delete;
  FollowingDigest& operator=(const FollowingDigest&) = delete;

  // Every byte before offset `end` has been written.
  void WrittenUpTo(uint64_t end);
  // Everything is written (up to the last WrittenUpTo): waits for the hash
  // to get there and returns the digest. Call once.
  absl::StatusOr<FileDigest> Finish();

 private:
  void Run();
  // Hashes on up to offset `limit` (the thread's, or Finish's without one).
  absl::Status HashUpTo(uint64_t limit);
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Stop();

  absl::Mutex mu_;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hashed_ ABSL_GUARDED_BY(mu_) = 0;
  bool all_written_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The thread's alone until it has ended.
  DigestReader reader_;
  absl::Status failure_;
  std::thread thread_;  // not joinable when none could be started
};

}  // namespace idem::files

#endif  // IDEM_SERVICE_FILES_FOLLOWING_DIGEST_H_
