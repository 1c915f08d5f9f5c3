// Bringing a snapshot up to date (refresh's catch-up): rows replaced by key, counts and metadata kept true.
#include "snapshot/snapshot_update.h"

#include <unistd.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "common/error.h"

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

TableInfo UsersTable() {
  TableInfo t{"public", "users", {}, {}};
  t.columns = {{"id", 1, "uuid", true, std::nullopt, "", std::nullopt},
               {"name", 2, "text", true, std::nullopt, "", std::nullopt},
               {"telephone_number", 3, "text", false, std::nullopt, "", std::nullopt}};
  t.constraints = {{"users_pkey", 'p', {"id"}, "PRIMARY KEY (id)", "", {}}};
  return t;
}

RowValues Row(const std::string& id, const std::string& name, std::optional<std::string> phone) {
  return {id, name, std::move(phone)};
}

class SnapshotUpdate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dbrefresh-snapupdate-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    path_ = (dir_ / "snap.db").string();
    SnapshotWriter writer(path_);
    writer.SetMeta("schema", "public");
    writer.BeginTable(UsersTable());
    for (RowValues row : {Row("1", "Ann", "0101"), Row("2", "Bob", std::nullopt), Row("3", "Cy", "0303")}) writer.AddRow(row);
    writer.Commit();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The file as a reader sees it: id -> row.
  std::map<std::string, RowValues> Rows() {
    SnapshotReader reader(path_);  // verifies the recorded count against the rows
    std::map<std::string, RowValues> rows;
    reader.ForEachRow(*reader.FindTable("users"), [&](const RowValues& r) { rows[*r[0]] = r; });
    return rows;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(SnapshotUpdate, ReplacesChangedRowsRemovesGoneOnesAndAddsNewOnes) {
  {
    SnapshotUpdater updater(path_);
    const std::vector<ChangedRow> changes = {
        {{"2"}, Row("2", "Bob", "0202")},         // updated: the phone number an admin edited
        {{"3"}, std::nullopt},                     // deleted
        {{"4"}, Row("4", "Dee \"quoted\"\n", "")},  // inserted at first login, with a hostile name
        {{"9"}, std::nullopt},                     // inserted and deleted again during the run
    };
    EXPECT_EQ(updater.Apply("users", {"id"}, changes), 3);
    updater.Commit();
  }
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows["1"], Row("1", "Ann", "0101")) << "an untouched row stays as it was";
  EXPECT_EQ(rows["2"], Row("2", "Bob", "0202"));
  EXPECT_EQ(rows.count("3"), 0u);
  EXPECT_EQ(rows["4"], Row("4", "Dee \"quoted\"\n", ""));
  SnapshotReader reader(path_);
  EXPECT_EQ(reader.FindTable("users")->row_count, 3);
  EXPECT_EQ(reader.Meta("caught_up_rows"), "3");
  EXPECT_FALSE(reader.Meta("caught_up_at").empty());
}

TEST_F(SnapshotUpdate, ApplyingTheSameChangesTwiceChangesNothingMore) {
  const std::vector<ChangedRow> changes = {{{"2"}, Row("2", "Bob", "0202")}, {{"1"}, std::nullopt}};
  for (int run = 0; run < 2; ++run) {  // a killed run's successor applies the log again
    SnapshotUpdater updater(path_);
    updater.Apply("users", {"id"}, changes);
    updater.Commit();
  }
  auto rows = Rows();
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows["2"], Row("2", "Bob", "0202"));
}

TEST_F(SnapshotUpdate, ChangesNotCommittedLeaveTheFileAsItWas) {
  {
    SnapshotUpdater updater(path_);
    updater.Apply("users", {"id"}, {{{"1"}, std::nullopt}, {{"5"}, Row("5", "Eve", std::nullopt)}});
    // destroyed without Commit: the run died before the catch-up was on disk
  }
  auto rows = Rows();
  EXPECT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.count("1"), 1u);
  EXPECT_EQ(rows.count("5"), 0u);
}

TEST_F(SnapshotUpdate, ATableTheFileDoesNotHoldIsRefused) {
  SnapshotUpdater updater(path_);
  try {
    updater.Apply("roles", {"id"}, {{{"1"}, std::nullopt}});
    FAIL() << "applied changes to a table the snapshot does not hold";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadSnapshot) << e.what();
  }
}

}  // namespace
}  // namespace dbrefresh
