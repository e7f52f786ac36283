#include "service/auth/vetted_tls_files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace idem::auth {
namespace {

namespace fs = std::filesystem;

// The link gRPC reads the files through, and the names in each set.
constexpr char kCurrent[] = "current";
constexpr char kCert[] = "cert.pem";
constexpr char kKey[] = "key.pem";
constexpr char kClientCa[] = "client_ca.pem";

absl::Status NotWritten(const fs::path& path, const std::string& why) {
  return absl::FailedPreconditionError(
      absl::StrCat("cannot write the served copy of the TLS files at ",
                   path.string(), " (set TMPDIR to a writable folder): ", why));
}

// Only this process's user may read the key.
absl::Status WritePrivateFile(const fs::path& path, const std::string& data) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return NotWritten(path, std::strerror(errno));
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      close(fd);
      return NotWritten(path, why);
    }
    written += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return NotWritten(path, std::strerror(errno));
  return absl::OkStatus();
}

std::string SetName(int number) { return absl::StrCat("set-", number); }

}  // namespace

absl::StatusOr<std::unique_ptr<VettedTlsFiles>> VettedTlsFiles::Create(
    TlsFilePaths operator_files, absl::Duration interval,
    ReloadListener on_reload) {
  absl::StatusOr<TlsFileContents> contents = ReadTlsFiles(operator_files);
  if (!contents.ok()) return contents.status();
  std::error_code error;
  const fs::path temp = fs::temp_directory_path(error);
  if (error) return NotWritten("$TMPDIR", error.message());
  std::string folder = (temp / "idem-tls-XXXXXX").string();
  if (mkdtemp(folder.data()) == nullptr) {
    return NotWritten(folder, std::strerror(errno));
  }
  std::unique_ptr<VettedTlsFiles> files(
      new VettedTlsFiles(std::move(operator_files), folder));
  if (absl::Status published = files->Publish(*contents); !published.ok()) {
    return published;
  }
  files->watcher_ = std::thread(&VettedTlsFiles::Watch, files.get(), interval,
                                std::move(on_reload));
  return files;
}

VettedTlsFiles::VettedTlsFiles(TlsFilePaths operator_files, fs::path folder)
    : operator_files_(std::move(operator_files)), folder_(std::move(folder)) {
  const fs::path current = folder_ / kCurrent;
  served_.cert = current / kCert;
  served_.key = current / kKey;
  if (!operator_files_.client_ca.empty()) {
    served_.client_ca = current / kClientCa;
  }
}

VettedTlsFiles::~VettedTlsFiles() {
  stop_.Notify();
  if (watcher_.joinable()) watcher_.join();
  std::error_code ignored;
  fs::remove_all(folder_, ignored);
}

absl::Status VettedTlsFiles::Publish(const TlsFileContents& contents) {
  const std::string name = SetName(sets_written_ + 1);
  const fs::path set = folder_ / name;
  std::error_code error;
  fs::create_directory(set, error);
  if (error) return NotWritten(set, error.message());
  for (const auto& [file, data] :
       {std::pair<const char*, const std::string&>{kCert, contents.cert},
        {kKey, contents.key},
        {kClientCa, contents.client_ca}}) {
    if (absl::Status written = WritePrivateFile(set / file, data);
        !written.ok()) {
      return written;
    }
  }
  // rename(2) over the link swaps all three files at once.
  const fs::path next = folder_ / "next";
  fs::remove(next, error);
  fs::create_symlink(name, next, error);
  if (!error) fs::rename(next, folder_ / kCurrent, error);
  if (error) return NotWritten(folder_ / kCurrent, error.message());
  ++sets_written_;
  published_ = contents;
  // The set before stays: gRPC may be reading it right now.
  fs::remove_all(folder_ / SetName(sets_written_ - 2), error);
  return absl::OkStatus();
}

void VettedTlsFiles::Watch(absl::Duration interval, ReloadListener on_reload) {
  std::string told_problem;
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    absl::StatusOr<TlsFileContents> read = ReadTlsFiles(operator_files_);
    absl::Status outcome = read.status();
    if (read.ok()) {
      told_problem.clear();
      if (*read == published_) continue;
      outcome = Publish(*read);
    }
    if (!outcome.ok()) {
      if (outcome.message() == told_problem) continue;
      told_problem = std::string(outcome.message());
    }
    if (on_reload) on_reload(outcome);
  }
}

}  // namespace idem::auth
