#ifndef IDEM_TESTS_UNIT_FILES_TEMP_TREE_H_
#define IDEM_TESTS_UNIT_FILES_TEMP_TREE_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "idem/v1/idem.pb.h"
#include "service/files/copy_file.h"
#include "service/files/storage_root.h"

namespace idem::files {

namespace fs = std::filesystem;

// A fresh folder under /tmp holding `root/` (the storage root) and
// `outside/` (what no copy may reach), removed after the test.
class TempTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/idem-files-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    base_ = pattern;
    fs::create_directories(base_ / "outside");
    auto root = StorageRoot::Open(Root().string());
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = std::move(*root);
  }
  void TearDown() override { fs::remove_all(base_); }

  fs::path Root() const { return base_ / "root"; }
  fs::path Outside() const { return base_ / "outside"; }

  static void Write(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  }
  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  absl::StatusOr<v1::CopyFileResponse> Copy(const std::string& source,
                                            const std::string& destination) {
    v1::CopyFileRequest request;
    request.set_source_path(source);
    request.set_destination_path(destination);
    // Copies in these tests wait for their folders as long as they must.
    return CopyFile(*root_, request, absl::InfiniteDuration());
  }

  // Every entry under the test folder (links not followed) with its type
  // and content, to show that a refused request changed nothing anywhere.
  std::map<std::string, std::string> Snapshot() const {
    std::map<std::string, std::string> entries;
    for (const auto& entry : fs::recursive_directory_iterator(base_)) {
      std::string value;
      if (entry.is_symlink()) {
        value = "link:" + fs::read_symlink(entry.path()).string();
      } else if (entry.is_directory()) {
        value = "dir";
      } else {
        value = "file:" + Read(entry.path());
      }
      entries[fs::relative(entry.path(), base_).string()] = value;
    }
    return entries;
  }

  // Names in `folder` that belong to unfinished copies.
  static int TempFiles(const fs::path& folder) {
    int count = 0;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().filename().string().rfind(".idem-tmp.", 0) == 0) {
        ++count;
      }
    }
    return count;
  }

  fs::path base_;
  std::unique_ptr<StorageRoot> root_;
};

}  // namespace idem::files

#endif  // IDEM_TESTS_UNIT_FILES_TEMP_TREE_H_
