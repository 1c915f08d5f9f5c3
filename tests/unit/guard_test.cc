// The guard's same-database decision beyond the identities refresh_pure_test.cc tabulates: it
// neither fails open nor refuses for ever a preprod restored from a snapshot of prod.
#include "refresh/guard.h"

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

TEST(SameDatabase, ASnapshotRestoreKeepsTheSystemIdentifierButIsAnotherLiveServer) {
  // RDS restores keep the system identifier; the postmaster start time tells the live servers apart.
  EXPECT_FALSE(SameDatabase({"42", "t1", "5432", "prod", "", "app"}, {"42", "t2", "5432", "preprod", "", "app"}));
  EXPECT_FALSE(SameDatabase({"42", "t1", "5432", "a", "5432", "app"}, {"42", "t2", "5432", "b", "5432", "app"}));
}

TEST(SameDatabase, TheTargetSessionSeenOnTheSourceIsTheSameDatabaseWhateverElseSays) {
  ServerIdentity a{"42", "t1", "5432", "prod", "", "app"}, b{"43", "t2", "5433", "preprod", "", "app"};
  EXPECT_FALSE(SameDatabase(a, b, false));
  EXPECT_TRUE(SameDatabase(a, b, true));
}

TEST(SameDatabase, AnUnreadableIdentifierFallsBackToTheServerAndTheConnectionNotToADifference) {
  EXPECT_TRUE(SameDatabase({std::nullopt, "t1", "5432", "a", "", "app"}, {"42", "t1", "5432", "b", "", "app"}));
  EXPECT_TRUE(SameDatabase({std::nullopt, "t1", "5432", "h", "5432", "app"}, {std::nullopt, "t2", "5433", "h", "5432", "app"}));
}

}  // namespace
}  // namespace dbrefresh
