// The refresh's scratch directories: a killed run's is removed by the next, a live one's never.
#include "refresh/scratch_dir.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("TMPDIR");
    old_tmpdir_ = old ? old : "";
    had_tmpdir_ = old != nullptr;
    tmp_ = fs::temp_directory_path() / ("dbrefresh-scratch-test-" + std::to_string(::getpid()));
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
    ::setenv("TMPDIR", tmp_.c_str(), 1);  // ScratchDir looks here, and only here
  }
  void TearDown() override {
    if (had_tmpdir_) {
      ::setenv("TMPDIR", old_tmpdir_.c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
    fs::remove_all(tmp_);
  }
  // A directory as a run leaves it: an in-use file holding `content`, locked by nobody.
  fs::path LeftBehind(const std::string& name, const std::string& content) {
    const fs::path dir = tmp_ / name;
    fs::create_directories(dir);
    std::ofstream(dir / ".in-use") << content;
    std::ofstream(dir / "toc.dat") << "a dump";
    return dir;
  }
  fs::path tmp_;
  std::string old_tmpdir_;
  bool had_tmpdir_ = false;
};

TEST_F(ScratchDirTest, AKilledRunsDirectoryGoesWhenTheNextRunMakesOne) {
  const fs::path killed = LeftBehind("dbrefresh-dump-killed", "12345\n");
  ScratchDir next("dump");
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_TRUE(fs::is_directory(next.path()));
}

TEST_F(ScratchDirTest, ALiveRunsDirectoryIsNeverRemovedByAnother) {
  ScratchDir first("dump");
  std::ofstream(first.File("toc.dat")) << "a dump being written";
  ScratchDir second("dump");
  EXPECT_TRUE(fs::exists(first.File("toc.dat")));
  EXPECT_NE(first.path(), second.path());
}

// The race two runs starting at once fell into: the other run has created its in-use file but not
// yet locked it (the file is still empty). Its directory must stay.
TEST_F(ScratchDirTest, ADirectoryWhoseOwnerHasNotLockedItYetStays) {
  const fs::path starting = LeftBehind("dbrefresh-dump-starting", "");
  ScratchDir next("dump");
  EXPECT_TRUE(fs::exists(starting / "toc.dat"));
}

TEST_F(ScratchDirTest, OnlyDirectoriesOfTheSamePurposeAreTouched) {
  const fs::path other = LeftBehind("dbrefresh-other-killed", "12345\n");
  ScratchDir next("dump");
  EXPECT_TRUE(fs::exists(other));
}

}  // namespace
}  // namespace dbrefresh
