// mkdtemp-based scratch directory (see scratch_dir.h).
#include "refresh/scratch_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/log.h"

namespace dbrefresh {

ScratchDir::ScratchDir(const std::string& purpose) {
  std::string pattern = (std::filesystem::temp_directory_path() / ("dbrefresh-" + purpose + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) {
    throw Failure("cannot create a temporary directory for the " + purpose + " in " +
                  std::filesystem::temp_directory_path().string() + ": " + std::strerror(errno) + " (set TMPDIR)");
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) log::Warn("could not remove the temporary directory " + path_ + ": " + ec.message());
}

}  // namespace dbrefresh
