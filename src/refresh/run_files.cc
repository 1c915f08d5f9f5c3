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
#include "common/private_file.h"

namespace dbrefresh {
namespace {

namespace fs = std::filesystem;

const char* kSuffixes[] = {".db", ".seed.sql", ".dropped.sql", ".report.json", ".mark.json", ".catch-up.seed.sql", ".catch-up.db"};

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
  files.mark = base + ".mark.json";
  files.catch_up_seed_sql = base + ".catch-up.seed.sql";
  files.catch_up_db = base + ".catch-up.db";
  return files;
}

void PrepareSnapshotDir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    // The parents as the umask makes them; the directory itself 0700 from the start.
    const fs::path parent = fs::path(dir).lexically_normal().parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec || (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)) {
      throw Failure("cannot create the snapshot directory " + dir + ": " + (ec ? ec.message() : std::strerror(errno)));
    }
  }
  // It holds prod's and preprod's personal data, and the files a refresh later runs as SQL: no other
  // user may be able to swap them. Group-writable stays allowed (Kubernetes' fsGroup makes every
  // mounted volume so).
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw Failure("cannot use the snapshot directory " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) throw UsageError("the snapshot directory " + dir + " is not a directory");
  if (st.st_uid != ::geteuid()) {
    throw UsageError("the snapshot directory " + dir + " belongs to another user (uid " + std::to_string(st.st_uid) +
                     "): refusing to keep personal data there; use a directory of your own (--snapshot-dir)");
  }
  if (st.st_mode & S_IWOTH) {
    throw UsageError("the snapshot directory " + dir + " is writable by every user: refusing to keep personal data "
                     "there; chmod o-w it or use another (--snapshot-dir)");
  }
}

std::string RunStemOf(const std::string& path, const std::string& target_db) {
  return StemOf(fs::path(path).filename().string(), target_db);
}

std::vector<std::string> PruneOldRuns(const std::string& dir, const std::string& target_db, int keep,
                                      const std::string& current_stem, const std::vector<std::string>& also_kept) {
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
    if (stem == current_stem || std::find(also_kept.begin(), also_kept.end(), stem) != also_kept.end()) continue;
    for (const auto& path : paths) fs::remove(path, ec);
    removed.push_back(stem);
    --remaining;
  }
  return removed;
}

void WritePrivateFile(const std::string& path, const std::string& text) { WritePrivateText(path, text); }

namespace {

bool AllOf(const std::string& text, const char* allowed) {
  return !text.empty() && text.find_first_not_of(allowed) == std::string::npos;
}

// The run stem of a file a killed run left half-written ("" when it is not one): its snapshot
// `<stem>.db.partial-<pid>`, or any of its files as PrivateFile writes them, `<file>.tmp-<pid>-<12 hex>`.
std::string HalfWrittenStem(const std::string& name, const std::string& target_db) {
  const size_t partial = name.rfind(".partial-");
  if (partial != std::string::npos && partial >= 3 && AllOf(name.substr(partial + 9), "0123456789") &&
      name.compare(partial - 3, 3, ".db") == 0) {
    return StemOf(name.substr(0, partial), target_db);
  }
  const size_t tmp = name.rfind(".tmp-");
  if (tmp == std::string::npos) return "";
  const std::string rest = name.substr(tmp + 5);  // <pid>-<12 hex>
  const size_t dash = rest.find('-');
  if (dash == std::string::npos || !AllOf(rest.substr(0, dash), "0123456789") || rest.size() - dash - 1 != 12 ||
      !AllOf(rest.substr(dash + 1), "0123456789abcdef")) {
    return "";
  }
  return StemOf(name.substr(0, tmp), target_db);
}

}  // namespace

std::vector<std::string> PruneStalePartials(const std::string& dir, const std::string& target_db,
                                            const std::string& current_stem, std::chrono::seconds stale_after) {
  std::vector<std::string> removed;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string stem = HalfWrittenStem(name, target_db);
    if (stem.empty() || stem == current_stem) continue;
    std::error_code time_ec;
    const auto modified = fs::last_write_time(it->path(), time_ec);
    if (time_ec || now - modified < stale_after) continue;
    if (fs::remove(it->path(), time_ec)) removed.push_back(name);
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace dbrefresh
