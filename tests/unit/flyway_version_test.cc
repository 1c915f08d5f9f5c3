// Flyway ordering: integer parts, never strings (the real history mixes 14-, 16- and 17-digit versions).
#include "catalog/flyway_version.h"

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

struct Case {
  const char* a;
  const char* b;
  int expected;  // sign of CompareFlywayVersions(a, b)
};

class FlywayVersionOrder : public ::testing::TestWithParam<Case> {};

TEST_P(FlywayVersionOrder, ComparesAsIntegers) {
  const Case& c = GetParam();
  int got = CompareFlywayVersions(c.a, c.b);
  EXPECT_EQ((got > 0) - (got < 0), c.expected) << c.a << " vs " << c.b;
  int back = CompareFlywayVersions(c.b, c.a);
  EXPECT_EQ((back > 0) - (back < 0), -c.expected) << c.b << " vs " << c.a;
}

INSTANTIATE_TEST_SUITE_P(
    RealLookingVersions, FlywayVersionOrder,
    ::testing::Values(Case{"20240923113600", "2024092311360012", -1},   // 14 digits < 16 digits
                      Case{"2024092311360012", "20240923113600123", -1},
                      Case{"20241001000000", "2024092311360012", -1},  // string order says the opposite
                      Case{"1.10", "1.9", 1}, Case{"1.0", "1", 0}, Case{"1_1", "1.1", 0},
                      Case{"2", "10", -1}, Case{"007", "7", 0}, Case{"1.2.3", "1.2", 1},
                      Case{"99999999999999999999999", "100000000000000000000000", -1}));

TEST(FlywayVersionSort, SortsMixedLengthTimestampsNumerically) {
  std::vector<std::string> versions = {"20241001000000", "2024092311360012", "20240923113600", "20240101000000000"};
  SortFlywayVersions(versions);
  EXPECT_EQ(versions, (std::vector<std::string>{"20240923113600", "20241001000000", "2024092311360012",
                                                "20240101000000000"}));
}

}  // namespace
}  // namespace dbrefresh
