// A private temporary directory (mode 0700 under $TMPDIR, else /tmp), removed with everything in it
// when the object goes away, or when a SIGTERM or SIGINT ends dbrefresh. Holds the source's dump
// during a refresh.
//
// A run that is killed (SIGKILL, the OOM killer) cannot remove its directory, which may hold a whole
// dump of the source. So each directory holds a file locked (flock) for as long as its owner lives,
// and making a new one first removes the directories of the same purpose that nobody holds.
#pragma once

#include <string>

namespace dbrefresh {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& purpose);  // Failure (exit 1) when it cannot be created
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  int lock_fd_ = -1;  // holds the directory's in-use lock
};

}  // namespace dbrefresh
