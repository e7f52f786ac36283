// Every way out of the storage root is refused, and a refused request
// creates, changes and removes nothing inside or outside the root.
#include <gtest/gtest.h>

#include <string>

#include "temp_tree.h"

namespace idem::files {
namespace {

class EscapeTest : public TempTreeTest {
 protected:
  void SetUp() override {
    TempTreeTest::SetUp();
    Write(Root() / "in.txt", "inside");
    Write(Root() / "sub/inner.txt", "inner");
    Write(Outside() / "secret.txt", "secret");
    // Links inside the root that lead out of it, absolute and relative.
    fs::create_directory_symlink(Outside(), Root() / "abs_out");
    fs::create_directory_symlink("../../outside", Root() / "sub/rel_out");
    fs::create_symlink(Outside() / "secret.txt", Root() / "secret_link");
    fs::create_symlink("../outside/secret.txt", Root() / "secret_rel_link");
  }

  // Runs the copy and checks the code and that nothing changed anywhere.
  void ExpectRefused(const std::string& source, const std::string& destination,
                     absl::StatusCode code) {
    SCOPED_TRACE(source + " -> " + destination);
    const auto before = Snapshot();
    auto response = Copy(source, destination);
    EXPECT_EQ(response.status().code(), code) << response.status();
    // Only a path the caller sent may appear, never the root's own.
    if ((source + destination).find(base_.string()) == std::string::npos) {
      EXPECT_EQ(response.status().message().find(base_.string()),
                std::string::npos)
          << "message reveals the root: " << response.status();
    }
    EXPECT_EQ(Snapshot(), before);
  }
};

constexpr auto kDenied = absl::StatusCode::kPermissionDenied;
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST_F(EscapeTest, DotDotAndAbsolutePaths) {
  ExpectRefused("in.txt", "../x", kDenied);
  ExpectRefused("../outside/secret.txt", "x", kDenied);
  ExpectRefused("in.txt", "a/../../x", kDenied);
  ExpectRefused("in.txt", "/etc/passwd", kDenied);
  ExpectRefused("/etc/passwd", "x", kDenied);
  ExpectRefused("in.txt", (Outside() / "x").string(), kDenied);
}

TEST_F(EscapeTest, LinkedParentFolderLeadingOut) {
  ExpectRefused("in.txt", "abs_out/x", kDenied);
  ExpectRefused("in.txt", "sub/rel_out/x", kDenied);
  ExpectRefused("in.txt", "abs_out/new/folder/x", kDenied);
  ExpectRefused("abs_out/secret.txt", "x", kDenied);
  ExpectRefused("sub/rel_out/secret.txt", "x", kDenied);
}

TEST_F(EscapeTest, SourceLinkToAFileOutside) {
  ExpectRefused("secret_link", "x", kDenied);
  ExpectRefused("secret_rel_link", "x", kDenied);
}

TEST_F(EscapeTest, DestinationThatIsALinkIsNotReplaced) {
  ExpectRefused("in.txt", "secret_link", kDenied);
  fs::create_symlink("in.txt", Root() / "inner_link");
  ExpectRefused("sub/inner.txt", "inner_link", kDenied);
}

TEST_F(EscapeTest, MalformedNames) {
  ExpectRefused(std::string("in.txt\0../../x", 14), "x", kInvalid);
  ExpectRefused("in.txt", std::string("x\0y", 3), kInvalid);
  ExpectRefused("in.txt", std::string(4096, 'a'), kInvalid);
  ExpectRefused("in.txt", std::string(256, 'a'), kInvalid);
  ExpectRefused("in.txt", "a//b", kInvalid);
  ExpectRefused("in.txt", "", kInvalid);
}

// The chosen behaviour for links that stay inside the root: followed, like
// any path the kernel resolves beneath the root (docs/copy-file.md).
TEST_F(EscapeTest, LinksThatStayInsideAreFollowed) {
  fs::create_symlink("sub/inner.txt", Root() / "alias");
  fs::create_directory_symlink("sub", Root() / "sub_alias");
  auto copied = Copy("alias", "sub_alias/copy.txt");
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(Read(Root() / "sub/copy.txt"), "inner");
}

}  // namespace
}  // namespace idem::files
