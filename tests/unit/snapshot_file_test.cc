// The snapshot file: written whole or not at all, 0600, and verified on read.
#include "snapshot/snapshot_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

TableInfo UsersTable() {
  TableInfo t{"public", "users", {}, {}};
  t.columns = {{"id", 1, "uuid", true, std::nullopt, "", std::nullopt},
               {"name", 2, "text", true, std::nullopt, "", std::nullopt},
               {"email", 3, "text", false, std::string("'unknown@x'::text"), "", std::nullopt}};
  t.constraints = {{"users_pkey", 'p', {"id"}, "PRIMARY KEY (id)", "", {}}};
  return t;
}

class SnapshotFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dbrefresh-snapfile-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    path_ = (dir_ / "snap.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteValid(const std::vector<RowValues>& rows) {
    SnapshotWriter writer(path_);
    writer.SetMeta("schema", "public");
    writer.BeginTable(UsersTable());
    for (RowValues row : rows) writer.AddRow(row);
    writer.Commit();
  }

  void ExpectBadSnapshot(const std::string& fragment) {
    try {
      SnapshotReader reader(path_);
      FAIL() << "read a bad snapshot";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kBadSnapshot) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
    }
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(SnapshotFileTest, RoundTripsValuesAndNullsExactly) {
  std::vector<RowValues> rows = {{std::string("a1"), std::string("O'Brien\t\"x\"\n\\ 🙂"), std::nullopt},
                                 {std::string("a2"), std::string(""), std::string("e@x")}};
  WriteValid(rows);
  SnapshotReader reader(path_);
  ASSERT_EQ(reader.tables().size(), 1u);
  EXPECT_EQ(reader.tables()[0].row_count, 2);
  EXPECT_EQ(reader.tables()[0].info.columns[2].default_expr.value_or(""), "'unknown@x'::text");
  EXPECT_EQ(reader.tables()[0].info.PrimaryKey()->columns, std::vector<std::string>{"id"});
  std::vector<RowValues> read;
  reader.ForEachRow(reader.tables()[0], [&](const RowValues& r) { read.push_back(r); });
  EXPECT_EQ(read, rows);
  EXPECT_EQ(reader.FindRow(reader.tables()[0], "id", "a2").value(), rows[1]);
}

TEST_F(SnapshotFileTest, KeepsEveryRowInOrderWhenRowsGoInManyPerStatement) {
  // 1,000 rows: full many-row inserts and a tail that is not a multiple of them, NULLs in both.
  std::vector<RowValues> rows;
  for (int i = 0; i < 1000; ++i) {
    rows.push_back({"id-" + std::to_string(i), "name " + std::to_string(i),
                    i % 7 == 0 ? std::nullopt : std::optional<std::string>("e" + std::to_string(i))});
  }
  WriteValid(rows);
  SnapshotReader reader(path_);
  EXPECT_EQ(reader.tables()[0].row_count, 1000);
  std::vector<RowValues> read;
  reader.ForEachRow(reader.tables()[0], [&](const RowValues& r) { read.push_back(r); });
  EXPECT_EQ(read, rows);
}

TEST_F(SnapshotFileTest, NumbersRowsAndReadsThemBackByNumberOrByColumn) {
  std::vector<RowValues> rows;
  for (int i = 1; i <= 300; ++i) rows.push_back({"id-" + std::to_string(i), "name " + std::to_string(i), std::nullopt});
  WriteValid(rows);
  SnapshotReader reader(path_);
  const SnapshotTable& table = reader.tables()[0];
  std::vector<long long> numbers;
  reader.ForEachNumberedRow(table, {0}, [&](long long row, const RowValues& values) {
    numbers.push_back(row);
    ASSERT_EQ(values.size(), 1u);
    EXPECT_EQ(values[0].value(), "id-" + std::to_string(row));
  });
  ASSERT_EQ(numbers.size(), 300u);
  EXPECT_EQ(numbers.front(), 1);
  EXPECT_EQ(numbers.back(), 300);
  // close together, far apart, and a number the file does not hold
  std::vector<std::string> names;
  reader.ForRows(table, {2, 3, 5, 250, 301}, [&](long long row, const RowValues& values) {
    EXPECT_EQ(values[0].value(), "id-" + std::to_string(row));
    names.push_back(values[1].value());
  });
  EXPECT_EQ(names, (std::vector<std::string>{"name 2", "name 3", "name 5", "name 250"}));
  // half the numbers of a stretch (read by one scan of it), then one far off, then one the file lacks
  std::vector<long long> wanted;
  for (long long n = 1; n <= 199; n += 2) wanted.push_back(n);
  wanted.insert(wanted.end(), {280, 400});
  std::vector<long long> got;
  reader.ForRows(table, wanted, [&](long long row, const RowValues& values) {
    EXPECT_EQ(values[1].value(), "name " + std::to_string(row));
    got.push_back(row);
  });
  wanted.pop_back();
  EXPECT_EQ(got, wanted);
}

