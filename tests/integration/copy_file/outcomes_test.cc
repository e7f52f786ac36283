// Each CopyFile outcome through a real server, and 16 identical copies at
// once.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/copy_file/copy_file_fixture.h"
#include "tests/support/rich_status.h"

namespace idem::testing {
namespace {

namespace fs = std::filesystem;

// SHA-256 of the contents used below (sha256sum).
constexpr char kAbc[] = "abc";
constexpr char kAbcSha256[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kNew[] = "new content\n";
constexpr char kNewSha256[] =
    "1c3ef9a7c817b4642bcb3cb1456fbce92a6f992df2e1d6ad9d8a2dfb4fdf42f6";
constexpr char kOld[] = "old content\n";
constexpr char kOldSha256Prefix[] = "40eda80edfc38b36";
constexpr char kOlder[] = "older\n";
constexpr char kOlderSha256Prefix[] = "f5851620a22110d6";

struct stat StatOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

using CopyFileOutcomeTest = CopyFileServerTest;

TEST_F(CopyFileOutcomeTest, MissingDestinationIsCopiedWithItsFolders) {
  WriteFile(Root() / "in", kAbc);
  chmod((Root() / "in").c_str(), 0640);

  CopyResult copy = Copy("in", "a/b/out");

  ASSERT_TRUE(copy.status.ok()) << copy.status.error_message();
  EXPECT_EQ(copy.response.outcome(), v1::COPY_OUTCOME_COPIED);
  EXPECT_EQ(copy.response.sha256(), kAbcSha256);
  EXPECT_EQ(copy.response.size_bytes(), 3u);
  EXPECT_EQ(copy.response.backup_path(), "");
  EXPECT_EQ(ReadFile(Root() / "a/b/out"), kAbc);
  EXPECT_EQ(StatOf(Root() / "a/b/out").st_mode & 0777, 0640u);
  EXPECT_EQ(CountTempFiles(Root()), 0);
}

TEST_F(CopyFileOutcomeTest, IdenticalDestinationIsUnchangedAndNotWritten) {
  WriteFile(Root() / "in", kNew);
  WriteFile(Root() / "dir/out", kNew);
  // A modification time no write could produce: any write would change it.
  const struct timespec old_times[2] = {{978307200, 0}, {978307200, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (Root() / "dir/out").c_str(), old_times, 0), 0);
  const struct stat before = StatOf(Root() / "dir/out");

  for (int i = 0; i < 2; ++i) {
    CopyResult copy = Copy("in", "dir/out");
    ASSERT_TRUE(copy.status.ok()) << copy.status.error_message();
    EXPECT_EQ(copy.response.outcome(), v1::COPY_OUTCOME_UNCHANGED);
    EXPECT_EQ(copy.response.sha256(), kNewSha256);
    EXPECT_EQ(copy.response.size_bytes(), sizeof(kNew) - 1);
    EXPECT_EQ(copy.response.backup_path(), "");
  }

  const struct stat after = StatOf(Root() / "dir/out");
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_mtim.tv_sec, 978307200);
  EXPECT_EQ(after.st_mtim.tv_nsec, 0);
  EXPECT_EQ(fs::directory_iterator(Root() / "dir")->path().filename(), "out");
  EXPECT_EQ(std::distance(fs::directory_iterator(Root() / "dir"), {}), 1);
}

TEST_F(CopyFileOutcomeTest, DifferentDestinationIsKeptAsBackupThenReplaced) {
  WriteFile(Root() / "in", kNew);
  WriteFile(Root() / "dir/out", kOld);

  CopyResult copy = Copy("in", "dir/out");

  ASSERT_TRUE(copy.status.ok()) << copy.status.error_message();
  EXPECT_EQ(copy.response.outcome(), v1::COPY_OUTCOME_REPLACED);
  EXPECT_EQ(copy.response.sha256(), kNewSha256);
  EXPECT_EQ(copy.response.size_bytes(), sizeof(kNew) - 1);
  EXPECT_EQ(copy.response.backup_path(),
            std::string("dir/out.idem-backup-") + kOldSha256Prefix);
  EXPECT_EQ(ReadFile(Root() / "dir/out"), kNew);
  EXPECT_EQ(ReadFile(Root() / copy.response.backup_path()), kOld);
  EXPECT_EQ(CountTempFiles(Root()), 0);
}

TEST_F(CopyFileOutcomeTest, EveryDifferentOldVersionKeepsItsOwnBackup) {
  WriteFile(Root() / "v1", kOlder);
  WriteFile(Root() / "v2", kOld);
  WriteFile(Root() / "v3", kNew);
  ASSERT_EQ(Copy("v1", "out").response.outcome(), v1::COPY_OUTCOME_COPIED);
  CopyResult second = Copy("v2", "out");
  CopyResult third = Copy("v3", "out");

  ASSERT_TRUE(third.status.ok()) << third.status.error_message();
  EXPECT_EQ(second.response.backup_path(),
            std::string("out.idem-backup-") + kOlderSha256Prefix);
  EXPECT_EQ(third.response.outcome(), v1::COPY_OUTCOME_REPLACED);
  EXPECT_EQ(third.response.backup_path(),
            std::string("out.idem-backup-") + kOldSha256Prefix);
  EXPECT_EQ(ReadFile(Root() / second.response.backup_path()), kOlder);
  EXPECT_EQ(ReadFile(Root() / third.response.backup_path()), kOld);
  EXPECT_EQ(ReadFile(Root() / "out"), kNew);
}

TEST_F(CopyFileOutcomeTest, MissingSourceIsNotFoundAndCreatesNothing) {
  CopyResult copy = Copy("absent", "dir/out");
  EXPECT_EQ(copy.status.error_code(), grpc::StatusCode::NOT_FOUND);
  ExpectNoServerPath(copy.status);
  EXPECT_TRUE(fs::is_empty(Root()));
}

TEST_F(CopyFileOutcomeTest, DirectoriesAreInvalidArguments) {
  WriteFile(Root() / "dir/file", kAbc);
  CopyResult from_dir = Copy("dir", "out");
  EXPECT_EQ(from_dir.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  CopyResult onto_dir = Copy("dir/file", "dir");
  EXPECT_EQ(onto_dir.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectNoServerPath(from_dir.status);
  ExpectNoServerPath(onto_dir.status);
  EXPECT_FALSE(fs::exists(Root() / "out"));
}

// 16 callers ask for the same copy at once: whatever the order, one copies,
// the others find the identical file; none replaces it or leaves a
// temporary file. Each caller has its own channel, so the calls really are
// concurrent connections.
TEST_F(CopyFileOutcomeTest, SixteenConcurrentCopiesMakeOneWholeFile) {
  constexpr int kCallers = 16;
  std::string content(8 << 20, '\0');
  for (size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  WriteFile(Root() / "in", content);

  std::vector<std::unique_ptr<v1::IdemService::Stub>> stubs;
  for (int i = 0; i < kCallers; ++i) stubs.push_back(Server().Stub());
  std::mutex mutex;
  std::condition_variable ready;
  bool go = false;
  std::vector<CopyResult> results(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock<std::mutex> lock(mutex);
        ready.wait(lock, [&] { return go; });
      }
      results[i] = CopyOver(*stubs[i], "in", "shared/out");
    });
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    go = true;
  }
  ready.notify_all();
  for (std::thread& thread : threads) thread.join();

  int copied = 0;
  int unchanged = 0;
  for (const CopyResult& result : results) {
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.response.sha256(), results[0].response.sha256());
    EXPECT_EQ(result.response.size_bytes(), content.size());
    copied += result.response.outcome() == v1::COPY_OUTCOME_COPIED;
    unchanged += result.response.outcome() == v1::COPY_OUTCOME_UNCHANGED;
  }
  EXPECT_EQ(copied, 1);
  EXPECT_EQ(unchanged, kCallers - 1);  // so none was REPLACED
  EXPECT_EQ(ReadFile(Root() / "shared/out"), content);
  EXPECT_EQ(CountTempFiles(Root()), 0);
  EXPECT_EQ(std::distance(fs::directory_iterator(Root() / "shared"), {}), 1)
      << "only the destination: no backup, no temporary file";
}

}  // namespace
}  // namespace idem::testing

