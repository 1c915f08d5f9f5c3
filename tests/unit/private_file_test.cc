// Files that hold personal data: 0600 from the first byte, written whole, never through a link,
// in a snapshot directory no other user can write to.
#include "common/private_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "refresh/run_files.h"

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

class PrivateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dbrefresh-private-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    old_umask_ = ::umask(0);  // anything not created private would be world-readable
  }
  void TearDown() override {
    ::umask(old_umask_);
    fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static unsigned Mode(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 07777;
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
  mode_t old_umask_ = 0;
};

TEST_F(PrivateFileTest, IsPrivateWhileWrittenAndAppearsOnlyWhenCommitted) {
  PrivateFile file(Path("seed.sql"));
  file.stream() << "BEGIN;\n";
  EXPECT_EQ(Mode(file.temp_path()), 0600u) << "from the first byte";
  EXPECT_FALSE(fs::exists(Path("seed.sql")));
  file.Commit();
  EXPECT_EQ(Read(Path("seed.sql")), "BEGIN;\n");
  EXPECT_EQ(Mode(Path("seed.sql")), 0600u);
  EXPECT_EQ(Names(), std::vector<std::string>{"seed.sql"});
}

TEST_F(PrivateFileTest, AnUncommittedFileLeavesNothingAndTheOldFileStays) {
  WritePrivateText(Path("report.json"), "old");
  {
    PrivateFile file(Path("report.json"));
    file.stream() << "half";
  }
  EXPECT_EQ(Read(Path("report.json")), "old");
  EXPECT_EQ(Names(), std::vector<std::string>{"report.json"});
}

TEST_F(PrivateFileTest, AFixedPathIsReplacedWholeAndALinkThereIsReplacedNotFollowed) {
  WritePrivateText(Path("report.json"), "first run");
  WritePrivateFile(Path("report.json"), "second run");  // run_files' entry point, as the CronJob's --report
  EXPECT_EQ(Read(Path("report.json")), "second run");
  std::ofstream(Path("victim")) << "untouched";
  fs::create_symlink(Path("victim"), Path("link.json"));
  WritePrivateText(Path("link.json"), "report");
  EXPECT_EQ(Read(Path("victim")), "untouched");
  EXPECT_FALSE(fs::is_symlink(Path("link.json")));
  EXPECT_EQ(Read(Path("link.json")), "report");
  EXPECT_EQ(Mode(Path("link.json")), 0600u);
}

TEST_F(PrivateFileTest, TheSnapshotDirectoryIsCreated0700) {
  PrepareSnapshotDir(Path("a/b/snapshots"));
  EXPECT_EQ(Mode(Path("a/b/snapshots")), 0700u);
  PrepareSnapshotDir(Path("a/b/snapshots"));  // and used again
}

TEST_F(PrivateFileTest, AWorldWritableSnapshotDirectoryIsRefusedAGroupWritableOneIsNot) {
  fs::create_directories(Path("shared"));
  ::chmod(Path("shared").c_str(), 0777);
  try {
    PrepareSnapshotDir(Path("shared"));
    FAIL() << "a world-writable directory was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("writable by every user"), std::string::npos) << e.what();
  }
  ::chmod(Path("shared").c_str(), 01777);  // sticky /tmp-like: still refused
  EXPECT_THROW(PrepareSnapshotDir(Path("shared")), Error);
  ::chmod(Path("shared").c_str(), 02770);  // Kubernetes' fsGroup: setgid, group-writable
  EXPECT_NO_THROW(PrepareSnapshotDir(Path("shared")));
}

TEST_F(PrivateFileTest, ASnapshotDirectoryOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user";
  fs::create_directories(Path("theirs"));
  ::chmod(Path("theirs").c_str(), 0700);
  ASSERT_EQ(::chown(Path("theirs").c_str(), 65534, 65534), 0);
  try {
    PrepareSnapshotDir(Path("theirs"));
    FAIL() << "another user's directory was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("another user"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dbrefresh
