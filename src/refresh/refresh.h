// The `refresh` command's job, SPEC section 5 steps 1-9: guard, preflight, snapshot, dump, clear,
// restore, restore-users, post-check, report.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "process/pg_tools.h"
#include "process/process_runner.h"
#include "restore/restore_users.h"
#include "refresh/strategy.h"

namespace dbrefresh {

struct RefreshOptions {
  ConnectionSpec source;
  ConnectionSpec target;
  Config config;                 // flags already applied over the file: strategy, jobs, snapshot_dir, ...
  std::string confirm_target;    // must equal the target's database name
  bool force = false;            // go on despite blocking preflight findings (never the guard's)
  OnConflict on_conflict = OnConflict::kSkip;
  std::string report_path;       // --report FILE.json; the .report.json beside the snapshot is always written
  std::string use_snapshot;      // resume: use this earlier snapshot instead of taking one (step 3 skipped)
  PgTools tools;
  // Repeated in the command that resumes a failed run: --config/--schema as given (for
  // restore-users), and every refresh option as given except the connections (for refresh).
  std::vector<std::string> shared_args;
  std::vector<std::string> refresh_args;
};

// Runs the job and returns the exit code: 0, or 5 when some preserved rows went to the seed SQL.
// Every other outcome is thrown as dbrefresh::Error with its exit code (SPEC section 6), after the
// report has been written; from the snapshot on, the error message ends with the command that
// resumes the work (passwords masked) and the snapshot is kept.
int Refresh(const RefreshOptions& options, ProcessRunner& runner);

}  // namespace dbrefresh