namespace idem::testing {
namespace {

// A copy whose destination folder another copy holds (here: this test's
// flock on it) waits at most IDEM_LOCK_TIMEOUT, then answers ABORTED
// ROW_LOCKED with a retry delay and writes nothing, not even once the lock
// is gone: it neither holds a worker for as long as the other copy runs
// nor lands after its caller gave up.
TEST(CopyFileLockTest, AFolderLockedLongerThanTheLockTimeoutIsRefused) {
  ScratchDir scratch;
  const fs::path root = scratch.path() / "root";
  WriteFile(root / "in", kAbc);
  fs::create_directories(root / "busy");
  ServerProcess::Options options;
  options.env = {{"IDEM_STORAGE_ROOT", root.string()},
                 {"IDEM_LOCK_TIMEOUT", "300ms"}};
  auto server = ServerProcess::Start(options);

  const int folder = open((root / "busy").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(folder, 0);
  ASSERT_EQ(flock(folder, LOCK_EX), 0);
  v1::CopyFileRequest request;
  request.set_source_path("in");
  request.set_destination_path("busy/out");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(3));
  v1::CopyFileResponse response;
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status =
      server->Stub()->CopyFile(&context, request, &response);
  const auto waited = std::chrono::steady_clock::now() - start;
  flock(folder, LOCK_UN);
  close(folder);

  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED)
      << status.error_message();
  EXPECT_EQ(ReasonOf(status), "ROW_LOCKED");
  EXPECT_LT(waited, std::chrono::seconds(2));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(fs::exists(root / "busy/out"));
}

}  // namespace
}  // namespace idem::testing
