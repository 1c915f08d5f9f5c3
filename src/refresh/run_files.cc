// Run file naming and retention (see run_files.h).
#include "refresh/run_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>

#include "common/error.h"
#include "common/log.h"

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

const char* kSuffixes[] = {".db", ".seed.sql", ".dropped.sql", ".report.json"};

// "YYYYMMDDTHHMMSSZ"
bool IsTimestamp(const std::string& text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// The run stem of a file name of `target_db`, or "" when the name is not one of a run's files.
std::string StemOf(const std::string& file_name, const std::string& target_db) {
  const std::string prefix = target_db + "-";
  if (file_name.rfind(prefix, 0) != 0) return "";
  for (const char* suffix : kSuffixes) {
    const std::string s = suffix;
    if (file_name.size() != prefix.size() + 16 + s.size()) continue;
    if (file_name.compare(file_name.size() - s.size(), s.size(), s) != 0) continue;
    if (IsTimestamp(file_name.substr(prefix.size(), 16))) return file_name.substr(0, file_name.size() - s.size());
  }
  return "";
}

}  // namespace

std::string CompactUtcTimestamp() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

RunFiles PlanRunFiles(const std::string& dir, const std::string& target_db, const std::string& timestamp) {
  RunFiles files;
  files.dir = dir;
  files.stem = target_db + "-" + timestamp;
  const std::string base = (fs::path(dir) / files.stem).string();
  files.snapshot = base + ".db";
  files.seed_sql = base + ".seed.sql";
  files.dropped_sql = base + ".dropped.sql";
  files.report = base + ".report.json";
  return files;
}

void PrepareSnapshotDir(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  fs::create_directories(dir, ec);
  if (ec) throw Failure("cannot create the snapshot directory " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
}

std::vector<std::string> PruneOldRuns(const std::string& dir, const std::string& target_db, int keep,
                                      const std::string& current_stem) {
  std::map<std::string, std::vector<fs::path>> runs;  // stem -> files; stems sort by time
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string stem = StemOf(it->path().filename().string(), target_db);
    if (!stem.empty()) runs[stem].push_back(it->path());
  }
  std::vector<std::string> removed;
  size_t remaining = runs.size();
  for (const auto& [stem, paths] : runs) {
    if (remaining <= static_cast<size_t>(std::max(keep, 1))) break;
    if (stem == current_stem) continue;
    for (const auto& path : paths) fs::remove(path, ec);
    removed.push_back(stem);
    --remaining;
  }
  return removed;
}

void WritePrivateFile(const std::string& path, const std::string& text) {
  const std::string partial = path + ".partial-" + std::to_string(::getpid());
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Failure("cannot write " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(partial.c_str());
      throw Failure("cannot write " + path + ": " + reason);
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, 0600);
  ::close(fd);
  if (::rename(partial.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    ::unlink(partial.c_str());
    throw Failure("cannot write " + path + ": " + reason);
  }
}

std::vector<std::string> PruneStalePartials(const std::string& dir, const std::string& target_db,
                                            const std::string& current_stem, std::chrono::seconds stale_after) {
  std::vector<std::string> removed;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t partial = name.rfind(".partial-");
    if (partial == std::string::npos || partial + 9 == name.size()) continue;
    if (name.find_first_not_of("0123456789", partial + 9) != std::string::npos) continue;
    const std::string stem = StemOf(name.substr(0, partial), target_db);
    if (stem.empty() || stem == current_stem || name.compare(partial - 3, 3, ".db") != 0) continue;
    std::error_code time_ec;
    const auto modified = fs::last_write_time(it->path(), time_ec);
    if (time_ec || now - modified < stale_after) continue;
    if (fs::remove(it->path(), time_ec)) removed.push_back(name);
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace dbrefresh
