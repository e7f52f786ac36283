#include "service/files/copy_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "service/common/error_reason.h"
#include "service/common/sha256.h"
#include "service/files/file_names.h"
#include "temp_tree.h"

namespace idem::files {
namespace {

using v1::COPY_OUTCOME_COPIED;
using v1::COPY_OUTCOME_REPLACED;
using v1::COPY_OUTCOME_UNCHANGED;

class CopyFileTest : public TempTreeTest {};

timespec MtimeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0);
  return st.st_mtim;
}

TEST_F(CopyFileTest, CopiesToAMissingDestinationAndCreatesFolders) {
  Write(Root() / "in.txt", "hello");
  auto response = Copy("in.txt", "x/y/z/out.txt");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), COPY_OUTCOME_COPIED);
  EXPECT_EQ(response->sha256(), Sha256Hex("hello"));
  EXPECT_EQ(response->size_bytes(), 5u);
  EXPECT_EQ(response->backup_path(), "");
  EXPECT_EQ(Read(Root() / "x/y/z/out.txt"), "hello");
  EXPECT_EQ(TempFiles(Root() / "x/y/z"), 0);
}

TEST_F(CopyFileTest, CopiesAnEmptyFile) {
  Write(Root() / "empty", "");
  auto response = Copy("empty", "copy");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), COPY_OUTCOME_COPIED);
  EXPECT_EQ(response->sha256(), Sha256Hex(""));
  EXPECT_TRUE(fs::is_regular_file(Root() / "copy"));
}

TEST_F(CopyFileTest, PreservesPermissionBits) {
  Write(Root() / "in", "data");
  ASSERT_EQ(chmod((Root() / "in").c_str(), 0640), 0);
  ASSERT_TRUE(Copy("in", "out").ok());
  struct stat st {};
  ASSERT_EQ(stat((Root() / "out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(CopyFileTest, IdenticalDestinationIsUnchangedAndNotTouched) {
  Write(Root() / "in", "same");
  Write(Root() / "out", "same");
  // A fixed past mtime: any write would move it to now.
  const timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (Root() / "out").c_str(), past, 0), 0);
  const struct stat before = [&] {
    struct stat st {};
    stat((Root() / "out").c_str(), &st);
    return st;
  }();

  auto response = Copy("in", "out");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), COPY_OUTCOME_UNCHANGED);
  EXPECT_EQ(response->sha256(), Sha256Hex("same"));
  EXPECT_EQ(response->size_bytes(), 4u);
  EXPECT_EQ(response->backup_path(), "");
  timespec mtime = MtimeOf(Root() / "out");
  EXPECT_EQ(mtime.tv_sec, 1000000000);
  EXPECT_EQ(mtime.tv_nsec, 0);
  struct stat after {};
  ASSERT_EQ(stat((Root() / "out").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(
      std::distance(fs::directory_iterator(Root()), fs::directory_iterator()),
      2);  // in, out: no backup, no temporary file
}

TEST_F(CopyFileTest, CopyOntoItselfIsUnchanged) {
  Write(Root() / "f", "self");
  auto response = Copy("f", "./f");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), COPY_OUTCOME_UNCHANGED);
  EXPECT_EQ(Read(Root() / "f"), "self");
}

TEST_F(CopyFileTest, SameSizeDifferentContentIsReplacedWithBackup) {
  Write(Root() / "in", "new!");
  Write(Root() / "dir/out", "old!");
  auto response = Copy("in", "dir/out");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), COPY_OUTCOME_REPLACED);
  EXPECT_EQ(response->sha256(), Sha256Hex("new!"));
  EXPECT_EQ(response->backup_path(),
            "dir/" + BackupName("out", Sha256Hex("old!"), 1));
  EXPECT_EQ(Read(Root() / "dir/out"), "new!");
  EXPECT_EQ(Read(Root() / response->backup_path()), "old!");
  EXPECT_EQ(TempFiles(Root() / "dir"), 0);
}

