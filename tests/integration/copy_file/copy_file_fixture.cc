#include "tests/integration/copy_file/copy_file_fixture.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace idem::testing {

namespace fs = std::filesystem;

ScratchDir::ScratchDir(const fs::path& parent) {
  std::string pattern = (parent / "idem-copy-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot create a folder in " + parent.string());
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

int CountTempFiles(const fs::path& dir) {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(".idem-tmp.", 0) == 0) ++count;
  }
  return count;
}

std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    struct stat st;
    if (lstat(entry.path().c_str(), &st) != 0) continue;
    std::ostringstream line;
    line << std::oct << (st.st_mode & S_IFMT) << std::dec << " " << st.st_size
         << " " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
    if (S_ISLNK(st.st_mode)) line << " -> " << fs::read_symlink(entry.path());
    entries[fs::relative(entry.path(), dir).string()] = line.str();
  }
  return entries;
}

std::unique_ptr<ServerProcess> StartWithRoot(const fs::path& root) {
  ServerProcess::Options options;
  options.env["IDEM_STORAGE_ROOT"] = root.string();
  return ServerProcess::Start(options);
}

CopyResult CopyOver(v1::IdemService::Stub& stub, const std::string& source,
                    const std::string& destination) {
  v1::CopyFileRequest request;
  request.set_source_path(source);
  request.set_destination_path(destination);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(120));
  CopyResult result;
  result.status = stub.CopyFile(&context, request, &result.response);
  return result;
}

ScratchDir* CopyFileServerTest::scratch_ = nullptr;
std::unique_ptr<ServerProcess> CopyFileServerTest::server_;
std::unique_ptr<v1::IdemService::Stub> CopyFileServerTest::stub_;

void CopyFileServerTest::SetUpTestSuite() {
  scratch_ = new ScratchDir();
  fs::create_directories(Root());
  fs::create_directories(Outside());
  server_ = StartWithRoot(Root());
  stub_ = server_->Stub();
}

void CopyFileServerTest::TearDownTestSuite() {
  stub_.reset();
  server_.reset();
  delete scratch_;
  scratch_ = nullptr;
}

void CopyFileServerTest::SetUp() {
  // The root's own descriptor stays open in the server: empty it, never
  // replace it.
  for (const fs::path& dir : {Root(), Outside()}) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      fs::remove_all(entry.path());
    }
  }
}

fs::path CopyFileServerTest::Scratch() { return scratch_->path(); }
fs::path CopyFileServerTest::Root() { return scratch_->path() / "root"; }
fs::path CopyFileServerTest::Outside() { return scratch_->path() / "outside"; }

CopyResult CopyFileServerTest::Copy(const std::string& source,
                                    const std::string& destination) {
  return CopyOver(*stub_, source, destination);
}

void CopyFileServerTest::ExpectNoServerPath(const grpc::Status& status,
                                            const std::string& caller_input) {
  const std::string& message = status.error_message();
  EXPECT_EQ(message.find(Root().string()), std::string::npos) << message;
  if (caller_input.find(scratch_->path().string()) == std::string::npos) {
    EXPECT_EQ(message.find(scratch_->path().string()), std::string::npos)
        << message;
  }
}

}  // namespace idem::testing
