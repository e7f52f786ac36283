#include "service/available_cores.h"

#include <gtest/gtest.h>

#include <thread>

namespace idem {
namespace {

TEST(AvailableCoresTest, AQuotaIsRoundedUpToWholeCores) {
  EXPECT_EQ(CoresOfQuota(200000, 100000), 2);
  EXPECT_EQ(CoresOfQuota(150000, 100000), 2);
  EXPECT_EQ(CoresOfQuota(50000, 100000), 1);
  EXPECT_EQ(CoresOfQuota(-1, 100000), std::nullopt);  // v1: no quota
  EXPECT_EQ(CoresOfQuota(100000, 0), std::nullopt);
}

TEST(AvailableCoresTest, ReadsCgroupV2CpuMax) {
  EXPECT_EQ(CoresOfCpuMax("400000 100000\n"), 4);
  EXPECT_EQ(CoresOfCpuMax("250000 100000"), 3);
  EXPECT_EQ(CoresOfCpuMax("max 100000\n"), std::nullopt);
  EXPECT_EQ(CoresOfCpuMax(""), std::nullopt);
  EXPECT_EQ(CoresOfCpuMax("garbage"), std::nullopt);
}

TEST(AvailableCoresTest, NeverMoreThanTheMachineHasNorFewerThanOne) {
  const int cores = AvailableCores();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace idem
