#ifndef IDEM_TESTS_INTEGRATION_COPY_FILE_COPY_FILE_FIXTURE_H_
#define IDEM_TESTS_INTEGRATION_COPY_FILE_COPY_FILE_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "idem/v1/idem.grpc.pb.h"
#include "tests/support/server_process.h"

namespace idem::testing {

// A fresh folder under `parent`, removed with everything in it when
// destroyed.
class ScratchDir {
 public:
  explicit ScratchDir(const std::filesystem::path& parent = "/tmp");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to `path`, creating its parent folders.
void WriteFile(const std::filesystem::path& path, const std::string& content);
std::string ReadFile(const std::filesystem::path& path);

// Temporary files (".idem-tmp.*") anywhere under `dir`.
int CountTempFiles(const std::filesystem::path& dir);

// Everything under `dir`, symbolic links not followed: relative name ->
// type, size, link target and modification time. Equal snapshots mean
// nothing was created, removed or written.
std::map<std::string, std::string> Snapshot(const std::filesystem::path& dir);

// A real idem-server whose storage root (IDEM_STORAGE_ROOT) is `root`.
std::unique_ptr<ServerProcess> StartWithRoot(const std::filesystem::path& root);

struct CopyResult {
  grpc::Status status;
  v1::CopyFileResponse response;
};
CopyResult CopyOver(v1::IdemService::Stub& stub, const std::string& source,
                    const std::string& destination);

// One idem-server per suite whose storage root is Root(); Outside() is a
// folder beside it that no request may reach. Both start empty in each test.
class CopyFileServerTest : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

 protected:
  void SetUp() override;

  // Holds Root() and Outside().
  static std::filesystem::path Scratch();
  static std::filesystem::path Root();
  static std::filesystem::path Outside();
  static ServerProcess& Server() { return *server_; }
  static CopyResult Copy(const std::string& source,
                         const std::string& destination);

  // A caller's message names neither the storage root nor anything else of
  // the server's file system, except what the caller sent (`caller_input`).
  static void ExpectNoServerPath(const grpc::Status& status,
                                 const std::string& caller_input = "");

 private:
  static ScratchDir* scratch_;
  static std::unique_ptr<ServerProcess> server_;
  static std::unique_ptr<v1::IdemService::Stub> stub_;
};

}  // namespace idem::testing

#endif  // IDEM_TESTS_INTEGRATION_COPY_FILE_COPY_FILE_FIXTURE_H_
