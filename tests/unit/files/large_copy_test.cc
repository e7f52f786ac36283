// A large copy keeps the process's memory flat: every read, write and hash
// goes through bounded chunks. (Issue 4 asks for 1 GiB; 256 MiB keeps the
// test fast and already dwarfs the 64 MiB limit.)
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <string>

#include "service/common/sha256.h"
#include "temp_tree.h"

namespace idem::files {
namespace {

constexpr size_t kFileBytes = 256u << 20;
constexpr size_t kBlockBytes = 1u << 20;
constexpr long kMaxGrowthKiB = 64 << 10;

long PeakRssKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

class LargeCopyTest : public TempTreeTest {};

TEST_F(LargeCopyTest, MemoryGrowthStaysUnder64MiB) {
  // Mostly holes with a distinct block every 16 MiB: cheap to write, but
  // every byte is still read and hashed.
  Sha256 expected;
  {
    std::ofstream out(Root() / "big", std::ios::binary);
    std::string block(kBlockBytes, '\0');
    const std::string zeros(kBlockBytes, '\0');
    for (size_t offset = 0; offset < kFileBytes; offset += kBlockBytes) {
      const bool data = offset % (16 * kBlockBytes) == 0;
      if (data) {
        block.assign(kBlockBytes,
                     static_cast<char>('a' + offset / kBlockBytes % 26));
        out.seekp(offset);
        out.write(block.data(), block.size());
      }
      expected.Update(data ? block : zeros);
    }
    out.seekp(kFileBytes - 1);
    out.put('\0');
  }
  const long before = PeakRssKiB();
  auto response = Copy("big", "copy/big");
  const long growth = PeakRssKiB() - before;
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), v1::COPY_OUTCOME_COPIED);
  EXPECT_EQ(response->size_bytes(), kFileBytes);
  EXPECT_EQ(response->sha256(), expected.HexDigest());
  EXPECT_EQ(fs::file_size(Root() / "copy/big"), kFileBytes);
  EXPECT_LT(growth, kMaxGrowthKiB) << "peak RSS grew by " << growth << " KiB";

  // And the comparison path: identical, so hashed on both sides.
  response = Copy("big", "copy/big");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->outcome(), v1::COPY_OUTCOME_UNCHANGED);
  EXPECT_LT(PeakRssKiB() - before, kMaxGrowthKiB);
}

}  // namespace
}  // namespace idem::files