TEST_F(SnapshotFileTest, ATableWithColumnsNamedRowidAndOidIsNumberedByItsRealRowId) {
  // SQLite's row id goes by rowid, _rowid_ and oid; a column of that name hides it.
  TableInfo t{"public", "odd", {}, {}};
  t.columns = {{"rowid", 1, "text", true, std::nullopt, "", std::nullopt},
               {"oid", 2, "text", true, std::nullopt, "", std::nullopt}};
  {
    SnapshotWriter writer(path_);
    writer.SetMeta("schema", "public");
    writer.BeginTable(t);
    for (const char* v : {"z", "y", "x"}) {
      RowValues row{std::string(v), std::string("oid-") + v};
      writer.AddRow(row);
    }
    writer.Commit();
  }
  SnapshotReader reader(path_);
  std::vector<std::pair<long long, std::string>> seen;
  reader.ForEachNumberedRow(reader.tables()[0], [&](long long row, const RowValues& values) {
    seen.emplace_back(row, values[0].value() + "/" + values[1].value());
  });
  EXPECT_EQ(seen, (std::vector<std::pair<long long, std::string>>{{1, "z/oid-z"}, {2, "y/oid-y"}, {3, "x/oid-x"}}));
  std::vector<std::string> picked;
  reader.ForRows(reader.tables()[0], {3}, [&](long long, const RowValues& values) { picked.push_back(values[0].value()); });
  EXPECT_EQ(picked, std::vector<std::string>{"x"});
}

TEST_F(SnapshotFileTest, IsCreatedWithMode0600) {
  WriteValid({});
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(SnapshotFileTest, AnAbandonedWriteLeavesTheOldFileAndNoPartial) {
  WriteValid({{std::string("old"), std::string("n"), std::nullopt}});
  {
    SnapshotWriter writer(path_);
    writer.BeginTable(UsersTable());
    RowValues row{std::string("new"), std::string("n"), std::nullopt};
    writer.AddRow(row);
  }  // destroyed without Commit, as when a step throws
  SnapshotReader reader(path_);
  std::vector<RowValues> read;
  reader.ForEachRow(reader.tables()[0], [&](const RowValues& r) { read.push_back(r); });
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0][0].value(), "old");
  for (const auto& entry : fs::directory_iterator(dir_)) EXPECT_EQ(entry.path().filename(), "snap.db");
}

TEST_F(SnapshotFileTest, MissingFileIsExit6) { ExpectBadSnapshot("no such file"); }

TEST_F(SnapshotFileTest, ForeignTextFileIsExit6) {
  std::ofstream(path_) << "this is not a database\n";
  ExpectBadSnapshot(path_);
}

TEST_F(SnapshotFileTest, ForeignSqliteDatabaseIsExit6) {
  {
    SqliteDb db(path_, SqliteDb::Mode::kCreate);
    db.Exec("CREATE TABLE something_else (x); INSERT INTO something_else VALUES (1)");
  }
  ExpectBadSnapshot("not a dbrefresh snapshot");
}

TEST_F(SnapshotFileTest, NewerFormatIsExit6) {
  WriteValid({});
  {
    SqliteDb db(path_, SqliteDb::Mode::kCreate);
    db.Exec("UPDATE dbrefresh_meta SET value = '99' WHERE key = 'format_version'");
  }
  ExpectBadSnapshot("format version 99");
}

TEST_F(SnapshotFileTest, SqlSmuggledInATypeNameIsRefused) {
  WriteValid({});
  {
    SqliteDb db(path_, SqliteDb::Mode::kCreate);
    db.Exec("UPDATE dbrefresh_columns SET type = 'text); DROP TABLE users; --' WHERE column_name = 'name'");
  }
  ExpectBadSnapshot("invalid type name");
}

TEST_F(SnapshotFileTest, AnExpressionDressedAsATypeIsRefused) {
  WriteValid({});
  {
    SqliteDb db(path_, SqliteDb::Mode::kCreate);
    db.Exec("UPDATE dbrefresh_columns SET type = 'text IS NOT NULL AND (SELECT setval($$seq$$,4242)) IS NOT NULL' "
            "WHERE column_name = 'name'");
  }
  ExpectBadSnapshot("invalid type name");
}

