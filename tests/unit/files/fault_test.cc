// Crashes and failures in the middle of a copy, through the fault points of
// idem_files_testing (service/files/fault_points.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "service/common/error_reason.h"
#include "service/common/sha256.h"
#include "service/files/fault_points.h"
#include "service/files/file_names.h"
#include "temp_tree.h"

namespace idem::files {
namespace {

using testing::Faults;

ino_t InodeOf(const fs::path& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

class FaultTest : public TempTreeTest {
 protected:
  void TearDown() override {
    Faults() = {};
    TempTreeTest::TearDown();
  }

  // Runs the copy in a child process that is killed with SIGKILL after its
  // temporary file is written and fsynced, just before the rename.
  void CopyAndCrashBeforeRename(const std::string& source,
                                const std::string& destination) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      Faults().before_rename = [] { raise(SIGKILL); };
      (void)Copy(source, destination);
      _exit(0);  // not reached when the fault point fires
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child did not reach the fault point";
  }

  // Runs `check` in a child process whose private mount namespace has a
  // 1 MiB tmpfs at `volume` (needs CAP_SYS_ADMIN; the test is skipped
  // without it); the namespace, and with it the mount, go with the child.
  // `fill` writes into the fresh volume, which is then remounted read-only
  // when `read_only`. The root is opened again inside: the descriptor opened
  // before unshare() still walks the old namespace's mounts.
  void InTmpfs(const fs::path& volume, bool read_only,
               const std::function<void()>& fill,
               const std::function<bool()>& check, const char* expected) {
    constexpr int kSkip = 77;
    fs::create_directory(volume);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      if (unshare(CLONE_NEWNS) != 0 ||
          mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
          mount("tmpfs", volume.c_str(), "tmpfs", 0, "size=1m") != 0) {
        _exit(kSkip);
      }
      fill();
      if (read_only && mount(nullptr, volume.c_str(), nullptr,
                             MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
        _exit(kSkip);
      }
      root_ = *std::move(StorageRoot::Open(Root().string()));
      _exit(check() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == kSkip) GTEST_SKIP() << "cannot mount a tmpfs";
    EXPECT_EQ(WEXITSTATUS(status), 0) << expected;
  }

  // Writes "in": numbers up to a little over `size` bytes, which no chunk
  // size divides. Returns the content.
  std::string WriteSource(size_t size) {
    std::string content;
    for (int i = 0; content.size() < size + 123; ++i) {
      content += std::to_string(i) + ",";
    }
    Write(Root() / "in", content);
    return content;
  }

  // `response` is `outcome` for exactly `content`.
  static void ExpectCopied(const absl::StatusOr<v1::CopyFileResponse>& response,
                           v1::CopyOutcome outcome,
                           const std::string& content) {
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->outcome(), outcome);
    EXPECT_EQ(response->sha256(), Sha256Hex(content));
    EXPECT_EQ(response->size_bytes(), content.size());
  }
};

TEST_F(FaultTest, CrashBeforeRenameOfANewFileLeavesNoDestination) {
  Write(Root() / "in", std::string(1 << 20, 'n'));
  CopyAndCrashBeforeRename("in", "dir/out");
  EXPECT_FALSE(fs::exists(Root() / "dir/out"));
  EXPECT_EQ(TempFiles(Root() / "dir"), 1);  // the crash's leftover

  auto retry = Copy("in", "dir/out");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->outcome(), v1::COPY_OUTCOME_COPIED);
  EXPECT_EQ(Read(Root() / "dir/out"), std::string(1 << 20, 'n'));
  EXPECT_EQ(TempFiles(Root() / "dir"), 0);
}

TEST_F(FaultTest, CrashBeforeRenameOfAReplacementKeepsTheOldFile) {
  Write(Root() / "new", "new content");
  Write(Root() / "out", "old content");
  CopyAndCrashBeforeRename("new", "out");
  EXPECT_EQ(Read(Root() / "out"), "old content");
  EXPECT_EQ(TempFiles(Root()), 1);

  auto retry = Copy("new", "out");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->outcome(), v1::COPY_OUTCOME_REPLACED);
  EXPECT_EQ(Read(Root() / "out"), "new content");
  EXPECT_EQ(Read(Root() / retry->backup_path()), "old content");
  EXPECT_EQ(TempFiles(Root()), 0);
}

TEST_F(FaultTest, AnUnchangedCopyAlsoCleansUpACrashedOne) {
  Write(Root() / "new", "new content");
  Write(Root() / "old", "old content");
  Write(Root() / "out", "old content");
  CopyAndCrashBeforeRename("new", "out");
  ASSERT_EQ(TempFiles(Root()), 1);
  auto response = Copy("old", "out");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), v1::COPY_OUTCOME_UNCHANGED);
  EXPECT_EQ(TempFiles(Root()), 0);
}

// A copy that finds its destination already holding the source (a keyed
// copy's retry after a crash between the rename and the folder's fsync)
// answers UNCHANGED only once the file and its folder entry are durable:
// both are fsynced, as a copy's are.
TEST_F(FaultTest, AnUnchangedCopyMakesTheDestinationDurable) {
  Write(Root() / "in", "content");
  fs::create_directories(Root() / "dir");
  Write(Root() / "dir/out", "content");
  std::vector<ino_t> synced;
  Faults().on_fsync = [&synced](int fd) {
    struct stat st;
    if (fstat(fd, &st) == 0) synced.push_back(st.st_ino);
  };
  ExpectCopied(Copy("in", "dir/out"), v1::COPY_OUTCOME_UNCHANGED, "content");
  EXPECT_THAT(synced, ::testing::IsSupersetOf({InodeOf(Root() / "dir/out"),
                                               InodeOf(Root() / "dir")}));
}

