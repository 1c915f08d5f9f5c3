// The files of one refresh run in --snapshot-dir, and the retention of older runs.
//
// A run's files share the stem "<target-db>-<UTC timestamp YYYYMMDDTHHMMSSZ>":
//   <stem>.db            the snapshot of the preserved tables
//   <stem>.seed.sql      rows that could not be inserted (only when there are some)
//   <stem>.dropped.sql   DDL of the target-only objects the refresh removed (strategy schema)
//   <stem>.report.json   the JSON report of the run
//   <stem>.mark.json     the mark the run set on the target while replacing it (run id, snapshot, sha256)
//   <stem>.catch-up.seed.sql  rows of swap's last catch-up that could not be inserted (only when there are some)
//   <stem>.catch-up.db   swap's last catch-up on its way into the new database (removed after use)
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
  std::string mark;             // <stem>.mark.json: the mark the run set on the target, as set
  std::string catch_up_seed_sql;  // <stem>.catch-up.seed.sql: rows of swap's last catch-up that could not go in
  std::string catch_up_db;        // <stem>.catch-up.db: those rows on their way in (removed after use)
};

// The current UTC time as YYYYMMDDTHHMMSSZ.
std::string CompactUtcTimestamp();

// The paths of a run. Pure: creates nothing.
RunFiles PlanRunFiles(const std::string& dir, const std::string& target_db, const std::string& timestamp);

// Creates `dir` (and parents) when missing, the directory itself with mode 0700. Refuses
// (UsageError, exit 2) a directory owned by another user or writable by every user (group-writable
// is allowed: Kubernetes' fsGroup). Failure (exit 1) naming it when it cannot be created.
void PrepareSnapshotDir(const std::string& dir);

// Removes the files of the oldest runs of `target_db` in `dir` so that at most `keep` runs remain,
// never those of `current_stem` nor of `also_kept` (the run whose snapshot a resumed run used). Returns the stems removed. Files of other databases and files
// that do not follow the naming above are never touched.
std::vector<std::string> PruneOldRuns(const std::string& dir, const std::string& target_db, int keep,
                                      const std::string& current_stem, const std::vector<std::string>& also_kept = {});

// The run stem of a run file's path ("" when it is not one): .../cas-20250106T080000Z.db -> cas-20250106T080000Z.
std::string RunStemOf(const std::string& path, const std::string& target_db);

// Removes the half-written files that killed runs of `target_db` left in `dir`: snapshots
// (`<stem>.db.partial-<pid>`) and the reports, marks and seed SQL being written
// (`<file>.tmp-<pid>-<12 hex>`, common/private_file.h), once untouched for `stale_after`: a live run
// writes its file all the time, so an old one is no run's. Never those of `current_stem`. Returns
// the file names removed.
std::vector<std::string> PruneStalePartials(const std::string& dir, const std::string& target_db,
                                            const std::string& current_stem,
                                            std::chrono::seconds stale_after = std::chrono::hours(1));

// Writes `text` to `path` with mode 0600 from its first byte (common/private_file.h).
void WritePrivateFile(const std::string& path, const std::string& text);

}  // namespace dbrefresh
