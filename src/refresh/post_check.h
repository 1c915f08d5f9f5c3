// Refresh step 8: when preprod had migrations prod lacks, get them re-applied and fill the re-added
// columns from the snapshot (restore-users --on-conflict update).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "connect/connection_spec.h"
#include "process/process_runner.h"
#include "restore/restore_users.h"
#include "snapshot/snapshot_file.h"

namespace dbrefresh {

struct PostCheckOutcome {
  std::string snapshot_version;  // the target's latest flyway version before the refresh
  std::string restored_version;  // the target's latest flyway version after the restore
  std::vector<std::string> missing_versions;  // successful before, absent after the restore (Flyway order)
  bool target_was_ahead = false;  // some are missing
  bool migrations_reapplied = false;
  std::optional<RestoreOutcome> second_restore;  // restore-users --on-conflict update, when it ran
  std::vector<std::string> warnings;
};

// The successful versioned migrations the target had when the snapshot was taken: the snapshot's
// flyway_versions (format 2), else only its latest version (format 1, which recorded no more).
std::vector<std::string> SnapshotMigrationVersions(const SnapshotReader& snapshot);

// The versions of `had` that `now` lacks, compared as Flyway compares them (as sets: with
// outOfOrder, a missing version may sort below `now`'s latest), in Flyway order.
std::vector<std::string> MissingMigrations(const std::vector<std::string>& had, const std::vector<std::string>& now);

// Asks whether the successful migrations the target had at snapshot time and the restored target
// lacks are present again. When some are missing: runs config.post_restore_command (if any)
// through `runner`, waits up to config.wait_for_migrations_seconds for every one of them
// (polling), and then runs restore-users again with --on-conflict update. Without a command or a
// wait, and the migrations not back, it only warns (the caller prints the command to run later).
// Throws Failure (1) when the command fails or the wait times out.
PostCheckOutcome PostCheck(const SnapshotReader& snapshot, const ConnectionSpec& target, const Config& config,
                           ProcessRunner& runner, const RestoreOptions& restore_options);

}  // namespace dbrefresh
