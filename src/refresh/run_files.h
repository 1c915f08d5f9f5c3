// The files of one refresh run in --snapshot-dir, and the retention of older runs.
//
// A run's files share the stem "<target-db>-<UTC timestamp YYYYMMDDTHHMMSSZ>":
//   <stem>.db            the snapshot of the preserved tables
//   <stem>.seed.sql      rows that could not be inserted (only when there are some)
//   <stem>.dropped.sql   DDL of the target-only objects the refresh removed (strategy schema)
//   <stem>.report.json   the JSON report of the run
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace dbrefresh {

struct RunFiles {
  std::string dir;
  std::string stem;  // "<target-db>-<timestamp>"
  std::string snapshot;
  std::string seed_sql;
  std::string dropped_sql;
  std::string report;
};

// The current UTC time as YYYYMMDDTHHMMSSZ.
std::string CompactUtcTimestamp();

// The paths of a run. Pure: creates nothing.
RunFiles PlanRunFiles(const std::string& dir, const std::string& target_db, const std::string& timestamp);

// Creates `dir` (and parents) with mode 0700 when missing. Failure: Failure (exit 1) naming it.
void PrepareSnapshotDir(const std::string& dir);

// Removes the files of the oldest runs of `target_db` in `dir` so that at most `keep` runs remain,
// never those of `current_stem`. Returns the stems removed. Files of other databases and files
// that do not follow the naming above are never touched.
std::vector<std::string> PruneOldRuns(const std::string& dir, const std::string& target_db, int keep,
                                      const std::string& current_stem);

// Removes the half-written snapshots (`<stem>.db.partial-<pid>`) that killed runs of `target_db` left
// in `dir`, once untouched for `stale_after`: a live run writes its file all the time, so an old one
// is no run's. Never those of `current_stem`. Returns the file names removed.
std::vector<std::string> PruneStalePartials(const std::string& dir, const std::string& target_db,
                                            const std::string& current_stem,
                                            std::chrono::seconds stale_after = std::chrono::hours(1));

// Writes `text` to `path` with mode 0600 (through a temporary name, renamed into place).
void WritePrivateFile(const std::string& path, const std::string& text);

}  // namespace dbrefresh
