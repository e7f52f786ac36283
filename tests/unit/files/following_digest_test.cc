// FollowingDigest hashes a file while it is written: the digest of what was
// written whatever the pace of the writer, a clean stop when the writer
// gives up, and an error when the file holds less than was said written.
#include "service/files/following_digest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "service/common/sha256.h"

namespace idem::files {
namespace {

class FollowingDigestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/idem-following-digest-XXXXXX";
    fd_ = mkstemp(name);
    ASSERT_GE(fd_, 0);
    unlink(name);
  }
  void TearDown() override { close(fd_); }

  // Appends `data` at `offset`.
  void Write(const std::string& data, off_t offset) {
    ASSERT_EQ(pwrite(fd_, data.data(), data.size(), offset),
              static_cast<ssize_t>(data.size()));
  }

  int fd_ = -1;
};

TEST_F(FollowingDigestTest, HashesWhatWasWrittenAtAnyPace) {
  std::string content;
  FollowingDigest digest(fd_, "the test file");
  // Chunks of uneven sizes, some larger than the digest's own chunk, with
  // pauses that let the hash catch up and wait.
  for (int i = 0; i < 12; ++i) {
    const std::string chunk((i % 3 + 1) * (700 << 10),
                            static_cast<char>('a' + i));
    Write(chunk, content.size());
    content += chunk;
    digest.WrittenUpTo(content.size());
    if (i % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  absl::StatusOr<FileDigest> done = digest.Finish();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->size, content.size());
  EXPECT_EQ(done->sha256_hex, Sha256Hex(content));
}

TEST_F(FollowingDigestTest, AnEmptyFileHasTheEmptyDigest) {
  FollowingDigest digest(fd_, "the test file");
  absl::StatusOr<FileDigest> done = digest.Finish();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->size, 0u);
  EXPECT_EQ(done->sha256_hex, Sha256Hex(""));
}

TEST_F(FollowingDigestTest, AWriterThatGivesUpStopsItCleanly) {
  Write(std::string(3 << 20, 'x'), 0);
  {
    FollowingDigest digest(fd_, "the test file");
    digest.WrittenUpTo(3 << 20);
    // No Finish: the destructor stops and joins the thread.
  }
  SUCCEED();
}

TEST_F(FollowingDigestTest, AFileShorterThanWrittenIsAnError) {
  Write("short", 0);
  FollowingDigest digest(fd_, "the test file");
  digest.WrittenUpTo(100);
  absl::StatusOr<FileDigest> done = digest.Finish();
  EXPECT_EQ(done.status().code(), absl::StatusCode::kInternal) << done.status();
}

}  // namespace
}  // namespace idem::files
