#include "service/files/relative_path.h"

#include <gtest/gtest.h>

#include <string>

namespace idem::files {
namespace {

absl::StatusCode CodeOf(const std::string& raw) {
  return ParseRelativePath("source_path", raw).status().code();
}

TEST(RelativePathTest, SplitsAndDropsDotComponents) {
  auto path = ParseRelativePath("source_path", "./a/./b/c.txt");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->Joined(), "a/b/c.txt");
  EXPECT_EQ(path->ParentJoined(), "a/b");
  EXPECT_EQ(path->name(), "c.txt");
  EXPECT_EQ(ParseRelativePath("f", "x")->ParentJoined(), "");
}

TEST(RelativePathTest, EscapesArePermissionDenied) {
  EXPECT_EQ(CodeOf("../x"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeOf("a/../../x"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeOf("a/.."), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeOf("/etc/passwd"), absl::StatusCode::kPermissionDenied);
}

TEST(RelativePathTest, MalformedPathsAreInvalid) {
  EXPECT_EQ(CodeOf(""), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("."), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(std::string("a\0b", 3)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("a//b"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("a/"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(std::string(256, 'n')), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(std::string(4096, 'n')), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("a/.idem-tmp.b"), absl::StatusCode::kInvalidArgument);
}

TEST(RelativePathTest, LimitsAreInclusive) {
  EXPECT_TRUE(ParseRelativePath("f", std::string(255, 'n')).ok());
  std::string longest;
  while (longest.size() + 101 < 4096) longest += std::string(100, 'n') + "/";
  longest += std::string(4095 - longest.size(), 'n');
  ASSERT_EQ(longest.size(), 4095u);
  EXPECT_TRUE(ParseRelativePath("f", longest).ok());
}

TEST(RelativePathTest, MessageQuotesTheFieldAndAShortenedPath) {
  auto status =
      ParseRelativePath("destination_path", std::string(4096, 'n')).status();
  EXPECT_NE(status.message().find("destination_path 'nnn"), std::string::npos);
  EXPECT_LT(status.message().size(), 300u);
  status = ParseRelativePath("source_path", std::string("a\0b", 3)).status();
  EXPECT_NE(status.message().find("'a\\000b'"), std::string::npos)
      << status.message();
}

}  // namespace
}  // namespace idem::files