TEST_F(CopyFileTest, BackupsAreNeverOverwritten) {
  Write(Root() / "v1", "version one");
  Write(Root() / "v2", "version two, longer");
  Write(Root() / "v3", "v3");
  ASSERT_TRUE(Copy("v1", "out").ok());
  auto second = Copy("v2", "out");  // backs up v1
  auto third = Copy("v3", "out");   // backs up v2
  auto fourth = Copy("v1", "out");  // backs up v3
  auto fifth = Copy("v2", "out");   // v1 again: its backup already exists
  for (const auto* r : {&second, &third, &fourth, &fifth}) {
    ASSERT_TRUE(r->ok()) << r->status();
    EXPECT_EQ((*r)->outcome(), COPY_OUTCOME_REPLACED);
  }
  EXPECT_EQ(Read(Root() / second->backup_path()), "version one");
  EXPECT_EQ(Read(Root() / third->backup_path()), "version two, longer");
  EXPECT_EQ(Read(Root() / fourth->backup_path()), "v3");
  EXPECT_EQ(fifth->backup_path(), second->backup_path());
  EXPECT_EQ(Read(Root() / fifth->backup_path()), "version one");
  EXPECT_EQ(Read(Root() / "out"), "version two, longer");
}

TEST_F(CopyFileTest, ForeignFileAtTheBackupNameIsKeptAndNumbered) {
  Write(Root() / "in", "new");
  Write(Root() / "out", "old");
  const std::string taken = BackupName("out", Sha256Hex("old"), 1);
  Write(Root() / taken, "somebody else's file");
  auto response = Copy("in", "out");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->backup_path(), BackupName("out", Sha256Hex("old"), 2));
  EXPECT_EQ(Read(Root() / taken), "somebody else's file");
  EXPECT_EQ(Read(Root() / response->backup_path()), "old");
}

TEST_F(CopyFileTest, LongDestinationNamesGetValidTempAndBackupNames) {
  const std::string name(255, 'n');
  Write(Root() / "in", "new");
  Write(Root() / name, "old");
  auto response = Copy("in", name);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), COPY_OUTCOME_REPLACED);
  EXPECT_EQ(response->backup_path().size(), 255u);
  EXPECT_EQ(Read(Root() / response->backup_path()), "old");
}

// Two long names that differ only past where a backup name cuts them must
// not share one backup: each destination's REPLACED names a backup of its
// own (they used to name the same file when the old contents were equal).
TEST_F(CopyFileTest, LongNamesThatDifferAtTheEndGetBackupsOfTheirOwn) {
  const std::string first(255, 'a');
  const std::string second = std::string(250, 'a') + "bbbbb";
  Write(Root() / "in", "new");
  Write(Root() / first, "old");
  Write(Root() / second, "old");
  auto one = Copy("in", first);
  auto other = Copy("in", second);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(one->backup_path(), other->backup_path());
  EXPECT_EQ(Read(Root() / other->backup_path()), "old");
}

TEST_F(CopyFileTest, SixteenConcurrentIdenticalCopiesEndWithOneWholeFile) {
  const std::string content(3 << 20, 'c');
  Write(Root() / "in", content);
  std::vector<absl::StatusOr<v1::CopyFileResponse>> results(
      16, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] { result = Copy("in", "shared/out"); });
  }
  for (auto& thread : threads) thread.join();
  int copied = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_NE(result->outcome(), COPY_OUTCOME_REPLACED);
    EXPECT_EQ(result->sha256(), Sha256Hex(content));
    copied += result->outcome() == COPY_OUTCOME_COPIED;
  }
  EXPECT_EQ(copied, 1);
  EXPECT_EQ(Read(Root() / "shared/out"), content);
  EXPECT_EQ(std::distance(fs::directory_iterator(Root() / "shared"),
                          fs::directory_iterator()),
            1);
}

