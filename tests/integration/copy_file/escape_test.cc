// Every way out of the storage root, over gRPC: refused,
// with nothing created or changed inside or outside the root and no server
// path in the message.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/copy_file/copy_file_fixture.h"
#include "tests/support/rich_status.h"

namespace idem::testing {
namespace {

namespace fs = std::filesystem;

struct Escape {
  std::string what;
  std::string source;
  std::string destination;
  Refusal refusal;
};

class CopyFileEscapeTest : public CopyFileServerTest {
 protected:
  void SetUp() override {
    CopyFileServerTest::SetUp();
    WriteFile(Outside() / "secret", "secret");
    WriteFile(Root() / "in", "payload");
    fs::create_directories(Root() / "sub");
    fs::create_symlink(Outside(), Root() / "out_abs");       // folder, absolute
    fs::create_symlink("../outside", Root() / "out_rel");    // folder, relative
    fs::create_symlink("../../outside", Root() / "sub/up");  // from a subfolder
    fs::create_symlink(Outside() / "secret", Root() / "to_secret");  // file
  }

  void ExpectRefused(const Escape& escape) {
    SCOPED_TRACE(escape.what);
    const auto before = Snapshot(Scratch());
    CopyResult copy = Copy(escape.source, escape.destination);
    ExpectRefusal(copy.status, escape.refusal);
    EXPECT_FALSE(copy.status.error_message().empty());
    ExpectNoServerPath(copy.status, escape.source + escape.destination);
    EXPECT_EQ(Snapshot(Scratch()), before) << "something was touched";
  }
};

const Refusal kDenied("PATH_OUTSIDE_ROOT");
const Refusal kInvalid("REQUEST_INVALID");

TEST_F(CopyFileEscapeTest, DotDotIsRefused) {
  for (const Escape& escape : std::vector<Escape>{
           {"../x", "in", "../x", kDenied},
           {"a/../../x", "in", "a/../../x", kDenied},
           {"../outside/x", "in", "../outside/x", kDenied},
           {"source ../outside/secret", "../outside/secret", "out", kDenied},
       }) {
    ExpectRefused(escape);
  }
}

TEST_F(CopyFileEscapeTest, AbsolutePathsAreRefused) {
  for (const Escape& escape : std::vector<Escape>{
           {"source /etc/passwd", "/etc/passwd", "stolen", kDenied},
           {"source outside", (Outside() / "secret").string(), "out", kDenied},
           {"destination outside", "in", (Outside() / "x").string(), kDenied},
       }) {
    ExpectRefused(escape);
  }
}

TEST_F(CopyFileEscapeTest, SymlinksLeadingOutAreRefused) {
  for (const Escape& escape : std::vector<Escape>{
           {"destination is a link to a file outside", "in", "to_secret",
            kDenied},
           {"source is a link to a file outside", "to_secret", "out", kDenied},
           {"destination folder links out (absolute)", "in", "out_abs/x",
            kDenied},
           {"destination folder links out (relative)", "in", "out_rel/x",
            kDenied},
           {"destination folder links out from a subfolder", "in", "sub/up/x",
            kDenied},
           {"missing folders beyond a link out", "in", "out_abs/new/deeper/x",
            kDenied},
           {"source folder links out (absolute)", "out_abs/secret", "out",
            kDenied},
           {"source folder links out (relative)", "out_rel/secret", "out",
            kDenied},
       }) {
    ExpectRefused(escape);
  }
}

TEST_F(CopyFileEscapeTest, MalformedNamesAreRefused) {
  const std::string nul("dir/a\0b", 7);
  for (const Escape& escape : std::vector<Escape>{
           {"NUL byte in the destination", "in", nul, kInvalid},
           {"NUL byte in the source", nul, "out", kInvalid},
           {"4096-byte destination name", "in", std::string(4096, 'n'),
            kInvalid},
           {"4096-byte source name", std::string(4096, 'n'), "out", kInvalid},
           {"256-byte component", "in", "dir/" + std::string(256, 'n'),
            kInvalid},
           {"4096-byte path of short names", "in",
            [] {
              std::string path;
              while (path.size() < 4096) path += "d/";
              return path + "x";
            }(),
            kInvalid},
           {"reserved temporary name", "in", "dir/.idem-tmp.x", kInvalid},
       }) {
    ExpectRefused(escape);
  }
}

// The same links are followed when they stay inside the root, so the
// refusals above are about leaving the root, not about links as such.
TEST_F(CopyFileEscapeTest, LinksThatStayInsideAreFollowed) {
  fs::create_directories(Root() / "real");
  fs::create_symlink("real", Root() / "alias");
  CopyResult copy = Copy("in", "alias/out");
  ASSERT_TRUE(copy.status.ok()) << copy.status.error_message();
  EXPECT_EQ(ReadFile(Root() / "real/out"), "payload");
  EXPECT_EQ(ReadFile(Outside() / "secret"), "secret");
}

}  // namespace
}  // namespace idem::testing
