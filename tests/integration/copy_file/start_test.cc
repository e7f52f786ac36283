// IDEM_STORAGE_ROOT at start: absent, a regular file, missing, and the
// removal of crashed copies' temporary files.
#include <filesystem>
#include <stdexcept>
#include <string>

#include "tests/integration/copy_file/copy_file_fixture.h"

namespace idem::testing {
namespace {

namespace fs = std::filesystem;

TEST(CopyFileStartTest, WithoutStorageRootCopyFileIsFailedPrecondition) {
  ScratchDir scratch;
  WriteFile(scratch.path() / "in", "payload");
  auto server = ServerProcess::Start(ServerProcess::Options());
  auto stub = server->Stub();

  CopyResult copy = CopyOver(*stub, "in", "out");

  EXPECT_EQ(copy.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << copy.status.error_message();
  EXPECT_NE(copy.status.error_message().find("IDEM_STORAGE_ROOT"),
            std::string::npos)
      << copy.status.error_message();
  EXPECT_EQ(copy.status.error_message().find(scratch.path().string()),
            std::string::npos);
}

TEST(CopyFileStartTest, StorageRootThatIsARegularFileRefusesToStart) {
  ScratchDir scratch;
  const fs::path file = scratch.path() / "not-a-folder";
  WriteFile(file, "x");

  std::string error;
  try {
    auto server = StartWithRoot(file);
    FAIL() << "the server started with a regular file as its storage root";
  } catch (const std::runtime_error& e) {
    error = e.what();
  }

  // The operator's message names the setting, the path and the problem.
  EXPECT_NE(error.find("IDEM_STORAGE_ROOT"), std::string::npos) << error;
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
  EXPECT_NE(error.find("not a directory"), std::string::npos) << error;
  EXPECT_EQ(ReadFile(file), "x");
}

TEST(CopyFileStartTest, MissingStorageRootIsCreated) {
  ScratchDir scratch;
  const fs::path root = scratch.path() / "a/b/root";
  auto server = StartWithRoot(root);
  ASSERT_TRUE(fs::is_directory(root));
  WriteFile(root / "in", "payload");

  CopyResult copy = CopyOver(*server->Stub(), "in", "out");

  ASSERT_TRUE(copy.status.ok()) << copy.status.error_message();
  EXPECT_EQ(ReadFile(root / "out"), "payload");
}

// Temporary files of copies that crashed (a server killed mid-copy leaves
// exactly these) are removed when the next server starts, in every folder;
// nothing else is, and the walk never follows a link out of the root.
TEST(CopyFileStartTest, CrashedCopiesTemporaryFilesAreRemovedAtStart) {
  ScratchDir scratch;
  const fs::path root = scratch.path() / "root";
  const fs::path outside = scratch.path() / "outside";
  WriteFile(root / ".idem-tmp.top", "torn");
  WriteFile(root / "dir/.idem-tmp.out", "torn");
  WriteFile(root / "dir/out", "whole");
  WriteFile(root / "deep/a/b/c/.idem-tmp.x", "torn");
  WriteFile(root / "dir/.idem-tmp-not-quite", "a caller's file");
  fs::create_directories(root / "dir/.idem-tmp.folder");  // not a file: kept
  WriteFile(outside / ".idem-tmp.elsewhere", "not ours");
  fs::create_symlink(outside, root / "link_out");
  fs::create_symlink(outside / ".idem-tmp.elsewhere", root / ".idem-tmp.link");

  auto server = StartWithRoot(root);

  EXPECT_FALSE(fs::exists(root / ".idem-tmp.top"));
  EXPECT_FALSE(fs::exists(root / "dir/.idem-tmp.out"));
  EXPECT_FALSE(fs::exists(root / "deep/a/b/c/.idem-tmp.x"));
  EXPECT_EQ(ReadFile(root / "dir/out"), "whole");
  EXPECT_EQ(ReadFile(root / "dir/.idem-tmp-not-quite"), "a caller's file");
  EXPECT_TRUE(fs::is_directory(root / "dir/.idem-tmp.folder"));
  EXPECT_TRUE(fs::is_symlink(root / ".idem-tmp.link"));
  EXPECT_EQ(ReadFile(outside / ".idem-tmp.elsewhere"), "not ours");
  // The start says what it removed, before it listens.
  const std::string log = server->Log();
  const size_t swept = log.find(R"("event":"storage_root")");
  ASSERT_NE(swept, std::string::npos) << log;
  EXPECT_LT(swept, log.find(R"("event":"listening")")) << log;
  EXPECT_NE(log.find(R"("temporary_files_removed":3)"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace idem::testing
