// A 1 GiB copy through a real server: the server's peak memory grows by
// less than 64 MiB, whatever the file's size.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "tests/integration/copy_file/copy_file_fixture.h"

namespace idem::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr int64_t kMaxGrowthKiB = 64 * 1024;
const char* const kVolume = "/var/tmp";

// Peak resident memory of process `pid` so far (VmHWM), in KiB.
int64_t PeakRssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  ADD_FAILURE() << "no VmHWM for process " << pid;
  return -1;
}

std::string Sha256Sum(const fs::path& path) {
  std::string command = "sha256sum '" + path.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char hex[65] = {};
  size_t got = fread(hex, 1, 64, pipe);
  pclose(pipe);
  return std::string(hex, got);
}

// A sparse file of `size` bytes: a hole except for a few written blocks, so
// that it is made at once, yet a copy must carry every byte.
const std::vector<uint64_t>& BlockOffsets() {
  static const std::vector<uint64_t> offsets = {0, 4096 * 3, kGiB / 2 + 12345,
                                                kGiB - 4096};
  return offsets;
}
std::string Block(uint64_t offset) {
  std::string block = "block at " + std::to_string(offset);
  block.resize(4096, '#');
  return block;
}
void MakeSparseFile(const fs::path& path, uint64_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
  for (uint64_t offset : BlockOffsets()) {
    const std::string block = Block(offset);
    ASSERT_EQ(
        pwrite(fd, block.data(), block.size(), static_cast<off_t>(offset)),
        static_cast<ssize_t>(block.size()));
  }
  close(fd);
}
std::string ReadAt(const fs::path& path, uint64_t offset, size_t size) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string data(size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

TEST(CopyFileLargeTest, OneGibibyteCopyGrowsServerMemoryByUnder64MiB) {
  struct statvfs volume;
  ASSERT_EQ(statvfs(kVolume, &volume), 0);
  const uint64_t free_bytes = uint64_t{volume.f_bavail} * volume.f_frsize;
  if (free_bytes < 3 * kGiB) {
    GTEST_SKIP() << "needs 3 GiB free in " << kVolume << ", has "
                 << free_bytes / (1 << 20) << " MiB";
  }
  ScratchDir scratch(kVolume);
  const fs::path root = scratch.path() / "root";
  fs::create_directories(root);
  MakeSparseFile(root / "big", kGiB);
  WriteFile(root / "small", "warm-up");
  auto server = StartWithRoot(root);
  auto stub = server->Stub();
  // One small copy first, so that what grows is what a copy's size costs,
  // not the first request's threads and buffers.
  ASSERT_TRUE(CopyOver(*stub, "small", "out/small").status.ok());
  const int64_t before = PeakRssKiB(server->pid());

  CopyResult copy = CopyOver(*stub, "big", "out/big");

  const int64_t after = PeakRssKiB(server->pid());
  ASSERT_TRUE(copy.status.ok()) << copy.status.error_message();
  EXPECT_EQ(copy.response.outcome(), v1::COPY_OUTCOME_COPIED);
  EXPECT_EQ(copy.response.size_bytes(), kGiB);
  EXPECT_LT(after - before, kMaxGrowthKiB)
      << "peak RSS " << before << " KiB before, " << after << " KiB after";
  std::cout << "server peak RSS: " << before << " KiB before, " << after
            << " KiB after the 1 GiB copy\n";

  EXPECT_EQ(fs::file_size(root / "out/big"), kGiB);
  for (uint64_t offset : BlockOffsets()) {
    EXPECT_TRUE(ReadAt(root / "out/big", offset, 4096) == Block(offset))
        << "the block at " << offset << " differs";
  }
  EXPECT_EQ(copy.response.sha256(), Sha256Sum(root / "big"));
  EXPECT_EQ(CountTempFiles(root), 0);
}

}  // namespace
}  // namespace idem::testing
