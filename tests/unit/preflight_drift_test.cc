// Migration drift: sets of successful versions compared in Flyway order (outOfOrder-safe).
#include "preflight/migration_drift.h"

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

std::vector<catalog::Migration> History(const std::vector<std::string>& versions) {
  std::vector<catalog::Migration> out;
  int rank = 0;
  for (const auto& v : versions) out.push_back({v, "d" + v, "V" + v + "__d.sql", ++rank});
  return out;
}

std::vector<std::string> Versions(const std::vector<catalog::Migration>& migrations) {
  std::vector<std::string> out;
  for (const auto& m : migrations) out.push_back(m.version);
  return out;
}

TEST(MigrationDrift, SameHistoriesHaveNoDrift) {
  auto drift = ComputeDrift(History({"1", "2"}), History({"1", "2"}));
  EXPECT_FALSE(drift.target_ahead());
  EXPECT_TRUE(drift.only_on_source.empty());
  EXPECT_EQ(drift.source_latest, "2");
  EXPECT_EQ(drift.target_latest, "2");
}

TEST(MigrationDrift, FindsAnOutOfOrderVersionBelowTheSourcesLatest) {
  // testdata: preprod applied 2024061012000001 (16 digits) although prod is at 20250114103000123.
  auto source = History({"20240101090000", "20250301090000", "20250114103000123"});
  auto target = History({"20240101090000", "2024061012000001", "20250301090000", "20250114103000123", "20250404150000000"});
  auto drift = ComputeDrift(source, target);
  EXPECT_EQ(Versions(drift.only_on_target), (std::vector<std::string>{"2024061012000001", "20250404150000000"}));
  EXPECT_TRUE(drift.only_on_source.empty());
  EXPECT_EQ(drift.source_latest, "20250114103000123") << "Flyway order, not string order";
  EXPECT_EQ(drift.target_latest, "20250404150000000");
}

TEST(MigrationDrift, SameCountDifferentVersionsIsDrift) {
  auto drift = ComputeDrift(History({"1", "2", "3"}), History({"1", "2", "4"}));
  EXPECT_EQ(Versions(drift.only_on_target), (std::vector<std::string>{"4"}));
  EXPECT_EQ(Versions(drift.only_on_source), (std::vector<std::string>{"3"}));
}

TEST(MigrationDrift, EqualVersionsInDifferentSpellingsMatch) {
  auto drift = ComputeDrift(History({"1.0", "1_1", "2"}), History({"1", "1.1", "2.0"}));
  EXPECT_TRUE(drift.only_on_target.empty());
  EXPECT_TRUE(drift.only_on_source.empty());
}

TEST(MigrationDrift, ResultsAreInFlywayOrder) {
  auto drift = ComputeDrift(History({}), History({"10", "9", "1.10", "1.9"}));
  EXPECT_EQ(Versions(drift.only_on_target), (std::vector<std::string>{"1.9", "1.10", "9", "10"}));
  EXPECT_EQ(drift.source_latest, "");
}

}  // namespace
}  // namespace dbrefresh