TEST_F(SnapshotFileTest, AnOperatorAfterATypeNameIsRefused) {
  WriteValid({});
  {
    SqliteDb db(path_, SqliteDb::Mode::kCreate);
    db.Exec("UPDATE dbrefresh_columns SET type = 'text OR setval(16384,4242) IS NOT NULL' WHERE column_name = 'name'");
  }
  ExpectBadSnapshot("invalid type name");
}

// The text settings the rows were printed under (issue 14): other ones are refused, none is a warning.
TEST_F(SnapshotFileTest, AFileWrittenUnderOtherSessionSettingsIsRefused) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"session_datestyle", "SQL, DMY"}, {"session_intervalstyle", "sql_standard"},
           {"session_extra_float_digits", "0"}, {"session_client_encoding", "LATIN1"}}) {
    SCOPED_TRACE(key);
    {
      SnapshotWriter writer(path_ + ".new");
      writer.SetMeta("schema", "public");
      for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
               {"session_datestyle", "ISO, MDY"}, {"session_intervalstyle", "postgres"},
               {"session_extra_float_digits", "3"}, {"session_client_encoding", "UTF8"}}) {
        writer.SetMeta(k, k == key ? value : v);
      }
      writer.BeginTable(UsersTable());
      writer.Commit();
    }
    fs::rename(path_ + ".new", path_);
    ExpectBadSnapshot(value);
  }
}

TEST_F(SnapshotFileTest, AFileRecordingSomeSessionSettingsButNotAllIsRefused) {
  SnapshotWriter writer(path_);
  writer.SetMeta("schema", "public");
  writer.SetMeta("session_datestyle", "ISO, MDY");
  writer.BeginTable(UsersTable());
  writer.Commit();
  ExpectBadSnapshot("IntervalStyle");
}

TEST_F(SnapshotFileTest, AFileFromBeforeTheSettingsWereRecordedIsRead) {
  WriteValid({});
  EXPECT_NO_THROW(SnapshotReader reader(path_));
}

TEST_F(SnapshotFileTest, RealTypeNamesAreAccepted) {
  WriteValid({});
  {
    SqliteDb db(path_, SqliteDb::Mode::kCreate);
    db.Exec("UPDATE dbrefresh_columns SET type = 'timestamp(3) with time zone' WHERE column_name = 'id'");
    db.Exec("UPDATE dbrefresh_columns SET type = 'public.\"Status \"\"x\"\"\"[]' WHERE column_name = 'name'");
    db.Exec("UPDATE dbrefresh_columns SET type = 'numeric(20,6)[]' WHERE column_name = 'email'");
  }
  SnapshotReader reader(path_);
  EXPECT_EQ(reader.tables()[0].info.columns[0].type, "timestamp(3) with time zone");
}

// Found by scripts/fuzz.sh: a NULL key in dbrefresh_meta crashed the reader.
TEST_F(SnapshotFileTest, KnownIssue_NullMetaKeyIsExit6NotACrash) {
  WriteValid({});
  {
    SqliteDb db(path_, SqliteDb::Mode::kCreate);
    db.Exec("UPDATE dbrefresh_meta SET key = NULL WHERE key = 'schema'");
  }
  ExpectBadSnapshot("has no key");
}

TEST_F(SnapshotFileTest, RowCountMismatchIsExit6) {
  WriteValid({{std::string("a"), std::string("n"), std::nullopt}, {std::string("b"), std::string("n"), std::nullopt}});
  {
    SqliteDb db(path_, SqliteDb::Mode::kCreate);
    db.Exec("DELETE FROM rows_users WHERE id = 'b'");
  }
  ExpectBadSnapshot("truncated or edited");
}

TEST_F(SnapshotFileTest, TruncatedFileIsExit6) {
  std::vector<RowValues> rows;
  for (int i = 0; i < 5000; ++i) rows.push_back({std::to_string(i), std::string(200, 'x'), std::nullopt});
  WriteValid(rows);
  fs::resize_file(path_, fs::file_size(path_) / 2);
  ExpectBadSnapshot(path_);
}

TEST_F(SnapshotFileTest, GarbageInTheMiddleIsExit6) {
  std::vector<RowValues> rows;
  for (int i = 0; i < 5000; ++i) rows.push_back({std::to_string(i), std::string(200, 'x'), std::nullopt});
  WriteValid(rows);
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path_) / 2));
    std::string junk(70000, '\xAB');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  ExpectBadSnapshot(path_);
}

}  // namespace
}  // namespace dbrefresh