// The destination's folder removed while a copy ran (an operator's rm -rf,
// a cleanup job): the copy starts over once, creating the folder again, as
// a new call would. It used to answer INVALID_ARGUMENT, which under a key
// was stored and replayed for a valid request. Removed again: ABORTED
// ROW_LOCKED, a concurrent change to retry, never stored.
TEST_F(FaultTest, AFolderRemovedDuringTheCopyIsCreatedAgain) {
  Write(Root() / "in", "content");
  int removals = 0;
  Faults().before_rename = [&] {
    if (removals++ == 0) fs::remove_all(Root() / "dir");
  };
  ExpectCopied(Copy("in", "dir/out"), v1::COPY_OUTCOME_COPIED, "content");
  EXPECT_EQ(Read(Root() / "dir/out"), "content");
  EXPECT_EQ(removals, 2);

  Faults().before_rename = [&] { fs::remove_all(Root() / "again"); };
  auto response = Copy("in", "again/out");
  EXPECT_EQ(response.status().code(), absl::StatusCode::kAborted)
      << response.status();
  EXPECT_EQ(ReasonOf(response.status()), ReasonName(Reason::kRowLocked));
}

// A copy still running when the server's shutdown grace runs out stops at
// its next chunk (SHUTTING_DOWN, to retry on another replica), leaving the
// destination as it was and no temporary file, instead of running on until
// the process ends under it.
TEST_F(FaultTest, ACopyStopsWhenTheServerStopsCopies) {
  const std::string content = WriteSource(20u << 20);
  Write(Root() / "out", "old content");
  const auto before = Snapshot();
  int chunks = 0;
  Faults().chunk_error = [&] {
    if (++chunks == 2) root_->StopCopies();
    return 0;
  };
  auto response = Copy("in", "out");
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable)
      << response.status();
  EXPECT_EQ(ReasonOf(response.status()), ReasonName(Reason::kShuttingDown));
  EXPECT_LE(chunks, 3);
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(FaultTest, DiskFullLeavesDestinationAndNoTempFile) {
  for (int error : {ENOSPC, EDQUOT}) {
    Write(Root() / "in", "new content");
    Write(Root() / "out", "old content");
    const auto before = Snapshot();
    Faults().chunk_error = [error] { return error; };
    auto response = Copy("in", "out");
    EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted)
        << response.status();
    EXPECT_EQ(Snapshot(), before);
    // A new destination in a new folder: the folder may stay, no file does.
    response = Copy("in", "fresh/out");
    EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_FALSE(fs::exists(Root() / "fresh/out"));
    EXPECT_EQ(TempFiles(Root() / "fresh"), 0);
    Faults() = {};
  }
}

TEST_F(FaultTest, ReadWriteFallbackCopiesEverything) {
  const std::string content = WriteSource(5u << 20);
  Faults().disable_copy_file_range = true;
  ExpectCopied(Copy("in", "out"), v1::COPY_OUTCOME_COPIED, content);
  EXPECT_EQ(Read(Root() / "out"), content);
}

// With no thread to be had (a pods limit reached in a container), a copy
// hashes what it wrote after the copy instead of beside it, and a repeated
// copy hashes its two files one after the other: same answers, no failure.
TEST_F(FaultTest, WithoutThreadsCopiesStillHashWhatTheyWrote) {
  const std::string content = WriteSource(3u << 20);
  Faults().refuse_threads = true;
  ExpectCopied(Copy("in", "out"), v1::COPY_OUTCOME_COPIED, content);
  ExpectCopied(Copy("in", "out"), v1::COPY_OUTCOME_UNCHANGED, content);
}

// A real full volume: a 1 MiB tmpfs.
TEST_F(FaultTest, RealFullVolumeIsResourceExhausted) {
  const fs::path volume = Root() / "small";
  Write(Root() / "big", std::string(4 << 20, 'b'));
  InTmpfs(
      volume, /*read_only=*/false, [] {},
      [&] {
        auto response = Copy("big", "small/out");
        bool ok =
            response.status().code() == absl::StatusCode::kResourceExhausted &&
            fs::is_empty(volume);
        if (!ok) std::cerr << response.status() << "\n";
        return ok;
      },
      "expected RESOURCE_EXHAUSTED and an empty volume");
}

// A read-only volume: a destination that already holds the source is
// UNCHANGED, since nothing needs writing; a copy that must write is
// FAILED_PRECONDITION, STORAGE_NOT_CONFIGURED (the server's storage, not
// the request).
TEST_F(FaultTest, AReadOnlyVolumeRefusesOnlyWhatMustBeWritten) {
  const fs::path volume = Root() / "ro";
  Write(Root() / "same", "held");
  Write(Root() / "other", "new");
  InTmpfs(
      volume, /*read_only=*/true, [&] { Write(volume / "out", "held"); },
      [&] {
        auto unchanged = Copy("same", "ro/out");
        auto refused = Copy("other", "ro/out");
        bool ok = unchanged.ok() &&
                  unchanged->outcome() == v1::COPY_OUTCOME_UNCHANGED &&
                  ReasonOf(refused.status()) ==
                      ReasonName(Reason::kStorageNotConfigured);
        if (!ok) {
          std::cerr << unchanged.status() << "\n" << refused.status() << "\n";
        }
        return ok;
      },
      "expected UNCHANGED, then STORAGE_NOT_CONFIGURED");
}

}  // namespace
}  // namespace idem::files
