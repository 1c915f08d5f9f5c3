// mkdtemp-based scratch directory with an in-use lock (see scratch_dir.h).
#include "refresh/scratch_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/error.h"
#include "common/log.h"
#include "process/process_runner.h"

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

constexpr const char* kInUseFile = ".in-use";

// Locks `dir`'s in-use file without waiting; the descriptor, or -1 when there is no such file
// (and `create` is false) or a live process holds the lock.
int LockInUse(const std::string& dir, bool create) {
  int fd = ::open((dir + "/" + kInUseFile).c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A run's in-use file holds its pid once locked. One that is still empty is a run between creating
// it and locking it (a window another run starting at that moment once fell into, removing the new
// directory from under pg_dump): left alone, unless an hour old (a run killed in that window).
bool StillBeingCreated(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_size == 0 && st.st_mtime > ::time(nullptr) - 3600;
}

// Removes the directories named `prefix`* that killed runs left: their in-use file is not locked.
void RemoveAbandoned(const fs::path& tmp, const std::string& prefix) {
  std::error_code ec;
  for (fs::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ignored;
    if (it->path().filename().string().rfind(prefix, 0) != 0 || !it->is_directory(ignored)) continue;
    const int fd = LockInUse(it->path().string(), false);
    if (fd < 0) continue;  // in use, or not one of ours
    if (StillBeingCreated(fd)) {
      ::close(fd);
      continue;
    }
    std::error_code removed;
    fs::remove_all(it->path(), removed);
    ::close(fd);
    if (!removed) log::Info("removed the temporary directory an interrupted run left", {{"directory", it->path().string()}});
  }
}

}  // namespace

ScratchDir::ScratchDir(const std::string& purpose) {
  const fs::path tmp = fs::temp_directory_path();
  const std::string prefix = "dbrefresh-" + purpose + "-";
  RemoveAbandoned(tmp, prefix);
  std::string pattern = (tmp / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) {
    throw Failure("cannot create a temporary directory for the " + purpose + " in " + tmp.string() + ": " +
                  std::strerror(errno) + " (set TMPDIR)");
  }
  path_ = pattern;
  lock_fd_ = LockInUse(path_, true);
  if (lock_fd_ >= 0) {
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::write(lock_fd_, pid.data(), pid.size()) < 0) log::Warn("could not write " + path_ + "/" + kInUseFile);
  }
  RemoveOnInterrupt(path_);
}

ScratchDir::~ScratchDir() {
  KeepOnInterrupt(path_);
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) log::Warn("could not remove the temporary directory " + path_ + ": " + ec.message());
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace dbrefresh