TEST_F(CopyFileTest, ConcurrentReplacementsBackUpOnce) {
  Write(Root() / "in", "new content");
  Write(Root() / "out", "old content");
  std::vector<absl::StatusOr<v1::CopyFileResponse>> results(
      16, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] { result = Copy("in", "out"); });
  }
  for (auto& thread : threads) thread.join();
  int replaced = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    replaced += result->outcome() == COPY_OUTCOME_REPLACED;
  }
  EXPECT_EQ(replaced, 1);
  EXPECT_EQ(Read(Root() / "out"), "new content");
  EXPECT_EQ(TempFiles(Root()), 0);
  EXPECT_EQ(
      std::distance(fs::directory_iterator(Root()), fs::directory_iterator()),
      3);  // in, out, one backup
}

TEST_F(CopyFileTest, MissingSourceIsNotFoundAndCreatesNothing) {
  auto before = Snapshot();
  auto response = Copy("nope/missing.txt", "new/folder/out");
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(response.status().message().find("'nope/missing.txt'"),
            std::string::npos)
      << response.status();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(CopyFileTest, DirectoriesAreInvalidArguments) {
  fs::create_directories(Root() / "dir/sub");
  Write(Root() / "file", "x");
  auto before = Snapshot();
  EXPECT_EQ(Copy("dir", "out").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Copy("file", "dir/sub").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Copy("file", "file/below").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(CopyFileTest, NonRegularSourceIsRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo((Root() / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(Copy("fifo", "out").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(Root() / "out"));
}

// A socket cannot even be opened (ENXIO): refused as the other non-regular
// files are, not INTERNAL (which a key would not keep, and every retry
// would meet again).
TEST_F(CopyFileTest, ASocketIsRefusedAsNotARegularFile) {
  const int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = (Root() / "sock").string();
  ASSERT_LT(path.size(), sizeof(address.sun_path));
  path.copy(address.sun_path, path.size());
  ASSERT_EQ(
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
      0);
  Write(Root() / "file", "x");
  for (auto [src, dst] : std::vector<std::pair<std::string, std::string>>{
           {"sock", "out"}, {"file", "sock"}}) {
    EXPECT_EQ(ReasonOf(Copy(src, dst).status()),
              ReasonName(Reason::kRequestInvalid))
        << src << " -> " << dst;
  }
  close(listener);
  EXPECT_FALSE(fs::exists(Root() / "out"));
}

// A folder of the destination that is a broken link: the request's path
// is at fault, not its source (which exists).
TEST_F(CopyFileTest, ABrokenLinkInTheDestinationIsNotAMissingSource) {
  Write(Root() / "file", "x");
  fs::create_symlink("missing", Root() / "dangling");
  const absl::Status status = Copy("file", "dangling/out").status();
  EXPECT_EQ(ReasonOf(status), ReasonName(Reason::kRequestInvalid)) << status;
}

TEST_F(CopyFileTest, ErrorsNeverNameTheRoot) {
  Write(Root() / "file", "x");
  for (auto [src, dst] : std::vector<std::pair<std::string, std::string>>{
           {"missing", "out"}, {"file", "file/x"}, {"../x", "out"}}) {
    auto status = Copy(src, dst).status();
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.message().find(base_.string()), std::string::npos)
        << status;
  }
}

TEST(StorageRootTest, CreatesAMissingRootAndRefusesAFile) {
  std::string pattern = "/tmp/idem-files-root-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const fs::path base = pattern;
  auto created = StorageRoot::Open((base / "a/b/root").string());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(fs::is_directory(base / "a/b/root"));
  std::ofstream(base / "plain") << "x";
  EXPECT_EQ(StorageRoot::Open((base / "plain").string()).status().code(),
            absl::StatusCode::kInvalidArgument);
  fs::remove_all(base);
}

}  // namespace
}  // namespace idem::files
