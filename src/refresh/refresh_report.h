// Refresh step 9: the record of a run (steps, per-table counts, files, exit code), as the JSON
// report of SPEC section 7 and as the human summary at the end of the log.
//
// JSON shape:
// {"dbrefresh_version": "0.1.0", "started_at": "...Z", "finished_at": "...Z", "exit_code": 0,
//  "strategy": "schema", "source": "<masked>", "target": "<masked>",
//  "steps": [{"name": "guard", "status": "ok|failed|skipped", "started_at": "...Z", "seconds": 0.12,
//             "warnings": ["..."], "counts": {...}}],
//  "tables": [<ToJson(TableOutcome) of the last restore-users run>],
//  "paths": {"snapshot": "...", "seed_sql": "..." | null, "dropped_sql": "..." | null, "report": "..."},
//  "snapshot": "...", "seed_sql": ... , "dropped_sql": ...,          (the same paths, flat)
//  "warnings": ["every step's warnings"], "error": "..." | null, "resume": "..." | null,
//  "resumed_from": {"run_id": "...", "snapshot": "...", ...} | null}
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "refresh/run_files.h"
#include "restore/restore_users.h"

namespace dbrefresh {

struct StepRecord {
  std::string name;
  std::string status = "running";  // ok | failed | skipped
  std::string started_at;
  double seconds = 0;
  std::vector<std::string> warnings;
  nlohmann::json counts = nlohmann::json::object();
};

struct RefreshReport {
  std::string started_at;
  std::string finished_at;
  int exit_code = -1;
  std::string strategy;
  std::string source;  // masked
  std::string target;  // masked
  std::vector<StepRecord> steps;
  std::vector<TableOutcome> tables;
  RunFiles files;
  bool seed_written = false;
  bool dropped_written = false;
  std::string error;   // the failure, when exit_code is not 0 or 5
  std::string resume;  // the command that resumes the work, when there is one
  nlohmann::json resumed_from;  // the mark of the killed run this one resumed (run_id, snapshot), or null
};

nlohmann::json ToJson(const RefreshReport& report);

// Writes the JSON to `path` with mode 0600.
void WriteReport(const RefreshReport& report, const std::string& path);

// The human summary, logged line by line at the end of the run.
void LogSummary(const RefreshReport& report);

// The paths of the run's files, one "<kind> <path>" line each, for stdout.
void PrintPaths(const RefreshReport& report, std::ostream& out);

}  // namespace dbrefresh
