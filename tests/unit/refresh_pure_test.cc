// The pure parts of refresh: run file naming and retention, the same-database rule, resume hints,
// the post-check's version comparison.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "refresh/guard.h"
#include "refresh/post_check.h"
#include "refresh/resume_hint.h"
#include "refresh/run_files.h"
#include "refresh/swap_database.h"

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

class TempDirectory {
 public:
  TempDirectory() {
    std::string pattern = (fs::temp_directory_path() / "dbrefresh-unit-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDirectory() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  void Touch(const std::string& name) const { std::ofstream(fs::path(path_) / name) << "x"; }
  bool Has(const std::string& name) const { return fs::exists(fs::path(path_) / name); }

 private:
  std::string path_;
};

TEST(RunFiles, NamesEveryFileAfterTheDatabaseAndTimestamp) {
  RunFiles f = PlanRunFiles("/snap", "cas_preprod", "20250106T080000Z");
  EXPECT_EQ(f.stem, "cas_preprod-20250106T080000Z");
  EXPECT_EQ(f.snapshot, "/snap/cas_preprod-20250106T080000Z.db");
  EXPECT_EQ(f.seed_sql, "/snap/cas_preprod-20250106T080000Z.seed.sql");
  EXPECT_EQ(f.dropped_sql, "/snap/cas_preprod-20250106T080000Z.dropped.sql");
  EXPECT_EQ(f.report, "/snap/cas_preprod-20250106T080000Z.report.json");
}

TEST(RunFiles, TimestampIsCompactUtc) {
  std::string ts = CompactUtcTimestamp();
  ASSERT_EQ(ts.size(), 16u);
  EXPECT_EQ(ts[8], 'T');
  EXPECT_EQ(ts[15], 'Z');
}

TEST(PruneOldRuns, KeepsTheNewestRunsAndNeverTheCurrentOrOtherFiles) {
  TempDirectory dir;
  for (const char* ts : {"20250101T080000Z", "20250108T080000Z", "20250115T080000Z", "20250122T080000Z"}) {
    dir.Touch(std::string("pre-") + ts + ".db");
    dir.Touch(std::string("pre-") + ts + ".report.json");
  }
  dir.Touch("pre-20250101T080000Z.seed.sql");
  dir.Touch("other-20250101T080000Z.db");
  dir.Touch("pre-notes.txt");
  dir.Touch("pre-x-20250101T080000Z.db");
  auto removed = PruneOldRuns(dir.path(), "pre", 2, "pre-20250122T080000Z");
  EXPECT_EQ(removed, (std::vector<std::string>{"pre-20250101T080000Z", "pre-20250108T080000Z"}));
  EXPECT_FALSE(dir.Has("pre-20250101T080000Z.db"));
  EXPECT_FALSE(dir.Has("pre-20250101T080000Z.seed.sql"));
  EXPECT_TRUE(dir.Has("pre-20250115T080000Z.db"));
  EXPECT_TRUE(dir.Has("pre-20250122T080000Z.report.json"));
  EXPECT_TRUE(dir.Has("other-20250101T080000Z.db"));
  EXPECT_TRUE(dir.Has("pre-notes.txt"));
  EXPECT_TRUE(dir.Has("pre-x-20250101T080000Z.db"));
}

TEST(PruneOldRuns, NeverRemovesTheCurrentRunEvenWhenItIsTheOldest) {
  TempDirectory dir;
  dir.Touch("pre-20250101T080000Z.db");
  dir.Touch("pre-20250108T080000Z.db");
  auto removed = PruneOldRuns(dir.path(), "pre", 1, "pre-20250101T080000Z");
  EXPECT_EQ(removed, (std::vector<std::string>{"pre-20250108T080000Z"}));
  EXPECT_TRUE(dir.Has("pre-20250101T080000Z.db"));
}

TEST(PruneStalePartials, RemovesOnlyOldPartialsOfOtherRunsOfThisDatabase) {
  TempDirectory dir;
  const auto two_hours_ago = fs::file_time_type::clock::now() - std::chrono::hours(2);
  for (const char* name : {"pre-20250101T080000Z.db.partial-41", "pre-20250108T080000Z.db.partial-7",
                           "pre-20250115T080000Z.db.partial-9", "other-20250101T080000Z.db.partial-41",
                           "pre-20250101T080000Z.db.partial-x1", "pre-20250101T080000Z.db",
                           "pre-20250108T080000Z.report.json.tmp-7-0123456789ab", "pre-20250108T080000Z.mark.json.tmp-7-x",
                           "pre-20250115T080000Z.report.json.tmp-9-0123456789ab"}) {
    dir.Touch(name);
    fs::last_write_time(fs::path(dir.path()) / name, two_hours_ago);
  }
  dir.Touch("pre-20250122T080000Z.db.partial-8");  // a live run writing now

  auto removed = PruneStalePartials(dir.path(), "pre", "pre-20250115T080000Z");

  EXPECT_EQ(removed, (std::vector<std::string>{"pre-20250101T080000Z.db.partial-41", "pre-20250108T080000Z.db.partial-7",
                                               "pre-20250108T080000Z.report.json.tmp-7-0123456789ab"}));
  EXPECT_TRUE(dir.Has("pre-20250115T080000Z.db.partial-9")) << "the current run's";
  EXPECT_TRUE(dir.Has("pre-20250115T080000Z.report.json.tmp-9-0123456789ab")) << "the current run's";
  EXPECT_TRUE(dir.Has("pre-20250108T080000Z.mark.json.tmp-7-x")) << "not PrivateFile's naming";
  EXPECT_TRUE(dir.Has("pre-20250122T080000Z.db.partial-8")) << "recently written";
  EXPECT_TRUE(dir.Has("other-20250101T080000Z.db.partial-41")) << "another database's";
  EXPECT_TRUE(dir.Has("pre-20250101T080000Z.db.partial-x1")) << "not our naming";
  EXPECT_TRUE(dir.Has("pre-20250101T080000Z.db")) << "complete snapshots are --keep-snapshots' business";
}

struct SameCase {
  const char* name;
  ServerIdentity a, b;
  bool same;
};

class SameDatabaseTest : public ::testing::TestWithParam<SameCase> {};

TEST_P(SameDatabaseTest, Decides) {
  EXPECT_EQ(SameDatabase(GetParam().a, GetParam().b), GetParam().same) << GetParam().name;
  EXPECT_EQ(SameDatabase(GetParam().b, GetParam().a), GetParam().same) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Identities, SameDatabaseTest,
    ::testing::Values(
        SameCase{"same cluster, same db", {"42", "t1", "5432", "a", "5432", "app"}, {"42", "t1", "5432", "b", "6432", "app"}, true},
        SameCase{"same cluster, other db", {"42", "t1", "5432", "a", "", "app"}, {"42", "t1", "5432", "a", "", "app2"}, false},
        SameCase{"other clusters, same host and name", {"42", "t1", "5432", "h", "5432", "app"}, {"43", "t2", "5433", "h", "5432", "app"}, false},
        SameCase{"no identifier, same postmaster", {std::nullopt, "t1", "5432", "a", "", "app"}, {std::nullopt, "t1", "5432", "b", "", "app"}, true},
        SameCase{"no identifier, same host and port", {std::nullopt, "t1", "5432", "h", "5432", "app"}, {"9", "t2", "5433", "h", "5432", "app"}, true},
        SameCase{"no identifier, different everything", {std::nullopt, "t1", "5432", "h1", "", "app"}, {std::nullopt, "t2", "5432", "h2", "", "app"}, false}),
    [](const auto& info) {
      std::string name = info.param.name;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

ResumeContext Context(TargetState state) {
  ResumeContext c;
  c.state = state;
  c.snapshot_kept = true;
  c.snapshot = "/snap/pre-20250106T080000Z.db";
  c.source_masked = "host=prod dbname=app user=u password=****";
  c.target_masked = "host=pre dbname=pre user=u password=****";
  c.target_db = "pre";
  c.strategy = "schema";
  c.on_conflict = "skip";
  c.shared_args = {"--config", "/etc/dbrefresh/config.json"};
  c.refresh_args = {"--config=/etc/dbrefresh/config.json", "--snapshot-dir=/snap"};
  return c;
}

TEST(ResumeHint, NothingToResumeBeforeTheSnapshot) {
  ResumeContext c = Context(TargetState::kUntouched);
  c.snapshot_kept = false;
  EXPECT_EQ(ResumeHint(c), "");
}

TEST(ResumeHint, AnUntouchedTargetIsRefreshedAgain) {
  std::string hint = ResumeHint(Context(TargetState::kUntouched));
  EXPECT_NE(hint.find("The target is unchanged"), std::string::npos) << hint;
  EXPECT_NE(hint.find("dbrefresh refresh --confirm-target pre --strategy schema --config=/etc/dbrefresh/config.json "
                      "--snapshot-dir=/snap"),
            std::string::npos) << hint;
  EXPECT_EQ(hint.find("--use-snapshot"), std::string::npos) << hint;
}

TEST(ResumeHint, AnIncompleteTargetIsRefreshedFromTheKeptSnapshot) {
  std::string hint = ResumeHint(Context(TargetState::kIncomplete));
  EXPECT_NE(hint.find("--use-snapshot /snap/pre-20250106T080000Z.db"), std::string::npos) << hint;
  EXPECT_NE(hint.find("DBREFRESH_SOURCE_URL"), std::string::npos) << hint;
}

TEST(ResumeHint, ARestoredTargetNeedsOnlyRestoreUsers) {
  std::string hint = ResumeHint(Context(TargetState::kRestored));
  EXPECT_NE(hint.find("DBREFRESH_TARGET_URL set to the target (host=pre dbname=pre user=u password=****): "
                      "dbrefresh restore-users /snap/pre-20250106T080000Z.db --on-conflict skip --config"),
            std::string::npos) << hint;
}

TEST(MissingMigrations, ComparesSetsOfFlywayVersionsAsIntegers) {
  struct Case {
    std::vector<std::string> had, now, missing;
    const char* why;
  };
  const std::vector<Case> cases = {
      {{"1", "2", "20250404150000000"}, {"1", "2", "20250114103000123"}, {"20250404150000000"}, "newer than prod's latest"},
      {{"1", "20250114103000123", "20250301090000"}, {"1", "20250114103000123"}, {"20250301090000"},
       "outOfOrder: 14 digits sort below prod's 17-digit latest, still missing"},
      {{"1", "2"}, {"1", "2", "3"}, {}, "prod ahead: nothing missing"},
      {{"1.0", "2"}, {"1", "2"}, {}, "1.0 and 1 are one version"},
      {{}, {"5"}, {}, "no history in the snapshot"},
      {{"5"}, {}, {"5"}, "no history after the restore"},
      {{"3", "1_1", "2"}, {"1"}, {"1_1", "2", "3"}, "listed in Flyway order"},
  };
  for (const auto& c : cases) EXPECT_EQ(MissingMigrations(c.had, c.now), c.missing) << c.why;
}

TEST(IsBeforeDatabaseName, OnlyNamesASwapMadeCountForPruning) {
  struct Case {
    const char* name;
    bool made_by_swap;
  };
  const std::vector<Case> cases = {
      {"cas_before_20250106080000", true},     {"cas_before_20250106T080000Z", true},  // the earlier form
      {"cas_before_manual", false},            {"cas_before_2025010608000", false},   // 13 digits
      {"cas_before_202501060800000", false},   {"cas2_before_20250106080000", false},
      {"cas_before_20250106080000_x", false},  {"cas", false},
      {"cas_before_2025010608000x", false},    {"cas_before_20250106X080000Z", false},
  };
  for (const auto& c : cases) EXPECT_EQ(IsBeforeDatabaseName("cas", c.name), c.made_by_swap) << c.name;
}

TEST(PlanSwapNames, NamesTheNewAndTheKeptDatabase) {
  SwapNames names = PlanSwapNames("cas_preprod", "20250106T080000Z");
  EXPECT_EQ(names.fresh, "cas_preprod_dbrefresh_new");
  EXPECT_EQ(names.before, "cas_preprod_before_20250106080000") << "14 digits, as keep_before_databases finds them";
  EXPECT_THROW(PlanSwapNames(std::string(42, 'x'), "20250106T080000Z"), Error);
}

}  // namespace
}  // namespace dbrefresh
